// CsvDataset: a table of numbers, one example per row: the feature columns become a
// float32 vector (F), the target column a class index or a regression value.
//
//   auto iris = data::datasets::CsvDataset("iris.csv", data::datasets::CsvOptions().target_column("species"));
//   auto ex = iris.get(0);   // ex.data (4) float32, ex.target 0-dim int64; iris.classes() = {"setosa", ...}
//   auto reg = data::datasets::CsvDataset("houses.csv",
//       data::datasets::CsvOptions().task(data::datasets::CsvTask::kRegression));  // target 0-dim float32
//
// Format: one row per line ('\n' or "\r\n"), cells split at `delimiter`, a cell may be
// double-quoted ("a, b" with "" for a quote); blank lines are skipped. Feature cells must be
// numbers (nan and inf are accepted, data::clean() reports them); anything else is an
// IOError naming file:line:column. Everything is parsed at construction; get(i) returns views.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cnnkit/data/dataset.h"
#include "cnnkit/data/datasets/labeled.h"
#include "cnnkit/nn/options_arg.h"

namespace cnnkit::data::datasets {

enum class CsvTask {
  kAuto,            // integer targets -> classification; other numbers -> regression; text -> classification
  kClassification,  // integer labels as given, or text labels numbered in sorted order
  kRegression,      // every target must be a number
};

// A column by index or by header name.
using CsvColumn = std::variant<int64_t, std::string>;

struct CsvOptions {
  // The target column: its header name, or its index (negative counts from the end).
  CNNKIT_ARG(CsvColumn, target_column) = int64_t{-1};
  // Whether the first row names the columns; unset = auto: a header if any of its feature
  // cells is not a number.
  CNNKIT_ARG(std::optional<bool>, header) = std::nullopt;
  CNNKIT_ARG(char, delimiter) = ',';
  CNNKIT_ARG(CsvTask, task) = CsvTask::kAuto;
};

class CsvDataset : public Dataset<CsvDataset>, public Labeled {
 public:
  // IOError for a missing file, no data rows, a row with the wrong number of cells
  // (file:line), a non-numeric feature cell or regression target (file:line:column), or a
  // target column name that is not in the header.
  explicit CsvDataset(const std::string& path, CsvOptions options = {});

  Example<> get(size_t index) override;  // data (F) float32; target 0-dim int64 or float32
  std::optional<size_t> size() const override { return static_cast<size_t>(features_.size(0)); }
  std::vector<std::string> classes() const override { return classes_; }  // text labels, sorted
  std::vector<int64_t> labels() const override;  // empty for regression

  bool is_classification() const { return targets_.scalar_type() == kLong; }
  const Tensor& features() const { return features_; }  // (N, F) float32
  const Tensor& targets() const { return targets_; }    // (N) int64 or float32
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
