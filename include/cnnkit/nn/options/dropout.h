// Options of the dropout layers and functionals (torch/nn/options/dropout.h). The layers
// take p (default 0.5); the functionals also take `training` (default true).
//   nn::Dropout(0.2), nn::Dropout2d(nn::Dropout2dOptions().p(0.1))
//   F::dropout(x, F::DropoutFuncOptions().p(0.5).training(is_training()))
#pragma once

#include "cnnkit/core/arg.h"

namespace cnnkit {
namespace nn {

struct DropoutOptions {
  DropoutOptions(double p = 0.5) : p_(p) {}  // NOLINT
  CNNKIT_ARG(double, p);
  CNNKIT_ARG(bool, inplace) = false;
};
using Dropout2dOptions = DropoutOptions;

namespace functional {
struct DropoutFuncOptions {
  CNNKIT_ARG(double, p) = 0.5;
  CNNKIT_ARG(bool, training) = true;
  CNNKIT_ARG(bool, inplace) = false;
};
using Dropout2dFuncOptions = DropoutFuncOptions;
}  // namespace functional

}  // namespace nn
}  // namespace cnnkit
