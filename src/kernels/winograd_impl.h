// The bodies of the Winograd kernels (kernels/winograd.h), written once over vector traits Vec
// (kernels/simd.h: W channels a vector, the channel block of the layout) and compiled per
// instruction set: kernels/isa_avx2.cpp (nChw8c) and kernels/isa_avx512.cpp (nChw16c) define
// CNNKIT_ISA_TARGET and include this file, whose code is compiled for that target only.
//
// The tiles of all images are numbered in one sequence (image, tile row, tile column) and
// cut into blocks of T tiles, handed to the threads in pieces of whole blocks
// (parallel_for_dynamic: every tile is computed the same way by whichever thread takes it).
// A block goes through three phases while its data stay in L2 (A = m + 2, the input tile's
// side; E = A * A):
//   1. input transform: each tile's A x A patch, W channels a vector, to V[T][E][C_in];
//   2. E matrix products M[., e] (T x C_out) = V[., e] (T x C_in) U[e] (C_in x C_out), by a
//      6-tile x 2W-channel register block (12 accumulators, an FMA per broadcast input), or,
//      for 16 output channels on AVX-512, sixteen rows of U[e] held in registers;
//   3. output transform: At M A, plus the bias and the residual, through the ReLU, to dst;
//      a tile whose convolution is not finite is computed again directly (winograd.h).
// The backward-data pass is this forward on other operands (backward_data_shape). The weight
// gradient walks the same blocks with phase 1, then At^T dy At for the output gradient's
// tiles (Z[E][T][C_out]), then dU[e] += V[., e]^T Z[e] by the same register block with channels
// for rows, each thread into its own dU; dW = Gt dU G at the end.
// The matrices: winograd.cpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "cnnkit/core/threads.h"
#include "kernels/conv.h"
#include "kernels/part_sums.h"
#include "kernels/simd.h"
#include "kernels/winograd.h"

#ifndef CNNKIT_ISA_TARGET
#error "kernels/winograd_impl.h belongs to kernels/isa_*.cpp, which define CNNKIT_ISA_TARGET"
#endif

CNNKIT_SIMD_BEGIN(CNNKIT_ISA_TARGET)
namespace cnnkit::kernels::winograd {
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

// Fetches the cache lines of floats [p, p + n) (write: for a store), each once.
inline void prefetch_run(const float* p, int64_t n, bool write = false) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(p + n);
  for (uintptr_t a = reinterpret_cast<uintptr_t>(p) & ~uintptr_t{63}; a < end; a += 64)
    write ? __builtin_prefetch(reinterpret_cast<const void*>(a), 1) : __builtin_prefetch(reinterpret_cast<const void*>(a));
}

#define CNNKIT_WINO_INLINE __attribute__((always_inline)) inline

// The one-dimensional transforms of tile m, on vectors of W channels: Bt x (A values to A)
// and At x (A values to m).
template <class Vec, int m>
struct Transform;

template <class Vec>
struct Transform<Vec, 2> {
  using X = typename Vec::reg;
  CNNKIT_WINO_INLINE static void input(const X (&x)[4], X (&r)[4]) {
    r[0] = Vec::sub(x[0], x[2]);
    r[1] = Vec::add(x[1], x[2]);
    r[2] = Vec::sub(x[2], x[1]);
    r[3] = Vec::sub(x[1], x[3]);
  }
  CNNKIT_WINO_INLINE static void output(const X (&x)[4], X (&y)[2]) {
    y[0] = Vec::add(Vec::add(x[0], x[1]), x[2]);
    y[1] = Vec::sub(Vec::sub(x[1], x[2]), x[3]);
  }
  // The output transform's transpose, At^T y (2 values to 4): the weight gradient's view of
  // an output-gradient tile.
  CNNKIT_WINO_INLINE static void expand(const X (&y)[2], X (&z)[4]) {
    z[0] = y[0];
    z[1] = Vec::add(y[0], y[1]);
    z[2] = Vec::sub(y[0], y[1]);
    z[3] = Vec::sub(Vec::zero(), y[1]);
  }
};

template <class Vec>
struct Transform<Vec, 4> {
  using X = typename Vec::reg;
  CNNKIT_WINO_INLINE static void input(const X (&x)[6], X (&r)[6]) {
    const X d13 = Vec::sub(x[3], x[1]), d24 = Vec::sub(x[4], x[2]);
    const X half = Vec::set1(0.5f), three_half = Vec::set1(1.5f), two = Vec::set1(2.0f),
                 five_half = Vec::set1(2.5f);
    r[0] = Vec::fmadd(three_half, d13, Vec::fnmadd(two, x[2], Vec::add(x[0], x[4])));
    r[1] = Vec::fmadd(five_half, x[3], Vec::fmadd(half, x[2], Vec::sub(x[4], x[1])));
    r[2] = Vec::fmadd(half, x[3], Vec::fnmadd(five_half, x[2], Vec::add(x[4], x[1])));
    r[3] = Vec::fmadd(two, d13, d24);
    r[4] = Vec::fnmadd(half, d13, d24);
    r[5] = Vec::fmadd(three_half, d24, Vec::fnmadd(two, x[3], Vec::add(x[1], x[5])));
  }
  CNNKIT_WINO_INLINE static void output(const X (&x)[6], X (&y)[4]) {
    const X a = Vec::add(x[1], x[2]), b = Vec::sub(x[1], x[2]);
    y[0] = Vec::add(Vec::add(x[0], a), Vec::add(x[3], x[4]));
    y[1] = Vec::fmadd(Vec::set1(0.5f), x[3], Vec::fnmadd(Vec::set1(2.0f), x[4], b));
    y[2] = Vec::fmadd(Vec::set1(0.25f), x[3], Vec::fmadd(Vec::set1(4.0f), x[4], a));
    y[3] = Vec::add(Vec::fmadd(Vec::set1(0.125f), x[3], Vec::fnmadd(Vec::set1(8.0f), x[4], b)),
                         x[5]);
  }
  CNNKIT_WINO_INLINE static void expand(const X (&y)[4], X (&z)[6]) {
    const X even = Vec::add(y[0], y[2]), odd = Vec::add(y[1], y[3]);
    z[0] = y[0];
    z[1] = Vec::add(even, odd);
    z[2] = Vec::sub(even, odd);
    z[3] = Vec::fmadd(Vec::set1(0.125f), y[3],
                           Vec::fmadd(Vec::set1(0.25f), y[2], Vec::fmadd(Vec::set1(0.5f), y[1], y[0])));
    z[4] = Vec::fmadd(Vec::set1(-8.0f), y[3],
                           Vec::fmadd(Vec::set1(4.0f), y[2], Vec::fmadd(Vec::set1(-2.0f), y[1], y[0])));
    z[5] = y[3];
  }
};

// Bt d B for one channel block of one tile: the patch d at p (A x A vectors of W channels,
// rows `row` floats apart, columns W), to out[e * estride], e = i * A + j.
template <class Vec, int m>
CNNKIT_WINO_INLINE void transform_patch(const float* p, int64_t row, float* out, int64_t estride) {
  using X = typename Vec::reg;
  constexpr int A = m + 2, W = Vec::W;
  X b[A][A];  // Bt d, a column at a time
  for (int j = 0; j < A; ++j) {
    X x[A], r[A];
    for (int i = 0; i < A; ++i) x[i] = Vec::load(p + i * row + j * W);
    Transform<Vec, m>::input(x, r);
    for (int i = 0; i < A; ++i) b[i][j] = r[i];
  }
  for (int i = 0; i < A; ++i) {  // (Bt d) B, a row at a time
    X r[A];
    Transform<Vec, m>::input(b[i], r);
    for (int j = 0; j < A; ++j) Vec::store(out + (i * A + j) * estride, r[j]);
  }
}

// The same for a tile over an edge of the image: only rows [i0, i1) and columns [j0, j1) of
// the patch lie inside it (the rest is zero padding), row i column j at base + off + i row +
// j W. The zeros are registers: a column outside gives a column of zeros, and no patch is
// copied (3 in 4 of the tiles of a 16 x 16 map are edge tiles, all of an 8 x 8 map's).
template <class Vec, int m>
CNNKIT_WINO_INLINE void transform_edge_patch(const float* base, int64_t off, int64_t row, int i0, int i1, int j0,
                                             int j1, float* out, int64_t estride) {
  using X = typename Vec::reg;
  constexpr int A = m + 2, W = Vec::W;
  X b[A][A];
  for (int j = 0; j < A; ++j) {
    X x[A], r[A];
    if (j < j0 || j >= j1) {
      for (int i = 0; i < A; ++i) b[i][j] = Vec::zero();
      continue;
    }
    for (int i = 0; i < A; ++i) x[i] = i >= i0 && i < i1 ? Vec::load(base + (off + i * row + j * W)) : Vec::zero();
    Transform<Vec, m>::input(x, r);
    for (int i = 0; i < A; ++i) b[i][j] = r[i];
  }
  for (int i = 0; i < A; ++i) {
    X r[A];
    Transform<Vec, m>::input(b[i], r);
    for (int j = 0; j < A; ++j) Vec::store(out + (i * A + j) * estride, r[j]);
  }
}

// Phase 1 for tiles [t0, t0 + T): V[t][e][c] at V + t vt + e estride + c. A tile inside the
// image is read where it lies, one over an edge with its padding as zeros
// (transform_edge_patch). The forward writes it tile-major (vt = E C, estride = C): a tile's
// E x C values are one contiguous run, written in order; V[e][t][c] (E runs of T x C, one
// store a run per vector) measured 1.5x slower there, its stores spread over the block's 110 KiB
// (C = 32, T = 24) past L1 (430 against 280 cycles a tile and channel block, warm). The weight
// gradient writes V[e][t][c] (vt = C), whose product walks the tiles (weight_grad_tiles).
template <class Vec, int m>
void input_transform(const float* src, float* V, const Geometry& g, int64_t t0, int64_t T, int64_t vt,
                     int64_t estride) {
  constexpr int A = m + 2, W = Vec::W;
  const int64_t CB = g.C / W, plane = g.H * g.W * W, row = g.W * W;
  // The patch's rows (columns) [lo, hi) inside the image, for a patch from row (column)
  // `first` of an image `size` long: a tile may also lie past it entirely (the
  // backward-data pass pads by up to 2).
  const auto inside_of = [](int64_t first, int64_t size) {
    return std::pair<int, int>{static_cast<int>(std::clamp<int64_t>(-first, 0, A)),
                               static_cast<int>(std::clamp<int64_t>(size - first, 0, A))};
  };
  TileCursor at(t0, g), far(t0 + 2, g);
  for (int64_t t = 0; t < T; ++t, at.next(g), far.next(g)) {
    const int64_t ih0 = m * at.ty - g.pt, iw0 = m * at.tx - g.pl;
    const bool inside = ih0 >= 0 && iw0 >= 0 && ih0 + A <= g.H && iw0 + A <= g.W;
    const auto [i0, i1] = inside_of(ih0, g.H);
    const auto [j0, j1] = inside_of(iw0, g.W);
    const float* img = src + at.n * CB * plane;
    float* v = V + t * vt;
    // What the tile after next adds to the window (its last m columns, or all A where it starts
    // a row of tiles), inside the image, fetched ahead: a row of tiles walks one stream per
    // input row and channel block, more than the prefetchers follow. Edge tiles too (44% of a
    // 32 x 32 map's 4 x 4 tiles, all of an 8 x 8 map's), whose loads otherwise waited on memory.
    const int64_t fh0 = m * far.ty - g.pt, fw0 = m * far.tx - g.pl + (far.tx > 0 ? A - m : 0);
    const int64_t fi0 = std::max<int64_t>(fh0, 0), fi1 = std::min<int64_t>(m * far.ty - g.pt + A, g.H);
    const int64_t fj0 = std::max<int64_t>(fw0, 0), fj1 = std::min<int64_t>(m * far.tx - g.pl + A, g.W);
    const bool ahead = t + 2 < T && fi0 < fi1 && fj0 < fj1;  // past the block: no such tile, maybe no image
    const int64_t far_at = far.n * CB * plane + fi0 * row + fj0 * W;
    for (int64_t cb = 0; cb < CB; ++cb) {
      const float* base = img + cb * plane;
      if (ahead)
        for (int64_t i = 0; i < fi1 - fi0; ++i) prefetch_run(src + far_at + cb * plane + i * row, (fj1 - fj0) * W);
      if (inside) {
        transform_patch<Vec, m>(base + ih0 * row + iw0 * W, row, v + cb * W, estride);
      } else {
        transform_edge_patch<Vec, m>(base, ih0 * row + iw0 * W, row, i0, i1, j0, j1, v + cb * W, estride);
      }
    }
  }
}

// The register block of both products (phase 2 here, the weight gradient's below):
//   Out[r][0 .. W NV) = (Out[r][...] when kAdd, else 0) + sum_{i < n} A[r a_row + i a_step] B[i][0 .. W NV)
// for R rows, B's rows ldb floats apart and Out's ldo. Named accumulators, not an array: GCC
// keeps an array of vectors in memory as well, storing every accumulator after every FMA.
template <class Vec, int R, int NV, bool kAdd>
inline void register_block(const float* A, int64_t a_row, int64_t a_step, const float* B, int64_t ldb, float* Out,
                           int64_t ldo, int64_t n) {
  using X = typename Vec::reg;
  constexpr int W = Vec::W;
  static_assert(R >= 1 && R <= 6 && (NV == 1 || NV == 2), "a 6 x 2W register block at most");
  X a0 = Vec::zero(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0,
    b5 = a0;
#define CNNKIT_WINO_LOAD(r)                                     \
  if constexpr (kAdd && R > r) {                                \
    a##r = Vec::load(Out + r * ldo);                            \
    if constexpr (NV == 2) b##r = Vec::load(Out + r * ldo + W); \
  }
  CNNKIT_WINO_LOAD(0)
  CNNKIT_WINO_LOAD(1)
  CNNKIT_WINO_LOAD(2)
  CNNKIT_WINO_LOAD(3)
  CNNKIT_WINO_LOAD(4)
  CNNKIT_WINO_LOAD(5)
#undef CNNKIT_WINO_LOAD
#define CNNKIT_WINO_ROW(r)                                 \
  if constexpr (R > r) {                                   \
    const X x = Vec::broadcast(a + r * a_row);             \
    a##r = Vec::fmadd(x, u0, a##r);                        \
    if constexpr (NV == 2) b##r = Vec::fmadd(x, u1, b##r); \
  }
  for (int64_t i = 0; i < n; ++i) {
    const float* a = A + i * a_step;
    const X u0 = Vec::load(B + i * ldb);
    const X u1 = NV == 2 ? Vec::load(B + i * ldb + W) : u0;
    CNNKIT_WINO_ROW(0)
    CNNKIT_WINO_ROW(1)
    CNNKIT_WINO_ROW(2)
    CNNKIT_WINO_ROW(3)
    CNNKIT_WINO_ROW(4)
    CNNKIT_WINO_ROW(5)
  }
#undef CNNKIT_WINO_ROW
#define CNNKIT_WINO_STORE(r)                                   \
  if constexpr (R > r) {                                       \
    Vec::store(Out + r * ldo, a##r);                           \
    if constexpr (NV == 2) Vec::store(Out + r * ldo + W, b##r); \
  }
  CNNKIT_WINO_STORE(0)
  CNNKIT_WINO_STORE(1)
  CNNKIT_WINO_STORE(2)
  CNNKIT_WINO_STORE(3)
  CNNKIT_WINO_STORE(4)
  CNNKIT_WINO_STORE(5)
#undef CNNKIT_WINO_STORE
}

// Eight rows of Out (ldo floats apart) by one vector of W columns, where Out and B are W
// columns wide (K == W): eight independent sums where the 6-row block has six, each a chain
// of FMAs 4 cycles apart, which two FMA units need eight of to stay busy. ResNet-20's
// 16-channel layers on AVX-512: 172 against 164 GFLOP/s on one block of 24 tiles, warm
// (twelve rows measured 125).
template <class Vec, bool kAdd>
inline void register_block8(const float* A, int64_t a_row, int64_t a_step, const float* B, float* Out, int64_t ldo,
                            int64_t n) {
  using X = typename Vec::reg;
  constexpr int W = Vec::W;
  X c0 = Vec::zero(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
#define CNNKIT_WINO_EACH(F) F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7)
#define CNNKIT_WINO_LOAD(r) \
  if constexpr (kAdd) c##r = Vec::load(Out + r * ldo);
  CNNKIT_WINO_EACH(CNNKIT_WINO_LOAD)
#undef CNNKIT_WINO_LOAD
#define CNNKIT_WINO_ROW(r) c##r = Vec::fmadd(Vec::broadcast(a + r * a_row), u, c##r);
  for (int64_t i = 0; i < n; ++i) {
    const float* a = A + i * a_step;
    const X u = Vec::load(B + i * W);
    CNNKIT_WINO_EACH(CNNKIT_WINO_ROW)
  }
#undef CNNKIT_WINO_ROW
#define CNNKIT_WINO_STORE(r) Vec::store(Out + r * ldo, c##r);
  CNNKIT_WINO_EACH(CNNKIT_WINO_STORE)
#undef CNNKIT_WINO_STORE
#undef CNNKIT_WINO_EACH
}

// Sixteen columns of Out (one AVX-512 vector) over sixteen of the sum's terms, with those
// sixteen rows of B held in registers: Out[r][0 .. 16) = (Out[r][...] when kAdd, else 0) +
// sum_{i < 16} A[r a_row + i] B[i][0 .. 16), B's rows ldb floats apart. Each tile's sum is two
// chains of eight FMAs, each FMA taking its input from memory as a broadcast operand, four
// tiles in flight: one load a FMA where the 8-row block above needs 9 for 8. For K = 16 (ResNet-20's
// 16-channel layers): 79 against 60 flop per TSC cycle on a block of 24 tiles in L2 (the
// block's FMA peak ~98); with 32 or more columns the 6-row x 2W block is the faster one.
template <class Vec, bool kAdd>
void register_block_u16(const float* A, int64_t a_row, const float* B, int64_t ldb, float* Out, int64_t ldo,
                        int64_t rows) {
  static_assert(Vec::W == 16, "sixteen rows of B in registers need 32 vector registers");
  using X = typename Vec::reg;
  const X u0 = Vec::load(B), u1 = Vec::load(B + ldb), u2 = Vec::load(B + 2 * ldb), u3 = Vec::load(B + 3 * ldb),
          u4 = Vec::load(B + 4 * ldb), u5 = Vec::load(B + 5 * ldb), u6 = Vec::load(B + 6 * ldb),
          u7 = Vec::load(B + 7 * ldb), u8 = Vec::load(B + 8 * ldb), u9 = Vec::load(B + 9 * ldb),
          u10 = Vec::load(B + 10 * ldb), u11 = Vec::load(B + 11 * ldb), u12 = Vec::load(B + 12 * ldb),
          u13 = Vec::load(B + 13 * ldb), u14 = Vec::load(B + 14 * ldb), u15 = Vec::load(B + 15 * ldb);
#define CNNKIT_WINO_TILE(j)                                                                     \
  {                                                                                             \
    const float* a = A + (r + j) * a_row;                                                       \
    float* o = Out + (r + j) * ldo;                                                             \
    X s0 = kAdd ? Vec::fmadd(Vec::broadcast(a), u0, Vec::load(o)) : Vec::mul(Vec::broadcast(a), u0); \
    X s1 = Vec::mul(Vec::broadcast(a + 1), u1);                                                 \
    s0 = Vec::fmadd(Vec::broadcast(a + 2), u2, s0);                                             \
    s1 = Vec::fmadd(Vec::broadcast(a + 3), u3, s1);                                             \
    s0 = Vec::fmadd(Vec::broadcast(a + 4), u4, s0);                                             \
    s1 = Vec::fmadd(Vec::broadcast(a + 5), u5, s1);                                             \
    s0 = Vec::fmadd(Vec::broadcast(a + 6), u6, s0);                                             \
    s1 = Vec::fmadd(Vec::broadcast(a + 7), u7, s1);                                             \
    s0 = Vec::fmadd(Vec::broadcast(a + 8), u8, s0);                                             \
    s1 = Vec::fmadd(Vec::broadcast(a + 9), u9, s1);                                             \
    s0 = Vec::fmadd(Vec::broadcast(a + 10), u10, s0);                                           \
    s1 = Vec::fmadd(Vec::broadcast(a + 11), u11, s1);                                           \
    s0 = Vec::fmadd(Vec::broadcast(a + 12), u12, s0);                                           \
    s1 = Vec::fmadd(Vec::broadcast(a + 13), u13, s1);                                           \
    s0 = Vec::fmadd(Vec::broadcast(a + 14), u14, s0);                                           \
    s1 = Vec::fmadd(Vec::broadcast(a + 15), u15, s1);                                           \
    Vec::store(o, Vec::add(s0, s1));                                                            \
  }
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    CNNKIT_WINO_TILE(0)
    CNNKIT_WINO_TILE(1)
    CNNKIT_WINO_TILE(2)
    CNNKIT_WINO_TILE(3)
  }
  for (; r < rows; ++r) CNNKIT_WINO_TILE(0)
#undef CNNKIT_WINO_TILE
}

// R rows of Out (ldo floats apart), all K columns: 2W at a time, then W.
template <class Vec, int R, bool kAdd>
void register_rows(const float* A, int64_t a_row, int64_t a_step, const float* B, float* Out, int64_t ldo, int64_t n,
                   int64_t K) {
  constexpr int W = Vec::W;
  int64_t k = 0;
  for (; k + 2 * W <= K; k += 2 * W) register_block<Vec, R, 2, kAdd>(A, a_row, a_step, B + k, K, Out + k, ldo, n);
  if (k < K) register_block<Vec, R, 1, kAdd>(A, a_row, a_step, B + k, K, Out + k, ldo, n);
}

// Out (rows x K, rows ldo floats apart) (+)= A B over n, in blocks of kRows rows; A[r][i] at
// A + r a_row + i a_step, B (n x K, dense).
template <class Vec, bool kAdd>
void product(const float* A, int64_t a_row, int64_t a_step, const float* B, float* Out, int64_t ldo, int64_t rows,
             int64_t n, int64_t K) {
  if constexpr (Vec::W == 16) {
    if (K == Vec::W && a_step == 1 && n % 16 == 0) {
      for (int64_t i = 0; i < n; i += 16) {
        if (kAdd || i > 0)
          register_block_u16<Vec, true>(A + i, a_row, B + i * K, K, Out, ldo, rows);
        else
          register_block_u16<Vec, false>(A + i, a_row, B + i * K, K, Out, ldo, rows);
      }
      return;
    }
  }
  int64_t r = 0;
  if (K == Vec::W)
    for (; r + 8 <= rows; r += 8) register_block8<Vec, kAdd>(A + r * a_row, a_row, a_step, B, Out + r * ldo, ldo, n);
  for (; r + kRows <= rows; r += kRows)
    register_rows<Vec, kRows, kAdd>(A + r * a_row, a_row, a_step, B, Out + r * ldo, ldo, n, K);
  const float* a = A + r * a_row;
  float* out = Out + r * ldo;
  switch (rows - r) {
    case 5: register_rows<Vec, 5, kAdd>(a, a_row, a_step, B, out, ldo, n, K); break;
    case 4: register_rows<Vec, 4, kAdd>(a, a_row, a_step, B, out, ldo, n, K); break;
    case 3: register_rows<Vec, 3, kAdd>(a, a_row, a_step, B, out, ldo, n, K); break;
    case 2: register_rows<Vec, 2, kAdd>(a, a_row, a_step, B, out, ldo, n, K); break;
    case 1: register_rows<Vec, 1, kAdd>(a, a_row, a_step, B, out, ldo, n, K); break;
    default: break;
  }
}

// Phase 2 for one block of T tiles: M[t][e] (T x K for each e, rows E K apart) = V[t][e]
// (T x C, rows E C apart) U[e] (C x K), e = 0 .. E - 1.
template <class Vec>
void multiply(const float* V, const float* U, float* M, int E, int64_t T, int64_t C, int64_t K) {
  for (int e = 0; e < E; ++e) product<Vec, false>(V + e * C, E * C, 1, U + e * C * K, M + e * T * K, K, T, C, K);
}

// What the output transform writes an output with: relu?(conv + residual), NaN kept.
struct Epilogue {
  const float* bias;
  const float* residual;  // the image's, or null
  bool relu;
};

// Outputs [oh0, oh0 + m) x [ow0, ow0 + m) of channels [W kb, W kb + W) of one image, computed
// directly from the weights laid out [C][9][K]: for the rare tile whose Winograd result is
// not finite, so that a NaN or an infinity reaches exactly the outputs the direct
// convolution gives it (the transforms spread it over the tile).
template <class Vec>
void direct_tile(const float* img, const float* wd, const Epilogue& ep, float* out, const Geometry& g, int64_t oh0,
                 int64_t ow0, int m, int64_t kb) {
  using X = typename Vec::reg;
  constexpr int W = Vec::W;
  const int64_t plane_in = g.H * g.W * W, plane_out = g.Ho * g.Wo * W;
  const X b = ep.bias ? Vec::load(ep.bias + kb * W) : Vec::zero();
  for (int64_t oh = oh0; oh < std::min<int64_t>(oh0 + m, g.Ho); ++oh)
    for (int64_t ow = ow0; ow < std::min<int64_t>(ow0 + m, g.Wo); ++ow) {
      X acc = Vec::zero();
      for (int64_t i = 0; i < 3; ++i) {
        const int64_t ih = oh + i - g.pt;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t j = 0; j < 3; ++j) {
          const int64_t iw = ow + j - g.pl;
          if (iw < 0 || iw >= g.W) continue;
          const float* x = img + (ih * g.W + iw) * W;
          const float* w = wd + (i * 3 + j) * g.K + kb * W;
          for (int64_t c = 0; c < g.C; ++c)
            acc = Vec::fmadd(Vec::broadcast(x + (c / W) * plane_in + c % W), Vec::load(w + c * 9 * g.K), acc);
        }
      }
      const int64_t at = kb * plane_out + (oh * g.Wo + ow) * W;
      X v = Vec::add(acc, b);
      if (ep.residual) v = Vec::add(v, Vec::load(ep.residual + at));
      if (ep.relu) v = Vec::max(Vec::zero(), v);  // NaN kept, as below
      Vec::store(out + at, v);
    }
}

// Phase 3 for tiles [t0, t0 + T): dst = relu?(At M A + bias + residual?). When `stats` is not
// null (2 K + 1 floats), the block's per-channel moments of what it writes go there: mean,
// sum of squared deviations from it, then the count of outputs. Each tile's own (from the
// values it has just stored, read back from L1: the mean, then the squared deviations from
// it, no cancellation; kept in registers instead, GCC spilled the tile and the transform ran
// 45% slower) are merged into the block's in float (Chan et al.'s pairwise update), tile by
// tile in order. A tile computed again directly (not finite) leaves the count at -1: no
// moments.
template <class Vec, int m>
void output_transform(const float* M, const float* src, const float* wd, const float* bias, const float* residual,
                      bool relu, float* dst, const Geometry& g, int64_t t0, int64_t T, float* stats) {
  using X = typename Vec::reg;
  constexpr int A = m + 2, W = Vec::W;
  const int64_t KB = g.K / W, plane = g.Ho * g.Wo * W;
  float block_count = 0;  // outputs merged into the block's moments so far
  if (stats != nullptr) std::fill(stats, stats + 2 * g.K, 0.0f);
  const int64_t estride = T * g.K;  // floats between M[e][t] and M[e + 1][t]
  const X zero = Vec::zero();
  TileCursor at(t0, g), far(t0 + 2, g);
  for (int64_t t = 0; t < T; ++t, at.next(g), far.next(g)) {
    const int64_t oh0 = m * at.ty, ow0 = m * at.tx;
    const bool full = oh0 + m <= g.Ho && ow0 + m <= g.Wo;
    float* img = dst + at.n * KB * plane;
    const Epilogue ep{bias, residual ? residual + at.n * KB * plane : nullptr, relu};
    const float* mt = M + t * g.K;
    // The tile's outputs, and the factors that merge its moments into the block's (Chan et al.:
    // with n_a outputs merged so far and n_t here, n = n_a + n_t, the block's mean moves by
    // delta n_t / n and its squared deviations grow by the tile's plus delta^2 n_a n_t / n).
    const int tile_count = static_cast<int>((std::min<int64_t>(oh0 + m, g.Ho) - oh0) * (std::min<int64_t>(ow0 + m, g.Wo) - ow0));
    const float n_t = static_cast<float>(tile_count), n_all = block_count + n_t;
    const X inv_count = Vec::set1(1.0f / n_t), mean_step = Vec::set1(n_t / n_all),
            m2_step = Vec::set1(block_count * n_t / n_all);
    // The outputs of the tile after next (inside the output), fetched ahead as in
    // input_transform: the residual to read and the destination to write.
    const int64_t far_rows = std::min<int64_t>(m, g.Ho - m * far.ty), far_cols = std::min<int64_t>(m, g.Wo - m * far.tx);
    const bool ahead = t + 2 < T;
    const int64_t far_off = far.n * KB * plane + (m * far.ty * g.Wo + m * far.tx) * W;
    for (int64_t kb = 0; kb < KB; ++kb) {
      if (ahead) {
        for (int64_t i = 0; i < far_rows; ++i) {
          const int64_t off = far_off + kb * plane + i * g.Wo * W;
          if (residual != nullptr && residual != dst) prefetch_run(residual + off, far_cols * W);
          prefetch_run(dst + off, far_cols * W, true);
        }
      }
      X s[m][A];  // At M, a column at a time
      for (int j = 0; j < A; ++j) {
        X x[A], y[m];
        for (int i = 0; i < A; ++i) x[i] = Vec::load(mt + (i * A + j) * estride + kb * W);
        Transform<Vec, m>::output(x, y);
        for (int i = 0; i < m; ++i) s[i][j] = y[i];
      }
      const X b = bias ? Vec::load(bias + kb * W) : zero;
      X y[m][m];  // (At M) A + bias, a row at a time
      X sum[m];
      for (int i = 0; i < m; ++i) {
        Transform<Vec, m>::output(s[i], y[i]);
        for (int j = 0; j < m; ++j) y[i][j] = Vec::add(y[i][j], b);
        sum[i] = Vec::add(y[i][0], y[i][1]);
        for (int j = 2; j < m; ++j) sum[i] = Vec::add(sum[i], y[i][j]);
      }
      for (int i = 1; i < m; ++i) sum[0] = Vec::add(sum[0], sum[i]);
      // sum - sum is NaN exactly when some y is NaN or infinite (or the sum overflows).
      const X inf_nan = Vec::sub(sum[0], sum[0]);
      if (Vec::any_nan(inf_nan)) {
        direct_tile<Vec>(src + at.n * (g.C / W) * g.H * g.W * W, wd, ep, img, g, oh0, ow0, m, kb);
        block_count = -1;  // no moments for this call (the caller computes them itself)
        continue;
      }
      float* base = img + kb * plane;
      const float* rbase = ep.residual ? ep.residual + kb * plane : nullptr;
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < m; ++j) {
          if (!full && (oh0 + i >= g.Ho || ow0 + j >= g.Wo)) continue;
          const int64_t off = ((oh0 + i) * g.Wo + ow0 + j) * W;
          X v = rbase ? Vec::add(y[i][j], Vec::load(rbase + off)) : y[i][j];
          if (relu) v = Vec::max(zero, v);  // maxps returns its second operand for a NaN: kept
          Vec::store(base + off, v);
        }
      if (stats != nullptr && block_count >= 0) {
        // The tile's moments from what was just stored (L1; the transform's registers stay
        // free): its mean, then the squared deviations from it, in short chains.
        const float* first = base + (oh0 * g.Wo + ow0) * W;
        const int64_t row_floats = g.Wo * W;
        X tile_mean, tile_m2;
        if (full) {
          X row[m], dev[m];
          for (int i = 0; i < m; ++i) {
            row[i] = Vec::add(Vec::load(first + i * row_floats), Vec::load(first + i * row_floats + W));
            for (int j = 2; j < m; ++j) row[i] = Vec::add(row[i], Vec::load(first + i * row_floats + j * W));
          }
          for (int i = 1; i < m; ++i) row[0] = Vec::add(row[0], row[i]);
          tile_mean = Vec::mul(row[0], inv_count);
          for (int i = 0; i < m; ++i) {
            const X d0 = Vec::sub(Vec::load(first + i * row_floats), tile_mean);
            dev[i] = Vec::mul(d0, d0);
            for (int j = 1; j < m; ++j) {
              const X d = Vec::sub(Vec::load(first + i * row_floats + j * W), tile_mean);
              dev[i] = Vec::fmadd(d, d, dev[i]);
            }
          }
          for (int i = 1; i < m; ++i) dev[0] = Vec::add(dev[0], dev[i]);
          tile_m2 = dev[0];
        } else {  // an edge tile: the outputs inside
          const int64_t rows = std::min<int64_t>(m, g.Ho - oh0), cols = std::min<int64_t>(m, g.Wo - ow0);
          X total = zero;
          for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < cols; ++j) total = Vec::add(total, Vec::load(first + i * row_floats + j * W));
          tile_mean = Vec::mul(total, inv_count);
          tile_m2 = zero;
          for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < cols; ++j) {
              const X d = Vec::sub(Vec::load(first + i * row_floats + j * W), tile_mean);
              tile_m2 = Vec::fmadd(d, d, tile_m2);
            }
        }
        float* pm = stats + kb * W;
        float* pm2 = stats + g.K + kb * W;
        const X block_mean = Vec::load(pm), delta = Vec::sub(tile_mean, block_mean);
        Vec::store(pm, Vec::fmadd(delta, mean_step, block_mean));
        Vec::store(pm2, Vec::add(Vec::load(pm2), Vec::fmadd(Vec::mul(delta, delta), m2_step, tile_m2)));
      }
    }
    if (block_count >= 0) block_count += static_cast<float>(tile_count);
  }
  if (stats != nullptr) stats[2 * g.K] = block_count;
}

// The convolution, and when mean_out is not null the per-channel mean and biased variance of
// what it writes (mean_out, var_out: C_out floats): each block's moments (output_transform)
// merged in block order, in double. Returns false, with mean_out and var_out unspecified,
// when a tile was computed again directly (not finite).
template <class Vec, int m>
bool run(const float* src, const float* U, const float* wd, const float* bias, const float* residual, bool relu,
         float* dst, const Conv2dShape& s, float* mean_out, float* var_out) {
  constexpr int E = (m + 2) * (m + 2);
  Geometry g{s.C_in, s.C_out, s.H, s.W, s.H_out, s.W_out, s.pad_t, s.pad_l, (s.H_out + m - 1) / m,
             (s.W_out + m - 1) / m};
  const int64_t tiles = s.N * g.TH * g.TW;
  // Tiles a block: V and M of a block within about 128 KiB (L2), a multiple of the register
  // block's 6 rows, at least 6 and at most 48.
  const int64_t per_tile = E * 4 * (g.C + g.K);
  const int64_t T = std::clamp<int64_t>((128 * 1024 / per_tile) / kRows * kRows, kRows, 8 * kRows);
  const double flops = 2.0 * static_cast<double>(s.N * s.C_out * s.H_out * s.W_out) * static_cast<double>(s.C_in * 9);
  const int64_t blocks = (tiles + T - 1) / T;
  const int64_t grain = flops < 8e6 ? blocks + 1 : 1;  // small: one thread (as conv.cpp's serial_conv)
  // Each block's moments, when wanted: 2 K + 1 floats a block (output_transform).
  const int64_t slot = 2 * g.K + 1;
  thread_local std::vector<float> block_stats;  // the calling thread's: named by pointer below
  if (mean_out != nullptr && block_stats.size() < static_cast<size_t>(blocks * slot))
    block_stats.resize(static_cast<size_t>(blocks * slot));
  float* const stats = mean_out != nullptr ? block_stats.data() : nullptr;
  // Whole blocks of T tiles in pieces, handed out as threads free up (each tile is computed
  // the same way by whichever thread takes it).
  parallel_for_dynamic(blocks, grain, [&](int64_t first, int64_t last) {
    thread_local std::vector<float> scratch;
    const size_t need = static_cast<size_t>(E * T * (g.C + g.K));
    if (scratch.size() < need) scratch.resize(need);
    float* V = scratch.data();
    float* M = V + E * T * g.C;
    for (int64_t t0 = first * T; t0 < std::min(last * T, tiles); t0 += T) {
      const int64_t n = std::min(T, tiles - t0);
      input_transform<Vec, m>(src, V, g, t0, n, E * g.C, g.C);
      multiply<Vec>(V, U, M, E, n, g.C, g.K);
      output_transform<Vec, m>(M, src, wd, bias, residual, relu, dst, g, t0, n,
                               stats != nullptr ? stats + (t0 / T) * slot : nullptr);
    }
  });
  if (stats == nullptr) return true;
  // The blocks' moments merged in order (Chan et al.), in double: the same for any thread count.
  thread_local std::vector<double> merged;
  merged.assign(static_cast<size_t>(2 * g.K), 0.0);
  double* mean = merged.data();
  double* m2 = mean + g.K;
  double count = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    const float* p = stats + b * slot;
    const double nb = p[2 * g.K];
    if (nb < 0) return false;
    const double total = count + nb;
    for (int64_t k = 0; k < g.K; ++k) {
      const double delta = static_cast<double>(p[k]) - mean[k];
      mean[k] += delta * nb / total;
      m2[k] += static_cast<double>(p[g.K + k]) + delta * delta * count * nb / total;
    }
    count = total;
  }
  if (count <= 0) return false;
  for (int64_t k = 0; k < g.K; ++k) {
    mean_out[k] = static_cast<float>(mean[k]);
    var_out[k] = static_cast<float>(m2[k] / count);
  }
  return true;
}

// ---- the weight gradient -----------------------------------------------------------------

// For tiles [t0, t0 + T) of the output gradient: Z[e][t][k] = (At^T dy At)[i][j], e = i A + j,
// the m x m tile read with zeros beyond the output. bias_sum (K floats), when not null,
// receives the sum of the tiles' values.
template <class Vec, int m>
void grad_out_transform(const float* gy, float* Z, float* bias_sum, const Geometry& g, int64_t t0, int64_t T,
                        int64_t estride) {
  using X = typename Vec::reg;
  constexpr int A = m + 2, W = Vec::W;
  const int64_t KB = g.K / W, plane = g.Ho * g.Wo * W;
  const X zero = Vec::zero();
  TileCursor at(t0, g);
  for (int64_t t = 0; t < T; ++t, at.next(g)) {
    const int64_t oh0 = m * at.ty, ow0 = m * at.tx;
    const bool full = oh0 + m <= g.Ho && ow0 + m <= g.Wo;
    const float* img = gy + at.n * KB * plane;
    float* z = Z + t * g.K;
    for (int64_t kb = 0; kb < KB; ++kb) {
      const float* base = img + kb * plane + (oh0 * g.Wo + ow0) * W;
      X y[m][m];
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < m; ++j)
          y[i][j] = full || (oh0 + i < g.Ho && ow0 + j < g.Wo) ? Vec::load(base + (i * g.Wo + j) * W) : zero;
      if (bias_sum != nullptr) {
        X sum = zero;
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < m; ++j) sum = Vec::add(sum, y[i][j]);
        Vec::store(bias_sum + kb * W, Vec::add(Vec::load(bias_sum + kb * W), sum));
      }
      X c[A][m];  // At^T dy, a column at a time
      for (int j = 0; j < m; ++j) {
        X col[m], r[A];
        for (int i = 0; i < m; ++i) col[i] = y[i][j];
        Transform<Vec, m>::expand(col, r);
        for (int i = 0; i < A; ++i) c[i][j] = r[i];
      }
      for (int i = 0; i < A; ++i) {  // (At^T dy) At, a row at a time
        X r[A];
        Transform<Vec, m>::expand(c[i], r);
        for (int j = 0; j < A; ++j) Vec::store(z + (i * A + j) * estride + kb * W, r[j]);
      }
    }
  }
}

// dU[e] (C x K) += V[e]^T (C x T) Z[e] (T x K), e = 0 .. E - 1: the register block's rows are
// input channels, summed over tiles. V[e][t][c] and Z[e][t][k], their planes ve and zt floats
// apart.
template <class Vec>
void accumulate(const float* V, const float* Z, float* dU, int E, int64_t T, int64_t C, int64_t K, int64_t ve,
                int64_t zt) {
  for (int e = 0; e < E; ++e) product<Vec, true>(V + e * ve, 1, C, Z + e * zt, dU + e * C * K, K, C, T, K);
}

// The most tiles a float sum of the weight gradient runs over before it goes to double: with
// F(2x2, 3x3) 1024 outputs, the direct kernel's float run (wgrad3x3_impl.h).
constexpr int64_t kFloatTiles = 256;

template <class Vec, int m>
bool weight_grad_tiles(const float* src, const float* gy, float* gw, float* gb, const Conv2dShape& s) {
  constexpr int A = m + 2, E = A * A, W = Vec::W;
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
  // V[e][t][c] and Z[e][t][k], each plane one vector longer than its data: dense, the planes lie
  // a multiple of 4 KiB apart on ResNet-20's shapes (T C, T K = 1024, 2048, 3072 floats) and the
  // transforms' E stores a tile land in one set of the L1 cache. Padded (then with V tile-major,
  // its tiles E C + W floats apart), ResNet-20's step with F(2x2, 3x3) for all its weight
  // gradients ran 1.11x faster (on AVX-512, where it is not the default: docs/performance.md).
  // V plane by plane, the product's sum over tiles reads each plane in order (C floats a step,
  // where tile-major it strode E C + W, past the L1 prefetcher's 2 KiB): on AVX2 the 32- and
  // 64-channel weight gradients 2.61/2.62 -> 2.45/2.45 and 2.29/2.29 -> 2.18/2.21 ms at 1 thread
  // (bench_conv Wgrad3x3/.../winograd2x2, medians of 5, two runs), the 16-channel one and AVX-512
  // level.
  const int64_t ve = T * C + W, zt = T * K + W;
  // Each part (kernels/part_sums.h: whole blocks of tiles) sums its tiles into its own dU and
  // bias sum, in float over at most kFloatTiles tiles (whole blocks, at least one), then into
  // its row of doubles; the parts' rows are added in order below.
  const int64_t part_size = E * C * K + K;
  const int64_t run_blocks = std::max<int64_t>(1, kFloatTiles / T);
  const PartSums parts(weight_grad_flops(s.N, K, s.H_out, s.W_out, C), blocks, part_size);
  parallel_for(parts.count, 1, [&](int64_t p0, int64_t p1) {
    thread_local std::vector<float> scratch;
    const size_t need = static_cast<size_t>(E * ve + E * zt + part_size);
    if (scratch.size() < need) scratch.resize(need);
    float* const V = scratch.data();
    float* const Z = V + E * ve;
    float* const dU = Z + E * zt;
    float* const bias_sum = gb != nullptr ? dU + E * C * K : nullptr;
    for (int64_t p = p0; p < p1; ++p) {
      double* const sums = parts.start(p);
      const int64_t first = parts.first(p, blocks), last = parts.first(p + 1, blocks);
      for (int64_t run = first; run < last; run += run_blocks) {
        std::fill(dU, dU + part_size, 0.0f);
        for (int64_t blk = run; blk < std::min(last, run + run_blocks); ++blk) {
          const int64_t t0 = blk * T, n = std::min(T, tiles - t0);
          input_transform<Vec, m>(src, V, g, t0, n, C, ve);
          grad_out_transform<Vec, m>(gy, Z, bias_sum, g, t0, n, zt);
          accumulate<Vec>(V, Z, dU, E, n, C, K, ve, zt);
        }
        for (int64_t i = 0; i < part_size; ++i) sums[i] += static_cast<double>(dU[i]);
      }
    }
  });
  // dW[k][c] = Gt dU[.][c][k] G, in double, 8 output channels at a time; input channels split
  // across threads, 4096 of dU's sums a piece at least (ResNet-20's 32- and 64-channel layers: this
  // was the weight gradient's serial tail, 1.5% of a step, at 2 threads).
  const double* G = g_matrix(m);
  std::atomic<bool> finite{true};
  parallel_for(C, std::max<int64_t>(1, 4096 / (E * K)), [&](int64_t c0, int64_t c1) {
    bool ok = true;
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t k0 = 0; k0 < K; k0 += 8) {
        const int64_t nk = std::min<int64_t>(8, K - k0);
        double u[E][8] = {}, t[3][A][8];
        for (int e = 0; e < E; ++e)
          for (int64_t l = 0; l < nk; ++l) u[e][l] = parts.sum((e * C + c) * K + k0 + l);
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
              ok = ok && std::isfinite(f);
              gw[((k0 + l) * C + c) * 9 + r * 3 + q] = f;
            }
      }
    if (!ok) finite.store(false, std::memory_order_relaxed);
  });
  if (gb != nullptr)
    for (int64_t k = 0; k < K; ++k) {
      gb[k] = static_cast<float>(parts.sum(E * C * K + k));
      if (!std::isfinite(gb[k])) finite.store(false, std::memory_order_relaxed);
    }
  return finite.load(std::memory_order_relaxed);
}


// The entry points of kernels/isa.h, for tile m.
template <class Vec>
bool conv3x3_kernel(const float* src, const float* U, const float* direct, int m, const float* bias, const float* residual,
             bool relu, float* dst, const Conv2dShape& s, float* mean, float* var) {
  return m == 2 ? run<Vec, 2>(src, U, direct, bias, residual, relu, dst, s, mean, var)
                : run<Vec, 4>(src, U, direct, bias, residual, relu, dst, s, mean, var);
}
template <class Vec>
bool weight_grad_kernel(const float* src, const float* gy, float* gw, float* gb, const Conv2dShape& s, int m) {
  return m == 2 ? weight_grad_tiles<Vec, 2>(src, gy, gw, gb, s) : weight_grad_tiles<Vec, 4>(src, gy, gw, gb, s);
}

#undef CNNKIT_WINO_INLINE

}  // namespace
}  // namespace cnnkit::kernels::winograd
CNNKIT_SIMD_END
