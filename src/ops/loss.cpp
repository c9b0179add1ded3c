// Loss functions, forward and backward side by side, with PyTorch 1.13's formulas. The
// raw-pointer loops sit in this file's anonymous namespace (the loss family has no kernels/
// file); the op functions at the bottom check shapes, allocate, run them and record.
// cross_entropy is fused (log-softmax + nll, one backward softmax - smoothed one-hot) and
// keeps the softmax from its forward for the backward. Not here: reductions of other ops,
// gradients for weight / pos_weight (constants, as in PyTorch's nll_loss).
//
// Letters: O = batch (N), C = classes, I = product of the dims after the class dim
// (H * W for (N, C, H, W)); class losses see input as (O, C, I), targets as (O, I).
#include "cnnkit/ops/loss.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/record.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/ops/activation.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/factory.h"
#include "cnnkit/ops/reduce.h"
#include "cnnkit/ops/softmax.h"
#include "cnnkit/core/threads.h"
#include "kernels/copy.h"

namespace cnnkit {

namespace {

// ==== shared checks and helpers ==========================================================

void check_reduction(const char* op, int64_t reduction) {
  CNNKIT_CHECK(reduction >= Reduction::None && reduction < Reduction::END, op,
               ": reduction must be Reduction::None (0), Mean (1) or Sum (2), got ", reduction);
}

void check_float(const char* op, const char* arg, const Tensor& t) {
  CNNKIT_CHECK(t.defined(), op, ": ", arg, " is an undefined tensor");
  CNNKIT_CHECK_TYPE(t.dtype() == kFloat, op, ": expected ", arg, " of dtype float32, got ", t.dtype());
}

void check_same_shape(const char* op, const Tensor& input, const Tensor& target) {
  CNNKIT_CHECK_SHAPE(input.sizes() == target.sizes(), op, ": expected target of the input's shape ", input.sizes(),
                     ", got ", target.sizes());
}

// t's values as one dense block (a copy only for strided views; no autograd).
Tensor dense(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = empty(t.sizes(), t.dtype());
  kernels::copy_strided(out.data_ptr(), t.data_ptr(), t.element_size(), t.sizes(), t.strides());
  return out;
}

// w broadcast to `sizes` as a dense float block (weight / pos_weight of BCE losses).
Tensor broadcast_dense(const char* op, const char* arg, const Tensor& w, IntArrayRef sizes) {
  check_float(op, arg, w);
  const int64_t nd = static_cast<int64_t>(sizes.size()), wd = w.dim();
  bool ok = wd <= nd;
  std::vector<int64_t> strides(static_cast<size_t>(nd), 0);
  for (int64_t k = 0; ok && k < wd; ++k) {
    const int64_t d = nd - wd + k;
    if (w.size(k) == sizes[d]) strides[d] = w.stride(k);
    else ok = w.size(k) == 1;
  }
  CNNKIT_CHECK_SHAPE(ok, op, ": ", arg, " of shape ", w.sizes(), " does not broadcast to the input's shape ", sizes);
  if (w.sizes() == sizes) return dense(w);
  Tensor out = empty(sizes, kFloat);
  if (out.numel() > 0) kernels::copy_strided(out.data_ptr(), w.data_ptr(), sizeof(float), sizes, strides);
  return out;
}

Tensor scalar_out(double v) {
  Tensor out = empty(std::vector<int64_t>{}, kFloat);
  out.data_ptr<float>()[0] = static_cast<float>(v);
  return out;
}

// Sum of n values in double, in fixed blocks so the result does not depend on the thread
// count; f(b, e) returns the sum of [b, e).
template <typename F>
double block_sum(int64_t n, int64_t cost_per_item, const F& f) {
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  if (blocks <= 1) return n > 0 ? f(int64_t{0}, n) : 0.0;
  std::vector<double> partial(static_cast<size_t>(blocks));
  parallel_for(blocks, std::max<int64_t>(1, kGrainSize / (kBlock * cost_per_item)), [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) partial[k] = f(k * kBlock, std::min(n, (k + 1) * kBlock));
  });
  double s = 0;
  for (double p : partial) s += p;
  return s;
}

// The upstream gradient of a loss: one value for kMean / kSum, dense per element for kNone.
struct Upstream {
  Tensor dense_grad;   // kNone
  float scale = 0;     // kMean / kSum: g (/ divisor for kMean)
  const float* per() const { return dense_grad.defined() ? dense_grad.data_ptr<float>() : nullptr; }
};
Upstream upstream(const Tensor& g, int64_t reduction, double mean_divisor) {
  Upstream u;
  if (reduction == Reduction::None) {
    u.dense_grad = dense(g);
  } else {
    const double gv = g.data_ptr<float>()[0];
    u.scale = static_cast<float>(reduction == Reduction::Mean ? gv / mean_divisor : gv);
  }
  return u;
}

// Stable softplus(-x) = log(1 + exp(-x)) = max(-x, 0) + log1p(exp(-|x|)).
inline float softplus_neg(float x) { return std::max(-x, 0.0f) + std::log1p(std::exp(-std::fabs(x))); }
inline float sigmoid(float x) {
  if (x >= 0) return 1.0f / (1.0f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.0f + e);
}

// ==== element-wise losses ================================================================
// Each rule gives the unweighted loss of one element and its derivatives in x and y;
// p is the element's pos_weight (1 where the loss has none). The engine multiplies by the
// element's weight and the upstream gradient.

struct MseRule {
  float value(float x, float y, float) const { const float d = x - y; return d * d; }
  Tensor graph(const Tensor& x, const Tensor& y, const Tensor&) const { return square(sub(x, y)); }
  float dx(float x, float y, float) const { return 2.0f * (x - y); }
  float dy(float x, float y, float p) const { return -dx(x, y, p); }
};

struct L1Rule {
  float value(float x, float y, float) const { return std::fabs(x - y); }
  Tensor graph(const Tensor& x, const Tensor& y, const Tensor&) const { return abs(sub(x, y)); }
  float dx(float x, float y, float) const { const float d = x - y; return static_cast<float>((d > 0) - (d < 0)); }
  float dy(float x, float y, float p) const { return -dx(x, y, p); }
};

// beta > 0 (beta = 0 runs L1Rule, as PyTorch does). The derivative's branch order is
// PyTorch's: d <= -beta, then d >= beta.
struct SmoothL1Rule {
  float beta;
  Tensor graph(const Tensor& x, const Tensor& y, const Tensor&) const {
    const Tensor z = abs(sub(x, y));
    return where(lt(z, static_cast<double>(beta)), div(mul(square(z), 0.5), static_cast<double>(beta)),
                 sub(z, 0.5 * beta));
  }
  float value(float x, float y, float) const {
    const float z = std::fabs(x - y);
    return z < beta ? 0.5f * z * z / beta : z - 0.5f * beta;
  }
  float dx(float x, float y, float) const {
    const float d = x - y;
    return d <= -beta ? -1.0f : d >= beta ? 1.0f : d / beta;
  }
  float dy(float x, float y, float p) const { return -dx(x, y, p); }
};

struct HuberRule {
  float delta;
  Tensor graph(const Tensor& x, const Tensor& y, const Tensor&) const {
    const Tensor z = abs(sub(x, y));
    return where(lt(z, static_cast<double>(delta)), mul(square(z), 0.5),
                 mul(sub(z, 0.5 * delta), static_cast<double>(delta)));
  }
  float value(float x, float y, float) const {
    const float z = std::fabs(x - y);
    return z < delta ? 0.5f * z * z : delta * (z - 0.5f * delta);
  }
  float dx(float x, float y, float) const {
    const float d = x - y;
    return d < -delta ? -delta : d > delta ? delta : d;
  }
  float dy(float x, float y, float p) const { return -dx(x, y, p); }
};

// x in [0, 1] (checked before). PyTorch's clamps: logs at -100, the denominator of the
// input gradient at 1e-12; the target gradient is -logit(x), unclamped.
struct BceRule {
  Tensor graph(const Tensor& x, const Tensor& y, const Tensor&) const {
    return sub(mul(sub(y, 1.0), clamp_min(log1p(neg(x)), -100.0)), mul(y, clamp_min(log(x), -100.0)));
  }
  float value(float x, float y, float) const {
    return (y - 1.0f) * std::max(std::log1p(-x), -100.0f) - y * std::max(std::log(x), -100.0f);
  }
  float dx(float x, float y, float) const { return (x - y) / std::max((1.0f - x) * x, 1e-12f); }
  float dy(float x, float, float) const { return -std::log(x / (1.0f - x)); }
};

// (1 - y) x + (1 + (p - 1) y) softplus(-x).
struct BceLogitsRule {
  Tensor graph(const Tensor& x, const Tensor& y, const Tensor& p) const {
    const Tensor scale = p.defined() ? add(mul(sub(p, 1.0), y), 1.0) : ones_like(x);
    return add(mul(rsub(y, 1.0), x), mul(scale, softplus(neg(x))));
  }
  float value(float x, float y, float p) const { return (1.0f - y) * x + (1.0f + (p - 1.0f) * y) * softplus_neg(x); }
  float dx(float x, float y, float p) const { return sigmoid(x) * (p * y + 1.0f - y) - p * y; }
  float dy(float x, float, float p) const { return -x + (p - 1.0f) * softplus_neg(x); }
};

// A per-element loss reduced as `reduction` says, with recorded ops (the create_graph paths).
Tensor reduce_graph(const Tensor& per, int64_t reduction) {
  if (reduction == Reduction::Mean) return mean(per);
  if (reduction == Reduction::Sum) return sum(per);
  return per;
}

// loss[i] = w[i] * rule(x[i], y[i], p[i]) (w, p may be null: 1).
template <typename Rule>
void pointwise_forward(float* loss, const float* x, const float* y, const float* w, const float* p, int64_t n,
                       const Rule& rule) {
  parallel_for(n, kGrainSize / 4, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float v = rule.value(x[i], y[i], p ? p[i] : 1.0f);
      loss[i] = w ? w[i] * v : v;
    }
  });
}
template <typename Rule>
double pointwise_sum(const float* x, const float* y, const float* w, const float* p, int64_t n, const Rule& rule) {
  return block_sum(n, 4, [&](int64_t b, int64_t e) {
    double s = 0;
    for (int64_t i = b; i < e; ++i) {
      const float v = rule.value(x[i], y[i], p ? p[i] : 1.0f);
      s += w ? w[i] * v : v;
    }
    return s;
  });
}
// dx[i] = (g ? g[i] : scale) * w[i] * rule.dx(...), the same for dy; either may be null.
template <typename Rule>
void pointwise_backward(float* dx, float* dy, const float* g, float scale, const float* x, const float* y,
                        const float* w, const float* p, int64_t n, const Rule& rule) {
  parallel_for(n, kGrainSize / 4, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float s = g ? g[i] : scale;
      if (w) s *= w[i];
      const float pi = p ? p[i] : 1.0f;
      if (dx) dx[i] = s * rule.dx(x[i], y[i], pi);
      if (dy) dy[i] = s * rule.dy(x[i], y[i], pi);
    }
  });
}

// The op around a rule: checks, forward, and the recorded backward. weight / pos_weight
// are already broadcast to the input's shape (or undefined).
template <typename Rule>
Tensor pointwise_loss(const char* node, const Tensor& input, const Tensor& target,
                      const Tensor& weight, const Tensor& pos_weight, int64_t reduction, Rule rule) {
  const Tensor x = dense(input), y = dense(target);
  const int64_t n = x.numel();
  auto ptr = [](const Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; };
  Tensor out;
  if (reduction == Reduction::None) {
    out = empty(x.sizes(), kFloat);
    pointwise_forward(out.data_ptr<float>(), ptr(x), ptr(y), ptr(weight), ptr(pos_weight), n, rule);
  } else {
    const double s = pointwise_sum(ptr(x), ptr(y), ptr(weight), ptr(pos_weight), n, rule);
    out = scalar_out(reduction == Reduction::Mean ? s / static_cast<double>(n) : s);
  }
  if (autograd::needs_grad({input, target})) {
    const bool need_x = input.requires_grad(), need_y = target.requires_grad();
    autograd::detail::record_differentiable(node, {input, target}, {out},
                     [xd = x.detach(), yd = y.detach(), wd = weight.defined() ? weight.detach() : Tensor(),
                      pd = pos_weight.defined() ? pos_weight.detach() : Tensor(), reduction, rule, need_x,
                      need_y, ptr, saved = TensorList{autograd::detail::save_input(input),
                                                      autograd::detail::save_input(target)}](const TensorList& g) {
                       if (autograd::GradMode::is_enabled())
                         return autograd::detail::recompute_backward(saved, g, [&](const TensorList& in) {
                           Tensor l = rule.graph(in[0], in[1], pd);
                           if (wd.defined()) l = mul(l, wd);
                           return TensorList{reduce_graph(l, reduction)};
                         });
                       const Upstream u = upstream(g[0], reduction, static_cast<double>(xd.numel()));
                       Tensor dx = need_x ? empty(xd.sizes(), kFloat) : Tensor();
                       Tensor dy = need_y ? empty(xd.sizes(), kFloat) : Tensor();
                       pointwise_backward(ptr(dx), ptr(dy), u.per(), u.scale, ptr(xd), ptr(yd), ptr(wd), ptr(pd),
                                          xd.numel(), rule);
                       return TensorList{dx, dy};
                     });
  }
  return out;
}

void check_pointwise(const char* op, const Tensor& input, const Tensor& target, int64_t reduction) {
  check_reduction(op, reduction);
  check_float(op, "input", input);
  check_float(op, "target", target);
  check_same_shape(op, input, target);
}

// ==== class losses: nll_loss and cross_entropy ===========================================

struct ClassShape {
  int64_t O = 1, C = 1, I = 1;
  std::vector<int64_t> loss_sizes;  // kNone's output: the input's shape without dim 1
};

ClassShape class_shape(const Tensor& input) {
  ClassShape s;
  const IntArrayRef sz = input.sizes();
  if (input.dim() == 1) {
    s.C = sz[0];
    return s;
  }
  s.O = sz[0];
  s.C = sz[1];
  s.loss_sizes.push_back(sz[0]);
  for (int64_t d = 2; d < input.dim(); ++d) {
    s.I *= sz[d];
    s.loss_sizes.push_back(sz[d]);
  }
  return s;
}

std::string index_string(IntArrayRef sizes, int64_t flat) {
  if (sizes.size() <= 1) return std::to_string(flat);
  std::vector<int64_t> idx(sizes.size());
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    idx[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  std::ostringstream os;
  os << IntArrayRef(idx);
  return os.str();
}

void check_class_input(const char* op, const Tensor& input, int64_t reduction) {
  check_reduction(op, reduction);
  check_float(op, "input", input);
  CNNKIT_CHECK_SHAPE(input.dim() >= 1, op, ": expected input of shape (N, C), (C) or (N, C, d1, ...), got a 0-dim tensor");
}

// Class-index target: int64, the input's shape without the class dim, values in [0, C) or
// ignore_index. Returns the total weight of the targets that count (kMean's divisor).
double check_class_target(const char* op, const Tensor& input, const Tensor& target, const ClassShape& s,
                          const float* w, int64_t ignore_index) {
  CNNKIT_CHECK(target.defined(), op, ": target is an undefined tensor");
  CNNKIT_CHECK_SHAPE(target.sizes() == IntArrayRef(s.loss_sizes), op, ": expected target of shape ",
                     IntArrayRef(s.loss_sizes), " for input ", input.sizes(), ", got ", target.sizes());
  CNNKIT_CHECK_TYPE(target.dtype() == kLong, op, ": class-index targets must be int64, got ", target.dtype(),
                    " (probability targets must have the input's shape ", input.sizes(), ")");
  const Tensor t = dense(target);
  const int64_t* tp = t.data_ptr<int64_t>();
  double total = 0;
  for (int64_t k = 0; k < t.numel(); ++k) {
    const int64_t v = tp[k];
    if (v == ignore_index) continue;
    CNNKIT_CHECK(v >= 0 && v < s.C, op, ": target ", v, " is out of range for ", s.C, " classes (at index ",
                 index_string(target.sizes(), k), ")");
    total += w ? w[v] : 1.0;
  }
  return total;
}

void check_class_weight(const char* op, const Tensor& weight, int64_t C) {
  if (!weight.defined()) return;
  check_float(op, "weight", weight);
  CNNKIT_CHECK_SHAPE(weight.dim() == 1 && weight.numel() == C, op, ": expected weight of shape [", C,
                     "] (one value per class), got ", weight.sizes());
}

// ---- nll_loss: loss = -w[t] x[o, t, i] --------------------------------------------------

void nll_forward(float* loss, const float* x, const int64_t* t, const float* w, int64_t O, int64_t C, int64_t I,
                 int64_t ignore_index) {
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i) {
      const int64_t k = o * I + i, c = t[k];
      loss[k] = c == ignore_index ? 0.0f : -(w ? w[c] : 1.0f) * x[(o * C + c) * I + i];
    }
}

// Accumulates into a zeroed dx (O, C, I): only the target entries are non-zero.
void nll_backward(float* dx, const float* g, float scale, const int64_t* t, const float* w, int64_t O, int64_t C,
                  int64_t I, int64_t ignore_index) {
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i) {
      const int64_t k = o * I + i, c = t[k];
      if (c == ignore_index) continue;
      dx[(o * C + c) * I + i] += -(g ? g[k] : scale) * (w ? w[c] : 1.0f);
    }
}

// ---- cross_entropy with class indices ------------------------------------------------------
// Per position, lp = x - logsumexp(x) over classes, and with eps = label smoothing
//   loss = (1 - eps) w[t] (-lp[t]) + eps / C sum_c w_c (-lp[c])
//   dloss/dx_j = p_j K - (1 - eps) w[t] [j == t] - eps / C w_j,  K = (1 - eps) w[t] + eps / C sum_c w_c.
// The forward writes p = softmax(x) (for the backward) and the loss per position.

struct CeParams {
  const float* w;  // (C) or null
  int64_t ignore_index;
  float eps;
};

// p[c] = exp(x[c] - m) for a contiguous row whose max is m, as a polynomial (Cephes' expf:
// 2^n * P(r), |r| <= ln2 / 2; < 1 ulp measured over [-87, 0]) that the compiler vectorises:
// std::exp is a libm call per element, which was the largest cost of a (256, 10) step.
// no-trapping-math lets GCC if-convert the clamp (the file builds with the default
// -ftrapping-math); NaN stays NaN, below -87 gives ~1e-38 instead of a denormal,
// invisible next to the row's sum >= 1.
__attribute__((optimize("no-trapping-math"))) void exp_row(float* __restrict p, const float* __restrict x,
                                                            int64_t C, float m) {
  for (int64_t c = 0; c < C; ++c) {
    float v = x[c] - m;
    v = v < -87.0f ? -87.0f : v;
    const float n = (v * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
    const float r = (v - n * 0.693359375f) + n * 2.12194440e-4f;              // v - n ln2, in two parts
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r * r + r + 1.0f;
    // 2^n; n is NaN when v is, and converting NaN to int is undefined: y carries the NaN.
    const int32_t bits = (static_cast<int32_t>(n == n ? n : 0.0f) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof(scale));
    p[c] = y * scale;
  }
}

// One position's loss from its logits, classes `st` apart (St = 1 at compile time for the
// common (N, C) case, so the loops vectorise); p receives the softmax.
template <int64_t St>
inline float ce_position(float* p, const float* x, int64_t st_runtime, int64_t c_t, int64_t C, const CeParams& q) {
  const int64_t st = St > 0 ? St : st_runtime;
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t c = 0; c < C; ++c) m = std::max(m, x[c * st]);
  if (St == 1) {
    exp_row(p, x, C, m);
  } else {
    for (int64_t c = 0; c < C; ++c) p[c * st] = std::exp(x[c * st] - m);
  }
  float sum = 0;
  for (int64_t c = 0; c < C; ++c) sum += p[c * st];
  const float inv = 1.0f / sum;
  for (int64_t c = 0; c < C; ++c) p[c * st] *= inv;
  const float lse = m + std::log(sum);
  const float wt = q.w ? q.w[c_t] : 1.0f;
  float loss = -wt * (x[c_t * st] - lse);
  if (q.eps > 0) {
    // sum_c w_c (-lp_c) = lse sum_c w_c - sum_c w_c x_c
    float wx = 0, ws = 0;
    for (int64_t c = 0; c < C; ++c) {
      const float wc = q.w ? q.w[c] : 1.0f;
      wx += wc * x[c * st];
      ws += wc;
    }
    loss = (1.0f - q.eps) * loss + q.eps / static_cast<float>(C) * (lse * ws - wx);
  }
  return loss;
}

template <int64_t St>
void ce_forward_t(float* loss, float* prob, const float* x, const int64_t* t, int64_t O, int64_t C, int64_t I,
                  const CeParams& q) {
  parallel_for(O, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(C * I * 8, 1)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (int64_t i = 0; i < I; ++i) {
        const int64_t k = o * I + i, off = o * C * I + i;
        if (t[k] == q.ignore_index) {
          loss[k] = 0;
          continue;  // its prob entries stay unwritten: the backward skips ignored positions
        }
        loss[k] = ce_position<St>(prob + off, x + off, I, t[k], C, q);
      }
  });
}

void ce_forward(float* loss, float* prob, const float* x, const int64_t* t, int64_t O, int64_t C, int64_t I,
                const CeParams& q) {
  if (I == 1) ce_forward_t<1>(loss, prob, x, t, O, C, I, q);
  else ce_forward_t<0>(loss, prob, x, t, O, C, I, q);
}

// dx (O, C, I) <- the gradient (written, not accumulated; ignored positions get 0).
template <int64_t St>
void ce_backward_t(float* dx, const float* g, float scale, const float* prob, const int64_t* t, int64_t O, int64_t C,
                   int64_t I, const CeParams& q) {
  const int64_t st = St > 0 ? St : I;
  float wsum = static_cast<float>(C);
  if (q.w) {
    wsum = 0;
    for (int64_t c = 0; c < C; ++c) wsum += q.w[c];
  }
  const float smooth = q.eps / static_cast<float>(C);
  parallel_for(O, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(C * I * 2, 1)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (int64_t i = 0; i < I; ++i) {
        const int64_t k = o * I + i, off = o * C * I + i, c_t = t[k];
        float* d = dx + off;
        if (c_t == q.ignore_index) {
          for (int64_t c = 0; c < C; ++c) d[c * st] = 0;
          continue;
        }
        const float s = g ? g[k] : scale;
        const float* p = prob + off;
        const float wt = q.w ? q.w[c_t] : 1.0f;
        const float hot = (1.0f - q.eps) * wt;
        const float sK = s * (hot + smooth * wsum), ss = s * smooth;
        if (q.w) {
          for (int64_t c = 0; c < C; ++c) d[c * st] = p[c * st] * sK - ss * q.w[c];
        } else {
          for (int64_t c = 0; c < C; ++c) d[c * st] = p[c * st] * sK - ss;
        }
        d[c_t * st] -= s * hot;
      }
  });
}

void ce_backward(float* dx, const float* g, float scale, const float* prob, const int64_t* t, int64_t O, int64_t C,
                 int64_t I, const CeParams& q) {
  if (I == 1) ce_backward_t<1>(dx, g, scale, prob, t, O, C, I, q);
  else ce_backward_t<0>(dx, g, scale, prob, t, O, C, I, q);
}

// ---- cross_entropy with class probabilities ------------------------------------------------
// t' = (1 - eps) t + eps / C;  loss = -sum_c w_c t'_c lp_c;
// dloss/dx_j = p_j sum_c w_c t'_c - w_j t'_j;  dloss/dt_c = -(1 - eps) w_c lp_c.

void ce_prob_forward(float* loss, float* prob, float* lse_out, const float* x, const float* t, const float* w,
                     int64_t O, int64_t C, int64_t I, float eps) {
  const float smooth = eps / static_cast<float>(C);
  parallel_for(O, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(C * I * 8, 1)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (int64_t i = 0; i < I; ++i) {
        const int64_t off = o * C * I + i;
        const float* xr = x + off;
        const float* tr = t + off;
        float* p = prob + off;
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t c = 0; c < C; ++c) m = std::max(m, xr[c * I]);
        float sum = 0;
        for (int64_t c = 0; c < C; ++c) {
          const float ex = std::exp(xr[c * I] - m);
          p[c * I] = ex;
          sum += ex;
        }
        const float inv = 1.0f / sum, lse = m + std::log(sum);
        float l = 0;
        for (int64_t c = 0; c < C; ++c) {
          p[c * I] *= inv;
          const float tc = (1.0f - eps) * tr[c * I] + smooth;
          l -= (w ? w[c] : 1.0f) * tc * (xr[c * I] - lse);
        }
        loss[o * I + i] = l;
        lse_out[o * I + i] = lse;
      }
  });
}

void ce_prob_backward(float* dx, float* dt, const float* g, float scale, const float* prob, const float* lse,
                      const float* x, const float* t, const float* w, int64_t O, int64_t C, int64_t I, float eps) {
  const float smooth = eps / static_cast<float>(C);
  parallel_for(O, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(C * I * 4, 1)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (int64_t i = 0; i < I; ++i) {
        const int64_t k = o * I + i, off = o * C * I + i;
        const float s = g ? g[k] : scale;
        const float* tr = t + off;
        if (dx) {
          float wt = 0;
          for (int64_t c = 0; c < C; ++c) wt += (w ? w[c] : 1.0f) * ((1.0f - eps) * tr[c * I] + smooth);
          for (int64_t c = 0; c < C; ++c) {
            const float wc = w ? w[c] : 1.0f;
            dx[off + c * I] = s * (prob[off + c * I] * wt - wc * ((1.0f - eps) * tr[c * I] + smooth));
          }
        }
        if (dt)
          for (int64_t c = 0; c < C; ++c)
            dt[off + c * I] = -s * (1.0f - eps) * (w ? w[c] : 1.0f) * (x[off + c * I] - lse[k]);
      }
  });
}

Tensor reduce_positions(Tensor per, const ClassShape& s, int64_t reduction, double mean_divisor) {
  if (reduction == Reduction::None) return per.view(s.loss_sizes);
  const float* p = per.data_ptr<float>();
  double sum = 0;
  for (int64_t k = 0; k < per.numel(); ++k) sum += p[k];
  return scalar_out(reduction == Reduction::Mean ? sum / mean_divisor : sum);
}

// ---- the class losses as recorded ops (their create_graph paths), in PyTorch 1.13's terms --------
int64_t class_dim(const Tensor& input) { return input.dim() == 1 ? 0 : 1; }

// The class weights (C) shaped to broadcast along the class dim.
Tensor class_weight_view(const Tensor& w, const Tensor& input) {
  std::vector<int64_t> shape(static_cast<size_t>(input.dim()), 1);
  shape[static_cast<size_t>(class_dim(input))] = w.numel();
  return w.reshape(shape);
}

// nll_loss of log-probabilities logp (recorded), with `total` the mean's divisor the forward
// found (the summed weights of the positions not ignored).
Tensor nll_graph(const Tensor& logp, const Tensor& target, const Tensor& weight, int64_t reduction,
                 int64_t ignore_index, double total) {
  const int64_t cd = class_dim(logp);
  const Tensor ignored = eq(target, static_cast<double>(ignore_index));
  const Tensor safe = masked_fill(target, ignored, 0.0);
  const Tensor picked = logp.gather(cd, safe.unsqueeze(cd)).squeeze(cd);
  Tensor wt = weight.defined() ? weight.index_select(0, safe.reshape({-1})).reshape(safe.sizes()) : ones_like(picked);
  wt = masked_fill(wt, ignored, 0.0);
  const Tensor per = neg(mul(picked, wt));
  if (reduction == Reduction::Mean) return div(sum(per), total);
  if (reduction == Reduction::Sum) return sum(per);
  return per;
}

// cross_entropy with class indices: log_softmax, nll_loss, and label smoothing's term.
Tensor cross_entropy_graph(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t reduction,
                           int64_t ignore_index, double eps, double total) {
  const int64_t cd = class_dim(input);
  const Tensor logp = log_softmax(input, cd);
  Tensor loss = nll_graph(logp, target, weight, reduction, ignore_index, total);
  if (eps <= 0) return loss;
  const int64_t C = input.size(cd);
  const Tensor ignored = eq(target, static_cast<double>(ignore_index));
  Tensor smooth = neg(sum(weight.defined() ? mul(logp, class_weight_view(weight, input)) : logp, {cd}));
  smooth = masked_fill(smooth, ignored, 0.0);
  Tensor ret;
  if (reduction == Reduction::Mean) ret = weight.defined() ? div(sum(smooth), total) : mean(smooth);
  else if (reduction == Reduction::Sum) ret = sum(smooth);
  else ret = smooth;
  return add(mul(loss, 1.0 - eps), mul(ret, eps / static_cast<double>(C)));
}

// cross_entropy with class probabilities (targets smoothed first).
Tensor cross_entropy_probs_graph(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t reduction,
                                 double eps, double positions) {
  const int64_t cd = class_dim(input);
  const Tensor logp = log_softmax(input, cd);
  const int64_t C = input.size(cd);
  const Tensor t = eps > 0 ? add(mul(target, 1.0 - eps), eps / static_cast<double>(C)) : target;
  Tensor prod = mul(logp, t);
  if (weight.defined()) prod = mul(prod, class_weight_view(weight, input));
  const Tensor per = neg(sum(prod, {cd}));
  if (reduction == Reduction::Mean) return div(sum(per), positions);
  if (reduction == Reduction::Sum) return sum(per);
  return per;
}

Tensor cross_entropy_probs(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t reduction,
                           int64_t ignore_index, double label_smoothing, const ClassShape& s) {
  const char* op = "cross_entropy";
  CNNKIT_CHECK(ignore_index < 0, op, ": ignore_index (", ignore_index,
               ") is not supported with probability targets (float target of the input's shape)");
  const Tensor x = dense(input), t = dense(target);
  Tensor per = empty({s.O * s.I}, kFloat), prob = empty(x.sizes(), kFloat), lse = empty({s.O * s.I}, kFloat);
  const float* w = weight.defined() ? weight.data_ptr<float>() : nullptr;
  const float eps = static_cast<float>(label_smoothing);
  if (per.numel() > 0)
    ce_prob_forward(per.data_ptr<float>(), prob.data_ptr<float>(), lse.data_ptr<float>(), x.data_ptr<float>(),
                    t.data_ptr<float>(), w, s.O, s.C, s.I, eps);
  const double positions = static_cast<double>(s.O * s.I);
  Tensor out = reduce_positions(per, s, reduction, positions);
  if (autograd::needs_grad({input, target})) {
    const bool need_x = input.requires_grad(), need_t = target.requires_grad();
    autograd::detail::record_differentiable("CrossEntropyLossBackward", {input, target}, {out},
                     [xd = x.detach(), td = t.detach(), pd = prob.detach(), ld = lse.detach(),
                      wd = weight.defined() ? weight.detach() : Tensor(), s, reduction, eps, need_x, need_t,
                      positions, saved = TensorList{autograd::detail::save_input(input),
                                                    autograd::detail::save_input(target)}](const TensorList& g) {
                       if (autograd::GradMode::is_enabled())
                         return autograd::detail::recompute_backward(saved, g, [&](const TensorList& in) {
                           return TensorList{cross_entropy_probs_graph(in[0], in[1], wd, reduction, eps, positions)};
                         });
                       const Upstream u = upstream(g[0], reduction, positions);
                       Tensor dx = need_x ? empty(xd.sizes(), kFloat) : Tensor();
                       Tensor dt = need_t ? empty(xd.sizes(), kFloat) : Tensor();
                       if (xd.numel() > 0)
                         ce_prob_backward(need_x ? dx.data_ptr<float>() : nullptr,
                                          need_t ? dt.data_ptr<float>() : nullptr, u.per(), u.scale,
                                          pd.data_ptr<float>(), ld.data_ptr<float>(), xd.data_ptr<float>(),
                                          td.data_ptr<float>(), wd.defined() ? wd.data_ptr<float>() : nullptr, s.O,
                                          s.C, s.I, eps);
                       return TensorList{dx, dt};
                     });
  }
  return out;
}

}  // namespace

// ==== the ops ==============================================================================

Tensor mse_loss(const Tensor& input, const Tensor& target, int64_t reduction) {
  check_pointwise("mse_loss", input, target, reduction);
  return pointwise_loss("MseLossBackward0", input, target, {}, {}, reduction, MseRule{});
}

Tensor l1_loss(const Tensor& input, const Tensor& target, int64_t reduction) {
  check_pointwise("l1_loss", input, target, reduction);
  return pointwise_loss("L1LossBackward0", input, target, {}, {}, reduction, L1Rule{});
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, int64_t reduction, double beta) {
  check_pointwise("smooth_l1_loss", input, target, reduction);
  CNNKIT_CHECK(beta >= 0, "smooth_l1_loss: beta must be >= 0, got ", beta);
  if (beta == 0) return pointwise_loss("L1LossBackward0", input, target, {}, {}, reduction, L1Rule{});
  return pointwise_loss("SmoothL1LossBackward0", input, target, {}, {}, reduction,
                        SmoothL1Rule{static_cast<float>(beta)});
}

Tensor huber_loss(const Tensor& input, const Tensor& target, int64_t reduction, double delta) {
  check_pointwise("huber_loss", input, target, reduction);
  CNNKIT_CHECK(delta > 0, "huber_loss: delta must be > 0, got ", delta);
  return pointwise_loss("HuberLossBackward0", input, target, {}, {}, reduction,
                        HuberRule{static_cast<float>(delta)});
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t reduction) {
  const char* op = "binary_cross_entropy";
  check_pointwise(op, input, target, reduction);
  const Tensor x = dense(input);
  const float* xp = x.data_ptr<float>();
  for (int64_t i = 0; i < x.numel(); ++i)
    CNNKIT_CHECK(xp[i] >= 0.0f && xp[i] <= 1.0f, op, ": all elements of input should be between 0 and 1, got ",
                 xp[i], " at index ", index_string(input.sizes(), i),
                 " (apply sigmoid first, or use binary_cross_entropy_with_logits on the logits)");
  const Tensor w = weight.defined() ? broadcast_dense(op, "weight", weight, input.sizes()) : Tensor();
  return pointwise_loss("BinaryCrossEntropyBackward0", input, target, w, {}, reduction, BceRule{});
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        const Tensor& pos_weight, int64_t reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  check_pointwise(op, input, target, reduction);
  const Tensor w = weight.defined() ? broadcast_dense(op, "weight", weight, input.sizes()) : Tensor();
  const Tensor p = pos_weight.defined() ? broadcast_dense(op, "pos_weight", pos_weight, input.sizes()) : Tensor();
  return pointwise_loss("BinaryCrossEntropyWithLogitsBackward0", input, target, w, p, reduction,
                        BceLogitsRule{});
}

// Per sample: mean over the last dim of w * (softplus(-x) + (1 - y) x), the stable form of
// -(y log sigmoid(x) + (1 - y) log sigmoid(-x)) that PyTorch composes.
Tensor multilabel_soft_margin_loss(const Tensor& input, const Tensor& target, const Tensor& weight,
                                   int64_t reduction) {
  const char* op = "multilabel_soft_margin_loss";
  check_pointwise(op, input, target, reduction);
  CNNKIT_CHECK_SHAPE(input.dim() >= 1, op, ": expected input of shape (N, C) or (C), got a 0-dim tensor");
  const Tensor x = dense(input), y = dense(target);
  const Tensor w = weight.defined() ? broadcast_dense(op, "weight", weight, input.sizes()) : Tensor();
  const int64_t C = input.size(-1), rows = C == 0 ? 0 : x.numel() / C;
  std::vector<int64_t> row_sizes(input.sizes().begin(), input.sizes().end() - 1);
  Tensor per = empty(row_sizes, kFloat);
  const float *xp = x.data_ptr<float>(), *yp = y.data_ptr<float>(), *wp = w.defined() ? w.data_ptr<float>() : nullptr;
  float* lp = per.data_ptr<float>();
  const BceLogitsRule rule;
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (int64_t c = r * C; c < (r + 1) * C; ++c) s += (wp ? wp[c] : 1.0f) * rule.value(xp[c], yp[c], 1.0f);
    lp[r] = static_cast<float>(s / static_cast<double>(C));
  }
  Tensor out;
  if (reduction == Reduction::None) {
    out = per;
  } else {
    double s = 0;
    for (int64_t r = 0; r < rows; ++r) s += lp[r];
    out = scalar_out(reduction == Reduction::Mean ? s / static_cast<double>(rows) : s);
  }
  if (autograd::needs_grad({input, target})) {
    const bool need_x = input.requires_grad(), need_y = target.requires_grad();
    autograd::detail::record_differentiable("MultilabelSoftMarginLossBackward", {input, target}, {out},
                     [xd = x.detach(), yd = y.detach(), wd = w.defined() ? w.detach() : Tensor(), reduction, C, rows,
                      need_x, need_y, saved = TensorList{autograd::detail::save_input(input),
                                                         autograd::detail::save_input(target)}](const TensorList& g) {
                       if (autograd::GradMode::is_enabled())
                         return autograd::detail::recompute_backward(saved, g, [&](const TensorList& in) {
                           Tensor l = BceLogitsRule{}.graph(in[0], in[1], Tensor());
                           if (wd.defined()) l = mul(l, wd);
                           return TensorList{reduce_graph(mean(l, {-1}), reduction)};
                         });
                       const Upstream u = upstream(g[0], reduction, static_cast<double>(rows));
                       Tensor dx = need_x ? empty(xd.sizes(), kFloat) : Tensor();
                       Tensor dy = need_y ? empty(xd.sizes(), kFloat) : Tensor();
                       const float *xs = xd.data_ptr<float>(), *ys = yd.data_ptr<float>();
                       const float* ws = wd.defined() ? wd.data_ptr<float>() : nullptr;
                       const float* gp = u.per();
                       const BceLogitsRule rl;
                       for (int64_t r = 0; r < rows; ++r) {
                         const float s = (gp ? gp[r] : u.scale) / static_cast<float>(C);
                         for (int64_t c = r * C; c < (r + 1) * C; ++c) {
                           const float sw = ws ? s * ws[c] : s;
                           if (need_x) dx.data_ptr<float>()[c] = sw * rl.dx(xs[c], ys[c], 1.0f);
                           if (need_y) dy.data_ptr<float>()[c] = sw * rl.dy(xs[c], ys[c], 1.0f);
                         }
                       }
                       return TensorList{dx, dy};
                     });
  }
  return out;
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t reduction,
                int64_t ignore_index) {
  const char* op = "nll_loss";
  check_class_input(op, input, reduction);
  const ClassShape s = class_shape(input);
  check_class_weight(op, weight, s.C);
  const Tensor w = weight.defined() ? dense(weight) : Tensor();
  const float* wp = w.defined() ? w.data_ptr<float>() : nullptr;
  const double total = check_class_target(op, input, target, s, wp, ignore_index);
  const Tensor x = dense(input), t = dense(target);
  Tensor per = empty({s.O * s.I}, kFloat);
  nll_forward(per.data_ptr<float>(), x.data_ptr<float>(), t.data_ptr<int64_t>(), wp, s.O, s.C, s.I, ignore_index);
  Tensor out = reduce_positions(per, s, reduction, total);
  if (autograd::needs_grad({input})) {
    autograd::detail::record_differentiable("NllLossBackward0", {input}, {out},
                     [td = t.detach(), wd = w.defined() ? w.detach() : Tensor(), sizes = input.sizes().vec(), s,
                      reduction, ignore_index, total,
                      saved = TensorList{autograd::detail::save_input(input)}](const TensorList& g) {
                       if (autograd::GradMode::is_enabled())  // linear in the input: a gather
                         return autograd::detail::recompute_backward(saved, g, [&](const TensorList& in) {
                           return TensorList{nll_graph(in[0], td, wd, reduction, ignore_index, total)};
                         });
                       const Upstream u = upstream(g[0], reduction, total);
                       Tensor dx = empty(sizes, kFloat);
                       float* d = dx.data_ptr<float>();
                       std::fill(d, d + dx.numel(), 0.0f);
                       nll_backward(d, u.per(), u.scale, td.data_ptr<int64_t>(),
                                    wd.defined() ? wd.data_ptr<float>() : nullptr, s.O, s.C, s.I, ignore_index);
                       return TensorList{dx};
                     });
  }
  return out;
}

Tensor cross_entropy_loss(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t reduction,
                          int64_t ignore_index, double label_smoothing) {
  const char* op = "cross_entropy";
  check_class_input(op, input, reduction);
  CNNKIT_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, op,
               ": label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  const ClassShape s = class_shape(input);
  check_class_weight(op, weight, s.C);
  const Tensor w = weight.defined() ? dense(weight) : Tensor();
  CNNKIT_CHECK(target.defined(), op, ": target is an undefined tensor");
  // A float target of the class-index shape falls through to the dtype check (TypeError).
  if (target.is_floating_point() && target.sizes() != IntArrayRef(s.loss_sizes)) {
    CNNKIT_CHECK_SHAPE(target.sizes() == input.sizes(), op, ": expected target of shape ", IntArrayRef(s.loss_sizes),
                       " (class indices, int64) or ", input.sizes(), " (class probabilities, float32) for input ",
                       input.sizes(), ", got float32 ", target.sizes());
    check_float(op, "target", target);
    return cross_entropy_probs(input, target, w, reduction, ignore_index, label_smoothing, s);
  }
  const float* wp = w.defined() ? w.data_ptr<float>() : nullptr;
  const double total = check_class_target(op, input, target, s, wp, ignore_index);
  const Tensor x = dense(input), t = dense(target);
  const bool need_x = autograd::needs_grad({input});
  const CeParams q{wp, ignore_index, static_cast<float>(label_smoothing)};
  Tensor per = empty({s.O * s.I}, kFloat);
  // The softmax the backward reads (written by the forward's exps either way).
  Tensor prob = empty(x.sizes(), kFloat);
  if (per.numel() > 0 && s.C > 0)
    ce_forward(per.data_ptr<float>(), prob.data_ptr<float>(), x.data_ptr<float>(), t.data_ptr<int64_t>(), s.O, s.C,
               s.I, q);
  else if (per.numel() > 0)
    std::fill(per.data_ptr<float>(), per.data_ptr<float>() + per.numel(), 0.0f);  // every target ignored
  Tensor out = reduce_positions(per, s, reduction, total);
  if (need_x) {
    autograd::detail::record_differentiable("CrossEntropyLossBackward", {input}, {out},
                     [pd = prob.detach(), td = t.detach(), wd = w.defined() ? w.detach() : Tensor(), s, reduction,
                      ignore_index, eps = q.eps, total, smoothing = label_smoothing,
                      saved = TensorList{autograd::detail::save_input(input)}](const TensorList& g) {
                       if (autograd::GradMode::is_enabled())
                         return autograd::detail::recompute_backward(saved, g, [&](const TensorList& in) {
                           return TensorList{cross_entropy_graph(in[0], td, wd, reduction, ignore_index, smoothing,
                                                                 total)};
                         });
                       const Upstream u = upstream(g[0], reduction, total);
                       Tensor dx = empty(pd.sizes(), kFloat);
                       if (dx.numel() > 0)
                         ce_backward(dx.data_ptr<float>(), u.per(), u.scale, pd.data_ptr<float>(),
                                     td.data_ptr<int64_t>(), s.O, s.C, s.I,
                                     CeParams{wd.defined() ? wd.data_ptr<float>() : nullptr, ignore_index, eps});
                       return TensorList{dx};
                     });
  }
  return out;
}

}  // namespace cnnkit
