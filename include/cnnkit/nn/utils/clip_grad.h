// Gradient clipping (torch::nn::utils::clip_grad_norm_ / clip_grad_value_, PyTorch 1.13's
// torch/nn/utils/clip_grad.py): in place on every parameter's .grad(); parameters without
// a gradient are skipped. Implemented in the optim layer (src/optim/clip_grad.cpp).
//
//   double norm = nn::utils::clip_grad_norm_(net->parameters(), /*max_norm=*/1.0);
//   nn::utils::clip_grad_value_(net->parameters(), /*clip_value=*/0.5);
#pragma once

#include <vector>

#include "cnnkit/core/tensor.h"

namespace cnnkit {
namespace nn {
namespace utils {

// Scales all gradients by min(1, max_norm / (total_norm + 1e-6)), where total_norm is the
// norm_type-norm of all gradients together (INFINITY: max |g|). Returns total_norm (0 when
// no parameter has a gradient). error_if_nonfinite: ValueError if total_norm is nan/inf.
double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
double clip_grad_norm_(const Tensor& parameter, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// Clamps every gradient element to [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value);
void clip_grad_value_(const Tensor& parameter, double clip_value);

}  // namespace utils
}  // namespace nn
}  // namespace cnnkit
