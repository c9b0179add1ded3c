// Iterable (streaming) datasets, torch.utils.data.IterableDataset: examples come as a stream
// rather than by index, so a dataset larger than memory (tar shards, data/shards.h) is read
// once per epoch in bounded memory. The DataLoader gives each of its workers its own stream
// (WorkerInfo, torch.utils.data.get_worker_info()); the dataset decides which examples a
// worker's stream holds, so that the workers together read each example once per epoch.
//
//   auto shards = std::make_shared<data::ShardDataset>("out/train-{000000..000009}.tar",
//                                                      data::ShardDatasetOptions().shuffle_buffer(1000));
//   auto train = std::make_shared<data::IterableMapDataset>(shards, transforms::Compose({...}));
//   data::DataLoader loader(train, data::DataLoaderOptions(64).workers(2));
//   for (auto& batch : loader) { ... }
//
// Intended usage: a user's own stream (a generator, a socket, a database cursor) subclasses
// IterableDataset and returns an ExampleStream from stream(); size() and stream_size() are
// optional, but without stream_size() the loader cannot say how many batches an epoch has.
// Not here: random access (get() throws), splits, clean (they need an index).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cnnkit/data/dataset.h"

namespace cnnkit::data {

// Which stream the loader asks for: worker `id` of `num_workers` (a loader without worker
// threads is one worker), for `epoch`, with the loader's seed. A shuffling dataset draws its
// order from (seed, epoch, its own rank) and the worker, and from nothing else.
struct WorkerInfo {
  size_t id = 0;
  size_t num_workers = 1;
  int64_t epoch = 0;
  uint64_t seed = 0;
};

// One pass over a worker's share of the dataset. next() is called from one thread only.
class ExampleStream {
 public:
  virtual ~ExampleStream() = default;
  // The next example into `out`; false at the end of the pass.
  virtual bool next(Example<>& out) = 0;
};

class IterableDataset : public DatasetBase {
 public:
  // Random access is what a stream does not have: NotImplementedError saying so.
  Example<> get(size_t index) override;
  // Examples in one pass over all ranks and workers, when known (PyTorch's __len__).
  std::optional<size_t> size() const override { return std::nullopt; }
  // A new stream for one worker; called on the loader's thread, read on the worker's.
  virtual std::unique_ptr<ExampleStream> stream(const WorkerInfo& worker) const = 0;
  // How many examples stream(worker) yields, when known: what DataLoader::size() counts.
  virtual std::optional<size_t> stream_size(const WorkerInfo& worker) const {
    (void)worker;
    return std::nullopt;
  }
};

// A transform applied to each example of an iterable dataset, on the worker that reads it
// (the streaming twin of data::MapDataset, which needs get()).
class IterableMapDataset : public IterableDataset {
 public:
  template <typename T>
    requires detail::TensorCallable<T> && (!detail::ExampleCallable<T>)
  IterableMapDataset(std::shared_ptr<IterableDataset> dataset, T transform)
      : IterableMapDataset(std::move(dataset), std::function<Example<>(Example<>)>(
                                                   [t = std::move(transform)](Example<> e) {
                                                     e.data = t(std::move(e.data));
                                                     return e;
                                                   })) {}
  IterableMapDataset(std::shared_ptr<IterableDataset> dataset, std::function<Example<>(Example<>)> transform);

  std::optional<size_t> size() const override { return dataset_->size(); }
  std::vector<std::string> classes() const override { return dataset_->classes(); }
  std::unique_ptr<ExampleStream> stream(const WorkerInfo& worker) const override;
  std::optional<size_t> stream_size(const WorkerInfo& worker) const override { return dataset_->stream_size(worker); }
  const std::shared_ptr<IterableDataset>& dataset() const { return dataset_; }

 private:
  std::shared_ptr<IterableDataset> dataset_;
  std::function<Example<>(Example<>)> transform_;
};

// The first example of any dataset: get(0), or the first of an iterable dataset's stream for
// worker 0 of 1 at epoch 0 (what shape checks need). ValueError when it is empty.
Example<> first_example(DatasetBase& dataset);

}  // namespace cnnkit::data
