// Private to the ops layer: building blocks for the create_graph paths of backward closures
// (autograd/record.h). Everything here records history, so a second backward reaches it.
#pragma once

#include <functional>
#include <vector>

#include "cnnkit/core/tensor.h"

namespace cnnkit::graph_detail {

// `value`, a kernel's result that is linear in the gradient g (a slice's, a pool's backward),
// recorded as a function of g whose own backward is `adjoint` (the forward op, recorded):
// returns value.
Tensor linear_in_grad(const char* name, const Tensor& g, Tensor value, std::function<Tensor(const Tensor&)> adjoint);

// zeros(sizes) with src added at `index` along dim (gather's backward), recorded: its own
// backward gathers.
Tensor scatter_add_zeros(IntArrayRef sizes, int64_t dim, const Tensor& index, const Tensor& src);

// A reduction's gradient g (keepdim or not; `mask` marks the reduced dims) expanded back to
// the input's sizes, recorded.
Tensor expand_back(const Tensor& g, const std::vector<bool>& mask, bool keepdim, IntArrayRef in_sizes);

}  // namespace cnnkit::graph_detail
