// The positional forms of nn::functional that the layers call (as LibTorch's F::detail),
// so a forward pass builds no options object. Not installed: included as
// "nn/functional_internal.h" by src/nn only.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/functional.h"

namespace cnnkit {
namespace nn {
namespace functional {

namespace detail {
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, ExpandingArray<1> stride,
              const nn::detail::conv_padding_t<1>& padding, ExpandingArray<1> dilation, int64_t groups);
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, ExpandingArray<2> stride,
              const nn::detail::conv_padding_t<2>& padding, ExpandingArray<2> dilation, int64_t groups);
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, std::optional<double> momentum,
                  double eps);
Tensor instance_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                     const Tensor& weight, const Tensor& bias, bool use_input_stats, double momentum,
                     double eps);
Tensor dropout(Tensor input, double p, bool training, bool inplace);
Tensor dropout2d(Tensor input, double p, bool training, bool inplace);
// The output size of an adaptive pool with nullopt entries filled from the input.
std::vector<int64_t> adaptive_output_size(const Tensor& input, const OptionalExpandingArray<2>& output_size,
                                          const char* fn);
}  // namespace detail

}  // namespace functional
}  // namespace nn
}  // namespace cnnkit
