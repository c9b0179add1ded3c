// Conv2d (torch::nn::Conv2d): weight (C_out, C_in / groups, kH, kW), optional bias (C_out),
// PyTorch's default initialisation (kaiming_uniform_ with a = sqrt(5); bias uniform in
// +-1/sqrt(fan_in)). padding_mode other than kZeros pads the input with F::pad first and
// then convolves without padding, as PyTorch does. N = batch, C = channels.
//   nn::Conv2d conv(nn::Conv2dOptions(3, 64, 3).stride(1).padding(1).bias(false));
//   Tensor y = conv(x);   // x (N, 3, H, W) -> (N, 64, H, W)
#pragma once

#include <optional>
#include <ostream>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/cloneable.h"
#include "cnnkit/nn/options/conv.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit {
namespace nn {

// Conv1d (torch::nn::Conv1d): weight (C_out, C_in / groups, k), bias (C_out); the options,
// defaults, initialisation and padding modes of Conv2d over one spatial dimension, computed
// as the 2-d convolution of a height-1 image. L = length.
//   nn::Conv1d conv(nn::Conv1dOptions(12, 32, 5).padding(2));
//   conv(x);   // x (N, 12, L) -> (N, 32, L)
class Conv1dImpl : public Cloneable<Conv1dImpl> {
 public:
  Conv1dImpl(int64_t input_channels, int64_t output_channels, ExpandingArray<1> kernel_size)
      : Conv1dImpl(Conv1dOptions(input_channels, output_channels, kernel_size)) {}
  explicit Conv1dImpl(Conv1dOptions options_);

  void reset() override;
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  // input (N, C_in, L) or unbatched (C_in, L).
  Tensor forward(const Tensor& input);

  Conv1dOptions options;
  Tensor weight;  // (C_out, C_in / groups, k)
  Tensor bias;    // (C_out) or undefined
  // Padding per side (left, right), for F::pad when padding_mode is not kZeros.
  std::vector<int64_t> _reversed_padding_repeated_twice;
};
CNNKIT_MODULE(Conv1d);

class Conv2dImpl : public Cloneable<Conv2dImpl> {
 public:
  Conv2dImpl(int64_t input_channels, int64_t output_channels, ExpandingArray<2> kernel_size)
      : Conv2dImpl(Conv2dOptions(input_channels, output_channels, kernel_size)) {}
  explicit Conv2dImpl(Conv2dOptions options_);

  void reset() override;
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  // input (N, C_in, H, W) or unbatched (C_in, H, W).
  Tensor forward(const Tensor& input);

  Conv2dOptions options;
  Tensor weight;  // (C_out, C_in / groups, kH, kW)
  Tensor bias;    // (C_out) or undefined
  // Padding per side, last dim first, for F::pad when padding_mode is not kZeros.
  std::vector<int64_t> _reversed_padding_repeated_twice;

 protected:
  Tensor _conv_forward(const Tensor& input, const Tensor& w);
};
CNNKIT_MODULE(Conv2d);

// ConvTranspose2d (torch::nn::ConvTranspose2d): weight (C_in, C_out / groups, kH, kW), bias
// (C_out), PyTorch's initialisation (kaiming_uniform_ a = sqrt(5) with fan_in from the
// weight's dim 1, as PyTorch computes it). forward(x, output_size) picks output_padding so
// that the output has that size (H, W, or N, C, H, W).
//   nn::ConvTranspose2d up(nn::ConvTranspose2dOptions(16, 8, 3).stride(2).padding(1).output_padding(1));
//   up(x);   // (N, 16, 7, 7) -> (N, 8, 14, 14)
class ConvTranspose2dImpl : public Cloneable<ConvTranspose2dImpl> {
 public:
  ConvTranspose2dImpl(int64_t input_channels, int64_t output_channels, ExpandingArray<2> kernel_size)
      : ConvTranspose2dImpl(ConvTranspose2dOptions(input_channels, output_channels, kernel_size)) {}
  explicit ConvTranspose2dImpl(ConvTranspose2dOptions options_);

  void reset() override;
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  Tensor forward(const Tensor& input, const std::optional<std::vector<int64_t>>& output_size = std::nullopt);

  ConvTranspose2dOptions options;
  Tensor weight;  // (C_in, C_out / groups, kH, kW)
  Tensor bias;    // (C_out) or undefined

 protected:
  // The output_padding that gives `output_size` (PyTorch's _output_padding), or the options'.
  std::vector<int64_t> _output_padding(const Tensor& input, const std::optional<std::vector<int64_t>>& output_size);
};
CNNKIT_MODULE(ConvTranspose2d);

}  // namespace nn
}  // namespace cnnkit
