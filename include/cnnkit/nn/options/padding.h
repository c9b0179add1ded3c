// Options of F::pad (torch/nn/options/padding.h): pad sizes in PyTorch's order (last dim
// first: {left, right, top, bottom}), mode kConstant (with value), kReflect, kReplicate or
// kCircular.
//   F::pad(x, F::PadFuncOptions({1, 1, 2, 2}).mode(cnnkit::kReflect))
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

#include "cnnkit/core/enum.h"
#include "cnnkit/core/arg.h"

namespace cnnkit {
namespace nn {
namespace functional {

struct PadFuncOptions {
  using mode_t = std::variant<enumtype::kConstant, enumtype::kReflect, enumtype::kReplicate, enumtype::kCircular>;
  PadFuncOptions(std::vector<int64_t> pad) : pad_(std::move(pad)) {}  // NOLINT
  CNNKIT_ARG(std::vector<int64_t>, pad);
  CNNKIT_ARG(mode_t, mode) = kConstant;
  CNNKIT_ARG(double, value) = 0;
};

}  // namespace functional
}  // namespace nn
}  // namespace cnnkit
