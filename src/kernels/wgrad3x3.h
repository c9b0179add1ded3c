// The weight gradient of a 3x3 stride-1 convolution between channel-blocked tensors (nChw8c
// with AVX2 + FMA, nChw16c with AVX-512), by direct sums: the pass of ResNet-style training that
// the Winograd kernel (winograd.h) leaves to oneDNN where its F(2x2, 3x3) weight gradient does not
// run (winograd::weight_grad_tile: fewer output channels than two vectors, or turned off).
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

// Whether the kernel computes shape s between tensors blocked by `block` channels (8: nChw8c,
// 16: nChw16c): 3x3, stride 1, no dilation, one group, channels in multiples of the block,
// padding at most 2 on each side, on a CPU with the block's instructions (8: AVX2 and FMA,
// 16: AVX-512).
bool supported(const Conv2dShape& s, int block);

// Where training convolutions take their weight gradient from here rather than from oneDNN:
//   automatic (default, CNNKIT_WGRAD3X3 unset): nChw8c, where it measured 1.2-1.3x oneDNN's
//     AVX2 kernel, and nChw16c with one input channel block (C_in = 16: ResNet-20's first
//     stage), where oneDNN's AVX-512 kernel runs at ~70% of the core's peak against ~96% with
//     more channels and this one, fetching the next image into L2 as it goes, takes ~22% less
//     time in a training step; with more input channels oneDNN's is 10-15% faster
//     (docs/performance.md);
//   always (CNNKIT_WGRAD3X3=1): both layouts;  never (CNNKIT_WGRAD3X3=0): oneDNN.
enum class Use { automatic, always, never };
Use use();
void set_use(Use u);  // for tests and benchmarks
// supported(s, block), and `use()` sends this layout here.
bool runs(const Conv2dShape& s, int block);
uint64_t calls();  // weight gradients computed since the process started (for tests)

// src (N, C_in/B, H, W, B), grad_out (N, C_out/B, H_out, W_out, B), B = block -> grad_weight
// (C_out, C_in, 3, 3) and grad_bias (C_out, or null), plain. Runs on the calling thread's team
// (images split over the threads, each thread's sums added in thread order: a given thread
// count gives the same bits every run).
void weight_grad(const float* src, const float* grad_out, float* grad_weight, float* grad_bias, const Conv2dShape& s,
                 int block);

}  // namespace cnnkit::kernels::wgrad3x3
