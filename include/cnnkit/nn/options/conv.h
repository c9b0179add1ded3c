// Options of convolution layers and of F::conv2d / F::conv_transpose2d
// (torch/nn/options/conv.h): the same fields, defaults and variants. padding is an ExpandingArray, kValid or kSame;
// padding_mode is kZeros, kReflect, kReplicate or kCircular.
//   nn::Conv2dOptions(3, 64, 3).stride(2).padding(1).bias(false)
//   nn::Conv1dOptions(12, 32, 5).padding(2)
//   F::Conv2dFuncOptions().bias(b).padding(cnnkit::kSame)
#pragma once

#include <cstdint>
#include <initializer_list>
#include <variant>

#include "cnnkit/core/array_ref.h"
#include "cnnkit/core/enum.h"
#include "cnnkit/core/tensor.h"
#include "cnnkit/core/arg.h"

namespace cnnkit {
namespace nn {
namespace detail {
template <size_t D>
using conv_padding_t = std::variant<ExpandingArray<D>, enumtype::kValid, enumtype::kSame>;
using conv_padding_mode_t =
    std::variant<enumtype::kZeros, enumtype::kReflect, enumtype::kReplicate, enumtype::kCircular>;
}  // namespace detail

template <size_t D>
struct ConvOptions {
  using padding_mode_t = detail::conv_padding_mode_t;
  using padding_t = detail::conv_padding_t<D>;

  ConvOptions(int64_t in_channels, int64_t out_channels, ExpandingArray<D> kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(std::move(kernel_size)) {}

  CNNKIT_ARG(int64_t, in_channels);
  CNNKIT_ARG(int64_t, out_channels);
  CNNKIT_ARG(ExpandingArray<D>, kernel_size);
  CNNKIT_ARG(ExpandingArray<D>, stride) = 1;
  CNNKIT_ARG(padding_t, padding) = 0;

 public:
  decltype(auto) padding(std::initializer_list<int64_t> il) { return padding(IntArrayRef{il}); }

  CNNKIT_ARG(ExpandingArray<D>, dilation) = 1;
  CNNKIT_ARG(int64_t, groups) = 1;
  CNNKIT_ARG(bool, bias) = true;
  CNNKIT_ARG(padding_mode_t, padding_mode) = kZeros;
};

using Conv1dOptions = ConvOptions<1>;
using Conv2dOptions = ConvOptions<2>;

// ConvTranspose2d: weight (in_channels, out_channels / groups, kH, kW); output_padding adds
// rows and columns at the bottom/right (smaller than stride or dilation). Zero padding only.
template <size_t D>
struct ConvTransposeOptions {
  using padding_mode_t = detail::conv_padding_mode_t;

  ConvTransposeOptions(int64_t in_channels, int64_t out_channels, ExpandingArray<D> kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(std::move(kernel_size)) {}

  CNNKIT_ARG(int64_t, in_channels);
  CNNKIT_ARG(int64_t, out_channels);
  CNNKIT_ARG(ExpandingArray<D>, kernel_size);
  CNNKIT_ARG(ExpandingArray<D>, stride) = 1;
  CNNKIT_ARG(ExpandingArray<D>, padding) = 0;
  CNNKIT_ARG(ExpandingArray<D>, output_padding) = 0;
  CNNKIT_ARG(int64_t, groups) = 1;
  CNNKIT_ARG(bool, bias) = true;
  CNNKIT_ARG(ExpandingArray<D>, dilation) = 1;
  CNNKIT_ARG(padding_mode_t, padding_mode) = kZeros;
};

using ConvTranspose2dOptions = ConvTransposeOptions<2>;

namespace functional {
template <size_t D>
struct ConvFuncOptions {
  using padding_t = detail::conv_padding_t<D>;

  CNNKIT_ARG(Tensor, bias) = Tensor();
  CNNKIT_ARG(ExpandingArray<D>, stride) = 1;
  CNNKIT_ARG(padding_t, padding) = 0;

 public:
  decltype(auto) padding(std::initializer_list<int64_t> il) { return padding(IntArrayRef{il}); }

  CNNKIT_ARG(ExpandingArray<D>, dilation) = 1;
  CNNKIT_ARG(int64_t, groups) = 1;
};

using Conv1dFuncOptions = ConvFuncOptions<1>;
using Conv2dFuncOptions = ConvFuncOptions<2>;

template <size_t D>
struct ConvTransposeFuncOptions {
  CNNKIT_ARG(Tensor, bias) = Tensor();
  CNNKIT_ARG(ExpandingArray<D>, stride) = 1;
  CNNKIT_ARG(ExpandingArray<D>, padding) = 0;
  CNNKIT_ARG(ExpandingArray<D>, output_padding) = 0;
  CNNKIT_ARG(int64_t, groups) = 1;
  CNNKIT_ARG(ExpandingArray<D>, dilation) = 1;
};

using ConvTranspose2dFuncOptions = ConvTransposeFuncOptions<2>;
}  // namespace functional

}  // namespace nn
}  // namespace cnnkit
