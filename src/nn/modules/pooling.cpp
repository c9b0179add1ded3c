// Pooling layers: option checks, printing, and the pooling ops of ops/pool (the 2-d layers
// name themselves in rank errors; the 1-d ops check their own ranks).
#include "cnnkit/nn/modules/pooling.h"

#include "nn/util.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/ops/ops.h"

namespace cnnkit {
namespace nn {
namespace {
void check_rank(const Module& m, const Tensor& input) {
  CNNKIT_CHECK_SHAPE(input.dim() == 3 || input.dim() == 4, detail::describe(m),
                     ": expected 3D (C, H, W) or 4D (N, C, H, W) input, but got input of size: ", input.sizes());
}
}  // namespace

// ---- 1-d ----

MaxPool1dImpl::MaxPool1dImpl(const MaxPool1dOptions& options_) : options(options_) {}

void MaxPool1dImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::MaxPool1d(kernel_size=" << options.kernel_size() << ", stride=" << options.stride()
         << ", padding=" << options.padding() << ", dilation=" << options.dilation()
         << ", ceil_mode=" << detail::bool_str(options.ceil_mode()) << ")";
}

Tensor MaxPool1dImpl::forward(const Tensor& input) {
  return max_pool1d(input, options.kernel_size(), options.stride(), options.padding(), options.dilation(),
                    options.ceil_mode());
}

std::tuple<Tensor, Tensor> MaxPool1dImpl::forward_with_indices(const Tensor& input) {
  return max_pool1d_with_indices(input, options.kernel_size(), options.stride(), options.padding(),
                                 options.dilation(), options.ceil_mode());
}

AvgPool1dImpl::AvgPool1dImpl(const AvgPool1dOptions& options_) : options(options_) {
  CNNKIT_CHECK(!options.divisor_override().has_value(),
               "AvgPool1d: divisor_override is not an option of a 1-d average pool (PyTorch's avg_pool1d has none), "
               "got ", *options.divisor_override());
}

void AvgPool1dImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::AvgPool1d(kernel_size=" << options.kernel_size() << ", stride=" << options.stride()
         << ", padding=" << options.padding() << ")";
}

Tensor AvgPool1dImpl::forward(const Tensor& input) {
  return avg_pool1d(input, options.kernel_size(), options.stride(), options.padding(), options.ceil_mode(),
                    options.count_include_pad());
}

AdaptiveAvgPool1dImpl::AdaptiveAvgPool1dImpl(const AdaptiveAvgPool1dOptions& options_) : options(options_) {}

void AdaptiveAvgPool1dImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::AdaptiveAvgPool1d(output_size=" << options.output_size() << ")";
}

Tensor AdaptiveAvgPool1dImpl::forward(const Tensor& input) { return adaptive_avg_pool1d(input, options.output_size()); }

AdaptiveMaxPool1dImpl::AdaptiveMaxPool1dImpl(const AdaptiveMaxPool1dOptions& options_) : options(options_) {}

void AdaptiveMaxPool1dImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::AdaptiveMaxPool1d(output_size=" << options.output_size() << ")";
}

Tensor AdaptiveMaxPool1dImpl::forward(const Tensor& input) {
  return std::get<0>(adaptive_max_pool1d(input, options.output_size()));
}

std::tuple<Tensor, Tensor> AdaptiveMaxPool1dImpl::forward_with_indices(const Tensor& input) {
  return adaptive_max_pool1d(input, options.output_size());
}

// ---- 2-d ----

MaxPool2dImpl::MaxPool2dImpl(const MaxPool2dOptions& options_) : options(options_) {}

void MaxPool2dImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::MaxPool2d(kernel_size=" << options.kernel_size() << ", stride=" << options.stride()
         << ", padding=" << options.padding() << ", dilation=" << options.dilation()
         << ", ceil_mode=" << detail::bool_str(options.ceil_mode()) << ")";
}

Tensor MaxPool2dImpl::forward(const Tensor& input) {
  check_rank(*this, input);
  return max_pool2d(input, options.kernel_size(), options.stride(), options.padding(), options.dilation(),
                    options.ceil_mode());
}

std::tuple<Tensor, Tensor> MaxPool2dImpl::forward_with_indices(const Tensor& input) {
  check_rank(*this, input);
  return max_pool2d_with_indices(input, options.kernel_size(), options.stride(), options.padding(),
                                 options.dilation(), options.ceil_mode());
}

AvgPool2dImpl::AvgPool2dImpl(const AvgPool2dOptions& options_) : options(options_) {}

void AvgPool2dImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::AvgPool2d(kernel_size=" << options.kernel_size() << ", stride=" << options.stride()
         << ", padding=" << options.padding() << ")";
}

Tensor AvgPool2dImpl::forward(const Tensor& input) {
  check_rank(*this, input);
  return avg_pool2d(input, options.kernel_size(), options.stride(), options.padding(), options.ceil_mode(),
                    options.count_include_pad(), options.divisor_override());
}

AdaptiveAvgPool2dImpl::AdaptiveAvgPool2dImpl(const AdaptiveAvgPool2dOptions& options_) : options(options_) {}

void AdaptiveAvgPool2dImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::AdaptiveAvgPool2d(output_size=" << options.output_size() << ")";
}

Tensor AdaptiveAvgPool2dImpl::forward(const Tensor& input) {
  check_rank(*this, input);
  return functional::adaptive_avg_pool2d(input, options);
}

AdaptiveMaxPool2dImpl::AdaptiveMaxPool2dImpl(const AdaptiveMaxPool2dOptions& options_) : options(options_) {}

void AdaptiveMaxPool2dImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::AdaptiveMaxPool2d(output_size=" << options.output_size() << ")";
}

Tensor AdaptiveMaxPool2dImpl::forward(const Tensor& input) {
  check_rank(*this, input);
  return functional::adaptive_max_pool2d(input, options);
}

std::tuple<Tensor, Tensor> AdaptiveMaxPool2dImpl::forward_with_indices(const Tensor& input) {
  check_rank(*this, input);
  return functional::adaptive_max_pool2d_with_indices(input, options);
}

}  // namespace nn
}  // namespace cnnkit
