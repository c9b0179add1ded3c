// MNIST and Fashion-MNIST (torch::data::datasets::MNIST, torchvision.datasets.FashionMNIST)
// and a reader for any IDX file (the format both are distributed in).
//
//   auto train = data::datasets::FashionMNIST("/usr/share/datasets/fashion-mnist");
//   auto test  = data::datasets::FashionMNIST(root, data::datasets::MNIST::Mode::kTest);
//   auto ex = train.get(0);   // ex.data (1, 28, 28) uint8, ex.target 0-dim int64 (9: "Ankle boot")
//   auto m = data::datasets::MNIST(root).get(0);   // m.data (1, 28, 28) float32 in [0, 1]
//   Tensor any = data::read_idx("t10k-labels-idx1-ubyte.gz");   // (10000) uint8
//
// Files: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
// t10k-labels-idx1-ubyte, each either raw or gzipped (".gz" appended, or any gzip content:
// the magic bytes decide), found in `root`, or in root/<MNIST|FashionMNIST>/raw as
// torchvision lays them out.
//
// Each class gives images as its namesake does: MNIST is LibTorch's (float32 in [0, 1], so
// LibTorch's `MNIST(root).map(Normalize<>(0.1307, 0.3081)).map(Stack<>())` works unchanged);
// FashionMNIST is torchvision's (uint8, apply transforms::ToTensor(), which also passes
// float images through, so a torchvision pipeline works on either). Pixels are kept as
// uint8 in memory either way. Loading
// reads each file whole and copies the pixels once; get(i) returns views into the loaded
// tensors (transforms never write into their input), so it is thread-safe and costs no copy.
#pragma once

#include <string>
#include <vector>

#include "cnnkit/data/dataset.h"
#include "cnnkit/data/datasets/labeled.h"

namespace cnnkit::data {

// Reads any IDX file (raw or gzipped): magic 0x00 0x00 <type> <ndims>, ndims big-endian
// uint32 sizes, big-endian elements. Types: 0x08 unsigned byte -> uint8; 0x09 signed byte,
// 0x0B short, 0x0C int -> int64; 0x0D float, 0x0E double -> float32 (cnnkit's dtypes).
// IOError naming the file for a missing file, bad magic, unknown type, truncated data,
// trailing bytes, or a corrupt gzip stream.
Tensor read_idx(const std::string& path);

namespace datasets {

class MNIST : public Dataset<MNIST>, public Labeled {
 public:
  enum class Mode { kTrain, kTest };

  // Loads the kTrain (60,000) or kTest (10,000) split. IOError if a file is missing (the
  // message lists where it looked), corrupt (bad magic, truncated), if the image and label
  // files disagree on the number of examples, or if a label is outside [0, 10) (naming the
  // file, the record and the label).
  explicit MNIST(const std::string& root, Mode mode = Mode::kTrain);

  // data (1, H, W): float32 in [0, 1] for MNIST, uint8 for FashionMNIST; target 0-dim int64.
  Example<> get(size_t index) override;
  std::optional<size_t> size() const override;
  std::vector<std::string> classes() const override { return classes_; }
  std::vector<int64_t> labels() const override;

  bool is_train() const noexcept { return mode_ == Mode::kTrain; }
  const Tensor& images() const { return images_; }    // (N, 1, H, W) uint8
  const Tensor& targets() const { return targets_; }  // (N) int64

 protected:
  MNIST(const std::string& root, Mode mode, const std::string& name, std::vector<std::string> classes);

 private:
  Mode mode_;
  bool as_float_ = false;
  std::vector<std::string> classes_;
  Tensor images_;
  Tensor targets_;
};

// Zalando's Fashion-MNIST: MNIST's format and file names, torchvision's class names.
class FashionMNIST : public MNIST {
 public:
  explicit FashionMNIST(const std::string& root, Mode mode = Mode::kTrain);
};

}  // namespace datasets
}  // namespace cnnkit::data
