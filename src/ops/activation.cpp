// Activations, forward and backward side by side. Whatever oneDNN 2.6 has runs on its
// eltwise primitives (cached per algorithm, length and parameters); the rest (selu,
// hardsigmoid, softplus with beta != 1, prelu, hardswish's backward) on plain loops in
// kernels/elementwise, which also runs relu, leaky relu and clip as loops because oneDNN
// drops NaN there (NaN and Inf follow PyTorch exactly: kernels/elementwise.h).
// Backward passes save the output instead of the input where oneDNN's *_use_dst_for_bwd
// variant exists, so the gradient costs no exp/tanh recomputation. An input that holds a
// kept oneDNN layout (a convolution's output, say) is activated in that layout, and so is
// its gradient: no reorder to plain NCHW between oneDNN ops, unless oneDNN has only a
// reference kernel for that layout (kernels::eltwise_layout_ok).
#include "cnnkit/ops/activation.h"

#include "autograd/record.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/reduce.h"
#include "kernels/elementwise.h"
#include "kernels/onednn.h"
#include "cnnkit/ops/factory.h"
#include "core/tensor_internal.h"

namespace cnnkit {

using kernels::Eltwise;

namespace {

// x's data as one dense float block (a detached copy when x is a strided view).
Tensor dense_input(const Tensor& x, const char* name) {
  CNNKIT_CHECK_TYPE(x.dtype() == kFloat, name, ": expected a float32 tensor, got ", x.dtype());
  return x.is_contiguous() ? x : x.detach().clone();
}

// Gradients may arrive as strided views (e.g. from a transpose's backward).
Tensor dense_grad(const Tensor& g) { return g.is_contiguous() ? g : g.clone(); }

// ---- double backward ------------------------------------------------------------------------
// In a create_graph backward the gradients are f'(x) * g written with differentiable ops, from
// the saved input (with its history) or, for the *_use_dst variants, the saved output
// unpacked with this node as its grad_fn: then a second backward differentiates f' too.
using autograd::detail::record_differentiable;
using autograd::detail::save_input;
using autograd::detail::saved_output;

Tensor eltwise_grad_graph(Eltwise alg, float alpha, float beta, bool use_dst, const Tensor& g, const Tensor& data) {

  constexpr double kSqrt2 = 1.4142135623730951, kInvSqrt2Pi = 0.3989422804014327, kSqrt2OverPi = 0.7978845608028654;
  const Tensor& x = data;  // the input, unless use_dst
  const Tensor& y = data;  // the output, when use_dst
  switch (alg) {
    case Eltwise::kRelu:  // use_dst: y > 0 exactly where x > 0
      return masked_fill(g, le(y, 0.0), 0.0);
    case Eltwise::kClip:  // hardtanh: passes strictly inside (alpha, beta); y is clamped x
      return masked_fill(g, logical_or(le(y, static_cast<double>(alpha)), ge(y, static_cast<double>(beta))), 0.0);
    case Eltwise::kLeakyRelu:
      return where(gt(data, 0.0), g, mul(g, static_cast<double>(alpha)));
    case Eltwise::kElu:
      if (use_dst) return where(gt(y, 0.0), g, mul(g, add(y, static_cast<double>(alpha))));
      return where(gt(x, 0.0), g, mul(g, mul(exp(x), static_cast<double>(alpha))));
    case Eltwise::kGeluErf: {
      Tensor cdf = mul(add(erf(div(x, kSqrt2)), 1.0), 0.5);
      Tensor pdf = mul(exp(mul(square(x), -0.5)), kInvSqrt2Pi);
      return mul(g, add(cdf, mul(x, pdf)));
    }
    case Eltwise::kGeluTanh: {
      constexpr double kC = 0.044715;
      Tensor t = tanh(mul(add(x, mul(pow(x, 3.0), kC)), kSqrt2OverPi));
      Tensor inner_d = mul(add(mul(square(x), 3 * kC), 1.0), kSqrt2OverPi);
      Tensor d = add(mul(add(t, 1.0), 0.5), mul(mul(mul(x, 0.5), rsub(square(t), 1.0)), inner_d));
      return mul(g, d);
    }
    case Eltwise::kLogistic:
      return mul(g, mul(y, rsub(y, 1.0)));
    case Eltwise::kTanh:
      return mul(g, rsub(square(y), 1.0));
    case Eltwise::kSwish: {  // silu (alpha = 1): s (1 + x (1 - s))
      Tensor sg = sigmoid(mul(x, static_cast<double>(alpha)));
      return mul(g, mul(sg, add(mul(mul(x, static_cast<double>(alpha)), rsub(sg, 1.0)), 1.0)));
    }
    case Eltwise::kMish: {
      Tensor t = tanh(softplus(x));
      return mul(g, add(t, mul(mul(x, rsub(square(t), 1.0)), sigmoid(x))));
    }
    case Eltwise::kLogSigmoid:
      return mul(g, sigmoid(neg(x)));
    case Eltwise::kSoftRelu:
      return mul(g, sigmoid(x));
    default:
      throw NotImplementedError("double backward of this activation is not supported");
  }
}

// y = f(x) on a oneDNN eltwise primitive; backward on the matching eltwise_backward,
// from y when use_dst (valid for relu/elu with alpha >= 0, logistic, tanh, clip).
// The kept-layout half of onednn_activation: y and its gradient in x's oneDNN layout. The
// backward keeps the Layout itself (immutable), not y's storage, which a plain reader may
// convert back in the meantime.
Tensor onednn_activation_kept(const Tensor& x, const kernels::onednn::LayoutPtr& xl, Eltwise alg, float alpha,
                              float beta, bool use_dst, const char* backward_name) {
  namespace dnn = kernels::onednn;
  Tensor y = detail::empty_deferred(x.sizes());
  dnn::LayoutPtr yl;
  kernels::eltwise_forward(&yl, *xl, alg, alpha, beta);
  detail::set_layout(*y.unsafeGetTensorImpl()->storage, yl);
  if (autograd::needs_grad({x})) {
    record_differentiable(backward_name, {x}, {y},
                     [saved = use_dst ? yl : xl, alg, alpha, beta, use_dst, data = use_dst ? y.detach() : save_input(x),
                      sizes = x.sizes().vec()](const TensorList& g) {
                       if (autograd::GradMode::is_enabled())
                         return TensorList{eltwise_grad_graph(alg, alpha, beta, use_dst, g[0],
                                                              use_dst ? saved_output(data) : data)};
                       dnn::LayoutPtr gl = dnn::layout_of(*g[0].unsafeGetTensorImpl());
                       Tensor gy = gl ? g[0] : dense_grad(g[0]);
                       const dnn::Operand gy_op{gl ? nullptr : gy.data_ptr<float>(), gl};
                       Tensor gx = detail::empty_deferred(sizes);
                       dnn::LayoutPtr gxl;
                       kernels::eltwise_backward(&gxl, gy_op, *saved, alg, alpha, beta, use_dst);
                       detail::set_layout(*gx.unsafeGetTensorImpl()->storage, std::move(gxl));
                       return TensorList{gx};
                     });
  }
  return y;
}

Tensor onednn_activation(const Tensor& x, Eltwise alg, float alpha, float beta, bool use_dst, const char* name,
                         const char* backward_name) {
  CNNKIT_CHECK_TYPE(x.dtype() == kFloat, name, ": expected a float32 tensor, got ", x.dtype());
  if (kernels::onednn::LayoutPtr xl = kernels::onednn::layout_of(*x.unsafeGetTensorImpl()))
    if (kernels::eltwise_layout_ok(*xl, alg, alpha, beta, use_dst))
      return onednn_activation_kept(x, xl, alg, alpha, beta, use_dst, backward_name);
  Tensor xc = dense_input(x, name);
  Tensor y = empty(x.sizes(), kFloat);
  kernels::eltwise_forward(y.data_ptr<float>(), xc.data_ptr<float>(), x.numel(), alg, alpha, beta);
  if (autograd::needs_grad({x})) {
    record_differentiable(backward_name, {x}, {y},
                     [saved = use_dst ? y.detach() : xc.detach(), alg, alpha, beta, use_dst,
                      xs = use_dst ? Tensor() : save_input(x)](const TensorList& g) {
                       if (autograd::GradMode::is_enabled())
                         return TensorList{eltwise_grad_graph(alg, alpha, beta, use_dst, g[0],
                                                              use_dst ? saved_output(saved) : xs)};
                       Tensor gy = dense_grad(g[0]);
                       Tensor gx = empty(saved.sizes(), kFloat);
                       kernels::eltwise_backward(gx.data_ptr<float>(), gy.data_ptr<float>(), saved.data_ptr<float>(),
                                                 saved.numel(), alg, alpha, beta, use_dst);
                       return TensorList{gx};
                     });
  }
  return y;
}

}  // namespace

Tensor relu(const Tensor& x) { return onednn_activation(x, Eltwise::kRelu, 0, 0, true, "relu", "ReluBackward0"); }

// relu6 = hardtanh(x, 0, 6): the gradient passes strictly inside (0, 6), as PyTorch's.
Tensor relu6(const Tensor& x) {
  return onednn_activation(x, Eltwise::kClip, 0, 6, true, "relu6", "HardtanhBackward0");
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  // From the output only when the slope keeps the sign (dst > 0 <=> src > 0).
  return onednn_activation(x, Eltwise::kLeakyRelu, static_cast<float>(negative_slope), 0, negative_slope >= 0,
                           "leaky_relu", "LeakyReluBackward0");
}

Tensor elu(const Tensor& x, double alpha) {
  return onednn_activation(x, Eltwise::kElu, static_cast<float>(alpha), 0, alpha >= 0, "elu", "EluBackward0");
}

void check_gelu_approximate(const std::string& approximate) {
  CNNKIT_CHECK(approximate == "none" || approximate == "tanh",
               "gelu: approximate: expected 'none' or 'tanh', got '", approximate, "'");
}

Tensor gelu(const Tensor& x, const std::string& approximate) {
  check_gelu_approximate(approximate);
  return onednn_activation(x, approximate == "tanh" ? Eltwise::kGeluTanh : Eltwise::kGeluErf, 0, 0, false, "gelu",
                           "GeluBackward0");
}

// The list's oneDNN activations. oneDNN 2.6's logsigmoid (like its soft_relu, softplus's
// beta = 1 path) computes log(1 + exp(-x)) without log1p: for x > 15 it gives 0 or a few
// 1e-6 where torch gives -exp(-x) (tools/golden/gen_activation.py has no large case).
#define CNNKIT_DEFINE_ACTIVATION_OP(Module, function, algorithm, alpha, use_dst, node) \
  Tensor function(const Tensor& x) {                                                    \
    return onednn_activation(x, Eltwise::algorithm, alpha, 0, use_dst, #function, #node); \
  }
CNNKIT_ELTWISE_ACTIVATIONS(CNNKIT_DEFINE_ACTIVATION_OP)
#undef CNNKIT_DEFINE_ACTIVATION_OP

// Forward on oneDNN; backward on a plain loop so that the gradient at x = +-3 is torch's.
Tensor hardswish(const Tensor& x) {
  Tensor xc = dense_input(x, "hardswish");
  Tensor y = empty(x.sizes(), kFloat);
  kernels::eltwise_forward(y.data_ptr<float>(), xc.data_ptr<float>(), x.numel(), Eltwise::kHardswish);
  if (autograd::needs_grad({x})) {
    record_differentiable("HardswishBackward0", {x}, {y}, [xd = xc.detach(), xs = save_input(x)](const TensorList& g) {
      if (autograd::GradMode::is_enabled()) {  // 0 below -3, x/3 + 1/2 up to 3, 1 above
        Tensor d = masked_fill(masked_fill(add(div(xs, 3.0), 0.5), gt(xs, 3.0), 1.0), lt(xs, -3.0), 0.0);
        return TensorList{mul(g[0], d)};
      }
      Tensor gy = dense_grad(g[0]);
      Tensor gx = empty(xd.sizes(), kFloat);
      kernels::hardswish_backward(gx.data_ptr<float>(), gy.data_ptr<float>(), xd.data_ptr<float>(), xd.numel());
      return TensorList{gx};
    });
  }
  return y;
}

// nn.Hardtanh's rule (F.hardtanh has none in PyTorch; cnnkit applies the module's everywhere).
void check_hardtanh_range(double min_val, double max_val) {
  CNNKIT_CHECK(max_val > min_val, "hardtanh: max_val (", max_val, ") must be greater than min_val (", min_val, ")");
}

Tensor hardtanh(const Tensor& x, double min_val, double max_val) {
  check_hardtanh_range(min_val, max_val);
  return onednn_activation(x, Eltwise::kClip, static_cast<float>(min_val), static_cast<float>(max_val), true,
                           "hardtanh", "HardtanhBackward0");
}

// ---- plain loops: what oneDNN 2.6 lacks -------------------------------------------------------

Tensor selu(const Tensor& x) {
  Tensor xc = dense_input(x, "selu");
  Tensor y = empty(x.sizes(), kFloat);
  kernels::selu_forward(y.data_ptr<float>(), xc.data_ptr<float>(), x.numel());
  if (autograd::needs_grad({x})) {
    record_differentiable("EluBackward0", {x}, {y}, [yd = y.detach()](const TensorList& g) {
      if (autograd::GradMode::is_enabled()) {  // scale above 0, y + scale * alpha below
        constexpr double kScale = 1.0507009873554804934193349852946, kAlpha = 1.6732632423543772848170429916717;
        const Tensor out = saved_output(yd);
        return TensorList{where(gt(out, 0.0), mul(g[0], kScale), mul(g[0], add(out, kScale * kAlpha)))};
      }
      Tensor gy = dense_grad(g[0]);
      Tensor gx = empty(yd.sizes(), kFloat);
      kernels::selu_backward(gx.data_ptr<float>(), gy.data_ptr<float>(), yd.data_ptr<float>(), yd.numel());
      return TensorList{gx};
    });
  }
  return y;
}

Tensor hardsigmoid(const Tensor& x) {
  Tensor xc = dense_input(x, "hardsigmoid");
  Tensor y = empty(x.sizes(), kFloat);
  kernels::hardsigmoid_forward(y.data_ptr<float>(), xc.data_ptr<float>(), x.numel());
  if (autograd::needs_grad({x})) {
    record_differentiable("HardsigmoidBackward0", {x}, {y}, [xd = xc.detach()](const TensorList& g) {
      if (autograd::GradMode::is_enabled())  // 1/6 strictly inside (-3, 3): a constant mask
        return TensorList{masked_fill(div(g[0], 6.0), logical_or(le(xd, -3.0), ge(xd, 3.0)), 0.0)};
      Tensor gy = dense_grad(g[0]);
      Tensor gx = empty(xd.sizes(), kFloat);
      kernels::hardsigmoid_backward(gx.data_ptr<float>(), gy.data_ptr<float>(), xd.data_ptr<float>(), xd.numel());
      return TensorList{gx};
    });
  }
  return y;
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  // oneDNN's soft_relu is log(1 + exp(x)) with no beta; with beta = 1 and a threshold of 20
  // or more PyTorch's linear branch only kicks in where log1p(exp(x)) == x in float anyway.
  if (beta == 1 && threshold >= 20)
    return onednn_activation(x, Eltwise::kSoftRelu, 0, 0, false, "softplus", "SoftplusBackward0");
  CNNKIT_CHECK(beta != 0, "softplus: beta must be nonzero");
  Tensor xc = dense_input(x, "softplus");
  Tensor y = empty(x.sizes(), kFloat);
  const float b = static_cast<float>(beta), t = static_cast<float>(threshold);
  kernels::softplus_forward(y.data_ptr<float>(), xc.data_ptr<float>(), x.numel(), b, t);
  if (autograd::needs_grad({x})) {
    record_differentiable("SoftplusBackward0", {x}, {y}, [xd = xc.detach(), xs = save_input(x), b, t](const TensorList& g) {
      if (autograd::GradMode::is_enabled()) {  // sigmoid(beta x), 1 where beta x > threshold
        const Tensor bx = mul(xs, static_cast<double>(b));
        return TensorList{mul(g[0], masked_fill(sigmoid(bx), gt(bx, static_cast<double>(t)), 1.0))};
      }
      Tensor gy = dense_grad(g[0]);
      Tensor gx = empty(xd.sizes(), kFloat);
      kernels::softplus_backward(gx.data_ptr<float>(), gy.data_ptr<float>(), xd.data_ptr<float>(), xd.numel(), b, t);
      return TensorList{gx};
    });
  }
  return y;
}

// x: (N, C, *) with weight (C) or (1); 0-d and 1-d inputs take a single weight.
Tensor prelu(const Tensor& x, const Tensor& weight) {
  CNNKIT_CHECK_TYPE(weight.dtype() == kFloat, "prelu: expected a float32 weight, got ", weight.dtype());
  CNNKIT_CHECK_SHAPE(weight.dim() <= 1, "prelu: Expected `weight` to be a scalar or 1D tensor, but got ndim = ",
                     weight.dim());
  const int64_t wn = weight.numel();
  const int64_t channels = x.dim() >= 2 ? x.size(1) : 1;
  CNNKIT_CHECK_SHAPE(wn == 1 || wn == channels, "prelu: Mismatch of parameter numbers and input channel size. "
                     "Found parameter numbers = ", wn, " and channel size = ", channels, " (input shape ", x.sizes(), ")");
  Tensor xc = dense_input(x, "prelu");
  Tensor wc = weight.is_contiguous() ? weight : weight.detach().clone();
  // Row layout (outer, C, inner); a single weight treats everything as one row.
  int64_t outer = 1, C = 1, inner = x.numel();
  if (wn > 1) {
    outer = x.size(0);
    C = channels;
    inner = outer * C == 0 ? 0 : x.numel() / (outer * C);
  }
  Tensor y = empty(x.sizes(), kFloat);
  kernels::prelu_forward(y.data_ptr<float>(), xc.data_ptr<float>(), wc.data_ptr<float>(), outer, C, inner);
  if (autograd::needs_grad({x, weight})) {
    record_differentiable("PreluBackward0", {x, weight}, {y},
                     [nx = x.requires_grad(), nw = weight.requires_grad(), xd = xc.detach(), wd = wc.detach(),
                      xs = save_input(x), wsv = save_input(weight),
                      ws = weight.sizes().vec(), outer, C, inner](const TensorList& g) {
                       if (autograd::GradMode::is_enabled()) {
                         // The weight broadcast over x: one value, or one per channel (dim 1).
                         std::vector<int64_t> wshape;
                         if (C > 1) {
                           wshape.assign(static_cast<size_t>(xs.dim()), 1);
                           wshape[1] = C;
                         }
                         const Tensor wb = wsv.reshape(wshape);
                         const Tensor pos = gt(xs, 0.0);
                         Tensor gx = nx ? where(pos, g[0], mul(g[0], wb)) : Tensor();
                         Tensor gw;
                         if (nw) {
                           Tensor contrib = masked_fill(mul(g[0], xs), pos, 0.0);
                           std::vector<int64_t> dims;
                           for (int64_t d = 0; d < xs.dim(); ++d)
                             if (!(C > 1 && d == 1)) dims.push_back(d);
                           gw = (dims.empty() ? contrib : sum(contrib, dims)).reshape(ws);
                         }
                         return TensorList{gx, gw};
                       }
                       Tensor gy = dense_grad(g[0]);
                       Tensor gx = nx ? empty(xd.sizes(), kFloat) : Tensor();
                       Tensor gw = nw ? empty(ws, kFloat) : Tensor();
                       kernels::prelu_backward(nx ? gx.data_ptr<float>() : nullptr, nw ? gw.data_ptr<float>() : nullptr,
                                               gy.data_ptr<float>(), xd.data_ptr<float>(), wd.data_ptr<float>(), outer,
                                               C, inner);
                       return TensorList{gx, gw};
                     });
  }
  return y;
}

}  // namespace cnnkit
