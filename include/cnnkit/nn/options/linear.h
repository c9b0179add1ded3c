// Options of Linear and Flatten (torch/nn/options/linear.h).
//   nn::LinearOptions(512, 10).bias(false)
//   nn::FlattenOptions().start_dim(1).end_dim(-1)
#pragma once

#include <cstdint>

#include "cnnkit/core/arg.h"

namespace cnnkit {
namespace nn {

struct LinearOptions {
  LinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  CNNKIT_ARG(int64_t, in_features);
  CNNKIT_ARG(int64_t, out_features);
  CNNKIT_ARG(bool, bias) = true;
};

struct FlattenOptions {
  CNNKIT_ARG(int64_t, start_dim) = 1;
  CNNKIT_ARG(int64_t, end_dim) = -1;
};

}  // namespace nn
}  // namespace cnnkit
