// Element-wise ops (torch::add, torch::where, comparisons, ...): dtype promotion, NumPy
// broadcasting, dispatch to the raw loops in kernels/elementwise, and each op's backward
// recorded right under its forward. Gradients of broadcast inputs are reduced with sum_to.
// The in-place drivers (used by Tensor::add_ and friends) live here too but record nothing.
#include "cnnkit/ops/elementwise.h"

#include <cmath>

#include "cnnkit/autograd/grad_mode.h"
#include "autograd/record.h"
#include "cnnkit/autograd/node.h"
#include "kernels/elementwise.h"
#include "kernels/onednn.h"
#include "cnnkit/ops/factory.h"
#include "core/tensor_internal.h"
#include "ops/elementwise_internal.h"

namespace cnnkit {

using kernels::BinaryOp;
using kernels::UnaryOp;

// ---- shared machinery ---------------------------------------------------------------------

namespace elementwise_detail {
namespace {

kernels::Loop contiguous_loop(int64_t n, int noperands) {
  kernels::Loop L;
  L.ndim = 1;
  L.noperands = noperands;
  L.sizes[0] = n;
  for (int k = 0; k < noperands; ++k) L.strides[k][0] = 1;
  return L;
}

void check_rank(IntArrayRef shape, const char* name) {
  CNNKIT_CHECK_SHAPE(shape.size() <= static_cast<size_t>(kernels::kMaxLoopDims), name, ": at most ",
                     kernels::kMaxLoopDims, " dimensions are supported, got ", shape.size());
}

// Broadcast shape of a and b, naming the op and both shapes on failure.
std::vector<int64_t> broadcast_for(IntArrayRef a, IntArrayRef b, const char* name) {
  const size_t n = std::max(a.size(), b.size());
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i + a.size() < n ? 1 : a[i + a.size() - n];
    const int64_t db = i + b.size() < n ? 1 : b[i + b.size() - n];
    CNNKIT_CHECK_SHAPE(da == db || da == 1 || db == 1, name, ": shapes ", a, " and ", b,
                       " cannot be broadcast: the size of tensor a (", da, ") must match the size of tensor b (",
                       db, ") at non-singleton dimension ", i);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Checks that `t` broadcasts to exactly `shape` (in-place ops cannot grow self).
void check_broadcasts_to(const Tensor& t, IntArrayRef shape, const char* name) {
  bool ok = t.dim() <= static_cast<int64_t>(shape.size());
  for (int64_t i = 0; ok && i < t.dim(); ++i) {
    const int64_t s = t.size(i), o = shape[shape.size() - t.dim() + i];
    ok = s == o || s == 1;
  }
  CNNKIT_CHECK_SHAPE(ok, name, ": output with shape ", shape, " doesn't match the broadcast shape of ",
                     shape, " and ", t.sizes());
}

// Loop over `shape` for out (already in that shape) and inputs broadcast to it.
kernels::Loop loop_for(IntArrayRef shape, const Tensor& out, std::initializer_list<const Tensor*> ins) {
  check_rank(shape, "element-wise op");
  int64_t st[kernels::kMaxLoopOperands - 1][kernels::kMaxLoopDims];
  int k = 0;
  for (const Tensor* t : ins) {
    kernels::broadcast_strides(st[k], t->sizes(), t->strides(), shape);
    ++k;
  }
  switch (k) {
    case 1: return kernels::make_loop(shape, {out.strides().data(), st[0]});
    case 2: return kernels::make_loop(shape, {out.strides().data(), st[0], st[1]});
    default: return kernels::make_loop(shape, {out.strides().data(), st[0], st[1], st[2]});
  }
}

bool same_view(const Tensor& a, const Tensor& b) {
  return a.data_ptr() == b.data_ptr() && a.sizes() == b.sizes() && a.strides() == b.strides();
}

// [first, last] bytes a tensor can touch (strides are never negative in cnnkit).
std::pair<const char*, const char*> byte_span(const Tensor& t) {
  const char* p = static_cast<const char*>(t.data_ptr());
  int64_t last = 0;
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  return {p, p + (last + 1) * static_cast<int64_t>(t.element_size()) - 1};
}

// An input whose memory overlaps self in a different layout (x += x.t()) is read from a
// copy, so that writing self never clobbers elements still to be read. Memory is compared,
// not storages: two from_blob tensors over one buffer alias too.
Tensor unaliased(const Tensor& self, const Tensor& t) {
  if (self.numel() == 0 || t.numel() == 0 || same_view(self, t)) return t;
  auto [s0, s1] = byte_span(self);
  auto [t0, t1] = byte_span(t);
  if (s0 <= t1 && t0 <= s1) return broadcast_copy(t, t.sizes());
  return t;
}

void check_no_internal_overlap(const Tensor& self, const char* name) {
  for (int64_t d = 0; d < self.dim(); ++d)
    CNNKIT_CHECK(!(self.stride(d) == 0 && self.size(d) > 1), name,
                 ": unsupported operation: more than one element of the written-to tensor refers to a "
                 "single memory location (an expanded view). Call .clone() before writing to it.");
}

// PyTorch's can_cast: no float result into an integer tensor, nothing but bool into bool.
void check_can_cast(ScalarType result, ScalarType self, const char* name) {
  bool ok = !(is_floating_point(result) && !is_floating_point(self)) && !(self == kBool && result != kBool);
  CNNKIT_CHECK_TYPE(ok, name, ": result type ", result, " can't be cast to the desired output type ", self);
}

bool is_integral_value(double s) { return std::isfinite(s) && s == std::floor(s); }

bool float_only(UnaryOp op) { return op >= UnaryOp::kExp && op <= UnaryOp::kIsfinite; }
bool is_predicate(UnaryOp op) { return op >= UnaryOp::kIsnan; }

// The dtype a unary op computes in, and the op actually run (floor of an int is a copy).
ScalarType unary_compute_type(ScalarType t, UnaryOp& op) {
  if (op == UnaryOp::kLogicalNot) return kBool;
  if (op == UnaryOp::kCopy) return t;
  if (!is_floating_point(t) && (op == UnaryOp::kFloor || op == UnaryOp::kCeil || op == UnaryOp::kRound)) {
    op = UnaryOp::kCopy;
    return t;
  }
  if (float_only(op)) return kFloat;
  return is_floating_point(t) ? kFloat : kLong;
}

}  // namespace

ScalarType promote(ScalarType a, ScalarType b) {
  return is_floating_point(a) || is_floating_point(b) ? kFloat : kLong;
}

ScalarType promote_scalar(ScalarType a, double s) {
  return is_floating_point(a) || !is_integral_value(s) ? kFloat : kLong;
}

Tensor cast(const Tensor& t, ScalarType ct) {
  if (t.dtype() == ct) return t;
  Tensor out = empty(t.sizes(), ct);
  // convert_strided, not kernels::convert: it sends float -> uint8 through int64, so
  // negative values wrap instead of being undefined behaviour.
  kernels::convert_strided(out.data_ptr(), ct, t.data_ptr(), t.dtype(),
                           t.is_contiguous() ? contiguous_loop(t.numel(), 2) : loop_for(t.sizes(), out, {&t}));
  return out;
}

Tensor broadcast_copy(const Tensor& t, IntArrayRef sizes) {
  check_broadcasts_to(t, sizes, "expand");
  Tensor out = empty(sizes, t.dtype());
  kernels::convert_strided(out.data_ptr(), t.dtype(), t.data_ptr(), t.dtype(), loop_for(sizes, out, {&t}));
  return out;
}

Tensor binary_forward(const Tensor& a, const Tensor& b, BinaryOp op, double alpha, const char* name) {
  ScalarType ct;
  if (op == BinaryOp::kLogicalAnd || op == BinaryOp::kLogicalOr) {
    ct = kBool;
  } else if (op == BinaryOp::kBitAnd || op == BinaryOp::kBitOr) {
    CNNKIT_CHECK_TYPE(!a.is_floating_point() && !b.is_floating_point(), name,
                      ": bitwise ops need integer or bool tensors, got ", a.dtype(), " and ", b.dtype());
    if (a.dtype() == kBool && b.dtype() == kBool) {
      op = op == BinaryOp::kBitAnd ? BinaryOp::kLogicalAnd : BinaryOp::kLogicalOr;
      ct = kBool;
    } else {
      ct = kLong;
    }
  } else if (op == BinaryOp::kDiv) {
    ct = kFloat;  // true division, as torch.div
  } else {
    ct = promote(a.dtype(), b.dtype());
  }
  CNNKIT_CHECK_TYPE(!(ct == kLong && (op == BinaryOp::kAdd || op == BinaryOp::kSub) && !is_integral_value(alpha)),
                    name, ": for integral input tensors, argument alpha must not be a floating point number (got ",
                    alpha, ")");
  const ScalarType ot = kernels::is_comparison(op) ? kBool : ct;
  Tensor ac = cast(a, ct), bc = cast(b, ct);
  Tensor out;
  kernels::Loop loop;
  if (ac.sizes() == bc.sizes() && ac.is_contiguous() && bc.is_contiguous()) {
    out = empty(ac.sizes(), ot);
    loop = contiguous_loop(out.numel(), 3);
  } else {
    std::vector<int64_t> shape = broadcast_for(a.sizes(), b.sizes(), name);
    out = empty(shape, ot);
    loop = loop_for(shape, out, {&ac, &bc});
  }
  kernels::binary(out.data_ptr(), ac.data_ptr(), bc.data_ptr(), loop, ct, op, alpha);
  return out;
}

Tensor scalar_forward(const Tensor& a, double s, BinaryOp op, bool scalar_first, const char* name) {
  const ScalarType ct = op == BinaryOp::kDiv ? kFloat : promote_scalar(a.dtype(), s);
  CNNKIT_CHECK(!(op == BinaryOp::kPow && !scalar_first && ct == kLong && s < 0), name,
               ": Integers to negative integer powers are not allowed (exponent ", s, ")");
  const ScalarType ot = kernels::is_comparison(op) ? kBool : ct;
  Tensor ac = cast(a, ct);
  Tensor out = empty(a.sizes(), ot);
  kernels::Loop loop = ac.is_contiguous() ? contiguous_loop(out.numel(), 2) : loop_for(a.sizes(), out, {&ac});
  kernels::binary_scalar(out.data_ptr(), ac.data_ptr(), s, loop, ct, op, scalar_first);
  return out;
}

Tensor unary_forward(const Tensor& a, UnaryOp op, const char* name) {
  CNNKIT_CHECK_TYPE(!(op == UnaryOp::kNeg && a.dtype() == kBool), name, ": negation, the `-` operator, on a bool "
                    "tensor is not supported. If you are trying to invert a mask, use logical_not() or `!`.");
  const ScalarType ct = unary_compute_type(a.dtype(), op);
  const ScalarType ot = is_predicate(op) ? kBool : ct;
  Tensor ac = cast(a, ct);
  Tensor out = empty(a.sizes(), ot);
  kernels::Loop loop = ac.is_contiguous() ? contiguous_loop(out.numel(), 2) : loop_for(a.sizes(), out, {&ac});
  kernels::unary(out.data_ptr(), ac.data_ptr(), loop, ct, op);
  return out;
}

// ---- in-place drivers -------------------------------------------------------------------

void check_inplace(const Tensor& self, const char* name) {
  if (!autograd::GradMode::is_enabled() || !self.requires_grad()) return;
  CNNKIT_CHECK(!self.is_leaf(), name, ": a leaf Variable that requires grad is being used in an in-place "
               "operation. (Wrap it in NoGradGuard, or use the out-of-place op.)");
  CNNKIT_CHECK(false, name, ": this tensor requires grad (it is the output of a recorded op) and cnnkit "
               "does not record in-place operations, so its gradient would be wrong. Use the out-of-place "
               "op, or detach() first.");
}

bool records_inplace(const Tensor& self, std::initializer_list<const Tensor*> others, const char* name) {
  if (!autograd::GradMode::is_enabled()) return false;
  bool any = self.requires_grad();
  for (const Tensor* t : others) any = any || (t->defined() && t->requires_grad());
  if (!any) return false;
  CNNKIT_CHECK(!(self.is_leaf() && self.requires_grad()), name,
               ": a leaf Variable that requires grad is being used in an in-place operation. (Wrap it in "
               "NoGradGuard, or use the out-of-place op.)");
  CNNKIT_CHECK(detail::alias_kind(*self.unsafeGetTensorImpl()) == detail::AliasKind::kNotAnAlias, name,
               ": in-place operation on a view or detached alias under autograd: cnnkit would not update the "
               "history of the tensor it aliases. Use the out-of-place op, or clone() first.");
  CNNKIT_CHECK_TYPE(self.dtype() == kFloat, name, ": result type Float can't be cast to the desired output type ",
                    self.dtype());
  return true;
}

Tensor& rebase_inplace(Tensor& self, const Tensor& result, const char* name) {
  CNNKIT_CHECK_SHAPE(result.sizes() == self.sizes(), name, ": output with shape ", self.sizes(),
                     " doesn't match the broadcast shape ", result.sizes());
  TensorImpl& me = *self.unsafeGetTensorImpl();
  const TensorImpl& r = *result.unsafeGetTensorImpl();
  if (detail::live_views(*me.storage) == 0) {
    me.storage = r.storage;
    me.sizes = r.sizes;
    me.strides = r.strides;
    me.offset = r.offset;
  } else {
    CNNKIT_CHECK(detail::live_detached(*me.storage) == 0, name,
                 ": this tensor has views, and its values are saved for a backward pass that needs them, so "
                 "cnnkit cannot record the in-place operation. Use the out-of-place op.");
    NoGradGuard no_grad;
    copy_into(self, result.detach(), name);
  }
  me.grad_fn = r.grad_fn;
  me.output_nr = r.output_nr;
  return self;
}

namespace {
// Common preamble of every in-place op: grad check, no self-overlap, shape check.
void prepare_inplace(const Tensor& self, std::initializer_list<const Tensor*> others, const char* name) {
  check_inplace(self, name);
  check_no_internal_overlap(self, name);
  check_rank(self.sizes(), name);
  for (const Tensor* t : others) check_broadcasts_to(*t, self.sizes(), name);
}

kernels::Loop self_loop(const Tensor& self, std::initializer_list<const Tensor*> others) {
  bool all_contig = self.is_contiguous();
  for (const Tensor* t : others) all_contig = all_contig && t->is_contiguous() && t->sizes() == self.sizes();
  if (all_contig) return contiguous_loop(self.numel(), static_cast<int>(others.size()) + 1);
  return loop_for(self.sizes(), self, others);
}
}  // namespace

void binary_inplace(const Tensor& self, const Tensor& other, BinaryOp op, double alpha, const char* name) {
  prepare_inplace(self, {&other}, name);
  const ScalarType st = self.dtype();
  const ScalarType ct = op == BinaryOp::kDiv ? kFloat : promote(st, other.dtype());
  check_can_cast(ct, st, name);
  CNNKIT_CHECK_TYPE(!(ct == kLong && (op == BinaryOp::kAdd || op == BinaryOp::kSub) && !is_integral_value(alpha)),
                    name, ": for integral input tensors, argument alpha must not be a floating point number (got ",
                    alpha, ")");
  if (st != ct) {  // uint8 self: compute in int64, then wrap back
    copy_into(self, binary_forward(self, other, op, alpha, name), name);
    return;
  }
  Tensor oc = unaliased(self, cast(other, ct));
  kernels::binary(self.data_ptr(), self.data_ptr(), oc.data_ptr(), self_loop(self, {&self, &oc}), ct, op, alpha);
}

void scalar_inplace(const Tensor& self, double s, BinaryOp op, const char* name) {
  prepare_inplace(self, {}, name);
  const ScalarType st = self.dtype();
  const ScalarType ct = op == BinaryOp::kDiv ? kFloat : promote_scalar(st, s);
  check_can_cast(ct, st, name);
  if (st != ct) {
    copy_into(self, scalar_forward(self, s, op, false, name), name);
    return;
  }
  CNNKIT_CHECK(!(op == BinaryOp::kPow && ct == kLong && s < 0), name,
               ": Integers to negative integer powers are not allowed (exponent ", s, ")");
  kernels::binary_scalar(self.data_ptr(), self.data_ptr(), s, self_loop(self, {&self}), ct, op, false);
}

void unary_inplace(const Tensor& self, UnaryOp op, const char* name) {
  prepare_inplace(self, {}, name);
  const ScalarType st = self.dtype();
  const ScalarType ct = unary_compute_type(st, op);
  check_can_cast(ct, st, name);
  if (st != ct) {
    copy_into(self, unary_forward(self, op, name), name);
    return;
  }
  kernels::unary(self.data_ptr(), self.data_ptr(), self_loop(self, {&self}), ct, op);
}

void clamp_inplace(const Tensor& self, std::optional<double> lo, std::optional<double> hi, const char* name) {
  CNNKIT_CHECK(lo.has_value() || hi.has_value(), name, ": At least one of 'min' or 'max' must not be None");
  prepare_inplace(self, {}, name);
  const ScalarType st = self.dtype();
  CNNKIT_CHECK_TYPE(st == kFloat || st == kLong, name, ": expected a float32 or int64 tensor, got ", st);
  const bool integral_bounds = (!lo || is_integral_value(*lo)) && (!hi || is_integral_value(*hi));
  check_can_cast(st == kLong && integral_bounds ? kLong : kFloat, st, name);
  kernels::clamp(self.data_ptr(), self.data_ptr(), self_loop(self, {&self}), st, lo.has_value(), lo.value_or(0),
                 hi.has_value(), hi.value_or(0));
}

namespace {
Tensor mask_operand(const Tensor& mask, const char* name) {
  CNNKIT_CHECK_TYPE(mask.dtype() == kBool || mask.dtype() == kByte, name,
                    ": expected a bool mask, got a mask of dtype ", mask.dtype());
  return mask;
}
}  // namespace

void masked_fill_inplace(const Tensor& self, const Tensor& mask, double value) {
  const char* name = "masked_fill_";
  Tensor m = mask_operand(mask, name);
  prepare_inplace(self, {&m}, name);
  m = unaliased(self, m);
  kernels::where_scalar(self.data_ptr(), static_cast<const uint8_t*>(m.data_ptr()), self.data_ptr(), value,
                        self_loop(self, {&m, &self}), self.dtype());
}

void addc_inplace(const Tensor& self, const Tensor& t1, const Tensor& t2, double value, bool div, const char* name) {
  prepare_inplace(self, {&t1, &t2}, name);
  CNNKIT_CHECK_TYPE(self.dtype() == kFloat, name, ": expected a float32 tensor, got ", self.dtype());
  Tensor a = unaliased(self, cast(t1, kFloat)), b = unaliased(self, cast(t2, kFloat));
  float* s = self.data_ptr<float>();
  kernels::Loop loop = self_loop(self, {&self, &a, &b});
  if (div) kernels::addcdiv(s, s, a.data_ptr<float>(), b.data_ptr<float>(), loop, static_cast<float>(value));
  else kernels::addcmul(s, s, a.data_ptr<float>(), b.data_ptr<float>(), loop, static_cast<float>(value));
}

void lerp_inplace(const Tensor& self, const Tensor& end, double weight) {
  const char* name = "lerp_";
  prepare_inplace(self, {&end}, name);
  CNNKIT_CHECK_TYPE(self.dtype() == kFloat, name, ": expected a float32 tensor, got ", self.dtype());
  Tensor e = unaliased(self, cast(end, kFloat));
  float* s = self.data_ptr<float>();
  kernels::lerp(s, s, e.data_ptr<float>(), self_loop(self, {&self, &e}), static_cast<float>(weight));
}

void copy_into(const Tensor& self, const Tensor& src, const char* name) {
  check_no_internal_overlap(self, name);
  check_rank(self.sizes(), name);
  check_broadcasts_to(src, self.sizes(), name);
  Tensor s = unaliased(self, src);
  if (same_view(self, s) && s.dtype() == self.dtype()) return;  // x.copy_(x)
  const bool dense = self.is_contiguous() && s.is_contiguous() && s.sizes() == self.sizes();
  kernels::convert_strided(self.data_ptr(), self.dtype(), s.data_ptr(), s.dtype(),
                           dense ? contiguous_loop(self.numel(), 2) : loop_for(self.sizes(), self, {&s}));
}

}  // namespace elementwise_detail

using namespace elementwise_detail;

// ---- broadcasting and its backward ----------------------------------------------------------

std::vector<int64_t> broadcast_shapes(IntArrayRef a, IntArrayRef b) {
  return elementwise_detail::broadcast_for(a, b, "broadcast_shapes");
}

Tensor sum_to(const Tensor& grad, IntArrayRef shape) {
  if (grad.sizes() == shape) return grad;
  bool ok = shape.size() <= static_cast<size_t>(grad.dim());
  for (size_t i = 0; ok && i < shape.size(); ++i) {
    const int64_t s = shape[i], g = grad.size(static_cast<int64_t>(grad.dim() - shape.size() + i));
    ok = s == g || s == 1;
  }
  CNNKIT_CHECK_SHAPE(ok, "sum_to: shape ", shape, " does not broadcast to the gradient's shape ", grad.sizes());
  CNNKIT_CHECK_TYPE(grad.dtype() == kFloat, "sum_to: expected a float32 tensor, got ", grad.dtype());
  Tensor out = zeros(shape);
  int64_t out_strides[kernels::kMaxLoopDims];
  check_rank(grad.sizes(), "sum_to");
  kernels::broadcast_strides(out_strides, out.sizes(), out.strides(), grad.sizes());
  kernels::sum_to(out.data_ptr<float>(), grad.data_ptr<float>(),
                  kernels::make_loop(grad.sizes(), {out_strides, grad.strides().data()}));
  if (autograd::needs_grad({grad})) {
    autograd::detail::record_differentiable("SumToBackward", {grad}, {out}, [gs = grad.sizes().vec()](const TensorList& g) {
      if (autograd::GradMode::is_enabled()) return TensorList{g[0].expand(gs)};
      return TensorList{broadcast_copy(g[0], gs)};
    });
  }
  return out;
}

// The shape to reduce an input's gradient back to, kept only when the input was broadcast
// (no allocation for the common same-shape case).
struct ReduceTo {
  ReduceTo(const Tensor& in, const Tensor& out) : broadcast_(in.sizes() != out.sizes()) {
    if (broadcast_) shape_ = in.sizes().vec();
  }
  Tensor operator()(const Tensor& g) const { return broadcast_ ? sum_to(g, shape_) : g; }

 private:
  bool broadcast_;
  std::vector<int64_t> shape_;
};

// ---- arithmetic -----------------------------------------------------------------------------

namespace {
// A residual add (ResNet's relu(body(x) + shortcut(x))) of two operands that two oneDNN ops
// left in the same blocked layout: added in that layout (onednn::add_in_layout), so the result
// goes on to the next oneDNN op without reorders. Undefined when they are not both kept alike.
Tensor add_kept_layouts(const Tensor& a, const Tensor& b, double alpha) {
  if (!a.defined() || !b.defined()) return Tensor();  // binary_forward names the missing operand
  kernels::onednn::LayoutPtr sum = kernels::onednn::add_in_layout(*a.unsafeGetTensorImpl(), *b.unsafeGetTensorImpl(),
                                                                  static_cast<float>(alpha));
  if (!sum) return Tensor();
  Tensor out = detail::empty_deferred(a.sizes());
  detail::set_layout(*out.unsafeGetTensorImpl()->storage, std::move(sum));
  return out;
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out = add_kept_layouts(a, b, alpha);
  if (!out.defined()) out = binary_forward(a, b, BinaryOp::kAdd, alpha, "add");
  if (autograd::needs_grad({a, b})) {
    autograd::detail::record_differentiable("AddBackward0", {a, b}, {out},
                     [na = a.requires_grad(), nb = b.requires_grad(), alpha, sa = ReduceTo(a, out),
                      sb = ReduceTo(b, out)](const TensorList& g) {
                       Tensor ga = na ? sa(g[0]) : Tensor();
                       Tensor gb = nb ? sb(alpha == 1 ? g[0] : mul(g[0], alpha)) : Tensor();
                       return TensorList{ga, gb};
                     });
  }
  return out;
}

Tensor add(const Tensor& a, double b, double alpha) {
  Tensor out = scalar_forward(a, alpha * b, BinaryOp::kAdd, false, "add");
  if (autograd::needs_grad({a}))
    autograd::detail::record_differentiable("AddBackward1", {a}, {out}, [](const TensorList& g) { return TensorList{g[0]}; });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out = binary_forward(a, b, BinaryOp::kSub, alpha, "sub");
  if (autograd::needs_grad({a, b})) {
    autograd::detail::record_differentiable("SubBackward0", {a, b}, {out},
                     [na = a.requires_grad(), nb = b.requires_grad(), alpha, sa = ReduceTo(a, out),
                      sb = ReduceTo(b, out)](const TensorList& g) {
                       Tensor ga = na ? sa(g[0]) : Tensor();
                       Tensor gb = nb ? sb(mul(g[0], -alpha)) : Tensor();
                       return TensorList{ga, gb};
                     });
  }
  return out;
}

Tensor sub(const Tensor& a, double b, double alpha) {
  Tensor out = scalar_forward(a, alpha * b, BinaryOp::kSub, false, "sub");
  if (autograd::needs_grad({a}))
    autograd::detail::record_differentiable("SubBackward1", {a}, {out}, [](const TensorList& g) { return TensorList{g[0]}; });
  return out;
}

Tensor rsub(const Tensor& a, double b) {
  Tensor out = scalar_forward(a, b, BinaryOp::kSub, true, "rsub");
  if (autograd::needs_grad({a}))
    autograd::detail::record_differentiable("RsubBackward1", {a}, {out}, [](const TensorList& g) { return TensorList{neg(g[0])}; });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(a, b, BinaryOp::kMul, 1, "mul");
  if (autograd::needs_grad({a, b})) {
    const bool na = a.requires_grad(), nb = b.requires_grad();
    autograd::detail::record_differentiable("MulBackward0", {a, b}, {out},
                     [na, nb, ad = nb ? autograd::detail::save_input(a) : Tensor(), bd = na ? autograd::detail::save_input(b) : Tensor(),
                      sa = ReduceTo(a, out), sb = ReduceTo(b, out)](const TensorList& g) {
                       Tensor ga = na ? sa(mul(g[0], bd)) : Tensor();
                       Tensor gb = nb ? sb(mul(g[0], ad)) : Tensor();
                       return TensorList{ga, gb};
                     });
  }
  return out;
}

Tensor mul(const Tensor& a, double b) {
  Tensor out = scalar_forward(a, b, BinaryOp::kMul, false, "mul");
  if (autograd::needs_grad({a}))
    autograd::detail::record_differentiable("MulBackward1", {a}, {out}, [b](const TensorList& g) { return TensorList{mul(g[0], b)}; });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(a, b, BinaryOp::kDiv, 1, "div");
  if (autograd::needs_grad({a, b})) {
    const bool na = a.requires_grad(), nb = b.requires_grad();
    autograd::detail::record_differentiable("DivBackward0", {a, b}, {out},
                     [na, nb, bd = autograd::detail::save_input(b), od = nb ? out.detach() : Tensor(), sa = ReduceTo(a, out),
                      sb = ReduceTo(b, out)](const TensorList& g) {
                       Tensor ga = na ? sa(div(g[0], bd)) : Tensor();
                       // d(a/b)/db = -(a/b)/b, as PyTorch writes it
                       Tensor gb = nb ? sb(neg(mul(g[0], div(autograd::detail::saved_output(od), bd)))) : Tensor();
                       return TensorList{ga, gb};
                     });
  }
  return out;
}

Tensor div(const Tensor& a, double b) {
  Tensor out = scalar_forward(a, b, BinaryOp::kDiv, false, "div");
  if (autograd::needs_grad({a}))
    autograd::detail::record_differentiable("DivBackward1", {a}, {out}, [b](const TensorList& g) { return TensorList{div(g[0], b)}; });
  return out;
}

Tensor rdiv(const Tensor& a, double b) {
  Tensor out = scalar_forward(a, b, BinaryOp::kDiv, true, "rdiv");
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("RdivBackward", {a}, {out}, [ad = autograd::detail::save_input(a), od = out.detach()](const TensorList& g) {
      return TensorList{neg(mul(g[0], div(autograd::detail::saved_output(od), ad)))};  // d(b/a)/da = -(b/a)/a
    });
  }
  return out;
}

Tensor pow(const Tensor& a, double exponent) {
  Tensor out = scalar_forward(a, exponent, BinaryOp::kPow, false, "pow");
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("PowBackward0", {a}, {out}, [ad = autograd::detail::save_input(a), exponent](const TensorList& g) {
      if (exponent == 0) return TensorList{zeros_like(ad)};
      return TensorList{mul(g[0], mul(pow(ad, exponent - 1), exponent))};
    });
  }
  return out;
}

Tensor pow(const Tensor& a, const Tensor& exponent) {
  Tensor out = binary_forward(a, exponent, BinaryOp::kPow, 1, "pow");
  if (autograd::needs_grad({a, exponent})) {
    const bool na = a.requires_grad(), ne = exponent.requires_grad();
    autograd::detail::record_differentiable("PowBackward1", {a, exponent}, {out},
                     [na, ne, ad = autograd::detail::save_input(a), ed = autograd::detail::save_input(exponent), od = ne ? out.detach() : Tensor(),
                      sa = ReduceTo(a, out), se = ReduceTo(exponent, out)](const TensorList& g) {
                       Tensor grad_a, grad_e;
                       if (na) {  // where(e == 0, 0, g * e * a^(e-1))
                         Tensor d = mul(g[0], mul(ed, pow(ad, sub(ed, 1.0))));
                         grad_a = sa(masked_fill(d, eq(ed, 0.0), 0.0));
                       }
                       if (ne) {  // g * where(a == 0 & e >= 0, 0, out * log(a))
                         Tensor d = mul(g[0], mul(autograd::detail::saved_output(od), log(ad)));
                         grad_e = se(masked_fill(d, logical_and(eq(ad, 0.0), ge(ed, 0.0)), 0.0));
                       }
                       return TensorList{grad_a, grad_e};
                     });
  }
  return out;
}

Tensor pow(double base, const Tensor& exponent) {
  Tensor out = scalar_forward(exponent, base, BinaryOp::kPow, true, "pow");
  if (autograd::needs_grad({exponent})) {
    autograd::detail::record_differentiable("PowBackward2", {exponent}, {out},
                     [base, ed = exponent.detach(), od = out.detach()](const TensorList& g) {
                       Tensor d = mul(g[0], mul(autograd::detail::saved_output(od), std::log(base)));
                       if (base == 0) d = masked_fill(d, ge(ed, 0.0), 0.0);
                       return TensorList{d};
                     });
  }
  return out;
}

// ---- unary math ---------------------------------------------------------------------------

Tensor neg(const Tensor& a) {
  Tensor out = unary_forward(a, UnaryOp::kNeg, "neg");
  if (autograd::needs_grad({a}))
    autograd::detail::record_differentiable("NegBackward0", {a}, {out}, [](const TensorList& g) { return TensorList{neg(g[0])}; });
  return out;
}

Tensor abs(const Tensor& a) {
  Tensor out = unary_forward(a, UnaryOp::kAbs, "abs");
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("AbsBackward0", {a}, {out}, [ad = autograd::detail::save_input(a)](const TensorList& g) {
      return TensorList{mul(g[0], sign(ad))};  // 0 at 0, as torch
    });
  }
  return out;
}

Tensor sign(const Tensor& a) {
  Tensor out = unary_forward(a, UnaryOp::kSign, "sign");
  if (autograd::needs_grad({a}))
    autograd::detail::record_differentiable("SignBackward0", {a}, {out}, [](const TensorList& g) { return TensorList{zeros_like(g[0])}; });
  return out;
}

Tensor exp(const Tensor& a) {
  Tensor out = unary_forward(a, UnaryOp::kExp, "exp");
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("ExpBackward0", {a}, {out},
                     [od = out.detach()](const TensorList& g) { return TensorList{mul(g[0], autograd::detail::saved_output(od))}; });
  }
  return out;
}

Tensor log(const Tensor& a) {
  Tensor out = unary_forward(a, UnaryOp::kLog, "log");
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("LogBackward0", {a}, {out},
                     [ad = autograd::detail::save_input(a)](const TensorList& g) { return TensorList{div(g[0], ad)}; });
  }
  return out;
}

Tensor log1p(const Tensor& a) {
  Tensor out = unary_forward(a, UnaryOp::kLog1p, "log1p");
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("Log1PBackward0", {a}, {out},
                     [ad = autograd::detail::save_input(a)](const TensorList& g) { return TensorList{div(g[0], add(ad, 1.0))}; });
  }
  return out;
}

Tensor erf(const Tensor& a) {
  Tensor out = unary_forward(a, UnaryOp::kErf, "erf");
  if (autograd::needs_grad({a})) {
    // d erf(x) / dx = 2 / sqrt(pi) exp(-x^2)
    autograd::detail::record_differentiable("ErfBackward0", {a}, {out}, [ad = autograd::detail::save_input(a)](const TensorList& g) {
      return TensorList{mul(g[0], mul(exp(neg(square(ad))), 1.1283791670955126))};
    });
  }
  return out;
}

Tensor sqrt(const Tensor& a) {
  Tensor out = unary_forward(a, UnaryOp::kSqrt, "sqrt");
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("SqrtBackward0", {a}, {out}, [od = out.detach()](const TensorList& g) {
      return TensorList{div(g[0], mul(autograd::detail::saved_output(od), 2.0))};  // inf at 0, as torch
    });
  }
  return out;
}

Tensor rsqrt(const Tensor& a) {
  Tensor out = unary_forward(a, UnaryOp::kRsqrt, "rsqrt");
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("RsqrtBackward0", {a}, {out}, [od = out.detach()](const TensorList& g) {
      return TensorList{mul(mul(g[0], -0.5), pow(autograd::detail::saved_output(od), 3.0))};
    });
  }
  return out;
}

Tensor square(const Tensor& a) {
  Tensor out = unary_forward(a, UnaryOp::kSquare, "square");
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("PowBackward0", {a}, {out},
                     [ad = autograd::detail::save_input(a)](const TensorList& g) { return TensorList{mul(g[0], mul(ad, 2.0))}; });
  }
  return out;
}

Tensor reciprocal(const Tensor& a) {
  Tensor out = unary_forward(a, UnaryOp::kReciprocal, "reciprocal");
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("ReciprocalBackward0", {a}, {out}, [od = out.detach()](const TensorList& g) {
      const Tensor o = autograd::detail::saved_output(od);
      return TensorList{mul(neg(g[0]), mul(o, o))};
    });
  }
  return out;
}

Tensor sin(const Tensor& a) {
  Tensor out = unary_forward(a, UnaryOp::kSin, "sin");
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("SinBackward0", {a}, {out},
                     [ad = autograd::detail::save_input(a)](const TensorList& g) { return TensorList{mul(g[0], cos(ad))}; });
  }
  return out;
}

Tensor cos(const Tensor& a) {
  Tensor out = unary_forward(a, UnaryOp::kCos, "cos");
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("CosBackward0", {a}, {out},
                     [ad = autograd::detail::save_input(a)](const TensorList& g) { return TensorList{mul(g[0], neg(sin(ad)))}; });
  }
  return out;
}

namespace {
// floor, ceil, round: piecewise constant, so the gradient is zero everywhere (as torch).
Tensor step_op(const Tensor& a, UnaryOp op, const char* name, const char* backward_name) {
  Tensor out = unary_forward(a, op, name);
  if (autograd::needs_grad({a}))
    autograd::detail::record_differentiable(backward_name, {a}, {out}, [](const TensorList& g) { return TensorList{zeros_like(g[0])}; });
  return out;
}
}  // namespace

Tensor floor(const Tensor& a) { return step_op(a, UnaryOp::kFloor, "floor", "FloorBackward0"); }
Tensor ceil(const Tensor& a) { return step_op(a, UnaryOp::kCeil, "ceil", "CeilBackward0"); }
Tensor round(const Tensor& a) { return step_op(a, UnaryOp::kRound, "round", "RoundBackward0"); }

// ---- clamp, maximum, minimum ----------------------------------------------------------------

Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max) {
  CNNKIT_CHECK(min.has_value() || max.has_value(), "clamp: At least one of 'min' or 'max' must not be None");
  const bool integral = !a.is_floating_point() && (!min || std::floor(*min) == *min) && (!max || std::floor(*max) == *max);
  const ScalarType ct = integral ? kLong : kFloat;
  Tensor ac = cast(a, ct);
  Tensor out = empty(a.sizes(), ct);
  kernels::clamp(out.data_ptr(), ac.data_ptr(), loop_for(a.sizes(), out, {&ac}), ct, min.has_value(),
                 min.value_or(0), max.has_value(), max.value_or(0));
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("ClampBackward1", {a}, {out}, [ad = a.detach(), min, max](const TensorList& g) {
      // The gradient passes where min <= x <= max (PyTorch's clamp_backward mask).
      Tensor keep;
      if (min) keep = ge(ad, *min);
      if (max) keep = keep.defined() ? logical_and(keep, le(ad, *max)) : le(ad, *max);
      return TensorList{masked_fill(g[0], logical_not(keep), 0.0)};
    });
  }
  return out;
}

Tensor clamp_min(const Tensor& a, double min) { return clamp(a, min, std::nullopt); }
Tensor clamp_max(const Tensor& a, double max) { return clamp(a, std::nullopt, max); }

namespace {
// maximum/minimum backward: ties split the gradient in half (PyTorch 1.13).
Tensor extremum(const Tensor& a, const Tensor& b, BinaryOp op, const char* name, const char* backward_name) {
  Tensor out = binary_forward(a, b, op, 1, name);
  if (autograd::needs_grad({a, b})) {
    const bool is_max = op == BinaryOp::kMaximum;
    autograd::detail::record_differentiable(backward_name, {a, b}, {out},
                     [na = a.requires_grad(), nb = b.requires_grad(), is_max, ad = a.detach(), bd = b.detach(),
                      sa = ReduceTo(a, out), sb = ReduceTo(b, out)](const TensorList& g) {
                       Tensor shared = where(eq(ad, bd), div(g[0], 2.0), g[0]);
                       Tensor ga, gb;
                       if (na) ga = sa(masked_fill(shared, is_max ? lt(ad, bd) : gt(ad, bd), 0.0));
                       if (nb) gb = sb(masked_fill(shared, is_max ? gt(ad, bd) : lt(ad, bd), 0.0));
                       return TensorList{ga, gb};
                     });
  }
  return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  return extremum(a, b, BinaryOp::kMaximum, "maximum", "MaximumBackward0");
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return extremum(a, b, BinaryOp::kMinimum, "minimum", "MinimumBackward0");
}

// ---- selection --------------------------------------------------------------------------------

namespace {
Tensor check_condition(const Tensor& cond, const char* name) {
  CNNKIT_CHECK_TYPE(cond.dtype() == kBool || cond.dtype() == kByte, name,
                    ": expected a condition of dtype bool, got ", cond.dtype());
  return cond;
}
}  // namespace

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  check_condition(condition, "where");
  const ScalarType ct = a.dtype() == b.dtype() ? a.dtype() : promote(a.dtype(), b.dtype());
  std::vector<int64_t> shape = broadcast_for(broadcast_for(condition.sizes(), a.sizes(), "where"), b.sizes(), "where");
  Tensor ac = cast(a, ct), bc = cast(b, ct);
  Tensor out = empty(shape, ct);
  kernels::where(out.data_ptr(), static_cast<const uint8_t*>(condition.data_ptr()), ac.data_ptr(), bc.data_ptr(),
                 loop_for(shape, out, {&condition, &ac, &bc}), ct);
  if (autograd::needs_grad({a, b})) {
    autograd::detail::record_differentiable("WhereBackward0", {a, b}, {out},
                     [na = a.requires_grad(), nb = b.requires_grad(), cd = condition.detach(),
                      sa = ReduceTo(a, out), sb = ReduceTo(b, out)](const TensorList& g) {
                       Tensor ga = na ? sa(masked_fill(g[0], logical_not(cd), 0.0)) : Tensor();
                       Tensor gb = nb ? sb(masked_fill(g[0], cd, 0.0)) : Tensor();
                       return TensorList{ga, gb};
                     });
  }
  return out;
}

Tensor where(const Tensor& condition, const Tensor& a, double b) {
  check_condition(condition, "where");
  const ScalarType ct = a.is_floating_point() || std::floor(b) != b ? kFloat : a.dtype();
  std::vector<int64_t> shape = broadcast_for(condition.sizes(), a.sizes(), "where");
  Tensor ac = cast(a, ct);
  Tensor out = empty(shape, ct);
  kernels::where_scalar(out.data_ptr(), static_cast<const uint8_t*>(condition.data_ptr()), ac.data_ptr(), b,
                        loop_for(shape, out, {&condition, &ac}), ct, /*value_if_true=*/false);
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("WhereBackward1", {a}, {out},
                     [cd = condition.detach(), sa = ReduceTo(a, out)](const TensorList& g) {
                       return TensorList{sa(masked_fill(g[0], logical_not(cd), 0.0))};
                     });
  }
  return out;
}

Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
  check_condition(mask, "masked_fill");
  std::vector<int64_t> shape = broadcast_for(a.sizes(), mask.sizes(), "masked_fill");
  Tensor out = empty(shape, a.dtype());
  kernels::where_scalar(out.data_ptr(), static_cast<const uint8_t*>(mask.data_ptr()), a.data_ptr(), value,
                        loop_for(shape, out, {&mask, &a}), a.dtype());
  if (autograd::needs_grad({a})) {
    autograd::detail::record_differentiable("MaskedFillBackward0", {a}, {out},
                     [md = mask.detach(), sa = ReduceTo(a, out)](const TensorList& g) {
                       return TensorList{sa(masked_fill(g[0], md, 0.0))};
                     });
  }
  return out;
}

// ---- fused ternaries ----------------------------------------------------------------------

Tensor lerp(const Tensor& a, const Tensor& end, double weight) {
  std::vector<int64_t> shape = broadcast_for(a.sizes(), end.sizes(), "lerp");
  Tensor ac = cast(a, kFloat), ec = cast(end, kFloat);
  Tensor out = empty(shape, kFloat);
  kernels::lerp(out.data_ptr<float>(), ac.data_ptr<float>(), ec.data_ptr<float>(), loop_for(shape, out, {&ac, &ec}),
                static_cast<float>(weight));
  if (autograd::needs_grad({a, end})) {
    autograd::detail::record_differentiable("LerpBackward0", {a, end}, {out},
                     [na = a.requires_grad(), ne = end.requires_grad(), weight, sa = ReduceTo(a, out),
                      se = ReduceTo(end, out)](const TensorList& g) {
                       Tensor ga = na ? sa(mul(g[0], 1.0 - weight)) : Tensor();
                       Tensor ge = ne ? se(mul(g[0], weight)) : Tensor();
                       return TensorList{ga, ge};
                     });
  }
  return out;
}

namespace {
Tensor addc(const Tensor& a, const Tensor& t1, const Tensor& t2, double value, bool is_div) {
  const char* name = is_div ? "addcdiv" : "addcmul";
  std::vector<int64_t> shape = broadcast_for(broadcast_for(a.sizes(), t1.sizes(), name), t2.sizes(), name);
  Tensor ac = cast(a, kFloat), c1 = cast(t1, kFloat), c2 = cast(t2, kFloat);
  Tensor out = empty(shape, kFloat);
  kernels::Loop loop = loop_for(shape, out, {&ac, &c1, &c2});
  const float v = static_cast<float>(value);
  if (is_div) kernels::addcdiv(out.data_ptr<float>(), ac.data_ptr<float>(), c1.data_ptr<float>(), c2.data_ptr<float>(), loop, v);
  else kernels::addcmul(out.data_ptr<float>(), ac.data_ptr<float>(), c1.data_ptr<float>(), c2.data_ptr<float>(), loop, v);
  if (autograd::needs_grad({a, t1, t2})) {
    const bool n1 = t1.requires_grad(), n2 = t2.requires_grad();
    autograd::detail::record_differentiable(is_div ? "AddcdivBackward0" : "AddcmulBackward0", {a, t1, t2}, {out},
                     [na = a.requires_grad(), n1, n2, is_div, value, d1 = autograd::detail::save_input(c1), d2 = autograd::detail::save_input(c2),
                      sa = ReduceTo(a, out), s1 = ReduceTo(t1, out), s2 = ReduceTo(t2, out)](const TensorList& g) {
                       Tensor ga = na ? sa(g[0]) : Tensor();
                       Tensor g1, g2;
                       if (is_div) {
                         if (n1) g1 = s1(mul(g[0], rdiv(d2, value)));
                         if (n2) g2 = s2(div(mul(mul(g[0], -value), d1), mul(d2, d2)));
                       } else {
                         if (n1) g1 = s1(mul(g[0], mul(d2, value)));
                         if (n2) g2 = s2(mul(g[0], mul(d1, value)));
                       }
                       return TensorList{ga, g1, g2};
                     });
  }
  return out;
}
}  // namespace

Tensor addcmul(const Tensor& a, const Tensor& t1, const Tensor& t2, double value) { return addc(a, t1, t2, value, false); }
Tensor addcdiv(const Tensor& a, const Tensor& t1, const Tensor& t2, double value) { return addc(a, t1, t2, value, true); }

// ---- comparisons and logic (bool results, not differentiable) -----------------------------

Tensor eq(const Tensor& a, const Tensor& b) { return binary_forward(a, b, BinaryOp::kEq, 1, "eq"); }
Tensor eq(const Tensor& a, double b) { return scalar_forward(a, b, BinaryOp::kEq, false, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_forward(a, b, BinaryOp::kNe, 1, "ne"); }
Tensor ne(const Tensor& a, double b) { return scalar_forward(a, b, BinaryOp::kNe, false, "ne"); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_forward(a, b, BinaryOp::kGt, 1, "gt"); }
Tensor gt(const Tensor& a, double b) { return scalar_forward(a, b, BinaryOp::kGt, false, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_forward(a, b, BinaryOp::kGe, 1, "ge"); }
Tensor ge(const Tensor& a, double b) { return scalar_forward(a, b, BinaryOp::kGe, false, "ge"); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_forward(a, b, BinaryOp::kLt, 1, "lt"); }
Tensor lt(const Tensor& a, double b) { return scalar_forward(a, b, BinaryOp::kLt, false, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_forward(a, b, BinaryOp::kLe, 1, "le"); }
Tensor le(const Tensor& a, double b) { return scalar_forward(a, b, BinaryOp::kLe, false, "le"); }
Tensor logical_not(const Tensor& a) { return unary_forward(a, UnaryOp::kLogicalNot, "logical_not"); }
Tensor logical_and(const Tensor& a, const Tensor& b) {
  return binary_forward(a, b, BinaryOp::kLogicalAnd, 1, "logical_and");
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return binary_forward(a, b, BinaryOp::kLogicalOr, 1, "logical_or");
}
Tensor isnan(const Tensor& a) { return unary_forward(a, UnaryOp::kIsnan, "isnan"); }
Tensor isinf(const Tensor& a) { return unary_forward(a, UnaryOp::kIsinf, "isinf"); }
Tensor isfinite(const Tensor& a) { return unary_forward(a, UnaryOp::kIsfinite, "isfinite"); }

bool equal(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes()) return false;
  Tensor same = binary_forward(a, b, BinaryOp::kEq, 1, "equal");
  const uint8_t* p = static_cast<const uint8_t*>(same.data_ptr());
  for (int64_t i = 0, n = same.numel(); i < n; ++i)
    if (!p[i]) return false;
  return true;
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  std::vector<int64_t> shape = broadcast_for(a.sizes(), b.sizes(), "allclose");
  Tensor af = broadcast_copy(cast(a, kFloat), shape), bf = broadcast_copy(cast(b, kFloat), shape);
  const float* x = af.data_ptr<float>();
  const float* y = bf.data_ptr<float>();
  for (int64_t i = 0, n = af.numel(); i < n; ++i) {
    if (x[i] == y[i]) continue;  // also equal infinities
    const double d = std::fabs(static_cast<double>(x[i]) - y[i]);
    if (!(d <= atol + rtol * std::fabs(static_cast<double>(y[i])))) return false;  // NaN fails
  }
  return true;
}

}  // namespace cnnkit
