// Reduction kernels over raw pointers, plus the index gathers and scatters that the
// backward of reductions and the shape ops need (sort, topk, gather, index_select, pad).
// No Tensor and no autograd here; the op layer (src/ops/reduce.cpp, shape.cpp) checks
// shapes, allocates outputs and brings inputs to the contiguous layouts described below.
//
// Shape letters, used throughout: a contiguous input is viewed as (P, O, R, I) or (O, R, I)
// where P and R are reduced and O and I kept; out[o, i] = op over (p, r) of in[p, o, r, i].
// Outputs are contiguous (O, I). Float sums accumulate in double, so results are at least
// as close to the exact value as PyTorch's cascade sums. Kernels split work across threads
// only above kGrainSize elements.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cnnkit/core/array_ref.h"

namespace cnnkit::kernels {

// ---- reductions over (P, O, R, I) or (O, R, I) --------------------------------------------
void sum(float* out, const float* in, int64_t P, int64_t O, int64_t R, int64_t I);
void sum(int64_t* out, const int64_t* in, int64_t P, int64_t O, int64_t R, int64_t I);
void sum(int64_t* out, const uint8_t* in, int64_t P, int64_t O, int64_t R, int64_t I);  // uint8, bool
void prod(float* out, const float* in, int64_t O, int64_t R, int64_t I);
void prod(int64_t* out, const int64_t* in, int64_t O, int64_t R, int64_t I);
void prod(int64_t* out, const uint8_t* in, int64_t O, int64_t R, int64_t I);
// Largest / smallest value; NaN wins (propagates) as in PyTorch. Types: float, int64, uint8.
void amax(float* out, const float* in, int64_t O, int64_t R, int64_t I);
void amax(int64_t* out, const int64_t* in, int64_t O, int64_t R, int64_t I);
void amax(uint8_t* out, const uint8_t* in, int64_t O, int64_t R, int64_t I);
void amin(float* out, const float* in, int64_t O, int64_t R, int64_t I);
void amin(int64_t* out, const int64_t* in, int64_t O, int64_t R, int64_t I);
void amin(uint8_t* out, const uint8_t* in, int64_t O, int64_t R, int64_t I);
// Value and index (into R) of the first maximum / minimum; the first NaN wins.
// values may be null (argmax). R must be > 0.
void max_with_index(float* values, int64_t* indices, const float* in, int64_t O, int64_t R, int64_t I);
void max_with_index(int64_t* values, int64_t* indices, const int64_t* in, int64_t O, int64_t R, int64_t I);
void max_with_index(uint8_t* values, int64_t* indices, const uint8_t* in, int64_t O, int64_t R, int64_t I);
void min_with_index(float* values, int64_t* indices, const float* in, int64_t O, int64_t R, int64_t I);
void min_with_index(int64_t* values, int64_t* indices, const int64_t* in, int64_t O, int64_t R, int64_t I);
void min_with_index(uint8_t* values, int64_t* indices, const uint8_t* in, int64_t O, int64_t R, int64_t I);
// var = sum((x - mean)^2) / (R - correction), two passes in double; mean may be null.
void var_mean(float* var, float* mean, const float* in, int64_t O, int64_t R, int64_t I, int64_t correction);
// (sum |x|^p)^(1/p); p = 0 counts non-zeros, p = +-inf gives max / min of |x|.
void norm(float* out, const float* in, int64_t O, int64_t R, int64_t I, double p);
// log(sum(exp(x))) computed around the maximum; -inf for R == 0.
void logsumexp(float* out, const float* in, int64_t O, int64_t R, int64_t I);
// Whether every / any of n elements is non-zero (NaN counts as non-zero).
bool all_nonzero(const float* in, int64_t n);
bool all_nonzero(const int64_t* in, int64_t n);
bool all_nonzero(const uint8_t* in, int64_t n);
bool any_nonzero(const float* in, int64_t n);
bool any_nonzero(const int64_t* in, int64_t n);
bool any_nonzero(const uint8_t* in, int64_t n);

// ---- sort and top-k along R of (O, R, I) -> values and int64 indices (O, K, I) --------------
// Stable; NaN sorts as the largest value (PyTorch's order). K = R for sort.
void sort(float* values, int64_t* indices, const float* in, int64_t O, int64_t R, int64_t I, bool descending);
void sort(int64_t* values, int64_t* indices, const int64_t* in, int64_t O, int64_t R, int64_t I, bool descending);
void topk(float* values, int64_t* indices, const float* in, int64_t O, int64_t R, int64_t I, int64_t k,
          bool largest, bool sorted);
void topk(int64_t* values, int64_t* indices, const int64_t* in, int64_t O, int64_t R, int64_t I, int64_t k,
          bool largest, bool sorted);

// ---- backward helpers, over n contiguous elements (g, stats broadcast to x's shape) -------------
// All of them write (=) dx; none accumulate.
// dx = g * (x - mean) * scale                                   (var)
void var_backward(float* dx, const float* g, const float* x, const float* mean, int64_t n, double scale);
// dx = std == 0 ? 0 : g * (x - mean) / (std * denom)            (std; denom = R - correction)
void std_backward(float* dx, const float* g, const float* x, const float* mean, const float* std,
                  int64_t n, double denom);
// p-norm for finite p != 0: dx = g * x |x|^(p-2) / norm^(p-1); 0 where x == 0 or norm == 0.
void norm_backward(float* dx, const float* g, const float* x, const float* norm, int64_t n, double p);
// dx = g * exp(x - out)                                         (logsumexp)
void logsumexp_backward(float* dx, const float* g, const float* x, const float* out, int64_t n);
// dx = (g * sign / count) * (key(x) == value), key = x or |x| (use_abs), sign = sign(x) when
// use_abs: the gradient of max/min/amax/amin and the inf-norms, split evenly between ties.
// nan_ties: a NaN key matches a NaN value (max(), min(), the inf-norms: the gradient goes to
// the NaNs); without it (amax, amin) nothing matches a NaN value, count is 0 and the slice's
// gradient is 0 / 0 * 0 = NaN, PyTorch's formulas and results both.
void ties_backward(float* dx, const float* g, const float* x, const float* value, const float* count,
                   int64_t n, bool use_abs, bool nan_ties = true);
// mask = key(x) == value ? 1 : 0 (NaN matching NaN if nan_ties): the ties that share a gradient.
void ties_mask(float* mask, const float* x, const float* value, int64_t n, bool use_abs, bool nan_ties = true);
// Whether none of the n floats is NaN or +-Inf (one vectorised pass over the bits).
bool all_finite(const float* x, int64_t n);
// Product of all n elements but x[i], for each i (the prod gradient, exact with zeros).
void prod_backward(float* dx, float g, const float* x, int64_t n);
// x[i] *= s
void scale(float* x, int64_t n, float s);

// ---- index kernels -----------------------------------------------------------------------
// out[o, index[o, k, i], i] += src[o, k, i]: out (O, R, I), src and index (O, K, I).
// Indices must already be checked to lie in [0, R).
void scatter_add_dim(float* out, const float* src, const int64_t* index, int64_t O, int64_t R, int64_t K,
                     int64_t I);
// out[o, k, i] = in[o, index[k], i]: in (O, R, I) contiguous, out (O, K, I); any element size.
void index_select(void* out, const void* in, size_t elem_size, const int64_t* index, int64_t O, int64_t R,
                  int64_t K, int64_t I);
// out[o, index[k], i] += src[o, k, i]
void index_add(float* out, const float* src, const int64_t* index, int64_t O, int64_t R, int64_t K, int64_t I);
// out[j] = in[j with coordinate `dim` replaced by index[j]]: out and index contiguous in
// index_sizes, in addressed with in_strides (elements). Any element size.
void gather(void* out, const void* in, size_t elem_size, IntArrayRef in_strides, const int64_t* index,
            IntArrayRef index_sizes, int64_t dim);
// out[j with coordinate `dim` replaced by index[j]] += src[j]: src and index contiguous in
// index_sizes, out contiguous with out_strides.
void scatter_add(float* out, IntArrayRef out_strides, const float* src, const int64_t* index,
                 IntArrayRef index_sizes, int64_t dim);
// dst (dst_strides) <- src (src_strides), both of `sizes`, same element size.
void copy_between_strided(void* dst, IntArrayRef dst_strides, const void* src, IntArrayRef src_strides,
                          IntArrayRef sizes, size_t elem_size);

// ---- padding of the last k dims -----------------------------------------------------------
// in (outer, in_sizes[0..k)) and out (outer, out_sizes[0..k)) contiguous; maps[d][o] is the
// input coordinate feeding output coordinate o along padded dim d, or -1 for the fill value.
void pad_gather(float* out, const float* in, int64_t outer, int64_t k, const int64_t* in_sizes,
                const int64_t* out_sizes, const int64_t* const* maps, float fill);
void pad_gather(int64_t* out, const int64_t* in, int64_t outer, int64_t k, const int64_t* in_sizes,
                const int64_t* out_sizes, const int64_t* const* maps, int64_t fill);
void pad_gather(uint8_t* out, const uint8_t* in, int64_t outer, int64_t k, const int64_t* in_sizes,
                const int64_t* out_sizes, const int64_t* const* maps, uint8_t fill);
// Backward: gin (zeroed by the caller) += gout routed through the same maps.
void pad_scatter_add(float* gin, const float* gout, int64_t outer, int64_t k, const int64_t* in_sizes,
                     const int64_t* out_sizes, const int64_t* const* maps);

}  // namespace cnnkit::kernels
