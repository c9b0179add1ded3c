// Normalisation ops with PyTorch's semantics: batch norm (train: batch statistics and a
// running-stat update with unbiased variance; eval: running statistics), layer, group and
// instance norm. C = channels; input (N, C, *).
#pragma once

#include "cnnkit/core/tensor.h"

namespace cnnkit {

namespace kernels {
struct ChannelMoments;
}

// running_mean / running_var may be undefined (track_running_stats=false); when defined
// and training, they are updated in place: r = (1 - momentum) r + momentum stat.
Tensor batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum, double eps, bool cudnn_enabled = false);
// relu(batch_norm(input, ...) + residual) (residual undefined: relu(batch_norm(...))), with
// batch_norm's arguments and checks; not a PyTorch op. What BasicBlock and a Sequential's
// BatchNorm2d followed by ReLU call (nn::BatchNorm2d::forward_relu). In training, on a
// convolution's output kept in oneDNN's nChw8c / nChw16c layout (a residual, if any, in the
// same layout), it runs as one kernel: statistics in one read of the input, the output in one
// more, and a backward that recomputes the ReLU's mask from the input (kernels/norm.h); its
// grad_fn is "BatchNormReluBackward0". Anywhere else it runs the three ops as written.
Tensor batch_norm_relu(const Tensor& input, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, bool training,
                       double momentum, double eps, const Tensor& residual = {});
namespace detail {
// A convolution followed by batch_norm_relu, in training: while a scope lives on the calling
// thread, a convolution whose forward runs in the Winograd kernel (kernels/winograd.h) into
// a kept layout takes its output's per-channel mean and variance as it writes it, and a
// batch_norm_relu on that very output (the same buffer, next) uses them instead of reading
// the output once more for its statistics; the values agree with the unscoped path's to
// rounding (both are Chan et al.'s merge of exact two-pass chunk moments). BasicBlock and
// Sequential (Conv2d then BatchNorm2d) open one around the pair, with nothing between the two.
// Scopes nest; each takes a slot of a per-thread pool (no allocation once the pool is warm).
class ConvBatchNormScope {
 public:
  ConvBatchNormScope();
  ~ConvBatchNormScope();
  ConvBatchNormScope(const ConvBatchNormScope&) = delete;
  ConvBatchNormScope& operator=(const ConvBatchNormScope&) = delete;

 private:
  kernels::ChannelMoments* previous_;  // the enclosing scope's, restored at the end
};
// batch_norm_relu calls that took their statistics from a convolution since the process
// started (tests).
uint64_t batch_norm_moments_taken();
}  // namespace detail

Tensor layer_norm(const Tensor& input, IntArrayRef normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5, bool cudnn_enable = false);
Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5, bool cudnn_enabled = false);
Tensor instance_norm(const Tensor& input, const Tensor& weight, const Tensor& bias,
                     const Tensor& running_mean, const Tensor& running_var, bool use_input_stats,
                     double momentum, double eps, bool cudnn_enabled = false);

}  // namespace cnnkit
