// Streaming classification, multi-label and regression metrics over raw float/int64
// buffers: one pass over each batch's logits, O(N * C), nothing allocated after the first
// batch. Printing (confusion matrix, report) is here too; plotting is the report layer's.
#include "cnnkit/train/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "cnnkit/core/error.h"

namespace cnnkit::train {
namespace {

// N = batch, C = classes. Returns row i's class (first maximum, as torch.argmax).
inline int64_t row_argmax(const float* row, int64_t c) {
  int64_t best = 0;
  float v = row[0];
  for (int64_t j = 1; j < c; ++j)
    if (row[j] > v || (std::isnan(row[j]) && !std::isnan(v))) { v = row[j]; best = j; }
  return best;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

// sklearn's _prf_divide with zero_division=0, and F1 from P and R as sklearn computes it.
double ratio(int64_t num, int64_t den) { return den ? static_cast<double>(num) / static_cast<double>(den) : 0.0; }
double f1_of(double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; }

}  // namespace

// ---- Metrics --------------------------------------------------------------------------------

std::map<std::string, double> Metrics::scalars() const {
  std::map<std::string, double> out;
  auto put = [&](const std::string& k, double v) {
    if (!std::isnan(v)) out[k] = v;
  };
  if (has_loss) out["loss"] = loss;
  if (task == Task::kMultiLabel) {
    put("micro_precision", micro_precision);
    put("micro_recall", micro_recall);
    put("micro_f1", micro_f1);
    put("macro_precision", macro_precision);
    put("macro_recall", macro_recall);
    put("macro_f1", macro_f1);
    put("subset_accuracy", subset_accuracy);
    put("hamming_loss", hamming_loss);
  } else if (task == Task::kClassification) {
    put("accuracy", accuracy);
    if (top_k > 1 && top_k < num_classes) put("top" + std::to_string(top_k) + "_accuracy", top_k_accuracy);
    put("macro_precision", macro_precision);
    put("macro_recall", macro_recall);
    put("macro_f1", macro_f1);
    put("roc_auc", roc_auc_macro);
    put("average_precision", average_precision_macro);
    put("ece", ece);
  } else {
    put("mse", mse);
    put("mae", mae);
    put("r2", r2);
  }
  return out;
}

std::string Metrics::confusion_matrix_string(const std::vector<std::string>& class_names) const {
  if (num_classes == 0) return "(no confusion matrix: no classification examples seen)\n";
  auto label = [&](int64_t c) {
    return static_cast<size_t>(c) < class_names.size() ? class_names[static_cast<size_t>(c)] : std::to_string(c);
  };
  size_t label_w = 4;  // "true"
  for (int64_t c = 0; c < num_classes; ++c) label_w = std::max(label_w, label(c).size());
  size_t cell_w = 1;
  for (int64_t v : confusion) cell_w = std::max(cell_w, std::to_string(v).size());
  cell_w = std::max(cell_w, std::to_string(num_classes - 1).size()) + 1;
  std::ostringstream os;
  os << std::string(label_w, ' ') << " | predicted\n";
  os << std::string(label_w - 4, ' ') << "true |";
  for (int64_t c = 0; c < num_classes; ++c) {
    std::string h = std::to_string(c);
    os << std::string(cell_w - h.size(), ' ') << h;
  }
  os << '\n' << std::string(label_w, '-') << "-+" << std::string(cell_w * static_cast<size_t>(num_classes), '-') << '\n';
  for (int64_t t = 0; t < num_classes; ++t) {
    std::string l = label(t);
    os << std::string(label_w - l.size(), ' ') << l << " |";
    for (int64_t p = 0; p < num_classes; ++p) {
      std::string v = std::to_string(confusion_at(t, p));
      os << std::string(cell_w - v.size(), ' ') << v;
    }
    os << '\n';
  }
  return os.str();
}

std::string Metrics::report(const std::vector<std::string>& class_names) const {
  std::ostringstream os;
  if (task == Task::kRegression) {
    os << "examples " << count << "\n";
    if (!std::isnan(loss)) os << "loss     " << fixed(loss, 6) << "\n";
    os << "mse      " << fixed(mse, 6) << "\nmae      " << fixed(mae, 6) << "\nr2       " << fixed(r2, 6) << "\n";
    return os.str();
  }
  size_t w = task == Task::kMultiLabel ? 15 : 12;  // "subset accuracy" / "macro avg" and numbers fit
  for (int64_t c = 0; c < num_classes; ++c)
    if (static_cast<size_t>(c) < class_names.size()) w = std::max(w, class_names[static_cast<size_t>(c)].size());
  auto pad = [&](const std::string& s) { return std::string(w - std::min(w, s.size()), ' ') + s; };
  os << pad("") << "  precision     recall   f1-score    support\n";
  // Per-class rows exist once examples were seen (compute() leaves them empty otherwise).
  const int64_t rows = std::min<int64_t>(num_classes, static_cast<int64_t>(support.size()));
  for (int64_t c = 0; c < rows; ++c) {
    std::string name =
        static_cast<size_t>(c) < class_names.size() ? class_names[static_cast<size_t>(c)] : std::to_string(c);
    char buf[96];
    std::snprintf(buf, sizeof(buf), "  %9.4f  %9.4f  %9.4f  %9lld", precision[c], recall[c], f1[c],
                  static_cast<long long>(support[c]));
    os << pad(name) << buf << "\n";
  }
  char buf[160];
  if (task == Task::kMultiLabel) {
    // As sklearn's classification_report for multi-label targets: the averages' support is
    // the number of true labels, not of examples.
    long long positives = 0;
    for (int64_t s : support) positives += s;
    std::snprintf(buf, sizeof(buf), "  %9.4f  %9.4f  %9.4f  %9lld\n", micro_precision, micro_recall, micro_f1, positives);
    os << "\n" << pad("micro avg") << buf;
    std::snprintf(buf, sizeof(buf), "  %9.4f  %9.4f  %9.4f  %9lld\n", macro_precision, macro_recall, macro_f1, positives);
    os << pad("macro avg") << buf;
    std::snprintf(buf, sizeof(buf), "  %9.4f  %9lld examples\n", subset_accuracy, static_cast<long long>(count));
    os << "\n" << pad("subset accuracy") << buf;
    os << pad("hamming loss") << "  " << fixed(hamming_loss, 4) << "\n";
    if (!std::isnan(loss)) os << pad("loss") << "  " << fixed(loss, 4) << "\n";
    return os.str();
  }
  std::snprintf(buf, sizeof(buf), "  %9s  %9s  %9.4f  %9lld\n", "", "", accuracy, static_cast<long long>(count));
  os << "\n" << pad("accuracy") << buf;
  std::snprintf(buf, sizeof(buf), "  %9.4f  %9.4f  %9.4f  %9lld\n", macro_precision, macro_recall, macro_f1,
                static_cast<long long>(count));
  os << pad("macro avg") << buf;
  if (top_k > 1 && top_k < num_classes) os << pad("top-" + std::to_string(top_k)) << "  " << fixed(top_k_accuracy, 4) << "\n";
  if (!std::isnan(loss)) os << pad("loss") << "  " << fixed(loss, 4) << "\n";
  return os.str();
}

// ---- ClassificationMetrics --------------------------------------------------------------------

ClassificationMetrics::ClassificationMetrics(int64_t num_classes, int64_t top_k)
    : num_classes_(num_classes), top_k_(top_k) {
  CNNKIT_CHECK(num_classes >= 0, "ClassificationMetrics: num_classes must be >= 0 (0 = from the logits), got ",
               num_classes);
  CNNKIT_CHECK(top_k >= 1, "ClassificationMetrics: top_k must be >= 1, got ", top_k);
  ensure_classes(num_classes);
}

void ClassificationMetrics::ensure_classes(int64_t c) {
  num_classes_ = c;
  confusion_.assign(static_cast<size_t>(c * c), 0);
}

void ClassificationMetrics::reset() {
  count_ = correct_ = top_k_correct_ = 0;
  loss_.reset();
  std::fill(confusion_.begin(), confusion_.end(), 0);
}

void ClassificationMetrics::update(const Tensor& logits_in, const Tensor& targets_in, std::optional<double> batch_loss) {
  CNNKIT_CHECK(logits_in.defined() && targets_in.defined(), "ClassificationMetrics::update: undefined tensor");
  CNNKIT_CHECK_SHAPE(logits_in.dim() == 1 || logits_in.dim() == 2,
                     "ClassificationMetrics::update: expected logits (N, C) or (N), got shape ", logits_in.sizes());
  const int64_t n = logits_in.size(0);
  const bool binary = logits_in.dim() == 1 || logits_in.size(1) == 1;
  const int64_t c = binary ? 2 : logits_in.size(1);
  if (num_classes_ == 0) ensure_classes(c);
  CNNKIT_CHECK_SHAPE(c == num_classes_, "ClassificationMetrics::update: logits have ", c, " classes (shape ",
                     logits_in.sizes(), "), expected ", num_classes_);
  const bool soft_targets = targets_in.is_floating_point() && targets_in.dim() == 2 && !binary;
  if (soft_targets) {
    CNNKIT_CHECK_SHAPE(targets_in.sizes() == logits_in.sizes(), "ClassificationMetrics::update: logits ",
                       logits_in.sizes(), " and probability targets ", targets_in.sizes(), " differ in shape");
  } else {
    CNNKIT_CHECK_SHAPE(targets_in.numel() == n && (targets_in.dim() == 1 || (binary && targets_in.dim() == 2)),
                       "ClassificationMetrics::update: expected targets (N) = (", n, ") for logits ",
                       logits_in.sizes(), ", got shape ", targets_in.sizes());
  }
  Tensor logits = logits_in.scalar_type() == kFloat ? logits_in.contiguous() : logits_in.to(kFloat).contiguous();
  const float* x = logits.data_ptr<float>();
  Tensor targets = targets_in.contiguous();
  if (soft_targets && targets.scalar_type() != kFloat) targets = targets.to(kFloat);
  const int64_t k = std::min(top_k_, c);

  for (int64_t i = 0; i < n; ++i) {
    int64_t t;
    if (soft_targets) {
      t = row_argmax(targets.data_ptr<float>() + i * c, c);
    } else if (targets.scalar_type() == kLong) {
      t = targets.data_ptr<int64_t>()[i];
    } else if (targets.scalar_type() == kFloat) {
      t = static_cast<int64_t>(targets.data_ptr<float>()[i] > 0.5f);
    } else {
      CNNKIT_CHECK_TYPE(false, "ClassificationMetrics::update: targets must be int64 class indices or float, got ",
                        targets.scalar_type());
    }
    CNNKIT_CHECK(t >= 0 && t < c, "ClassificationMetrics::update: target ", t, " at index ", i,
                 " is outside [0, ", c, ")");
    int64_t pred;
    int64_t greater = 0;  // classes scored strictly above the true one
    if (binary) {
      float v = x[i];
      pred = v > 0 ? 1 : 0;
      greater = pred != t ? 1 : 0;
    } else {
      const float* row = x + i * c;
      pred = row_argmax(row, c);
      const float vt = row[t];
      for (int64_t j = 0; j < c; ++j) greater += row[j] > vt;
    }
    correct_ += pred == t;
    top_k_correct_ += greater < k;
    ++confusion_[static_cast<size_t>(t * c + pred)];
  }
  count_ += n;
  loss_.add(batch_loss, n);
}

Metrics ClassificationMetrics::compute() const {
  Metrics m;
  m.task = Task::kClassification;
  m.count = count_;
  m.loss = running_loss();
  m.has_loss = loss_.count > 0;
  m.num_classes = num_classes_;
  m.confusion = confusion_;
  m.top_k = std::min(top_k_, std::max<int64_t>(num_classes_, 1));
  if (count_ == 0) return m;
  m.accuracy = static_cast<double>(correct_) / static_cast<double>(count_);
  m.top_k_accuracy = static_cast<double>(top_k_correct_) / static_cast<double>(count_);
  const size_t c = static_cast<size_t>(num_classes_);
  m.precision.assign(c, 0.0);
  m.recall.assign(c, 0.0);
  m.f1.assign(c, 0.0);
  m.support.assign(c, 0);
  double sp = 0, sr = 0, sf = 0;
  for (size_t j = 0; j < c; ++j) {
    int64_t tp = confusion_[j * c + j], predicted = 0, actual = 0;
    for (size_t i = 0; i < c; ++i) {
      predicted += confusion_[i * c + j];
      actual += confusion_[j * c + i];
    }
    double p = predicted ? static_cast<double>(tp) / static_cast<double>(predicted) : 0.0;
    double r = actual ? static_cast<double>(tp) / static_cast<double>(actual) : 0.0;
    m.precision[j] = p;
    m.recall[j] = r;
    m.f1[j] = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
    m.support[j] = actual;
    sp += p;
    sr += r;
    sf += m.f1[j];
  }
  m.macro_precision = sp / static_cast<double>(c);
  m.macro_recall = sr / static_cast<double>(c);
  m.macro_f1 = sf / static_cast<double>(c);
  return m;
}

// ---- RegressionMetrics ------------------------------------------------------------------------

void RegressionMetrics::reset() {
  count_ = 0;
  outputs_ = -1;
  loss_.reset();
  sse_.clear();
  sae_.clear();
  mean_.clear();
  m2_.clear();
}

void RegressionMetrics::start_outputs(int64_t d) {
  outputs_ = d;
  sse_.assign(static_cast<size_t>(d), 0.0);
  sae_.assign(static_cast<size_t>(d), 0.0);
  mean_.assign(static_cast<size_t>(d), 0.0);
  m2_.assign(static_cast<size_t>(d), 0.0);
}

void RegressionMetrics::update(const Tensor& output_in, const Tensor& target_in, std::optional<double> batch_loss) {
  CNNKIT_CHECK(output_in.defined() && target_in.defined(), "RegressionMetrics::update: undefined tensor");
  CNNKIT_CHECK_SHAPE(output_in.numel() == target_in.numel() && output_in.dim() >= 1 &&
                         (output_in.sizes() == target_in.sizes() ||
                          (target_in.dim() == 1 && output_in.dim() == 2 && output_in.size(1) == 1)),
                     "RegressionMetrics::update: output ", output_in.sizes(), " and target ", target_in.sizes(),
                     " must have the same shape");
  const int64_t n = output_in.size(0);
  const int64_t d = n ? output_in.numel() / n : 1;
  if (outputs_ < 0) start_outputs(d);
  CNNKIT_CHECK_SHAPE(d == outputs_, "RegressionMetrics::update: ", d, " outputs per example, earlier batches had ",
                     outputs_);
  Tensor out = output_in.to(kFloat).contiguous(), tgt = target_in.to(kFloat).contiguous();
  const float* y_hat = out.data_ptr<float>();
  const float* y = tgt.data_ptr<float>();
  for (int64_t j = 0; j < d; ++j) {
    // Batch mean and M2 of the targets, merged into the running ones (Chan's formula).
    double bmean = 0;
    for (int64_t i = 0; i < n; ++i) bmean += y[i * d + j];
    bmean = n ? bmean / static_cast<double>(n) : 0;
    double bm2 = 0, sse = 0, sae = 0;
    for (int64_t i = 0; i < n; ++i) {
      double yi = y[i * d + j], e = static_cast<double>(y_hat[i * d + j]) - yi;
      bm2 += (yi - bmean) * (yi - bmean);
      sse += e * e;
      sae += std::fabs(e);
    }
    const size_t js = static_cast<size_t>(j);
    double na = static_cast<double>(count_), nb = static_cast<double>(n), nt = na + nb;
    if (nt > 0) {
      double delta = bmean - mean_[js];
      mean_[js] += delta * nb / nt;
      m2_[js] += bm2 + delta * delta * na * nb / nt;
    }
    sse_[js] += sse;
    sae_[js] += sae;
  }
  count_ += n;
  loss_.add(batch_loss, n);
}

Metrics RegressionMetrics::compute() const {
  Metrics m;
  m.task = Task::kRegression;
  m.count = count_;
  m.loss = running_loss();
  m.has_loss = loss_.count > 0;
  if (count_ == 0 || outputs_ <= 0) return m;
  double mse = 0, mae = 0, r2 = 0;
  for (size_t j = 0; j < static_cast<size_t>(outputs_); ++j) {
    mse += sse_[j] / static_cast<double>(count_);
    mae += sae_[j] / static_cast<double>(count_);
    if (m2_[j] > 0) r2 += 1.0 - sse_[j] / m2_[j];
    else r2 += sse_[j] == 0 ? 1.0 : 0.0;
  }
  double d = static_cast<double>(outputs_);
  m.mse = mse / d;
  m.mae = mae / d;
  m.r2 = r2 / d;
  return m;
}

// ---- MultiLabelMetrics -------------------------------------------------------------------------

MultiLabelMetrics::MultiLabelMetrics(int64_t num_labels) : num_labels_(num_labels) {
  CNNKIT_CHECK(num_labels >= 0, "MultiLabelMetrics: num_labels must be >= 0 (0 = from the logits), got ", num_labels);
  reset();
}

void MultiLabelMetrics::reset() {
  count_ = exact_ = wrong_ = 0;
  loss_.reset();
  tp_.assign(static_cast<size_t>(num_labels_), 0);
  fp_.assign(static_cast<size_t>(num_labels_), 0);
  fn_.assign(static_cast<size_t>(num_labels_), 0);
}

void MultiLabelMetrics::update(const Tensor& logits_in, const Tensor& targets_in, std::optional<double> batch_loss) {
  CNNKIT_CHECK(logits_in.defined() && targets_in.defined(), "MultiLabelMetrics::update: undefined tensor");
  CNNKIT_CHECK_SHAPE(logits_in.dim() == 2, "MultiLabelMetrics::update: expected logits (N, C), got shape ",
                     logits_in.sizes());
  CNNKIT_CHECK_SHAPE(targets_in.sizes() == logits_in.sizes(), "MultiLabelMetrics::update: logits ", logits_in.sizes(),
                     " and targets ", targets_in.sizes(), " differ in shape; multi-label targets are (N, C) of 0/1");
  const int64_t n = logits_in.size(0), c = logits_in.size(1);
  if (num_labels_ == 0 && count_ == 0) {
    num_labels_ = c;
    reset();
  }
  CNNKIT_CHECK_SHAPE(c == num_labels_, "MultiLabelMetrics::update: logits have ", c, " labels (shape ",
                     logits_in.sizes(), "), expected ", num_labels_);
  Tensor logits = logits_in.scalar_type() == kFloat ? logits_in.contiguous() : logits_in.to(kFloat).contiguous();
  Tensor targets = targets_in.scalar_type() == kFloat ? targets_in.contiguous() : targets_in.to(kFloat).contiguous();
  const float* x = logits.data_ptr<float>();   // (N, C)
  const float* y = targets.data_ptr<float>();  // (N, C)
  for (int64_t i = 0; i < n; ++i) {
    int64_t wrong = 0;
    for (int64_t j = 0; j < c; ++j) {
      const bool pred = x[i * c + j] > 0;  // a NaN logit predicts 0, as NaN > 0 is false
      const bool truth = y[i * c + j] > 0.5f;
      tp_[static_cast<size_t>(j)] += pred && truth;
      fp_[static_cast<size_t>(j)] += pred && !truth;
      fn_[static_cast<size_t>(j)] += !pred && truth;
      wrong += pred != truth;
    }
    wrong_ += wrong;
    exact_ += wrong == 0;
  }
  count_ += n;
  loss_.add(batch_loss, n);
}

Metrics MultiLabelMetrics::compute() const {
  Metrics m;
  m.task = Task::kMultiLabel;
  m.count = count_;
  m.loss = running_loss();
  m.has_loss = loss_.count > 0;
  m.num_classes = num_labels_;
  if (count_ == 0 || num_labels_ == 0) return m;
  const size_t c = static_cast<size_t>(num_labels_);
  m.precision.assign(c, 0.0);
  m.recall.assign(c, 0.0);
  m.f1.assign(c, 0.0);
  m.support.assign(c, 0);
  int64_t tp = 0, fp = 0, fn = 0;
  double sp = 0, sr = 0, sf = 0;
  for (size_t j = 0; j < c; ++j) {
    m.precision[j] = ratio(tp_[j], tp_[j] + fp_[j]);
    m.recall[j] = ratio(tp_[j], tp_[j] + fn_[j]);
    m.f1[j] = f1_of(m.precision[j], m.recall[j]);
    m.support[j] = tp_[j] + fn_[j];
    sp += m.precision[j];
    sr += m.recall[j];
    sf += m.f1[j];
    tp += tp_[j];
    fp += fp_[j];
    fn += fn_[j];
  }
  m.macro_precision = sp / static_cast<double>(c);
  m.macro_recall = sr / static_cast<double>(c);
  m.macro_f1 = sf / static_cast<double>(c);
  m.micro_precision = ratio(tp, tp + fp);
  m.micro_recall = ratio(tp, tp + fn);
  m.micro_f1 = f1_of(m.micro_precision, m.micro_recall);
  m.subset_accuracy = ratio(exact_, count_);
  m.accuracy = m.subset_accuracy;
  m.hamming_loss = ratio(wrong_, count_ * num_labels_);
  return m;
}

// ---- merging passes ----------------------------------------------------------------------

namespace {
// Reads a state vector front to back, checking its length.
struct StateReader {
  const std::vector<double>& s;
  const char* who;
  size_t at = 0;
  double next() {
    CNNKIT_CHECK(at < s.size(), who, "::merge_state: the state has ", s.size(), " numbers, more expected");
    return s[at++];
  }
  int64_t next_int() { return static_cast<int64_t>(next()); }
  void done() const {
    CNNKIT_CHECK(at == s.size(), who, "::merge_state: the state has ", s.size(), " numbers, ", at, " expected");
  }
};
void merge_loss(RunningLoss& loss, StateReader& r) {
  loss.sum += r.next();
  loss.count += r.next_int();
}
}  // namespace

std::vector<double> ClassificationMetrics::state() const {
  std::vector<double> s{static_cast<double>(num_classes_), static_cast<double>(count_), static_cast<double>(correct_),
                        static_cast<double>(top_k_correct_), loss_.sum, static_cast<double>(loss_.count)};
  for (int64_t v : confusion_) s.push_back(static_cast<double>(v));
  return s;
}

void ClassificationMetrics::merge_state(const std::vector<double>& other) {
  StateReader r{other, "ClassificationMetrics"};
  const int64_t c = r.next_int();
  if (c == 0) return;  // a pass that saw no batch (and so no class count)
  CNNKIT_CHECK(c > 0 && c <= (int64_t{1} << 24), "ClassificationMetrics::merge_state: the state claims ", c,
               " classes");  // a damaged state must not size a confusion matrix
  if (num_classes_ == 0) ensure_classes(c);
  CNNKIT_CHECK_SHAPE(c == num_classes_, "ClassificationMetrics::merge_state: ", c, " classes, this pass has ",
                     num_classes_);
  count_ += r.next_int();
  correct_ += r.next_int();
  top_k_correct_ += r.next_int();
  merge_loss(loss_, r);
  for (int64_t& v : confusion_) v += r.next_int();
  r.done();
}

std::vector<double> RegressionMetrics::state() const {
  std::vector<double> s{static_cast<double>(outputs_), static_cast<double>(count_), loss_.sum,
                        static_cast<double>(loss_.count)};
  for (size_t j = 0; j < sse_.size(); ++j) s.insert(s.end(), {sse_[j], sae_[j], mean_[j], m2_[j]});
  return s;
}

void RegressionMetrics::merge_state(const std::vector<double>& other) {
  StateReader r{other, "RegressionMetrics"};
  const int64_t d = r.next_int();
  if (d < 0) return;  // a pass that saw no batch
  if (outputs_ < 0) start_outputs(d);
  CNNKIT_CHECK_SHAPE(d == outputs_, "RegressionMetrics::merge_state: ", d, " outputs, this pass has ", outputs_);
  const int64_t nb_count = r.next_int();
  merge_loss(loss_, r);
  const double na = static_cast<double>(count_), nb = static_cast<double>(nb_count), nt = na + nb;
  for (size_t j = 0; j < static_cast<size_t>(d); ++j) {
    sse_[j] += r.next();
    sae_[j] += r.next();
    const double bmean = r.next(), bm2 = r.next();
    if (nt > 0) {  // Chan's parallel merge of (mean, M2)
      const double delta = bmean - mean_[j];
      mean_[j] += delta * nb / nt;
      m2_[j] += bm2 + delta * delta * na * nb / nt;
    }
  }
  count_ += nb_count;
  r.done();
}

std::vector<double> MultiLabelMetrics::state() const {
  std::vector<double> s{static_cast<double>(num_labels_), static_cast<double>(count_), static_cast<double>(exact_),
                        static_cast<double>(wrong_), loss_.sum, static_cast<double>(loss_.count)};
  for (const auto* v : {&tp_, &fp_, &fn_})
    for (int64_t x : *v) s.push_back(static_cast<double>(x));
  return s;
}

void MultiLabelMetrics::merge_state(const std::vector<double>& other) {
  StateReader r{other, "MultiLabelMetrics"};
  const int64_t c = r.next_int();
  if (c == 0) return;
  if (num_labels_ == 0) {
    num_labels_ = c;
    reset();
  }
  CNNKIT_CHECK_SHAPE(c == num_labels_, "MultiLabelMetrics::merge_state: ", c, " labels, this pass has ", num_labels_);
  count_ += r.next_int();
  exact_ += r.next_int();
  wrong_ += r.next_int();
  merge_loss(loss_, r);
  for (auto* v : {&tp_, &fp_, &fn_})
    for (int64_t& x : *v) x += r.next_int();
  r.done();
}

}  // namespace cnnkit::train
