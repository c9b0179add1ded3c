// Gradient clipping: PyTorch 1.13's clip_grad_norm_ / clip_grad_value_ over raw float32
// gradient arrays. Norms accumulate in double; each per-gradient norm, the total norm and
// the clip coefficient are then rounded to float32, as torch holds them in float32 tensors.
#include "cnnkit/nn/utils/clip_grad.h"

#include <cmath>
#include <limits>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/threads.h"

namespace cnnkit {
namespace nn {
namespace utils {

namespace {

// The gradients to clip: defined ones, float32, contiguous (a non-contiguous
// gradient is replaced by a contiguous copy so the loops below can write it in place).
std::vector<Tensor> grads_of(const std::vector<Tensor>& parameters, const char* fn) {
  std::vector<Tensor> grads;
  for (const Tensor& p : parameters) {
    if (!p.defined()) continue;
    Tensor g = p.grad();
    if (!g.defined()) continue;
    CNNKIT_CHECK_TYPE(g.dtype() == kFloat, fn, ": gradients must be float32, got ", dtype_name(g.dtype()));
    if (!g.is_contiguous()) {
      NoGradGuard no_grad;
      g = g.contiguous();
      const_cast<Tensor&>(p).set_grad(g);
    }
    grads.push_back(g);
  }
  return grads;
}

// The norm_type-norm of one array, accumulated in double.
template <typename T>
double array_norm(const T* x, int64_t n, double norm_type) {
  if (std::isinf(norm_type)) {
    double m = norm_type > 0 ? 0.0 : std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) {
      double a = std::fabs(static_cast<double>(x[i]));
      if (std::isnan(a)) return a;
      m = norm_type > 0 ? (a > m ? a : m) : (a < m ? a : m);
    }
    return m;
  }
  double s = 0;
  if (norm_type == 0) {
    for (int64_t i = 0; i < n; ++i) s += x[i] != 0 ? 1.0 : 0.0;
    return s;
  }
  if (norm_type == 2) {
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    return std::sqrt(s);
  }
  if (norm_type == 1) {
    for (int64_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(x[i]));
    return s;
  }
  for (int64_t i = 0; i < n; ++i) s += std::pow(std::fabs(static_cast<double>(x[i])), norm_type);
  return std::pow(s, 1.0 / norm_type);
}

template <typename T>
void scale(T* x, int64_t n, T c) {
  parallel_for(n, kGrainSize, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] = x[i] * c;
  });
}

template <typename T>
void clamp(T* x, int64_t n, T lo, T hi) {
  parallel_for(n, kGrainSize, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
  });
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  std::vector<Tensor> grads = grads_of(parameters, "clip_grad_norm_");
  if (grads.empty()) return 0.0;
  // torch: the norm of the per-gradient norms, each held in a float32 tensor.
  std::vector<double> norms;
  for (const Tensor& g : grads)
    norms.push_back(static_cast<float>(array_norm(g.data_ptr<float>(), g.numel(), norm_type)));
  const double total = static_cast<float>(array_norm(norms.data(), static_cast<int64_t>(norms.size()), norm_type));
  CNNKIT_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm of order ", norm_type,
               " for gradients from `parameters` is non-finite, so it cannot be clipped. To disable this error "
               "and scale the gradients by the non-finite norm anyway, set `error_if_nonfinite=false`");
  // torch: coef = clamp(max_norm / (total + 1e-6), max=1) in float32, where Python's
  // scalar / tensor is tensor.reciprocal() * scalar; a coefficient of 1 leaves the gradients
  // as they are, NaN (from a NaN norm) propagates.
  const float coef = (1.0f / (static_cast<float>(total) + 1e-6f)) * static_cast<float>(max_norm);
  if (coef >= 1.0f) return total;
  NoGradGuard no_grad;
  for (Tensor& g : grads) scale(g.data_ptr<float>(), g.numel(), coef);
  return total;
}

double clip_grad_norm_(const Tensor& parameter, double max_norm, double norm_type, bool error_if_nonfinite) {
  return clip_grad_norm_(std::vector<Tensor>{parameter}, max_norm, norm_type, error_if_nonfinite);
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value) {
  NoGradGuard no_grad;
  const float hi = static_cast<float>(clip_value);
  for (Tensor& g : grads_of(parameters, "clip_grad_value_")) clamp(g.data_ptr<float>(), g.numel(), -hi, hi);
}

void clip_grad_value_(const Tensor& parameter, double clip_value) {
  clip_grad_value_(std::vector<Tensor>{parameter}, clip_value);
}

}  // namespace utils
}  // namespace nn
}  // namespace cnnkit
