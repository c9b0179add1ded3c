// Winograd F(2x2, 3x3) and F(4x4, 3x3) convolutions between nChw8c tensors (kernels/winograd.h).
//
// The tiles of all images are numbered in one sequence (image, tile row, tile column) and
// cut into blocks of T tiles, a block per parallel_for step. A block goes through three
// phases while its data stay in L2 (A = m + 2, the input tile's side; E = A * A):
//   1. input transform: each tile's A x A patch, 8 channels a vector, to V[E][T][C_in];
//   2. E matrix products M[e] (T x C_out) = V[e] (T x C_in) U[e] (C_in x C_out), by a
//      6-tile x 16-channel register block (12 accumulators, an FMA per broadcast input);
//   3. output transform: At M A, plus the bias and the residual, through the ReLU, to dst;
//      a tile whose convolution is not finite is computed again directly (winograd.h).
// The backward-data pass is this forward on other operands (backward_data_shape). The weight
// gradient walks the same blocks with phase 1, then At^T dy At for the output gradient's
// tiles (Z[E][T][C_out]), then dU[e] += V[e]^T Z[e] by the same register block with channels
// for rows, each thread into its own dU; dW = Gt dU G at the end.
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

#if defined(__x86_64__)
#include <immintrin.h>
#define CNNKIT_WINOGRAD_AVX2 1
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

bool cpu_ok() {
#if CNNKIT_WINOGRAD_AVX2
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
#else
  return false;
#endif
}

// G for tile m, (m + 2) x 3, in double.
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

std::atomic<bool>& weight_grad_flag() {
  static std::atomic<bool> on{[] {
    const char* e = std::getenv("CNNKIT_WINOGRAD_WGRAD");
    return e != nullptr && e[0] == '1' && e[1] == '\0';
  }()};
  return on;
}

}  // namespace

bool enabled() { return enabled_flag().load(std::memory_order_relaxed); }
void set_enabled(bool on) { enabled_flag().store(on, std::memory_order_relaxed); }
bool weight_grad_enabled() { return weight_grad_flag().load(std::memory_order_relaxed); }
void set_weight_grad_enabled(bool on) { weight_grad_flag().store(on, std::memory_order_relaxed); }
uint64_t calls() { return call_count.load(std::memory_order_relaxed); }

bool supported(const Conv2dShape& s) {
  return enabled() && cpu_ok() && s.kH == 3 && s.kW == 3 && s.stride_h == 1 && s.stride_w == 1 && s.dil_h == 1 &&
         s.dil_w == 1 && s.groups == 1 && s.C_in % 8 == 0 && s.C_out % 8 == 0 && s.C_in > 0 && s.C_out > 0 &&
         s.N > 0 && s.H_out > 0 && s.W_out > 0 && s.pad_t <= 2 && s.pad_l <= 2 && s.pad_b <= 2 && s.pad_r <= 2;
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

#if CNNKIT_WINOGRAD_AVX2
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
#if CNNKIT_WINOGRAD_AVX2
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

#define CNNKIT_WINO_INLINE __attribute__((target("avx2,fma"), always_inline)) inline

// The one-dimensional transforms of tile m, on vectors of 8 channels: Bt x (A values to A)
// and At x (A values to m).
template <int m>
struct Transform;

template <>
struct Transform<2> {
  CNNKIT_WINO_INLINE static void input(const __m256 (&x)[4], __m256 (&r)[4]) {
    r[0] = _mm256_sub_ps(x[0], x[2]);
    r[1] = _mm256_add_ps(x[1], x[2]);
    r[2] = _mm256_sub_ps(x[2], x[1]);
    r[3] = _mm256_sub_ps(x[1], x[3]);
  }
  CNNKIT_WINO_INLINE static void output(const __m256 (&x)[4], __m256 (&y)[2]) {
    y[0] = _mm256_add_ps(_mm256_add_ps(x[0], x[1]), x[2]);
    y[1] = _mm256_sub_ps(_mm256_sub_ps(x[1], x[2]), x[3]);
  }
  // The output transform's transpose, At^T y (2 values to 4): the weight gradient's view of
  // an output-gradient tile.
  CNNKIT_WINO_INLINE static void expand(const __m256 (&y)[2], __m256 (&z)[4]) {
    z[0] = y[0];
    z[1] = _mm256_add_ps(y[0], y[1]);
    z[2] = _mm256_sub_ps(y[0], y[1]);
    z[3] = _mm256_sub_ps(_mm256_setzero_ps(), y[1]);
  }
};

template <>
struct Transform<4> {
  CNNKIT_WINO_INLINE static void input(const __m256 (&x)[6], __m256 (&r)[6]) {
    const __m256 d13 = _mm256_sub_ps(x[3], x[1]), d24 = _mm256_sub_ps(x[4], x[2]);
    const __m256 half = _mm256_set1_ps(0.5f), three_half = _mm256_set1_ps(1.5f), two = _mm256_set1_ps(2.0f),
                 five_half = _mm256_set1_ps(2.5f);
    r[0] = _mm256_fmadd_ps(three_half, d13, _mm256_fnmadd_ps(two, x[2], _mm256_add_ps(x[0], x[4])));
    r[1] = _mm256_fmadd_ps(five_half, x[3], _mm256_fmadd_ps(half, x[2], _mm256_sub_ps(x[4], x[1])));
    r[2] = _mm256_fmadd_ps(half, x[3], _mm256_fnmadd_ps(five_half, x[2], _mm256_add_ps(x[4], x[1])));
    r[3] = _mm256_fmadd_ps(two, d13, d24);
    r[4] = _mm256_fnmadd_ps(half, d13, d24);
    r[5] = _mm256_fmadd_ps(three_half, d24, _mm256_fnmadd_ps(two, x[3], _mm256_add_ps(x[1], x[5])));
  }
  CNNKIT_WINO_INLINE static void output(const __m256 (&x)[6], __m256 (&y)[4]) {
    const __m256 a = _mm256_add_ps(x[1], x[2]), b = _mm256_sub_ps(x[1], x[2]);
    y[0] = _mm256_add_ps(_mm256_add_ps(x[0], a), _mm256_add_ps(x[3], x[4]));
    y[1] = _mm256_fmadd_ps(_mm256_set1_ps(0.5f), x[3], _mm256_fnmadd_ps(_mm256_set1_ps(2.0f), x[4], b));
    y[2] = _mm256_fmadd_ps(_mm256_set1_ps(0.25f), x[3], _mm256_fmadd_ps(_mm256_set1_ps(4.0f), x[4], a));
    y[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(0.125f), x[3], _mm256_fnmadd_ps(_mm256_set1_ps(8.0f), x[4], b)),
                         x[5]);
  }
  CNNKIT_WINO_INLINE static void expand(const __m256 (&y)[4], __m256 (&z)[6]) {
    const __m256 even = _mm256_add_ps(y[0], y[2]), odd = _mm256_add_ps(y[1], y[3]);
    z[0] = y[0];
    z[1] = _mm256_add_ps(even, odd);
    z[2] = _mm256_sub_ps(even, odd);
    z[3] = _mm256_fmadd_ps(_mm256_set1_ps(0.125f), y[3],
                           _mm256_fmadd_ps(_mm256_set1_ps(0.25f), y[2], _mm256_fmadd_ps(_mm256_set1_ps(0.5f), y[1], y[0])));
    z[4] = _mm256_fmadd_ps(_mm256_set1_ps(-8.0f), y[3],
                           _mm256_fmadd_ps(_mm256_set1_ps(4.0f), y[2], _mm256_fmadd_ps(_mm256_set1_ps(-2.0f), y[1], y[0])));
    z[5] = y[3];
  }
};

// Bt d B for one channel block of one tile: the patch d at p (A x A vectors of 8 channels,
// rows `row` floats apart, columns 8), to out[e * estride], e = i * A + j.
template <int m>
CNNKIT_WINO_INLINE void transform_patch(const float* p, int64_t row, float* out, int64_t estride) {
  constexpr int A = m + 2;
  __m256 b[A][A];  // Bt d, a column at a time
  for (int j = 0; j < A; ++j) {
    __m256 x[A], r[A];
    for (int i = 0; i < A; ++i) x[i] = _mm256_loadu_ps(p + i * row + j * 8);
    Transform<m>::input(x, r);
    for (int i = 0; i < A; ++i) b[i][j] = r[i];
  }
  for (int i = 0; i < A; ++i) {  // (Bt d) B, a row at a time
    __m256 r[A];
    Transform<m>::input(b[i], r);
    for (int j = 0; j < A; ++j) _mm256_storeu_ps(out + (i * A + j) * estride, r[j]);
  }
}

// Phase 1 for tiles [t0, t0 + T): V[e][t][c]. A tile inside the image is read where it lies;
// one over an edge is first copied, with its zero padding, to a patch on the stack.
template <int m>
__attribute__((target("avx2,fma"))) void input_transform(const float* src, float* V, const Geometry& g, int64_t t0,
                                                         int64_t T) {
  constexpr int A = m + 2;
  const int64_t CB = g.C / 8, plane = g.H * g.W * 8, row = g.W * 8;
  const int64_t estride = T * g.C;  // floats between V[e] and V[e + 1]
  alignas(32) float patch[A * A * 8];
  TileCursor at(t0, g);
  for (int64_t t = 0; t < T; ++t, at.next(g)) {
    const int64_t ih0 = m * at.ty - g.pt, iw0 = m * at.tx - g.pl;
    const bool inside = ih0 >= 0 && iw0 >= 0 && ih0 + A <= g.H && iw0 + A <= g.W;
    const float* img = src + at.n * CB * plane;
    float* v = V + t * g.C;
    // The columns the tile after next adds to this row's window, fetched ahead: a row of tiles
    // walks one stream per input row and channel block, more than the prefetchers follow.
    const bool ahead = ih0 >= 0 && ih0 + A <= g.H && iw0 >= 0 && iw0 + 2 * m + 6 <= g.W;  // 4 columns, in the rows
    for (int64_t cb = 0; cb < CB; ++cb) {
      const float* base = img + cb * plane;
      if (ahead) {
        const float* next = base + ih0 * row + (iw0 + 2 * m + 2) * 8;
        for (int i = 0; i < A; ++i) {
          __builtin_prefetch(next + i * row);
          __builtin_prefetch(next + i * row + 16);
        }
      }
      if (inside) {
        transform_patch<m>(base + ih0 * row + iw0 * 8, row, v + cb * 8, estride);
        continue;
      }
      for (int i = 0; i < A; ++i)
        for (int j = 0; j < A; ++j) {
          const int64_t ih = ih0 + i, iw = iw0 + j;
          const __m256 x = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? _mm256_loadu_ps(base + ih * row + iw * 8)
                                                                       : _mm256_setzero_ps();
          _mm256_store_ps(patch + (i * A + j) * 8, x);
        }
      transform_patch<m>(patch, A * 8, v + cb * 8, estride);
    }
  }
}

// The register block of both products (phase 2 here, the weight gradient's below):
//   Out[r][0 .. 8 NV) = (Out[r][...] when kAdd, else 0) + sum_{i < n} A[r a_row + i a_step] B[i][0 .. 8 NV)
// for R rows, B's rows ldb floats apart and Out's ldo. Named accumulators, not an array: GCC
// keeps an array of vectors in memory as well, storing every accumulator after every FMA.
template <int R, int NV, bool kAdd>
__attribute__((target("avx2,fma"))) inline void register_block(const float* A, int64_t a_row, int64_t a_step,
                                                               const float* B, int64_t ldb, float* Out, int64_t ldo,
                                                               int64_t n) {
  static_assert(R >= 1 && R <= 6 && (NV == 1 || NV == 2), "a 6 x 16 register block at most");
  __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0,
         b4 = a0, a5 = a0, b5 = a0;
#define CNNKIT_WINO_LOAD(r)                                            \
  if constexpr (kAdd && R > r) {                                       \
    a##r = _mm256_loadu_ps(Out + r * ldo);                             \
    if constexpr (NV == 2) b##r = _mm256_loadu_ps(Out + r * ldo + 8);  \
  }
  CNNKIT_WINO_LOAD(0)
  CNNKIT_WINO_LOAD(1)
  CNNKIT_WINO_LOAD(2)
  CNNKIT_WINO_LOAD(3)
  CNNKIT_WINO_LOAD(4)
  CNNKIT_WINO_LOAD(5)
#undef CNNKIT_WINO_LOAD
#define CNNKIT_WINO_ROW(r)                                          \
  if constexpr (R > r) {                                            \
    const __m256 x = _mm256_broadcast_ss(a + r * a_row);           \
    a##r = _mm256_fmadd_ps(x, u0, a##r);                           \
    if constexpr (NV == 2) b##r = _mm256_fmadd_ps(x, u1, b##r);    \
  }
  for (int64_t i = 0; i < n; ++i) {
    const float* a = A + i * a_step;
    const __m256 u0 = _mm256_loadu_ps(B + i * ldb);
    const __m256 u1 = NV == 2 ? _mm256_loadu_ps(B + i * ldb + 8) : u0;
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
    _mm256_storeu_ps(Out + r * ldo, a##r);                                  \
    if constexpr (NV == 2) _mm256_storeu_ps(Out + r * ldo + 8, b##r);       \
  }
  CNNKIT_WINO_STORE(0)
  CNNKIT_WINO_STORE(1)
  CNNKIT_WINO_STORE(2)
  CNNKIT_WINO_STORE(3)
  CNNKIT_WINO_STORE(4)
  CNNKIT_WINO_STORE(5)
#undef CNNKIT_WINO_STORE
}

// R rows of Out, all K columns: 16 at a time, then 8.
template <int R, bool kAdd>
void register_rows(const float* A, int64_t a_row, int64_t a_step, const float* B, float* Out, int64_t n, int64_t K) {
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) register_block<R, 2, kAdd>(A, a_row, a_step, B + k, K, Out + k, K, n);
  if (k < K) register_block<R, 1, kAdd>(A, a_row, a_step, B + k, K, Out + k, K, n);
}

// Out (rows x K, dense) (+)= A B over n, in blocks of kRows rows; A[r][i] at A + r a_row + i a_step,
// B (n x K, dense).
template <bool kAdd>
void product(const float* A, int64_t a_row, int64_t a_step, const float* B, float* Out, int64_t rows, int64_t n,
             int64_t K) {
  int64_t r = 0;
  for (; r + kRows <= rows; r += kRows) register_rows<kRows, kAdd>(A + r * a_row, a_row, a_step, B, Out + r * K, n, K);
  const float* a = A + r * a_row;
  float* out = Out + r * K;
  switch (rows - r) {
    case 5: register_rows<5, kAdd>(a, a_row, a_step, B, out, n, K); break;
    case 4: register_rows<4, kAdd>(a, a_row, a_step, B, out, n, K); break;
    case 3: register_rows<3, kAdd>(a, a_row, a_step, B, out, n, K); break;
    case 2: register_rows<2, kAdd>(a, a_row, a_step, B, out, n, K); break;
    case 1: register_rows<1, kAdd>(a, a_row, a_step, B, out, n, K); break;
    default: break;
  }
}

// Phase 2 for one block of T tiles: M[e] (T x K) = V[e] (T x C) U[e] (C x K), e = 0 .. E - 1.
void multiply(const float* V, const float* U, float* M, int E, int64_t T, int64_t C, int64_t K) {
  for (int e = 0; e < E; ++e) product<false>(V + e * T * C, C, 1, U + e * C * K, M + e * T * K, T, C, K);
}

// What the output transform writes an output with: relu?(conv + residual), NaN kept.
struct Epilogue {
  const float* bias;
  const float* residual;  // the image's, or null
  bool relu;
};

// Outputs [oh0, oh0 + m) x [ow0, ow0 + m) of channels [8 kb, 8 kb + 8) of one image, computed
// directly from the weights laid out [C][9][K]: for the rare tile whose Winograd result is
// not finite, so that a NaN or an infinity reaches exactly the outputs the direct
// convolution gives it (the transforms spread it over the tile).
__attribute__((target("avx2,fma"))) void direct_tile(const float* img, const float* wd, const Epilogue& ep,
                                                     float* out, const Geometry& g, int64_t oh0, int64_t ow0,
                                                     int m, int64_t kb) {
  const int64_t plane_in = g.H * g.W * 8, plane_out = g.Ho * g.Wo * 8;
  const __m256 b = ep.bias ? _mm256_loadu_ps(ep.bias + kb * 8) : _mm256_setzero_ps();
  for (int64_t oh = oh0; oh < std::min<int64_t>(oh0 + m, g.Ho); ++oh)
    for (int64_t ow = ow0; ow < std::min<int64_t>(ow0 + m, g.Wo); ++ow) {
      __m256 acc = _mm256_setzero_ps();
      for (int64_t i = 0; i < 3; ++i) {
        const int64_t ih = oh + i - g.pt;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t j = 0; j < 3; ++j) {
          const int64_t iw = ow + j - g.pl;
          if (iw < 0 || iw >= g.W) continue;
          const float* x = img + (ih * g.W + iw) * 8;
          const float* w = wd + (i * 3 + j) * g.K + kb * 8;
          for (int64_t c = 0; c < g.C; ++c)
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(x + (c / 8) * plane_in + c % 8),
                                  _mm256_loadu_ps(w + c * 9 * g.K), acc);
        }
      }
      const int64_t at = kb * plane_out + (oh * g.Wo + ow) * 8;
      __m256 v = _mm256_add_ps(acc, b);
      if (ep.residual) v = _mm256_add_ps(v, _mm256_loadu_ps(ep.residual + at));
      if (ep.relu) v = _mm256_max_ps(_mm256_setzero_ps(), v);  // NaN kept, as below
      _mm256_storeu_ps(out + at, v);
    }
}

// Phase 3 for tiles [t0, t0 + T): dst = relu?(At M A + bias + residual?).
template <int m>
__attribute__((target("avx2,fma"))) void output_transform(const float* M, const float* src, const float* wd,
                                                          const float* bias, const float* residual, bool relu,
                                                          float* dst, const Geometry& g, int64_t t0, int64_t T) {
  constexpr int A = m + 2;
  const int64_t KB = g.K / 8, plane = g.Ho * g.Wo * 8;
  const int64_t estride = T * g.K;
  const __m256 zero = _mm256_setzero_ps();
  TileCursor at(t0, g);
  for (int64_t t = 0; t < T; ++t, at.next(g)) {
    const int64_t oh0 = m * at.ty, ow0 = m * at.tx;
    const bool full = oh0 + m <= g.Ho && ow0 + m <= g.Wo;
    float* img = dst + at.n * KB * plane;
    const Epilogue ep{bias, residual ? residual + at.n * KB * plane : nullptr, relu};
    const float* mt = M + t * g.K;
    // The outputs of the tile after next, fetched ahead as in input_transform: the residual
    // to read and the destination to write.
    const bool ahead = oh0 + m <= g.Ho && ow0 + 3 * m <= g.Wo;
    const int64_t ahead_off = (oh0 * g.Wo + ow0 + 2 * m) * 8;
    for (int64_t kb = 0; kb < KB; ++kb) {
      if (ahead) {
        for (int i = 0; i < m; ++i) {
          const int64_t off = kb * plane + ahead_off + i * g.Wo * 8;
          if (ep.residual != nullptr && ep.residual != img) {
            __builtin_prefetch(ep.residual + off);
            __builtin_prefetch(ep.residual + off + 8 * m - 8);
          }
          __builtin_prefetch(img + off, 1);
          __builtin_prefetch(img + off + 8 * m - 8, 1);
        }
      }
      __m256 s[m][A];  // At M, a column at a time
      for (int j = 0; j < A; ++j) {
        __m256 x[A], y[m];
        for (int i = 0; i < A; ++i) x[i] = _mm256_loadu_ps(mt + (i * A + j) * estride + kb * 8);
        Transform<m>::output(x, y);
        for (int i = 0; i < m; ++i) s[i][j] = y[i];
      }
      const __m256 b = bias ? _mm256_loadu_ps(bias + kb * 8) : zero;
      __m256 y[m][m];  // (At M) A + bias, a row at a time
      __m256 sum[m];
      for (int i = 0; i < m; ++i) {
        Transform<m>::output(s[i], y[i]);
        for (int j = 0; j < m; ++j) y[i][j] = _mm256_add_ps(y[i][j], b);
        sum[i] = _mm256_add_ps(y[i][0], y[i][1]);
        for (int j = 2; j < m; ++j) sum[i] = _mm256_add_ps(sum[i], y[i][j]);
      }
      for (int i = 1; i < m; ++i) sum[0] = _mm256_add_ps(sum[0], sum[i]);
      // sum - sum is NaN exactly when some y is NaN or infinite (or the sum overflows).
      const __m256 inf_nan = _mm256_sub_ps(sum[0], sum[0]);
      if (_mm256_movemask_ps(_mm256_cmp_ps(inf_nan, inf_nan, _CMP_UNORD_Q)) != 0) {
        direct_tile(src + at.n * (g.C / 8) * g.H * g.W * 8, wd, ep, img, g, oh0, ow0, m, kb);
        continue;
      }
      float* base = img + kb * plane;
      const float* rbase = ep.residual ? ep.residual + kb * plane : nullptr;
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < m; ++j) {
          if (!full && (oh0 + i >= g.Ho || ow0 + j >= g.Wo)) continue;
          const int64_t off = ((oh0 + i) * g.Wo + ow0 + j) * 8;
          __m256 v = rbase ? _mm256_add_ps(y[i][j], _mm256_loadu_ps(rbase + off)) : y[i][j];
          if (relu) v = _mm256_max_ps(zero, v);  // maxps returns its second operand for a NaN: kept
          _mm256_storeu_ps(base + off, v);
        }
    }
  }
}

template <int m>
void run(const float* src, const float* U, const float* wd, const float* bias, const float* residual, bool relu,
         float* dst, const Conv2dShape& s) {
  constexpr int E = (m + 2) * (m + 2);
  Geometry g{s.C_in, s.C_out, s.H, s.W, s.H_out, s.W_out, s.pad_t, s.pad_l, (s.H_out + m - 1) / m,
             (s.W_out + m - 1) / m};
  const int64_t tiles = s.N * g.TH * g.TW;
  // Tiles a block: V and M of a block within about 128 KiB (L2), a multiple of the register
  // block's 6 rows, at least 6 and at most 48.
  const int64_t per_tile = E * 4 * (g.C + g.K);
  const int64_t T = std::clamp<int64_t>((128 * 1024 / per_tile) / kRows * kRows, kRows, 8 * kRows);
  const double flops = 2.0 * static_cast<double>(s.N * s.C_out * s.H_out * s.W_out) * static_cast<double>(s.C_in * 9);
  const int64_t grain = flops < 8e6 ? tiles + 1 : T;  // small: one thread (as conv.cpp's serial_conv)
  // Each thread takes an equal run of tiles and walks it in blocks of T: split by whole blocks,
  // 256 tiles (ResNet-20's last stage) in 43 blocks of 6 leave one thread a block more to do.
  parallel_for(tiles, grain, [&](int64_t first, int64_t last) {
    thread_local std::vector<float> scratch;
    const size_t need = static_cast<size_t>(E * T * (g.C + g.K));
    if (scratch.size() < need) scratch.resize(need);
    float* V = scratch.data();
    float* M = V + E * T * g.C;
    for (int64_t t0 = first; t0 < last; t0 += T) {
      const int64_t n = std::min(T, last - t0);
      input_transform<m>(src, V, g, t0, n);
      multiply(V, U, M, E, n, g.C, g.K);
      output_transform<m>(M, src, wd, bias, residual, relu, dst, g, t0, n);
    }
  });
}

// ---- the weight gradient -----------------------------------------------------------------

// For tiles [t0, t0 + T) of the output gradient: Z[e][t][k] = (At^T dy At)[i][j], e = i A + j,
// the m x m tile read with zeros beyond the output. bias_sum (K floats), when not null,
// receives the sum of the tiles' values.
template <int m>
__attribute__((target("avx2,fma"))) void grad_out_transform(const float* gy, float* Z, float* bias_sum,
                                                            const Geometry& g, int64_t t0, int64_t T) {
  constexpr int A = m + 2;
  const int64_t KB = g.K / 8, plane = g.Ho * g.Wo * 8;
  const int64_t estride = T * g.K;
  const __m256 zero = _mm256_setzero_ps();
  TileCursor at(t0, g);
  for (int64_t t = 0; t < T; ++t, at.next(g)) {
    const int64_t oh0 = m * at.ty, ow0 = m * at.tx;
    const bool full = oh0 + m <= g.Ho && ow0 + m <= g.Wo;
    const float* img = gy + at.n * KB * plane;
    float* z = Z + t * g.K;
    for (int64_t kb = 0; kb < KB; ++kb) {
      const float* base = img + kb * plane + (oh0 * g.Wo + ow0) * 8;
      __m256 y[m][m];
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < m; ++j)
          y[i][j] = full || (oh0 + i < g.Ho && ow0 + j < g.Wo) ? _mm256_loadu_ps(base + (i * g.Wo + j) * 8) : zero;
      if (bias_sum != nullptr) {
        __m256 sum = zero;
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < m; ++j) sum = _mm256_add_ps(sum, y[i][j]);
        _mm256_storeu_ps(bias_sum + kb * 8, _mm256_add_ps(_mm256_loadu_ps(bias_sum + kb * 8), sum));
      }
      __m256 c[A][m];  // At^T dy, a column at a time
      for (int j = 0; j < m; ++j) {
        __m256 col[m], r[A];
        for (int i = 0; i < m; ++i) col[i] = y[i][j];
        Transform<m>::expand(col, r);
        for (int i = 0; i < A; ++i) c[i][j] = r[i];
      }
      for (int i = 0; i < A; ++i) {  // (At^T dy) At, a row at a time
        __m256 r[A];
        Transform<m>::expand(c[i], r);
        for (int j = 0; j < A; ++j) _mm256_storeu_ps(z + (i * A + j) * estride + kb * 8, r[j]);
      }
    }
  }
}

// dU[e] (C x K) += V[e]^T (C x T) Z[e] (T x K), e = 0 .. E - 1: the register block's rows are
// input channels, summed over tiles.
void accumulate(const float* V, const float* Z, float* dU, int E, int64_t T, int64_t C, int64_t K) {
  for (int e = 0; e < E; ++e) product<true>(V + e * T * C, 1, C, Z + e * T * K, dU + e * C * K, C, T, K);
}

template <int m>
bool weight_grad(const float* src, const float* gy, float* gw, float* gb, const Conv2dShape& s) {
  constexpr int A = m + 2, E = A * A;
  Geometry g{s.C_in, s.C_out, s.H, s.W, s.H_out, s.W_out, s.pad_t, s.pad_l, (s.H_out + m - 1) / m,
             (s.W_out + m - 1) / m};
  const int64_t C = g.C, K = g.K;
  const int64_t tiles = s.N * g.TH * g.TW;
  // Tiles a block: V and Z of a block within about 384 KiB, between 16 and 64 tiles. Each
  // block reads and writes the whole dU (E C K floats, 576 KiB at 64 channels) once, so a block
  // is longer than the forward's.
  const int64_t per_tile = E * 4 * (C + K);
  const int64_t T = std::clamp<int64_t>(384 * 1024 / per_tile, 16, 64);
  const int64_t blocks = (tiles + T - 1) / T;
  const double flops = 2.0 * static_cast<double>(s.N * s.C_out * s.H_out * s.W_out) * static_cast<double>(s.C_in * 9);
  const int64_t parts = flops < 8e6 || in_parallel_region() ? 1 : std::min<int64_t>(get_num_threads(), blocks);
  // Each part sums its tiles into its own dU and bias sum; the parts are added in order below.
  const int64_t part_size = E * C * K + K;
  thread_local std::vector<float> partial_buffer;  // the calling thread's: named by pointer below
  partial_buffer.assign(static_cast<size_t>(parts * part_size), 0.0f);
  float* const partial = partial_buffer.data();
  parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
    thread_local std::vector<float> scratch;
    const size_t need = static_cast<size_t>(E * T * (C + K));
    if (scratch.size() < need) scratch.resize(need);
    float* V = scratch.data();
    float* Z = V + E * T * C;
    for (int64_t p = p0; p < p1; ++p) {
      float* dU = partial + p * part_size;
      float* bias_sum = gb ? dU + E * C * K : nullptr;
      for (int64_t blk = blocks * p / parts; blk < blocks * (p + 1) / parts; ++blk) {
        const int64_t t0 = blk * T, n = std::min(T, tiles - t0);
        input_transform<m>(src, V, g, t0, n);
        grad_out_transform<m>(gy, Z, bias_sum, g, t0, n);
        accumulate(V, Z, dU, E, n, C, K);
      }
    }
  });
  // dW[k][c] = Gt dU[.][c][k] G, in double, 8 output channels at a time.
  const double* G = g_matrix(m);
  bool finite = true;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t k0 = 0; k0 < K; k0 += 8) {
      const int64_t nk = std::min<int64_t>(8, K - k0);
      double u[E][8] = {}, t[3][A][8];
      for (int64_t p = 0; p < parts; ++p)
        for (int e = 0; e < E; ++e) {
          const float* d = partial + p * part_size + (e * C + c) * K + k0;
          for (int64_t l = 0; l < nk; ++l) u[e][l] += d[l];
        }
      for (int r = 0; r < 3; ++r)  // Gt dU
        for (int b = 0; b < A; ++b)
          for (int l = 0; l < 8; ++l) {
            double v = 0;
            for (int a = 0; a < A; ++a) v += G[a * 3 + r] * u[a * A + b][l];
            t[r][b][l] = v;
          }
      for (int r = 0; r < 3; ++r)  // (Gt dU) G
        for (int q = 0; q < 3; ++q)
          for (int64_t l = 0; l < nk; ++l) {
            double v = 0;
            for (int b = 0; b < A; ++b) v += t[r][b][l] * G[b * 3 + q];
            const float f = static_cast<float>(v);
            finite = finite && std::isfinite(f);
            gw[((k0 + l) * C + c) * 9 + r * 3 + q] = f;
          }
    }
  if (gb != nullptr)
    for (int64_t k = 0; k < K; ++k) {
      double v = 0;
      for (int64_t p = 0; p < parts; ++p) v += partial[p * part_size + E * C * K + k];
      gb[k] = static_cast<float>(v);
      finite = finite && std::isfinite(gb[k]);
    }
  return finite;
}

}  // namespace

bool weight_grad_nChw8c(const float* src, const float* grad_out, float* grad_weight, float* grad_bias,
                        const Conv2dShape& s) {
  CNNKIT_ASSERT(supported(s), "winograd::weight_grad_nChw8c: a shape it does not compute");
  call_count.fetch_add(1, std::memory_order_relaxed);
  return tile_for(s) == 2 ? weight_grad<2>(src, grad_out, grad_weight, grad_bias, s)
                          : weight_grad<4>(src, grad_out, grad_weight, grad_bias, s);
}

void conv3x3_nChw8c(const float* src, const Weights& w, const float* bias, const float* residual, bool relu,
                    float* dst, const Conv2dShape& s) {
  CNNKIT_ASSERT((w.m == 2 || w.m == 4) && w.C_in == s.C_in && w.C_out == s.C_out,
                "winograd::conv3x3_nChw8c: weights transformed for another shape");
  CNNKIT_ASSERT(w.finite, "winograd::conv3x3_nChw8c: non-finite weights go to oneDNN");
  call_count.fetch_add(1, std::memory_order_relaxed);
  if (w.m == 2) {
    run<2>(src, w.U.data(), w.direct.data(), bias, residual, relu, dst, s);
  } else {
    run<4>(src, w.U.data(), w.direct.data(), bias, residual, relu, dst, s);
  }
}
#else
void conv3x3_nChw8c(const float*, const Weights&, const float*, const float*, bool, float*, const Conv2dShape&) {
  CNNKIT_ASSERT(false, "winograd::conv3x3_nChw8c needs x86-64 (supported() is false elsewhere)");
}
bool weight_grad_nChw8c(const float*, const float*, float*, float*, const Conv2dShape&) {
  CNNKIT_ASSERT(false, "winograd::weight_grad_nChw8c needs x86-64 (supported() is false elsewhere)");
  return false;
}
#endif

}  // namespace cnnkit::kernels::winograd
