// Winograd F(2x2, 3x3) and F(4x4, 3x3) convolutions between channel-blocked tensors
// (kernels/winograd.h): the switches, the weight transform and the dispatch to the kernels
// of each instruction set (kernels/winograd_impl.h, compiled by kernels/isa_avx2.cpp for nChw8c
// and kernels/isa_avx512.cpp for nChw16c).
// The matrices, F(2x2, 3x3) (points 0, 1, -1):
//   Bt = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
//   At = [1 1 1 0; 0 1 -1 -1]
// F(4x4, 3x3) (points 0, 1, -1, 1/2, -2):
//   Bt = [1 -3/2 -2  3/2 1 0;  0 -1   1/2  5/2 1 0;  0 1 -5/2  1/2 1 0;
//         0 -2   -1  2   1 0;  0  1/2 -1  -1/2 1 0;  0 1 -3/2 -2   3/2 1]
//   G  = [1 0 0; 1/3 1/3 1/3; -1/3 1/3 -1/3; -16/15 -8/15 -4/15; 1/15 -2/15 4/15; 0 0 1]
//   At = [1 1 1 1 1 0; 0 1 -1 1/2 -2 0; 0 1 1 1/4 4 0; 0 1 -1 1/8 -8 1]
#include "kernels/winograd.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cnnkit/core/error.h"
#include "cnnkit/core/threads.h"
#include "kernels/isa.h"
#include "kernels/simd.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CNNKIT_WINOGRAD_X86 1
#endif

namespace cnnkit::kernels::winograd {

namespace {

// CNNKIT_WINOGRAD: 0 turns the kernels off, 2 or 4 picks the tile, anything else (or unset)
// leaves both to the defaults.
int env_setting() {
  const char* e = std::getenv("CNNKIT_WINOGRAD");
  if (e == nullptr) return -1;
  if (e[0] == '0') return 0;
  if (e[0] == '2' && e[1] == '\0') return 2;
  if (e[0] == '4' && e[1] == '\0') return 4;
  return -1;
}

std::atomic<uint64_t> call_count{0};

std::atomic<bool>& enabled_flag() {
  static std::atomic<bool> on{env_setting() != 0};
  return on;
}

std::atomic<int>& tile_flag() {
  static std::atomic<int> m{env_setting() > 0 ? env_setting() : 0};
  return m;
}

std::atomic<WeightGrad>& weight_grad_flag() {
  static std::atomic<WeightGrad> use{[] {
    const char* e = std::getenv("CNNKIT_WINOGRAD_WGRAD");
    if (e == nullptr || e[0] == '\0') return WeightGrad::automatic;
    return e[0] == '1' && e[1] == '\0' ? WeightGrad::always : WeightGrad::never;
  }()};
  return use;
}

}  // namespace

bool enabled() { return enabled_flag().load(std::memory_order_relaxed); }
void set_enabled(bool on) { enabled_flag().store(on, std::memory_order_relaxed); }
WeightGrad weight_grad_use() { return weight_grad_flag().load(std::memory_order_relaxed); }
void set_weight_grad_use(WeightGrad use) { weight_grad_flag().store(use, std::memory_order_relaxed); }
uint64_t calls() { return call_count.load(std::memory_order_relaxed); }

const double* g_matrix(int m) {
  static const double g2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  static const double g4[6][3] = {{1, 0, 0},
                                  {1.0 / 3, 1.0 / 3, 1.0 / 3},
                                  {-1.0 / 3, 1.0 / 3, -1.0 / 3},
                                  {-16.0 / 15, -8.0 / 15, -4.0 / 15},
                                  {1.0 / 15, -2.0 / 15, 4.0 / 15},
                                  {0, 0, 1}};
  return m == 2 ? &g2[0][0] : &g4[0][0];
}

bool supported(const Conv2dShape& s, int block) {
  return enabled() && simd::cpu_runs(block) && s.kH == 3 && s.kW == 3 && s.stride_h == 1 && s.stride_w == 1 &&
         s.dil_h == 1 && s.dil_w == 1 && s.groups == 1 && s.C_in % block == 0 && s.C_out % block == 0 && s.C_in > 0 &&
         s.C_out > 0 && s.N > 0 && s.H_out > 0 && s.W_out > 0 && s.pad_t <= 2 && s.pad_l <= 2 && s.pad_b <= 2 &&
         s.pad_r <= 2;
}

int tile_for(const Conv2dShape& s) {
  const int m = tile_flag().load(std::memory_order_relaxed);
  if (m != 0) return m;
  // The tile with fewer element-wise products over the whole output; F(2x2) on a tie, as its
  // transforms cost less (on outputs of at most 2x2, 5x5 or 6x6, say).
  auto products = [&](int64_t t) { return (t + 2) * (t + 2) * ((s.H_out + t - 1) / t) * ((s.W_out + t - 1) / t); };
  return products(4) < products(2) ? 4 : 2;
}

void set_tile(int m) {
  CNNKIT_CHECK(m == 0 || m == 2 || m == 4, "winograd::set_tile: the tile is 0 (automatic), 2 or 4, not ", m);
  tile_flag().store(m, std::memory_order_relaxed);
}

namespace {

#if CNNKIT_WINOGRAD_X86
// U[e][c][k] = (G g Gt)[i][j], e = i * A + j, for input channels [c0, c1), from
// direct[c][t][k] = g(k, c) at tap t: in double (the transform's own rounding stays below
// float's), 8 output channels in two vectors of 4 doubles. A row i at a time: the A planes
// U[i A .. i A + A) it writes are C K floats apart (4 KiB at 32 channels), and a whole tile's
// A * A such streams would collide in the cache's sets.
template <int m>
__attribute__((target("avx2,fma"))) void transform_channels(const float* direct, float* U, int64_t C, int64_t K,
                                                            int64_t c0, int64_t c1) {
  constexpr int A = m + 2;
  const double* G = g_matrix(m);
  // a0 x + a1 y + a2 z, each product rounded, summed left to right (no fused multiply-add).
  const auto dot3 = [](__m256d a0, __m256d x, __m256d a1, __m256d y, __m256d a2, __m256d z)
                        __attribute__((target("avx2,fma"), always_inline)) {
                          return _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(a0, x), _mm256_mul_pd(a1, y)),
                                               _mm256_mul_pd(a2, z));
                        };
  const auto load4 = [](const float* p) __attribute__((target("avx2,fma"), always_inline)) {
    return _mm256_cvtps_pd(_mm_loadu_ps(p));
  };
  for (int i = 0; i < A; ++i) {
    const __m256d gi0 = _mm256_set1_pd(G[i * 3]), gi1 = _mm256_set1_pd(G[i * 3 + 1]),
                  gi2 = _mm256_set1_pd(G[i * 3 + 2]);
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t k0 = 0; k0 < K; k0 += 8) {
        const float* d = direct + c * 9 * K + k0;
        __m256d t[3][2];  // row i of G g
        for (int b = 0; b < 3; ++b)
          for (int h = 0; h < 2; ++h)
            t[b][h] = dot3(gi0, load4(d + b * K + 4 * h), gi1, load4(d + (3 + b) * K + 4 * h), gi2,
                           load4(d + (6 + b) * K + 4 * h));
        for (int j = 0; j < A; ++j) {  // (G g) Gt
          const __m256d gj0 = _mm256_set1_pd(G[j * 3]), gj1 = _mm256_set1_pd(G[j * 3 + 1]),
                        gj2 = _mm256_set1_pd(G[j * 3 + 2]);
          const __m128 lo = _mm256_cvtpd_ps(dot3(t[0][0], gj0, t[1][0], gj1, t[2][0], gj2));
          const __m128 hi = _mm256_cvtpd_ps(dot3(t[0][1], gj0, t[1][1], gj1, t[2][1], gj2));
          _mm256_storeu_ps(U + ((i * A + j) * C + c) * K + k0, _mm256_set_m128(hi, lo));
        }
      }
  }
}
#endif

// Whether every one of n floats is finite (exponent bits not all set), by integer lanes.
bool all_finite(const float* x, int64_t n) {
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

}  // namespace

Weights transform_weights(const float* weight, int64_t C_out, int64_t C_in, int m) {
  Weights w;
  transform_weights_into(w, weight, C_out, C_in, m);
  return w;
}

void transform_weights_into(Weights& w, const float* weight, int64_t C_out, int64_t C_in, int m, bool flipped) {
  CNNKIT_CHECK(m == 2 || m == 4, "winograd::transform_weights: the tile is 2 or 4, not ", m);
  CNNKIT_CHECK(C_out > 0 && C_in > 0 && C_out % 8 == 0 && C_in % 8 == 0,
               "winograd::transform_weights: channels come in vectors of 8, got C_out=", C_out, ", C_in=", C_in);
  const int A = m + 2;
  // The convolution these weights serve: C -> K, g(k, c) for that convolution.
  const int64_t C = flipped ? C_out : C_in, K = flipped ? C_in : C_out;
  w.m = m;
  w.C_in = C;
  w.C_out = K;
  w.U.resize(static_cast<size_t>(A * A * C * K));
  w.direct.resize(static_cast<size_t>(9 * C * K));
  const int64_t count = C_out * C_in * 9;
  w.finite = all_finite(weight, count);
  float* direct = w.direct.data();
  float* U = w.U.data();
  // Input channels c of the served convolution split over the threads when there is enough to
  // share (from 64K outputs: the last stage of ResNet-20, 64 x 64, about 55 us on one thread).
  const int64_t grain = A * A * C * K >= 64 * 1024 ? 1 : C + 1;
  parallel_for(C, grain, [&](int64_t c0, int64_t c1) {
    // direct[c][t][k] = g(k, c) at tap t.
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t k = 0; k < K; ++k) {
        float* d = direct + c * 9 * K + k;
        if (flipped) {  // g'(k, c) = g(c, k) turned 180 degrees, g read as weight[c][k]
          const float* g = weight + (c * C_in + k) * 9;
          for (int t = 0; t < 9; ++t) d[t * K] = g[8 - t];
        } else {
          const float* g = weight + (k * C_in + c) * 9;
          for (int t = 0; t < 9; ++t) d[t * K] = g[t];
        }
      }
#if CNNKIT_WINOGRAD_X86
    if (m == 2) {
      transform_channels<2>(direct, U, C, K, c0, c1);
    } else {
      transform_channels<4>(direct, U, C, K, c0, c1);
    }
#else
    CNNKIT_ASSERT(false, "winograd::transform_weights needs x86-64 (supported() is false elsewhere)");
#endif
  });
}

Conv2dShape backward_data_shape(const Conv2dShape& s) {
  Conv2dShape t = s;
  t.C_in = s.C_out;
  t.H = s.H_out;
  t.W = s.W_out;
  t.C_out = s.C_in;
  t.H_out = s.H;
  t.W_out = s.W;
  t.pad_t = 2 - s.pad_t;
  t.pad_l = 2 - s.pad_l;
  t.pad_b = 2 - s.pad_b;
  t.pad_r = 2 - s.pad_r;
  t.has_bias = false;
  return t;
}

int weight_grad_tile(const Conv2dShape& s, int block) {
  if (!supported(s, block)) return 0;
  switch (weight_grad_use()) {
    case WeightGrad::always: return tile_for(s);
    case WeightGrad::automatic: return block == 8 && s.C_out >= 2 * block ? 2 : 0;
    case WeightGrad::never: break;
  }
  return 0;
}

bool weight_grad(const float* src, const float* grad_out, float* grad_weight, float* grad_bias, const Conv2dShape& s,
                 int block, int m) {
  CNNKIT_ASSERT(supported(s, block), "winograd::weight_grad: a shape it does not compute");
  CNNKIT_ASSERT(m == 2 || m == 4, "winograd::weight_grad: the tile is 2 or 4, not ", m);
  call_count.fetch_add(1, std::memory_order_relaxed);
#if CNNKIT_WINOGRAD_X86
  return block == 16 ? avx512::winograd_weight_grad(src, grad_out, grad_weight, grad_bias, s, m)
                     : avx2::winograd_weight_grad(src, grad_out, grad_weight, grad_bias, s, m);
#else
  CNNKIT_ASSERT(false, "winograd::weight_grad needs x86-64 (supported() is false elsewhere)");
  return false;
#endif
}

void conv3x3(const float* src, const Weights& w, const float* bias, const float* residual, bool relu, float* dst,
             const Conv2dShape& s, int block, ChannelMoments* moments) {
  CNNKIT_ASSERT((w.m == 2 || w.m == 4) && w.C_in == s.C_in && w.C_out == s.C_out,
                "winograd::conv3x3: weights transformed for another shape");
  CNNKIT_ASSERT(w.finite, "winograd::conv3x3: non-finite weights go to oneDNN");
  CNNKIT_ASSERT(supported(s, block), "winograd::conv3x3: a shape it does not compute");
  call_count.fetch_add(1, std::memory_order_relaxed);
#if CNNKIT_WINOGRAD_X86
  float* mean = nullptr;
  float* var = nullptr;
  if (moments != nullptr) {
    moments->data = nullptr;
    moments->mean.resize(static_cast<size_t>(s.C_out));
    moments->var.resize(static_cast<size_t>(s.C_out));
    mean = moments->mean.data();
    var = moments->var.data();
  }
  const bool taken = block == 16
                         ? avx512::winograd_conv3x3(src, w.U.data(), w.direct.data(), w.m, bias, residual, relu, dst, s,
                                                    mean, var)
                         : avx2::winograd_conv3x3(src, w.U.data(), w.direct.data(), w.m, bias, residual, relu, dst, s,
                                                  mean, var);
  if (moments != nullptr && taken) {
    moments->data = dst;
    moments->C = s.C_out;
    moments->count = s.N * s.H_out * s.W_out;
  }
#else
  CNNKIT_ASSERT(false, "winograd::conv3x3 needs x86-64 (supported() is false elsewhere)");
#endif
}

}  // namespace cnnkit::kernels::winograd
