// 2-d pooling layers: option checks, printing, and the pooling ops of ops/pool with the
// layer named in rank errors.
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
