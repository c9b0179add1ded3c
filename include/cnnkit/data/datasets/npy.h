// NpyDataset: a dataset from a pair of .npy files (NumPy's X.npy / y.npy habit).
//
//   auto ds = data::datasets::NpyDataset("x_train.npy", "y_train.npy");
//   auto ex = ds.get(0);   // ex.data = X[0], ex.target = y[0]
//
// X is (N, ...) of any dtype io::load_npy reads (images (N, C, H, W) uint8, features (N, F)
// float32, ...). y is (N) or (N, ...): integer labels (any integer or bool dtype) make a
// classification dataset with 0-dim int64 targets; floating-point y makes a regression
// dataset with float32 targets of shape y.shape[1:]. Both arrays are loaded at
// construction; get(i) returns views (no copy, thread-safe).
#pragma once

#include <string>
#include <vector>

#include "cnnkit/data/dataset.h"
#include "cnnkit/data/datasets/labeled.h"

namespace cnnkit::data::datasets {

class NpyDataset : public Dataset<NpyDataset>, public Labeled {
 public:
  // IOError from load_npy for a missing or corrupt file; IOError naming both files if
  // their first dimensions differ or X has no example dimension.
  NpyDataset(const std::string& data_path, const std::string& targets_path);
  // The same from tensors already in memory (data (N, ...), targets (N, ...)).
  NpyDataset(Tensor data, Tensor targets);

  Example<> get(size_t index) override;
  std::optional<size_t> size() const override { return static_cast<size_t>(data_.size(0)); }
  std::vector<int64_t> labels() const override;  // empty for regression

  bool is_classification() const { return targets_.scalar_type() == kLong; }
  // max label + 1 for classification, 0 for regression.
  int64_t num_classes() const;
  const Tensor& data() const { return data_; }
  const Tensor& targets() const { return targets_; }  // int64 (classification) or float32

 private:
  void init(const std::string& what);
  Tensor data_;
  Tensor targets_;
};

}  // namespace cnnkit::data::datasets
