// Single-precision matrix products over raw row-major pointers: the one entry point every
// GEMM in cnnkit goes through (linear, matmul, and conv's im2col paths). Which backend runs
// is chosen per shape inside (see src/kernels/gemm.cpp for the measured rule); callers only
// describe the product. No Tensor, no autograd, no shape checks beyond debug asserts.
//
//   // C (m x n) = A (m x k) * B^T, with B stored as (n x k):
//   kernels::sgemm(false, true, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
//
// Conventions (BLAS's, row-major): op(A) is m x k, op(B) is k x n, C is m x n.
// trans_a: A is stored as k x m (row stride lda >= m), else m x k (lda >= k); likewise B.
// ldc >= n. beta == 0 means C is only written, never read (it may hold garbage or NaN).
// Any of m, n, k may be 0 (k == 0 gives C = beta * C).
#pragma once

#include <cstdint>

namespace cnnkit::kernels {

// C = alpha * op(A) op(B) + beta * C
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// `batch` independent products; matrix i of A starts at a + i * stride_a (likewise B, C).
// A stride of 0 broadcasts one matrix to every product (e.g. a weight shared by a batch).
// stride_c must not be 0.
void sgemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b,
                   float beta, float* c, int64_t ldc, int64_t stride_c);

// C = op(A) op(B) + bias, bias (n) added to every row: the fused affine map of a Linear
// layer (y = x W^T + b is sgemm_bias(false, true, rows, out, in, x, in, W, in, b, y, out)).
// bias may be null (then this is sgemm with alpha 1, beta 0).
void sgemm_bias(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                const float* b, int64_t ldb, const float* bias, float* c, int64_t ldc);

// LAPACK's sgels (trans 'N', one right-hand side): the least-squares solution of A x = b for
// A (m x n, m >= n, full rank) stored column-major with leading dimension m; b (m) is
// overwritten, its first n entries are x. Returns LAPACK's info (0 on success, i > 0 when
// A is rank deficient). torch.linalg.lstsq(driver="gels") on CPU calls the same routine of
// the same OpenBLAS, so float32 results agree bit for bit.
int sgels(int64_t m, int64_t n, float* a, float* b);

}  // namespace cnnkit::kernels
