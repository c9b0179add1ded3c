// Activations (torch::relu, torch::sigmoid, ...), forward and backward, on oneDNN eltwise
// primitives where oneDNN has the function.
#pragma once

#include <string>

#include "cnnkit/core/tensor.h"

namespace cnnkit {

Tensor relu(const Tensor& x);
Tensor relu6(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor elu(const Tensor& x, double alpha = 1.0);
Tensor selu(const Tensor& x);
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// In place (torch::relu_(x) ...): the Tensor methods, recorded under autograd like them.
inline Tensor& relu_(Tensor& x) { return x.relu_(); }
inline Tensor& sigmoid_(Tensor& x) { return x.sigmoid_(); }
inline Tensor& tanh_(Tensor& x) { return x.tanh_(); }
Tensor silu(const Tensor& x);
Tensor mish(const Tensor& x);
Tensor hardswish(const Tensor& x);
Tensor hardsigmoid(const Tensor& x);
Tensor hardtanh(const Tensor& x, double min_val = -1, double max_val = 1);
Tensor softplus(const Tensor& x, double beta = 1, double threshold = 20);
// weight: (1) or (C) with C = x.size(1)
Tensor prelu(const Tensor& x, const Tensor& weight);

}  // namespace cnnkit
