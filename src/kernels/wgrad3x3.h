// The weight gradient of a 3x3 stride-1 convolution between nChw8c tensors (AVX2 + FMA), by
// direct sums: the pass of ResNet-style training that the Winograd kernel (winograd.h) leaves
// to oneDNN by default.
//
//   dW[k][c][r][s] = sum over n, oh, ow of dy[n][k][oh][ow] x[n][c][oh + r - pt][ow + s - pl]
//   db[k]          = sum over n, oh, ow of dy[n][k][oh][ow]
//
// Each product goes into its float sum by a fused multiply-add, as in oneDNN's direct
// convolution; those sums run over at most 1024 outputs (one row, if a row is longer), then go
// to double: no less accurate than oneDNN's float sums, which is what PyTorch computes on the
// CPU (the conv2d goldens hold it to 1e-5 of PyTorch). NaN and
// infinities reach the sums they enter, as in any direct sum.
#pragma once

#include <cstdint>

#include "kernels/conv.h"

namespace cnnkit::kernels::wgrad3x3 {

// Whether the kernel computes shape s: 3x3, stride 1, no dilation, one group, channels in
// multiples of 8, padding at most 2 on each side, on a CPU with AVX2 and FMA; and whether it
// is on (CNNKIT_WGRAD3X3=0 or set_enabled(false) leaves the pass to oneDNN).
bool supported(const Conv2dShape& s);
bool enabled();
void set_enabled(bool on);
uint64_t calls();  // weight gradients computed since the process started (for tests)

// src (N, C_in/8, H, W, 8), grad_out (N, C_out/8, H_out, W_out, 8) -> grad_weight
// (C_out, C_in, 3, 3) and grad_bias (C_out, or null), plain. Runs on the calling thread's team
// (images split over the threads, each thread's sums added in thread order: a given thread
// count gives the same bits every run).
void weight_grad_nChw8c(const float* src, const float* grad_out, float* grad_weight, float* grad_bias,
                        const Conv2dShape& s);

}  // namespace cnnkit::kernels::wgrad3x3
