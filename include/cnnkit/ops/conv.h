// 2-d convolution on oneDNN (forward, backward-data, backward-weights), with PyTorch's
// semantics (torch::conv2d). N = batch, C = channels, H, W = height, width.
#pragma once

#include <array>
#include <string_view>
#include <type_traits>

#include "cnnkit/core/tensor.h"

namespace cnnkit {

// input (N, C_in, H, W) or unbatched (C_in, H, W); weight (C_out, C_in/groups, kH, kW);
// bias (C_out) or undefined. Symmetric zero padding.
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

// The general form every conv2d goes through: zero padding given per side
// (pad_tl = {top, left}, pad_br = {bottom, right}), so "same" with even kernels works.
Tensor conv2d_padded(const Tensor& input, const Tensor& weight, const Tensor& bias,
                     std::array<int64_t, 2> stride, std::array<int64_t, 2> pad_tl,
                     std::array<int64_t, 2> pad_br, std::array<int64_t, 2> dilation, int64_t groups);

}  // namespace cnnkit
