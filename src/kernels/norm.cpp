// Batch, layer and group norm kernels on plain (N, C, S) / (M, K) float buffers: OpenMP over
// channels, rows or groups, vectorised contiguous inner loops, sums in float blocks added in
// double. Not oneDNN on plain data: there its batch norm is `ncsp_bnorm:any`, 2-3x slower
// than these loops (numbers in ops/norm.cpp's header). Inputs that arrive in a kept oneDNN
// layout run oneDNN's jit batch norm in that layout (end of file).
#include "kernels/norm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/core/threads.h"
#include "kernels/onednn.h"

namespace cnnkit::kernels {

namespace {

// Units of `unit_size` elements each below which a loop stays on one thread.
int64_t grain_for(int64_t unit_size) {
  return std::max<int64_t>(1, kGrainSize / std::max<int64_t>(unit_size, 1));
}

// Reductions: float SIMD partial sums over blocks of kBlock values, blocks added in double.
// That is float speed (no per-element conversion) with double accuracy across long rows.
constexpr int64_t kBlock = 512;

double sum(const float* x, int64_t n) {
  double s = 0;
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t i1 = std::min(n, i0 + kBlock);
    float p = 0;
#pragma omp simd reduction(+ : p)
    for (int64_t i = i0; i < i1; ++i) p += x[i];
    s += p;
  }
  return s;
}

// sum (x - mean)^2: the second pass of a two-pass variance (no cancellation). Rounding the
// mean to float changes the result only to second order, since sum (x - mean) = 0.
double sum_sq_dev(const float* x, double mean, int64_t n) {
  const float m = static_cast<float>(mean);
  double s = 0;
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t i1 = std::min(n, i0 + kBlock);
    float p = 0;
#pragma omp simd reduction(+ : p)
    for (int64_t i = i0; i < i1; ++i) p += (x[i] - m) * (x[i] - m);
    s += p;
  }
  return s;
}

// sdy += sum dy, sdyx += sum dy * (x - mean)
void sum_dy_dyx(const float* dy, const float* x, float mean, int64_t n, double& sdy, double& sdyx) {
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t i1 = std::min(n, i0 + kBlock);
    float a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
    for (int64_t i = i0; i < i1; ++i) {
      a += dy[i];
      b += dy[i] * (x[i] - mean);
    }
    sdy += a;
    sdyx += b;
  }
}

// y = x * a + b
void scale_shift(float* y, const float* x, float a, float b, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * a + b;
}

// dx = a * dy + b * (x - mean) + d: every norm's input gradient once its sums are known.
void grad_combine(float* dx, const float* dy, const float* x, float a, float b, float mean,
                  float d, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dx[i] = a * dy[i] + b * (x[i] - mean) + d;
}

// One sweep over a layer-norm row for the input-gradient sums and, when kParams, the
// weight/bias gradient partials. The flags are template parameters because a run-time
// condition inside an `omp simd` loop becomes masked stores, which cost 3x here.
template <bool kWeight, bool kParams>
void ln_row_sums(double& sg_out, double& sgx_out, float* pdw, float* pdb, const float* dy,
                 const float* x, const float* weight, float mean, float rstd, int64_t K) {
  double sg = 0, sgx = 0;
  for (int64_t k0 = 0; k0 < K; k0 += kBlock) {
    const int64_t k1 = std::min(K, k0 + kBlock);
    float a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
    for (int64_t k = k0; k < k1; ++k) {
      const float xc = x[k] - mean;
      const float g = kWeight ? dy[k] * weight[k] : dy[k];
      a += g;
      b += g * xc;
      if constexpr (kParams) {
        pdw[k] += dy[k] * (xc * rstd);
        pdb[k] += dy[k];
      }
    }
    sg += a;
    sgx += b;
  }
  sg_out = sg;
  sgx_out = sgx;
}

// A scratch buffer owned by the calling thread, grown when needed and never shrunk, so a
// steady-state step allocates nothing.
std::vector<double>& scratch(size_t n) {
  thread_local std::vector<double> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}
std::vector<float>& scratch_float(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

}  // namespace

// ---- batch norm ---------------------------------------------------------------------------
// Two loop orders. S > 1: one channel at a time, its N rows of S values read for the mean,
// the variance and the output while they are still in cache. S == 1 ((N, C) input after a
// Linear): a channel's values are C apart, so the loops run over rows with the channels
// innermost and keep per-channel sums in arrays (30x faster than strided channels on
// (256, 512): 0.044 ms forward, 0.055 ms backward; PyTorch 0.071 and 0.21).

namespace {

// rstd, then y = x * a[c] + b[c] folds the normalisation and the affine map into one FMA.
void bn_coefficients(float& a, float& b, double mu, double var, const float* weight,
                     const float* bias, int64_t c, double eps) {
  const double rstd = 1.0 / std::sqrt(var + eps);
  const double ad = weight ? weight[c] * rstd : rstd;
  a = static_cast<float>(ad);
  b = static_cast<float>((bias ? bias[c] : 0.0) - mu * ad);
}

// y[n, c] = x[n, c] * a[c] + b[c] over rows n of channels [c0, c1)
void rows_scale_shift(float* y, const float* x, const float* a, const float* b, int64_t N,
                      int64_t C, int64_t c0, int64_t c1) {
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * C;
    float* yr = y + n * C;
#pragma omp simd
    for (int64_t c = c0; c < c1; ++c) yr[c] = xr[c] * a[c] + b[c];
  }
}

}  // namespace

void batch_norm_forward_train(float* y, float* mean, float* var, const float* x,
                              const float* weight, const float* bias, double eps, int64_t N,
                              int64_t C, int64_t S) {
  const int64_t M = N * S;  // values per channel
  if (S == 1) {
    double* acc = scratch(static_cast<size_t>(C)).data();
    float* ab = scratch_float(static_cast<size_t>(2 * C)).data();  // a (C), then b (C)
    parallel_for(C, grain_for(N), [&](int64_t c0, int64_t c1) {
      std::fill(acc + c0, acc + c1, 0.0);
      for (int64_t n = 0; n < N; ++n) {
        const float* xr = x + n * C;
#pragma omp simd
        for (int64_t c = c0; c < c1; ++c) acc[c] += xr[c];
      }
      for (int64_t c = c0; c < c1; ++c) mean[c] = static_cast<float>(acc[c] / static_cast<double>(N));
      std::fill(acc + c0, acc + c1, 0.0);
      for (int64_t n = 0; n < N; ++n) {
        const float* xr = x + n * C;
#pragma omp simd
        for (int64_t c = c0; c < c1; ++c) acc[c] += (xr[c] - mean[c]) * (xr[c] - mean[c]);
      }
      for (int64_t c = c0; c < c1; ++c) {
        const double v = acc[c] / static_cast<double>(N);
        var[c] = static_cast<float>(v);
        bn_coefficients(ab[c], ab[C + c], mean[c], v, weight, bias, c, eps);
      }
      rows_scale_shift(y, x, ab, ab + C, N, C, c0, c1);
    });
    return;
  }
  parallel_for(C, grain_for(M), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double s = 0;
      for (int64_t n = 0; n < N; ++n) s += sum(x + (n * C + c) * S, S);
      const double mu = s / static_cast<double>(M);
      double v = 0;
      for (int64_t n = 0; n < N; ++n) v += sum_sq_dev(x + (n * C + c) * S, mu, S);
      v /= static_cast<double>(M);
      mean[c] = static_cast<float>(mu);
      var[c] = static_cast<float>(v);
      float a, b;
      bn_coefficients(a, b, mu, v, weight, bias, c, eps);
      for (int64_t n = 0; n < N; ++n) scale_shift(y + (n * C + c) * S, x + (n * C + c) * S, a, b, S);
    }
  });
}

void batch_norm_forward_eval(float* y, const float* x, const float* mean, const float* var,
                             const float* weight, const float* bias, double eps, int64_t N,
                             int64_t C, int64_t S) {
  float* ab = scratch_float(static_cast<size_t>(2 * C)).data();  // a (C), then b (C)
  for (int64_t c = 0; c < C; ++c) bn_coefficients(ab[c], ab[C + c], mean[c], var[c], weight, bias, c, eps);
  if (S == 1) {
    parallel_for(C, grain_for(N), [&](int64_t c0, int64_t c1) {
      rows_scale_shift(y, x, ab, ab + C, N, C, c0, c1);
    });
    return;
  }
  parallel_for(N * C, grain_for(S), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      scale_shift(y + r * S, x + r * S, ab[r % C], ab[C + r % C], S);
  });
}

void batch_norm_backward(float* dx, float* dweight, float* dbias, const float* dy,
                         const float* x, const float* mean, const float* var,
                         const float* weight, double eps, bool batch_stats, int64_t N,
                         int64_t C, int64_t S) {
  const int64_t M = N * S;
  const bool need_sums = dweight || dbias || (dx && batch_stats);
  // Per channel, from sum dy and sum dy * (x - mean): dx = a dy + b (x - mean) + d.
  // Training adds the b and d terms: the mean and variance depend on x.
  auto coefficients = [&](int64_t c, double sdy, double sdyx, float& a, float& b, float& d) {
    const double rstd = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
    const double ad = (weight ? weight[c] : 1.0) * rstd;
    a = static_cast<float>(ad);
    b = batch_stats ? static_cast<float>(-ad * rstd * rstd * sdyx / static_cast<double>(M)) : 0.0f;
    d = batch_stats ? static_cast<float>(-ad * sdy / static_cast<double>(M)) : 0.0f;
    if (dweight) dweight[c] = static_cast<float>(sdyx * rstd);
    if (dbias) dbias[c] = static_cast<float>(sdy);
  };
  if (S == 1) {
    double* acc = scratch(static_cast<size_t>(2 * C)).data();        // sum dy, sum dy (x - mean)
    float* abd = scratch_float(static_cast<size_t>(3 * C)).data();  // a, b, d
    parallel_for(C, grain_for(N), [&](int64_t c0, int64_t c1) {
      std::fill(acc + c0, acc + c1, 0.0);
      std::fill(acc + C + c0, acc + C + c1, 0.0);
      if (need_sums) {
        for (int64_t n = 0; n < N; ++n) {
          const float* xr = x + n * C;
          const float* gr = dy + n * C;
#pragma omp simd
          for (int64_t c = c0; c < c1; ++c) {
            acc[c] += gr[c];
            acc[C + c] += gr[c] * (xr[c] - mean[c]);
          }
        }
      }
      for (int64_t c = c0; c < c1; ++c) coefficients(c, acc[c], acc[C + c], abd[c], abd[C + c], abd[2 * C + c]);
      if (!dx) return;
      for (int64_t n = 0; n < N; ++n) {
        const float* xr = x + n * C;
        const float* gr = dy + n * C;
        float* dxr = dx + n * C;
#pragma omp simd
        for (int64_t c = c0; c < c1; ++c)
          dxr[c] = abd[c] * gr[c] + abd[C + c] * (xr[c] - mean[c]) + abd[2 * C + c];
      }
    });
    return;
  }
  parallel_for(C, grain_for(M), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const float mu = mean[c];
      double sdy = 0, sdyx = 0;
      if (need_sums)
        for (int64_t n = 0; n < N; ++n)
          sum_dy_dyx(dy + (n * C + c) * S, x + (n * C + c) * S, mu, S, sdy, sdyx);
      float a, b, d;
      coefficients(c, sdy, sdyx, a, b, d);
      if (!dx) continue;
      for (int64_t n = 0; n < N; ++n)
        grad_combine(dx + (n * C + c) * S, dy + (n * C + c) * S, x + (n * C + c) * S, a, b, mu, d, S);
    }
  });
}

void update_running_stats(float* running_mean, float* running_var, const float* mean,
                          const float* var, int64_t instances, int64_t C, int64_t count,
                          double momentum) {
  const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
  const double inv_inst = 1.0 / static_cast<double>(instances);
  for (int64_t c = 0; c < C; ++c) {
    if (running_mean) {
      double m = 0;
      for (int64_t i = 0; i < instances; ++i) m += mean[i * C + c];
      running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * m * inv_inst);
    }
    if (running_var) {
      double v = 0;
      for (int64_t i = 0; i < instances; ++i) v += var[i * C + c];
      running_var[c] =
          static_cast<float>((1.0 - momentum) * running_var[c] + momentum * v * inv_inst * unbias);
    }
  }
}

// ---- layer norm ---------------------------------------------------------------------------

void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* weight,
                        const float* bias, double eps, int64_t M, int64_t K) {
  parallel_for(M, grain_for(K), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const float* xr = x + m * K;
      float* yr = y + m * K;
      const double mu = sum(xr, K) / static_cast<double>(K);
      const double r = 1.0 / std::sqrt(sum_sq_dev(xr, mu, K) / static_cast<double>(K) + eps);
      mean[m] = static_cast<float>(mu);
      rstd[m] = static_cast<float>(r);
      const float muf = static_cast<float>(mu), rf = static_cast<float>(r);
      if (weight && bias) {
#pragma omp simd
        for (int64_t k = 0; k < K; ++k) yr[k] = (xr[k] - muf) * rf * weight[k] + bias[k];
      } else if (weight) {
#pragma omp simd
        for (int64_t k = 0; k < K; ++k) yr[k] = (xr[k] - muf) * rf * weight[k];
      } else if (bias) {
#pragma omp simd
        for (int64_t k = 0; k < K; ++k) yr[k] = (xr[k] - muf) * rf + bias[k];
      } else {
#pragma omp simd
        for (int64_t k = 0; k < K; ++k) yr[k] = (xr[k] - muf) * rf;
      }
    }
  });
}

void layer_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                         const float* mean, const float* rstd, const float* weight, int64_t M,
                         int64_t K) {
  // dweight and dbias sum over rows: each chunk of rows sums into its own float slice of the
  // scratch buffer (as PyTorch's CPU kernel does), and the slices are added in double at the
  // end: no atomics, and the same result for any thread count with the same chunking.
  const bool need_params = dweight || dbias;
  const int64_t chunks =
      std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), M * K / kGrainSize));
  std::vector<float>& buf = scratch_float(need_params ? static_cast<size_t>(chunks * 2 * K) : 0);
  float* partial = buf.data();
  if (need_params) std::fill(partial, partial + chunks * 2 * K, 0.0f);

  parallel_for(chunks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      // This chunk's parameter-gradient sums; none without affine parameters (the buffer is
      // empty then, and an offset from its null data would be undefined).
      float* pdw = need_params ? partial + t * 2 * K : nullptr;
      float* pdb = need_params ? pdw + K : nullptr;
      for (int64_t m = M * t / chunks; m < M * (t + 1) / chunks; ++m) {
        const float* xr = x + m * K;
        const float* gr = dy + m * K;
        const float muf = mean[m], rf = rstd[m];
        double sg, sgx;  // sum g, sum g * (x - mean), with g = dy * weight
        if (weight) {
          if (need_params) ln_row_sums<true, true>(sg, sgx, pdw, pdb, gr, xr, weight, muf, rf, K);
          else ln_row_sums<true, false>(sg, sgx, pdw, pdb, gr, xr, weight, muf, rf, K);
        } else {
          if (need_params) ln_row_sums<false, true>(sg, sgx, pdw, pdb, gr, xr, weight, muf, rf, K);
          else ln_row_sums<false, false>(sg, sgx, pdw, pdb, gr, xr, weight, muf, rf, K);
        }
        if (!dx) continue;
        const double r = rf;
        const float b = static_cast<float>(-r * r * r * sgx / static_cast<double>(K));
        const float d = static_cast<float>(-r * sg / static_cast<double>(K));
        float* dxr = dx + m * K;
        if (weight) {
#pragma omp simd
          for (int64_t k = 0; k < K; ++k) dxr[k] = rf * weight[k] * gr[k] + b * (xr[k] - muf) + d;
        } else {
          grad_combine(dxr, gr, xr, rf, b, muf, d, K);
        }
      }
    }
  });

  if (!need_params) return;
  for (int64_t k = 0; k < K; ++k) {
    double w = 0, b = 0;
    for (int64_t t = 0; t < chunks; ++t) {
      w += partial[t * 2 * K + k];
      b += partial[t * 2 * K + K + k];
    }
    if (dweight) dweight[k] = static_cast<float>(w);
    if (dbias) dbias[k] = static_cast<float>(b);
  }
}

// ---- group norm ---------------------------------------------------------------------------

void group_norm_forward(float* y, float* mean, float* rstd, float* var, const float* x,
                        const float* weight, const float* bias, double eps, int64_t N, int64_t C,
                        int64_t S, int64_t G) {
  const int64_t Cg = C / G, K = Cg * S;  // a group's channels are adjacent: K contiguous values
  parallel_for(N * G, grain_for(K), [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {  // blk = n * G + g
      const float* xb = x + blk * K;
      const double mu = sum(xb, K) / static_cast<double>(K);
      const double v = sum_sq_dev(xb, mu, K) / static_cast<double>(K);
      const double r = 1.0 / std::sqrt(v + eps);
      mean[blk] = static_cast<float>(mu);
      rstd[blk] = static_cast<float>(r);
      if (var) var[blk] = static_cast<float>(v);
      const int64_t g = blk % G;
      for (int64_t j = 0; j < Cg; ++j) {
        const int64_t c = g * Cg + j;
        const double a = weight ? weight[c] * r : r;
        const double b = (bias ? bias[c] : 0.0) - mu * a;
        scale_shift(y + blk * K + j * S, xb + j * S, static_cast<float>(a), static_cast<float>(b), S);
      }
    }
  });
}

void group_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x,
                         const float* mean, const float* rstd, const float* weight, int64_t N,
                         int64_t C, int64_t S, int64_t G) {
  const int64_t Cg = C / G, K = Cg * S;
  // Per (n, c): sum dy and sum dy * (x - mean[n, g]); blocks write disjoint entries.
  std::vector<double>& buf = scratch(static_cast<size_t>(2 * N * C));
  double* sdy = buf.data();
  double* sdyx = sdy + N * C;

  parallel_for(N * G, grain_for(K), [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t n = blk / G, g = blk % G;
      const double mu = mean[blk], r = rstd[blk];
      double sg = 0, sgx = 0;  // over the group, g = dy * weight[c]
      for (int64_t j = 0; j < Cg; ++j) {
        const int64_t c = g * Cg + j, row = n * C + c;
        double a = 0, b = 0;
        sum_dy_dyx(dy + row * S, x + row * S, mu, S, a, b);
        sdy[row] = a;
        sdyx[row] = b;
        const double w = weight ? weight[c] : 1.0;
        sg += w * a;
        sgx += w * b;
      }
      if (!dx) continue;
      const float b = static_cast<float>(-r * r * r * sgx / static_cast<double>(K));
      const float d = static_cast<float>(-r * sg / static_cast<double>(K));
      for (int64_t j = 0; j < Cg; ++j) {
        const int64_t c = g * Cg + j, row = n * C + c;
        const float a = static_cast<float>(r * (weight ? weight[c] : 1.0));
        grad_combine(dx + row * S, dy + row * S, x + row * S, a, b, static_cast<float>(mu), d, S);
      }
    }
  });

  if (!dweight && !dbias) return;
  for (int64_t c = 0; c < C; ++c) {
    double w = 0, b = 0;
    for (int64_t n = 0; n < N; ++n) {
      w += sdyx[n * C + c] * rstd[n * G + c / Cg];
      b += sdy[n * C + c];
    }
    if (dweight) dweight[c] = static_cast<float>(w);
    if (dbias) dbias[c] = static_cast<float>(b);
  }
}

// ---- batch norm on a kept oneDNN layout ------------------------------------------------------

namespace {

using dnnl::memory;

// Per-thread grow-only scratch: scratchpads, a gradient reordered into x's layout, and the
// outputs oneDNN writes that nobody asked for.
enum Slot { kPad, kDiffDst, kUnused, kNumSlots };
void* bn_scratch(Slot slot, size_t bytes) {
  thread_local std::unique_ptr<Storage> buf[kNumSlots];
  return onednn::grow_scratch(buf[slot], bytes);
}

dnnl::normalization_flags bn_flags(const float* weight, const float* bias, bool global_stats) {
  unsigned f = 0;
  if (weight) f |= static_cast<unsigned>(dnnl::normalization_flags::use_scale);
  if (bias) f |= static_cast<unsigned>(dnnl::normalization_flags::use_shift);
  if (global_stats) f |= static_cast<unsigned>(dnnl::normalization_flags::use_global_stats);
  return static_cast<dnnl::normalization_flags>(f);
}

int64_t eps_bits(double eps) {
  const float e = static_cast<float>(eps);
  uint32_t u;
  std::memcpy(&u, &e, sizeof u);
  return u;
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

int64_t logical_elements(const memory::desc& md) {
  int64_t n = 1;
  for (int64_t d : md.dims()) n *= d;
  return n;
}

struct BnForward {
  dnnl::batch_normalization_forward::primitive_desc pd;
  dnnl::batch_normalization_forward prim;
};
BnForward& bn_forward(const memory::desc& md, dnnl::normalization_flags flags, double eps,
                      bool training) {
  onednn::Key key("bnorm_fwd");
  key << md << int64_t(flags) << eps_bits(eps) << int64_t{training} << int64_t{onednn::threads_now()};
  return onednn::cached<BnForward>(key, [&] {
    auto prop = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    dnnl::batch_normalization_forward::desc d(prop, md, static_cast<float>(eps), flags);
    dnnl::batch_normalization_forward::primitive_desc pd(d, user_scratchpad(), onednn::engine());
    onednn::log_impl("batch_norm forward (kept layout)", pd.impl_info_str());
    return BnForward{pd, dnnl::batch_normalization_forward(pd)};
  });
}

memory channel_memory(int64_t C, const float* p) {
  return onednn::wrap(onednn::plain_desc({C}, onednn::tag::x), p);
}

}  // namespace

void batch_norm_forward_onednn(onednn::LayoutPtr* y, float* mean, float* var,
                               const onednn::Layout& x, const float* weight, const float* bias,
                               double eps, bool training) {
  const memory::desc& md = x.desc();
  const int64_t C = md.dims()[1];
  const auto flags = bn_flags(weight, bias, !training);
  onednn::SerialScope serial(onednn::serial_memory_bound(logical_elements(md)));
  BnForward& f = bn_forward(md, flags, eps, training);
  *y = std::make_shared<onednn::Layout>(md);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, x.memory()}, {DNNL_ARG_DST, (*y)->memory()},
                                       {DNNL_ARG_MEAN, channel_memory(C, mean)},
                                       {DNNL_ARG_VARIANCE, channel_memory(C, var)}};
  if (weight) args.emplace(DNNL_ARG_SCALE, channel_memory(C, weight));
  if (bias) args.emplace(DNNL_ARG_SHIFT, channel_memory(C, bias));
  const memory::desc pad = f.pd.scratchpad_desc();
  args.emplace(DNNL_ARG_SCRATCHPAD, memory(pad, onednn::engine(), bn_scratch(kPad, pad.get_size())));
  f.prim.execute(onednn::stream(), args);
}

void batch_norm_backward_onednn(onednn::LayoutPtr* dx, float* dweight, float* dbias,
                                const onednn::Operand& dy, const onednn::Layout& x,
                                const float* mean, const float* var, const float* weight,
                                const float* bias, double eps, bool batch_stats) {
  const memory::desc& md = x.desc();
  const int64_t C = md.dims()[1];
  const auto flags = bn_flags(weight, bias, !batch_stats);
  onednn::SerialScope serial(onednn::serial_memory_bound(logical_elements(md)));
  // With scale or shift, prop `backward` also writes their gradients (into scratch when
  // nobody wants them); without, backward_data.
  const bool params = weight || bias;
  struct Bwd {
    dnnl::batch_normalization_backward::primitive_desc pd;
    dnnl::batch_normalization_backward prim;
  };
  onednn::Key key("bnorm_bwd");
  key << md << int64_t(flags) << eps_bits(eps) << int64_t{onednn::threads_now()};
  Bwd& b = onednn::cached<Bwd>(key, [&] {
    BnForward& hint = bn_forward(md, flags, eps, batch_stats);
    dnnl::batch_normalization_backward::desc d(
        params ? dnnl::prop_kind::backward : dnnl::prop_kind::backward_data, md, md,
        static_cast<float>(eps), flags);
    dnnl::batch_normalization_backward::primitive_desc pd(d, user_scratchpad(), onednn::engine(),
                                                          hint.pd);
    onednn::log_impl("batch_norm backward (kept layout)", pd.impl_info_str());
    return Bwd{pd, dnnl::batch_normalization_backward(pd)};
  });
  const memory::desc plain(md.dims(), onednn::dt::f32, onednn::tag::nchw);
  memory dd = onednn::as_layout(dy, plain, md, bn_scratch(kDiffDst, md.get_size()));
  onednn::LayoutPtr out = std::make_shared<onednn::Layout>(md);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, x.memory()}, {DNNL_ARG_DIFF_DST, dd}, {DNNL_ARG_DIFF_SRC, out->memory()},
      {DNNL_ARG_MEAN, channel_memory(C, mean)}, {DNNL_ARG_VARIANCE, channel_memory(C, var)}};
  float* unused = static_cast<float*>(bn_scratch(kUnused, 2 * static_cast<size_t>(C) * sizeof(float)));
  if (weight) {
    args.emplace(DNNL_ARG_SCALE, channel_memory(C, weight));
    args.emplace(DNNL_ARG_DIFF_SCALE, channel_memory(C, dweight ? dweight : unused));
  }
  if (bias) {
    args.emplace(DNNL_ARG_SHIFT, channel_memory(C, bias));
    args.emplace(DNNL_ARG_DIFF_SHIFT, channel_memory(C, dbias ? dbias : unused + C));
  }
  const memory::desc pad = b.pd.scratchpad_desc();
  args.emplace(DNNL_ARG_SCRATCHPAD, memory(pad, onednn::engine(), bn_scratch(kPad, pad.get_size())));
  b.prim.execute(onednn::stream(), args);
  if (dx) *dx = std::move(out);
}

}  // namespace cnnkit::kernels
