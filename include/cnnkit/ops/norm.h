// Normalisation ops with PyTorch's semantics: batch norm (train: batch statistics and a
// running-stat update with unbiased variance; eval: running statistics), layer, group and
// instance norm. C = channels; input (N, C, *).
#pragma once

#include "cnnkit/core/tensor.h"

namespace cnnkit {

// running_mean / running_var may be undefined (track_running_stats=false); when defined
// and training, they are updated in place: r = (1 - momentum) r + momentum stat.
Tensor batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum, double eps, bool cudnn_enabled = false);
Tensor layer_norm(const Tensor& input, IntArrayRef normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5, bool cudnn_enable = false);
Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5, bool cudnn_enabled = false);
Tensor instance_norm(const Tensor& input, const Tensor& weight, const Tensor& bias,
                     const Tensor& running_mean, const Tensor& running_var, bool use_input_stats,
                     double momentum, double eps, bool cudnn_enabled = false);

}  // namespace cnnkit
