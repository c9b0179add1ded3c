// Dropout, channel (feature) dropout and alpha dropout with PyTorch's CPU semantics:
// identity when not training or p == 0, input * 0 when p == 1, else a Bernoulli(1 - p)
// mask drawn from the global generator (row-major, under its mutex) and scaled by
// 1 / (1 - p); the backward multiplies by the saved mask. Masks are float tensors the
// size of the input (or (N, C, 1, ...) for feature dropout), broadcast by the multiply.
#include "cnnkit/ops/dropout.h"

#include <cmath>
#include <mutex>

#include "autograd/record.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/factory.h"
#include "ops/elementwise_internal.h"

namespace cnnkit {

void check_dropout_p(double p, const char* name) {
  CNNKIT_CHECK(p >= 0 && p <= 1, name, *name ? ": " : "", "dropout probability has to be between 0 and 1, but got ", p);
}

namespace {

void check_args(const Tensor& input, double p, const char* name) {
  check_dropout_p(p, name);
  CNNKIT_CHECK_TYPE(input.dtype() == kFloat, name, ": expected a float32 input, got ", input.dtype());
}

// (N, C, 1, ..., 1) for feature dropout, the input's shape otherwise.
std::vector<int64_t> noise_shape(const Tensor& input, bool feature, const char* name) {
  if (!feature) return input.sizes().vec();
  CNNKIT_CHECK_SHAPE(input.dim() >= 2, name, ": Feature dropout requires at least 2 dimensions in the input, got ",
                     input.dim(), " dims ", input.sizes());
  std::vector<int64_t> s(static_cast<size_t>(input.dim()), 1);
  s[0] = input.size(0);
  s[1] = input.size(1);
  return s;
}

// Bernoulli(keep) values: `kept` where kept, `dropped` elsewhere.
Tensor make_mask(IntArrayRef shape, float keep, float kept, float dropped) {
  Tensor m = empty(shape, kFloat);
  float* p = m.data_ptr<float>();
  Generator& gen = default_generator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  for (int64_t i = 0, n = m.numel(); i < n; ++i) p[i] = gen.uniform() < keep ? kept : dropped;
  return m;
}

// out = input * scale_mask (+ shift_mask), gradient = grad * scale_mask.
Tensor apply_mask(const Tensor& input, const Tensor& scale_mask, const Tensor& shift_mask, const char* backward_name) {
  namespace ed = elementwise_detail;
  Tensor out = ed::binary_forward(input, scale_mask, kernels::BinaryOp::kMul, 1, "dropout");
  if (shift_mask.defined()) out = ed::binary_forward(out, shift_mask, kernels::BinaryOp::kAdd, 1, "dropout");
  if (autograd::needs_grad({input})) {
    autograd::detail::record_differentiable(backward_name, {input}, {out}, [m = scale_mask](const TensorList& g) {
      if (autograd::GradMode::is_enabled()) return TensorList{mul(g[0], m)};  // a constant mask
      return TensorList{ed::binary_forward(g[0], m, kernels::BinaryOp::kMul, 1, "dropout_backward")};
    });
  }
  return out;
}

Tensor dropout_impl(const Tensor& input, double p, bool train, bool feature, bool alpha, const char* name) {
  check_args(input, p, name);
  if (p == 0 || !train || input.numel() == 0) return input;
  std::vector<int64_t> shape = noise_shape(input, feature, name);
  if (p == 1) return mul(input, 0.0);
  const float keep = static_cast<float>(1 - p);
  if (!alpha) {
    // PyTorch: noise.bernoulli_(1 - p).div_(1 - p), so kept values are 1 / (1 - p) in float.
    return apply_mask(input, make_mask(shape, keep, 1.0f / keep, 0.0f), Tensor(),
                      feature ? "FeatureDropoutBackward" : "DropoutBackward");
  }
  // Alpha dropout keeps SELU's mean and variance: kept x -> a * x + alpha' * a * p,
  // dropped x -> a * (alpha' * p - alpha') with alpha' = SELU's saturation value.
  constexpr double kAlpha = 1.7580993408473766;
  const double a = 1.0 / std::sqrt((kAlpha * kAlpha * p + 1) * (1 - p));
  Tensor noise = make_mask(shape, keep, 1.0f, 0.0f);
  Tensor shift = add(mul(sub(noise, 1.0), kAlpha * a), kAlpha * a * p);
  return apply_mask(input, mul(noise, a), shift, feature ? "FeatureAlphaDropoutBackward" : "AlphaDropoutBackward");
}

}  // namespace

Tensor dropout(const Tensor& input, double p, bool train) {
  return dropout_impl(input, p, train, false, false, "dropout");
}

Tensor feature_dropout(const Tensor& input, double p, bool train) {
  return dropout_impl(input, p, train, true, false, "feature_dropout");
}

Tensor alpha_dropout(const Tensor& input, double p, bool train) {
  return dropout_impl(input, p, train, false, true, "alpha_dropout");
}

}  // namespace cnnkit
