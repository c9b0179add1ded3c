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

#include "cnnkit/autograd/node.h"
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
    autograd::record(backward_name, {x}, {y},
                     [saved = use_dst ? yl : xl, alg, alpha, beta, use_dst,
                      sizes = x.sizes().vec()](const TensorList& g) {
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
    autograd::record(backward_name, {x}, {y},
                     [saved = use_dst ? y.detach() : xc.detach(), alg, alpha, beta, use_dst](const TensorList& g) {
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
    autograd::record("HardswishBackward0", {x}, {y}, [xd = xc.detach()](const TensorList& g) {
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
    autograd::record("EluBackward0", {x}, {y}, [yd = y.detach()](const TensorList& g) {
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
    autograd::record("HardsigmoidBackward0", {x}, {y}, [xd = xc.detach()](const TensorList& g) {
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
    autograd::record("SoftplusBackward0", {x}, {y}, [xd = xc.detach(), b, t](const TensorList& g) {
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
    autograd::record("PreluBackward0", {x, weight}, {y},
                     [nx = x.requires_grad(), nw = weight.requires_grad(), xd = xc.detach(), wd = wc.detach(),
                      ws = weight.sizes().vec(), outer, C, inner](const TensorList& g) {
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
