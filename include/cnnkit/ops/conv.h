// 2-d convolution on oneDNN (forward, backward-data, backward-weights), with PyTorch's
// semantics (torch::conv2d). N = batch, C = channels, H, W = height, width.
#pragma once

#include <array>
#include <string>

#include "cnnkit/core/tensor.h"

namespace cnnkit {

// input (N, C_in, H, W) or unbatched (C_in, H, W); weight (C_out, C_in/groups, kH, kW);
// bias (C_out) or undefined. Symmetric zero padding.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {},
              IntArrayRef stride = 1, IntArrayRef padding = 0, IntArrayRef dilation = 1,
              int64_t groups = 1);
// padding "same" (output H, W = ceil(H/stride)... only for stride 1, as PyTorch) or "valid".
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride,
              const std::string& padding, IntArrayRef dilation = 1, int64_t groups = 1);

// The general form every conv2d goes through: zero padding given per side
// (pad_lr = {top, left}, pad_rb = {bottom, right}), so "same" with even kernels works.
Tensor conv2d_padded(const Tensor& input, const Tensor& weight, const Tensor& bias,
                     std::array<int64_t, 2> stride, std::array<int64_t, 2> pad_tl,
                     std::array<int64_t, 2> pad_br, std::array<int64_t, 2> dilation, int64_t groups);

}  // namespace cnnkit
