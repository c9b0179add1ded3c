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

// A NaN score has no rank (and breaks the sort's ordering): the metrics of its class are NaN,
// as for a class without positives or negatives.
bool has_nan(const Scores& d, int64_t c) {
  for (int64_t i = 0; i < d.n; ++i)
    if (std::isnan(d.s[static_cast<size_t>(i * d.c + c)])) return true;
  return false;
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
    if (has_nan(d, c)) continue;
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
    if (has_nan(d, c)) continue;
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
    // (b/B, (b+1)/B]: bin ceil(p * B) - 1; a probability of 0 goes to the first bin, and so
    // does a NaN one (converting NaN to an integer is undefined; NaN outputs are reported by
    // the callers: E-NAN-OUTPUTS).
    const int64_t b =
        std::isnan(p) ? 0
                      : std::clamp<int64_t>(static_cast<int64_t>(std::ceil(p * static_cast<double>(n_bins))) - 1, 0,
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

// ---- temperature scaling --------------------------------------------------------------------
// N = examples, C = classes; b = 1 / T. With z_i the logits of example i and p_i =
// softmax(b z_i): f(b) = mean_i [logsumexp(b z_i) - b z_iy], f'(b) = mean_i [E_p z_i - z_iy],
// f''(b) = mean_i Var_p(z_i) >= 0, so f is convex in b and its minimum is where f' = 0.

namespace cnnkit::train {
namespace {

struct NllDerivatives {
  double f = 0, d1 = 0, d2 = 0;
};

NllDerivatives nll_at(const Scores& d, double b) {
  NllDerivatives out;
  for (int64_t i = 0; i < d.n; ++i) {
    const float* z = &d.s[static_cast<size_t>(i * d.c)];
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t k = 0; k < d.c; ++k) m = std::max(m, b * z[k]);
    double sum = 0, mean = 0, second = 0;
    for (int64_t k = 0; k < d.c; ++k) {
      const double e = std::exp(b * z[k] - m);
      sum += e;
      mean += e * z[k];
      second += e * z[k] * z[k];
    }
    mean /= sum;
    second /= sum;
    const double zy = z[d.y[static_cast<size_t>(i)]];
    out.f += m + std::log(sum) - b * zy;
    out.d1 += mean - zy;
    out.d2 += std::max(0.0, second - mean * mean);
  }
  const double n = static_cast<double>(d.n);
  out.f /= n;
  out.d1 /= n;
  out.d2 /= n;
  return out;
}

Scores finite_logits(const Tensor& logits, const Tensor& targets, const char* what) {
  Scores d = read(logits, targets, what);
  CNNKIT_CHECK(d.n > 0, what, ": no examples");
  for (size_t i = 0; i < d.s.size(); ++i)
    CNNKIT_CHECK(std::isfinite(d.s[i]), what, ": logit ", i % static_cast<size_t>(d.c), " of example ",
                 i / static_cast<size_t>(d.c), " is ", d.s[i]);
  return d;
}

}  // namespace

double temperature_nll(const Tensor& logits, const Tensor& targets, double temperature) {
  CNNKIT_CHECK(temperature > 0, "temperature_nll: the temperature must be > 0, got ", temperature);
  return nll_at(finite_logits(logits, targets, "temperature_nll"), 1.0 / temperature).f;
}

double fit_temperature(const Tensor& logits, const Tensor& targets) {
  const Scores d = finite_logits(logits, targets, "fit_temperature");
  constexpr double kMinT = 0.01, kMaxT = 100.0;
  double lo = 1.0 / kMaxT, hi = 1.0 / kMinT;  // the bracket in b = 1 / T
  if (nll_at(d, lo).d1 >= 0) return kMaxT;    // the NLL grows with b from the start
  if (nll_at(d, hi).d1 <= 0) return kMinT;    // still falling at T = 0.01 (separable data)
  double b = 1.0;
  for (int it = 0; it < 200 && hi - lo > 1e-12 * hi; ++it) {
    const NllDerivatives g = nll_at(d, b);
    if (std::abs(g.d1) < 1e-13) break;  // converged: b is the minimum
    (g.d1 > 0 ? hi : lo) = b;
    // Newton's step when it stays in the bracket (a converging step may land on its edge),
    // else the bracket's midpoint.
    const double newton = g.d2 > 0 ? b - g.d1 / g.d2 : -1;
    b = newton >= lo && newton <= hi ? newton : 0.5 * (lo + hi);
  }
  return 1.0 / b;
}

}  // namespace cnnkit::train
