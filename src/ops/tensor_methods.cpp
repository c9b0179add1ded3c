// The Tensor member functions of the element-wise, conversion and activation families
// (declared in core/tensor.h, defined in the ops layer as ATen does) and the free operators.
// Out-of-place methods forward to the differentiable free functions; in-place methods write
// through self's strides. Views, reductions, linear
// algebra and indexing methods live with their own families. Under autograd, in-place
// methods are recorded by rebasing self's history (ed::records_inplace).
#include <cmath>
#include <mutex>

#include "cnnkit/autograd/grad_mode.h"
#include "autograd/record.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/core/rng.h"
#include "kernels/copy.h"
#include "kernels/elementwise.h"
#include "cnnkit/ops/activation.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/factory.h"
#include "ops/elementwise_internal.h"

namespace cnnkit {

namespace ed = elementwise_detail;
using kernels::BinaryOp;
using kernels::UnaryOp;

// ---- conversion and copies ---------------------------------------------------------------------

Tensor Tensor::to(ScalarType t, bool /*non_blocking*/, bool copy) const {
  const ScalarType dt = t == kDouble ? kFloat : t;  // float64 is stored as float32 (see dtype.h)
  if (dt == dtype()) return copy ? clone() : *this;
  // A dtype change only records history float -> float, which cannot happen here: integer
  // results cannot require grad, and integer sources never do.
  return ed::cast(*this, dt);
}

Tensor Tensor::to(Device d, bool /*non_blocking*/, bool copy) const {
  CNNKIT_CHECK(d.is_cpu(), "to: cnnkit runs on the CPU; cannot move a tensor to ", d);
  return copy ? clone() : *this;
}

Tensor Tensor::to(Device d, ScalarType t, bool non_blocking, bool copy) const {
  CNNKIT_CHECK(d.is_cpu(), "to: cnnkit runs on the CPU; cannot move a tensor to ", d);
  return to(t, non_blocking, copy);
}

Tensor Tensor::to(const TensorOptions& o, bool non_blocking, bool copy) const {
  CNNKIT_CHECK(o.device().is_cpu(), "to: cnnkit runs on the CPU; cannot move a tensor to ", o.device());
  if (o.has_dtype()) return to(o.dtype(), non_blocking, copy);
  return copy ? clone() : *this;
}

Tensor Tensor::clone() const {
  Tensor out = empty(sizes(), dtype());
  kernels::copy_strided(out.data_ptr(), data_ptr(), element_size(), sizes(), strides());
  if (autograd::needs_grad({*this}))
    autograd::detail::record_differentiable("CloneBackward0", {*this}, {out},
                                            [](const TensorList& g) { return TensorList{g[0]}; });
  return out;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor& Tensor::copy_(const Tensor& src, bool /*non_blocking*/) {
  if (ed::records_inplace(*this, {&src}, "copy_")) return ed::rebase_inplace(*this, src.to(dtype()).expand(sizes()).clone(), "copy_");
  ed::check_inplace(*this, "copy_");
  ed::copy_into(*this, src, "copy_");
  return *this;
}

Tensor& Tensor::fill_(double value) {
  if (ed::records_inplace(*this, {}, "fill_")) return ed::rebase_inplace(*this, full_like(*this, value), "fill_");
  ed::check_inplace(*this, "fill_");
  if (numel() == 0) return *this;
  kernels::fill(data_ptr(), kernels::make_loop(sizes(), {strides().data()}), dtype(), value);
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0); }

namespace {
// Fills self in row-major order with values from gen_value (called under the generator's
// mutex), writing through self's strides.
template <typename F>
void fill_random(Tensor& self, const char* name, const F& gen_value) {
  ed::check_inplace(self, name);
  Tensor dst = self.is_contiguous() && self.dtype() == kFloat ? self : empty(self.sizes(), kFloat);
  float* p = dst.data_ptr<float>();
  {
    Generator& gen = default_generator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    for (int64_t i = 0, n = dst.numel(); i < n; ++i) p[i] = gen_value(gen);
  }
  if (!dst.is_same(self)) ed::copy_into(self, dst, name);
}
}  // namespace

Tensor& Tensor::normal_(double mean, double std) {
  CNNKIT_CHECK_TYPE(is_floating_point(), "normal_: expected a floating-point tensor, got ", dtype());
  CNNKIT_CHECK(std >= 0, "normal_: expects std >= 0.0, but found std ", std);
  fill_random(*this, "normal_", [mean, std](Generator& g) { return static_cast<float>(mean + std * g.normal()); });
  return *this;
}

Tensor& Tensor::uniform_(double from, double to) {
  CNNKIT_CHECK_TYPE(is_floating_point(), "uniform_: expected a floating-point tensor, got ", dtype());
  CNNKIT_CHECK(from <= to, "uniform_: expects to return a [from, to) range, but found from=", from, " > to=", to);
  fill_random(*this, "uniform_", [from, to](Generator& g) {
    return static_cast<float>(from + (to - from) * static_cast<double>(g.uniform()));
  });
  return *this;
}

Tensor& Tensor::bernoulli_(double p) {
  CNNKIT_CHECK(p >= 0 && p <= 1, "bernoulli_: expected p in [0, 1], but got p=", p);
  const float pf = static_cast<float>(p);
  fill_random(*this, "bernoulli_", [pf](Generator& g) { return g.uniform() < pf ? 1.0f : 0.0f; });
  return *this;
}

// ---- element-wise math ---------------------------------------------------------------------

Tensor Tensor::add(const Tensor& other, double alpha) const { return cnnkit::add(*this, other, alpha); }
Tensor Tensor::add(double other, double alpha) const { return cnnkit::add(*this, other, alpha); }
Tensor Tensor::sub(const Tensor& other, double alpha) const { return cnnkit::sub(*this, other, alpha); }
Tensor Tensor::sub(double other, double alpha) const { return cnnkit::sub(*this, other, alpha); }
Tensor Tensor::mul(const Tensor& other) const { return cnnkit::mul(*this, other); }
Tensor Tensor::mul(double other) const { return cnnkit::mul(*this, other); }
Tensor Tensor::div(const Tensor& other) const { return cnnkit::div(*this, other); }
Tensor Tensor::div(double other) const { return cnnkit::div(*this, other); }
Tensor Tensor::pow(double exponent) const { return cnnkit::pow(*this, exponent); }
Tensor Tensor::pow(const Tensor& exponent) const { return cnnkit::pow(*this, exponent); }
Tensor Tensor::neg() const { return cnnkit::neg(*this); }
Tensor Tensor::abs() const { return cnnkit::abs(*this); }
Tensor Tensor::sign() const { return cnnkit::sign(*this); }
Tensor Tensor::exp() const { return cnnkit::exp(*this); }
Tensor Tensor::log() const { return cnnkit::log(*this); }
Tensor Tensor::log1p() const { return cnnkit::log1p(*this); }
Tensor Tensor::erf() const { return cnnkit::erf(*this); }
Tensor Tensor::sqrt() const { return cnnkit::sqrt(*this); }
Tensor Tensor::rsqrt() const { return cnnkit::rsqrt(*this); }
Tensor Tensor::square() const { return cnnkit::square(*this); }
Tensor Tensor::reciprocal() const { return cnnkit::reciprocal(*this); }
Tensor Tensor::sin() const { return cnnkit::sin(*this); }
Tensor Tensor::cos() const { return cnnkit::cos(*this); }
Tensor Tensor::floor() const { return cnnkit::floor(*this); }
Tensor Tensor::ceil() const { return cnnkit::ceil(*this); }
Tensor Tensor::round() const { return cnnkit::round(*this); }
Tensor Tensor::relu() const { return cnnkit::relu(*this); }
Tensor Tensor::sigmoid() const { return cnnkit::sigmoid(*this); }
Tensor Tensor::tanh() const { return cnnkit::tanh(*this); }
Tensor Tensor::clamp(std::optional<double> min, std::optional<double> max) const {
  return cnnkit::clamp(*this, min, max);
}
Tensor Tensor::clamp_min(double min) const { return cnnkit::clamp_min(*this, min); }
Tensor Tensor::clamp_max(double max) const { return cnnkit::clamp_max(*this, max); }
Tensor Tensor::maximum(const Tensor& other) const { return cnnkit::maximum(*this, other); }
Tensor Tensor::minimum(const Tensor& other) const { return cnnkit::minimum(*this, other); }
Tensor Tensor::masked_fill(const Tensor& mask, double value) const { return cnnkit::masked_fill(*this, mask, value); }
Tensor Tensor::where(const Tensor& condition, const Tensor& other) const {
  return cnnkit::where(condition, *this, other);
}
Tensor Tensor::logical_not() const { return cnnkit::logical_not(*this); }
Tensor Tensor::isnan() const { return cnnkit::isnan(*this); }
Tensor Tensor::isfinite() const { return cnnkit::isfinite(*this); }

// ---- in-place ----------------------------------------------------------------------------------

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  if (ed::records_inplace(*this, {&other}, "add_")) return ed::rebase_inplace(*this, add(other, alpha), "add_");
  ed::binary_inplace(*this, other, BinaryOp::kAdd, alpha, "add_");
  return *this;
}
Tensor& Tensor::add_(double other, double alpha) {
  if (ed::records_inplace(*this, {}, "add_")) return ed::rebase_inplace(*this, add(other, alpha), "add_");
  ed::scalar_inplace(*this, alpha * other, BinaryOp::kAdd, "add_");
  return *this;
}
Tensor& Tensor::sub_(const Tensor& other, double alpha) {
  if (ed::records_inplace(*this, {&other}, "sub_")) return ed::rebase_inplace(*this, sub(other, alpha), "sub_");
  ed::binary_inplace(*this, other, BinaryOp::kSub, alpha, "sub_");
  return *this;
}
Tensor& Tensor::sub_(double other, double alpha) {
  if (ed::records_inplace(*this, {}, "sub_")) return ed::rebase_inplace(*this, sub(other, alpha), "sub_");
  ed::scalar_inplace(*this, alpha * other, BinaryOp::kSub, "sub_");
  return *this;
}
Tensor& Tensor::mul_(const Tensor& other) {
  if (ed::records_inplace(*this, {&other}, "mul_")) return ed::rebase_inplace(*this, mul(other), "mul_");
  ed::binary_inplace(*this, other, BinaryOp::kMul, 1, "mul_");
  return *this;
}
Tensor& Tensor::mul_(double other) {
  if (ed::records_inplace(*this, {}, "mul_")) return ed::rebase_inplace(*this, mul(other), "mul_");
  ed::scalar_inplace(*this, other, BinaryOp::kMul, "mul_");
  return *this;
}
Tensor& Tensor::div_(const Tensor& other) {
  if (ed::records_inplace(*this, {&other}, "div_")) return ed::rebase_inplace(*this, div(other), "div_");
  ed::binary_inplace(*this, other, BinaryOp::kDiv, 1, "div_");
  return *this;
}
Tensor& Tensor::div_(double other) {
  if (ed::records_inplace(*this, {}, "div_")) return ed::rebase_inplace(*this, div(other), "div_");
  ed::scalar_inplace(*this, other, BinaryOp::kDiv, "div_");
  return *this;
}
Tensor& Tensor::pow_(double exponent) {
  if (ed::records_inplace(*this, {}, "pow_")) return ed::rebase_inplace(*this, pow(exponent), "pow_");
  ed::scalar_inplace(*this, exponent, BinaryOp::kPow, "pow_");
  return *this;
}
Tensor& Tensor::sqrt_() {
  if (ed::records_inplace(*this, {}, "sqrt_")) return ed::rebase_inplace(*this, sqrt(), "sqrt_");
  ed::unary_inplace(*this, UnaryOp::kSqrt, "sqrt_");
  return *this;
}
Tensor& Tensor::neg_() {
  if (ed::records_inplace(*this, {}, "neg_")) return ed::rebase_inplace(*this, neg(), "neg_");
  ed::unary_inplace(*this, UnaryOp::kNeg, "neg_");
  return *this;
}
Tensor& Tensor::exp_() {
  if (ed::records_inplace(*this, {}, "exp_")) return ed::rebase_inplace(*this, exp(), "exp_");
  ed::unary_inplace(*this, UnaryOp::kExp, "exp_");
  return *this;
}
Tensor& Tensor::abs_() {
  if (ed::records_inplace(*this, {}, "abs_")) return ed::rebase_inplace(*this, abs(), "abs_");
  ed::unary_inplace(*this, UnaryOp::kAbs, "abs_");
  return *this;
}
Tensor& Tensor::sign_() {
  if (ed::records_inplace(*this, {}, "sign_")) return ed::rebase_inplace(*this, sign(), "sign_");
  ed::unary_inplace(*this, UnaryOp::kSign, "sign_");
  return *this;
}

namespace {
// relu_/sigmoid_/tanh_: the same oneDNN primitive as the out-of-place op when self is one
// dense block (so both give identical numbers), the strided plain loop otherwise.
void activation_inplace(Tensor& self, kernels::Eltwise alg, UnaryOp fallback, const char* name) {
  ed::check_inplace(self, name);
  CNNKIT_CHECK_TYPE(self.dtype() == kFloat, name, ": expected a float32 tensor, got ", self.dtype());
  if (self.is_contiguous()) {
    float* p = self.data_ptr<float>();
    kernels::eltwise_forward(p, p, self.numel(), alg);
  } else {
    ed::unary_inplace(self, fallback, name);
  }
}
}  // namespace

Tensor& Tensor::relu_() {
  if (ed::records_inplace(*this, {}, "relu_")) return ed::rebase_inplace(*this, relu(), "relu_");
  activation_inplace(*this, kernels::Eltwise::kRelu, UnaryOp::kRelu, "relu_");
  return *this;
}
Tensor& Tensor::sigmoid_() {
  if (ed::records_inplace(*this, {}, "sigmoid_")) return ed::rebase_inplace(*this, sigmoid(), "sigmoid_");
  activation_inplace(*this, kernels::Eltwise::kLogistic, UnaryOp::kSigmoid, "sigmoid_");
  return *this;
}
Tensor& Tensor::tanh_() {
  if (ed::records_inplace(*this, {}, "tanh_")) return ed::rebase_inplace(*this, tanh(), "tanh_");
  activation_inplace(*this, kernels::Eltwise::kTanh, UnaryOp::kTanh, "tanh_");
  return *this;
}
Tensor& Tensor::clamp_(std::optional<double> min, std::optional<double> max) {
  if (ed::records_inplace(*this, {}, "clamp_")) return ed::rebase_inplace(*this, clamp(min, max), "clamp_");
  ed::clamp_inplace(*this, min, max, "clamp_");
  return *this;
}
Tensor& Tensor::clamp_min_(double min) {
  if (ed::records_inplace(*this, {}, "clamp_min_")) return ed::rebase_inplace(*this, clamp_min(min), "clamp_min_");
  ed::clamp_inplace(*this, min, std::nullopt, "clamp_min_");
  return *this;
}
Tensor& Tensor::clamp_max_(double max) {
  if (ed::records_inplace(*this, {}, "clamp_max_")) return ed::rebase_inplace(*this, clamp_max(max), "clamp_max_");
  ed::clamp_inplace(*this, std::nullopt, max, "clamp_max_");
  return *this;
}
Tensor& Tensor::addcmul_(const Tensor& t1, const Tensor& t2, double value) {
  if (ed::records_inplace(*this, {&t1, &t2}, "addcmul_")) return ed::rebase_inplace(*this, add(t1 * t2, value), "addcmul_");
  ed::addc_inplace(*this, t1, t2, value, false, "addcmul_");
  return *this;
}
Tensor& Tensor::addcdiv_(const Tensor& t1, const Tensor& t2, double value) {
  if (ed::records_inplace(*this, {&t1, &t2}, "addcdiv_")) return ed::rebase_inplace(*this, add(t1 / t2, value), "addcdiv_");
  ed::addc_inplace(*this, t1, t2, value, true, "addcdiv_");
  return *this;
}
Tensor& Tensor::lerp_(const Tensor& end, double weight) {
  if (ed::records_inplace(*this, {&end}, "lerp_")) return ed::rebase_inplace(*this, add(end - *this, weight), "lerp_");
  ed::lerp_inplace(*this, end, weight);
  return *this;
}
Tensor& Tensor::masked_fill_(const Tensor& mask, double value) {
  if (ed::records_inplace(*this, {}, "masked_fill_")) return ed::rebase_inplace(*this, masked_fill(mask, value), "masked_fill_");
  ed::masked_fill_inplace(*this, mask, value);
  return *this;
}

// ---- comparisons ------------------------------------------------------------------------------

Tensor Tensor::eq(const Tensor& o) const { return cnnkit::eq(*this, o); }
Tensor Tensor::eq(double o) const { return cnnkit::eq(*this, o); }
Tensor Tensor::ne(const Tensor& o) const { return cnnkit::ne(*this, o); }
Tensor Tensor::ne(double o) const { return cnnkit::ne(*this, o); }
Tensor Tensor::gt(const Tensor& o) const { return cnnkit::gt(*this, o); }
Tensor Tensor::gt(double o) const { return cnnkit::gt(*this, o); }
Tensor Tensor::ge(const Tensor& o) const { return cnnkit::ge(*this, o); }
Tensor Tensor::ge(double o) const { return cnnkit::ge(*this, o); }
Tensor Tensor::lt(const Tensor& o) const { return cnnkit::lt(*this, o); }
Tensor Tensor::lt(double o) const { return cnnkit::lt(*this, o); }
Tensor Tensor::le(const Tensor& o) const { return cnnkit::le(*this, o); }
Tensor Tensor::le(double o) const { return cnnkit::le(*this, o); }
bool Tensor::equal(const Tensor& other) const { return cnnkit::equal(*this, other); }
bool Tensor::allclose(const Tensor& other, double rtol, double atol) const {
  return cnnkit::allclose(*this, other, rtol, atol);
}

// ---- free operators ---------------------------------------------------------------------------

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator-(double a, const Tensor& b) { return rsub(b, a); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator/(double a, const Tensor& b) { return rdiv(b, a); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>(const Tensor& a, double b) { return gt(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<(const Tensor& a, double b) { return lt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator>=(const Tensor& a, double b) { return ge(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator<=(const Tensor& a, double b) { return le(a, b); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator==(const Tensor& a, double b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator!=(const Tensor& a, double b) { return ne(a, b); }
Tensor operator!(const Tensor& a) { return logical_not(a); }
// Logical on bool tensors, bitwise on integers (torch's & and |); float is a TypeError.
Tensor operator&(const Tensor& a, const Tensor& b) { return ed::binary_forward(a, b, BinaryOp::kBitAnd, 1, "bitwise_and"); }
Tensor operator|(const Tensor& a, const Tensor& b) { return ed::binary_forward(a, b, BinaryOp::kBitOr, 1, "bitwise_or"); }

}  // namespace cnnkit
