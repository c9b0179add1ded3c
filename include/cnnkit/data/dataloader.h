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
//
// Deliberately not: processes (workers are threads sharing the dataset), samplers as
// user-visible objects beyond Sequential/Random (LibTorch's template argument only).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "cnnkit/data/dataset.h"
#include "cnnkit/nn/options_arg.h"

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
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<DatasetBase> dataset, DataLoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  class Iterator;  // input iterator over Example<> batches; one pass at a time
  Iterator begin();
  Iterator end();

  void set_epoch(int64_t epoch);  // shuffle and augmentation of the next pass
  size_t size() const;            // batches per epoch (drop_last honoured)
  const DataLoaderOptions& options() const { return options_; }
  DatasetBase& dataset() { return *dataset_; }

 private:
  struct Impl;
  std::shared_ptr<DatasetBase> dataset_;
  DataLoaderOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace data
}  // namespace cnnkit
