// NpyDataset: an (X, y) pair of arrays loaded with io::load_npy, checked once at load
// against the task (labels, finiteness, image layout) so that a bad value names its file
// and record. Not here: memory-mapping arrays larger than RAM (they are read whole).
#include "cnnkit/data/datasets/npy.h"

#include <algorithm>
#include <cmath>

#include "cnnkit/io/npy.h"
#include "data/datasets/message_util.h"

namespace cnnkit::data::datasets {

namespace {

// A load-time IOError about `name` (a quoted file path, or "data" / "targets").
#define NPY_CHECK(cond, name, ...) CNNKIT_CHECK_IO(cond, "NpyDataset: ", name, ": ", __VA_ARGS__)

const char* task_name(Task t) {
  switch (t) {
    case Task::kClassification: return "classification";
    case Task::kRegression: return "regression";
    case Task::kMultiLabel: return "multi-label";
  }
  return "?";
}

// IOError naming the record and the element (within the record) of the first non-finite
// value of a float tensor (N, ...).
void check_finite(const Tensor& t, const std::string& name, const std::string& what) {
  if (t.scalar_type() != kFloat) return;
  const float* p = t.data_ptr<float>();  // contiguous (N, ...)
  const int64_t n = t.numel();
  int64_t bad = -1;
  for (int64_t k = 0; k < n && bad < 0; ++k)
    if (!std::isfinite(p[k])) bad = k;
  if (bad < 0) return;
  const std::vector<int64_t> row(t.sizes().begin() + 1, t.sizes().end());
  int64_t per = 1;
  for (int64_t s : row) per *= s;
  NPY_CHECK(false, name, "non-finite ", what, " ", p[bad], " at record ", bad / per,
            row.empty() ? std::string() : ", element " + detail::index_string(row, bad % per),
            "; fix the data, or allow_non_finite(true) (run config: data.clean: true) to load it and drop such ",
            "records with data::clean");
}

// "'dir/x.npy'", how messages name a file.
std::string quoted(const std::string& path) {
  std::string q = "'";  // appended piecewise: "'" + s + "'" trips GCC 12's -Wrestrict
  q.append(detail::display_path(path)).push_back('\'');
  return q;
}

}  // namespace

NpyDataset::NpyDataset(const std::string& data_path, const std::string& targets_path, NpyOptions options)
    : data_(io::load_npy(data_path)), targets_(io::load_npy(targets_path)) {
  const std::string x = quoted(data_path), y = quoted(targets_path);
  NPY_CHECK(data_.dim() >= 1, x, "a 0-dim array; expected (N, ...) with one row per example");
  CNNKIT_CHECK_IO(targets_.dim() >= 1 && targets_.size(0) == data_.size(0), "NpyDataset: ", x, " has shape ",
                  data_.sizes(), " but ", y, " has shape ", targets_.sizes(),
                  "; they must have the same number of rows (examples)");
  init(x, y, options);
}

NpyDataset::NpyDataset(Tensor data, Tensor targets, NpyOptions options)
    : data_(std::move(data)), targets_(std::move(targets)) {
  CNNKIT_CHECK(data_.defined() && targets_.defined(), "NpyDataset: data and targets must be defined tensors");
  CNNKIT_CHECK_SHAPE(data_.dim() >= 1 && targets_.dim() >= 1 && targets_.size(0) == data_.size(0),
                     "NpyDataset: data has shape ", data_.sizes(), " but targets has shape ", targets_.sizes(),
                     "; they must have the same number of rows (examples)");
  init("data", "targets", options);
}

void NpyDataset::init(const std::string& x, const std::string& y, const NpyOptions& options) {
  task_ = options.task();
  data_ = data_.contiguous();
  if (options.images()) {
    const auto s = data_.sizes();
    auto is_channels = [](int64_t c) { return c == 1 || c == 3 || c == 4; };
    if (data_.dim() == 3) {
      data_ = data_.view({s[0], 1, s[1], s[2]});  // (N, H, W): single-channel images
    } else {
      NPY_CHECK(data_.dim() == 4, x, "images of shape ", s, "; expected (N, C, H, W), or (N, H, W) for ",
                "single-channel images");
      NPY_CHECK(!(is_channels(s[3]) && !is_channels(s[1])), x, "images of shape ", s,
                " look channels-last (N, H, W, C); expected (N, C, H, W): convert with ",
                "np.transpose(x, (0, 3, 1, 2))");
    }
  }
  if (!options.allow_non_finite()) check_finite(data_, x, "value");

  targets_ = targets_.contiguous();
  const int64_t n = targets_.numel();
  switch (task_) {
    case Task::kClassification: {
      NPY_CHECK(targets_.dim() == 1, y, "class labels must be 1-D (N), got shape ", targets_.sizes(),
                " (multi-hot rows (N, C) need the multi-label task, other targets regression)");
      if (targets_.scalar_type() == kFloat) {
        // Integral floats are class indices (np.loadtxt and pandas give float64 labels).
        const float* p = targets_.data_ptr<float>();
        for (int64_t i = 0; i < n; ++i)
          NPY_CHECK(std::isfinite(p[i]) && p[i] == std::floor(p[i]) && std::fabs(p[i]) < 1e18f, y, "label ", p[i], " at index ", i,
                    " is not an integer class index (task ", task_name(task_),
                    "; regression or multi-label targets need that task: options.task(), or in a run config a ",
                    "loss such as MSELoss or BCEWithLogitsLoss)");
      }
      targets_ = targets_.to(kLong).contiguous();
      const int64_t* t = targets_.data_ptr<int64_t>();
      for (int64_t i = 0; i < n; ++i)
        NPY_CHECK(t[i] >= 0, y, "label ", t[i], " at index ", i, " is negative; class indices are 0, 1, 2, ...");
      break;
    }
    case Task::kRegression:
      targets_ = targets_.to(kFloat).contiguous();
      if (!options.allow_non_finite()) check_finite(targets_, y, "target");
      break;
    case Task::kMultiLabel: {
      NPY_CHECK(targets_.dim() == 2, y, "multi-label targets must be (N, C) rows of 0s and 1s, got shape ",
                targets_.sizes());
      targets_ = targets_.to(kFloat).contiguous();
      const float* p = targets_.data_ptr<float>();
      const std::vector<int64_t> shape = targets_.sizes().vec();
      for (int64_t k = 0; k < n; ++k)
        NPY_CHECK(p[k] == 0.0f || p[k] == 1.0f, y, "value ", p[k], " at index ", detail::index_string(shape, k),
                  " is not 0 or 1 (multi-label targets are multi-hot rows)");
      break;
    }
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
