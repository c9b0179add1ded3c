// sgemm over three backends, chosen per shape by measurement (1 thread, AVX-512 EPYC dev VM,
// oneDNN 2.6 vs Debian OpenBLAS 0.3.21; GFLOP/s for m x n x k, B transposed):
//   64x120x400: OpenBLAS 91, dnnl_sgemm 143, matmul primitive 176;  256^3: 99 / 136 / 194;
//   512x4608x512: 98 / 184 / 186;  32^3: 66 / 73 / 82;  8^3: 12 / 5 / 3;
//   1x1000x512 (a matrix-vector product): 6 / 37 / 15.
// Hence: m*n*k < 2^16 -> OpenBLAS (no primitive lookup, no fork/join: runs in ~1 us);
// m == 1 (a gemv) -> dnnl_sgemm; everything else -> oneDNN's matmul primitive, cached per
// shape/strides/alpha/beta, with strides that express transposes (no copies).
// Not here: integer GEMMs, and any shape checking (callers pass valid leading dimensions).
#include "kernels/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "cnnkit/core/error.h"
#include "kernels/onednn.h"

// LAPACK (OpenBLAS ships it; cblas.h does not declare it)
extern "C" void sgels_(const char* trans, const int* m, const int* n, const int* nrhs, float* a, const int* lda,
                       float* b, const int* ldb, float* work, const int* lwork, int* info);

namespace cnnkit::kernels {

namespace {

constexpr int64_t kSmallGemm = int64_t{1} << 16;  // m*n*k below which OpenBLAS wins
constexpr double kSerialMacs = 1e6;                // m*n*k below which one thread runs it

using dnnl::memory;

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

// A (rows x cols) matrix stored row-major with leading dimension ld, possibly transposed,
// possibly batched (batch stride `bs`, 0 = one matrix broadcast across the batch).
memory::desc matrix_desc(int64_t batch, bool trans, int64_t rows, int64_t cols, int64_t ld, int64_t bs) {
  // Element (r, c) of op(X) lives at r*ld + c, or at c*ld + r when transposed.
  const int64_t rs = trans ? 1 : ld, cs = trans ? ld : 1;
  if (batch == 0) return memory::desc({rows, cols}, memory::data_type::f32, memory::dims{rs, cs});
  const int64_t b = bs == 0 ? 1 : batch;
  const int64_t stride = bs == 0 ? std::max<int64_t>(1, (trans ? cols : rows) * ld) : bs;
  return memory::desc({b, rows, cols}, memory::data_type::f32, memory::dims{stride, rs, cs});
}

struct CachedMatmul {
  bool ok = false;  // false: oneDNN has no implementation for these strides; loop OpenBLAS
  dnnl::matmul prim;
  memory::desc src, weights, dst, bias, scratch;
};

void blas_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

// batch == 0: plain 2-d product; batch >= 1: 3-d descriptors.
void onednn_matmul(int64_t batch, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, int64_t sa, const float* b, int64_t ldb, int64_t sb,
                   float beta, float* c, int64_t ldc, int64_t sc, const float* bias) {
  namespace od = onednn;
  // Below kSerialMacs the product runs on the calling thread alone: the fork and join cost
  // more than the second thread saves. Measured on the 2-core Xeon (medians of 200 calls):
  // 64x84x120 takes 16-22 us on one thread or two; 64x120x400 80-99 us on one, 57-66 on two.
  od::SerialScope serial(static_cast<double>(std::max<int64_t>(batch, 1)) * static_cast<double>(m) *
                             static_cast<double>(n) * static_cast<double>(k) < kSerialMacs);
  od::Key key("sgemm");
  key << batch << int64_t{ta} << int64_t{tb} << m << n << k << lda << sa << ldb << sb << ldc << sc
      << int64_t{bias != nullptr} << int64_t{float_bits(alpha)} << int64_t{float_bits(beta)}
      << int64_t{od::threads_now()};
  auto& cm = od::cached<CachedMatmul>(key, [&] {
    memory::desc ad = matrix_desc(batch, ta, m, k, lda, sa);
    memory::desc bd = matrix_desc(batch, tb, k, n, ldb, sb);
    memory::desc cd = matrix_desc(batch, false, m, n, ldc, sc);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
    if (beta != 0.0f) {
      dnnl::post_ops po;
      po.append_sum(beta);
      attr.set_post_ops(po);
    }
    dnnl::matmul::primitive_desc pd;
    try {
      if (bias) {
        memory::desc biasd = batch == 0 ? memory::desc({1, n}, memory::data_type::f32, memory::format_tag::ab)
                                        : memory::desc({1, 1, n}, memory::data_type::f32, memory::format_tag::abc);
        pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, biasd, cd), attr, od::engine());
      } else {
        pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, cd), attr, od::engine());
      }
    } catch (const dnnl::error&) {
      od::log_impl("matmul", "no oneDNN implementation for these strides: OpenBLAS loop");
      return CachedMatmul{};
    }
    od::log_impl("matmul", pd.impl_info_str());
    return CachedMatmul{true, dnnl::matmul(pd), pd.src_desc(), pd.weights_desc(), pd.dst_desc(),
                        bias ? pd.bias_desc() : memory::desc(), pd.scratchpad_desc()};
  });
  if (!cm.ok) {
    for (int64_t i = 0; i < std::max<int64_t>(batch, 1); ++i) {
      float* ci = c + i * sc;
      if (bias) {
        for (int64_t r = 0; r < m; ++r) std::memcpy(ci + r * ldc, bias, static_cast<size_t>(n) * sizeof(float));
      }
      blas_sgemm(ta, tb, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, bias ? 1.0f : beta, ci, ldc);
    }
    return;
  }
  // Per-thread scratchpad: primitives may run concurrently from several threads (conv's
  // per-image GEMMs), so none may own a shared one.
  thread_local std::vector<char> scratch;
  if (scratch.size() < cm.scratch.get_size()) scratch.resize(cm.scratch.get_size());
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, od::wrap(cm.src, a)},
                                       {DNNL_ARG_WEIGHTS, od::wrap(cm.weights, b)},
                                       {DNNL_ARG_DST, od::wrap(cm.dst, c)},
                                       {DNNL_ARG_SCRATCHPAD, od::wrap(cm.scratch, scratch.data())}};
  if (bias) args.emplace(DNNL_ARG_BIAS, od::wrap(cm.bias, bias));
  cm.prim.execute(od::stream(), args);
  od::stream().wait();
}

void scale_or_zero(float* c, int64_t m, int64_t n, int64_t ldc, float beta) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) std::fill(row, row + n, 0.0f);
    else
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
  }
}


}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    scale_or_zero(c, m, n, ldc, beta);
    return;
  }
  if (m * n * k < kSmallGemm) {
    blas_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else if (m == 1) {
    dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else {
    onednn_matmul(0, trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, nullptr);
  }
}

void sgemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b,
                   float beta, float* c, int64_t ldc, int64_t stride_c) {
  if (batch == 0 || m == 0 || n == 0) return;
  CNNKIT_ASSERT(stride_c != 0 || batch == 1, "sgemm_batched: stride_c must not be 0");
  if (batch == 1 || k == 0 || batch * m * n * k < kSmallGemm) {
    for (int64_t i = 0; i < batch; ++i)
      sgemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
            c + i * stride_c, ldc);
    return;
  }
  onednn_matmul(batch, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc,
                stride_c, nullptr);
}

void sgemm_bias(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                const float* b, int64_t ldb, const float* bias, float* c, int64_t ldc) {
  if (!bias) {
    sgemm(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
    return;
  }
  if (m == 0 || n == 0) return;
  if (k == 0 || m * n * k < kSmallGemm || m == 1) {
    // Seed C with the bias and accumulate the product onto it.
    for (int64_t i = 0; i < m; ++i) std::memcpy(c + i * ldc, bias, static_cast<size_t>(n) * sizeof(float));
    if (k > 0) {
      if (m == 1 && m * n * k >= kSmallGemm)
        dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, 1.0f, c, ldc);
      else
        blas_sgemm(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, 1.0f, c, ldc);
    }
    return;
  }
  onednn_matmul(0, trans_a, trans_b, m, n, k, 1.0f, a, lda, 0, b, ldb, 0, 0.0f, c, ldc, 0, bias);
}

int sgels(int64_t m, int64_t n, float* a, float* b) {
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), nrhs = 1, ld = static_cast<int>(std::max<int64_t>(m, 1));
  int info = 0, lwork = -1;
  float query = 0;
  sgels_("N", &mi, &ni, &nrhs, a, &ld, b, &ld, &query, &lwork, &info);  // workspace query, as torch
  lwork = std::max(1, static_cast<int>(query));
  std::vector<float> work(static_cast<size_t>(lwork));
  sgels_("N", &mi, &ni, &nrhs, a, &ld, b, &ld, work.data(), &lwork, &info);
  return info;
}

}  // namespace cnnkit::kernels
