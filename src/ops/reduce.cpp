// Reductions (sum, mean, prod, max/min, amax/amin, arg*, var/std, norm, logsumexp, all/any,
// topk, sort) with their backward right below each forward, plus the Tensor members.
// The input is brought to a contiguous (P, O, R, I) block once (kernels/reduce.h); reducing
// inner dims, outer dims, or both around a kept middle (N, H, W of NCHW for a bias gradient)
// runs without a copy. Other dim patterns permute the reduced dims innermost with one copy.
// Float sums accumulate in double; integer and bool inputs sum to int64, as in PyTorch.
#include "cnnkit/ops/reduce.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "autograd/record.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/factory.h"
#include "ops/graph_internal.h"
#include "core/tensor_internal.h"
#include "kernels/copy.h"
#include "kernels/reduce.h"

namespace cnnkit {

namespace {

using autograd::needs_grad;
using autograd::record;
using autograd::GradMode;
using autograd::detail::record_differentiable;
using autograd::detail::save_input;
using autograd::detail::saved_output;
using graph_detail::expand_back;

// Which dims of the input are reduced and what the result looks like.
struct Plan {
  std::vector<bool> mask;           // per input dim
  std::vector<int64_t> out_sizes;   // sizes of the result (keepdim applied)
  std::vector<int64_t> dims;        // reduced dims, ascending
  int64_t count = 1;                // input elements per result element
  bool keepdim = false;
};

// dims empty = every dim (PyTorch's sum(dim=[]) convention).
Plan make_plan(const Tensor& x, IntArrayRef dims, bool keepdim, const char* op) {
  const int64_t nd = x.dim();
  Plan p;
  p.keepdim = keepdim;
  p.mask.assign(static_cast<size_t>(nd), dims.empty());
  for (int64_t v : dims) {
    const int64_t d = detail::wrap_dim(v, nd, op);
    if (nd == 0) continue;
    CNNKIT_CHECK_SHAPE(!p.mask[d], op, ": dim ", d, " appears multiple times in the list of dims ", dims);
    p.mask[d] = true;
  }
  for (int64_t d = 0; d < nd; ++d) {
    if (p.mask[d]) {
      p.count *= x.size(d);
      p.dims.push_back(d);
      if (keepdim) p.out_sizes.push_back(1);
    } else {
      p.out_sizes.push_back(x.size(d));
    }
  }
  return p;
}

Plan single_dim_plan(const Tensor& x, int64_t dim, bool keepdim, const char* op) {
  return make_plan(x, IntArrayRef(dim), keepdim, op);
}

int64_t numel_of(IntArrayRef s) {
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  return n;
}

Tensor contiguous_copy(const Tensor& a) {
  Tensor out = empty(a.sizes(), a.dtype());
  kernels::copy_strided(out.data_ptr(), a.data_ptr(), a.element_size(), a.sizes(), a.strides());
  return out;
}
Tensor as_contiguous(const Tensor& a) { return a.is_contiguous() ? a : contiguous_copy(a); }

Tensor convert_to(const Tensor& a, ScalarType t) {
  if (t == kDouble) t = kFloat;  // cnnkit computes in float32 (see dtype.h)
  if (a.dtype() == t) return a;
  Tensor src = as_contiguous(a);
  Tensor out = empty(a.sizes(), t);
  kernels::convert(out.data_ptr(), t, src.data_ptr(), src.dtype(), src.numel());
  return out;
}

Tensor zeros_of(IntArrayRef sizes) {
  Tensor out = empty(sizes, kFloat);
  if (out.nbytes()) std::memset(out.data_ptr(), 0, out.nbytes());
  return out;
}

// The input as a contiguous (P, O, R, I) block; see the file header.
struct Block {
  Tensor data;
  int64_t P = 1, O = 1, R = 1, I = 1;
};

Block to_block(const Tensor& x, const Plan& plan, bool allow_p) {
  Block b;
  b.data = as_contiguous(x);
  // Coalesce: drop size-1 dims, merge neighbours of the same kind.
  std::vector<std::pair<int64_t, bool>> groups;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (x.size(d) == 1) continue;
    if (!groups.empty() && groups.back().second == plan.mask[d]) groups.back().first *= x.size(d);
    else groups.emplace_back(x.size(d), plan.mask[d]);
  }
  int reduced_groups = 0;
  for (auto& g : groups) reduced_groups += g.second;
  size_t i = 0;
  const size_t n = groups.size();
  if (allow_p && reduced_groups == 2 && groups[0].second) b.P = groups[i++].first;
  if (i < n && !groups[i].second) b.O = groups[i++].first;
  if (i < n && groups[i].second) b.R = groups[i++].first;
  if (i < n && !groups[i].second) b.I = groups[i++].first;
  if (i == n) return b;
  // Reduced dims are scattered: permute them innermost (one copy).
  std::vector<int64_t> sizes, strides;
  for (int pass = 0; pass < 2; ++pass)
    for (int64_t d = 0; d < x.dim(); ++d)
      if (plan.mask[d] == (pass == 1)) {
        sizes.push_back(x.size(d));
        strides.push_back(x.stride(d));
      }
  b.data = empty(sizes, x.dtype());
  kernels::copy_strided(b.data.data_ptr(), x.data_ptr(), x.element_size(), sizes, strides);
  b.P = 1;
  b.O = numel_of(plan.out_sizes);
  b.R = plan.count;
  b.I = 1;
  return b;
}

// A per-result tensor (shape plan.out_sizes) broadcast back to the input's sizes, as a
// new contiguous float tensor, times `scale`.
Tensor broadcast_back(const Tensor& g, const std::vector<bool>& mask, bool keepdim, IntArrayRef in_sizes,
                      float scale = 1.0f) {
  std::vector<int64_t> st(in_sizes.size());
  int64_t j = 0;
  for (size_t d = 0; d < in_sizes.size(); ++d) {
    if (mask[d]) {
      st[d] = 0;
      if (keepdim) ++j;
    } else {
      st[d] = g.stride(j++);
    }
  }
  Tensor out = empty(in_sizes, kFloat);
  kernels::copy_strided(out.data_ptr(), g.data_ptr(), sizeof(float), in_sizes, st);
  if (scale != 1.0f) kernels::scale(out.data_ptr<float>(), out.numel(), scale);
  return out;
}

void check_float(const Tensor& a, const char* msg) {
  CNNKIT_CHECK_TYPE(a.is_floating_point(), msg, " Got: ", a.dtype());
}

void check_nonempty_reduction(const Plan& p, const Tensor& x, const char* op) {
  if (p.count > 0 || numel_of(p.out_sizes) == 0) return;
  int64_t zero_dim = 0;
  for (int64_t d : p.dims)
    if (x.size(d) == 0) {
      zero_dim = d;
      break;
    }
  throw ShapeError(std::string(op) + ": Expected reduction dim " + std::to_string(zero_dim) +
                   " to have non-zero size (input sizes " + [&] {
                     std::ostringstream s;
                     s << x.sizes();
                     return s.str();
                   }() + ").");
}

ScalarType sum_type(ScalarType t) { return is_floating_point(t) ? kFloat : kLong; }

// Sum over the plan into a new tensor (no autograd).
Tensor sum_forward(const Tensor& x, const Plan& plan) {
  Block b = to_block(x, plan, /*allow_p=*/true);
  Tensor out = empty(plan.out_sizes, sum_type(x.dtype()));
  switch (x.dtype()) {
    case kFloat: kernels::sum(out.data_ptr<float>(), b.data.data_ptr<float>(), b.P, b.O, b.R, b.I); break;
    case kLong: kernels::sum(out.data_ptr<int64_t>(), b.data.data_ptr<int64_t>(), b.P, b.O, b.R, b.I); break;
    default:
      kernels::sum(out.data_ptr<int64_t>(), static_cast<const uint8_t*>(b.data.data_ptr()), b.P, b.O, b.R, b.I);
  }
  return out;
}

// Gradient of max/min/amax/amin (use_abs: of the inf-norms): split evenly among ties.
// nan_ties: max()/min() send the gradient to the NaNs (torch's evenly_distribute_backward);
// amax/amin do not, and a NaN result gets a NaN gradient over its slice (torch's
// scale_grad_by_count with an empty mask).
Tensor ties_grad(const Tensor& g, const Tensor& x, const Tensor& value, const Plan& plan, bool use_abs,
                 bool nan_ties = true) {
  Tensor vb = broadcast_back(value, plan.mask, plan.keepdim, x.sizes());
  Tensor mask = empty(x.sizes(), kFloat);
  kernels::ties_mask(mask.data_ptr<float>(), x.data_ptr<float>(), vb.data_ptr<float>(), x.numel(), use_abs,
                     nan_ties);
  Tensor count = sum_forward(mask, plan);
  Tensor cb = broadcast_back(count, plan.mask, plan.keepdim, x.sizes());
  Tensor gb = broadcast_back(g, plan.mask, plan.keepdim, x.sizes());
  Tensor dx = empty(x.sizes(), kFloat);
  kernels::ties_backward(dx.data_ptr<float>(), gb.data_ptr<float>(), x.data_ptr<float>(), vb.data_ptr<float>(),
                         cb.data_ptr<float>(), x.numel(), use_abs, nan_ties);
  return dx;
}

// (O, R, I) of a contiguous tensor around one dim (a 0-dim tensor is one element).
void around_dim(IntArrayRef sizes, int64_t d, int64_t& O, int64_t& R, int64_t& I) {
  O = R = I = 1;
  for (int64_t i = 0; i < static_cast<int64_t>(sizes.size()); ++i) {
    if (i < d) O *= sizes[i];
    else if (i == d) R = sizes[i];
    else I *= sizes[i];
  }
}

// Scatters g (shape of the result along `d`, K entries) back through int64 indices.
Tensor index_grad(const Tensor& g, const Tensor& idx, IntArrayRef in_sizes, int64_t d) {
  int64_t O, R, I;
  around_dim(in_sizes, d, O, R, I);
  const int64_t K = R == 0 ? 0 : idx.numel() / std::max<int64_t>(O * I, 1);
  Tensor dx = zeros_of(in_sizes);
  Tensor gc = as_contiguous(g);
  kernels::scatter_add_dim(dx.data_ptr<float>(), gc.data_ptr<float>(), idx.data_ptr<int64_t>(), O, R, K, I);
  return dx;
}

template <typename F>
void dispatch_value_type(ScalarType t, const char* op, F&& f) {
  switch (t) {
    case kFloat: f(float{}); break;
    case kLong: f(int64_t{}); break;
    case kByte:
    case kBool: f(uint8_t{}); break;
    default: CNNKIT_CHECK_TYPE(false, op, ": unsupported dtype ", t);
  }
}

}  // namespace

Tensor graph_detail::expand_back(const Tensor& g, const std::vector<bool>& mask, bool keepdim, IntArrayRef in_sizes) {
  if (keepdim || in_sizes.empty()) return g.expand(in_sizes);
  std::vector<int64_t> kept(in_sizes.begin(), in_sizes.end());
  for (size_t d = 0; d < kept.size(); ++d)
    if (mask[d]) kept[d] = 1;
  return g.reshape(kept).expand(in_sizes);
}

// ---- sum / mean -------------------------------------------------------------------------------
Tensor sum(const Tensor& a, IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype) {
  Tensor x = dtype ? convert_to(a, *dtype) : a;
  Plan plan = make_plan(x, dim, keepdim, "sum(): dim");
  Tensor out = sum_forward(x, plan);
  if (x.is_floating_point() && needs_grad({a}))
    record_differentiable("SumBackward", {a}, {out}, [plan, in = a.sizes().vec()](const TensorList& g) {
      if (GradMode::is_enabled()) return TensorList{expand_back(g[0], plan.mask, plan.keepdim, in)};
      return TensorList{broadcast_back(g[0], plan.mask, plan.keepdim, in)};
    });
  return out;
}
Tensor sum(const Tensor& a, std::optional<ScalarType> dtype) { return sum(a, IntArrayRef{}, false, dtype); }

Tensor mean(const Tensor& a, IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype) {
  Tensor x = dtype ? convert_to(a, *dtype) : a;
  CNNKIT_CHECK_TYPE(x.is_floating_point(), "mean(): could not infer output dtype. Input dtype must be either a "
                    "floating point or complex dtype. Got: ", x.dtype(), " (pass dtype=kFloat)");
  Plan plan = make_plan(x, dim, keepdim, "mean(): dim");
  Tensor out = sum_forward(x, plan);
  const float inv = 1.0f / static_cast<float>(plan.count);  // count 0 gives NaN, as PyTorch
  kernels::scale(out.data_ptr<float>(), out.numel(), inv);
  if (needs_grad({a}))
    record_differentiable("MeanBackward", {a}, {out}, [plan, inv, in = a.sizes().vec()](const TensorList& g) {
      if (GradMode::is_enabled())
        return TensorList{mul(expand_back(g[0], plan.mask, plan.keepdim, in), static_cast<double>(inv))};
      return TensorList{broadcast_back(g[0], plan.mask, plan.keepdim, in, inv)};
    });
  return out;
}
Tensor mean(const Tensor& a, std::optional<ScalarType> dtype) { return mean(a, IntArrayRef{}, false, dtype); }

// ---- prod -------------------------------------------------------------------------------------
Tensor prod(const Tensor& a) {
  Tensor x = as_contiguous(a);
  const int64_t n = x.numel();
  Tensor out = empty({}, sum_type(x.dtype()));
  switch (x.dtype()) {
    case kFloat: kernels::prod(out.data_ptr<float>(), x.data_ptr<float>(), 1, n, 1); break;
    case kLong: kernels::prod(out.data_ptr<int64_t>(), x.data_ptr<int64_t>(), 1, n, 1); break;
    default: kernels::prod(out.data_ptr<int64_t>(), static_cast<const uint8_t*>(x.data_ptr()), 1, n, 1);
  }
  if (needs_grad({a}))
    record("ProdBackward", {a}, {out}, [xd = x.detach(), n](const TensorList& g) {
      Tensor dx = empty(xd.sizes(), kFloat);
      kernels::prod_backward(dx.data_ptr<float>(), g[0].item<float>(), xd.data_ptr<float>(), n);
      return TensorList{dx};
    });
  return out;
}

// ---- max / min --------------------------------------------------------------------------------
namespace {
Tensor extreme_all(const Tensor& a, bool is_max) {
  const char* op = is_max ? "max()" : "min()";
  CNNKIT_CHECK_SHAPE(a.numel() > 0, op, ": Expected reduction dim to be specified for input.numel() == 0. "
                     "Specify the reduction dim with the 'dim' argument.");
  Tensor x = as_contiguous(a);
  Tensor out = empty({}, x.dtype());
  dispatch_value_type(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    auto* o = static_cast<T*>(out.data_ptr());
    auto* in = static_cast<const T*>(x.data_ptr());
    if (is_max) kernels::amax(o, in, 1, x.numel(), 1);
    else kernels::amin(o, in, 1, x.numel(), 1);
  });
  if (needs_grad({a})) {
    Plan plan = make_plan(x, {}, false, op);
    record_differentiable(is_max ? "MaxBackward" : "MinBackward", {a}, {out},
           [plan, xd = x.detach(), od = out.detach()](const TensorList& g) {
             if (GradMode::is_enabled())  // linear in g: g times the (constant) share of each tie
               return TensorList{mul(expand_back(g[0], plan.mask, plan.keepdim, xd.sizes()),
                                     ties_grad(ones_like(od), xd, od, plan, false))};
             return TensorList{ties_grad(g[0], xd, od, plan, false)};
           });
  }
  return out;
}

std::tuple<Tensor, Tensor> extreme_dim(const Tensor& a, int64_t dim, bool keepdim, bool is_max) {
  const char* op = is_max ? "max()" : "min()";
  Plan plan = single_dim_plan(a, dim, keepdim, op);
  check_nonempty_reduction(plan, a, op);
  const int64_t d = a.dim() == 0 ? 0 : detail::wrap_dim(dim, a.dim());
  Tensor x = as_contiguous(a);
  int64_t O, R, I;
  around_dim(x.sizes(), d, O, R, I);
  Tensor values = empty(plan.out_sizes, x.dtype());
  Tensor indices = empty(plan.out_sizes, kLong);
  if (O * I > 0 && R > 0) {
    dispatch_value_type(x.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      auto* v = static_cast<T*>(values.data_ptr());
      auto* in = static_cast<const T*>(x.data_ptr());
      if (is_max) kernels::max_with_index(v, indices.data_ptr<int64_t>(), in, O, R, I);
      else kernels::min_with_index(v, indices.data_ptr<int64_t>(), in, O, R, I);
    });
  }
  if (needs_grad({a}))
    record_differentiable(is_max ? "MaxBackward" : "MinBackward", {a}, {values, indices},
           [in = a.sizes().vec(), idx = indices.detach(), d, keepdim](const TensorList& g) {
             if (GradMode::is_enabled()) {
               if (in.empty()) return TensorList{g[0].reshape(in)};
               const Tensor i = keepdim ? idx : idx.unsqueeze(d);
               const Tensor gk = keepdim ? g[0] : g[0].unsqueeze(d);
               return TensorList{graph_detail::scatter_add_zeros(in, d, i, gk)};
             }
             return TensorList{index_grad(g[0], idx, in, d)};
           });
  return {values, indices};
}

Tensor extreme_dims(const Tensor& a, IntArrayRef dim, bool keepdim, bool is_max) {
  const char* op = is_max ? "amax()" : "amin()";
  Plan plan = make_plan(a, dim, keepdim, op);
  check_nonempty_reduction(plan, a, op);
  Block b = to_block(a, plan, /*allow_p=*/false);
  Tensor out = empty(plan.out_sizes, a.dtype());
  if (b.O * b.I > 0) {
    dispatch_value_type(a.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      auto* o = static_cast<T*>(out.data_ptr());
      auto* in = static_cast<const T*>(b.data.data_ptr());
      if (is_max) kernels::amax(o, in, b.O, b.R, b.I);
      else kernels::amin(o, in, b.O, b.R, b.I);
    });
  }
  if (needs_grad({a}))
    record_differentiable(is_max ? "AmaxBackward" : "AminBackward", {a}, {out},
           [plan, xd = as_contiguous(a).detach(), od = out.detach()](const TensorList& g) {
             if (GradMode::is_enabled())
               return TensorList{mul(expand_back(g[0], plan.mask, plan.keepdim, xd.sizes()),
                                     ties_grad(ones_like(od), xd, od, plan, false, /*nan_ties=*/false))};
             return TensorList{ties_grad(g[0], xd, od, plan, false, /*nan_ties=*/false)};
           });
  return out;
}

Tensor arg_extreme(const Tensor& a, std::optional<int64_t> dim, bool keepdim, bool is_max) {
  const char* op = is_max ? "argmax()" : "argmin()";
  Tensor x = as_contiguous(a);
  int64_t O = 1, R = x.numel(), I = 1;
  std::vector<int64_t> out_sizes;
  if (dim) {
    Plan plan = single_dim_plan(x, *dim, keepdim, op);
    check_nonempty_reduction(plan, x, op);
    around_dim(x.sizes(), x.dim() == 0 ? 0 : detail::wrap_dim(*dim, x.dim()), O, R, I);
    out_sizes = plan.out_sizes;
  } else {
    CNNKIT_CHECK_SHAPE(x.numel() > 0, op, ": Expected reduction dim to be specified for input.numel() == 0.");
    if (keepdim) out_sizes.assign(static_cast<size_t>(x.dim()), 1);
  }
  Tensor out = empty(out_sizes, kLong);
  if (O * I > 0 && R > 0) {
    dispatch_value_type(x.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      auto* in = static_cast<const T*>(x.data_ptr());
      if (is_max) kernels::max_with_index(static_cast<T*>(nullptr), out.data_ptr<int64_t>(), in, O, R, I);
      else kernels::min_with_index(static_cast<T*>(nullptr), out.data_ptr<int64_t>(), in, O, R, I);
    });
  }
  return out;
}
}  // namespace

Tensor max(const Tensor& a) { return extreme_all(a, true); }
Tensor min(const Tensor& a) { return extreme_all(a, false); }
std::tuple<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim) { return extreme_dim(a, dim, keepdim, true); }
std::tuple<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim) { return extreme_dim(a, dim, keepdim, false); }
Tensor amax(const Tensor& a, IntArrayRef dim, bool keepdim) { return extreme_dims(a, dim, keepdim, true); }
Tensor amin(const Tensor& a, IntArrayRef dim, bool keepdim) { return extreme_dims(a, dim, keepdim, false); }
Tensor argmax(const Tensor& a, std::optional<int64_t> dim, bool keepdim) { return arg_extreme(a, dim, keepdim, true); }
Tensor argmin(const Tensor& a, std::optional<int64_t> dim, bool keepdim) { return arg_extreme(a, dim, keepdim, false); }

// ---- var / std --------------------------------------------------------------------------------
namespace {
// Returns (var, mean) over the plan, both shaped plan.out_sizes.
std::tuple<Tensor, Tensor> var_mean_forward(const Tensor& a, const Plan& plan, int64_t correction) {
  Block b = to_block(a, plan, /*allow_p=*/false);
  Tensor var = empty(plan.out_sizes, kFloat), mean = empty(plan.out_sizes, kFloat);
  if (b.O * b.I > 0)
    kernels::var_mean(var.data_ptr<float>(), mean.data_ptr<float>(), b.data.data_ptr<float>(), b.O, b.R, b.I,
                      correction);
  return {var, mean};
}
constexpr const char* kVarTypeMsg = "std and var only support floating point and complex dtypes.";
}  // namespace

Tensor var(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim) {
  check_float(a, kVarTypeMsg);
  Plan plan = make_plan(a, dim, keepdim, "var(): dim");
  const int64_t c = unbiased ? 1 : 0;
  auto [v, m] = var_mean_forward(a, plan, c);
  if (needs_grad({a}))
    record_differentiable("VarBackward", {a}, {v}, [plan, c, xd = as_contiguous(a).detach(), md = m,
                                                 xs = save_input(a)](const TensorList& g) {
      if (GradMode::is_enabled()) {  // 2 (x - mean) / (n - c) * g
        const Tensor centered = sub(xs, mean(xs, plan.dims, /*keepdim=*/true));
        return TensorList{mul(mul(expand_back(g[0], plan.mask, plan.keepdim, xs.sizes()), centered),
                              2.0 / static_cast<double>(plan.count - c))};
      }
      Tensor gb = broadcast_back(g[0], plan.mask, plan.keepdim, xd.sizes());
      Tensor mb = broadcast_back(md, plan.mask, plan.keepdim, xd.sizes());
      Tensor dx = empty(xd.sizes(), kFloat);
      kernels::var_backward(dx.data_ptr<float>(), gb.data_ptr<float>(), xd.data_ptr<float>(), mb.data_ptr<float>(),
                            xd.numel(), 2.0 / static_cast<double>(plan.count - c));
      return TensorList{dx};
    });
  return v;
}
Tensor var(const Tensor& a, bool unbiased) { return var(a, IntArrayRef{}, unbiased, false); }
Tensor var(const Tensor& a, int dim) { return var(a, IntArrayRef{static_cast<int64_t>(dim)}); }

Tensor std(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim) {
  check_float(a, kVarTypeMsg);
  Plan plan = make_plan(a, dim, keepdim, "std(): dim");
  const int64_t c = unbiased ? 1 : 0;
  auto [v, m] = var_mean_forward(a, plan, c);
  float* vp = v.data_ptr<float>();
  for (int64_t i = 0; i < v.numel(); ++i) vp[i] = std::sqrt(vp[i]);
  if (needs_grad({a}))
    record_differentiable("StdBackward", {a}, {v},
           [plan, c, xd = as_contiguous(a).detach(), md = m, sd = v.detach(), xs = save_input(a)](const TensorList& g) {
             if (GradMode::is_enabled()) {  // (x - mean) / ((n - c) std) * g
               const Tensor centered = sub(xs, mean(xs, plan.dims, /*keepdim=*/true));
               const Tensor sb = expand_back(saved_output(sd), plan.mask, plan.keepdim, xs.sizes());
               return TensorList{div(mul(expand_back(g[0], plan.mask, plan.keepdim, xs.sizes()), centered),
                                     mul(sb, static_cast<double>(plan.count - c)))};
             }
             Tensor gb = broadcast_back(g[0], plan.mask, plan.keepdim, xd.sizes());
             Tensor mb = broadcast_back(md, plan.mask, plan.keepdim, xd.sizes());
             Tensor sb = broadcast_back(sd, plan.mask, plan.keepdim, xd.sizes());
             Tensor dx = empty(xd.sizes(), kFloat);
             kernels::std_backward(dx.data_ptr<float>(), gb.data_ptr<float>(), xd.data_ptr<float>(),
                                   mb.data_ptr<float>(), sb.data_ptr<float>(), xd.numel(),
                                   static_cast<double>(plan.count - c));
             return TensorList{dx};
           });
  return v;
}
Tensor std(const Tensor& a, bool unbiased) { return cnnkit::std(a, IntArrayRef{}, unbiased, false); }
Tensor std(const Tensor& a, int dim) { return cnnkit::std(a, IntArrayRef{static_cast<int64_t>(dim)}); }

std::tuple<Tensor, Tensor> var_mean(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim) {
  check_float(a, kVarTypeMsg);
  Plan plan = make_plan(a, dim, keepdim, "var_mean(): dim");
  const int64_t c = unbiased ? 1 : 0;
  auto [v, m] = var_mean_forward(a, plan, c);
  if (needs_grad({a}))
    record_differentiable("VarMeanBackward", {a}, {v, m}, [plan, c, xd = as_contiguous(a).detach(), md = m.detach(),
                                                      xs = save_input(a)](const TensorList& g) {
      if (GradMode::is_enabled()) {
        const Tensor centered = sub(xs, mean(xs, plan.dims, /*keepdim=*/true));
        Tensor gv = mul(mul(expand_back(g[0], plan.mask, plan.keepdim, xs.sizes()), centered),
                        2.0 / static_cast<double>(plan.count - c));
        Tensor gm = mul(expand_back(g[1], plan.mask, plan.keepdim, xs.sizes()), 1.0 / static_cast<double>(plan.count));
        return TensorList{add(gv, gm)};
      }
      Tensor gb = broadcast_back(g[0], plan.mask, plan.keepdim, xd.sizes());
      Tensor mb = broadcast_back(md, plan.mask, plan.keepdim, xd.sizes());
      Tensor dx = empty(xd.sizes(), kFloat);
      kernels::var_backward(dx.data_ptr<float>(), gb.data_ptr<float>(), xd.data_ptr<float>(), mb.data_ptr<float>(),
                            xd.numel(), 2.0 / static_cast<double>(plan.count - c));
      Tensor gm = broadcast_back(g[1], plan.mask, plan.keepdim, xd.sizes(), 1.0f / static_cast<float>(plan.count));
      kernels::add_inplace(dx.data_ptr<float>(), gm.data_ptr<float>(), dx.numel());
      return TensorList{dx};
    });
  return {v, m};
}
std::tuple<Tensor, Tensor> var_mean(const Tensor& a, int dim) {
  return var_mean(a, IntArrayRef{static_cast<int64_t>(dim)});
}

// ---- norm -------------------------------------------------------------------------------------
Tensor norm(const Tensor& a, double p, IntArrayRef dim, bool keepdim) {
  CNNKIT_CHECK_TYPE(a.is_floating_point(), "norm(): input dtype should be either floating point or complex. Got ",
                    a.dtype(), " instead.");
  Plan plan = make_plan(a, dim, keepdim, "norm(): dim");
  if (std::isinf(p)) check_nonempty_reduction(plan, a, "norm()");
  Block b = to_block(a, plan, /*allow_p=*/false);
  Tensor out = empty(plan.out_sizes, kFloat);
  if (b.O * b.I > 0) kernels::norm(out.data_ptr<float>(), b.data.data_ptr<float>(), b.O, b.R, b.I, p);
  // p = 0 counts non-zeros: piecewise constant, so torch records a node that returns no gradient.
  if (needs_grad({a}))
    record_differentiable("NormBackward", {a}, {out}, [plan, p, xd = as_contiguous(a).detach(), od = out.detach(),
                                                   xs = save_input(a)](const TensorList& g) {
      if (p == 0) return TensorList{Tensor()};
      if (GradMode::is_enabled()) {
        const Tensor gb = expand_back(g[0], plan.mask, plan.keepdim, xs.sizes());
        if (std::isinf(p)) return TensorList{mul(gb, ties_grad(ones_like(od), xd, od, plan, /*use_abs=*/true))};
        if (p == 1) return TensorList{mul(gb, sign(xs))};
        // x |x|^(p-2) g / norm^(p-1), 0 where the norm is 0 (PyTorch's norm_backward)
        const Tensor nb = expand_back(saved_output(od), plan.mask, plan.keepdim, xs.sizes());
        const Tensor scaled = p == 2 ? div(gb, nb) : div(mul(gb, pow(abs(xs), p - 2)), pow(nb, p - 1));
        return TensorList{masked_fill(mul(xs, scaled), eq(nb.detach(), 0.0), 0.0)};
      }
      if (std::isinf(p)) return TensorList{ties_grad(g[0], xd, od, plan, /*use_abs=*/true)};
      Tensor gb = broadcast_back(g[0], plan.mask, plan.keepdim, xd.sizes());
      Tensor nb = broadcast_back(od, plan.mask, plan.keepdim, xd.sizes());
      Tensor dx = empty(xd.sizes(), kFloat);
      kernels::norm_backward(dx.data_ptr<float>(), gb.data_ptr<float>(), xd.data_ptr<float>(), nb.data_ptr<float>(),
                             xd.numel(), p);
      return TensorList{dx};
    });
  return out;
}
Tensor norm(const Tensor& a, double p) { return norm(a, p, IntArrayRef{}, false); }

// ---- logsumexp --------------------------------------------------------------------------------
Tensor logsumexp(const Tensor& a, IntArrayRef dim, bool keepdim) {
  Tensor x = convert_to(a, kFloat);
  Plan plan = make_plan(x, dim, keepdim, "logsumexp(): dim");
  Block b = to_block(x, plan, /*allow_p=*/false);
  Tensor out = empty(plan.out_sizes, kFloat);
  if (b.O * b.I > 0) kernels::logsumexp(out.data_ptr<float>(), b.data.data_ptr<float>(), b.O, b.R, b.I);
  if (needs_grad({a}))
    record_differentiable("LogsumexpBackward", {a}, {out}, [plan, xd = as_contiguous(x).detach(), od = out.detach(),
                                                        xs = save_input(x)](const TensorList& g) {
      if (GradMode::is_enabled()) {  // g exp(x - lse)
        const Tensor ob = expand_back(saved_output(od), plan.mask, plan.keepdim, xs.sizes());
        return TensorList{mul(expand_back(g[0], plan.mask, plan.keepdim, xs.sizes()), exp(sub(xs, ob)))};
      }
      Tensor gb = broadcast_back(g[0], plan.mask, plan.keepdim, xd.sizes());
      Tensor ob = broadcast_back(od, plan.mask, plan.keepdim, xd.sizes());
      Tensor dx = empty(xd.sizes(), kFloat);
      kernels::logsumexp_backward(dx.data_ptr<float>(), gb.data_ptr<float>(), xd.data_ptr<float>(),
                                  ob.data_ptr<float>(), xd.numel());
      return TensorList{dx};
    });
  return out;
}

// ---- all / any --------------------------------------------------------------------------------
namespace {
Tensor all_any(const Tensor& a, bool all) {
  Tensor x = as_contiguous(a);
  bool r = false;
  dispatch_value_type(x.dtype(), all ? "all()" : "any()", [&](auto tag) {
    using T = decltype(tag);
    auto* in = static_cast<const T*>(x.data_ptr());
    r = all ? kernels::all_nonzero(in, x.numel()) : kernels::any_nonzero(in, x.numel());
  });
  // PyTorch keeps uint8 for uint8 inputs and gives bool otherwise.
  Tensor out = empty({}, x.dtype() == kByte ? kByte : kBool);
  *static_cast<uint8_t*>(out.data_ptr()) = r ? 1 : 0;
  return out;
}
}  // namespace
Tensor all(const Tensor& a) { return all_any(a, true); }
Tensor any(const Tensor& a) { return all_any(a, false); }

// ---- topk / sort ------------------------------------------------------------------------------
namespace {
std::tuple<Tensor, Tensor> sort_like(const Tensor& a, int64_t dim, int64_t k, bool largest, bool topk,
                                     const char* op) {
  const int64_t d = a.dim() == 0 ? 0 : detail::wrap_dim(dim, a.dim(), op);
  if (a.dim() == 0) detail::wrap_dim(dim, 0, op);
  // uint8/bool sort as int64 and convert back.
  Tensor x = as_contiguous(a.is_floating_point() ? a : convert_to(a, kLong));
  int64_t O, R, I;
  around_dim(x.sizes(), d, O, R, I);
  if (topk) CNNKIT_CHECK_SHAPE(k >= 0 && k <= R, "topk(): selected index k out of range: k = ", k, " for a "
                               "dimension of size ", R);
  std::vector<int64_t> out_sizes = x.sizes().vec();
  if (x.dim() > 0) out_sizes[d] = k;
  Tensor values = empty(out_sizes, x.dtype()), indices = empty(out_sizes, kLong);
  if (O * I > 0 && k > 0) {
    if (x.dtype() == kFloat) {
      if (topk) kernels::topk(values.data_ptr<float>(), indices.data_ptr<int64_t>(), x.data_ptr<float>(), O, R, I, k, largest, true);
      else kernels::sort(values.data_ptr<float>(), indices.data_ptr<int64_t>(), x.data_ptr<float>(), O, R, I, largest);
    } else {
      if (topk) kernels::topk(values.data_ptr<int64_t>(), indices.data_ptr<int64_t>(), x.data_ptr<int64_t>(), O, R, I, k, largest, true);
      else kernels::sort(values.data_ptr<int64_t>(), indices.data_ptr<int64_t>(), x.data_ptr<int64_t>(), O, R, I, largest);
    }
  }
  if (!a.is_floating_point() && a.dtype() != kLong) values = convert_to(values, a.dtype());
  if (needs_grad({a}))
    record_differentiable(topk ? "TopkBackward" : "SortBackward", {a}, {values, indices},
           [in = a.sizes().vec(), idx = indices.detach(), d](const TensorList& g) {
             if (GradMode::is_enabled())  // keepdim-shaped indices: a recorded scatter
               return TensorList{in.empty() ? g[0].reshape(in) : graph_detail::scatter_add_zeros(in, d, idx, g[0])};
             return TensorList{index_grad(g[0], idx, in, d)};
           });
  return {values, indices};
}
}  // namespace

std::tuple<Tensor, Tensor> topk(const Tensor& a, int64_t k, int64_t dim, bool largest, bool sorted) {
  (void)sorted;  // results always come out sorted, which PyTorch allows for sorted=false
  return sort_like(a, dim, k, largest, true, "topk(): dim");
}
std::tuple<Tensor, Tensor> sort(const Tensor& a, int64_t dim, bool descending) {
  const int64_t n = a.dim() == 0 ? 1 : a.size(detail::wrap_dim(dim, a.dim(), "sort(): dim"));
  return sort_like(a, dim, n, descending, false, "sort(): dim");
}
Tensor argsort(const Tensor& a, int64_t dim, bool descending) { return std::get<1>(sort(a, dim, descending)); }

// ---- Tensor members ---------------------------------------------------------------------------
Tensor Tensor::sum(std::optional<ScalarType> dtype) const { return cnnkit::sum(*this, dtype); }
Tensor Tensor::sum(IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype) const {
  return cnnkit::sum(*this, dim, keepdim, dtype);
}
Tensor Tensor::mean(std::optional<ScalarType> dtype) const { return cnnkit::mean(*this, dtype); }
Tensor Tensor::mean(IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype) const {
  return cnnkit::mean(*this, dim, keepdim, dtype);
}
Tensor Tensor::prod() const { return cnnkit::prod(*this); }
Tensor Tensor::max() const { return cnnkit::max(*this); }
std::tuple<Tensor, Tensor> Tensor::max(int64_t dim, bool keepdim) const { return cnnkit::max(*this, dim, keepdim); }
Tensor Tensor::min() const { return cnnkit::min(*this); }
std::tuple<Tensor, Tensor> Tensor::min(int64_t dim, bool keepdim) const { return cnnkit::min(*this, dim, keepdim); }
Tensor Tensor::amax(IntArrayRef dim, bool keepdim) const { return cnnkit::amax(*this, dim, keepdim); }
Tensor Tensor::amin(IntArrayRef dim, bool keepdim) const { return cnnkit::amin(*this, dim, keepdim); }
Tensor Tensor::argmax(std::optional<int64_t> dim, bool keepdim) const { return cnnkit::argmax(*this, dim, keepdim); }
Tensor Tensor::argmin(std::optional<int64_t> dim, bool keepdim) const { return cnnkit::argmin(*this, dim, keepdim); }
Tensor Tensor::var(bool unbiased) const { return cnnkit::var(*this, unbiased); }
Tensor Tensor::var(int dim) const { return cnnkit::var(*this, dim); }
Tensor Tensor::var(IntArrayRef dim, bool unbiased, bool keepdim) const {
  return cnnkit::var(*this, dim, unbiased, keepdim);
}
Tensor Tensor::std(bool unbiased) const { return cnnkit::std(*this, unbiased); }
Tensor Tensor::std(int dim) const { return cnnkit::std(*this, dim); }
Tensor Tensor::std(IntArrayRef dim, bool unbiased, bool keepdim) const {
  return cnnkit::std(*this, dim, unbiased, keepdim);
}
Tensor Tensor::norm(double p) const { return cnnkit::norm(*this, p); }
Tensor Tensor::norm(double p, IntArrayRef dim, bool keepdim) const { return cnnkit::norm(*this, p, dim, keepdim); }
Tensor Tensor::logsumexp(IntArrayRef dim, bool keepdim) const { return cnnkit::logsumexp(*this, dim, keepdim); }
Tensor Tensor::all() const { return cnnkit::all(*this); }
Tensor Tensor::any() const { return cnnkit::any(*this); }
std::tuple<Tensor, Tensor> Tensor::topk(int64_t k, int64_t dim, bool largest, bool sorted) const {
  return cnnkit::topk(*this, k, dim, largest, sorted);
}
std::tuple<Tensor, Tensor> Tensor::sort(int64_t dim, bool descending) const {
  return cnnkit::sort(*this, dim, descending);
}

}  // namespace cnnkit
