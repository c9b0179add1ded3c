// Labeled: the class index of every example, known without loading the examples. cnnkit's
// classification readers implement it (MNIST, CIFAR, ImageFolder, NpyDataset, CsvDataset,
// and Subset over any of them), so stratified_split and clean() read labels without
// decoding a single image. Any other dataset still works: its labels come from get().
#pragma once

#include <cstdint>
#include <vector>

namespace cnnkit::data::datasets {

// What a reader's targets are, so that it can check them at load (a bad label then names
// its file and record instead of failing mid-training). PyTorch has no such option: there
// the loss decides, and train::build_datasets derives the task from the configured loss.
enum class Task {
  kClassification,  // class indices: 0-dim int64 targets, integers >= 0 (CrossEntropyLoss, NLLLoss)
  kRegression,      // float32 targets of any shape, every value finite (MSELoss, L1Loss, HuberLoss, ...)
  kMultiLabel,      // multi-hot float32 rows (C) of 0s and 1s (BCELoss, BCEWithLogitsLoss, ...)
};

class Labeled {
 public:
  virtual ~Labeled() = default;
  // One class index per example, in example order. Empty for a regression dataset.
  virtual std::vector<int64_t> labels() const = 0;
};

}  // namespace cnnkit::data::datasets
