// Padding, pixel (un)shuffle and Unflatten layers: printing as PyTorch prints them, and the
// functional forms (F::pad, F::pixel_shuffle, Tensor::unflatten) with the layer's options.
#include "cnnkit/nn/modules/padding.h"

#include "cnnkit/nn/functional.h"

namespace cnnkit {
namespace nn {

namespace {

Tensor pad2d(const Tensor& input, const ExpandingArray<4>& padding, functional::PadFuncOptions::mode_t mode,
             double value = 0) {
  return functional::pad(input, functional::PadFuncOptions(padding.vec()).mode(mode).value(value));
}

}  // namespace

void ZeroPad2dImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::ZeroPad2d(padding=" << options.padding() << ")";
}
Tensor ZeroPad2dImpl::forward(const Tensor& input) { return pad2d(input, options.padding(), kConstant); }

void ReflectionPad2dImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::ReflectionPad2d(padding=" << options.padding() << ")";
}
Tensor ReflectionPad2dImpl::forward(const Tensor& input) { return pad2d(input, options.padding(), kReflect); }

void ReplicationPad2dImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::ReplicationPad2d(padding=" << options.padding() << ")";
}
Tensor ReplicationPad2dImpl::forward(const Tensor& input) { return pad2d(input, options.padding(), kReplicate); }

void ConstantPad2dImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::ConstantPad2d(padding=" << options.padding() << ", value=" << options.value() << ")";
}
Tensor ConstantPad2dImpl::forward(const Tensor& input) {
  return pad2d(input, options.padding(), kConstant, options.value());
}

void PixelShuffleImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::PixelShuffle(upscale_factor=" << options.upscale_factor() << ")";
}
Tensor PixelShuffleImpl::forward(const Tensor& input) { return functional::pixel_shuffle(input, options); }

void PixelUnshuffleImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::PixelUnshuffle(downscale_factor=" << options.downscale_factor() << ")";
}
Tensor PixelUnshuffleImpl::forward(const Tensor& input) { return functional::pixel_unshuffle(input, options); }

void UnflattenImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::Unflatten(dim=" << options.dim() << ", unflattened_size=[";
  for (size_t i = 0; i < options.sizes().size(); ++i) stream << (i ? ", " : "") << options.sizes()[i];
  stream << "])";
}
Tensor UnflattenImpl::forward(const Tensor& input) { return input.unflatten(options.dim(), options.sizes()); }

}  // namespace nn
}  // namespace cnnkit
