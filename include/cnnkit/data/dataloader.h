// The DataLoader (torch.utils.data.DataLoader / torch::data::make_data_loader): batches of
// stacked examples, shuffled per epoch from a seed, produced by worker threads ahead of the
// training step (prefetch), identical for a given seed whatever the number of workers.
//
//   auto loader = data::DataLoader(dataset, data::DataLoaderOptions().batch_size(64)
//                                               .shuffle(true).workers(2).seed(0));
//   for (int64_t epoch = 0; epoch < 10; ++epoch) {
//     loader.set_epoch(epoch);                        // a new shuffle, new augmentations
//     for (data::Example<>& batch : loader) { batch.data; /* (N, C, H, W) */ batch.target; }
//   }
//   auto l2 = data::make_data_loader(std::move(ds), data::DataLoaderOptions().batch_size(64));
//   for (auto& batch : *l2) { ... }                   // LibTorch: a unique_ptr, shuffled
//
// Determinism: pass p of epoch e visits a permutation drawn from (seed, e) alone, and before
// each get(i) the worker reseeds data::example_generator() from (seed, e, i), so random
// transforms give bit-identical batches for any number of workers. Batches come in order;
// at most workers * prefetch_factor are built ahead. An exception thrown by get() or a
// transform is rethrown by the iterator on the consuming thread, naming the example index.
// Destroying the loader (or starting a new pass) mid-epoch stops and joins the workers.
//
// Distributed (data-parallel) loading: with num_replicas(R) and rank(r) the loader yields
// rank r's share of each epoch, as torch's DistributedSampler: the epoch's order (the same
// on every rank: it depends on (seed, epoch) only) is dealt round-robin, rank r taking
// order[r], order[r + R], ... With batch_size(b) per rank, global batch k over all ranks is
// then exactly order[k*b*R, (k+1)*b*R): the batches one process with batch b*R would see,
// so a data-parallel run equals the single-process run. No example is repeated to even the
// shares (unlike torch's padding): in the last step some ranks may have fewer examples, or
// none — size() is this rank's batch count and global_size() the steps of the epoch;
// train::Trainer handles a rank without a batch (see distributed::DistributedDataParallel).
// drop_last drops the last partial *global* batch, as the single process would.
//
// Iterable datasets (data/iterable.h: ShardDataset, a user's stream): each worker reads its own
// stream (WorkerInfo: worker w of W, the epoch, the seed) and batches it; batches come
// round-robin over the workers (PyTorch's order), each worker's last one possibly short.
// size() counts each worker's batches (it needs the dataset's stream_size()); shuffle must be
// false (the dataset shuffles its stream). An error names the worker and the example of its
// stream, after the dataset's own words (a shard reader names the shard file and member).
//
// Deliberately not: processes (workers are threads sharing the dataset), samplers as
// user-visible objects beyond Sequential/Random/Distributed (LibTorch's template argument).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <type_traits>

#include "cnnkit/data/dataset.h"
#include "cnnkit/core/arg.h"

namespace cnnkit {
namespace data {

struct DataLoaderOptions {
  DataLoaderOptions() = default;
  DataLoaderOptions(size_t batch_size) : batch_size_(batch_size) {}  // NOLINT: LibTorch's
  CNNKIT_ARG(size_t, batch_size) = 1;
  CNNKIT_ARG(bool, shuffle) = false;
  CNNKIT_ARG(size_t, workers) = 0;          // 0 = batches built on the calling thread
  CNNKIT_ARG(size_t, prefetch_factor) = 2;  // batches queued ahead per worker
  CNNKIT_ARG(bool, drop_last) = false;
  CNNKIT_ARG(uint64_t, seed) = 0;           // shuffle order and per-example augmentation
  CNNKIT_ARG(std::optional<size_t>, max_jobs) = std::nullopt;  // LibTorch's; same as prefetch
  CNNKIT_ARG(size_t, num_replicas) = 1;     // ranks sharing each epoch (the world size)
  CNNKIT_ARG(size_t, rank) = 0;             // this rank, < num_replicas
};

namespace samplers {
// LibTorch's sampler template arguments, reduced to what they decide here: the order.
// make_data_loader<SequentialSampler>(...) reads in index order, RandomSampler (LibTorch's
// default) shuffles every epoch. The size argument exists so LibTorch code compiles.
struct SequentialSampler {
  static constexpr bool kShuffle = false;
  SequentialSampler() = default;
  explicit SequentialSampler(size_t /*size*/) {}
};
struct RandomSampler {
  static constexpr bool kShuffle = true;
  RandomSampler() = default;
  explicit RandomSampler(int64_t /*size*/) {}
};
// LibTorch's distributed samplers: rank `rank`'s share of every epoch (see the file comment;
// allow_duplicates is accepted for LibTorch's signature, but shares are never padded).
struct DistributedRandomSampler {
  static constexpr bool kShuffle = true;
  DistributedRandomSampler(size_t /*size*/, size_t num_replicas_ = 1, size_t rank_ = 0, bool /*allow_duplicates*/ = true)
      : num_replicas(num_replicas_), rank(rank_) {}
  size_t num_replicas, rank;
};
struct DistributedSequentialSampler {
  static constexpr bool kShuffle = false;
  DistributedSequentialSampler(size_t /*size*/, size_t num_replicas_ = 1, size_t rank_ = 0, bool /*allow_duplicates*/ = true)
      : num_replicas(num_replicas_), rank(rank_) {}
  size_t num_replicas, rank;
};
}  // namespace samplers

// torch.utils.data.distributed.DistributedSampler's arguments, for make_data_loader(dataset,
// DistributedSampler(world, rank), options) or DataLoaderOptions::sampler-free code that sets
// num_replicas / rank directly. set_epoch is the loader's (DataLoader::set_epoch).
struct DistributedSampler {
  static constexpr bool kShuffle = true;
  DistributedSampler(size_t num_replicas_, size_t rank_, bool shuffle_ = true)
      : num_replicas(num_replicas_), rank(rank_), shuffle(shuffle_) {}
  size_t num_replicas, rank;
  bool shuffle;
};

class DataLoader {
  struct Impl;

 public:
  DataLoader(std::shared_ptr<DatasetBase> dataset, DataLoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Input iterator over Example<> batches: data (N, ...) and target (N, ...). begin()
  // starts a pass (stopping an unfinished one); the batch it points at stays valid until
  // the next increment, and the caller may keep (move out) its tensors.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Example<>;
    using difference_type = std::ptrdiff_t;
    using pointer = Example<>*;
    using reference = Example<>&;
    Iterator() = default;
    Example<>& operator*() { return batch_; }
    Example<>* operator->() { return &batch_; }
    Iterator& operator++();
    // Only "at end" is compared: there is one pass at a time.
    bool operator==(const Iterator& other) const { return at_end() == other.at_end(); }
    bool operator!=(const Iterator& other) const { return !(*this == other); }

   private:
    friend class DataLoader;
    explicit Iterator(Impl* impl, uint64_t pass);
    bool at_end() const;
    Impl* impl_ = nullptr;  // null: the end iterator
    uint64_t pass_ = 0;     // which pass this iterator walks; a newer begin() ends it
    Example<> batch_;
  };
  Iterator begin();
  Iterator end();

  // Shuffle and augmentation of the next pass; without it each new pass is epoch + 1
  // (the first is 0).
  void set_epoch(int64_t epoch);
  // The next pass starts at batch `batch` of its epoch (a mid-epoch resume: the same batches,
  // bit for bit, as the rest of an uninterrupted pass). A map-style dataset never builds the
  // batches before it; a stream reads and drops them (its workers' streams must advance).
  // Applies to the next begin() only.
  void skip_batches(size_t batch);
  int64_t epoch() const;          // of the current (or last) pass
  size_t size() const;            // batches per epoch this rank yields (drop_last honoured)
  // Steps of an epoch over all ranks (batches of batch_size * num_replicas); size() without
  // num_replicas. A rank's size() is global_size() or one less.
  size_t global_size() const;
  const DataLoaderOptions& options() const { return options_; }
  DatasetBase& dataset() { return *dataset_; }

 private:
  std::shared_ptr<DatasetBase> dataset_;
  DataLoaderOptions options_;
  std::unique_ptr<Impl> impl_;
};

// torch::data::make_data_loader: the dataset is moved into the loader. The Sampler template
// argument decides the order as in LibTorch (RandomSampler, the default, shuffles;
// SequentialSampler does not), overriding options.shuffle().
template <typename Sampler = samplers::RandomSampler, typename DatasetT>
  requires std::derived_from<std::decay_t<DatasetT>, DatasetBase>
std::unique_ptr<DataLoader> make_data_loader(DatasetT dataset, DataLoaderOptions options = DataLoaderOptions()) {
  options.shuffle(Sampler::kShuffle);
  return std::make_unique<DataLoader>(std::make_shared<DatasetT>(std::move(dataset)), std::move(options));
}
template <typename Sampler = samplers::RandomSampler, typename DatasetT>
  requires std::derived_from<DatasetT, DatasetBase>
std::unique_ptr<DataLoader> make_data_loader(std::shared_ptr<DatasetT> dataset,
                                             DataLoaderOptions options = DataLoaderOptions()) {
  options.shuffle(Sampler::kShuffle);
  return std::make_unique<DataLoader>(std::move(dataset), std::move(options));
}
template <typename DatasetT, typename Sampler>
  requires(std::derived_from<std::decay_t<DatasetT>, DatasetBase> &&
           requires { Sampler::kShuffle; })
std::unique_ptr<DataLoader> make_data_loader(DatasetT dataset, Sampler sampler,
                                             DataLoaderOptions options = DataLoaderOptions()) {
  options.shuffle(Sampler::kShuffle);
  if constexpr (requires { sampler.shuffle; }) options.shuffle(sampler.shuffle);
  if constexpr (requires { sampler.num_replicas; }) options.num_replicas(sampler.num_replicas).rank(sampler.rank);
  return std::make_unique<DataLoader>(std::make_shared<std::decay_t<DatasetT>>(std::move(dataset)), std::move(options));
}

}  // namespace data
}  // namespace cnnkit
