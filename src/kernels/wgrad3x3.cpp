// The direct weight gradient of a 3x3 stride-1 convolution between nChw8c tensors
// (kernels/wgrad3x3.h).
//
// The register block: four output channels k (broadcast from dy, half of its 8-lane vector)
// times the three column taps s of one tap row r, over 8 input channels c (a vector of x):
// 12 accumulators, 3 loads of x and 4 broadcasts of dy per 12 FMAs. The images are split over
// the threads; each thread walks its images in groups of at most 1024 outputs (one image, or a
// band of rows of a large one), with the group's input zero-padded once per channel block into
// a buffer on the thread, so that the inner loop has no edges. A group's float sums then go to
// the thread's double sums, in the order [c/8][k/8][k%8/4][r][k%4][s][c%8], and the threads'
// sums are added in order at the end.
#include "kernels/wgrad3x3.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <vector>

#include "cnnkit/core/error.h"
#include "cnnkit/core/threads.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define CNNKIT_WGRAD3X3_AVX2 1
#endif

namespace cnnkit::kernels::wgrad3x3 {

namespace {

constexpr int64_t kChunk = 1024;  // outputs a float sum runs over before it goes to double

std::atomic<uint64_t> call_count{0};

std::atomic<bool>& enabled_flag() {
  static std::atomic<bool> on{[] {
    const char* e = std::getenv("CNNKIT_WGRAD3X3");
    return e == nullptr || e[0] != '0';
  }()};
  return on;
}

bool cpu_ok() {
#if CNNKIT_WGRAD3X3_AVX2
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
         s.dil_w == 1 && s.groups == 1 && s.C_in > 0 && s.C_out > 0 && s.C_in % 8 == 0 && s.C_out % 8 == 0 &&
         s.N > 0 && s.H_out > 0 && s.W_out > 0 && s.pad_t >= 0 && s.pad_l >= 0 && s.pad_b >= 0 && s.pad_r >= 0 &&
         s.pad_t <= 2 && s.pad_l <= 2 && s.pad_b <= 2 && s.pad_r <= 2 && s.H_out == s.H + s.pad_t + s.pad_b - 2 &&
         s.W_out == s.W + s.pad_l + s.pad_r - 2;
}

#if CNNKIT_WGRAD3X3_AVX2
namespace {

// Where a group's operands lie: `imgs` images, `rows` output rows of each, W_out columns.
struct Band {
  const float* dy;  // the first row's 4 output channels (dy's vector, offset by 0 or 4 lanes)
  int64_t dy_img, dy_row;
  const float* x;  // the padded input's row for the first output row and tap row r
  int64_t x_img, x_row;
  int64_t imgs, rows, Wo;
};

// o[0 .. 8) += a, in double.
__attribute__((target("avx2,fma"), always_inline)) inline void add_to(double* o, __m256 a) {
  _mm256_storeu_pd(o, _mm256_add_pd(_mm256_loadu_pd(o), _mm256_cvtps_pd(_mm256_castps256_ps128(a))));
  _mm256_storeu_pd(o + 4, _mm256_add_pd(_mm256_loadu_pd(o + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1))));
}

// out[kk][s][0 .. 8) += sum over the band of dy[k + kk] x[. + s], in float, then in double.
// Named accumulators: GCC keeps an array of vectors in memory (see winograd.cpp).
__attribute__((target("avx2,fma"))) void tap_row(const Band& b, double* out) {
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00, a20 = a00, a21 = a00,
         a22 = a00, a30 = a00, a31 = a00, a32 = a00;
  for (int64_t j = 0; j < b.imgs; ++j)
    for (int64_t i = 0; i < b.rows; ++i) {
      const float* d = b.dy + j * b.dy_img + i * b.dy_row;
      const float* x = b.x + j * b.x_img + i * b.x_row;
      for (int64_t ow = 0; ow < b.Wo; ++ow, d += 8, x += 8) {
        const __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8), x2 = _mm256_loadu_ps(x + 16);
#define CNNKIT_WGRAD_ROW(kk)                        \
  {                                                 \
    const __m256 g = _mm256_broadcast_ss(d + kk);   \
    a##kk##0 = _mm256_fmadd_ps(g, x0, a##kk##0);    \
    a##kk##1 = _mm256_fmadd_ps(g, x1, a##kk##1);    \
    a##kk##2 = _mm256_fmadd_ps(g, x2, a##kk##2);    \
  }
        CNNKIT_WGRAD_ROW(0)
        CNNKIT_WGRAD_ROW(1)
        CNNKIT_WGRAD_ROW(2)
        CNNKIT_WGRAD_ROW(3)
#undef CNNKIT_WGRAD_ROW
      }
    }
  const __m256 sums[12] = {a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32};
  for (int at = 0; at < 12; ++at) add_to(out + at * 8, sums[at]);
}

// out[0 .. 8) += the sum of n vectors 8 floats apart, in float over kChunk at a time.
__attribute__((target("avx2,fma"))) void vector_sum(const float* p, int64_t n, double* out) {
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    __m256 a = _mm256_setzero_ps();
    for (int64_t i = i0; i < std::min(n, i0 + kChunk); ++i) a = _mm256_add_ps(a, _mm256_loadu_ps(p + i * 8));
    add_to(out, a);
  }
}

// Channel block cb of images [n0, n0 + imgs) into xp (imgs, Ho + 2, Wo + 2, 8): the input rows
// oh - pt .. oh + 2 - pt and columns ow - pl .. ow + 2 - pl of every output, zero outside.
__attribute__((target("avx2,fma"))) void pad(const float* src, float* xp, const Conv2dShape& s, int64_t n0,
                                             int64_t imgs, int64_t cb) {
  const int64_t Hp = s.H_out + 2, Wp = s.W_out + 2, plane = s.H * s.W * 8;
  for (int64_t j = 0; j < imgs; ++j) {
    const float* in = src + ((n0 + j) * (s.C_in / 8) + cb) * plane;
    float* out = xp + j * Hp * Wp * 8;
    for (int64_t i = 0; i < Hp; ++i) {
      const int64_t ih = i - s.pad_t;
      float* row = out + i * Wp * 8;
      if (ih < 0 || ih >= s.H) {
        std::fill(row, row + Wp * 8, 0.0f);
        continue;
      }
      for (int64_t c = 0; c < Wp; ++c) {
        const int64_t iw = c - s.pad_l;
        const __m256 v = iw >= 0 && iw < s.W ? _mm256_loadu_ps(in + (ih * s.W + iw) * 8) : _mm256_setzero_ps();
        _mm256_storeu_ps(row + c * 8, v);
      }
    }
  }
}

}  // namespace

void weight_grad_nChw8c(const float* src, const float* grad_out, float* grad_weight, float* grad_bias,
                        const Conv2dShape& s) {
  CNNKIT_ASSERT(supported(s), "wgrad3x3::weight_grad_nChw8c: a shape it does not compute");
  call_count.fetch_add(1, std::memory_order_relaxed);
  const int64_t C = s.C_in, K = s.C_out, CB = C / 8, KB = K / 8, Ho = s.H_out, Wo = s.W_out;
  const int64_t Hp = Ho + 2, Wp = Wo + 2, out_plane = Ho * Wo * 8;
  // A group: whole images while they hold at most kChunk outputs together, else a band of rows.
  const int64_t group = std::max<int64_t>(1, kChunk / (Ho * Wo));
  const int64_t band = Ho * Wo <= kChunk ? Ho : std::max<int64_t>(1, kChunk / Wo);
  const double flops = 2.0 * static_cast<double>(s.N * K * Ho * Wo) * static_cast<double>(C * 9);
  const int64_t parts = flops < 8e6 || in_parallel_region() ? 1 : std::min<int64_t>(get_num_threads(), s.N);
  const int64_t part_size = C * K * 9 + K;
  thread_local std::vector<double> partial_buffer;  // the calling thread's: named by pointer below
  partial_buffer.assign(static_cast<size_t>(parts * part_size), 0.0);
  double* const partial = partial_buffer.data();
  parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
    thread_local std::vector<float> padded;
    const size_t need = static_cast<size_t>(group * Hp * Wp * 8);
    if (padded.size() < need) padded.resize(need);
    float* xp = padded.data();
    for (int64_t p = p0; p < p1; ++p) {
      double* acc = partial + p * part_size;
      double* bias = acc + C * K * 9;
      const int64_t first = s.N * p / parts, last = s.N * (p + 1) / parts;
      for (int64_t n0 = first; n0 < last; n0 += group) {
        const int64_t imgs = std::min(group, last - n0);
        for (int64_t cb = 0; cb < CB; ++cb) {
          pad(src, xp, s, n0, imgs, cb);
          for (int64_t kb = 0; kb < KB; ++kb)
            for (int64_t kh = 0; kh < 2; ++kh)
              for (int64_t r = 0; r < 3; ++r)
                for (int64_t oh0 = 0; oh0 < Ho; oh0 += band) {
                  const Band b{grad_out + (n0 * KB + kb) * out_plane + oh0 * Wo * 8 + kh * 4,
                               KB * out_plane,
                               Wo * 8,
                               xp + (oh0 + r) * Wp * 8,
                               Hp * Wp * 8,
                               Wp * 8,
                               imgs,
                               std::min(band, Ho - oh0),
                               Wo};
                  tap_row(b, acc + (((cb * KB + kb) * 2 + kh) * 3 + r) * 96);
                }
        }
        if (grad_bias != nullptr)
          for (int64_t n = n0; n < n0 + imgs; ++n)
            for (int64_t kb = 0; kb < KB; ++kb) vector_sum(grad_out + (n * KB + kb) * out_plane, Ho * Wo, bias + kb * 8);
      }
    }
  });
  // dW[k][c][r][s] from [cb][kb][kh][r][kk][s][lane], the parts added in order.
  for (int64_t cb = 0; cb < CB; ++cb)
    for (int64_t kb = 0; kb < KB; ++kb)
      for (int64_t kh = 0; kh < 2; ++kh)
        for (int64_t r = 0; r < 3; ++r)
          for (int64_t kk = 0; kk < 4; ++kk)
            for (int64_t t = 0; t < 3; ++t)
              for (int64_t lane = 0; lane < 8; ++lane) {
                const int64_t at = (((((cb * KB + kb) * 2 + kh) * 3 + r) * 4 + kk) * 3 + t) * 8 + lane;
                double v = 0;
                for (int64_t p = 0; p < parts; ++p) v += partial[p * part_size + at];
                const int64_t k = kb * 8 + kh * 4 + kk, c = cb * 8 + lane;
                grad_weight[(k * C + c) * 9 + r * 3 + t] = static_cast<float>(v);
              }
  if (grad_bias != nullptr)
    for (int64_t k = 0; k < K; ++k) {
      double v = 0;
      for (int64_t p = 0; p < parts; ++p) v += partial[p * part_size + C * K * 9 + k];
      grad_bias[k] = static_cast<float>(v);
    }
}
#else
void weight_grad_nChw8c(const float*, const float*, float*, float*, const Conv2dShape&) {
  CNNKIT_ASSERT(false, "wgrad3x3::weight_grad_nChw8c needs x86-64 (supported() is false elsewhere)");
}
#endif

}  // namespace cnnkit::kernels::wgrad3x3
