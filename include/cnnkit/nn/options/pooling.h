// Options of pooling layers and functionals (torch/nn/options/pooling.h). stride defaults
// to kernel_size. Adaptive pools take an output size whose elements may be nullopt
// ("keep the input's size"), printed as None.
//   nn::MaxPool2dOptions(3).stride(2).padding(1).ceil_mode(true)
//   nn::MaxPool1dOptions(3).stride(2)
//   nn::AdaptiveAvgPool2dOptions({7, std::nullopt})
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <vector>

#include "cnnkit/core/array_ref.h"
#include "cnnkit/core/error.h"
#include "cnnkit/core/arg.h"

namespace cnnkit {
namespace nn {

template <size_t D>
struct AvgPoolOptions {
  AvgPoolOptions(ExpandingArray<D> kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
  CNNKIT_ARG(ExpandingArray<D>, kernel_size);
  CNNKIT_ARG(ExpandingArray<D>, stride);
  CNNKIT_ARG(ExpandingArray<D>, padding) = 0;
  CNNKIT_ARG(bool, ceil_mode) = false;
  CNNKIT_ARG(bool, count_include_pad) = true;
  CNNKIT_ARG(std::optional<int64_t>, divisor_override) = std::nullopt;
};
// AvgPool1d: PyTorch's avg_pool1d has no divisor_override; setting one is an error.
using AvgPool1dOptions = AvgPoolOptions<1>;
using AvgPool2dOptions = AvgPoolOptions<2>;

template <size_t D>
struct MaxPoolOptions {
  MaxPoolOptions(ExpandingArray<D> kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
  CNNKIT_ARG(ExpandingArray<D>, kernel_size);
  CNNKIT_ARG(ExpandingArray<D>, stride);
  CNNKIT_ARG(ExpandingArray<D>, padding) = 0;
  CNNKIT_ARG(ExpandingArray<D>, dilation) = 1;
  CNNKIT_ARG(bool, ceil_mode) = false;
};
using MaxPool1dOptions = MaxPoolOptions<1>;
using MaxPool2dOptions = MaxPoolOptions<2>;

// D output sizes, each an int or nullopt (torch::ExpandingArrayWithOptionalElem).
template <size_t D>
class OptionalExpandingArray {
 public:
  OptionalExpandingArray(int64_t single) { values_.fill(single); }  // NOLINT: 7 means {7, 7}
  OptionalExpandingArray(std::initializer_list<std::optional<int64_t>> list) {  // NOLINT
    CNNKIT_CHECK_T(ShapeError, list.size() == D, "expected ", D, " output sizes, got ", list.size());
    std::copy(list.begin(), list.end(), values_.begin());
  }
  OptionalExpandingArray(const std::vector<int64_t>& v) {  // NOLINT
    CNNKIT_CHECK_T(ShapeError, v.size() == D, "expected ", D, " output sizes, got ", v.size());
    std::copy(v.begin(), v.end(), values_.begin());
  }
  OptionalExpandingArray(const ExpandingArray<D>& a) {  // NOLINT
    for (size_t i = 0; i < D; ++i) values_[i] = a[i];
  }
  const std::optional<int64_t>& operator[](size_t i) const { return values_[i]; }
  std::optional<int64_t>& operator[](size_t i) { return values_[i]; }
  const std::array<std::optional<int64_t>, D>& operator*() const { return values_; }
  constexpr size_t size() const { return D; }

 private:
  std::array<std::optional<int64_t>, D> values_{};
};

template <size_t D>
std::ostream& operator<<(std::ostream& os, const OptionalExpandingArray<D>& a) {
  os << "[";
  for (size_t i = 0; i < D; ++i) {
    if (i) os << ", ";
    if (a[i].has_value())
      os << *a[i];
    else
      os << "None";
  }
  return os << "]";
}

template <typename output_size_t>
struct AdaptiveAvgPoolOptions {
  AdaptiveAvgPoolOptions(output_size_t output_size) : output_size_(output_size) {}  // NOLINT
  CNNKIT_ARG(output_size_t, output_size);
};
using AdaptiveAvgPool1dOptions = AdaptiveAvgPoolOptions<ExpandingArray<1>>;
using AdaptiveAvgPool2dOptions = AdaptiveAvgPoolOptions<OptionalExpandingArray<2>>;

template <typename output_size_t>
struct AdaptiveMaxPoolOptions {
  AdaptiveMaxPoolOptions(output_size_t output_size) : output_size_(output_size) {}  // NOLINT
  CNNKIT_ARG(output_size_t, output_size);
};
using AdaptiveMaxPool1dOptions = AdaptiveMaxPoolOptions<ExpandingArray<1>>;
using AdaptiveMaxPool2dOptions = AdaptiveMaxPoolOptions<OptionalExpandingArray<2>>;

namespace functional {
using AvgPool1dFuncOptions = AvgPool1dOptions;
using MaxPool1dFuncOptions = MaxPool1dOptions;
using AdaptiveAvgPool1dFuncOptions = AdaptiveAvgPool1dOptions;
using AdaptiveMaxPool1dFuncOptions = AdaptiveMaxPool1dOptions;
using AvgPool2dFuncOptions = AvgPool2dOptions;
using MaxPool2dFuncOptions = MaxPool2dOptions;
using AdaptiveAvgPool2dFuncOptions = AdaptiveAvgPool2dOptions;
using AdaptiveMaxPool2dFuncOptions = AdaptiveMaxPool2dOptions;
}  // namespace functional

}  // namespace nn
}  // namespace cnnkit
