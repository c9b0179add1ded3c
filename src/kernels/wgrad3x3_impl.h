// The body of the direct 3x3 weight gradient (kernels/wgrad3x3.h), written once over vector
// traits Vec (kernels/simd.h: W channels a vector, the channel block of the layout) and
// compiled per instruction set by kernels/isa_avx2.cpp (nChw8c) and kernels/isa_avx512.cpp
// (nChw16c), which define CNNKIT_ISA_TARGET and include this file.
//
// The register block: KK output channels k (broadcast from dy: 4 on AVX2, half its vector; 8
// on AVX-512, with 32 vector registers) times the three column taps s of one tap row r, over W
// input channels c (a vector of x): 3 KK accumulators, 3 loads of x and KK broadcasts of dy per
// 3 KK FMAs.
// The images are split over the threads; each thread walks its images in groups of at most
// 1024 outputs (one image, or a band of rows of a large one), with the group's input
// zero-padded once per channel block into a buffer on the thread, so that the inner loop has
// no edges. While a group is computed, the next one's input and output gradient are fetched
// into L2 (when together at most kFetchBytes; struct Fetch). A group's float sums then go to the thread's double sums, in the order
// [c/W][k/W][k%W/KK][r][k%KK][s][c%W], and the threads' sums are added in order at the end.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cnnkit/core/threads.h"
#include "kernels/conv.h"
#include "kernels/part_sums.h"
#include "kernels/simd.h"

#ifndef CNNKIT_ISA_TARGET
#error "kernels/wgrad3x3_impl.h belongs to kernels/isa_*.cpp, which define CNNKIT_ISA_TARGET"
#endif

CNNKIT_SIMD_BEGIN(CNNKIT_ISA_TARGET)
namespace cnnkit::kernels::wgrad3x3 {
namespace {

constexpr int64_t kChunk = 1024;  // outputs a float sum runs over before it goes to double
// The most of the next group fetched ahead: with the current group's operands and its padded
// copy it stays within a 512 KiB L2 (AMD Zen 3's; Intel's are 1-2 MiB).
constexpr int64_t kFetchBytes = 256 * 1024;

// The next group's operands, fetched into L2 while this group is computed: the group's input
// (all its channel blocks: contiguous in nChw{W}c) and its output gradient, `lines` cache lines
// in all, the input's first. Without it, the padded copy of each group waits on memory: in a
// training step the input and output gradient of a 16-channel ResNet-20 layer (4 MiB each at
// batch 64) come from DRAM.
struct Fetch {
  const char* x = nullptr;
  int64_t x_lines = 0;
  const char* dy = nullptr;
  int64_t lines = 0;
  void lines_between(int64_t from, int64_t to) const {
    for (int64_t l = from; l < to; ++l)
      _mm_prefetch(l < x_lines ? x + l * 64 : dy + (l - x_lines) * 64, _MM_HINT_T1);
  }
};

// Where a group's operands lie: `imgs` images, `rows` output rows of each, W_out columns.
// The call fetches lines [fetch_from, fetch_to) of the next group, a few before each row.
struct Band {
  const float* dy;  // the first row's KK output channels (dy's vector, offset by a multiple of KK lanes)
  int64_t dy_img, dy_row;
  const float* x;  // the padded input's row for the first output row and tap row r
  int64_t x_img, x_row;
  int64_t imgs, rows, Wo;
  const Fetch* fetch;
  int64_t fetch_from, fetch_to;
};

// out[kk][s][0 .. W) += sum over the band of dy[k + kk] x[. + s] for kk < KK (4 or 8), in
// float, then in double. Named accumulators: GCC keeps an array of vectors in memory (see
// winograd_impl.h).
template <class Vec, int KK>
void tap_row(const Band& b, double* out) {
  static_assert(KK == 4 || KK == 8, "4 or 8 output channels a register block");
  using X = typename Vec::reg;
  constexpr int W = Vec::W;
  X a00 = Vec::zero(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00, a20 = a00, a21 = a00, a22 = a00,
    a30 = a00, a31 = a00, a32 = a00, a40 = a00, a41 = a00, a42 = a00, a50 = a00, a51 = a00, a52 = a00, a60 = a00,
    a61 = a00, a62 = a00, a70 = a00, a71 = a00, a72 = a00;
  // Lines to fetch a row, rounded up (one division a call: one a row cost ~15% of the loop).
  const int64_t per_row = (b.fetch_to - b.fetch_from + b.imgs * b.rows - 1) / (b.imgs * b.rows);
  int64_t fetched = b.fetch_from;
  for (int64_t j = 0; j < b.imgs; ++j)
    for (int64_t i = 0; i < b.rows; ++i) {
      const int64_t until = std::min(b.fetch_to, fetched + per_row);
      b.fetch->lines_between(fetched, until);
      fetched = until;
      const float* d = b.dy + j * b.dy_img + i * b.dy_row;
      const float* x = b.x + j * b.x_img + i * b.x_row;
      for (int64_t ow = 0; ow < b.Wo; ++ow, d += W, x += W) {
        const X x0 = Vec::load(x), x1 = Vec::load(x + W), x2 = Vec::load(x + 2 * W);
#define CNNKIT_WGRAD_ROW(kk)                  \
  if constexpr (KK > kk) {                    \
    const X g = Vec::broadcast(d + kk);       \
    a##kk##0 = Vec::fmadd(g, x0, a##kk##0);   \
    a##kk##1 = Vec::fmadd(g, x1, a##kk##1);   \
    a##kk##2 = Vec::fmadd(g, x2, a##kk##2);   \
  }
        CNNKIT_WGRAD_ROW(0)
        CNNKIT_WGRAD_ROW(1)
        CNNKIT_WGRAD_ROW(2)
        CNNKIT_WGRAD_ROW(3)
        CNNKIT_WGRAD_ROW(4)
        CNNKIT_WGRAD_ROW(5)
        CNNKIT_WGRAD_ROW(6)
        CNNKIT_WGRAD_ROW(7)
#undef CNNKIT_WGRAD_ROW
      }
    }
  const X sums[24] = {a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32,
                      a40, a41, a42, a50, a51, a52, a60, a61, a62, a70, a71, a72};
  for (int at = 0; at < 3 * KK; ++at) Vec::add_to(out + at * W, sums[at]);
}

// out[0 .. W) += the sum of n vectors W floats apart, in float over kChunk at a time.
template <class Vec>
void vector_sum(const float* p, int64_t n, double* out) {
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    typename Vec::reg a = Vec::zero();
    for (int64_t i = i0; i < std::min(n, i0 + kChunk); ++i) a = Vec::add(a, Vec::load(p + i * Vec::W));
    Vec::add_to(out, a);
  }
}

// Channel block cb of images [n0, n0 + imgs) into xp (imgs, Ho + 2, Wo + 2, W): the input rows
// oh - pt .. oh + 2 - pt and columns ow - pl .. ow + 2 - pl of every output, zero outside.
template <class Vec>
void pad(const float* src, float* xp, const Conv2dShape& s, int64_t n0, int64_t imgs, int64_t cb) {
  constexpr int W = Vec::W;
  const int64_t Hp = s.H_out + 2, Wp = s.W_out + 2, plane = s.H * s.W * W;
  for (int64_t j = 0; j < imgs; ++j) {
    const float* in = src + ((n0 + j) * (s.C_in / W) + cb) * plane;
    float* out = xp + j * Hp * Wp * W;
    for (int64_t i = 0; i < Hp; ++i) {
      const int64_t ih = i - s.pad_t;
      float* row = out + i * Wp * W;
      if (ih < 0 || ih >= s.H) {
        std::fill(row, row + Wp * W, 0.0f);
        continue;
      }
      for (int64_t c = 0; c < Wp; ++c) {
        const int64_t iw = c - s.pad_l;
        Vec::store(row + c * W, iw >= 0 && iw < s.W ? Vec::load(in + (ih * s.W + iw) * W) : Vec::zero());
      }
    }
  }
}

// The weight gradient (wgrad3x3.h) between tensors blocked by W channels.
template <class Vec>
void weight_grad_kernel(const float* src, const float* grad_out, float* grad_weight, float* grad_bias,
                        const Conv2dShape& s) {
  // KK output channels a register block (8 where 32 vector registers hold 24 accumulators),
  // KH such blocks in a vector.
  constexpr int W = Vec::W, KK = W == 16 ? 8 : 4, KH = W / KK;
  const int64_t C = s.C_in, K = s.C_out, CB = C / W, KB = K / W, Ho = s.H_out, Wo = s.W_out;
  const int64_t Hp = Ho + 2, Wp = Wo + 2, out_plane = Ho * Wo * W, in_plane = s.H * s.W * W;
  // A group: whole images while they hold at most kChunk outputs together, else a band of rows.
  const int64_t group = std::max<int64_t>(1, kChunk / (Ho * Wo));
  const int64_t band = Ho * Wo <= kChunk ? Ho : std::max<int64_t>(1, kChunk / Wo);
  const int64_t calls_per_group = CB * KB * KH * 3 * ((Ho + band - 1) / band);
  // The images in parts (kernels/part_sums.h).
  const PartSums parts(weight_grad_flops(s.N, K, Ho, Wo, C), s.N, C * K * 9 + K);
  parallel_for(parts.count, 1, [&](int64_t p0, int64_t p1) {
    thread_local std::vector<float> padded;
    const size_t need = static_cast<size_t>(group * Hp * Wp * W);
    if (padded.size() < need) padded.resize(need);
    float* xp = padded.data();
    for (int64_t p = p0; p < p1; ++p) {
      double* acc = parts.start(p);
      double* bias = acc + C * K * 9;
      const int64_t first = parts.first(p, s.N), last = parts.first(p + 1, s.N);
      for (int64_t n0 = first; n0 < last; n0 += group) {
        const int64_t imgs = std::min(group, last - n0);
        Fetch fetch;
        if (const int64_t next = n0 + imgs; next < last) {
          const int64_t next_imgs = std::min(group, last - next);
          fetch.x = reinterpret_cast<const char*>(src + next * CB * in_plane);
          fetch.x_lines = next_imgs * CB * in_plane * 4 / 64;
          fetch.dy = reinterpret_cast<const char*>(grad_out + next * KB * out_plane);
          fetch.lines = fetch.x_lines + next_imgs * KB * out_plane * 4 / 64;
          if (fetch.lines * 64 > kFetchBytes) fetch = Fetch{};
        }
        int64_t call = 0;  // of calls_per_group tap_row calls
        for (int64_t cb = 0; cb < CB; ++cb) {
          pad<Vec>(src, xp, s, n0, imgs, cb);
          for (int64_t kb = 0; kb < KB; ++kb)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t r = 0; r < 3; ++r)
                for (int64_t oh0 = 0; oh0 < Ho; oh0 += band) {
                  const Band b{grad_out + (n0 * KB + kb) * out_plane + oh0 * Wo * W + kh * KK,
                               KB * out_plane,
                               Wo * W,
                               xp + (oh0 + r) * Wp * W,
                               Hp * Wp * W,
                               Wp * W,
                               imgs,
                               std::min(band, Ho - oh0),
                               Wo,
                               &fetch,
                               fetch.lines * call / calls_per_group,
                               fetch.lines * (call + 1) / calls_per_group};
                  ++call;
                  tap_row<Vec, KK>(b, acc + (((cb * KB + kb) * KH + kh) * 3 + r) * 3 * KK * W);
                }
        }
        if (grad_bias != nullptr)
          for (int64_t n = n0; n < n0 + imgs; ++n)
            for (int64_t kb = 0; kb < KB; ++kb)
              vector_sum<Vec>(grad_out + (n * KB + kb) * out_plane, Ho * Wo, bias + kb * W);
      }
    }
  });
  // dW[k][c][r][s] from [cb][kb][kh][r][kk][s][lane], the parts added in order.
  for (int64_t cb = 0; cb < CB; ++cb)
    for (int64_t kb = 0; kb < KB; ++kb)
      for (int64_t kh = 0; kh < KH; ++kh)
        for (int64_t r = 0; r < 3; ++r)
          for (int64_t kk = 0; kk < KK; ++kk)
            for (int64_t t = 0; t < 3; ++t)
              for (int64_t lane = 0; lane < W; ++lane) {
                const int64_t at = (((((cb * KB + kb) * KH + kh) * 3 + r) * KK + kk) * 3 + t) * W + lane;
                const int64_t k = kb * W + kh * KK + kk, c = cb * W + lane;
                grad_weight[(k * C + c) * 9 + r * 3 + t] = static_cast<float>(parts.sum(at));
              }
  if (grad_bias != nullptr)
    for (int64_t k = 0; k < K; ++k) grad_bias[k] = static_cast<float>(parts.sum(C * K * 9 + k));
}

}  // namespace
}  // namespace cnnkit::kernels::wgrad3x3
CNNKIT_SIMD_END
