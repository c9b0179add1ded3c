// Options of nn::Upsample and F::interpolate (torch/nn/options/upsampling.h): the output
// `size` or a `scale_factor` per spatial dim (exactly one of them), the mode, and
// align_corners for the interpolating modes. A size or scale_factor of one value stands for
// every spatial dim (as PyTorch's int or float does). Modes: kNearest ((N, C, L) and (N, C, H, W)),
// kLinear ((N, C, L)), kBilinear ((N, C, H, W)).
//   nn::Upsample(nn::UpsampleOptions().scale_factor(std::vector<double>{2, 2}).mode(cnnkit::kBilinear)
//                    .align_corners(false))
//   F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{14, 14}).mode(cnnkit::kNearest))
#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "cnnkit/core/arg.h"
#include "cnnkit/core/enum.h"

namespace cnnkit {
namespace nn {

struct UpsampleOptions {
  using mode_t = std::variant<enumtype::kNearest, enumtype::kLinear, enumtype::kBilinear>;
  CNNKIT_ARG(std::optional<std::vector<int64_t>>, size) = std::nullopt;
  CNNKIT_ARG(std::optional<std::vector<double>>, scale_factor) = std::nullopt;
  CNNKIT_ARG(mode_t, mode) = kNearest;
  CNNKIT_ARG(std::optional<bool>, align_corners) = std::nullopt;
};

namespace functional {

struct InterpolateFuncOptions {
  using mode_t = UpsampleOptions::mode_t;
  CNNKIT_ARG(std::optional<std::vector<int64_t>>, size) = std::nullopt;
  CNNKIT_ARG(std::optional<std::vector<double>>, scale_factor) = std::nullopt;
  CNNKIT_ARG(mode_t, mode) = kNearest;
  CNNKIT_ARG(std::optional<bool>, align_corners) = std::nullopt;
  // true: the output size computed from scale_factor also sets the sampling scale (in / out);
  // unset or false: the kernel samples at 1 / scale_factor, as PyTorch's default.
  CNNKIT_ARG(std::optional<bool>, recompute_scale_factor) = std::nullopt;
};

}  // namespace functional
}  // namespace nn
}  // namespace cnnkit
