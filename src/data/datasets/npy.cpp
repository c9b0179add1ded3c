// NpyDataset: an (X, y) pair of arrays loaded with io::load_npy; integer y becomes int64
// class labels, floating y float32 regression targets. Not here: memory-mapping arrays
// larger than RAM (they are read whole).
#include "cnnkit/data/datasets/npy.h"

#include <algorithm>

#include "cnnkit/io/npy.h"

namespace cnnkit::data::datasets {

NpyDataset::NpyDataset(const std::string& data_path, const std::string& targets_path)
    : data_(io::load_npy(data_path)), targets_(io::load_npy(targets_path)) {
  CNNKIT_CHECK_IO(data_.dim() >= 1, "NpyDataset: '", data_path,
                  "' holds a 0-dim array; expected (N, ...) with one row per example");
  CNNKIT_CHECK_IO(targets_.dim() >= 1 && targets_.size(0) == data_.size(0), "NpyDataset: '", data_path,
                  "' has shape ", data_.sizes(), " but '", targets_path, "' has shape ", targets_.sizes(),
                  "; they must have the same number of rows (examples)");
  init("'" + targets_path + "'");
}

NpyDataset::NpyDataset(Tensor data, Tensor targets) : data_(std::move(data)), targets_(std::move(targets)) {
  CNNKIT_CHECK(data_.defined() && targets_.defined(), "NpyDataset: data and targets must be defined tensors");
  CNNKIT_CHECK_SHAPE(data_.dim() >= 1 && targets_.dim() >= 1 && targets_.size(0) == data_.size(0),
                     "NpyDataset: data has shape ", data_.sizes(), " but targets has shape ", targets_.sizes(),
                     "; they must have the same number of rows (examples)");
  init("targets");
}

void NpyDataset::init(const std::string& what) {
  data_ = data_.contiguous();
  switch (targets_.scalar_type()) {
    case kLong: break;
    case kByte:
    case kBool: targets_ = targets_.to(kLong); break;
    case kFloat:
    case kDouble: targets_ = targets_.to(kFloat); break;
  }
  targets_ = targets_.contiguous();
  if (is_classification()) {
    CNNKIT_CHECK_IO(targets_.dim() == 1, "NpyDataset: integer labels in ", what, " must be 1-D (N), got shape ",
                    targets_.sizes());
  }
}

Example<> NpyDataset::get(size_t index) {
  int64_t n = data_.size(0);
  CNNKIT_CHECK(index < static_cast<size_t>(n), "NpyDataset: index ", index, " out of range for a dataset of ",
               n, " examples");
  int64_t i = static_cast<int64_t>(index);
  return {data_.select(0, i), targets_.select(0, i)};
}

std::vector<int64_t> NpyDataset::labels() const {
  if (!is_classification()) return {};
  const int64_t* t = targets_.data_ptr<int64_t>();
  return std::vector<int64_t>(t, t + targets_.numel());
}

int64_t NpyDataset::num_classes() const {
  if (!is_classification() || targets_.numel() == 0) return 0;
  const int64_t* t = targets_.data_ptr<int64_t>();
  return *std::max_element(t, t + targets_.numel()) + 1;
}

}  // namespace cnnkit::data::datasets
