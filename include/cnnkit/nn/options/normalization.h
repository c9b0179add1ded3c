// Options of the normalisation layers and functionals (torch/nn/options/{batchnorm,
// instancenorm,normalization}.h). BatchNorm's momentum is optional: nullopt means a
// cumulative moving average (1 / num_batches_tracked), as in PyTorch.
//   nn::BatchNorm2dOptions(64).eps(1e-3).momentum(0.01)
//   nn::LayerNormOptions({64}).elementwise_affine(false)
//   nn::GroupNormOptions(/*num_groups=*/4, /*num_channels=*/64)
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/core/arg.h"

namespace cnnkit {
namespace nn {

struct BatchNormOptions {
  BatchNormOptions(int64_t num_features) : num_features_(num_features) {}  // NOLINT
  CNNKIT_ARG(int64_t, num_features);
  CNNKIT_ARG(double, eps) = 1e-5;
  CNNKIT_ARG(std::optional<double>, momentum) = 0.1;
  CNNKIT_ARG(bool, affine) = true;
  CNNKIT_ARG(bool, track_running_stats) = true;
};
using BatchNorm1dOptions = BatchNormOptions;
using BatchNorm2dOptions = BatchNormOptions;

struct InstanceNormOptions {
  InstanceNormOptions(int64_t num_features) : num_features_(num_features) {}  // NOLINT
  CNNKIT_ARG(int64_t, num_features);
  CNNKIT_ARG(double, eps) = 1e-5;
  CNNKIT_ARG(double, momentum) = 0.1;
  CNNKIT_ARG(bool, affine) = false;
  CNNKIT_ARG(bool, track_running_stats) = false;
};
using InstanceNorm2dOptions = InstanceNormOptions;

struct LayerNormOptions {
  LayerNormOptions(std::vector<int64_t> normalized_shape)  // NOLINT
      : normalized_shape_(std::move(normalized_shape)) {}
  CNNKIT_ARG(std::vector<int64_t>, normalized_shape);
  CNNKIT_ARG(double, eps) = 1e-5;
  CNNKIT_ARG(bool, elementwise_affine) = true;
};

struct GroupNormOptions {
  GroupNormOptions(int64_t num_groups, int64_t num_channels)
      : num_groups_(num_groups), num_channels_(num_channels) {}
  CNNKIT_ARG(int64_t, num_groups);
  CNNKIT_ARG(int64_t, num_channels);
  CNNKIT_ARG(double, eps) = 1e-5;
  CNNKIT_ARG(bool, affine) = true;
};

namespace functional {

struct BatchNormFuncOptions {
  CNNKIT_ARG(Tensor, weight) = Tensor();
  CNNKIT_ARG(Tensor, bias) = Tensor();
  CNNKIT_ARG(bool, training) = false;
  CNNKIT_ARG(std::optional<double>, momentum) = 0.1;
  CNNKIT_ARG(double, eps) = 1e-5;
};

struct InstanceNormFuncOptions {
  CNNKIT_ARG(Tensor, running_mean) = Tensor();
  CNNKIT_ARG(Tensor, running_var) = Tensor();
  CNNKIT_ARG(Tensor, weight) = Tensor();
  CNNKIT_ARG(Tensor, bias) = Tensor();
  CNNKIT_ARG(bool, use_input_stats) = true;
  CNNKIT_ARG(double, momentum) = 0.1;
  CNNKIT_ARG(double, eps) = 1e-5;
};

struct LayerNormFuncOptions {
  LayerNormFuncOptions(std::vector<int64_t> normalized_shape)  // NOLINT
      : normalized_shape_(std::move(normalized_shape)) {}
  CNNKIT_ARG(std::vector<int64_t>, normalized_shape);
  CNNKIT_ARG(Tensor, weight) = {};
  CNNKIT_ARG(Tensor, bias) = {};
  CNNKIT_ARG(double, eps) = 1e-5;
};

struct GroupNormFuncOptions {
  GroupNormFuncOptions(int64_t num_groups) : num_groups_(num_groups) {}  // NOLINT
  CNNKIT_ARG(int64_t, num_groups);
  CNNKIT_ARG(Tensor, weight) = {};
  CNNKIT_ARG(Tensor, bias) = {};
  CNNKIT_ARG(double, eps) = 1e-5;
};

}  // namespace functional
}  // namespace nn
}  // namespace cnnkit
