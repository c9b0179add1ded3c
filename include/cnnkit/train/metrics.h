// Streaming evaluation metrics, updated batch by batch from the logits a training or
// evaluation step already computed (no second forward, no tensor ops, no allocation per
// batch): accuracy, top-k, confusion matrix and per-class precision/recall/F1 for
// classification; per-label and micro/macro precision/recall/F1, subset accuracy and
// Hamming loss for multi-label classification; MSE, MAE and R² for regression. Formulas
// and zero-division conventions are scikit-learn's (precision_recall_fscore_support(
// zero_division=0), accuracy_score, hamming_loss, r2_score).
//
//   train::ClassificationMetrics cm(/*num_classes=*/10, /*top_k=*/5);
//   for (auto& batch : loader) { Tensor out = net->forward(batch.data);
//                                cm.update(out, batch.target, loss.item<double>()); }
//   train::Metrics m = cm.compute();
//   std::cout << m.accuracy << " " << m.macro_f1 << "\n" << m.confusion_matrix_string(classes);
//
//   train::MultiLabelMetrics ml;   // logits (N, C), targets (N, C) of 0/1
//   ml.update(out, batch.target, loss.item<double>());
//   std::cout << ml.compute().report(label_names);  // per label, micro and macro avg
//
// Ranking metrics (AUC, average precision) and calibration need a whole pass's scores:
// train/ranking.h, filled in by evaluate() when EvaluateOptions::ranking is set.
// Deliberately not: thresholds other than 0.5, micro averages for single-label
// classification (there micro P = R = F1 = accuracy).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/data/datasets/labeled.h"

namespace cnnkit::train {

// The data layer's task, one enum for readers and metrics alike. kClassification: one class
// per example (logits (N, C), int64 targets (N) or probability rows (N, C)). kMultiLabel:
// any number of labels per example (logits (N, C), one independent sigmoid each, e.g.
// F::binary_cross_entropy_with_logits; targets (N, C) of 0/1). kRegression: outputs of the
// target's shape.
using Task = data::datasets::Task;

// The result of one pass over a dataset. Fields that do not apply to the task stay NaN/empty.
struct Metrics {
  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

  Task task = Task::kClassification;
  int64_t count = 0;   // examples seen
  double loss = kNaN;  // mean of the per-batch losses weighted by batch size
  bool has_loss = false;  // losses were given (then a NaN loss means a NaN was seen)

  // ---- classification and multi-label (then "class" reads "label") ----
  int64_t num_classes = 0;
  double accuracy = kNaN;         // multi-label: the subset accuracy (sklearn's accuracy_score)
  int64_t top_k = 0;              // the k of top_k_accuracy (clamped to num_classes)
  double top_k_accuracy = kNaN;
  std::vector<double> precision, recall, f1;  // per class; 0 where undefined (sklearn zero_division=0)
  std::vector<int64_t> support;               // true examples per class
  double macro_precision = kNaN, macro_recall = kNaN, macro_f1 = kNaN;
  std::vector<int64_t> confusion;             // (num_classes, num_classes) row-major: [true][predicted]
  // Ranking and calibration (train/ranking.h), only when asked for (EvaluateOptions::ranking):
  // one-vs-rest ROC-AUC and average precision per class and their macro means over the
  // classes where they are defined, and the expected calibration error of the top-1
  // softmax probability (15 bins).
  std::vector<double> roc_auc, average_precision;
  double roc_auc_macro = kNaN, average_precision_macro = kNaN, ece = kNaN;
  // The reliability diagram behind ece: per bin (i/15, (i+1)/15] of the top-1 probability,
  // its examples, their mean confidence and their accuracy (NaN for an empty bin).
  std::vector<int64_t> reliability_count;
  std::vector<double> reliability_confidence, reliability_accuracy;

  // ---- multi-label (a label is predicted when its logit > 0, i.e. sigmoid > 0.5) ----
  // Micro: precision/recall/F1 of the pooled (example, label) decisions; macro: the mean of
  // the per-label values above. subset_accuracy: rows with every label right; hamming_loss:
  // the fraction of wrong (example, label) decisions.
  double micro_precision = kNaN, micro_recall = kNaN, micro_f1 = kNaN;
  double subset_accuracy = kNaN, hamming_loss = kNaN;

  // ---- regression (averaged over outputs for multi-output targets, as sklearn's default) ----
  double mse = kNaN, mae = kNaN, r2 = kNaN;

  int64_t confusion_at(int64_t true_class, int64_t predicted) const {
    return confusion[static_cast<size_t>(true_class * num_classes + predicted)];
  }
  // The scalars under the names logs and CSV files use: "loss", "accuracy", "top5_accuracy",
  // "macro_precision", "macro_recall", "macro_f1", and when computed "roc_auc",
  // "average_precision", "ece" (classification); "loss",
  // "micro_precision", "micro_recall", "micro_f1", "macro_precision", "macro_recall",
  // "macro_f1", "subset_accuracy", "hamming_loss" (multi-label); "loss", "mse", "mae", "r2"
  // (regression). Left out: what was never computed (no examples, no loss given) and top-k
  // when k >= num_classes (always 1). A NaN loss that was seen is kept.
  std::map<std::string, double> scalars() const;
  // A fixed-width table: a row per true class, a column per predicted class; class names
  // (e.g. dataset.classes()) label the rows if given, else the class indices.
  std::string confusion_matrix_string(const std::vector<std::string>& class_names = {}) const;
  // Per-class precision/recall/F1/support and the macro averages, like sklearn's
  // classification_report; for multi-label a row per label, the micro and macro averages,
  // subset accuracy and Hamming loss; for regression the MSE, MAE and R² lines.
  std::string report(const std::vector<std::string>& class_names = {}) const;
};

// The mean of per-batch mean losses weighted by batch size, shared by the metric classes. A
// NaN loss is kept: it makes the mean NaN, as it should.
struct RunningLoss {
  double sum = 0;
  int64_t count = 0;
  void add(std::optional<double> batch_loss, int64_t n) {
    if (!batch_loss) return;
    sum += *batch_loss * static_cast<double>(n);
    count += n;
  }
  double mean() const { return count ? sum / static_cast<double>(count) : Metrics::kNaN; }
  void reset() { *this = RunningLoss{}; }
};

// Streaming classification metrics. update() takes logits (N, C) (any monotonic score, e.g.
// probabilities, works too) and targets: int64 class indices (N), or float (N, C)
// probabilities / one-hot rows (their argmax is the class). A single logit per example
// (N, 1) or (N) is binary classification: class 1 when the logit > 0, targets 0/1.
class ClassificationMetrics {
 public:
  // num_classes = 0 takes it from the first batch's logits. top_k = 1 disables top-k.
  explicit ClassificationMetrics(int64_t num_classes = 0, int64_t top_k = 5);

  void reset();
  // `batch_loss` is the batch's mean loss (the usual reduction='mean' value), if any.
  // Throws ShapeError when logits and targets disagree, ValueError on a target outside
  // [0, num_classes).
  void update(const Tensor& logits, const Tensor& targets, std::optional<double> batch_loss = std::nullopt);

  int64_t count() const { return count_; }
  double running_loss() const { return loss_.mean(); }
  double running_accuracy() const { return count_ ? static_cast<double>(correct_) / static_cast<double>(count_) : Metrics::kNaN; }
  Metrics compute() const;
  // The pass so far as numbers, and the merge of another pass's numbers into this one:
  // metrics over the shards of a dataset (the ranks of a distributed evaluation) merged in
  // any order equal one pass over all of it (up to floating-point summation order).
  std::vector<double> state() const;
  void merge_state(const std::vector<double>& other);


 private:
  void ensure_classes(int64_t c);
  int64_t num_classes_;
  int64_t top_k_;
  int64_t count_ = 0, correct_ = 0, top_k_correct_ = 0;
  RunningLoss loss_;
  std::vector<int64_t> confusion_;
};

// Streaming regression metrics over outputs and targets of the same shape (N, ...) (a
// (N) target also matches a (N, 1) output). R² per output column from running means and
// sums of squares merged batch by batch (Chan et al.), so it is exact for long streams;
// constant targets give R² = 1 for a perfect fit and 0 otherwise (sklearn's force_finite).
class RegressionMetrics {
 public:
  RegressionMetrics() = default;
  void reset();
  void update(const Tensor& output, const Tensor& target, std::optional<double> batch_loss = std::nullopt);
  int64_t count() const { return count_; }
  double running_loss() const { return loss_.mean(); }
  Metrics compute() const;
  // The pass so far as numbers, and the merge of another pass's numbers into this one:
  // metrics over the shards of a dataset (the ranks of a distributed evaluation) merged in
  // any order equal one pass over all of it (up to floating-point summation order).
  std::vector<double> state() const;
  void merge_state(const std::vector<double>& other);

 private:
  void start_outputs(int64_t d);  // the first batch (or merged pass) fixes the outputs per row
  int64_t count_ = 0;  // rows
  int64_t outputs_ = -1;
  RunningLoss loss_;
  std::vector<double> sse_, sae_, mean_, m2_;  // per output column
};

// Streaming multi-label metrics. update() takes logits (N, C) (label j predicted when
// logit > 0; pass logit-scale scores, not probabilities) and targets (N, C) whose entries
// are 0 or 1 (any dtype; a value > 0.5 counts as 1, so smoothed targets work). Keeps
// per-label true/false positive and false negative counts, exact-match rows and wrong
// decisions: O(N * C) per batch, nothing allocated after the first.
class MultiLabelMetrics {
 public:
  // num_labels = 0 takes it from the first batch's logits.
  explicit MultiLabelMetrics(int64_t num_labels = 0);

  void reset();
  // ShapeError when logits and targets differ in shape or are not (N, C).
  void update(const Tensor& logits, const Tensor& targets, std::optional<double> batch_loss = std::nullopt);

  int64_t count() const { return count_; }
  double running_loss() const { return loss_.mean(); }
  double running_subset_accuracy() const {
    return count_ ? static_cast<double>(exact_) / static_cast<double>(count_) : Metrics::kNaN;
  }
  Metrics compute() const;
  // The pass so far as numbers, and the merge of another pass's numbers into this one:
  // metrics over the shards of a dataset (the ranks of a distributed evaluation) merged in
  // any order equal one pass over all of it (up to floating-point summation order).
  std::vector<double> state() const;
  void merge_state(const std::vector<double>& other);

 private:
  int64_t num_labels_;
  int64_t count_ = 0, exact_ = 0, wrong_ = 0;  // rows, rows all right, wrong (row, label) decisions
  RunningLoss loss_;
  std::vector<int64_t> tp_, fp_, fn_;  // per label
};

}  // namespace cnnkit::train
