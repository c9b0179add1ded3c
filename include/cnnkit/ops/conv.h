// 2-d convolution on oneDNN (forward, backward-data, backward-weights), with PyTorch's
// semantics (torch::conv2d), and the 1-d convolution on top of it. N = batch, C = channels,
// H, W = height, width, L = length.
//
//   auto x = cnnkit::randn({8, 3, 32, 32});
//   auto w = cnnkit::randn({16, 3, 3, 3}, cnnkit::requires_grad());
//   auto y = cnnkit::conv2d(x, w, {}, /*stride=*/1, /*padding=*/1);   // (8, 16, 32, 32)
//   auto z = cnnkit::conv2d(x, w, {}, 1, "same");                     // same size, any kernel
//
// Intended usage: nn::Conv2d and nn::functional::conv2d call these; every form ends in
// conv2d_padded. The backward computes only the gradients that are needed (no input
// gradient for a first layer). Which kernel runs each pass is chosen once per shape by the
// kernels layer (CNNKIT_VERBOSE=1 prints the choice and oneDNN's implementation).
#pragma once

#include <array>
#include <string_view>
#include <type_traits>

#include "cnnkit/core/tensor.h"

namespace cnnkit {

// torch.nn.functional.conv2d: input (N, C_in, H, W) or unbatched (C_in, H, W); weight
// (C_out, C_in/groups, kH, kW); bias (C_out) or undefined; stride, padding, dilation one value
// or (h, w). Symmetric zero padding. Output (N, C_out, H_out, W_out) with
// H_out = floor((H + 2*pad - dilation*(kH-1) - 1) / stride) + 1.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {},
              IntArrayRef stride = 1, IntArrayRef padding = 0, IntArrayRef dilation = 1,
              int64_t groups = 1);
// padding "same" (output H, W = input H, W; only for stride 1, as PyTorch: total padding
// d*(k-1) per dim, the odd one at the bottom/right) or "valid" (no padding).
// A template so that a padding of 0 or {0, 1} can only mean the IntArrayRef overload above
// (with a plain `const std::string&` parameter both calls would be ambiguous).
namespace detail {
Tensor conv2d_padding_mode(const Tensor& input, const Tensor& weight, const Tensor& bias,
                           IntArrayRef stride, std::string_view padding, IntArrayRef dilation,
                           int64_t groups);
}
template <typename S, std::enable_if_t<std::is_convertible_v<const S&, std::string_view>, int> = 0>
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride,
              const S& padding, IntArrayRef dilation = 1, int64_t groups = 1) {
  return detail::conv2d_padding_mode(input, weight, bias, stride, padding, dilation, groups);
}

// torch.nn.functional.conv1d: input (N, C_in, L) or unbatched (C_in, L); weight
// (C_out, C_in/groups, k); stride, padding, dilation one value. Computed as conv2d of a
// height-1 image (views: gradients flow to input, weight and bias as through conv2d).
// L_out = floor((L + 2*pad - dilation*(k-1) - 1) / stride) + 1.
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArrayRef stride = 1,
              IntArrayRef padding = 0, IntArrayRef dilation = 1, int64_t groups = 1);
namespace detail {
Tensor conv1d_padding_mode(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride,
                           std::string_view padding, IntArrayRef dilation, int64_t groups);
}
// padding "same" or "valid", as conv2d's.
template <typename S, std::enable_if_t<std::is_convertible_v<const S&, std::string_view>, int> = 0>
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride,
              const S& padding, IntArrayRef dilation = 1, int64_t groups = 1) {
  return detail::conv1d_padding_mode(input, weight, bias, stride, padding, dilation, groups);
}

// The general form every conv2d goes through: zero padding given per side
// (pad_tl = {top, left}, pad_br = {bottom, right}), so "same" with even kernels works.
Tensor conv2d_padded(const Tensor& input, const Tensor& weight, const Tensor& bias,
                     std::array<int64_t, 2> stride, std::array<int64_t, 2> pad_tl,
                     std::array<int64_t, 2> pad_br, std::array<int64_t, 2> dilation, int64_t groups);

// Inference-time fusion (models::optimize_for_inference builds on it): relu?(conv2d(input,
// weight, bias, ...) + residual?) as one oneDNN primitive with a sum post-op, the residual
// (undefined: none) added before the ReLU, which runs on the result in the same call (NaN
// stays NaN, as in relu). Without autograd only; when a gradient is
// needed it runs the ops as written (conv2d, add, relu), so the result is always theirs.
Tensor conv2d_fused(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride,
                    IntArrayRef padding, IntArrayRef dilation, int64_t groups, const Tensor& residual,
                    bool relu);

// torch.nn.functional.conv_transpose2d: the gradient of conv2d with respect to its input, as a
// layer. input (N, C_in, H, W) or unbatched (C_in, H, W); weight (C_in, C_out/groups, kH, kW);
// bias (C_out) or undefined. Output (N, C_out, H_out, W_out) with
// H_out = (H - 1)*stride - 2*padding + dilation*(kH - 1) + output_padding + 1, and
// output_padding smaller than stride or dilation (PyTorch's rule).
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArrayRef stride = 1,
                        IntArrayRef padding = 0, IntArrayRef output_padding = 0, int64_t groups = 1,
                        IntArrayRef dilation = 1);

namespace kernels {
class PackedWeights;
}
namespace detail {
// conv2d_fused whose weights the caller promises never to change while `packed` caches them in
// the primitive's own layout (null: reordered at every call, as conv2d_fused does).
Tensor conv2d_fused_packed(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride,
                           IntArrayRef padding, IntArrayRef dilation, int64_t groups, const Tensor& residual,
                           bool relu, kernels::PackedWeights* packed);
}  // namespace detail

}  // namespace cnnkit
