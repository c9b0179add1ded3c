// softmax / log_softmax over any dim: softmax forward on oneDNN 2.6's softmax_v2 primitive
// (softmax_accurate), or, when the input holds NaN or Inf (which oneDNN turns into 0), a row
// loop with PyTorch's NaN rules; log_softmax forward and both backwards as row loops (see
// log_softmax_rows for why), side by side; the backward runs from the saved output, as
// PyTorch's does. The tensor is seen as a plain
// (O, R, I) block with the softmax axis in the middle and handed to one cached (O*I, R)
// primitive per shape (transposed around it when I > 1, see to_axis_last). Not here: the
// fused cross-entropy (see ops/loss).
#include "cnnkit/ops/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "autograd/record.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/reduce.h"
#include "cnnkit/core/threads.h"
#include "core/tensor_internal.h"
#include "kernels/copy.h"
#include "kernels/onednn.h"
#include "kernels/reduce.h"

namespace cnnkit {

namespace {

namespace od = kernels::onednn;
using dnnl::memory;

// O = product of dims before the axis, R = the axis, I = product of dims after it.
struct Extents {
  int64_t O = 1, R = 1, I = 1;
};

Extents extents(IntArrayRef sizes, int64_t d) {
  Extents e;
  for (int64_t i = 0; i < static_cast<int64_t>(sizes.size()); ++i) {
    if (i < d) e.O *= sizes[i];
    else if (i == d) e.R = sizes[i];
    else e.I *= sizes[i];
  }
  return e;
}

memory::desc block_desc(const Extents& e) {
  return memory::desc({e.O, e.R, e.I}, memory::data_type::f32, memory::format_tag::abc);
}

dnnl::algorithm alg_of(bool log) { return log ? dnnl::algorithm::softmax_log : dnnl::algorithm::softmax_accurate; }

// User-mode scratchpads from a per-thread buffer: a cached primitive may then run from
// several threads at once (oneDNN's library-owned scratchpad would be shared).
dnnl::primitive_attr scratch_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}
dnnl::memory scratch_for(const memory::desc& d) {
  thread_local std::vector<char> buffer;
  if (buffer.size() < d.get_size()) buffer.resize(d.get_size());
  return od::wrap(d, buffer.data());
}

struct CachedForward {
  dnnl::softmax_v2_forward prim;
  memory::desc scratch;
};

dnnl::softmax_v2_forward::primitive_desc forward_pd(const Extents& e, bool log) {
  const memory::desc md = block_desc(e);
  return dnnl::softmax_v2_forward::primitive_desc(
      dnnl::softmax_v2_forward::desc(dnnl::prop_kind::forward_training, alg_of(log), md, md, 1), scratch_attr(),
      od::engine());
}

// Raw forward: dst (O, R, I) <- softmax of src along R (dst may be src).
void softmax_forward(float* dst, const float* src, const Extents& e, bool log) {
  auto& c = od::cached<CachedForward>(od::Key("softmax_fwd") << int64_t{log} << e.O << e.R << e.I, [&] {
    auto pd = forward_pd(e, log);
    od::log_impl(log ? "log_softmax forward" : "softmax forward", pd.impl_info_str());
    return CachedForward{dnnl::softmax_v2_forward(pd), pd.scratchpad_desc()};
  });
  const memory::desc md = block_desc(e);
  c.prim.execute(od::stream(), {{DNNL_ARG_SRC, od::wrap(md, src)},
                                {DNNL_ARG_DST, od::wrap(md, dst)},
                                {DNNL_ARG_SCRATCHPAD, scratch_for(c.scratch)}});
  od::stream().wait();
}

// Rows of length R, axis innermost. log_softmax runs here rather than on oneDNN's
// softmax_log, whose JIT log misses by ~3e-6 near 0 (a log-probability even comes out
// positive); one std::log per row costs nothing next to the exps.
void log_softmax_rows(float* dst, const float* src, int64_t rows, int64_t R) {
  parallel_for(rows, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* x = src + r * R;
      float* y = dst + r * R;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < R; ++i) m = std::max(m, x[i]);
      double sum = 0;
      for (int64_t i = 0; i < R; ++i) sum += std::exp(static_cast<double>(x[i] - m));
      // (x - m) first: exact for values near the max, so large logits keep small outputs exact.
      const float log_sum = static_cast<float>(std::log(sum));
      for (int64_t i = 0; i < R; ++i) y[i] = (x[i] - m) - log_sum;
    }
  });
}

// softmax over rows as PyTorch's kernel computes it: max (NaN-propagating), exp(x - max),
// divided by the sum. Used when the input holds NaN or Inf, where oneDNN's softmax writes 0
// and PyTorch NaN: a row with a NaN, a +Inf or nothing but -Inf is NaN throughout (max - max
// is then NaN); a -Inf among finite values gives 0.
void softmax_rows(float* dst, const float* src, int64_t rows, int64_t R) {
  parallel_for(rows, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* x = src + r * R;
      float* y = dst + r * R;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < R && m == m; ++i) m = x[i] > m || x[i] != x[i] ? x[i] : m;
      double sum = 0;
      for (int64_t i = 0; i < R; ++i) sum += std::exp(static_cast<double>(x[i] - m));
      const double inv = 1.0 / sum;
      for (int64_t i = 0; i < R; ++i) y[i] = static_cast<float>(std::exp(static_cast<double>(x[i] - m)) * inv);
    }
  });
}

// Backward over rows, from the forward's output y: oneDNN 2.6 has no AVX2 kernel for
// softmax backward (it falls to `ref:any` there), so both run here.
//   softmax:     dx = y * (g - sum(g * y))
//   log_softmax: dx = g - exp(y) * sum(g)
void softmax_backward_rows(float* dx, const float* g, const float* y, int64_t rows, int64_t R, bool log) {
  parallel_for(rows, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* gr = g + r * R;
      const float* yr = y + r * R;
      float* d = dx + r * R;
      double acc = 0;
      if (log) {
        for (int64_t i = 0; i < R; ++i) acc += gr[i];
        const float s = static_cast<float>(acc);
        for (int64_t i = 0; i < R; ++i) d[i] = gr[i] - std::exp(yr[i]) * s;
      } else {
        for (int64_t i = 0; i < R; ++i) acc += static_cast<double>(gr[i]) * yr[i];
        const float s = static_cast<float>(acc);
        for (int64_t i = 0; i < R; ++i) d[i] = yr[i] * (gr[i] - s);
      }
    }
  });
}

Tensor contiguous_float(const Tensor& a) {
  if (a.is_contiguous()) return a;
  Tensor out = empty(a.sizes(), kFloat);
  kernels::copy_strided(out.data_ptr(), a.data_ptr(), sizeof(float), a.sizes(), a.strides());
  return out;
}

// (O, R, I) contiguous <-> (O, I, R) contiguous. oneDNN 2.6 only JIT-compiles softmax when the
// axis is innermost (an inner axis falls to `ref:any`), so for I > 1 the data is transposed
// around a (O*I, R) primitive with oneDNN's JIT reorders (cache-blocked, unlike a strided
// gather): two cheap passes instead of a reference kernel.
void to_axis_last(float* dst, const float* src, const Extents& e) {
  const memory::dims d{e.O, e.R, e.I};
  od::reorder(od::wrap(memory::desc(d, memory::data_type::f32, memory::format_tag::abc), src),
              od::wrap(memory::desc(d, memory::data_type::f32, memory::format_tag::acb), dst));
}
void from_axis_last(float* dst, const float* src, const Extents& e) {
  const memory::dims d{e.O, e.R, e.I};
  od::reorder(od::wrap(memory::desc(d, memory::data_type::f32, memory::format_tag::acb), src),
              od::wrap(memory::desc(d, memory::data_type::f32, memory::format_tag::abc), dst));
}

Tensor softmax_impl(const Tensor& x_in, int64_t dim, std::optional<ScalarType> dtype, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  Tensor x = x_in;
  if (dtype) {
    CNNKIT_CHECK_TYPE(is_floating_point(*dtype), op, ": dtype must be a floating point type, got ", *dtype);
    if (x.dtype() != kFloat) {  // an integer input: convert (no gradient flows to it)
      Tensor xc = empty(x.sizes(), x.dtype());
      kernels::copy_strided(xc.data_ptr(), x.data_ptr(), x.element_size(), x.sizes(), x.strides());
      x = empty(x.sizes(), kFloat);
      kernels::convert(x.data_ptr(), kFloat, xc.data_ptr(), xc.dtype(), xc.numel());
    }
  }
  CNNKIT_CHECK_TYPE(x.dtype() == kFloat, op, ": expected a float32 input, got ", x.dtype(),
                    " (pass dtype=kFloat to convert)");
  const int64_t d = detail::wrap_dim(dim, x.dim(), (std::string(op) + " dim").c_str());
  const Extents e = x.dim() == 0 ? Extents{} : extents(x.sizes(), d);
  const Extents flat{e.O * e.I, e.R, 1};  // the primitive's view: axis innermost
  Tensor out = empty(x.sizes(), kFloat);
  Tensor saved;  // the output in the primitive's layout, for backward
  if (out.numel() > 0 && e.R == 1) {
    // One element per row: exactly 1 (or 0), which oneDNN's approximate exp/log miss by ~1e-6.
    std::fill(out.data_ptr<float>(), out.data_ptr<float>() + out.numel(), log ? 0.0f : 1.0f);
    saved = out;
  } else if (out.numel() > 0) {
    Tensor src = contiguous_float(x);
    // One pass over the input picks the kernel: oneDNN's softmax is exact only on finite
    // values (see softmax_rows).
    const bool finite = log || kernels::all_finite(src.data_ptr<float>(), src.numel());
    auto forward = [&](float* dst, const float* src_rows) {
      if (log) log_softmax_rows(dst, src_rows, flat.O, flat.R);
      else if (finite) softmax_forward(dst, src_rows, flat, false);
      else softmax_rows(dst, src_rows, flat.O, flat.R);
    };
    if (e.I == 1) {
      forward(out.data_ptr<float>(), src.data_ptr<float>());
      saved = out;
    } else {
      saved = empty({flat.O, flat.R}, kFloat);
      to_axis_last(saved.data_ptr<float>(), src.data_ptr<float>(), e);
      forward(saved.data_ptr<float>(), saved.data_ptr<float>());  // in place
      from_axis_last(out.data_ptr<float>(), saved.data_ptr<float>(), e);
    }
  }
  if (autograd::needs_grad({x}))
    autograd::detail::record_differentiable(
        log ? "LogSoftmaxBackward" : "SoftmaxBackward", {x}, {out},
        [sd = saved.defined() ? saved.detach() : Tensor(), od = out.detach(), sizes = x.sizes().vec(), e, flat, log,
         d](const TensorList& g) {
                       if (autograd::GradMode::is_enabled() && e.R > 1 && od.numel() > 0) {
                         // y (g - sum(g y)) and g - exp(y) sum(g), from the output with this
                         // node as its grad_fn.
                         const Tensor y = autograd::detail::saved_output(od);
                         if (log) return TensorList{sub(g[0], mul(exp(y), sum(g[0], {d}, /*keepdim=*/true)))};
                         return TensorList{mul(y, sub(g[0], sum(mul(g[0], y), {d}, /*keepdim=*/true)))};
                       }
                       Tensor dx = empty(sizes, kFloat);
                       if (dx.numel() == 0) return TensorList{dx};
                       if (e.R == 1) {  // the output is constant: no gradient flows
                         std::fill(dx.data_ptr<float>(), dx.data_ptr<float>() + dx.numel(), 0.0f);
                         return TensorList{dx};
                       }
                       Tensor gc = contiguous_float(g[0]);
                       if (e.I == 1) {
                         softmax_backward_rows(dx.data_ptr<float>(), gc.data_ptr<float>(), sd.data_ptr<float>(),
                                               flat.O, flat.R, log);
                       } else {
                         Tensor gt = empty({flat.O, flat.R}, kFloat);
                         to_axis_last(gt.data_ptr<float>(), gc.data_ptr<float>(), e);
                         softmax_backward_rows(gt.data_ptr<float>(), gt.data_ptr<float>(), sd.data_ptr<float>(),
                                               flat.O, flat.R, log);  // in place
                         from_axis_last(dx.data_ptr<float>(), gt.data_ptr<float>(), e);
                       }
                       return TensorList{dx};
                     });
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim, std::optional<ScalarType> dtype) {
  return softmax_impl(x, dim, dtype, false);
}
Tensor log_softmax(const Tensor& x, int64_t dim, std::optional<ScalarType> dtype) {
  return softmax_impl(x, dim, dtype, true);
}

Tensor Tensor::softmax(int64_t dim, std::optional<ScalarType> dtype) const { return cnnkit::softmax(*this, dim, dtype); }
Tensor Tensor::log_softmax(int64_t dim, std::optional<ScalarType> dtype) const {
  return cnnkit::log_softmax(*this, dim, dtype);
}

}  // namespace cnnkit
