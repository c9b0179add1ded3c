// Element-wise math with NumPy broadcasting (torch::add, torch::where, ...), comparisons
// (bool results) and dtype promotion: float if either side is float, else int64.
// All of these are differentiable in their float inputs.
#pragma once

#include <optional>

#include "cnnkit/core/tensor.h"

namespace cnnkit {

Tensor add(const Tensor& a, const Tensor& b, double alpha = 1);
Tensor add(const Tensor& a, double b, double alpha = 1);
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1);
Tensor sub(const Tensor& a, double b, double alpha = 1);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, double b);
Tensor rsub(const Tensor& a, double b);   // b - a
Tensor rdiv(const Tensor& a, double b);   // b / a
Tensor pow(const Tensor& a, double exponent);
Tensor pow(const Tensor& a, const Tensor& exponent);
Tensor pow(double base, const Tensor& exponent);
Tensor neg(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor sign(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor log1p(const Tensor& a);
Tensor erf(const Tensor& a);  // the Gauss error function (ONNX Erf, GELU's exact form)
Tensor sqrt(const Tensor& a);
Tensor rsqrt(const Tensor& a);
Tensor square(const Tensor& a);
Tensor reciprocal(const Tensor& a);
Tensor sin(const Tensor& a);
Tensor cos(const Tensor& a);
Tensor floor(const Tensor& a);
Tensor ceil(const Tensor& a);
Tensor round(const Tensor& a);
Tensor clamp(const Tensor& a, std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt);
Tensor clamp_min(const Tensor& a, double min);
Tensor clamp_max(const Tensor& a, double max);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& condition, const Tensor& a, double b);
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value);
Tensor lerp(const Tensor& a, const Tensor& end, double weight);
Tensor addcmul(const Tensor& a, const Tensor& t1, const Tensor& t2, double value = 1);
Tensor addcdiv(const Tensor& a, const Tensor& t1, const Tensor& t2, double value = 1);

Tensor eq(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, double b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, double b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, double b);
Tensor logical_not(const Tensor& a);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor isnan(const Tensor& a);
Tensor isinf(const Tensor& a);
Tensor isfinite(const Tensor& a);
bool equal(const Tensor& a, const Tensor& b);
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

// The broadcast shape of a and b, or a ShapeError naming both shapes.
std::vector<int64_t> broadcast_shapes(IntArrayRef a, IntArrayRef b);
// Sums grad over broadcast dimensions back down to `shape` (backward of broadcasting).
Tensor sum_to(const Tensor& grad, IntArrayRef shape);

}  // namespace cnnkit
