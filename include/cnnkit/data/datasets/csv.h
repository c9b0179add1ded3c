// CsvDataset: a table of numbers, one example per row: the feature columns become a
// float32 vector (F), the target column a class index, a regression value or a 0/1 label.
//
//   auto iris = data::datasets::CsvDataset("iris.csv", data::datasets::CsvOptions().target_column("species"));
//   auto ex = iris.get(0);   // ex.data (4) float32, ex.target 0-dim int64; iris.classes() = {"setosa", ...}
//   auto test = data::datasets::CsvDataset("iris_test.csv",
//       data::datasets::CsvOptions().target_column("species").classes(iris.classes()));  // same numbering
//   auto reg = data::datasets::CsvDataset("houses.csv",
//       data::datasets::CsvOptions().task(data::datasets::Task::kRegression));  // target 0-dim float32
//
// Format: one row per line ('\n' or "\r\n"), cells split at `delimiter`, a cell may be
// double-quoted ("a, b" with "" for a quote); blank lines are skipped. Feature cells must be
// finite numbers; anything else is an IOError naming file:line:column (nan and inf load
// with allow_non_finite(true), for data::clean() to drop). Targets are checked against the
// task at load (file:line:column and the value):
//   classification (default): text labels (numbered in sorted order, or by `classes`), or
//     integers >= 0 (integral floats such as 3.0 count; 0.5, nan or -1 do not);
//   regression: finite numbers, 0-dim float32 targets;
//   multi-label: 0 or 1, float32 targets (1) (a batch (N, 1), as a one-output model's logits).
// Everything is parsed at construction; get(i) returns views.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cnnkit/data/dataset.h"
#include "cnnkit/data/datasets/labeled.h"
#include "cnnkit/core/arg.h"

namespace cnnkit::data::datasets {

using CsvTask = Task;  // the name before NpyDataset shared the option

// A column by index or by header name.
using CsvColumn = std::variant<int64_t, std::string>;

struct CsvOptions {
  // The target column: its header name, or its index (negative counts from the end).
  CNNKIT_ARG(CsvColumn, target_column) = int64_t{-1};
  // Whether the first row names the columns; unset = auto: a header if any of its feature
  // cells is not a number.
  CNNKIT_ARG(std::optional<bool>, header) = std::nullopt;
  CNNKIT_ARG(char, delimiter) = ',';
  CNNKIT_ARG(Task, task) = Task::kClassification;
  // Classification: the class names, index = label, e.g. the training file's classes() for
  // the test file. Text labels are then looked up in it (an unknown one is an IOError naming
  // the row and the known classes) and integer labels must be below its size. Empty: text
  // labels are this file's distinct labels, sorted.
  CNNKIT_ARG(std::vector<std::string>, classes) = {};
  // Keep nan / inf cells (features, regression targets) for data::clean to report and drop
  // instead of failing the load.
  CNNKIT_ARG(bool, allow_non_finite) = false;
};

class CsvDataset : public Dataset<CsvDataset>, public Labeled {
 public:
  // IOError for a missing file, no data rows, a row with the wrong number of cells
  // (file:line), a non-numeric or non-finite feature cell or a target the task does not
  // allow (file:line:column), or a target column name that is not in the header.
  explicit CsvDataset(const std::string& path, CsvOptions options = {});

  Example<> get(size_t index) override;  // data (F) float32; target 0-dim int64, 0-dim float32 or (1) float32
  std::optional<size_t> size() const override { return static_cast<size_t>(features_.size(0)); }
  std::vector<std::string> classes() const override { return classes_; }  // text labels (or options.classes)
  std::vector<int64_t> labels() const override;  // empty unless classification

  bool is_classification() const { return targets_.scalar_type() == kLong; }
  const Tensor& features() const { return features_; }  // (N, F) float32
  const Tensor& targets() const { return targets_; }    // (N) int64, (N) float32 or (N, 1) float32
  const std::vector<std::string>& feature_names() const { return feature_names_; }  // header names, or "0", "1", ...
  const std::string& target_name() const { return target_name_; }

 private:
  Tensor features_;
  Tensor targets_;
  std::vector<std::string> classes_;
  std::vector<std::string> feature_names_;
  std::string target_name_;
};

}  // namespace cnnkit::data::datasets
