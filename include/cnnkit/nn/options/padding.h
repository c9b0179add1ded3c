// Options of F::pad and the padding layers (torch/nn/options/padding.h): pad sizes in
// PyTorch's order (last dim first: {left, right, top, bottom}), mode kConstant (with value),
// kReflect, kReplicate or kCircular. One integer pads every side by it.
//   F::pad(x, F::PadFuncOptions({1, 1, 2, 2}).mode(cnnkit::kReflect))
//   nn::ReflectionPad2d pad(nn::ReflectionPad2dOptions({1, 1, 2, 2}));   nn::ZeroPad2d zp(1);
// And of the pixel (un)shuffle and Unflatten layers (torch/nn/options/pixelshuffle.h, linear.h).
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

#include "cnnkit/core/array_ref.h"
#include "cnnkit/core/enum.h"
#include "cnnkit/core/arg.h"

namespace cnnkit {
namespace nn {

// ZeroPad2d, ReflectionPad2d, ReplicationPad2d: {left, right, top, bottom}.
template <size_t D>
struct PadOptionsBase {
  PadOptionsBase(ExpandingArray<D * 2> padding) : padding_(padding) {}  // NOLINT
  CNNKIT_ARG(ExpandingArray<D * 2>, padding);
};
using ZeroPad2dOptions = PadOptionsBase<2>;
using ReflectionPad2dOptions = PadOptionsBase<2>;
using ReplicationPad2dOptions = PadOptionsBase<2>;

struct ConstantPad2dOptions {
  ConstantPad2dOptions(ExpandingArray<4> padding, double value) : padding_(padding), value_(value) {}
  CNNKIT_ARG(ExpandingArray<4>, padding);
  CNNKIT_ARG(double, value);
};

struct PixelShuffleOptions {
  PixelShuffleOptions(int64_t upscale_factor) : upscale_factor_(upscale_factor) {}  // NOLINT
  CNNKIT_ARG(int64_t, upscale_factor);
};

struct PixelUnshuffleOptions {
  PixelUnshuffleOptions(int64_t downscale_factor) : downscale_factor_(downscale_factor) {}  // NOLINT
  CNNKIT_ARG(int64_t, downscale_factor);
};

// Unflatten(dim, sizes): dimension `dim` becomes `sizes` (one of them may be -1).
struct UnflattenOptions {
  UnflattenOptions(int64_t dim, std::vector<int64_t> sizes) : dim_(dim), sizes_(std::move(sizes)) {}
  CNNKIT_ARG(int64_t, dim);
  CNNKIT_ARG(std::vector<int64_t>, sizes);
};
namespace functional {

struct PadFuncOptions {
  using mode_t = std::variant<enumtype::kConstant, enumtype::kReflect, enumtype::kReplicate, enumtype::kCircular>;
  PadFuncOptions(std::vector<int64_t> pad) : pad_(std::move(pad)) {}  // NOLINT
  CNNKIT_ARG(std::vector<int64_t>, pad);
  CNNKIT_ARG(mode_t, mode) = kConstant;
  CNNKIT_ARG(double, value) = 0;
};

using PixelShuffleFuncOptions = PixelShuffleOptions;
using PixelUnshuffleFuncOptions = PixelUnshuffleOptions;

}  // namespace functional
}  // namespace nn
}  // namespace cnnkit
