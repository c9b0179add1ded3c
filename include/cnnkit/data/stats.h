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
std::pair<std::vector<double>, std::vector<double>> compute_mean_std(
    std::shared_ptr<DatasetBase> dataset, std::optional<size_t> max_examples = std::nullopt);

// Examples per class label (labels from data::labels_of: no decoding for cnnkit's readers).
std::map<int64_t, size_t> class_counts(std::shared_ptr<DatasetBase> dataset);

}  // namespace cnnkit::data
