// nn::functional: unpacks LibTorch's *FuncOptions and calls the ops in ops/, adding the
// argument checks that PyTorch's F.* functions make before their ops (dropout p even when
// not training, adaptive output sizes); a rule the op checks is not checked again here.
// No kernels here.
#include "cnnkit/nn/functional.h"

#include <string>
#include <variant>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/ops/ops.h"
#include "nn/functional_internal.h"

namespace cnnkit {
namespace nn {
namespace functional {
namespace {

// inplace=true: write the result into the input when no gradient flows through it (so
// nothing recorded depends on the old values); otherwise return the out-of-place result,
// since cnnkit has no in-place autograd. Same numbers either way.
bool can_write_in_place(const Tensor& input) {
  return !(autograd::GradMode::is_enabled() && input.requires_grad());
}

Tensor maybe_in_place(Tensor& input, const Tensor& out, bool inplace) {
  if (!inplace || !can_write_in_place(input)) return out;
  input.copy_(out);
  return input;
}

}  // namespace

// ---- detail (positional forms) ----------------------------------------------------------

namespace detail {

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, ExpandingArray<1> stride,
              const nn::detail::conv_padding_t<1>& padding, ExpandingArray<1> dilation, int64_t groups) {
  if (const auto* pad = std::get_if<ExpandingArray<1>>(&padding))
    return ::cnnkit::conv1d(input, weight, bias, stride, *pad, dilation, groups);
  const std::string mode = std::holds_alternative<enumtype::kSame>(padding) ? "same" : "valid";
  return ::cnnkit::conv1d(input, weight, bias, stride, mode, dilation, groups);
}

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, ExpandingArray<2> stride,
              const nn::detail::conv_padding_t<2>& padding, ExpandingArray<2> dilation, int64_t groups) {
  if (const auto* pad = std::get_if<ExpandingArray<2>>(&padding))
    return ::cnnkit::conv2d(input, weight, bias, stride, *pad, dilation, groups);
  const std::string mode = std::holds_alternative<enumtype::kSame>(padding) ? "same" : "valid";
  return ::cnnkit::conv2d(input, weight, bias, stride, mode, dilation, groups);
}

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, std::optional<double> momentum,
                  double eps) {
  // The input's rank and its values per channel: checked once, by the op.
  CNNKIT_CHECK(momentum.has_value() || !(training && running_mean.defined()),
               "batch_norm: momentum=nullopt (cumulative average) needs the BatchNorm module, which counts "
               "batches; pass a momentum value to the functional form");
  return ::cnnkit::batch_norm(input, weight, bias, running_mean, running_var, training, momentum.value_or(0.0),
                              eps);
}

Tensor instance_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                     const Tensor& weight, const Tensor& bias, bool use_input_stats, double momentum,
                     double eps) {
  CNNKIT_CHECK_SHAPE(input.dim() >= 3, "instance_norm: expected input (N, C, *) with at least 3 dims, got ",
                     input.dim(), " dims ", input.sizes());
  return ::cnnkit::instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps);
}

Tensor dropout(Tensor input, double p, bool training, bool inplace) {
  check_dropout_p(p, "");  // F.dropout's message, as PyTorch words it
  if (!training || p == 0.) return input;
  return maybe_in_place(input, ::cnnkit::dropout(input, p, training), inplace);
}

Tensor dropout2d(Tensor input, double p, bool training, bool inplace) {
  check_dropout_p(p, "");
  if (!training || p == 0.) return input;
  // LibTorch's rule: anything but 4-d is one unbatched (C, H, W) sample.
  const bool batched = input.dim() == 4;
  Tensor x = batched ? input : input.unsqueeze(0);
  Tensor out = ::cnnkit::feature_dropout(x, p, training);
  if (!batched) out = out.squeeze(0);
  return maybe_in_place(input, out, inplace);
}

std::vector<int64_t> adaptive_output_size(const Tensor& input, const OptionalExpandingArray<2>& output_size,
                                          const char* fn) {
  CNNKIT_CHECK_SHAPE(input.dim() == 3 || input.dim() == 4, fn,
                     ": expected 3D (C, H, W) or 4D (N, C, H, W) input, got ", input.dim(), "D input of size ",
                     input.sizes());
  std::vector<int64_t> out(2);
  for (size_t i = 0; i < 2; ++i) {
    out[i] = output_size[i].value_or(input.size(input.dim() - 2 + static_cast<int64_t>(i)));
    CNNKIT_CHECK(out[i] > 0, fn, ": output_size must be positive, got ", output_size);
  }
  return out;
}

}  // namespace detail

// ---- convolution and linear ---------------------------------------------------------------

Tensor conv1d(const Tensor& input, const Tensor& weight, const Conv1dFuncOptions& options) {
  return detail::conv1d(input, weight, options.bias(), options.stride(), options.padding(), options.dilation(),
                        options.groups());
}

Tensor conv2d(const Tensor& input, const Tensor& weight, const Conv2dFuncOptions& options) {
  return detail::conv2d(input, weight, options.bias(), options.stride(), options.padding(), options.dilation(),
                        options.groups());
}

Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const ConvTranspose2dFuncOptions& o) {
  return ::cnnkit::conv_transpose2d(input, weight, o.bias(), o.stride(), o.padding(), o.output_padding(), o.groups(),
                                    o.dilation());
}

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  return ::cnnkit::linear(input, weight, bias);
}

// ---- pooling ------------------------------------------------------------------------------

Tensor max_pool1d(const Tensor& input, const MaxPool1dFuncOptions& o) {
  return ::cnnkit::max_pool1d(input, o.kernel_size(), o.stride(), o.padding(), o.dilation(), o.ceil_mode());
}

std::tuple<Tensor, Tensor> max_pool1d_with_indices(const Tensor& input, const MaxPool1dFuncOptions& o) {
  return ::cnnkit::max_pool1d_with_indices(input, o.kernel_size(), o.stride(), o.padding(), o.dilation(),
                                           o.ceil_mode());
}

Tensor avg_pool1d(const Tensor& input, const AvgPool1dFuncOptions& o) {
  CNNKIT_CHECK(!o.divisor_override().has_value(),
               "avg_pool1d: divisor_override is not an option of a 1-d average pool (PyTorch's avg_pool1d has none)");
  return ::cnnkit::avg_pool1d(input, o.kernel_size(), o.stride(), o.padding(), o.ceil_mode(), o.count_include_pad());
}

Tensor adaptive_avg_pool1d(const Tensor& input, const AdaptiveAvgPool1dFuncOptions& o) {
  return ::cnnkit::adaptive_avg_pool1d(input, o.output_size());
}

std::tuple<Tensor, Tensor> adaptive_max_pool1d_with_indices(const Tensor& input,
                                                            const AdaptiveMaxPool1dFuncOptions& o) {
  return ::cnnkit::adaptive_max_pool1d(input, o.output_size());
}

Tensor adaptive_max_pool1d(const Tensor& input, const AdaptiveMaxPool1dFuncOptions& o) {
  return std::get<0>(adaptive_max_pool1d_with_indices(input, o));
}

Tensor max_pool2d(const Tensor& input, const MaxPool2dFuncOptions& o) {
  return ::cnnkit::max_pool2d(input, o.kernel_size(), o.stride(), o.padding(), o.dilation(), o.ceil_mode());
}

std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, const MaxPool2dFuncOptions& o) {
  return ::cnnkit::max_pool2d_with_indices(input, o.kernel_size(), o.stride(), o.padding(), o.dilation(),
                                           o.ceil_mode());
}

Tensor avg_pool2d(const Tensor& input, const AvgPool2dFuncOptions& o) {
  return ::cnnkit::avg_pool2d(input, o.kernel_size(), o.stride(), o.padding(), o.ceil_mode(),
                              o.count_include_pad(), o.divisor_override());
}

Tensor adaptive_avg_pool2d(const Tensor& input, const AdaptiveAvgPool2dFuncOptions& options) {
  return ::cnnkit::adaptive_avg_pool2d(
      input, detail::adaptive_output_size(input, options.output_size(), "adaptive_avg_pool2d"));
}

std::tuple<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& input,
                                                            const AdaptiveMaxPool2dFuncOptions& options) {
  return ::cnnkit::adaptive_max_pool2d(
      input, detail::adaptive_output_size(input, options.output_size(), "adaptive_max_pool2d"));
}

Tensor adaptive_max_pool2d(const Tensor& input, const AdaptiveMaxPool2dFuncOptions& options) {
  return std::get<0>(adaptive_max_pool2d_with_indices(input, options));
}

// ---- activations --------------------------------------------------------------------------

Tensor relu(Tensor input, const ReLUFuncOptions& options) {
  if (options.inplace() && can_write_in_place(input)) return input.relu_();
  return ::cnnkit::relu(input);
}

Tensor relu6(Tensor input, const ReLU6FuncOptions& options) {
  return maybe_in_place(input, ::cnnkit::relu6(input), options.inplace());
}

Tensor selu(Tensor input, const SELUFuncOptions& options) {
  return maybe_in_place(input, ::cnnkit::selu(input), options.inplace());
}

Tensor leaky_relu(Tensor input, const LeakyReLUFuncOptions& options) {
  return maybe_in_place(input, ::cnnkit::leaky_relu(input, options.negative_slope()), options.inplace());
}

Tensor elu(Tensor input, const ELUFuncOptions& options) {
  return maybe_in_place(input, ::cnnkit::elu(input, options.alpha()), options.inplace());
}

Tensor gelu(const Tensor& input, const GELUFuncOptions& options) {
  return ::cnnkit::gelu(input, options.approximate());
}

Tensor hardtanh(Tensor input, const HardtanhFuncOptions& options) {
  return maybe_in_place(input, ::cnnkit::hardtanh(input, options.min_val(), options.max_val()), options.inplace());
}

Tensor softplus(const Tensor& input, const SoftplusFuncOptions& options) {
  return ::cnnkit::softplus(input, options.beta(), options.threshold());
}

#define CNNKIT_DEFINE_ACTIVATION_FUNCTION(Module, function, ...) \
  Tensor function(const Tensor& input) { return ::cnnkit::function(input); }
CNNKIT_PLAIN_ACTIVATIONS(CNNKIT_DEFINE_ACTIVATION_FUNCTION)
#undef CNNKIT_DEFINE_ACTIVATION_FUNCTION
Tensor prelu(const Tensor& input, const Tensor& weight) { return ::cnnkit::prelu(input, weight); }

Tensor softmax(const Tensor& input, const SoftmaxFuncOptions& options) {
  return ::cnnkit::softmax(input, options.dim(), options.dtype());
}

Tensor log_softmax(const Tensor& input, const LogSoftmaxFuncOptions& options) {
  return ::cnnkit::log_softmax(input, options.dim(), options.dtype());
}

// ---- normalisation ------------------------------------------------------------------------

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const BatchNormFuncOptions& o) {
  return detail::batch_norm(input, running_mean, running_var, o.weight(), o.bias(), o.training(), o.momentum(),
                            o.eps());
}

Tensor instance_norm(const Tensor& input, const InstanceNormFuncOptions& o) {
  return detail::instance_norm(input, o.running_mean(), o.running_var(), o.weight(), o.bias(),
                               o.use_input_stats(), o.momentum(), o.eps());
}

Tensor layer_norm(const Tensor& input, const LayerNormFuncOptions& o) {
  return ::cnnkit::layer_norm(input, o.normalized_shape(), o.weight(), o.bias(), o.eps());
}

Tensor group_norm(const Tensor& input, const GroupNormFuncOptions& o) {
  CNNKIT_CHECK_SHAPE(input.dim() >= 2, "group_norm: expected at least 2 dimensions for input tensor but received ",
                     input.dim());
  return ::cnnkit::group_norm(input, o.num_groups(), o.weight(), o.bias(), o.eps());
}

// ---- dropout and padding --------------------------------------------------------------------

Tensor dropout(Tensor input, const DropoutFuncOptions& o) {
  return detail::dropout(std::move(input), o.p(), o.training(), o.inplace());
}

Tensor dropout2d(Tensor input, const Dropout2dFuncOptions& o) {
  return detail::dropout2d(std::move(input), o.p(), o.training(), o.inplace());
}

Tensor one_hot(const Tensor& tensor, int64_t num_classes) { return tensor.one_hot(num_classes); }

Tensor pad(const Tensor& input, const PadFuncOptions& o) {
  return ::cnnkit::pad(input, o.pad(), enum_name(o.mode()), o.value());
}

// Both as PyTorch's CPU kernels define them: a view of the channels as (C, r, r), the r's
// moved next to H and W. Reshape and permute carry the gradient.
Tensor pixel_shuffle(const Tensor& input, const PixelShuffleFuncOptions& o) {
  const int64_t r = o.upscale_factor();
  CNNKIT_CHECK_SHAPE(input.dim() >= 3, "pixel_shuffle expects input to have at least 3 dimensions, but got input with ",
                     input.dim(), " dimension(s)");
  CNNKIT_CHECK(r > 0, "pixel_shuffle expects a positive upscale_factor, but got ", r);
  const int64_t c = input.size(-3), h = input.size(-2), w = input.size(-1);
  CNNKIT_CHECK_SHAPE(c % (r * r) == 0, "pixel_shuffle expects its input's 'channel' dimension to be divisible by the "
                     "square of upscale_factor, but input.size(-3)=", c, " is not divisible by ", r * r);
  std::vector<int64_t> batch(input.sizes().begin(), input.sizes().end() - 3), sizes = batch, order;
  const int64_t b = static_cast<int64_t>(batch.size());
  for (int64_t d : {c / (r * r), r, r, h, w}) sizes.push_back(d);
  for (int64_t d = 0; d < b; ++d) order.push_back(d);
  for (int64_t d : {0, 3, 1, 4, 2}) order.push_back(b + d);  // (C, H, r, W, r)
  std::vector<int64_t> out = batch;
  for (int64_t d : {c / (r * r), h * r, w * r}) out.push_back(d);
  return input.reshape(sizes).permute(order).reshape(out);
}

Tensor pixel_unshuffle(const Tensor& input, const PixelUnshuffleFuncOptions& o) {
  const int64_t r = o.downscale_factor();
  CNNKIT_CHECK_SHAPE(input.dim() >= 3, "pixel_unshuffle expects input to have at least 3 dimensions, but got input "
                     "with ", input.dim(), " dimension(s)");
  CNNKIT_CHECK(r > 0, "pixel_unshuffle expects a positive downscale_factor, but got ", r);
  const int64_t c = input.size(-3), h = input.size(-2), w = input.size(-1);
  CNNKIT_CHECK_SHAPE(h % r == 0, "pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)=",
                     h, " is not divisible by ", r);
  CNNKIT_CHECK_SHAPE(w % r == 0, "pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)=",
                     w, " is not divisible by ", r);
  std::vector<int64_t> batch(input.sizes().begin(), input.sizes().end() - 3), sizes = batch, order;
  const int64_t b = static_cast<int64_t>(batch.size());
  for (int64_t d : {c, h / r, r, w / r, r}) sizes.push_back(d);
  for (int64_t d = 0; d < b; ++d) order.push_back(d);
  for (int64_t d : {0, 2, 4, 1, 3}) order.push_back(b + d);  // (C, r, r, H/r, W/r)
  std::vector<int64_t> out = batch;
  for (int64_t d : {c * r * r, h / r, w / r}) out.push_back(d);
  return input.reshape(sizes).permute(order).reshape(out);
}

}  // namespace functional
}  // namespace nn
}  // namespace cnnkit
