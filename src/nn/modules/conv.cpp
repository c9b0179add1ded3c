// Conv2d: parameters, PyTorch's default initialisation, padding modes and the input
// checks that name the layer. The convolution itself is cnnkit::conv2d (ops/conv).
#include "cnnkit/nn/modules/conv.h"

#include <cmath>
#include <variant>

#include "nn/util.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/nn/init.h"
#include "cnnkit/ops/ops.h"
#include "nn/functional_internal.h"

namespace cnnkit {
namespace nn {

Conv2dImpl::Conv2dImpl(Conv2dOptions options_) : options(std::move(options_)) { reset(); }

void Conv2dImpl::reset() {
  const auto& o = options;
  CNNKIT_CHECK(o.in_channels() > 0 && o.groups() > 0 && o.out_channels() > 0,
               "Conv2d: in_channels, groups and out_channels must be positive integers, got in_channels=",
               o.in_channels(), ", out_channels=", o.out_channels(), ", groups=", o.groups());
  CNNKIT_CHECK(o.in_channels() % o.groups() == 0, "Conv2d: in_channels (", o.in_channels(),
               ") must be divisible by groups (", o.groups(), ")");
  CNNKIT_CHECK(o.out_channels() % o.groups() == 0, "Conv2d: out_channels (", o.out_channels(),
               ") must be divisible by groups (", o.groups(), ")");
  for (size_t i = 0; i < 2; ++i) {
    CNNKIT_CHECK(o.kernel_size()[i] > 0 && o.stride()[i] > 0 && o.dilation()[i] > 0,
                 "Conv2d: kernel_size, stride and dilation must be positive, got kernel_size=", o.kernel_size(),
                 ", stride=", o.stride(), ", dilation=", o.dilation());
  }

  _reversed_padding_repeated_twice.assign(4, 0);
  std::visit(detail::overloaded{
                 [](enumtype::kValid) {},
                 [&](enumtype::kSame) {
                   CNNKIT_CHECK(o.stride()[0] == 1 && o.stride()[1] == 1,
                                "padding='same' is not supported for strided convolutions (stride=", o.stride(), ")");
                   // Last dim first; the odd pixel of an even kernel goes right/bottom.
                   for (size_t i = 0; i < 2; ++i) {
                     const int64_t total = o.dilation()[i] * (o.kernel_size()[i] - 1);
                     const size_t r = 2 * (1 - i);
                     _reversed_padding_repeated_twice[r] = total / 2;
                     _reversed_padding_repeated_twice[r + 1] = total - total / 2;
                   }
                 },
                 [&](const ExpandingArray<2>& pad) {
                   CNNKIT_CHECK(pad[0] >= 0 && pad[1] >= 0, "Conv2d: padding must be non-negative, got ", pad);
                   _reversed_padding_repeated_twice = {pad[1], pad[1], pad[0], pad[0]};
                 }},
             o.padding());

  weight = register_parameter(
      "weight", cnnkit::empty({o.out_channels(), o.in_channels() / o.groups(), o.kernel_size()[0], o.kernel_size()[1]}));
  if (o.bias())
    bias = register_parameter("bias", cnnkit::empty({o.out_channels()}));
  else
    bias = register_parameter("bias", Tensor(), /*requires_grad=*/false);
  reset_parameters();
}

void Conv2dImpl::reset_parameters() {
  init::kaiming_uniform_(weight, /*a=*/std::sqrt(5.0));
  if (bias.defined()) {
    auto [fan_in, fan_out] = init::_calculate_fan_in_and_fan_out(weight);
    (void)fan_out;
    const double bound = 1 / std::sqrt(static_cast<double>(fan_in));
    init::uniform_(bias, -bound, bound);
  }
}

void Conv2dImpl::pretty_print(std::ostream& stream) const {
  const auto& o = options;
  stream << "cnnkit::nn::Conv2d(" << o.in_channels() << ", " << o.out_channels()
         << ", kernel_size=" << o.kernel_size() << ", stride=" << o.stride();
  std::visit(detail::overloaded{[&](enumtype::kValid) { stream << ", padding='valid'"; },
                                [&](enumtype::kSame) { stream << ", padding='same'"; },
                                [&](const ExpandingArray<2>& pad) {
                                  if (!(pad == ExpandingArray<2>(0))) stream << ", padding=" << pad;
                                }},
             o.padding());
  if (!(o.dilation() == ExpandingArray<2>(1))) stream << ", dilation=" << o.dilation();
  if (o.groups() != 1) stream << ", groups=" << o.groups();
  if (!o.bias()) stream << ", bias=false";
  std::visit(detail::overloaded{[](enumtype::kZeros) {},
                                [&](enumtype::kReflect) { stream << ", padding_mode=kReflect"; },
                                [&](enumtype::kReplicate) { stream << ", padding_mode=kReplicate"; },
                                [&](enumtype::kCircular) { stream << ", padding_mode=kCircular"; }},
             o.padding_mode());
  stream << ")";
}

Tensor Conv2dImpl::forward(const Tensor& input) {
  CNNKIT_CHECK_SHAPE(input.dim() == 3 || input.dim() == 4, detail::describe(*this),
                     ": expected 3D (unbatched) or 4D (batched) input, but got input of size: ", input.sizes());
  const int64_t channels = input.size(-3);
  CNNKIT_CHECK_SHAPE(channels == options.in_channels(), detail::describe(*this), ": expected input",
                     input.sizes(), " to have ", options.in_channels(), " channels, but got ", channels,
                     " channels instead");
  return _conv_forward(input, weight);
}

Tensor Conv2dImpl::_conv_forward(const Tensor& input, const Tensor& w) {
  if (!std::holds_alternative<enumtype::kZeros>(options.padding_mode())) {
    const std::string mode = enum_name(options.padding_mode());
    return conv2d(pad(input, _reversed_padding_repeated_twice, mode), w, bias, options.stride(), /*padding=*/ExpandingArray<2>(0),
                  options.dilation(), options.groups());
  }
  return functional::detail::conv2d(input, w, bias, options.stride(), options.padding(), options.dilation(),
                                    options.groups());
}

}  // namespace nn
}  // namespace cnnkit
