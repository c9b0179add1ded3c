// 2-d pooling with PyTorch's semantics (torch::max_pool2d, avg_pool2d, adaptive pools):
// ceil_mode, count_include_pad, divisor_override; (N, C, H, W) or unbatched (C, H, W).
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

}  // namespace cnnkit
