// Padding, pixel (un)shuffle and Unflatten layers (torch/nn/modules/padding.h,
// pixelshuffle.h, linear.h): thin modules over F::pad, F::pixel_shuffle and Tensor::unflatten,
// with PyTorch's printing and its errors naming the layer.
//   nn::ZeroPad2d(1)                                      (N, C, H, W) -> (N, C, H+2, W+2)
//   nn::ReflectionPad2d(nn::ReflectionPad2dOptions({1, 1, 2, 0}))   left, right, top, bottom
//   nn::ConstantPad2d(nn::ConstantPad2dOptions(2, 0.5))
//   nn::PixelShuffle(2)     (N, C*4, H, W) -> (N, C, 2H, 2W);  nn::PixelUnshuffle(2) inverts it
//   nn::Unflatten(nn::UnflattenOptions(1, {16, 7, 7}))     (N, 784) -> (N, 16, 7, 7)
#pragma once

#include <ostream>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/cloneable.h"
#include "cnnkit/nn/options/padding.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit {
namespace nn {

// ZeroPad2d, ReflectionPad2d, ReplicationPad2d and ConstantPad2d share this body; input
// (N, C, H, W) or (C, H, W).
template <class Derived, class Options>
class Pad2dImpl : public Cloneable<Derived> {
 public:
  explicit Pad2dImpl(const Options& options_) : options(options_) {}
  void reset() override {}
  Options options;
};

class ZeroPad2dImpl : public Pad2dImpl<ZeroPad2dImpl, ZeroPad2dOptions> {
 public:
  ZeroPad2dImpl(ExpandingArray<4> padding) : Pad2dImpl(ZeroPad2dOptions(padding)) {}  // NOLINT
  explicit ZeroPad2dImpl(const ZeroPad2dOptions& options_) : Pad2dImpl(options_) {}
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);
};
CNNKIT_MODULE(ZeroPad2d);

class ReflectionPad2dImpl : public Pad2dImpl<ReflectionPad2dImpl, ReflectionPad2dOptions> {
 public:
  ReflectionPad2dImpl(ExpandingArray<4> padding) : Pad2dImpl(ReflectionPad2dOptions(padding)) {}  // NOLINT
  explicit ReflectionPad2dImpl(const ReflectionPad2dOptions& options_) : Pad2dImpl(options_) {}
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);
};
CNNKIT_MODULE(ReflectionPad2d);

class ReplicationPad2dImpl : public Pad2dImpl<ReplicationPad2dImpl, ReplicationPad2dOptions> {
 public:
  ReplicationPad2dImpl(ExpandingArray<4> padding) : Pad2dImpl(ReplicationPad2dOptions(padding)) {}  // NOLINT
  explicit ReplicationPad2dImpl(const ReplicationPad2dOptions& options_) : Pad2dImpl(options_) {}
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);
};
CNNKIT_MODULE(ReplicationPad2d);

class ConstantPad2dImpl : public Pad2dImpl<ConstantPad2dImpl, ConstantPad2dOptions> {
 public:
  ConstantPad2dImpl(ExpandingArray<4> padding, double value) : Pad2dImpl(ConstantPad2dOptions(padding, value)) {}
  explicit ConstantPad2dImpl(const ConstantPad2dOptions& options_) : Pad2dImpl(options_) {}
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);
};
CNNKIT_MODULE(ConstantPad2d);

class PixelShuffleImpl : public Cloneable<PixelShuffleImpl> {
 public:
  explicit PixelShuffleImpl(const PixelShuffleOptions& options_) : options(options_) {}
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);
  PixelShuffleOptions options;
};
CNNKIT_MODULE(PixelShuffle);

class PixelUnshuffleImpl : public Cloneable<PixelUnshuffleImpl> {
 public:
  explicit PixelUnshuffleImpl(const PixelUnshuffleOptions& options_) : options(options_) {}
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);
  PixelUnshuffleOptions options;
};
CNNKIT_MODULE(PixelUnshuffle);

class UnflattenImpl : public Cloneable<UnflattenImpl> {
 public:
  UnflattenImpl(int64_t dim, std::vector<int64_t> sizes) : UnflattenImpl(UnflattenOptions(dim, std::move(sizes))) {}
  explicit UnflattenImpl(const UnflattenOptions& options_) : options(options_) {}
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);
  UnflattenOptions options;
};
CNNKIT_MODULE(Unflatten);

}  // namespace nn
}  // namespace cnnkit
