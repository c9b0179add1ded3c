// Winograd F(2x2, 3x3) convolution between nChw8c tensors (kernels/winograd.h).
//
// The tiles of all images are numbered in one sequence (image, tile row, tile column) and
// cut into blocks of T tiles, a block per parallel_for step. A block goes through three
// phases while its data stay in L2:
//   1. input transform: each tile's 4x4 patch, 8 channels a vector, to V[16][T][C_in];
//   2. 16 matrix products M[e] (T x C_out) = V[e] (T x C_in) U[e] (C_in x C_out), by a
//      6-tile x 16-channel register block (12 accumulators, an FMA per broadcast input);
//   3. output transform: At M A, plus the bias and the residual, through the ReLU, to dst.
// The matrices (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016):
//   Bt = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
//   At = [1 1 1 0; 0 1 -1 -1]
#include "kernels/winograd.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "cnnkit/core/error.h"
#include "cnnkit/core/threads.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CNNKIT_WINOGRAD_AVX2 1
#endif

namespace cnnkit::kernels::winograd {

namespace {

bool env_enabled() {
  const char* e = std::getenv("CNNKIT_WINOGRAD");
  return e == nullptr || e[0] != '0';
}

std::atomic<uint64_t> call_count{0};

std::atomic<bool>& enabled_flag() {
  static std::atomic<bool> on{env_enabled()};
  return on;
}

bool cpu_ok() {
#if CNNKIT_WINOGRAD_AVX2
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
#else
  return false;
#endif
}

}  // namespace

bool enabled() { return enabled_flag().load(std::memory_order_relaxed); }
void set_enabled(bool on) { enabled_flag().store(on, std::memory_order_relaxed); }
uint64_t calls() { return call_count.load(std::memory_order_relaxed); }

bool supported(const Conv2dShape& s) {
  return enabled() && cpu_ok() && s.kH == 3 && s.kW == 3 && s.stride_h == 1 && s.stride_w == 1 && s.dil_h == 1 &&
         s.dil_w == 1 && s.groups == 1 && s.C_in % 8 == 0 && s.C_out % 8 == 0 && s.C_in > 0 && s.C_out > 0 &&
         s.N > 0 && s.H_out > 0 && s.W_out > 0 && s.pad_t <= 2 && s.pad_l <= 2 && s.pad_b <= 2 && s.pad_r <= 2;
}

std::vector<float> transform_weights(const float* weight, int64_t C_out, int64_t C_in) {
  std::vector<float> U(static_cast<size_t>(16 * C_in * C_out));
  for (int64_t o = 0; o < C_out; ++o)
    for (int64_t c = 0; c < C_in; ++c) {
      const float* g = weight + (o * C_in + c) * 9;
      double t[4][3];  // G g, in double: the transform's own rounding stays below float's
      for (int j = 0; j < 3; ++j) {
        const double g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
        t[0][j] = g0;
        t[1][j] = 0.5 * (g0 + g1 + g2);
        t[2][j] = 0.5 * (g0 - g1 + g2);
        t[3][j] = g2;
      }
      for (int i = 0; i < 4; ++i) {
        const double u[4] = {t[i][0], 0.5 * (t[i][0] + t[i][1] + t[i][2]), 0.5 * (t[i][0] - t[i][1] + t[i][2]),
                             t[i][2]};
        for (int j = 0; j < 4; ++j) U[static_cast<size_t>(((i * 4 + j) * C_in + c) * C_out + o)] = static_cast<float>(u[j]);
      }
    }
  return U;
}

#if CNNKIT_WINOGRAD_AVX2
namespace {

constexpr int kRows = 6;  // tiles per register block

struct Geometry {
  int64_t C, K, H, W, Ho, Wo, pt, pl, TH, TW;
};

// Walks tiles in order (image, tile row, tile column) without a division per tile.
struct TileCursor {
  int64_t n, ty, tx;
  TileCursor(int64_t id, const Geometry& g)
      : n(id / (g.TH * g.TW)), ty(id % (g.TH * g.TW) / g.TW), tx(id % g.TW) {}
  void next(const Geometry& g) {
    if (++tx < g.TW) return;
    tx = 0;
    if (++ty < g.TH) return;
    ty = 0;
    ++n;
  }
};

// Phase 1 for tiles [t0, t0 + T): V[e][t][c].
__attribute__((target("avx2,fma"))) void input_transform(const float* src, float* V, const Geometry& g, int64_t t0,
                                                         int64_t T) {
  const int64_t CB = g.C / 8, plane = g.H * g.W * 8;
  const int64_t estride = T * g.C;  // floats between V[e] and V[e + 1]
  const __m256 zero = _mm256_setzero_ps();
  TileCursor at(t0, g);
  for (int64_t t = 0; t < T; ++t, at.next(g)) {
    const int64_t ih0 = 2 * at.ty - g.pt, iw0 = 2 * at.tx - g.pl;
    const bool inside = ih0 >= 0 && iw0 >= 0 && ih0 + 4 <= g.H && iw0 + 4 <= g.W;
    const float* img = src + at.n * CB * plane;
    float* v = V + t * g.C;
    for (int64_t cb = 0; cb < CB; ++cb) {
      const float* base = img + cb * plane;
      __m256 d[4][4];
      if (inside) {
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 4; ++j) d[i][j] = _mm256_loadu_ps(base + ((ih0 + i) * g.W + iw0 + j) * 8);
      } else {
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 4; ++j) {
            const int64_t ih = ih0 + i, iw = iw0 + j;
            d[i][j] = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? _mm256_loadu_ps(base + (ih * g.W + iw) * 8) : zero;
          }
      }
      __m256 b[4][4];  // Bt d
      for (int j = 0; j < 4; ++j) {
        b[0][j] = _mm256_sub_ps(d[0][j], d[2][j]);
        b[1][j] = _mm256_add_ps(d[1][j], d[2][j]);
        b[2][j] = _mm256_sub_ps(d[2][j], d[1][j]);
        b[3][j] = _mm256_sub_ps(d[1][j], d[3][j]);
      }
      float* out = v + cb * 8;
      for (int i = 0; i < 4; ++i) {  // (Bt d) B
        _mm256_storeu_ps(out + (i * 4 + 0) * estride, _mm256_sub_ps(b[i][0], b[i][2]));
        _mm256_storeu_ps(out + (i * 4 + 1) * estride, _mm256_add_ps(b[i][1], b[i][2]));
        _mm256_storeu_ps(out + (i * 4 + 2) * estride, _mm256_sub_ps(b[i][2], b[i][1]));
        _mm256_storeu_ps(out + (i * 4 + 3) * estride, _mm256_sub_ps(b[i][1], b[i][3]));
      }
    }
  }
}

// Phase 2's register block: M[r][k0 .. k0 + 8 NV) = sum_c V[r][c] U[c][k0 ...] for R rows.
// Named accumulators, not an array: GCC keeps an array of vectors in memory as well,
// storing every accumulator after every FMA.
template <int R, int NV>
__attribute__((target("avx2,fma"))) inline void gemm_block(const float* V, const float* U, float* M, int64_t C,
                                                           int64_t K) {
  static_assert(R >= 1 && R <= 6 && (NV == 1 || NV == 2), "a 6 x 16 register block at most");
  __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0,
         b4 = a0, a5 = a0, b5 = a0;
#define CNNKIT_WINO_ROW(r)                                          \
  if constexpr (R > r) {                                            \
    const __m256 x = _mm256_broadcast_ss(V + r * C + c);           \
    a##r = _mm256_fmadd_ps(x, u0, a##r);                           \
    if constexpr (NV == 2) b##r = _mm256_fmadd_ps(x, u1, b##r);    \
  }
  for (int64_t c = 0; c < C; ++c) {
    const __m256 u0 = _mm256_loadu_ps(U + c * K);
    const __m256 u1 = NV == 2 ? _mm256_loadu_ps(U + c * K + 8) : u0;
    CNNKIT_WINO_ROW(0)
    CNNKIT_WINO_ROW(1)
    CNNKIT_WINO_ROW(2)
    CNNKIT_WINO_ROW(3)
    CNNKIT_WINO_ROW(4)
    CNNKIT_WINO_ROW(5)
  }
#undef CNNKIT_WINO_ROW
#define CNNKIT_WINO_STORE(r)                                                \
  if constexpr (R > r) {                                                    \
    _mm256_storeu_ps(M + r * K, a##r);                                      \
    if constexpr (NV == 2) _mm256_storeu_ps(M + r * K + 8, b##r);           \
  }
  CNNKIT_WINO_STORE(0)
  CNNKIT_WINO_STORE(1)
  CNNKIT_WINO_STORE(2)
  CNNKIT_WINO_STORE(3)
  CNNKIT_WINO_STORE(4)
  CNNKIT_WINO_STORE(5)
#undef CNNKIT_WINO_STORE
}

template <int R>
void gemm_rows(const float* V, const float* U, float* M, int64_t C, int64_t K) {
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) gemm_block<R, 2>(V, U + k, M + k, C, K);
  if (k < K) gemm_block<R, 1>(V, U + k, M + k, C, K);
}

// Phase 2 for one block of T tiles: M[e] = V[e] U[e], e = 0..15.
void multiply(const float* V, const float* U, float* M, int64_t T, int64_t C, int64_t K) {
  for (int e = 0; e < 16; ++e) {
    const float* Ve = V + e * T * C;
    const float* Ue = U + e * C * K;
    float* Me = M + e * T * K;
    int64_t t = 0;
    for (; t + kRows <= T; t += kRows) gemm_rows<kRows>(Ve + t * C, Ue, Me + t * K, C, K);
    switch (T - t) {
      case 5: gemm_rows<5>(Ve + t * C, Ue, Me + t * K, C, K); break;
      case 4: gemm_rows<4>(Ve + t * C, Ue, Me + t * K, C, K); break;
      case 3: gemm_rows<3>(Ve + t * C, Ue, Me + t * K, C, K); break;
      case 2: gemm_rows<2>(Ve + t * C, Ue, Me + t * K, C, K); break;
      case 1: gemm_rows<1>(Ve + t * C, Ue, Me + t * K, C, K); break;
      default: break;
    }
  }
}

// Phase 3 for tiles [t0, t0 + T): dst = relu?(At M A + bias + residual?).
__attribute__((target("avx2,fma"))) void output_transform(const float* M, const float* bias, const float* residual,
                                                          bool relu, float* dst, const Geometry& g, int64_t t0,
                                                          int64_t T) {
  const int64_t KB = g.K / 8, plane = g.Ho * g.Wo * 8;
  const int64_t estride = T * g.K;
  TileCursor at(t0, g);
  for (int64_t t = 0; t < T; ++t, at.next(g)) {
    const int64_t oh0 = 2 * at.ty, ow0 = 2 * at.tx;
    const bool full = oh0 + 2 <= g.Ho && ow0 + 2 <= g.Wo;
    float* img = dst + at.n * KB * plane;
    const float* res = residual ? residual + at.n * KB * plane : nullptr;
    const float* m = M + t * g.K;
    for (int64_t kb = 0; kb < KB; ++kb) {
      __m256 s[2][4];  // At M
      for (int j = 0; j < 4; ++j) {
        const __m256 m0 = _mm256_loadu_ps(m + (0 * 4 + j) * estride + kb * 8);
        const __m256 m1 = _mm256_loadu_ps(m + (1 * 4 + j) * estride + kb * 8);
        const __m256 m2 = _mm256_loadu_ps(m + (2 * 4 + j) * estride + kb * 8);
        const __m256 m3 = _mm256_loadu_ps(m + (3 * 4 + j) * estride + kb * 8);
        s[0][j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
        s[1][j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
      }
      const __m256 b = bias ? _mm256_loadu_ps(bias + kb * 8) : _mm256_setzero_ps();
      const __m256 zero = _mm256_setzero_ps();
      float* base = img + kb * plane;
      const float* rbase = res ? res + kb * plane : nullptr;
      for (int i = 0; i < 2; ++i) {
        const __m256 y[2] = {_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s[i][0], s[i][1]), s[i][2]), b),
                             _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s[i][1], s[i][2]), s[i][3]), b)};
        for (int j = 0; j < 2; ++j) {
          if (!full && (oh0 + i >= g.Ho || ow0 + j >= g.Wo)) continue;
          const int64_t off = ((oh0 + i) * g.Wo + ow0 + j) * 8;
          __m256 v = rbase ? _mm256_add_ps(y[j], _mm256_loadu_ps(rbase + off)) : y[j];
          if (relu) v = _mm256_max_ps(zero, v);  // maxps returns its second operand for a NaN: kept
          _mm256_storeu_ps(base + off, v);
        }
      }
    }
  }
}

}  // namespace

void conv3x3_nChw8c(const float* src, const float* U, const float* bias, const float* residual, bool relu,
                    float* dst, const Conv2dShape& s) {
  call_count.fetch_add(1, std::memory_order_relaxed);
  Geometry g{s.C_in, s.C_out, s.H, s.W, s.H_out, s.W_out, s.pad_t, s.pad_l, (s.H_out + 1) / 2, (s.W_out + 1) / 2};
  const int64_t tiles = s.N * g.TH * g.TW;
  // Tiles a block: V and M of a block within about 128 KiB (L2), a multiple of the register
  // block's 6 rows, at least 6 and at most 48.
  const int64_t per_tile = 16 * 4 * (g.C + g.K);
  const int64_t T = std::clamp<int64_t>((128 * 1024 / per_tile) / kRows * kRows, kRows, 8 * kRows);
  const int64_t blocks = (tiles + T - 1) / T;
  const double flops = 2.0 * static_cast<double>(s.N * s.C_out * s.H_out * s.W_out) * static_cast<double>(s.C_in * 9);
  const int64_t grain = flops < 8e6 ? blocks + 1 : 1;  // small: one thread (as conv.cpp's serial_conv)
  parallel_for(blocks, grain, [&](int64_t b0, int64_t b1) {
    thread_local std::vector<float> scratch;
    const size_t need = static_cast<size_t>(16 * T * (g.C + g.K));
    if (scratch.size() < need) scratch.resize(need);
    float* V = scratch.data();
    float* M = V + 16 * T * g.C;
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t t0 = blk * T, n = std::min(T, tiles - t0);
      input_transform(src, V, g, t0, n);
      multiply(V, U, M, n, g.C, g.K);
      output_transform(M, bias, residual, relu, dst, g, t0, n);
    }
  });
}
#else
void conv3x3_nChw8c(const float*, const float*, const float*, const float*, bool, float*, const Conv2dShape&) {
  CNNKIT_ASSERT(false, "winograd::conv3x3_nChw8c needs x86-64 (supported() is false elsewhere)");
}
#endif

}  // namespace cnnkit::kernels::winograd
