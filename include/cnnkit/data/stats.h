// Dataset statistics: the per-channel mean and standard deviation that
// transforms::Normalize needs, and class counts.
//
//   auto train = std::make_shared<data::datasets::FashionMNIST>(root);
//   auto [mean, std] = data::compute_mean_std(train);   // {0.2860}, {0.3530}
//   auto norm = transforms::Normalize<>(mean, std);
//
// Compute them on the training split only (a Subset from data/split.h), never on data the
// model is evaluated on.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "cnnkit/data/dataset.h"

namespace cnnkit::data {

// Mean and population standard deviation (numpy's x.std(), ddof = 0) per channel over every
// value of every example: channel = dim 0 of the example's data ((C, H, W) images, or (F)
// feature vectors: one "channel" per feature). uint8 data is scaled by 1/255 first, as
// transforms::ToTensor would give; float data is used as is. Examples may differ in size
// (ImageFolder) but not in channel count. With max_examples, uses that many examples spread
// evenly over the dataset (index i * n / max_examples). Accumulates in double, merging
// per-example statistics (Chan et al.), so large means do not cancel. Runs on all threads.
// ValueError for an empty or size-less dataset, or a channel whose statistics are not finite
// (NaN or infinity in the data), naming the channel; ShapeError for inconsistent channel counts.
// An iterable dataset (data/iterable.h) is read as one stream (worker 0 of 1, epoch 0) with a
// RunningStats: one pass, bounded memory; max_examples then takes the stream's first ones.
std::pair<std::vector<double>, std::vector<double>> compute_mean_std(
    std::shared_ptr<DatasetBase> dataset, std::optional<size_t> max_examples = std::nullopt);

// The same statistics accumulated one example at a time, for data seen as a stream (a shard
// writer, an iterable dataset) where compute_mean_std's random access is not available.
// Per channel it keeps the count, mean and sum of squared deviations, merged exactly (Chan et
// al.), so the moments of shards merged give the statistics of their union; also the range of
// the raw values (before uint8's 1/255) and whether all are whole numbers (what a run records
// as data.input_values).
struct RunningStats {
  struct Channel {
    double n = 0, mean = 0, m2 = 0;
  };
  std::vector<Channel> channels;  // empty until the first example
  uint64_t examples = 0;
  double min = 0, max = 0;        // raw values; meaningful when examples > 0
  bool integral = true;

  // One example's data (channel = dim 0, as compute_mean_std); ShapeError when its channel
  // count differs from the earlier examples', TypeError for an unsupported dtype.
  void add(const Tensor& data);
  void merge(const RunningStats& other);
  // Population mean / std per channel; ValueError naming the channel when not finite.
  std::vector<double> mean() const;
  std::vector<double> std() const;
};

// Examples per class label (labels from data::labels_of: no decoding for cnnkit's readers).
std::map<int64_t, size_t> class_counts(std::shared_ptr<DatasetBase> dataset);

}  // namespace cnnkit::data
