// CIFAR-10 and CIFAR-100 in their binary versions (torchvision.datasets.CIFAR10 / CIFAR100,
// which read the Python pickles of the same data).
//
//   auto train = data::datasets::CIFAR10("data/cifar-10-batches-bin");            // 50,000
//   auto test  = data::datasets::CIFAR10(root, data::datasets::CIFAR10::Mode::kTest);
//   auto c100  = data::datasets::CIFAR100(root, CIFAR100::Mode::kTrain, CIFAR100::Label::kCoarse);
//   auto ex = train.get(0);   // ex.data (3, 32, 32) uint8, ex.target 0-dim int64
//
// Files: CIFAR-10 data_batch_1.bin .. data_batch_5.bin and test_batch.bin, records of
// <1 label byte><3072 pixel bytes: 1024 red, 1024 green, 1024 blue, row-major 32x32>;
// CIFAR-100 train.bin and test.bin, records of <coarse label><fine label><3072 pixels>.
// Looked for in `root`, then root/cifar-10-batches-bin or root/cifar-100-binary (the
// folders the official archives unpack to). get(i) returns views (no copy; thread-safe).
#pragma once

#include <string>
#include <vector>

#include "cnnkit/data/dataset.h"
#include "cnnkit/data/datasets/labeled.h"

namespace cnnkit::data::datasets {

class CIFAR10 : public Dataset<CIFAR10>, public Labeled {
 public:
  enum class Mode { kTrain, kTest };
  // IOError naming the file if one is missing, its size is not a whole number of records,
  // or a label is outside [0, 10).
  explicit CIFAR10(const std::string& root, Mode mode = Mode::kTrain);

  Example<> get(size_t index) override;  // data (3, 32, 32) uint8, target 0-dim int64
  std::optional<size_t> size() const override { return static_cast<size_t>(images_.size(0)); }
  std::vector<std::string> classes() const override { return classes_; }
  std::vector<int64_t> labels() const override;

  bool is_train() const noexcept { return mode_ == Mode::kTrain; }
  const Tensor& images() const { return images_; }    // (N, 3, 32, 32) uint8
  const Tensor& targets() const { return targets_; }  // (N) int64

 protected:
  struct Layout {
    std::string name;                     // "CIFAR10", for messages
    std::vector<std::string> subdirs;     // where to look below root
    std::vector<std::string> files;       // in order
    int label_bytes;                      // bytes before the pixels
    int label_index;                      // which of them is the target
    int64_t num_classes;                  // labels must be below this
  };
  CIFAR10(const std::string& root, Mode mode, const Layout& layout, std::vector<std::string> classes);

 private:
  Mode mode_;
  std::string name_;
  std::vector<std::string> classes_;
  Tensor images_;
  Tensor targets_;
};

class CIFAR100 : public CIFAR10 {
 public:
  enum class Label { kFine, kCoarse };  // 100 fine classes (torchvision's targets) or 20 superclasses
  explicit CIFAR100(const std::string& root, Mode mode = Mode::kTrain, Label label = Label::kFine);
};

}  // namespace cnnkit::data::datasets
