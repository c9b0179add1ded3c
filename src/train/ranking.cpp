// Ranking and calibration metrics (include/cnnkit/train/ranking.h).
#include "cnnkit/train/ranking.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "cnnkit/core/error.h"

namespace cnnkit::train {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Scores {
  std::vector<float> s;    // (N, C) row-major
  std::vector<int64_t> y;  // (N)
  int64_t n = 0, c = 0;
};

Scores read(const Tensor& scores, const Tensor& targets, const char* what) {
  CNNKIT_CHECK_SHAPE(scores.defined() && scores.dim() == 2, what, ": scores must be (N, C), got ",
                     scores.defined() ? scores.sizes() : IntArrayRef{});
  CNNKIT_CHECK_SHAPE(targets.defined() && targets.dim() == 1 && targets.size(0) == scores.size(0), what,
                     ": targets must be (N) with N = ", scores.size(0), ", got ",
                     targets.defined() ? targets.sizes() : IntArrayRef{});
  CNNKIT_CHECK_TYPE(targets.scalar_type() == kLong, what, ": targets must be int64 class indices, got ",
                    targets.scalar_type());
  Scores out;
  out.n = scores.size(0);
  out.c = scores.size(1);
  out.s = scores.to(kFloat).to_vector();
  const Tensor t = targets.contiguous();
  out.y.assign(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + out.n);
  for (int64_t i = 0; i < out.n; ++i)
    CNNKIT_CHECK(out.y[static_cast<size_t>(i)] >= 0 && out.y[static_cast<size_t>(i)] < out.c, what, ": target ",
                 out.y[static_cast<size_t>(i)], " of example ", i, " is not a class in [0, ", out.c, ")");
  return out;
}

// Example indices by class-c score, highest first (ties in index order).
std::vector<int64_t> order_by_score(const Scores& d, int64_t c) {
  std::vector<int64_t> idx(static_cast<size_t>(d.n));
  std::iota(idx.begin(), idx.end(), 0);
  auto score = [&](int64_t i) { return d.s[static_cast<size_t>(i * d.c + c)]; };
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return score(a) > score(b); });
  return idx;
}

}  // namespace

std::vector<double> roc_auc_ovr(const Tensor& scores, const Tensor& targets) {
  const Scores d = read(scores, targets, "roc_auc_ovr");
  std::vector<double> out(static_cast<size_t>(d.c), kNaN);
  for (int64_t c = 0; c < d.c; ++c) {
    const std::vector<int64_t> idx = order_by_score(d, c);
    // The trapezoids of the ROC curve through the distinct thresholds: a tied group of
    // positives and negatives adds a diagonal step (each tie counts half).
    double pos = 0, neg = 0, area = 0;
    for (size_t i = 0; i < idx.size();) {
      const float v = d.s[static_cast<size_t>(idx[i] * d.c + c)];
      double p = 0, q = 0;
      for (; i < idx.size() && d.s[static_cast<size_t>(idx[i] * d.c + c)] == v; ++i)
        (d.y[static_cast<size_t>(idx[i])] == c ? p : q) += 1;
      area += q * (pos + p / 2);
      pos += p;
      neg += q;
    }
    if (pos > 0 && neg > 0) out[static_cast<size_t>(c)] = area / (pos * neg);
  }
  return out;
}

std::vector<double> average_precision_ovr(const Tensor& scores, const Tensor& targets) {
  const Scores d = read(scores, targets, "average_precision_ovr");
  std::vector<double> out(static_cast<size_t>(d.c), kNaN);
  for (int64_t c = 0; c < d.c; ++c) {
    const std::vector<int64_t> idx = order_by_score(d, c);
    double total = 0;
    for (int64_t i = 0; i < d.n; ++i) total += d.y[static_cast<size_t>(i)] == c;
    if (total == 0) continue;
    double tp = 0, fp = 0, recall_before = 0, ap = 0;
    for (size_t i = 0; i < idx.size();) {
      const float v = d.s[static_cast<size_t>(idx[i] * d.c + c)];
      for (; i < idx.size() && d.s[static_cast<size_t>(idx[i] * d.c + c)] == v; ++i)
        (d.y[static_cast<size_t>(idx[i])] == c ? tp : fp) += 1;
      const double recall = tp / total;
      ap += (recall - recall_before) * (tp / (tp + fp));
      recall_before = recall;
    }
    out[static_cast<size_t>(c)] = ap;
  }
  return out;
}

double nan_mean(const std::vector<double>& values) {
  double sum = 0;
  int64_t n = 0;
  for (double v : values)
    if (!std::isnan(v)) sum += v, ++n;
  return n ? sum / static_cast<double>(n) : kNaN;
}

Calibration calibration(const Tensor& probs, const Tensor& targets, int64_t n_bins) {
  CNNKIT_CHECK(n_bins >= 1, "calibration: n_bins must be >= 1, got ", n_bins);
  const Scores d = read(probs, targets, "calibration");
  Calibration cal;
  cal.count.assign(static_cast<size_t>(n_bins), 0);
  std::vector<double> conf_sum(static_cast<size_t>(n_bins), 0), right(static_cast<size_t>(n_bins), 0);
  for (int64_t i = 0; i < d.n; ++i) {
    const float* row = d.s.data() + i * d.c;
    const int64_t top = std::max_element(row, row + d.c) - row;  // the first maximum, as argmax
    const double p = row[top];
    // (b/B, (b+1)/B]: bin ceil(p * B) - 1; a probability of 0 goes to the first bin.
    const int64_t b = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(p * static_cast<double>(n_bins))) - 1, 0,
                                          n_bins - 1);
    ++cal.count[static_cast<size_t>(b)];
    conf_sum[static_cast<size_t>(b)] += p;
    right[static_cast<size_t>(b)] += top == d.y[static_cast<size_t>(i)];
  }
  for (int64_t b = 0; b < n_bins; ++b) {
    const double n = static_cast<double>(cal.count[static_cast<size_t>(b)]);
    const double conf = n ? conf_sum[static_cast<size_t>(b)] / n : kNaN;
    const double acc = n ? right[static_cast<size_t>(b)] / n : kNaN;
    cal.confidence.push_back(conf);
    cal.accuracy.push_back(acc);
    if (n) cal.ece += n / static_cast<double>(d.n) * std::abs(acc - conf);
  }
  return cal;
}

}  // namespace cnnkit::train
