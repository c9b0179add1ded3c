// Winograd convolution, forward, backward-data and backward-weights: 3x3, stride 1, no
// dilation, one group, between tensors in oneDNN's channel-blocked layouts, where oneDNN runs
// a direct convolution: nChw8c on AVX2 (which has no Winograd kernel in oneDNN) and nChw16c on
// AVX-512 (`block`, 8 or 16, below). An (m + 2) x (m + 2) input tile gives
// an m x m output tile:
//   V = Bt d B (input tile), U = G g Gt (weights), M = V .* U summed over input channels
//   ((m + 2)^2 small matrix products), Y = At M A (output tile).
// Two tile sizes (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016):
//   F(2x2, 3x3): 16 products for 4 outputs, 2.25 times fewer multiplications than direct;
//   F(4x4, 3x3): 36 products for 16 outputs, 4 times fewer, with larger transforms and
//     rounding: its points are 0, 1, -1, 1/2, -2 (not the usual 0, +-1, +-2, whose 5 and 8
//     in the transforms cost three times the error; Barabasz et al., "Error analysis and
//     improving the accuracy of Winograd convolution for deep neural networks", 2020).
// The sums are the direct convolution's, regrouped: results differ from it by rounding only
// (tests/ops/winograd_test.cpp bounds both against a double-precision reference).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/conv.h"

namespace cnnkit::kernels::winograd {

// Whether a convolution of shape s may run here between tensors blocked by `block` channels
// (8: nChw8c, 16: nChw16c); its forward, and in training its three passes: 3x3, stride 1,
// dilation 1, groups 1, padding at most 2 a side, channels in and out multiples of the block,
// a CPU with the block's instructions (8: AVX2 and FMA, 16: AVX-512), and not turned off
// (CNNKIT_WINOGRAD=0, or set_enabled(false)). The caller also checks that oneDNN chose that
// layout for both sides.
bool supported(const Conv2dShape& s, int block);
bool enabled();
void set_enabled(bool on);  // for tests and benchmarks; the default comes from CNNKIT_WINOGRAD
uint64_t calls();           // convolutions run here since start (tests)

// The output tile m (2 or 4) for shape s, unless set_tile says otherwise: the one with fewer
// element-wise products over the output, F(2x2) on a tie (4 for ResNet-20's 32x32, 16x16
// and 8x8 maps, where F(4x4, 3x3) measured faster at batch 1 and 64, its 16-channel layers
// included: docs/performance.md; 2 for outputs of 2x2 or 5x5). CNNKIT_WINOGRAD=2 or =4 sets
// one tile for all; set_tile(0) returns to the choice.
int tile_for(const Conv2dShape& s);
void set_tile(int m);  // 0 (automatic), 2 or 4; for tests and benchmarks

// The weights g (C_out, C_in, 3, 3) prepared for tile m: U = G g Gt, laid out
// [(m + 2)^2][C_in][C_out], and g itself as [C_in][9][C_out] for the tiles computed again
// directly (conv3x3).
struct Weights {
  int m = 0;
  int64_t C_in = 0, C_out = 0;
  std::vector<float> U;
  std::vector<float> direct;
  bool finite = true;  // every weight finite; when not, leave the convolution to oneDNN
};
Weights transform_weights(const float* weight, int64_t C_out, int64_t C_in, int m);
// The same into w, whose buffers are reused (no allocation once they are large enough): a
// training step transforms its weights at every pass. `flipped` prepares the weights of the
// backward-data convolution instead (backward_data_shape): g'(c, k) = g(k, c) turned 180
// degrees, C_in and C_out swapped.
void transform_weights_into(Weights& w, const float* weight, int64_t C_out, int64_t C_in, int m,
                            bool flipped = false);

// The backward-data pass of shape s (3x3, stride 1, padding at most 2) is itself such a
// convolution: grad_in = conv(grad_out, flipped weights) with padding 2 - p on each side.
// Its shape: grad_out (N, C_out, H_out, W_out) in, grad_in (N, C_in, H, W) out.
Conv2dShape backward_data_shape(const Conv2dShape& s);

// G of tile m, (m + 2) x 3 doubles, row-major (winograd.cpp has the matrices).
const double* g_matrix(int m);

// dst (N, C_out/B, H_out, W_out, B) = conv(src (N, C_in/B, H, W, B)) + bias (C_out, or
// null) + residual (dst's shape and layout, or null; it may be dst itself), then
// max(0, .) when `relu`, NaN kept as PyTorch's relu keeps it. w from transform_weights, with
// w.finite and a finite bias (the caller checks: with a NaN weight every tile would be
// computed twice).
// Runs on the calling thread's team (parallel_for over tile blocks). Rounding aside, the
// direct convolution's values. Non-finite values are the direct convolution's too: the
// transforms spread a NaN or an infinity in the input over its whole output tile (Inf - Inf),
// so a tile whose convolution comes out non-finite is computed again directly (a vectorised
// loop over w.direct, a few times slower than the transforms: for abnormal inputs only).
// B = block, with supported(s, block).
// moments, when not null, also receives the per-channel mean and biased variance of dst as
// it is written (ChannelMoments, kernels/conv.h: data = dst): each tile's moments from its
// values in registers (mean, then squared deviations from it), merged per block of tiles in
// float and across blocks in block order in double (Chan et al.), so the same for any thread
// count. Left with data = null when a tile was computed again directly.
void conv3x3(const float* src, const Weights& w, const float* bias, const float* residual, bool relu, float* dst,
             const Conv2dShape& s, int block, ChannelMoments* moments = nullptr);

// The weight gradient of shape s (supported(s, block)) by the same tiles: with V = Bt x B the input
// tiles and Z = At dy A the output gradient's tiles turned back into the transformed domain
// (the transpose of the output transform), dU = sum over tiles of Z .* V, summed over the
// (m + 2)^2 points by products C_in x tiles x C_out, and dW = Gt dU G. 4x fewer
// multiplications than the direct sum with F(4x4, 3x3).
//   src (N, C_in/B, H, W, B), grad_out (N, C_out/B, H_out, W_out, B), B = block;
//   grad_weight (C_out, C_in, 3, 3) plain; grad_bias (C_out) or null: sum of grad_out.
// Returns false, with the outputs unspecified, when a gradient is not finite: the transforms
// spread a NaN or an infinity over all nine taps of its channels (Inf - Inf), where the direct
// sum puts it in the taps that meet it, so the caller computes such a gradient again directly.
// Runs on the calling thread's team; each thread sums its share of the tiles apart, in a fixed
// order (float over at most 256 tiles, then double), so a thread count gives the same bits
// every time.
// Which training convolutions take their weight gradient from weight_grad, and by which tile
// (CNNKIT_WINOGRAD_WGRAD):
//   automatic (unset): F(2x2, 3x3) on nChw8c (AVX2) where the output channels fill two vectors
//     (C_out >= 16: the products' register block, 6 x 2W), else none. Its transforms hold only
//     0, +-1 and 1/2, and its float sums run over at most 256 tiles (1024 outputs, as the
//     direct kernel's) before going to double: closer to the exact sums than oneDNN's direct
//     ones (winograd_training_test.cpp) at 2.25x fewer multiplications. On nChw16c (AVX-512)
//     it measured no faster than oneDNN's kernel on 32 and 64 channels (a ResNet-20 step 1.02x
//     at 1 thread, 0.97x at 2; docs/performance.md) and slower than wgrad3x3's on 16;
//   never (=0): none;
//   always (=1): every supported shape, by tile_for's tile (F(4x4, 3x3) on ResNet-20's maps, 4x
//     fewer multiplications): less exact, as F(4x4, 3x3) rounds each transformed product to
//     float with factors up to 8: 2-8x the direct sum's error (docs/performance.md).
enum class WeightGrad { automatic, never, always };
WeightGrad weight_grad_use();
void set_weight_grad_use(WeightGrad use);
// The tile weight_grad takes for shape s between tensors blocked by `block` channels under the
// current setting, or 0 where the weight gradient is not computed here.
int weight_grad_tile(const Conv2dShape& s, int block);
// The weight gradient by tile m (2 or 4).
bool weight_grad(const float* src, const float* grad_out, float* grad_weight, float* grad_bias, const Conv2dShape& s,
                 int block, int m);

}  // namespace cnnkit::kernels::winograd
