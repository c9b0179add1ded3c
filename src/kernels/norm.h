// Normalisation kernels over contiguous float buffers: batch, layer and group norm (instance
// norm is group norm with one channel a group), forward and backward, and the running-stat
// update. Each forward computes its statistics and applies them in one sweep per channel,
// row or group, so the second and third reads hit cache. No Tensor, no shape checks, no
// autograd here: ops/norm.cpp validates, allocates and records.
//
// N = batch, C = channels, S = spatial size (product of the dims after C), G = groups,
// M = rows, K = row length (layer norm: K = prod(normalized_shape)).
//
// Backward kernels WRITE their gradients (=), they do not accumulate: the autograd engine
// sums the tensors the backward returns, so accumulating here would only cost a zero-fill.
// Any gradient pointer may be null (nobody needs it); weight/bias may be null (affine=false,
// read as 1 and 0). Sums run in float SIMD blocks that are added in double.
#pragma once

#include <cstdint>
#include <memory>
#include "kernels/onednn_fwd.h"

namespace cnnkit::kernels {

// ---- batch norm: statistics per channel over (N, S) -------------------------------------

// Training forward: mean[c], var[c] (biased) of x over (N, S), and
// y = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c].
// y, x: (N, C, S); mean, var, weight, bias: (C).
void batch_norm_forward_train(float* y, float* mean, float* var, const float* x,
                              const float* weight, const float* bias, double eps, int64_t N,
                              int64_t C, int64_t S);

// Forward with given statistics (eval: the running ones): the same y as above.
void batch_norm_forward_eval(float* y, const float* x, const float* mean, const float* var,
                             const float* weight, const float* bias, double eps, int64_t N,
                             int64_t C, int64_t S);

// With rstd = 1 / sqrt(var + eps) and xhat = (x - mean) * rstd:
//   dweight[c] = sum dy * xhat,  dbias[c] = sum dy  (sums over N, S)
//   batch_stats (training; mean and var came from x):
//     dx = weight * rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
//   otherwise (eval; mean and var are constants): dx = dy * weight * rstd
void batch_norm_backward(float* dx, float* dweight, float* dbias, const float* dy,
                         const float* x, const float* mean, const float* var,
                         const float* weight, double eps, bool batch_stats, int64_t N,
                         int64_t C, int64_t S);

// r = (1 - momentum) r + momentum * stat, per channel, where stat is the mean over
// `instances` of mean (instances, C) for running_mean, and of the unbiased variance
// var * count / (count - 1) for running_var (var is biased, over `count` values each).
// Batch norm: instances = 1, count = N * S. Instance norm: instances = N, count = S.
// Either running pointer may be null. Needs count > 1.
void update_running_stats(float* running_mean, float* running_var, const float* mean,
                          const float* var, int64_t instances, int64_t C, int64_t count,
                          double momentum);

// ---- batch norm on a kept oneDNN layout (kernels/onednn.h) -------------------------------
// oneDNN's batch normalization (jit, blocked layouts) on an input already in oneDNN's layout,
// where the loops above would first need a reorder to plain NCHW. Same formulas and the same
// null conventions as above; x is (N, C, H, W) in its layout.

// *y = a new layout like x's. training: mean, var (biased) written from x; else read.
void batch_norm_forward_onednn(onednn::LayoutPtr* y, float* mean, float* var,
                               const onednn::Layout& x, const float* weight, const float* bias,
                               double eps, bool training);
// dx, if non-null, receives a new layout like x's; dy is plain NCHW or any layout.
void batch_norm_backward_onednn(onednn::LayoutPtr* dx, float* dweight, float* dbias,
                                const onednn::Operand& dy, const onednn::Layout& x,
                                const float* mean, const float* var, const float* weight,
                                const float* bias, double eps, bool batch_stats);

// ---- batch norm + (residual) + ReLU on a channel-blocked buffer (kernels/norm_blocked_impl.h) --
// x, y, residual, dy, dx, dresidual: nChw{block}c buffers of (N, C, S), block 8 or 16,
// C % block == 0 (batch_norm_relu_blocked_supported: AVX2 + FMA; nChw16c in AVX-512 vectors where
// the CPU has them). Training statistics only.
//   y = relu(x * scale[c] + shift[c] + residual), NaN kept, where
//   scale = weight * rstd, shift = bias - mean * scale (batch_norm_relu_coefficients, in double).
// One read of x for the statistics, one read of x (and the residual) and a write of y for the
// output: the unfused ops read and write the activation three more times.

bool batch_norm_relu_blocked_supported(int64_t C, int block);

void batch_norm_relu_coefficients(float* scale, float* shift, const float* mean, const float* var,
                                  const float* weight, const float* bias, double eps, int64_t C);

// mean, var (biased), scale, shift: (C), written; with moments_given, mean and var are read
// instead: x's statistics, already taken (kernels/conv.h's ChannelMoments), and x is read
// once only. residual may be null.
void batch_norm_relu_forward_blocked(float* y, float* mean, float* var, float* scale, float* shift,
                                     const float* x, const float* residual, const float* weight,
                                     const float* bias, double eps, int64_t N, int64_t C, int64_t S,
                                     int block, bool moments_given = false);

// g = dy where y > 0 or y is NaN, else 0 (PyTorch's relu backward). y is read when not null
// (needed with a residual); without it the forward's z = x * scale + shift is recomputed,
// bit for bit. dresidual, when not null, receives g; dx the batch norm's input gradient
// (training formula, as batch_norm_backward); dweight, dbias: sum g xhat, sum g. Any output
// may be null.
void batch_norm_relu_backward_blocked(float* dx, float* dresidual, float* dweight, float* dbias,
                                      const float* dy, const float* x, const float* y,
                                      const float* mean, const float* var, const float* scale,
                                      const float* shift, const float* weight, double eps,
                                      int64_t N, int64_t C, int64_t S, int block);

// ---- layer norm: statistics per row of K ------------------------------------------------

// mean[m], rstd[m] = 1 / sqrt(var + eps) of each row, and
// y = (x - mean[m]) * rstd[m] * weight[k] + bias[k].  y, x: (M, K); weight, bias: (K).
void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* weight,
                        const float* bias, double eps, int64_t M, int64_t K);

// With xhat = (x - mean) * rstd and g = dy * weight:
//   dx = rstd * (g - mean_k(g) - xhat * mean_k(g * xhat)),
//   dweight[k] = sum_m dy * xhat,  dbias[k] = sum_m dy.
void layer_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                         const float* mean, const float* rstd, const float* weight, int64_t M,
                         int64_t K);

// ---- group norm: statistics per (n, g) over C / G channels x S ---------------------------

// mean, rstd: (N, G); var (N, G), biased, written when not null (instance norm's running
// stats need it). y = (x - mean[n, g]) * rstd[n, g] * weight[c] + bias[c] for c in group g.
void group_norm_forward(float* y, float* mean, float* rstd, float* var, const float* x,
                        const float* weight, const float* bias, double eps, int64_t N, int64_t C,
                        int64_t S, int64_t G);

// Per group, with K = C / G * S, xhat and g = dy * weight[c] as above:
//   dx = rstd * (g - mean_group(g) - xhat * mean_group(g * xhat)),
//   dweight[c] = sum_{n, s} dy * xhat,  dbias[c] = sum_{n, s} dy.
void group_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                         const float* mean, const float* rstd, const float* weight, int64_t N,
                         int64_t C, int64_t S, int64_t G);

}  // namespace cnnkit::kernels
