// conv2d: PyTorch's argument rules and error messages, output allocation, and the autograd
// node, with the backward right under the forward. The arithmetic is in kernels/conv.cpp,
// which also decides (once per shape) which algorithm runs each pass.
//
// N = batch, C = channels, H, W = height, width, G = groups.
#include "cnnkit/ops/conv.h"

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "autograd/record.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/ops/reduce.h"
#include "cnnkit/ops/activation.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/factory.h"
#include "cnnkit/ops/shape.h"
#include "core/tensor_internal.h"
#include "kernels/conv.h"
#include "kernels/copy.h"

namespace cnnkit {

namespace {

// stride=3 means {3, 3}; two values are (height, width).
std::array<int64_t, 2> pair_param(IntArrayRef v, const char* name) {
  CNNKIT_CHECK(v.size() == 1 || v.size() == 2, "conv2d: expected ", name,
               " to be a single integer value or a list of 2 values to match the convolution "
               "dimensions, but got ", name, "=", v);
  return v.size() == 1 ? std::array<int64_t, 2>{v[0], v[0]} : std::array<int64_t, 2>{v[0], v[1]};
}

// The tensor itself when it is contiguous, else a contiguous copy (no autograd).
Tensor dense(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = empty(t.sizes(), t.dtype());
  kernels::copy_strided(out.data_ptr(), t.data_ptr(), t.element_size(), t.sizes(), t.strides());
  return out;
}

const float* data_or_null(const Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

// A tensor's values for a oneDNN kernel: its kept oneDNN layout when it has one (nothing is
// converted), else its plain bytes, made dense into `holder` when it is a strided view.
kernels::onednn::Operand operand(const Tensor& t, Tensor& holder) {
  if (auto l = kernels::onednn::layout_of(*t.unsafeGetTensorImpl())) {
    holder = t;
    return {nullptr, std::move(l)};
  }
  holder = dense(t);
  return {holder.data_ptr<float>(), nullptr};
}

// Makes `layout` (if any) the truth for t's values: they are converted to plain bytes only
// when something reads them (Storage::data()).
void attach(const Tensor& t, kernels::onednn::LayoutPtr layout) {
  if (layout) detail::set_layout(*t.unsafeGetTensorImpl()->storage, std::move(layout));
}

// ---- double backward ------------------------------------------------------------------------
// A create_graph backward writes conv2d's gradients as two recorded ops, each linear in both
// of its operands, so a second backward differentiates them: the input gradient (backward-data
// of gy with weight w) and the weight gradient (backward-weights of input x and gy). Each one's
// own backward is the other two passes of the same convolution shape.

bool runs(const kernels::Conv2dShape& s) { return s.N > 0 && s.C_in > 0 && s.C_out > 0 && s.H_out > 0 && s.W_out > 0; }

// The shape without its bias: these passes never add one.
kernels::Conv2dShape without_bias(kernels::Conv2dShape s) {
  s.has_bias = false;
  return s;
}

// conv2d's input gradient: dX = backward_data(gy, w), shaped like the input.
Tensor conv2d_input_grad(const Tensor& gy, const Tensor& w, const kernels::Conv2dShape& shape,
                         const kernels::Conv2dPlan& plan, IntArrayRef in_sizes) {
  const kernels::Conv2dShape s = without_bias(shape);
  Tensor gx = cnnkit::zeros(in_sizes);
  const Tensor gyd = dense(gy), wd = dense(w);
  if (runs(s))
    kernels::conv2d_backward(gx.data_ptr<float>(), nullptr, nullptr, gyd.data_ptr<float>(), nullptr,
                             wd.data_ptr<float>(), s, plan.backward_data, plan.backward_weights, nullptr);
  if (autograd::needs_grad({gy, w})) {
    autograd::record("ConvolutionBackwardBackward0", {gy, w}, {gx},
                     [s, plan, gy_sizes = gy.sizes().vec(), w_sizes = w.sizes().vec(), gyd = gyd.detach(),
                      wd = wd.detach(), need_gy = gy.requires_grad(), need_w = w.requires_grad()](const TensorList& g) {
                       // d/dgy: the convolution of the incoming gradient; d/dw: the weight
                       // gradient of that gradient as the input, gy as the output gradient.
                       const Tensor gg = dense(g[0]);
                       Tensor d_gy = need_gy ? cnnkit::zeros(gy_sizes) : Tensor();
                       Tensor d_w = need_w ? cnnkit::zeros(w_sizes) : Tensor();
                       if (runs(s)) {
                         if (need_gy)
                           kernels::conv2d_forward(d_gy.data_ptr<float>(), gg.data_ptr<float>(), wd.data_ptr<float>(),
                                                   nullptr, s, plan.forward, /*training=*/false);
                         if (need_w)
                           kernels::conv2d_backward(nullptr, d_w.data_ptr<float>(), nullptr, gyd.data_ptr<float>(),
                                                    gg.data_ptr<float>(), nullptr, s, plan.backward_data,
                                                    plan.backward_weights, nullptr);
                       }
                       return TensorList{d_gy, d_w};
                     });
  }
  return gx;
}

// conv2d's weight gradient: dW = backward_weights(x, gy).
Tensor conv2d_weight_grad(const Tensor& x, const Tensor& gy, const kernels::Conv2dShape& shape,
                          const kernels::Conv2dPlan& plan) {
  const kernels::Conv2dShape s = without_bias(shape);
  Tensor gw = cnnkit::zeros({s.C_out, s.C_in / s.groups, s.kH, s.kW});
  const Tensor xd = dense(x), gyd = dense(gy);
  if (runs(s))
    kernels::conv2d_backward(nullptr, gw.data_ptr<float>(), nullptr, gyd.data_ptr<float>(), xd.data_ptr<float>(),
                             nullptr, s, plan.backward_data, plan.backward_weights, nullptr);
  if (autograd::needs_grad({x, gy})) {
    autograd::record("ConvolutionBackwardBackward0", {x, gy}, {gw},
                     [s, plan, x_sizes = x.sizes().vec(), gy_sizes = gy.sizes().vec(), xd = xd.detach(),
                      gyd = gyd.detach(), need_x = x.requires_grad(), need_gy = gy.requires_grad()](const TensorList& g) {
                       // d/dx: backward-data of gy with the incoming gradient as the weight;
                       // d/dgy: the convolution of x with it.
                       const Tensor gg = dense(g[0]);
                       Tensor d_x = need_x ? cnnkit::zeros(x_sizes) : Tensor();
                       Tensor d_gy = need_gy ? cnnkit::zeros(gy_sizes) : Tensor();
                       if (runs(s)) {
                         if (need_x)
                           kernels::conv2d_backward(d_x.data_ptr<float>(), nullptr, nullptr, gyd.data_ptr<float>(),
                                                    nullptr, gg.data_ptr<float>(), s, plan.backward_data,
                                                    plan.backward_weights, nullptr);
                         if (need_gy)
                           kernels::conv2d_forward(d_gy.data_ptr<float>(), xd.data_ptr<float>(), gg.data_ptr<float>(),
                                                   nullptr, s, plan.forward, /*training=*/false);
                       }
                       return TensorList{d_x, d_gy};
                     });
  }
  return gw;
}

}  // namespace

namespace {
// PyTorch's argument checks and messages, and the shape of the convolution they describe.
kernels::Conv2dShape conv_shape(const Tensor& input, const Tensor& weight, const Tensor& bias,
                                std::array<int64_t, 2> stride, std::array<int64_t, 2> pad_tl,
                                std::array<int64_t, 2> pad_br, std::array<int64_t, 2> dilation,
                                int64_t groups) {
  CNNKIT_CHECK(input.defined() && weight.defined(), "conv2d: input and weight must be defined");
  CNNKIT_CHECK_SHAPE(input.dim() == 3 || input.dim() == 4,
                     "conv2d: expected input with 4 dims (N, C, H, W) or 3 (C, H, W), got ",
                     input.dim(), " dims ", input.sizes());
  CNNKIT_CHECK_SHAPE(weight.dim() == 4,
                     "conv2d: expected weight with 4 dims (C_out, C_in/groups, kH, kW), got ",
                     weight.dim(), " dims ", weight.sizes());
  CNNKIT_CHECK_TYPE(input.dtype() == kFloat && weight.dtype() == kFloat &&
                        (!bias.defined() || bias.dtype() == kFloat),
                    "conv2d: expected float32 input, weight and bias, got input ", input.dtype(),
                    ", weight ", weight.dtype(), bias.defined() ? ", bias " : "",
                    bias.defined() ? dtype_name(bias.dtype()) : "");
  CNNKIT_CHECK(groups >= 1, "conv2d: non-positive groups is not supported, got groups=", groups);
  CNNKIT_CHECK(stride[0] >= 1 && stride[1] >= 1,
               "conv2d: non-positive stride is not supported, got stride=[", stride[0], ", ",
               stride[1], "]");
  CNNKIT_CHECK(dilation[0] >= 1 && dilation[1] >= 1,
               "conv2d: dilation should be greater than zero, but got [", dilation[0], ", ",
               dilation[1], "]");
  CNNKIT_CHECK(pad_tl[0] >= 0 && pad_tl[1] >= 0 && pad_br[0] >= 0 && pad_br[1] >= 0,
               "conv2d: negative padding is not supported, got padding (top, left)=[", pad_tl[0],
               ", ", pad_tl[1], "] (bottom, right)=[", pad_br[0], ", ", pad_br[1], "]");

  const bool batched = input.dim() == 4;
  kernels::Conv2dShape s;
  s.N = batched ? input.size(0) : 1;
  s.C_in = input.size(-3);
  s.H = input.size(-2);
  s.W = input.size(-1);
  s.C_out = weight.size(0);
  s.kH = weight.size(2);
  s.kW = weight.size(3);
  s.groups = groups;
  CNNKIT_CHECK_SHAPE(s.C_out % groups == 0, "conv2d: given groups=", groups,
                     ", expected weight to be divisible by ", groups,
                     " at dimension 0, but got weight of size ", weight.sizes(), " instead");
  CNNKIT_CHECK_SHAPE(s.C_in == weight.size(1) * groups, "conv2d: given groups=", groups,
                     ", weight of size ", weight.sizes(), ", expected input ", input.sizes(),
                     " to have ", weight.size(1) * groups, " channels, but got ", s.C_in,
                     " channels instead");
  if (bias.defined()) {
    CNNKIT_CHECK_SHAPE(bias.dim() == 1 && bias.size(0) == s.C_out, "conv2d: given weight of size ",
                       weight.sizes(), ", expected bias to be 1-dimensional with ", s.C_out,
                       " elements, but got bias of size ", bias.sizes(), " instead");
  }
  s.stride_h = stride[0];
  s.stride_w = stride[1];
  s.dil_h = dilation[0];
  s.dil_w = dilation[1];
  s.pad_t = pad_tl[0];
  s.pad_l = pad_tl[1];
  s.pad_b = pad_br[0];
  s.pad_r = pad_br[1];
  s.has_bias = bias.defined();
  const int64_t padded_h = s.H + s.pad_t + s.pad_b, padded_w = s.W + s.pad_l + s.pad_r;
  const int64_t ext_h = s.dil_h * (s.kH - 1) + 1, ext_w = s.dil_w * (s.kW - 1) + 1;
  CNNKIT_CHECK_SHAPE(padded_h >= ext_h && padded_w >= ext_w,
                     "conv2d: calculated padded input size per channel: (", padded_h, " x ",
                     padded_w, "). Kernel size: (", ext_h, " x ", ext_w,
                     "). Kernel size can't be greater than actual input size");
  s.H_out = kernels::conv_output_size(s.H, s.kH, s.stride_h, s.pad_t, s.pad_b, s.dil_h);
  s.W_out = kernels::conv_output_size(s.W, s.kW, s.stride_w, s.pad_l, s.pad_r, s.dil_w);
  return s;
}
}  // namespace

Tensor conv2d_padded(const Tensor& input, const Tensor& weight, const Tensor& bias,
                     std::array<int64_t, 2> stride, std::array<int64_t, 2> pad_tl,
                     std::array<int64_t, 2> pad_br, std::array<int64_t, 2> dilation,
                     int64_t groups) {
  const kernels::Conv2dShape s = conv_shape(input, weight, bias, stride, pad_tl, pad_br, dilation, groups);
  const bool batched = input.dim() == 4;

  Tensor x;  // the input's plain values, or the input itself when it holds a oneDNN layout
  const kernels::onednn::Operand x_op = operand(input, x);
  const Tensor w = dense(weight), b = bias.defined() ? dense(bias) : Tensor();
  Tensor out = batched ? detail::empty_deferred({s.N, s.C_out, s.H_out, s.W_out})
                       : detail::empty_deferred({s.C_out, s.H_out, s.W_out});
  const kernels::Conv2dPlan& plan = kernels::conv2d_plan(s);
  const bool need_in = input.requires_grad(), need_w = weight.requires_grad();
  const bool need_b = bias.defined() && bias.requires_grad();
  const bool record = autograd::needs_grad({input, weight, bias});
  // Keep the forward's blocked input only for a oneDNN weight gradient that will use it.
  std::shared_ptr<kernels::Conv2dSaved> saved;
  const bool keep = record && need_w && plan.backward_weights == kernels::ConvAlgo::onednn;
  kernels::onednn::LayoutPtr out_layout;
  kernels::conv2d_forward(kernels::onednn::plain_out(out), &out_layout, x_op, w.data_ptr<float>(),
                          data_or_null(b), s, plan.forward, record, keep ? &saved : nullptr);
  attach(out, std::move(out_layout));

  if (record) {
    // The input is needed only for the weight and bias gradients, the weight only for the
    // input gradient; neither is kept when its gradient is not wanted. The input's operand
    // holds its kept layout (if any) from now on, whatever later happens to its storage.
    autograd::detail::record_differentiable(
        "ConvolutionBackward0", {input, weight, bias}, {out},
        [s, plan, saved, need_in, need_w, need_b, batched, in_sizes = input.sizes().vec(),
         xd = need_w ? x.detach() : Tensor(),
         x_kept = need_w ? x_op : kernels::onednn::Operand{},
         wd = need_in ? w.detach() : Tensor(),
         xs = need_w ? autograd::detail::save_input(input) : Tensor(),
         ws = need_in ? autograd::detail::save_input(weight) : Tensor()](const TensorList& grads) {
          if (autograd::GradMode::is_enabled()) {
            const Tensor& g = grads[0];
            return TensorList{need_in ? conv2d_input_grad(g, ws, s, plan, in_sizes) : Tensor(),
                              need_w ? conv2d_weight_grad(xs, g, s, plan) : Tensor(),
                              need_b ? (batched ? sum(g, {0, 2, 3}) : sum(g, {1, 2})) : Tensor()};
          }
          Tensor gy;
          const kernels::onednn::Operand gy_op = operand(grads[0], gy);
          Tensor gx = need_in ? detail::empty_deferred(in_sizes) : Tensor();
          Tensor gw = need_w ? empty({s.C_out, s.C_in / s.groups, s.kH, s.kW}) : Tensor();
          Tensor gb = need_b ? empty({s.C_out}) : Tensor();
          // The input's other consumers' gradient (a residual connection's other branch), when
          // it waits in a kept layout: added as the input gradient is written, not after.
          const Tensor pending = need_in ? autograd::detail::pending_grad(0) : Tensor();
          const kernels::onednn::LayoutPtr pending_layout =
              pending.defined() && pending.scalar_type() == kFloat
                  ? kernels::onednn::layout_of(*pending.unsafeGetTensorImpl())
                  : nullptr;
          kernels::onednn::LayoutPtr gx_layout;
          const bool summed = kernels::conv2d_backward(
              need_in ? kernels::onednn::plain_out(gx) : kernels::onednn::PlainOut(), &gx_layout,
              need_w ? gw.data_ptr<float>() : nullptr, need_b ? gb.data_ptr<float>() : nullptr, gy_op, x_kept,
              data_or_null(wd), s, plan.backward_data, plan.backward_weights, saved.get(), pending_layout);
          if (summed) autograd::detail::drop_pending_grad(0);
          if (need_in) attach(gx, std::move(gx_layout));
          return TensorList{gx, gw, gb};
        });
  }
  return out;
}

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride,
              IntArrayRef padding, IntArrayRef dilation, int64_t groups) {
  const auto pad = pair_param(padding, "padding");
  return conv2d_padded(input, weight, bias, pair_param(stride, "stride"), pad, pad,
                       pair_param(dilation, "dilation"), groups);
}

// ---- conv_transpose2d -------------------------------------------------------------------------
//
// The transposed convolution is conv2d's input gradient: with the conv2d whose input is the
// transposed output (C_in' = C_out, H' = the output's height) and whose output is this op's
// input (C_out' = C_in), the forward is that conv's backward-data, the input gradient its
// forward and the weight gradient its backward-weights, roles swapped. The core below has no
// padding (its output is the full (H - 1)*s + d*(k - 1) + 1 rows); padding and output_padding
// crop it and extend it with zeros (F::pad with negative and positive sizes), and the bias is
// added after, so the output_padding rows hold the bias as in PyTorch.
namespace {

Tensor conv_transpose2d_core(const Tensor& input, const Tensor& weight, std::array<int64_t, 2> stride,
                             std::array<int64_t, 2> dilation, int64_t groups) {
  const bool batched = input.dim() == 4;
  kernels::Conv2dShape s;
  s.N = batched ? input.size(0) : 1;
  s.C_out = input.size(-3);  // the conv's output channels are this op's input channels
  s.H_out = input.size(-2);
  s.W_out = input.size(-1);
  s.C_in = weight.size(1) * groups;
  s.kH = weight.size(2);
  s.kW = weight.size(3);
  s.groups = groups;
  s.stride_h = stride[0];
  s.stride_w = stride[1];
  s.dil_h = dilation[0];
  s.dil_w = dilation[1];
  s.H = (s.H_out - 1) * s.stride_h + s.dil_h * (s.kH - 1) + 1;
  s.W = (s.W_out - 1) * s.stride_w + s.dil_w * (s.kW - 1) + 1;
  const kernels::Conv2dPlan& plan = kernels::conv2d_plan(s);
  const Tensor x = dense(input), w = dense(weight);
  Tensor out = batched ? empty({s.N, s.C_in, s.H, s.W}) : empty({s.C_in, s.H, s.W});
  if (out.numel() > 0)
    kernels::conv2d_backward(out.data_ptr<float>(), nullptr, nullptr, x.data_ptr<float>(), nullptr,
                             w.data_ptr<float>(), s, plan.backward_data, plan.backward_weights, nullptr);
  const bool need_in = input.requires_grad(), need_w = weight.requires_grad();
  if (autograd::needs_grad({input, weight})) {
    autograd::detail::record_differentiable(
        "ConvolutionBackward0", {input, weight}, {out},
        [s, plan, need_in, need_w, stride, dilation, groups, in_sizes = input.sizes().vec(),
         xd = need_w ? x.detach() : Tensor(), wd = need_in ? w.detach() : Tensor(),
         xs = need_w ? autograd::detail::save_input(input) : Tensor(),
         ws = need_in ? autograd::detail::save_input(weight) : Tensor()](const TensorList& grads) {
          if (autograd::GradMode::is_enabled()) {
            // This op is conv2d's backward-data: its input gradient is that conv2d's forward of
            // the gradient, its weight gradient that conv2d's weight gradient (roles swapped).
            const Tensor& g = grads[0];
            return TensorList{need_in ? conv2d_padded(g, ws, Tensor(), stride, {0, 0}, {0, 0}, dilation, groups)
                                      : Tensor(),
                              need_w ? conv2d_weight_grad(g, xs, s, plan) : Tensor()};
          }
          const Tensor gy = dense(grads[0]);
          Tensor gx = need_in ? cnnkit::empty(in_sizes) : Tensor();
          Tensor gw = need_w ? empty({s.C_out, s.C_in / s.groups, s.kH, s.kW}) : Tensor();
          if (need_in && gx.numel() > 0)
            kernels::conv2d_forward(gx.data_ptr<float>(), gy.data_ptr<float>(), wd.data_ptr<float>(), nullptr, s,
                                    plan.forward, /*training=*/false);
          if (need_w) {
            if (xd.numel() > 0 && gy.numel() > 0)
              kernels::conv2d_backward(nullptr, gw.data_ptr<float>(), nullptr, xd.data_ptr<float>(),
                                       gy.data_ptr<float>(), nullptr, s, plan.backward_data, plan.backward_weights,
                                       nullptr);
            else
              gw.zero_();
          }
          return TensorList{gx, gw};
        });
  }
  return out;
}

std::array<int64_t, 2> transpose_param(IntArrayRef v, const char* name) {
  CNNKIT_CHECK(v.size() == 1 || v.size() == 2, "conv_transpose2d: expected ", name,
               " to be a single integer value or a list of 2 values to match the convolution dimensions, but got ",
               name, "=", v);
  return v.size() == 1 ? std::array<int64_t, 2>{v[0], v[0]} : std::array<int64_t, 2>{v[0], v[1]};
}

}  // namespace

Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride_,
                        IntArrayRef padding_, IntArrayRef output_padding_, int64_t groups, IntArrayRef dilation_) {
  const auto stride = transpose_param(stride_, "stride"), padding = transpose_param(padding_, "padding");
  const auto output_padding = transpose_param(output_padding_, "output_padding");
  const auto dilation = transpose_param(dilation_, "dilation");
  CNNKIT_CHECK(input.defined() && weight.defined(), "conv_transpose2d: input and weight must be defined");
  CNNKIT_CHECK_SHAPE(input.dim() == 3 || input.dim() == 4,
                     "conv_transpose2d: expected input with 4 dims (N, C, H, W) or 3 (C, H, W), got ", input.dim(),
                     " dims ", input.sizes());
  CNNKIT_CHECK_SHAPE(weight.dim() == 4,
                     "conv_transpose2d: expected weight with 4 dims (C_in, C_out/groups, kH, kW), got ", weight.dim(),
                     " dims ", weight.sizes());
  CNNKIT_CHECK_TYPE(input.dtype() == kFloat && weight.dtype() == kFloat && (!bias.defined() || bias.dtype() == kFloat),
                    "conv_transpose2d: expected float32 input, weight and bias, got input ", input.dtype(),
                    ", weight ", weight.dtype());
  CNNKIT_CHECK(groups >= 1, "conv_transpose2d: non-positive groups is not supported, got groups=", groups);
  for (size_t i = 0; i < 2; ++i) {
    CNNKIT_CHECK(stride[i] >= 1, "conv_transpose2d: non-positive stride is not supported, got stride=", stride_);
    CNNKIT_CHECK(dilation[i] >= 1, "conv_transpose2d: dilation should be greater than zero, but got ", dilation_);
    CNNKIT_CHECK(padding[i] >= 0, "conv_transpose2d: negative padding is not supported, got padding=", padding_);
    CNNKIT_CHECK(output_padding[i] >= 0, "conv_transpose2d: negative output_padding is not supported, got ",
                 output_padding_);
  }
  CNNKIT_CHECK(output_padding[0] < stride[0] || output_padding[0] < dilation[0],
               "conv_transpose2d: output padding must be smaller than either stride or dilation, but got "
               "output_padding_height: ", output_padding[0], " output_padding_width: ", output_padding[1],
               " stride_height: ", stride[0], " stride_width: ", stride[1], " dilation_height: ", dilation[0],
               " dilation_width: ", dilation[1]);
  CNNKIT_CHECK(output_padding[1] < stride[1] || output_padding[1] < dilation[1],
               "conv_transpose2d: output padding must be smaller than either stride or dilation, but got "
               "output_padding_height: ", output_padding[0], " output_padding_width: ", output_padding[1],
               " stride_height: ", stride[0], " stride_width: ", stride[1], " dilation_height: ", dilation[0],
               " dilation_width: ", dilation[1]);
  CNNKIT_CHECK_SHAPE(weight.size(0) % groups == 0, "conv_transpose2d: given groups=", groups,
                     ", expected weight to be divisible by ", groups, " at dimension 0, but got weight of size ",
                     weight.sizes(), " instead");
  CNNKIT_CHECK_SHAPE(input.size(-3) == weight.size(0), "conv_transpose2d: given transposed=1, weight of size ",
                     weight.sizes(), ", expected input", input.sizes(), " to have ", weight.size(0),
                     " channels, but got ", input.size(-3), " channels instead");
  const int64_t c_out = weight.size(1) * groups;
  if (bias.defined())
    CNNKIT_CHECK_SHAPE(bias.dim() == 1 && bias.size(0) == c_out, "conv_transpose2d: given transposed=1, weight of "
                       "size ", weight.sizes(), ", expected bias to be 1-dimensional with ", c_out,
                       " elements, but got bias of size ", bias.sizes(), " instead");
  std::array<int64_t, 2> out{};
  for (size_t i = 0; i < 2; ++i) {
    const int64_t in = input.size(static_cast<int64_t>(i) - 2), k = weight.size(static_cast<int64_t>(i) + 2);
    out[i] = (in - 1) * stride[i] - 2 * padding[i] + dilation[i] * (k - 1) + output_padding[i] + 1;
  }
  CNNKIT_CHECK_SHAPE(out[0] > 0 && out[1] > 0, "conv_transpose2d: Given input size per channel: (", input.size(-2),
                     " x ", input.size(-1), "). Calculated output size per channel: (", out[0], " x ", out[1],
                     "). Output size is too small");
  Tensor y = conv_transpose2d_core(input, weight, stride, dilation, groups);
  // Crop `padding` off each side, then extend bottom/right by output_padding (zeros).
  if (padding[0] || padding[1] || output_padding[0] || output_padding[1])
    y = pad(y, {-padding[1], output_padding[1] - padding[1], -padding[0], output_padding[0] - padding[0]}, "constant", 0);
  if (bias.defined()) y = y + (input.dim() == 4 ? bias.view({1, c_out, 1, 1}) : bias.view({c_out, 1, 1}));
  return y;
}

Tensor conv2d_fused(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride,
                    IntArrayRef padding, IntArrayRef dilation, int64_t groups, const Tensor& residual,
                    bool relu) {
  return detail::conv2d_fused_packed(input, weight, bias, stride, padding, dilation, groups, residual, relu, nullptr);
}

Tensor detail::conv2d_fused_packed(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride,
                                   IntArrayRef padding, IntArrayRef dilation, int64_t groups, const Tensor& residual,
                                   bool relu, kernels::PackedWeights* packed) {
  const auto pad = pair_param(padding, "padding");
  const kernels::Conv2dShape s = conv_shape(input, weight, bias, pair_param(stride, "stride"), pad, pad,
                                            pair_param(dilation, "dilation"), groups);
  const bool batched = input.dim() == 4;
  const std::vector<int64_t> out_sizes = batched ? std::vector<int64_t>{s.N, s.C_out, s.H_out, s.W_out}
                                                 : std::vector<int64_t>{s.C_out, s.H_out, s.W_out};
  if (residual.defined()) {
    CNNKIT_CHECK_SHAPE(residual.sizes() == IntArrayRef(out_sizes), "conv2d_fused: the residual has sizes ",
                       residual.sizes(), " but the convolution's output ", IntArrayRef(out_sizes));
    CNNKIT_CHECK_TYPE(residual.dtype() == kFloat, "conv2d_fused: expected a float32 residual, got ",
                      residual.dtype());
  }
  // Autograd, an empty convolution or a shape the plan runs off oneDNN: the three ops as written.
  const bool fusable = !autograd::needs_grad({input, weight, bias, residual}) && s.N > 0 && s.C_out > 0 &&
                       s.C_in > 0 && kernels::conv2d_plan(s).forward == kernels::ConvAlgo::onednn;
  if (!fusable) {
    Tensor y = conv2d_padded(input, weight, bias, pair_param(stride, "stride"), pad, pad,
                             pair_param(dilation, "dilation"), groups);
    if (residual.defined()) y = y + residual;
    return relu ? cnnkit::relu(y) : y;
  }
  Tensor x, r;
  const kernels::onednn::Operand x_op = operand(input, x);
  kernels::ConvEpilogue epilogue;
  epilogue.relu = relu;
  epilogue.packed_weights = packed;
  if (residual.defined()) {
    epilogue.has_residual = true;
    epilogue.residual = operand(residual, r);
  }
  const Tensor w = dense(weight), b = bias.defined() ? dense(bias) : Tensor();
  Tensor out = detail::empty_deferred(out_sizes);
  kernels::onednn::LayoutPtr out_layout;
  kernels::conv2d_forward_fused(kernels::onednn::plain_out(out), &out_layout, x_op, w.data_ptr<float>(), data_or_null(b), s,
                                epilogue);
  attach(out, std::move(out_layout));
  return out;
}

// ---- conv1d ----------------------------------------------------------------------------------
//
// The 2-d convolution of a height-1 image: input (N, C, L) -> (N, C, 1, L), weight
// (C_out, C_in/g, k) -> (C_out, C_in/g, 1, k), and the output's height dimension dropped.
// Views only, so autograd reaches input, weight and bias through conv2d's backward. The
// arguments are checked here, in 1-d terms, before any 2-d message could name [1, k].
namespace {
int64_t single_param(IntArrayRef v, const char* name) {
  CNNKIT_CHECK(v.size() == 1, "conv1d: expected ", name,
               " to be a single integer value or a list of 1 values to match the convolution dimensions, but got ",
               name, "=", v);
  return v[0];
}

Tensor conv1d_padded(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t pad_l,
                     int64_t pad_r, int64_t dilation, int64_t groups) {
  CNNKIT_CHECK(input.defined() && weight.defined(), "conv1d: input and weight must be defined");
  CNNKIT_CHECK_SHAPE(input.dim() == 2 || input.dim() == 3,
                     "conv1d: expected 2D (unbatched) or 3D (batched) input, but got input of size: ", input.sizes());
  CNNKIT_CHECK_SHAPE(weight.dim() == 3, "conv1d: expected weight with 3 dims (C_out, C_in/groups, k), got ",
                     weight.dim(), " dims ", weight.sizes());
  CNNKIT_CHECK(groups >= 1, "conv1d: non-positive groups is not supported, got groups=", groups);
  CNNKIT_CHECK(stride >= 1, "conv1d: non-positive stride is not supported, got stride=", stride);
  CNNKIT_CHECK(dilation >= 1, "conv1d: dilation should be greater than zero, but got ", dilation);
  CNNKIT_CHECK(pad_l >= 0 && pad_r >= 0, "conv1d: negative padding is not supported, got padding=", pad_l,
               pad_l == pad_r ? "" : " (left), " + std::to_string(pad_r) + " (right)");
  CNNKIT_CHECK_SHAPE(weight.size(0) % groups == 0, "conv1d: given groups=", groups,
                     ", expected weight to be divisible by ", groups, " at dimension 0, but got weight of size ",
                     weight.sizes(), " instead");
  CNNKIT_CHECK_SHAPE(input.size(-2) == weight.size(1) * groups, "conv1d: given groups=", groups, ", weight of size ",
                     weight.sizes(), ", expected input ", input.sizes(), " to have ", weight.size(1) * groups,
                     " channels, but got ", input.size(-2), " channels instead");
  const int64_t padded = input.size(-1) + pad_l + pad_r, extent = dilation * (weight.size(2) - 1) + 1;
  CNNKIT_CHECK_SHAPE(padded >= extent, "conv1d: calculated padded input size per channel: (", padded,
                     "). Kernel size: (", extent, "). Kernel size can't be greater than actual input size");
  return conv2d_padded(input.unsqueeze(-2), weight.unsqueeze(2), bias, {1, stride}, {0, pad_l}, {0, pad_r},
                       {1, dilation}, groups)
      .squeeze(-2);
}
}  // namespace

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride, IntArrayRef padding,
              IntArrayRef dilation, int64_t groups) {
  const int64_t pad = single_param(padding, "padding");
  return conv1d_padded(input, weight, bias, single_param(stride, "stride"), pad, pad,
                       single_param(dilation, "dilation"), groups);
}

namespace detail {
Tensor conv1d_padding_mode(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride,
                           std::string_view padding, IntArrayRef dilation, int64_t groups) {
  const int64_t st = single_param(stride, "stride"), dil = single_param(dilation, "dilation");
  if (padding == "valid") return conv1d_padded(input, weight, bias, st, 0, 0, dil, groups);
  CNNKIT_CHECK(padding == "same", "conv1d: invalid padding string: '", padding, "' (expected 'same' or 'valid')");
  CNNKIT_CHECK(st == 1, "conv1d: padding='same' is not supported for strided convolutions, got stride=", st);
  CNNKIT_CHECK(weight.defined() && weight.dim() == 3, "conv1d: expected weight with 3 dims (C_out, C_in/groups, k), got ",
               weight.defined() ? weight.sizes() : IntArrayRef{});
  // PyTorch's rule: total padding d*(k-1), the extra element (odd total) on the right.
  const int64_t total = dil * (weight.size(2) - 1);
  return conv1d_padded(input, weight, bias, st, total / 2, total - total / 2, dil, groups);
}

Tensor conv2d_padding_mode(const Tensor& input, const Tensor& weight, const Tensor& bias,
                           IntArrayRef stride, std::string_view padding, IntArrayRef dilation,
                           int64_t groups) {
  const auto st = pair_param(stride, "stride");
  const auto dil = pair_param(dilation, "dilation");
  if (padding == "valid") return conv2d_padded(input, weight, bias, st, {0, 0}, {0, 0}, dil, groups);
  CNNKIT_CHECK(padding == "same", "conv2d: invalid padding string: '", padding,
               "' (expected 'same' or 'valid')");
  CNNKIT_CHECK(st[0] == 1 && st[1] == 1,
               "conv2d: padding='same' is not supported for strided convolutions, got stride=[",
               st[0], ", ", st[1], "]");
  CNNKIT_CHECK(weight.defined(), "conv2d: input and weight must be defined");
  CNNKIT_CHECK_SHAPE(weight.dim() == 4,
                     "conv2d: expected weight with 4 dims (C_out, C_in/groups, kH, kW), got ",
                     weight.dim(), " dims ", weight.sizes());
  // PyTorch's rule: total padding d*(k-1) per dim, the extra element (odd total) at the end.
  std::array<int64_t, 2> lo{}, hi{};
  for (int i = 0; i < 2; ++i) {
    const int64_t total = dil[i] * (weight.size(2 + i) - 1);
    lo[i] = total / 2;
    hi[i] = total - lo[i];
  }
  return conv2d_padded(input, weight, bias, st, lo, hi, dil, groups);
}
}  // namespace detail

}  // namespace cnnkit
