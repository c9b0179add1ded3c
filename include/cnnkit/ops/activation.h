// Activations (torch::relu, torch::sigmoid, ...), forward and backward, on oneDNN eltwise
// primitives where oneDNN has the function.
#pragma once

#include <string>

#include "cnnkit/core/tensor.h"

namespace cnnkit {

// The activations without options, one line each: X(Module, function, kernels::Eltwise
// algorithm, its alpha, whether the backward works from the output, autograd node).
// Each line makes the op `Tensor function(const Tensor&)` here, nn::functional::function,
// the module nn::Module, and its entry in the layer table of models/layers.h
// (docs/adding-a-layer.md). Those that are one oneDNN eltwise algorithm:
#define CNNKIT_ELTWISE_ACTIVATIONS(X)                                     \
  X(Sigmoid, sigmoid, kLogistic, 0, true, SigmoidBackward0)               \
  X(Tanh, tanh, kTanh, 0, true, TanhBackward0)                            \
  /* silu(x) = x * sigmoid(x) = oneDNN's swish with alpha = 1 */         \
  X(SiLU, silu, kSwish, 1, false, SiluBackward0)                          \
  X(Mish, mish, kMish, 0, false, MishBackward0)                          \
  X(LogSigmoid, logsigmoid, kLogSigmoid, 0, false, LogSigmoidBackward0)
// ... and those with their own kernels (their PyTorch gradients at the kinks), defined by
// hand in ops/activation.cpp.
#define CNNKIT_OWN_KERNEL_ACTIVATIONS(X) \
  X(Hardswish, hardswish)                \
  X(Hardsigmoid, hardsigmoid)
#define CNNKIT_PLAIN_ACTIVATIONS(X) CNNKIT_ELTWISE_ACTIVATIONS(X) CNNKIT_OWN_KERNEL_ACTIVATIONS(X)

#define CNNKIT_DECLARE_ACTIVATION_OP(Module, function, ...) Tensor function(const Tensor& x);
CNNKIT_PLAIN_ACTIVATIONS(CNNKIT_DECLARE_ACTIVATION_OP)
#undef CNNKIT_DECLARE_ACTIVATION_OP

Tensor relu(const Tensor& x);
Tensor relu6(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor elu(const Tensor& x, double alpha = 1.0);
Tensor selu(const Tensor& x);
// approximate: "none" or "tanh" (checked here, for the module and F::gelu too).
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
// In place (torch::relu_(x) ...): the Tensor methods, recorded under autograd like them.
inline Tensor& relu_(Tensor& x) { return x.relu_(); }
inline Tensor& sigmoid_(Tensor& x) { return x.sigmoid_(); }
inline Tensor& tanh_(Tensor& x) { return x.tanh_(); }
// min_val < max_val (nn.Hardtanh's rule; the module, F::hardtanh and this op all check it here).
Tensor hardtanh(const Tensor& x, double min_val = -1, double max_val = 1);
Tensor softplus(const Tensor& x, double beta = 1, double threshold = 20);
// weight: (1) or (C) with C = x.size(1)
Tensor prelu(const Tensor& x, const Tensor& weight);

// The argument rules of the ops above, each written once: the op runs it, and the module
// runs it at construction so that a bad option fails where the layer is made.
void check_gelu_approximate(const std::string& approximate);
void check_hardtanh_range(double min_val, double max_val);

}  // namespace cnnkit
