// Pooling ops: PyTorch's argument rules, output sizes and error messages, output allocation,
// and the autograd nodes, each backward right under its forward. The window arithmetic is in
// kernels/pool.cpp, which also chooses (once per shape) between its loops and oneDNN.
//
// N = batch, C = channels, H, W = height, width; inputs (N, C, H, W) or unbatched (C, H, W).
#include "cnnkit/ops/pool.h"

#include <array>

#include "cnnkit/autograd/grad_mode.h"
#include "autograd/record.h"
#include "cnnkit/autograd/node.h"
#include "ops/graph_internal.h"
#include "core/tensor_internal.h"
#include "kernels/copy.h"
#include "kernels/onednn.h"
#include "kernels/pool.h"

namespace cnnkit {

namespace {

using kernels::AvgOptions;
using kernels::PoolAlgo;
using kernels::PoolKind;
using kernels::Pool2dShape;

// The tensor itself when it is contiguous, else a contiguous copy (no autograd).
Tensor dense(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = empty(t.sizes(), t.dtype());
  kernels::copy_strided(out.data_ptr(), t.data_ptr(), t.element_size(), t.sizes(), t.strides());
  return out;
}

// A kept oneDNN layout of the input, if it has one (kernels/onednn.h).
kernels::onednn::LayoutPtr kept_layout(const Tensor& t) {
  return kernels::onednn::layout_of(*t.unsafeGetTensorImpl());
}
void attach(const Tensor& t, kernels::onednn::LayoutPtr layout) {
  if (layout) detail::set_layout(*t.unsafeGetTensorImpl()->storage, std::move(layout));
}
// A gradient's values for a oneDNN kernel: its kept layout, or its plain bytes (made dense
// into `holder`).
kernels::onednn::Operand grad_operand(const Tensor& g, Tensor& holder) {
  if (auto l = kept_layout(g)) return {nullptr, std::move(l)};
  holder = dense(g);
  return {holder.data_ptr<float>(), nullptr};
}

std::array<int64_t, 2> pair(IntArrayRef v) {
  return v.size() == 1 ? std::array<int64_t, 2>{v[0], v[0]} : std::array<int64_t, 2>{v[0], v[1]};
}

void check_input(const char* op, const Tensor& input) {
  CNNKIT_CHECK(input.defined(), op, ": input must be defined");
  CNNKIT_CHECK_SHAPE((input.dim() == 3 || input.dim() == 4) && input.size(-1) > 0 &&
                         input.size(-2) > 0 && input.size(-3) > 0,
                     op, ": expected 3D (C, H, W) or 4D (N, C, H, W) input with non-zero C, H, "
                     "W, got ", input.sizes());
  CNNKIT_CHECK_TYPE(input.dtype() == kFloat, op, ": expected a float32 input, got ",
                    input.dtype());
}

// The first output position along an axis whose window has no tap inside [0, in), or -1.
int64_t padding_only_window(int64_t out, int64_t k, int64_t stride, int64_t pad, int64_t dil,
                            int64_t in) {
  for (int64_t o = 0; o < out; ++o) {
    bool hit = false;
    for (int64_t t = 0; t < k && !hit; ++t) {
      const int64_t i = o * stride - pad + t * dil;
      hit = i >= 0 && i < in;
    }
    if (!hit) return o;
  }
  return -1;
}

// Validates a windowed pooling's arguments as PyTorch does and computes its shape.
Pool2dShape window_shape(const char* op, const Tensor& input, IntArrayRef kernel_size,
                         IntArrayRef stride, IntArrayRef padding, IntArrayRef dilation,
                         bool ceil_mode) {
  CNNKIT_CHECK(kernel_size.size() == 1 || kernel_size.size() == 2, op,
               ": kernel_size must either be a single int, or a tuple of two ints, got ",
               kernel_size);
  CNNKIT_CHECK(stride.size() <= 2, op,
               ": stride must either be omitted, a single int, or a tuple of two ints, got ",
               stride);
  CNNKIT_CHECK(padding.size() == 1 || padding.size() == 2, op,
               ": padding must either be a single int, or a tuple of two ints, got ", padding);
  CNNKIT_CHECK(dilation.size() == 1 || dilation.size() == 2, op,
               ": dilation must be either a single int, or a tuple of two ints, got ", dilation);
  check_input(op, input);
  const auto k = pair(kernel_size);
  const auto st = stride.empty() ? k : pair(stride);
  const auto pad = pair(padding), dil = pair(dilation);
  CNNKIT_CHECK(k[0] > 0 && k[1] > 0, op, ": kernel size should be greater than zero, but got kH: ",
               k[0], " kW: ", k[1]);
  CNNKIT_CHECK(st[0] > 0 && st[1] > 0, op, ": stride should be greater than zero, but got dH: ",
               st[0], " dW: ", st[1]);
  CNNKIT_CHECK(dil[0] > 0 && dil[1] > 0, op,
               ": dilation should be greater than zero, but got dilationH: ", dil[0],
               " dilationW: ", dil[1]);
  CNNKIT_CHECK(pad[0] >= 0 && pad[1] >= 0, op, ": pad must be non-negative, but got pad: [",
               pad[0], ", ", pad[1], "]");
  // PyTorch 1.13's rule (half the kernel, not of the dilated kernel).
  for (int i = 0; i < 2; ++i)
    CNNKIT_CHECK(pad[i] <= k[i] / 2, op, ": pad should be at most half of kernel size, but got "
                 "pad=", pad[i], " and kernel_size=", k[i]);
  Pool2dShape s;
  s.N = input.dim() == 4 ? input.size(0) : 1;
  s.C = input.size(-3);
  s.H = input.size(-2);
  s.W = input.size(-1);
  s.kH = k[0];
  s.kW = k[1];
  s.stride_h = st[0];
  s.stride_w = st[1];
  s.pad_h = pad[0];
  s.pad_w = pad[1];
  s.dil_h = dil[0];
  s.dil_w = dil[1];
  s.H_out = kernels::pool_output_size(s.H, s.kH, s.pad_h, s.stride_h, s.dil_h, ceil_mode);
  s.W_out = kernels::pool_output_size(s.W, s.kW, s.pad_w, s.stride_w, s.dil_w, ceil_mode);
  CNNKIT_CHECK_SHAPE(s.H_out >= 1 && s.W_out >= 1, op, ": given input size: (", s.C, "x", s.H,
                     "x", s.W, "). Calculated output size: (", s.C, "x", s.H_out, "x", s.W_out,
                     "). Output size is too small");
  // With dilation a window can fall entirely into the padding (e.g. H=1, k=2, d=2, pad=1);
  // PyTorch then returns an index outside the plane and its backward writes out of bounds.
  // Refuse instead.
  if (s.dil_h > 1 || s.dil_w > 1) {
    const int64_t eh = padding_only_window(s.H_out, s.kH, s.stride_h, s.pad_h, s.dil_h, s.H);
    const int64_t ew = padding_only_window(s.W_out, s.kW, s.stride_w, s.pad_w, s.dil_w, s.W);
    CNNKIT_CHECK(eh < 0 && ew < 0, op, ": the pooling window at output ", eh >= 0 ? "row " : "column ",
                 eh >= 0 ? eh : ew, " covers only padding (input ", s.H, "x", s.W, ", kernel ", s.kH,
                 "x", s.kW, ", dilation ", s.dil_h, "x", s.dil_w, ", padding ", s.pad_h, "x", s.pad_w,
                 "); use less padding or dilation");
  }
  return s;
}

Pool2dShape adaptive_shape(const char* op, const Tensor& input, IntArrayRef output_size) {
  CNNKIT_CHECK(output_size.size() == 1 || output_size.size() == 2, op,
               ": output_size must either be a single int, or a tuple of two ints, got ",
               output_size);
  check_input(op, input);
  const auto o = pair(output_size);
  CNNKIT_CHECK(o[0] >= 0 && o[1] >= 0, op, ": output_size must be non-negative, got [", o[0],
               ", ", o[1], "]");
  Pool2dShape s;
  s.N = input.dim() == 4 ? input.size(0) : 1;
  s.C = input.size(-3);
  s.H = input.size(-2);
  s.W = input.size(-1);
  s.H_out = o[0];
  s.W_out = o[1];
  return s;
}

// (N, C, H_out, W_out), or (C, H_out, W_out) for an unbatched input.
Tensor new_output(const Tensor& input, const Pool2dShape& s, ScalarType dtype = kFloat) {
  return input.dim() == 4 ? empty({s.N, s.C, s.H_out, s.W_out}, dtype)
                          : empty({s.C, s.H_out, s.W_out}, dtype);
}
// The same for a oneDNN kernel, which may keep its result in its own layout: plain bytes are
// allocated only if it writes them.
Tensor new_deferred_output(const Tensor& input, const Pool2dShape& s) {
  return input.dim() == 4 ? detail::empty_deferred({s.N, s.C, s.H_out, s.W_out})
                          : detail::empty_deferred({s.C, s.H_out, s.W_out});
}
using kernels::onednn::plain_out;

// The gradient of a max pooling whose maxima sit at `indices` (flat within each H x W plane).
// With grad mode on (a create_graph backward) it is recorded as a function of g, whose own
// backward gathers the incoming gradient at the same positions.
Tensor max_pool_grad(const Tensor& g, const Tensor& indices, const Pool2dShape& s, IntArrayRef in_sizes) {
  const Tensor gy = dense(g);
  Tensor gx = cnnkit::empty(in_sizes);
  kernels::max_pool2d_backward(gx.data_ptr<float>(), gy.data_ptr<float>(), indices.data_ptr<int64_t>(), s.N * s.C,
                               s.H * s.W, s.H_out * s.W_out);
  if (!autograd::GradMode::is_enabled()) return gx;
  return graph_detail::linear_in_grad("MaxPool2DWithIndicesBackwardBackward0", g, gx,
                                      [s, ix = indices, g_sizes = g.sizes().vec()](const Tensor& gg) {
                                        return gg.reshape({s.N * s.C, s.H * s.W})
                                            .gather(1, ix.reshape({s.N * s.C, s.H_out * s.W_out}))
                                            .reshape(g_sizes);
                                      });
}

// Backward of every pooling that knows where its maxima came from.
void record_max_backward(const char* name, const Tensor& input, const Tensor& out,
                         const Pool2dShape& s, const Tensor& indices) {
  autograd::detail::record_differentiable(name, {input}, {out},
                   [s, in_sizes = input.sizes().vec(), ix = indices.detach()](const TensorList& g) {
                     return TensorList{max_pool_grad(g[0], ix, s, in_sizes)};
                   });
}

}  // namespace

std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, IntArrayRef kernel_size,
                                                   IntArrayRef stride, IntArrayRef padding,
                                                   IntArrayRef dilation, bool ceil_mode) {
  const Pool2dShape s =
      window_shape("max_pool2d_with_indices", input, kernel_size, stride, padding, dilation, ceil_mode);
  const Tensor x = dense(input);
  Tensor out = new_output(input, s), indices = new_output(input, s, kLong);
  kernels::max_pool2d_forward(out.data_ptr<float>(), indices.data_ptr<int64_t>(),
                              x.data_ptr<float>(), s);
  if (autograd::needs_grad({input}))
    record_max_backward("MaxPool2DWithIndicesBackward0", input, out, s, indices);
  return {out, indices};
}

// oneDNN's pooling runs only on inputs that hold a kept oneDNN layout (pool2d_plan), pooled
// in that layout with the result and the gradient kept in oneDNN's layout too.
Tensor max_pool2d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride,
                  IntArrayRef padding, IntArrayRef dilation, bool ceil_mode) {
  const Pool2dShape s =
      window_shape("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode);
  const bool record = autograd::needs_grad({input});
  kernels::onednn::LayoutPtr in_layout = kept_layout(input);
  const PoolAlgo algo = kernels::pool2d_plan(s, PoolKind::max, {}, /*need_indices=*/false,
                                             in_layout != nullptr);
  if (algo == PoolAlgo::onednn) {
    Tensor out = new_deferred_output(input, s);
    std::shared_ptr<kernels::Pool2dSaved> saved;
    kernels::onednn::LayoutPtr out_layout;
    const kernels::onednn::Operand x_op{nullptr, in_layout};  // the plan chose oneDNN for it
    kernels::pool2d_forward_onednn(plain_out(out), &out_layout, x_op, s, PoolKind::max,
                                   {}, record ? &saved : nullptr);
    attach(out, std::move(out_layout));
    if (record)
      autograd::detail::record_differentiable("MaxPool2DBackward0", {input}, {out},
                       [s, saved, in_sizes = input.sizes().vec()](const TensorList& g) {
                         if (autograd::GradMode::is_enabled()) {
                           // The positions, from the tap numbers the forward kept (not the
                           // input: keeping it would cost training memory for every pool).
                           Tensor ix = cnnkit::empty({s.N, s.C, s.H_out, s.W_out}, kLong);
                           CNNKIT_CHECK_T(NotImplementedError,
                                          saved && kernels::max_pool2d_saved_indices(ix.data_ptr<int64_t>(), s, *saved),
                                          "double backward of max_pool2d: this pooling ran on oneDNN's own kernel, "
                                          "which keeps no positions of its maxima");
                           return TensorList{max_pool_grad(g[0], ix, s, in_sizes)};
                         }
                         Tensor gy;
                         const kernels::onednn::Operand gy_op = grad_operand(g[0], gy);
                         Tensor gx = detail::empty_deferred(in_sizes);
                         kernels::onednn::LayoutPtr gx_layout;
                         kernels::pool2d_backward_onednn(plain_out(gx), &gx_layout, gy_op,
                                                         s, PoolKind::max, {}, saved.get());
                         attach(gx, std::move(gx_layout));
                         return TensorList{gx};
                       });
    return out;
  }
  Tensor out = new_output(input, s);
  const Tensor x = dense(input);
  // The loops find the maxima's positions only when a backward will need them.
  Tensor indices = record ? new_output(input, s, kLong) : Tensor();
  kernels::max_pool2d_forward(out.data_ptr<float>(), record ? indices.data_ptr<int64_t>() : nullptr,
                              x.data_ptr<float>(), s);
  if (record) record_max_backward("MaxPool2DBackward0", input, out, s, indices);
  return out;
}

Tensor avg_pool2d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride,
                  IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override) {
  CNNKIT_CHECK(!divisor_override || *divisor_override != 0,
               "avg_pool2d: divisor must be not zero");
  const Pool2dShape s = window_shape("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode);
  const AvgOptions avg{count_include_pad, divisor_override.value_or(0)};
  const bool record = autograd::needs_grad({input});
  kernels::onednn::LayoutPtr in_layout = kept_layout(input);
  const PoolAlgo algo = kernels::pool2d_plan(s, PoolKind::avg, avg, false, in_layout != nullptr);
  Tensor out = algo == PoolAlgo::onednn ? new_deferred_output(input, s) : new_output(input, s);
  std::shared_ptr<kernels::Pool2dSaved> saved;
  if (algo == PoolAlgo::onednn) {
    kernels::onednn::LayoutPtr out_layout;
    const kernels::onednn::Operand x_op{nullptr, in_layout};  // the plan chose oneDNN for it
    kernels::pool2d_forward_onednn(plain_out(out), &out_layout, x_op, s, PoolKind::avg,
                                   avg, record ? &saved : nullptr);
    attach(out, std::move(out_layout));
  } else {
    const Tensor x = dense(input);
    kernels::avg_pool2d_forward(out.data_ptr<float>(), x.data_ptr<float>(), s, avg);
  }
  if (record)
    autograd::detail::record_differentiable("AvgPool2DBackward0", {input}, {out},
                     [s, avg, algo, saved, in_sizes = input.sizes().vec(), kernel_size = kernel_size.vec(),
                      stride = stride.vec(), padding = padding.vec(), ceil_mode, count_include_pad,
                      divisor_override](const TensorList& g) {
                       if (autograd::GradMode::is_enabled()) {
                         // Linear in g; the adjoint of this backward is the pooling itself.
                         const Tensor gy = dense(g[0]);
                         Tensor gx = cnnkit::empty(in_sizes);
                         kernels::avg_pool2d_backward(gx.data_ptr<float>(), gy.data_ptr<float>(), s, avg);
                         return TensorList{graph_detail::linear_in_grad(
                             "AvgPool2DBackwardBackward0", g[0], gx, [=](const Tensor& gg) {
                               return avg_pool2d(gg, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                                 divisor_override);
                             })};
                       }
                       Tensor gx = algo == PoolAlgo::onednn ? detail::empty_deferred(in_sizes)
                                                            : cnnkit::empty(in_sizes);
                       if (algo == PoolAlgo::onednn) {
                         Tensor gy;
                         const kernels::onednn::Operand gy_op = grad_operand(g[0], gy);
                         kernels::onednn::LayoutPtr gx_layout;
                         kernels::pool2d_backward_onednn(plain_out(gx), &gx_layout, gy_op,
                                                         s, PoolKind::avg, avg, saved.get());
                         attach(gx, std::move(gx_layout));
                       } else {
                         const Tensor gy = dense(g[0]);
                         kernels::avg_pool2d_backward(gx.data_ptr<float>(), gy.data_ptr<float>(),
                                                      s, avg);
                       }
                       return TensorList{gx};
                     });
  return out;
}

Tensor adaptive_avg_pool2d(const Tensor& input, IntArrayRef output_size) {
  const Pool2dShape s = adaptive_shape("adaptive_avg_pool2d", input, output_size);
  const Tensor x = dense(input);
  Tensor out = new_output(input, s);
  kernels::adaptive_avg_pool2d_forward(out.data_ptr<float>(), x.data_ptr<float>(), s);
  if (autograd::needs_grad({input}))
    autograd::detail::record_differentiable("AdaptiveAvgPool2DBackward0", {input}, {out},
                     [s, in_sizes = input.sizes().vec(), output_size = output_size.vec()](const TensorList& g) {
                       const Tensor gy = dense(g[0]);
                       Tensor gx = cnnkit::empty(in_sizes);
                       kernels::adaptive_avg_pool2d_backward(gx.data_ptr<float>(),
                                                             gy.data_ptr<float>(), s);
                       if (autograd::GradMode::is_enabled())  // linear in g; its adjoint is the pooling
                         return TensorList{graph_detail::linear_in_grad(
                             "AdaptiveAvgPool2DBackwardBackward0", g[0], gx,
                             [output_size](const Tensor& gg) { return adaptive_avg_pool2d(gg, output_size); })};
                       return TensorList{gx};
                     });
  return out;
}

std::tuple<Tensor, Tensor> adaptive_max_pool2d(const Tensor& input, IntArrayRef output_size) {
  const Pool2dShape s = adaptive_shape("adaptive_max_pool2d", input, output_size);
  const Tensor x = dense(input);
  Tensor out = new_output(input, s), indices = new_output(input, s, kLong);
  kernels::adaptive_max_pool2d_forward(out.data_ptr<float>(), indices.data_ptr<int64_t>(),
                                       x.data_ptr<float>(), s);
  if (autograd::needs_grad({input}))
    record_max_backward("AdaptiveMaxPool2DBackward0", input, out, s, indices);
  return {out, indices};
}

// ---- 1-d pooling --------------------------------------------------------------------------------
//
// The 2-d pools of a height-1 image ((N, C, L) -> (N, C, 1, L)), so forward, backward and the
// kept layouts are theirs. The arguments are checked here first, with PyTorch's 1-d messages.
namespace {
struct Window1d {
  int64_t k, stride, pad, dil;
};

int64_t one_value(const char* op, IntArrayRef v, const char* name) {
  CNNKIT_CHECK(v.size() == 1, op, ": ", name, " must be a single int (or a list of one), got ", v);
  return v[0];
}

Window1d window_1d(const char* op, const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride,
                   IntArrayRef padding, IntArrayRef dilation, bool ceil_mode) {
  CNNKIT_CHECK(input.defined(), op, ": input must be defined");
  CNNKIT_CHECK_SHAPE((input.dim() == 2 || input.dim() == 3) && input.size(-1) > 0 && input.size(-2) > 0, op,
                     ": expected 2D (C, L) or 3D (N, C, L) input with non-zero C and L, got ", input.sizes());
  Window1d w{};
  w.k = one_value(op, kernel_size, "kernel_size");
  w.stride = stride.empty() ? w.k : one_value(op, stride, "stride");
  w.pad = one_value(op, padding, "padding");
  w.dil = one_value(op, dilation, "dilation");
  CNNKIT_CHECK(w.k > 0, op, ": kernel_size must be greater than zero, but got ", w.k);
  CNNKIT_CHECK(w.stride > 0, op, ": stride must be greater than zero, but got ", w.stride);
  CNNKIT_CHECK(w.pad >= 0, op, ": padding must be non-negative, but got ", w.pad);
  CNNKIT_CHECK(w.pad <= w.k / 2, op, ": padding should be at most half of kernel size, but got padding=", w.pad,
               " and kernel_size=", w.k);
  CNNKIT_CHECK(w.dil > 0, op, ": dilation must be greater than zero, but got ", w.dil);
  const int64_t out = kernels::pool_output_size(input.size(-1), w.k, w.pad, w.stride, w.dil, ceil_mode);
  CNNKIT_CHECK_SHAPE(out >= 1, op, ": given input length ", input.size(-1), " (kernel_size ", w.k, ", stride ",
                     w.stride, ", padding ", w.pad, ", dilation ", w.dil, "), the calculated output size is ", out,
                     ": too small");
  return w;
}

int64_t adaptive_1d(const char* op, const Tensor& input, IntArrayRef output_size) {
  CNNKIT_CHECK(input.defined(), op, ": input must be defined");
  CNNKIT_CHECK_SHAPE((input.dim() == 2 || input.dim() == 3) && input.size(-1) > 0 && input.size(-2) > 0, op,
                     ": expected 2D (C, L) or 3D (N, C, L) input with non-zero C and L, got ", input.sizes());
  const int64_t out = one_value(op, output_size, "output_size");
  CNNKIT_CHECK(out >= 0, op, ": output_size must be non-negative, got ", out);
  return out;
}
}  // namespace

std::tuple<Tensor, Tensor> max_pool1d_with_indices(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride,
                                                   IntArrayRef padding, IntArrayRef dilation, bool ceil_mode) {
  const Window1d w = window_1d("max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode);
  auto [out, indices] = max_pool2d_with_indices(input.unsqueeze(-2), {1, w.k}, {1, w.stride}, {0, w.pad},
                                                {1, w.dil}, ceil_mode);
  return {out.squeeze(-2), indices.squeeze(-2)};  // a flat h*L + l index with h = 0 is l
}

Tensor max_pool1d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride, IntArrayRef padding,
                  IntArrayRef dilation, bool ceil_mode) {
  const Window1d w = window_1d("max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode);
  return max_pool2d(input.unsqueeze(-2), {1, w.k}, {1, w.stride}, {0, w.pad}, {1, w.dil}, ceil_mode).squeeze(-2);
}

Tensor avg_pool1d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride, IntArrayRef padding,
                  bool ceil_mode, bool count_include_pad) {
  const Window1d w = window_1d("avg_pool1d", input, kernel_size, stride, padding, 1, ceil_mode);
  return avg_pool2d(input.unsqueeze(-2), {1, w.k}, {1, w.stride}, {0, w.pad}, ceil_mode, count_include_pad)
      .squeeze(-2);
}

Tensor adaptive_avg_pool1d(const Tensor& input, IntArrayRef output_size) {
  const int64_t out = adaptive_1d("adaptive_avg_pool1d", input, output_size);
  return adaptive_avg_pool2d(input.unsqueeze(-2), {1, out}).squeeze(-2);
}

std::tuple<Tensor, Tensor> adaptive_max_pool1d(const Tensor& input, IntArrayRef output_size) {
  const int64_t out = adaptive_1d("adaptive_max_pool1d", input, output_size);
  auto [values, indices] = adaptive_max_pool2d(input.unsqueeze(-2), {1, out});
  return {values.squeeze(-2), indices.squeeze(-2)};
}

}  // namespace cnnkit
