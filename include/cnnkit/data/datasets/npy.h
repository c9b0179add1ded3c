// NpyDataset: a dataset from a pair of .npy files (NumPy's X.npy / y.npy habit).
//
//   auto ds = data::datasets::NpyDataset("x_train.npy", "y_train.npy");   // class labels
//   auto ex = ds.get(0);   // ex.data = X[0], ex.target = y[0]
//   auto reg = data::datasets::NpyDataset("x.npy", "prices.npy",
//       data::datasets::NpyOptions().task(data::datasets::Task::kRegression));
//
// X is (N, ...) of any dtype io::load_npy reads (images (N, C, H, W) uint8, features (N, F)
// float32, ...); with images(true) it must be (N, C, H, W), and (N, H, W) is read as
// single-channel (N, 1, H, W). y is checked at load against the task:
//   classification (default): y is (N) of integers >= 0, 0-dim int64 targets. A float y is
//     accepted when every value is integral (3.0 is class 3: pandas and np.loadtxt give
//     float64 labels); a fraction (0.5), NaN or a negative label is an IOError naming the
//     file, the index and the value.
//   regression: y is (N) or (N, ...) of any dtype, float32 targets of shape y.shape[1:],
//     every value finite.
//   multi-label: y is (N, C) of 0s and 1s (any dtype), float32 targets (C).
// NaN or infinity in a float X (and in regression targets) is an IOError naming the file,
// the record and the element unless allow_non_finite(true) (then data::clean drops them).
// Both arrays are loaded at construction; get(i) returns views (no copy, thread-safe).
#pragma once

#include <string>
#include <vector>

#include "cnnkit/data/dataset.h"
#include "cnnkit/data/datasets/labeled.h"
#include "cnnkit/core/arg.h"

namespace cnnkit::data::datasets {

struct NpyOptions {
  CNNKIT_ARG(Task, task) = Task::kClassification;
  // X holds images: (N, C, H, W), or (N, H, W) read as (N, 1, H, W). IOError naming the
  // file and shape for channels-last (N, H, W, C) (last dim 1, 3 or 4 and dim 1 not: convert
  // with np.transpose(x, (0, 3, 1, 2))) or any other rank.
  CNNKIT_ARG(bool, images) = false;
  // Keep NaN / infinity in float X and regression targets (for data::clean to report and
  // drop) instead of failing the load.
  CNNKIT_ARG(bool, allow_non_finite) = false;
};

class NpyDataset : public Dataset<NpyDataset>, public Labeled {
 public:
  // IOError from load_npy for a missing or corrupt file; IOError naming both files if
  // their first dimensions differ or X has no example dimension; IOError naming the file,
  // index and value for a target the task does not allow (see above).
  NpyDataset(const std::string& data_path, const std::string& targets_path, NpyOptions options = {});
  // The same from tensors already in memory (data (N, ...), targets (N, ...)); messages
  // name them "data" and "targets".
  NpyDataset(Tensor data, Tensor targets, NpyOptions options = {});

  Example<> get(size_t index) override;
  std::optional<size_t> size() const override { return static_cast<size_t>(data_.size(0)); }
  std::vector<int64_t> labels() const override;  // empty unless classification

  bool is_classification() const { return task_ == Task::kClassification; }
  Task task() const { return task_; }
  // max label + 1 for classification, 0 otherwise.
  int64_t num_classes() const;
  const Tensor& data() const { return data_; }
  const Tensor& targets() const { return targets_; }  // int64 (classification) or float32

 private:
  void init(const std::string& data_name, const std::string& targets_name, const NpyOptions& options);
  Task task_ = Task::kClassification;
  Tensor data_;
  Tensor targets_;
};

}  // namespace cnnkit::data::datasets
