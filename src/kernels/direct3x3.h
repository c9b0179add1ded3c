// A direct 3x3 stride-1 convolution between channel-blocked tensors (nChw16c with AVX-512,
// nChw8c with AVX2 + FMA): the forward and backward-data passes that oneDNN's direct kernels
// would otherwise run where the Winograd kernel (winograd.h) does not: nChw16c convolutions
// when that is turned off (CNNKIT_WINOGRAD=0; conv.cpp's CHOICE). On ResNet-20's 16-channel
// stage, with its
// operands in cache it is level with oneDNN's AVX-512 kernel (~1.5 ms a ResNet-20 16-channel
// convolution, about 88% of one core's FMA peak); inside a training step, its operands
// coming from memory, it took 1.5-1.65 ms a call where oneDNN's took 1.8-1.9 (perf samples,
// docs/performance.md).
// Each image's input is copied, zero-padded, into a buffer in L2 first (fetched there while
// the image before it computes), and the output positions of a row are computed from it.
//
//   dst[n][k][oh][ow] = sum over c, r, s of w[k][c][r][s] src[n][c][oh + r - pt][ow + s - pl]
//
// Each product goes into its float sum by a fused multiply-add, in the order (channel block, r,
// s, channel), as oneDNN's direct kernel sums; no transform, so NaN and infinities reach
// exactly the outputs whose taps meet them. The padding is real zeros: the caller keeps
// non-finite weights away (0 x Inf at the border would be NaN where PyTorch skips the tap).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/conv.h"

namespace cnnkit::kernels::direct3x3 {

// Whether shape s runs here between tensors blocked by `block` channels (8: nChw8c, 16:
// nChw16c): 3x3, stride 1, no dilation, one group, channels in multiples of the block, padding
// at most 2 on each side, on a CPU with the block's instructions (8: AVX2 and FMA, 16:
// AVX-512), and not turned off (CNNKIT_DIRECT3X3=0 or set_enabled(false)).
bool supported(const Conv2dShape& s, int block);
bool enabled();
void set_enabled(bool on);  // for tests and benchmarks; the default comes from CNNKIT_DIRECT3X3
uint64_t calls();           // convolutions run here since start (tests)

// The weights (C_out, C_in, 3, 3) laid out for the kernel, [C_out/B][C_in/B][3][3][B c][B k]
// with B = block, into out (resized; no allocation once it is large enough). `flipped`
// prepares the backward-data convolution's instead (winograd::backward_data_shape gives its
// shape: grad_in = conv(grad_out, w'), padding 2 - p a side): w'(c, k) = w(k, c)
// turned 180 degrees, C_in and C_out swapped. Returns whether every weight is finite.
bool pack_weights(std::vector<float>& out, const float* weight, int64_t C_out, int64_t C_in, int block,
                  bool flipped = false);

// dst (N, C_out/B, H_out, W_out, B) = conv(src (N, C_in/B, H, W, B), w) + bias (C_out, or
// null) + residual (dst's shape and layout, or null; it may be dst itself), then max(0, .)
// when `relu` (NaN kept, as PyTorch's relu keeps it). w from pack_weights, finite.
// supported(s, block). Runs on the calling thread's team (images, or bands of rows when there
// are fewer images than twice the threads, split over the threads; each output summed by one
// thread in one order: the same bits at any thread count).
void conv3x3(const float* src, const float* w, const float* bias, const float* residual, bool relu, float* dst,
             const Conv2dShape& s, int block);

}  // namespace cnnkit::kernels::direct3x3
