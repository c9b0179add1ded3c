// nn::init (torch::nn::init): PyTorch's weight initialisers, in place, under NoGradGuard,
// drawing from the global generator (cnnkit::manual_seed). The formulas are PyTorch's:
//   gain        = calculate_gain(nonlinearity, param)
//   kaiming_*   : std = gain / sqrt(fan), uniform bound = sqrt(3) * std
//   xavier_*    : std = gain * sqrt(2 / (fan_in + fan_out)), uniform bound = sqrt(3) * std
// fan_in = size(1) * receptive field, fan_out = size(0) * receptive field.
//   nn::init::kaiming_normal_(conv->weight, 0, cnnkit::kFanOut, cnnkit::kReLU);
//   nn::init::zeros_(conv->bias);
#pragma once

#include <cstdint>
#include <tuple>
#include <variant>

#include "cnnkit/core/enum.h"
#include "cnnkit/core/tensor.h"

namespace cnnkit {
namespace nn {
namespace init {

using NonlinearityType =
    std::variant<enumtype::kLinear, enumtype::kConv1D, enumtype::kConv2D, enumtype::kConv3D, enumtype::kSigmoid,
                 enumtype::kTanh, enumtype::kReLU, enumtype::kLeakyReLU, enumtype::kSELU>;
using FanModeType = std::variant<enumtype::kFanIn, enumtype::kFanOut>;

// The recommended gain for a nonlinearity; param is LeakyReLU's negative slope.
double calculate_gain(NonlinearityType nonlinearity, double param = 0.01);

// (fan_in, fan_out) of a weight with at least 2 dims.
std::tuple<int64_t, int64_t> _calculate_fan_in_and_fan_out(const Tensor& tensor);

Tensor constant_(Tensor tensor, double value);
Tensor zeros_(Tensor tensor);
Tensor ones_(Tensor tensor);
Tensor uniform_(Tensor tensor, double low = 0, double high = 1);
Tensor normal_(Tensor tensor, double mean = 0, double std = 1);
// 2-d identity (ones on the diagonal of a possibly non-square matrix).
Tensor eye_(Tensor matrix);
// Dirac delta for 3/4/5-d conv weights: preserves the identity of the input channels.
Tensor dirac_(Tensor tensor);
Tensor xavier_uniform_(Tensor tensor, double gain = 1.0);
Tensor xavier_normal_(Tensor tensor, double gain = 1.0);
Tensor kaiming_uniform_(Tensor tensor, double a = 0, FanModeType mode = kFanIn,
                        NonlinearityType nonlinearity = kLeakyReLU);
Tensor kaiming_normal_(Tensor tensor, double a = 0, FanModeType mode = kFanIn,
                       NonlinearityType nonlinearity = kLeakyReLU);

}  // namespace init
}  // namespace nn
}  // namespace cnnkit
