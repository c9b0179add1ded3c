// 2-d pooling with PyTorch's semantics (torch::max_pool2d, avg_pool2d, adaptive pools):
// ceil_mode, count_include_pad, divisor_override; (N, C, H, W) or unbatched (C, H, W). The
// 1-d pools over (N, C, L) at the end.
//
//   auto y = cnnkit::max_pool2d(x, 2);                          // (N, C, H/2, W/2)
//   auto [m, idx] = cnnkit::max_pool2d_with_indices(x, 3, 2, 1);  // idx: flat h*W+w, int64
//   auto g = cnnkit::adaptive_avg_pool2d(x, 1);                 // global average (N, C, 1, 1)
//
// Intended usage: nn::MaxPool2d / AvgPool2d / AdaptiveAvgPool2d / AdaptiveMaxPool2d and
// nn::functional call these. Output sizes follow PyTorch's pooling_output_shape (ceil_mode:
// the last window must start inside the input or the left padding); adaptive windows are
// [floor(i*H/out), ceil((i+1)*H/out)). Every op has its backward; indices are never
// differentiable.
#pragma once

#include <optional>
#include <tuple>

#include "cnnkit/core/tensor.h"

namespace cnnkit {

// stride empty = kernel_size (PyTorch's default).
Tensor max_pool2d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride = {},
                  IntArrayRef padding = 0, IntArrayRef dilation = 1, bool ceil_mode = false);
// indices are flat positions in each (H, W) plane, as PyTorch returns them.
std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, IntArrayRef kernel_size,
                                                   IntArrayRef stride = {}, IntArrayRef padding = 0,
                                                   IntArrayRef dilation = 1, bool ceil_mode = false);
Tensor avg_pool2d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride = {},
                  IntArrayRef padding = 0, bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);
Tensor adaptive_avg_pool2d(const Tensor& input, IntArrayRef output_size);
std::tuple<Tensor, Tensor> adaptive_max_pool2d(const Tensor& input, IntArrayRef output_size);

// 1-d pooling (torch::max_pool1d, avg_pool1d, adaptive pools): input (N, C, L) or unbatched
// (C, L); kernel_size, stride, padding, dilation one value each. The 2-d pools of a height-1
// image, checked in 1-d terms first; indices are positions along L.
Tensor max_pool1d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride = {}, IntArrayRef padding = 0,
                  IntArrayRef dilation = 1, bool ceil_mode = false);
std::tuple<Tensor, Tensor> max_pool1d_with_indices(const Tensor& input, IntArrayRef kernel_size,
                                                   IntArrayRef stride = {}, IntArrayRef padding = 0,
                                                   IntArrayRef dilation = 1, bool ceil_mode = false);
Tensor avg_pool1d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride = {}, IntArrayRef padding = 0,
                  bool ceil_mode = false, bool count_include_pad = true);
Tensor adaptive_avg_pool1d(const Tensor& input, IntArrayRef output_size);
std::tuple<Tensor, Tensor> adaptive_max_pool1d(const Tensor& input, IntArrayRef output_size);

}  // namespace cnnkit
