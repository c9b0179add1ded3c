// Reductions over all elements or over dims (torch::sum, torch::max, torch::var, ...).
// Differentiable in float inputs; max/min/argmax return int64 indices.
#pragma once

#include <optional>
#include <tuple>

#include "cnnkit/core/tensor.h"

namespace cnnkit {

Tensor sum(const Tensor& a, std::optional<ScalarType> dtype = std::nullopt);
Tensor sum(const Tensor& a, IntArrayRef dim, bool keepdim = false, std::optional<ScalarType> dtype = std::nullopt);
Tensor mean(const Tensor& a, std::optional<ScalarType> dtype = std::nullopt);
Tensor mean(const Tensor& a, IntArrayRef dim, bool keepdim = false, std::optional<ScalarType> dtype = std::nullopt);
Tensor prod(const Tensor& a);
Tensor max(const Tensor& a);
std::tuple<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor min(const Tensor& a);
std::tuple<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor amax(const Tensor& a, IntArrayRef dim = {}, bool keepdim = false);
Tensor amin(const Tensor& a, IntArrayRef dim = {}, bool keepdim = false);
Tensor argmax(const Tensor& a, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& a, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor var(const Tensor& a, bool unbiased = true);
Tensor var(const Tensor& a, IntArrayRef dim, bool unbiased = true, bool keepdim = false);
Tensor std(const Tensor& a, bool unbiased = true);
Tensor std(const Tensor& a, IntArrayRef dim, bool unbiased = true, bool keepdim = false);
std::tuple<Tensor, Tensor> var_mean(const Tensor& a, IntArrayRef dim, bool unbiased = true, bool keepdim = false);
// at::var(t, 1) / at::std(t, 1) / at::var_mean(t, 1) reduce dim 1, unbiased (gh-40287): an
// int must not reach `bool unbiased` above (see Tensor::var(int)).
Tensor var(const Tensor& a, int dim);
Tensor std(const Tensor& a, int dim);
std::tuple<Tensor, Tensor> var_mean(const Tensor& a, int dim);
// p-norm over all elements (torch::norm(t, 1), torch::norm(t, 2)); p may be inf.
Tensor norm(const Tensor& a, double p = 2);
Tensor norm(const Tensor& a, double p, IntArrayRef dim, bool keepdim = false);
Tensor logsumexp(const Tensor& a, IntArrayRef dim, bool keepdim = false);
Tensor all(const Tensor& a);
Tensor any(const Tensor& a);
std::tuple<Tensor, Tensor> topk(const Tensor& a, int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true);
std::tuple<Tensor, Tensor> sort(const Tensor& a, int64_t dim = -1, bool descending = false);
Tensor argsort(const Tensor& a, int64_t dim = -1, bool descending = false);

}  // namespace cnnkit
