// Private to the ops layer: the dtype rules and the forward-only element-wise drivers that
// both the free functions (elementwise.cpp) and the Tensor methods (tensor_methods.cpp)
// use, including every in-place op. Nothing here records autograd history.
#pragma once

#include "cnnkit/core/tensor.h"
#include "kernels/elementwise.h"

namespace cnnkit::elementwise_detail {

// Result type of arithmetic between two tensors: float if either is float, else int64.
ScalarType promote(ScalarType a, ScalarType b);
// Result type of arithmetic between a tensor and a double: float unless the tensor is
// integral and the value is integral (then int64), so `labels + 1` stays int64.
ScalarType promote_scalar(ScalarType a, double s);
// t in dtype ct: t itself if it already is, else a converted contiguous copy (no history).
Tensor cast(const Tensor& t, ScalarType ct);
// A contiguous copy of t broadcast to `sizes` (no history).
Tensor broadcast_copy(const Tensor& t, IntArrayRef sizes);

// Out-of-place forwards (results are new contiguous tensors, no history).
Tensor binary_forward(const Tensor& a, const Tensor& b, kernels::BinaryOp op, double alpha, const char* name);
Tensor scalar_forward(const Tensor& a, double s, kernels::BinaryOp op, bool scalar_first, const char* name);
Tensor unary_forward(const Tensor& a, kernels::UnaryOp op, const char* name);

// In-place drivers: write through self's strides (self may be a non-contiguous view).
// check_inplace throws ValueError when grad mode is on and self requires grad: the drivers
// record nothing, so the gradient would silently be wrong.
void check_inplace(const Tensor& self, const char* name);

// In-place ops under autograd (x += y where x or y requires grad), recorded as PyTorch does
// by rebasing self's history: the Tensor methods ask records_inplace() first and, when it
// says so, compute the op out of place from self (so the new node's edges lead to self's
// old history) and hand self the result with rebase_inplace(). When no view shows self's
// storage, self takes the result's storage and whatever backward saved of the old values
// stays intact; when views do, the values are written through so that they see them.
// records_inplace throws, with the op's name, where that cannot be right: a leaf that
// requires grad (as PyTorch), self a view or detached alias (its base would not learn of
// the op), and views of a storage that backward also saved.
bool records_inplace(const Tensor& self, std::initializer_list<const Tensor*> others, const char* name);
Tensor& rebase_inplace(Tensor& self, const Tensor& result, const char* name);
void binary_inplace(const Tensor& self, const Tensor& other, kernels::BinaryOp op, double alpha, const char* name);
void scalar_inplace(const Tensor& self, double s, kernels::BinaryOp op, const char* name);
void unary_inplace(const Tensor& self, kernels::UnaryOp op, const char* name);
void clamp_inplace(const Tensor& self, std::optional<double> lo, std::optional<double> hi, const char* name);
void masked_fill_inplace(const Tensor& self, const Tensor& mask, double value);
// self = self + value * t1 * t2 (kAddcmul), self + value * t1 / t2 (kAddcdiv).
void addc_inplace(const Tensor& self, const Tensor& t1, const Tensor& t2, double value, bool div, const char* name);
void lerp_inplace(const Tensor& self, const Tensor& end, double weight);
// self <- src broadcast to self's shape, converted to self's dtype.
void copy_into(const Tensor& self, const Tensor& src, const char* name);

}  // namespace cnnkit::elementwise_detail
