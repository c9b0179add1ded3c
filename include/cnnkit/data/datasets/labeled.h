// Labeled: the class index of every example, known without loading the examples. cnnkit's
// classification readers implement it (MNIST, CIFAR, ImageFolder, NpyDataset, CsvDataset,
// and Subset over any of them), so stratified_split and clean() read labels without
// decoding a single image. Any other dataset still works: its labels come from get().
#pragma once

#include <cstdint>
#include <vector>

namespace cnnkit::data::datasets {

class Labeled {
 public:
  virtual ~Labeled() = default;
  // One class index per example, in example order. Empty for a regression dataset.
  virtual std::vector<int64_t> labels() const = 0;
};

}  // namespace cnnkit::data::datasets
