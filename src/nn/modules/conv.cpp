// Conv2d: parameters, PyTorch's default initialisation, padding modes and the input
// checks that name the layer. The convolution itself is cnnkit::conv2d (ops/conv).
#include "cnnkit/nn/modules/conv.h"

#include <cmath>
#include <ostream>
#include <variant>
#include <vector>

#include "nn/util.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/nn/init.h"
#include "cnnkit/ops/ops.h"
#include "nn/functional_internal.h"

namespace cnnkit {
namespace nn {

Conv2dImpl::Conv2dImpl(Conv2dOptions options_) : options(std::move(options_)) { reset(); }

namespace {

// The option checks Conv1d, Conv2d and ConvTranspose2d share (PyTorch's _ConvNd.__init__).
template <class Options>
void check_conv_options(const Options& o, const char* layer) {
  CNNKIT_CHECK(o.in_channels() > 0 && o.groups() > 0 && o.out_channels() > 0, layer,
               ": in_channels, groups and out_channels must be positive integers, got in_channels=", o.in_channels(),
               ", out_channels=", o.out_channels(), ", groups=", o.groups());
  CNNKIT_CHECK(o.in_channels() % o.groups() == 0, layer, ": in_channels (", o.in_channels(),
               ") must be divisible by groups (", o.groups(), ")");
  CNNKIT_CHECK(o.out_channels() % o.groups() == 0, layer, ": out_channels (", o.out_channels(),
               ") must be divisible by groups (", o.groups(), ")");
  for (size_t i = 0; i < o.kernel_size().size(); ++i) {
    CNNKIT_CHECK(o.kernel_size()[i] > 0 && o.stride()[i] > 0 && o.dilation()[i] > 0, layer,
                 ": kernel_size, stride and dilation must be positive, got kernel_size=", o.kernel_size(),
                 ", stride=", o.stride(), ", dilation=", o.dilation());
  }
}

// _ConvNd.reset_parameters: kaiming_uniform_ with a = sqrt(5), the bias uniform in
// +-1/sqrt(fan_in), fan_in from the weight as PyTorch computes it (dim 1 times the kernel).
void reset_conv_parameters(Tensor& weight, Tensor& bias) {
  init::kaiming_uniform_(weight, /*a=*/std::sqrt(5.0));
  if (bias.defined()) {
    auto [fan_in, fan_out] = init::_calculate_fan_in_and_fan_out(weight);
    (void)fan_out;
    const double bound = 1 / std::sqrt(static_cast<double>(fan_in));
    init::uniform_(bias, -bound, bound);
  }
}

// PyTorch's _reversed_padding_repeated_twice of a D-d convolution: (left, right) per
// dimension, last dimension first; 'same' puts the odd element of an even kernel at the end.
template <size_t D>
std::vector<int64_t> reversed_padding(const ConvOptions<D>& o, const char* layer) {
  std::vector<int64_t> r(2 * D, 0);
  std::visit(detail::overloaded{
                 [](enumtype::kValid) {},
                 [&](enumtype::kSame) {
                   for (size_t i = 0; i < D; ++i)
                     CNNKIT_CHECK(o.stride()[i] == 1, "padding='same' is not supported for strided convolutions "
                                                      "(stride=", o.stride(), ")");
                   for (size_t i = 0; i < D; ++i) {
                     const int64_t total = o.dilation()[i] * (o.kernel_size()[i] - 1);
                     r[2 * (D - 1 - i)] = total / 2;
                     r[2 * (D - 1 - i) + 1] = total - total / 2;
                   }
                 },
                 [&](const ExpandingArray<D>& pad) {
                   for (size_t i = 0; i < D; ++i) {
                     CNNKIT_CHECK(pad[i] >= 0, layer, ": padding must be non-negative, got ", pad);
                     r[2 * (D - 1 - i)] = r[2 * (D - 1 - i) + 1] = pad[i];
                   }
                 }},
             o.padding());
  return r;
}

// weight (C_out, C_in / groups, *kernel) and bias (C_out) or none, registered and initialised.
template <size_t D>
void register_conv_parameters(Module& m, const ConvOptions<D>& o, Tensor& weight, Tensor& bias) {
  std::vector<int64_t> shape = {o.out_channels(), o.in_channels() / o.groups()};
  for (size_t i = 0; i < D; ++i) shape.push_back(o.kernel_size()[i]);
  weight = m.register_parameter("weight", cnnkit::empty(shape));
  bias = m.register_parameter("bias", o.bias() ? cnnkit::empty({o.out_channels()}) : Tensor(),
                              /*requires_grad=*/o.bias());
  reset_conv_parameters(weight, bias);
}

// LibTorch's printing of a convolution: the non-default options only.
template <size_t D>
void print_conv(std::ostream& stream, const char* layer, const ConvOptions<D>& o) {
  stream << "cnnkit::nn::" << layer << "(" << o.in_channels() << ", " << o.out_channels()
         << ", kernel_size=" << o.kernel_size() << ", stride=" << o.stride();
  std::visit(detail::overloaded{[&](enumtype::kValid) { stream << ", padding='valid'"; },
                                [&](enumtype::kSame) { stream << ", padding='same'"; },
                                [&](const ExpandingArray<D>& pad) {
                                  if (!(pad == ExpandingArray<D>(0))) stream << ", padding=" << pad;
                                }},
             o.padding());
  if (!(o.dilation() == ExpandingArray<D>(1))) stream << ", dilation=" << o.dilation();
  if (o.groups() != 1) stream << ", groups=" << o.groups();
  if (!o.bias()) stream << ", bias=false";
  std::visit(detail::overloaded{[](enumtype::kZeros) {},
                                [&](enumtype::kReflect) { stream << ", padding_mode=kReflect"; },
                                [&](enumtype::kReplicate) { stream << ", padding_mode=kReplicate"; },
                                [&](enumtype::kCircular) { stream << ", padding_mode=kCircular"; }},
             o.padding_mode());
  stream << ")";
}

}  // namespace

// ---- Conv1d ----

Conv1dImpl::Conv1dImpl(Conv1dOptions options_) : options(std::move(options_)) { reset(); }

void Conv1dImpl::reset() {
  check_conv_options(options, "Conv1d");
  _reversed_padding_repeated_twice = reversed_padding(options, "Conv1d");
  register_conv_parameters(*this, options, weight, bias);
}

void Conv1dImpl::reset_parameters() { reset_conv_parameters(weight, bias); }

void Conv1dImpl::pretty_print(std::ostream& stream) const { print_conv(stream, "Conv1d", options); }

Tensor Conv1dImpl::forward(const Tensor& input) {
  CNNKIT_CHECK_SHAPE(input.dim() == 2 || input.dim() == 3, detail::describe(*this),
                     ": expected 2D (unbatched) or 3D (batched) input, but got input of size: ", input.sizes());
  CNNKIT_CHECK_SHAPE(input.size(-2) == options.in_channels(), detail::describe(*this), ": expected input",
                     input.sizes(), " to have ", options.in_channels(), " channels, but got ", input.size(-2),
                     " channels instead");
  const auto& o = options;
  if (!std::holds_alternative<enumtype::kZeros>(o.padding_mode())) {
    // F::pad over (N, C, 1, L): only the last dimension is padded.
    const auto& p = _reversed_padding_repeated_twice;
    Tensor padded = pad(input.unsqueeze(-2), {p[0], p[1], 0, 0}, enum_name(o.padding_mode())).squeeze(-2);
    return conv1d(padded, weight, bias, o.stride(), /*padding=*/0, o.dilation(), o.groups());
  }
  return functional::detail::conv1d(input, weight, bias, o.stride(), o.padding(), o.dilation(), o.groups());
}

// ---- Conv2d ----

void Conv2dImpl::reset() {
  check_conv_options(options, "Conv2d");
  _reversed_padding_repeated_twice = reversed_padding(options, "Conv2d");
  register_conv_parameters(*this, options, weight, bias);
}

void Conv2dImpl::reset_parameters() { reset_conv_parameters(weight, bias); }

void Conv2dImpl::pretty_print(std::ostream& stream) const { print_conv(stream, "Conv2d", options); }

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

ConvTranspose2dImpl::ConvTranspose2dImpl(ConvTranspose2dOptions options_) : options(std::move(options_)) { reset(); }

void ConvTranspose2dImpl::reset() {
  const auto& o = options;
  check_conv_options(o, "ConvTranspose2d");
  CNNKIT_CHECK(std::holds_alternative<enumtype::kZeros>(o.padding_mode()),
               "Only \"zeros\" padding mode is supported for ConvTranspose2d");
  for (size_t i = 0; i < 2; ++i) {
    CNNKIT_CHECK(o.padding()[i] >= 0 && o.output_padding()[i] >= 0,
                 "ConvTranspose2d: padding and output_padding must be non-negative, got padding=", o.padding(),
                 ", output_padding=", o.output_padding());
    CNNKIT_CHECK(o.output_padding()[i] < o.stride()[i] || o.output_padding()[i] < o.dilation()[i],
                 "ConvTranspose2d: output padding must be smaller than either stride or dilation, got output_padding=",
                 o.output_padding(), ", stride=", o.stride(), ", dilation=", o.dilation());
  }
  weight = register_parameter("weight", cnnkit::empty({o.in_channels(), o.out_channels() / o.groups(),
                                                       o.kernel_size()[0], o.kernel_size()[1]}));
  if (o.bias())
    bias = register_parameter("bias", cnnkit::empty({o.out_channels()}));
  else
    bias = register_parameter("bias", Tensor(), /*requires_grad=*/false);
  reset_parameters();
}

void ConvTranspose2dImpl::reset_parameters() { reset_conv_parameters(weight, bias); }

void ConvTranspose2dImpl::pretty_print(std::ostream& stream) const {
  const auto& o = options;
  stream << "cnnkit::nn::ConvTranspose2d(" << o.in_channels() << ", " << o.out_channels()
         << ", kernel_size=" << o.kernel_size() << ", stride=" << o.stride();
  if (!(o.padding() == ExpandingArray<2>(0))) stream << ", padding=" << o.padding();
  if (!(o.dilation() == ExpandingArray<2>(1))) stream << ", dilation=" << o.dilation();
  if (!(o.output_padding() == ExpandingArray<2>(0))) stream << ", output_padding=" << o.output_padding();
  if (o.groups() != 1) stream << ", groups=" << o.groups();
  if (!o.bias()) stream << ", bias=false";
  stream << ")";
}

std::vector<int64_t> ConvTranspose2dImpl::_output_padding(const Tensor& input,
                                                          const std::optional<std::vector<int64_t>>& output_size) {
  if (!output_size) return options.output_padding().vec();
  // (H, W), or the input's rank with the leading N, C (or C) ignored.
  std::vector<int64_t> size = *output_size;
  const int64_t spatial = 2;
  if (static_cast<int64_t>(size.size()) == input.dim()) size.erase(size.begin(), size.end() - spatial);
  CNNKIT_CHECK_SHAPE(static_cast<int64_t>(size.size()) == spatial, detail::describe(*this),
                     ": output_size must have ", spatial, " or ", input.dim(), " elements (got ", size.size(), ")");
  std::vector<int64_t> out(2);
  for (size_t d = 0; d < 2; ++d) {
    const int64_t in = input.size(static_cast<int64_t>(d) - 2);
    const int64_t min_size = (in - 1) * options.stride()[d] - 2 * options.padding()[d] +
                             options.dilation()[d] * (options.kernel_size()[d] - 1) + 1;
    const int64_t max_size = min_size + options.stride()[d] - 1;
    CNNKIT_CHECK_SHAPE(size[d] >= min_size && size[d] <= max_size, detail::describe(*this),
                       ": requested an output size of [", size[0], ", ", size[1], "], but valid sizes range from ",
                       min_size, " to ", max_size, " in dimension ", d, " (for an input of ", input.sizes(), ")");
    out[d] = size[d] - min_size;
  }
  return out;
}

Tensor ConvTranspose2dImpl::forward(const Tensor& input, const std::optional<std::vector<int64_t>>& output_size) {
  CNNKIT_CHECK_SHAPE(input.dim() == 3 || input.dim() == 4, detail::describe(*this),
                     ": expected 3D (unbatched) or 4D (batched) input, but got input of size: ", input.sizes());
  CNNKIT_CHECK_SHAPE(input.size(-3) == options.in_channels(), detail::describe(*this), ": expected input",
                     input.sizes(), " to have ", options.in_channels(), " channels, but got ", input.size(-3),
                     " channels instead");
  return conv_transpose2d(input, weight, bias, options.stride(), options.padding(), _output_padding(input, output_size),
                          options.groups(), options.dilation());
}

}  // namespace nn
}  // namespace cnnkit
