// Shape ops: joins (cat, stack), views as free functions, padding, gathers.
// Views share storage; their backward maps the gradient back to the source shape.
#pragma once

#include <cstddef>
#include <string>

#include "cnnkit/core/tensor.h"

namespace cnnkit {

Tensor cat(const TensorList& tensors, int64_t dim = 0);
Tensor concat(const TensorList& tensors, int64_t dim = 0);
Tensor stack(const TensorList& tensors, int64_t dim = 0);
Tensor flatten(const Tensor& a, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor reshape(const Tensor& a, IntArrayRef sizes);
Tensor permute(const Tensor& a, IntArrayRef dims);
Tensor transpose(const Tensor& a, int64_t dim0, int64_t dim1);
Tensor t(const Tensor& a);
Tensor squeeze(const Tensor& a);
Tensor squeeze(const Tensor& a, int64_t dim);
Tensor unsqueeze(const Tensor& a, int64_t dim);
Tensor narrow(const Tensor& a, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& a, int64_t dim, int64_t index);
std::vector<Tensor> split(const Tensor& a, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t dim = 0);
std::vector<Tensor> unbind(const Tensor& a, int64_t dim = 0);
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index);
Tensor one_hot(const Tensor& labels, int64_t num_classes = -1);  // int64 labels -> int64 one-hot
Tensor clone(const Tensor& a);

// Padding of the last dims, PyTorch's order: {left, right, top, bottom, ...}.
// mode: "constant" (with value), "reflect", "replicate", "circular" (as F.pad).
Tensor pad(const Tensor& a, IntArrayRef pad, const std::string& mode = "constant", double value = 0);
// pad(x, {1, 1}, 0) would pass the literal 0 as a null `const char*` mode (undefined
// behaviour; at::pad's string_view has the same trap): refused at compile time instead.
Tensor pad(const Tensor& a, IntArrayRef pad, std::nullptr_t mode, double value = 0) = delete;

}  // namespace cnnkit
