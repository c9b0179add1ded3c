// softmax / log_softmax along a dim (torch::softmax), on oneDNN's softmax primitives.
#pragma once

#include <optional>

#include "cnnkit/core/tensor.h"

namespace cnnkit {

Tensor softmax(const Tensor& x, int64_t dim, std::optional<ScalarType> dtype = std::nullopt);
Tensor log_softmax(const Tensor& x, int64_t dim, std::optional<ScalarType> dtype = std::nullopt);

}  // namespace cnnkit
