// Options of activation layers and functionals (torch/nn/options/activation.h).
//   nn::LeakyReLUOptions().negative_slope(0.2).inplace(true)
//   nn::PReLUOptions().num_parameters(64).init(0.25)
//   F::softmax(x, F::SoftmaxFuncOptions(1))
// inplace=true writes into the input when no gradient is being recorded for it; under
// autograd the result is computed out of place (cnnkit has no in-place autograd), which
// gives the same numbers and gradients.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cnnkit/core/dtype.h"
#include "cnnkit/core/arg.h"

namespace cnnkit {
namespace nn {

struct ReLUOptions {
  ReLUOptions(bool inplace = false) : inplace_(inplace) {}  // NOLINT
  CNNKIT_ARG(bool, inplace);
};

struct ReLU6Options {
  ReLU6Options(bool inplace = false) : inplace_(inplace) {}  // NOLINT
  CNNKIT_ARG(bool, inplace);
};

struct SELUOptions {
  SELUOptions(bool inplace = false) : inplace_(inplace) {}  // NOLINT
  CNNKIT_ARG(bool, inplace);
};

struct LeakyReLUOptions {
  CNNKIT_ARG(double, negative_slope) = 1e-2;
  CNNKIT_ARG(bool, inplace) = false;
};

struct ELUOptions {
  CNNKIT_ARG(double, alpha) = 1.0;
  CNNKIT_ARG(bool, inplace) = false;
};

struct GELUOptions {
  CNNKIT_ARG(std::string, approximate) = "none";
};

struct HardtanhOptions {
  CNNKIT_ARG(double, min_val) = -1.0;
  CNNKIT_ARG(double, max_val) = 1.0;
  CNNKIT_ARG(bool, inplace) = false;
};

struct SoftplusOptions {
  CNNKIT_ARG(double, beta) = 1.0;
  CNNKIT_ARG(double, threshold) = 20.0;
};

struct PReLUOptions {
  CNNKIT_ARG(int64_t, num_parameters) = 1;
  CNNKIT_ARG(double, init) = 0.25;
};

struct SoftmaxOptions {
  SoftmaxOptions(int64_t dim) : dim_(dim) {}  // NOLINT
  CNNKIT_ARG(int64_t, dim);
};

struct LogSoftmaxOptions {
  LogSoftmaxOptions(int64_t dim) : dim_(dim) {}  // NOLINT
  CNNKIT_ARG(int64_t, dim);
};

namespace functional {
using ReLUFuncOptions = ReLUOptions;
using ReLU6FuncOptions = ReLU6Options;
using SELUFuncOptions = SELUOptions;
using LeakyReLUFuncOptions = LeakyReLUOptions;
using ELUFuncOptions = ELUOptions;
using GELUFuncOptions = GELUOptions;
using HardtanhFuncOptions = HardtanhOptions;
using SoftplusFuncOptions = SoftplusOptions;

struct SoftmaxFuncOptions {
  SoftmaxFuncOptions(int64_t dim) : dim_(dim) {}  // NOLINT
  CNNKIT_ARG(int64_t, dim);
  CNNKIT_ARG(std::optional<ScalarType>, dtype) = std::nullopt;
};

struct LogSoftmaxFuncOptions {
  LogSoftmaxFuncOptions(int64_t dim) : dim_(dim) {}  // NOLINT
  CNNKIT_ARG(int64_t, dim);
  CNNKIT_ARG(std::optional<ScalarType>, dtype) = std::nullopt;
};
}  // namespace functional

}  // namespace nn
}  // namespace cnnkit
