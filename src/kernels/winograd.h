// Winograd F(2x2, 3x3) for inference convolutions: 3x3, stride 1, no dilation, one group,
// between tensors in oneDNN's nChw8c layout (what oneDNN picks on AVX2 machines, where it has
// no Winograd kernel of its own). A 4x4 input tile gives a 2x2 output tile with 16
// element-wise products instead of 36 multiply-adds, so the 3x3 convolutions of a ResNet do
// 2.25 times fewer multiplications:
//   V = Bt d B (input tile), U = G g Gt (weights, once), M = V .* U summed over input
//   channels (16 small matrix products), Y = At M A (output tile).
// The sums are the direct convolution's, regrouped: results differ from it by rounding only
// (tests/ops/winograd_test.cpp bounds it against a double-precision reference).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/conv.h"

namespace cnnkit::kernels::winograd {

// Whether a no-grad forward of shape s may run here: 3x3, stride 1, dilation 1, groups 1,
// padding at most 2 a side, channels in and out multiples of 8, an AVX2 + FMA CPU, and
// not turned off (CNNKIT_WINOGRAD=0, or set_enabled(false)). The caller also checks that
// oneDNN chose nChw8c for both sides.
bool supported(const Conv2dShape& s);
bool enabled();
void set_enabled(bool on);  // for tests and benchmarks; the default comes from CNNKIT_WINOGRAD
uint64_t calls();           // convolutions run here since start (tests)

// U = G g Gt for weights g (C_out, C_in, 3, 3), laid out [16][C_in][C_out].
std::vector<float> transform_weights(const float* weight, int64_t C_out, int64_t C_in);

// dst (N, C_out/8, H_out, W_out, 8) = conv(src (N, C_in/8, H, W, 8)) + bias (C_out, or
// null) + residual (dst's shape and layout, or null; it may be dst itself), then
// max(0, .) when `relu`, NaN kept as PyTorch's relu keeps it. U from transform_weights.
// Runs on the calling thread's team (parallel_for over tile blocks). Rounding aside, the
// direct convolution's values: a NaN input reaches exactly the outputs whose window holds
// it; an infinite one gives NaN where its window's sum would be infinite (Inf - Inf in the
// transforms).
void conv3x3_nChw8c(const float* src, const float* U, const float* bias, const float* residual, bool relu,
                    float* dst, const Conv2dShape& s);

}  // namespace cnnkit::kernels::winograd
