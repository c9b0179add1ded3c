// The body of the direct 3x3 convolution (kernels/direct3x3.h), written once over vector
// traits Vec (kernels/simd.h: W channels a vector, the channel block of the layout) and
// compiled per instruction set by kernels/isa_avx2.cpp (nChw8c) and kernels/isa_avx512.cpp
// (nChw16c), which define CNNKIT_ISA_TARGET and include this file.
//
// The register block: R output positions of one row (R <= 16 on AVX-512, whose 32 vector
// registers hold 16 accumulators, the weights' vector and the loads; R <= 8 on AVX2's 16) times
// the W output channels of one channel block. For each input channel c of each tap, one load of
// the weights' vector w[tap][c][0 .. W) and R multiply-adds, each with a broadcast input value:
// two loads a multiply-add at most, which the load ports sustain.
// The work is split over (image, band of output rows): a band's input rows are copied once,
// zero-padded, into a buffer on the thread (all input channel blocks: (rows + 2) x (W_out + 2)
// positions each), so that the inner loop has no edges; each output is computed by one thread,
// its sum in one order (channel block, tap row, tap column, channel): the same bits at any
// thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cnnkit/core/threads.h"
#include "kernels/conv.h"
#include "kernels/simd.h"

#ifndef CNNKIT_ISA_TARGET
#error "kernels/direct3x3_impl.h belongs to kernels/isa_*.cpp, which define CNNKIT_ISA_TARGET"
#endif

CNNKIT_SIMD_BEGIN(CNNKIT_ISA_TARGET)
namespace cnnkit::kernels::direct3x3 {
namespace {

// GCC's predictive commoning (-O3) sees that tap column s + 1 reads the values tap s read one
// position on, keeps those 16 R scalars for the next trip, out of registers, on the stack:
// 1.5x slower than loading each again with its multiply-add (measured).
#if defined(__GNUC__) && !defined(__clang__)
#define CNNKIT_DIRECT_NO_PCOM __attribute__((optimize("no-predictive-commoning")))
#else
#define CNNKIT_DIRECT_NO_PCOM
#endif

// Output positions a register block: all the vector registers but the weights', a broadcast and
// a spare hold accumulators.
template <class Vec>
constexpr int kBlock = Vec::W == 16 ? 16 : 8;

// What a register block is written with: relu?(conv + bias + residual), NaN kept.
struct Epilogue {
  const float* bias;      // W floats of this channel block, or null
  const float* residual;  // at the block's first output (dst's layout), or null
  bool relu;
};

// dst[p][0 .. W) for the R positions p of a row: sum over channel blocks cb < CB, taps (kh, kw)
// and channels c < W of x[cb][kh][p + kw][c] w[cb][kh][kw][c][0 .. W). x: the padded band at
// the block's first output, x_cb apart between channel blocks and x_row between rows; w: this
// output channel block's weights.
template <class Vec, int R>
CNNKIT_DIRECT_NO_PCOM void row_block(const float* x, int64_t x_cb, int64_t x_row, const float* w, int64_t CB,
                                     const Epilogue& ep, float* dst) {
  using X = typename Vec::reg;
  constexpr int W = Vec::W;
  X acc[R];
#pragma GCC unroll 16
  for (int p = 0; p < R; ++p) acc[p] = Vec::zero();
  for (int64_t cb = 0; cb < CB; ++cb)
    for (int kh = 0; kh < 3; ++kh)
      for (int kw = 0; kw < 3; ++kw) {
        const float* xr = x + cb * x_cb + kh * x_row + kw * W;
        const float* wr = w + (cb * 9 + kh * 3 + kw) * W * W;
#pragma GCC unroll 16
        for (int c = 0; c < W; ++c) {
          const X wv = Vec::load(wr + c * W);
#pragma GCC unroll 16
          for (int p = 0; p < R; ++p) acc[p] = Vec::fmadd(Vec::broadcast(xr + p * W + c), wv, acc[p]);
          // wv kept live past its last multiply-add: otherwise GCC writes that sum into wv's
          // register and the accumulators drift across registers, undone by a move each (93
          // moves for 256 multiply-adds a tap block).
          asm volatile("" : : "v"(wv));
        }
      }
  const X b = ep.bias != nullptr ? Vec::load(ep.bias) : Vec::zero();
#pragma GCC unroll 16
  for (int p = 0; p < R; ++p) {
    X v = Vec::add(acc[p], b);
    if (ep.residual != nullptr) v = Vec::add(v, Vec::load(ep.residual + p * W));
    if (ep.relu) v = Vec::max(Vec::zero(), v);  // maxps returns its second operand for a NaN: kept
    Vec::store(dst + p * W, v);
  }
}

template <class Vec, int R>
void row_block_at(int r, const float* x, int64_t x_cb, int64_t x_row, const float* w, int64_t CB,
                  const Epilogue& ep, float* dst) {
  if constexpr (R > 0) {
    if (r == R) return row_block<Vec, R>(x, x_cb, x_row, w, CB, ep, dst);
    row_block_at<Vec, R - 1>(r, x, x_cb, x_row, w, CB, ep, dst);
  }
}

// Rows [r0, r0 + rows) of the padded input of image n: input rows r0 - pad_t .. and columns
// -pad_l .. W_out + 1 - pad_l of every channel block, zero outside, into xp (CB, rows, Wp, W).
template <class Vec>
void pad_band(const float* src, float* xp, const Conv2dShape& s, int64_t n, int64_t r0, int64_t rows) {
  constexpr int W = Vec::W;
  const int64_t CB = s.C_in / W, Wp = s.W_out + 2, plane = s.H * s.W * W;
  for (int64_t cb = 0; cb < CB; ++cb) {
    const float* in = src + (n * CB + cb) * plane;
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t ih = r0 + i - s.pad_t;
      float* row = xp + (cb * rows + i) * Wp * W;
      if (ih < 0 || ih >= s.H) {
        std::fill(row, row + Wp * W, 0.0f);
        continue;
      }
      // Columns c with 0 <= c - pad_l < W: a copy; the pads: zeros.
      const int64_t lo = std::min<int64_t>(s.pad_l, Wp), hi = std::clamp<int64_t>(s.W + s.pad_l, lo, Wp);
      std::fill(row, row + lo * W, 0.0f);
      std::copy(in + (ih * s.W + lo - s.pad_l) * W, in + (ih * s.W + hi - s.pad_l) * W, row + lo * W);
      std::fill(row + hi * W, row + Wp * W, 0.0f);
    }
  }
}

// The convolution (direct3x3.h): dst = relu?(conv(src, w) + bias + residual).
template <class Vec>
void conv3x3_kernel(const float* src, const float* w, const float* bias, const float* residual, bool relu, float* dst,
                    const Conv2dShape& s) {
  constexpr int W = Vec::W, UR = kBlock<Vec>;
  const int64_t CB = s.C_in / W, KB = s.C_out / W, Ho = s.H_out, Wo = s.W_out, Wp = Wo + 2;
  const int64_t out_plane = Ho * Wo * W;
  // Bands of rows: whole images while there are at least two an available thread, else each
  // image cut into as many bands (batch 1: rows over the threads).
  const double flops = 2.0 * static_cast<double>(s.N * s.C_out * Ho * Wo) * static_cast<double>(s.C_in * 9);
  const int64_t threads = flops < 8e6 || in_parallel_region() ? 1 : get_num_threads();
  const int64_t per_image = std::clamp<int64_t>((2 * threads + s.N - 1) / s.N, 1, Ho);
  const int64_t band = (Ho + per_image - 1) / per_image, bands = (Ho + band - 1) / band;
  // Row blocks: the fewest that hold UR positions at most, of near-equal widths (28: 14 + 14).
  const int64_t blocks = (Wo + UR - 1) / UR;
  // Small: on the calling thread (fork and join would cost more), as the Winograd kernel does.
  parallel_for(s.N * bands, threads == 1 ? s.N * bands + 1 : 1, [&](int64_t first, int64_t last) {
    thread_local std::vector<float> padded;
    const size_t need = static_cast<size_t>(CB * (band + 2) * Wp * W);
    if (padded.size() < need) padded.resize(need);
    float* xp = padded.data();
    for (int64_t item = first; item < last; ++item) {
      const int64_t n = item / bands, oh0 = (item % bands) * band, rows = std::min(band, Ho - oh0);
      pad_band<Vec>(src, xp, s, n, oh0, rows + 2);
      const int64_t x_cb = (rows + 2) * Wp * W, x_row = Wp * W;
      // The next image's input, fetched into L2 a few lines before each register block (spread
      // over the item: a burst would overflow the fill buffers), so that its copy above reads
      // from cache: on a cold cache 1.50 ms against 1.72 a ResNet-20 16-channel convolution
      // (its operands warm: 1.54).
      const char* fetch = nullptr;
      int64_t fetch_left = 0, fetch_step = 0;
      if (bands == 1 && item + 1 < last) {
        fetch = reinterpret_cast<const char*>(src + (n + 1) * CB * s.H * s.W * W);
        fetch_left = CB * s.H * s.W * W * static_cast<int64_t>(sizeof(float)) / 64;
        fetch_step = (fetch_left + KB * rows * blocks - 1) / (KB * rows * blocks);
      }
      for (int64_t kb = 0; kb < KB; ++kb) {
        const float* wk = w + kb * CB * 9 * W * W;
        const int64_t base = (n * KB + kb) * out_plane;
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t b = 0, ow0 = 0; b < blocks; ++b) {
            const int64_t ow1 = Wo * (b + 1) / blocks;
            const int64_t at = base + ((oh0 + i) * Wo + ow0) * W;
            const Epilogue ep{bias != nullptr ? bias + kb * W : nullptr, residual != nullptr ? residual + at : nullptr,
                              relu};
            for (int64_t f = 0; f < fetch_step && fetch_left > 0; ++f, --fetch_left, fetch += 64)
              _mm_prefetch(fetch, _MM_HINT_T1);
            row_block_at<Vec, UR>(static_cast<int>(ow1 - ow0), xp + i * x_row + ow0 * W, x_cb, x_row, wk, CB, ep,
                                  dst + at);
            ow0 = ow1;
          }
      }
    }
  });
}

#undef CNNKIT_DIRECT_NO_PCOM

}  // namespace
}  // namespace cnnkit::kernels::direct3x3
CNNKIT_SIMD_END
