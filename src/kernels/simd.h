// Vector traits for the kernels written once and compiled per instruction set (winograd_impl.h,
// wgrad3x3_impl.h, direct3x3_impl.h, norm_blocked_impl.h): simd::Avx2 (8 floats, the channel
// block of nChw8c) and simd::Avx512 (16, nChw16c). A kernel template takes one as V and is
// compiled under CNNKIT_SIMD_BEGIN / CNNKIT_SIMD_END with that set's target
// (kernels/isa_avx2.cpp, kernels/isa_avx512.cpp), so each instantiation holds only its own
// instructions; the CPU check is the caller's.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#define CNNKIT_SIMD_PRAGMA(x) _Pragma(#x)
// Everything between CNNKIT_SIMD_BEGIN(t) and CNNKIT_SIMD_END is compiled for target t
// (templates included, wherever they are instantiated).
#if defined(__clang__)
#define CNNKIT_SIMD_BEGIN(t) \
  CNNKIT_SIMD_PRAGMA(clang attribute push(__attribute__((target(t))), apply_to = function))
#define CNNKIT_SIMD_END CNNKIT_SIMD_PRAGMA(clang attribute pop)
#else
#define CNNKIT_SIMD_BEGIN(t) CNNKIT_SIMD_PRAGMA(GCC push_options) CNNKIT_SIMD_PRAGMA(GCC target(t))
#define CNNKIT_SIMD_END CNNKIT_SIMD_PRAGMA(GCC pop_options)
#endif

#define CNNKIT_SIMD_AVX2_TARGET "avx2,fma"
#define CNNKIT_SIMD_AVX512_TARGET "avx512f,avx512dq,avx2,fma"

namespace cnnkit::kernels::simd {

#define CNNKIT_SIMD_FN(t) __attribute__((target(t), always_inline)) static inline

// fmadd(a, b, c) = a b + c and fnmadd(a, b, c) = c - a b, each rounded once; max(a, b) returns
// b where either is NaN (maxps), so max(zero(), x) keeps a NaN x.
struct Avx2 {
  using reg = __m256;
  static constexpr int W = 8;
#define CNNKIT_FN CNNKIT_SIMD_FN(CNNKIT_SIMD_AVX2_TARGET)
  CNNKIT_FN reg zero() { return _mm256_setzero_ps(); }
  CNNKIT_FN reg set1(float x) { return _mm256_set1_ps(x); }
  CNNKIT_FN reg broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  CNNKIT_FN reg load(const float* p) { return _mm256_loadu_ps(p); }
  CNNKIT_FN void store(float* p, reg x) { _mm256_storeu_ps(p, x); }
  CNNKIT_FN reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  CNNKIT_FN reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  CNNKIT_FN reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  CNNKIT_FN reg fnmadd(reg a, reg b, reg c) { return _mm256_fnmadd_ps(a, b, c); }
  CNNKIT_FN reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
  CNNKIT_FN reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  // g where z > 0 or z is NaN, else 0: the ReLU's gradient (PyTorch's threshold_backward).
  CNNKIT_FN reg relu_pass(reg z, reg g) { return _mm256_and_ps(_mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_NLE_UQ), g); }
  // Whether a lane is NaN.
  CNNKIT_FN bool any_nan(reg x) { return _mm256_movemask_ps(_mm256_cmp_ps(x, x, _CMP_UNORD_Q)) != 0; }
  // o[0 .. 8) += x, in double.
  CNNKIT_FN void add_to(double* o, reg x) {
    _mm256_storeu_pd(o, _mm256_add_pd(_mm256_loadu_pd(o), _mm256_cvtps_pd(_mm256_castps256_ps128(x))));
    _mm256_storeu_pd(o + 4, _mm256_add_pd(_mm256_loadu_pd(o + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))));
  }
#undef CNNKIT_FN
};

struct Avx512 {
  using reg = __m512;
  static constexpr int W = 16;
#define CNNKIT_FN CNNKIT_SIMD_FN(CNNKIT_SIMD_AVX512_TARGET)
  CNNKIT_FN reg zero() { return _mm512_setzero_ps(); }
  CNNKIT_FN reg set1(float x) { return _mm512_set1_ps(x); }
  CNNKIT_FN reg broadcast(const float* p) { return _mm512_set1_ps(*p); }
  CNNKIT_FN reg load(const float* p) { return _mm512_loadu_ps(p); }
  CNNKIT_FN void store(float* p, reg x) { _mm512_storeu_ps(p, x); }
  CNNKIT_FN reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  CNNKIT_FN reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  CNNKIT_FN reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  CNNKIT_FN reg fnmadd(reg a, reg b, reg c) { return _mm512_fnmadd_ps(a, b, c); }
  CNNKIT_FN reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  CNNKIT_FN reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  // g where z > 0 or z is NaN, else 0: the ReLU's gradient (PyTorch's threshold_backward).
  CNNKIT_FN reg relu_pass(reg z, reg g) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_NLE_UQ), g);
  }
  CNNKIT_FN bool any_nan(reg x) { return _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q) != 0; }
  // o[0 .. 16) += x, in double.
  CNNKIT_FN void add_to(double* o, reg x) {
    _mm512_storeu_pd(o, _mm512_add_pd(_mm512_loadu_pd(o), _mm512_cvtps_pd(_mm512_castps512_ps256(x))));
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));
    _mm512_storeu_pd(o + 8, _mm512_add_pd(_mm512_loadu_pd(o + 8), _mm512_cvtps_pd(hi)));
  }
#undef CNNKIT_FN
};

#undef CNNKIT_SIMD_FN

// Whether this CPU runs the kernels of channel block `block`: 8 (Avx2: AVX2 and FMA) or 16
// (Avx512: AVX-512 F and DQ as well).
inline bool cpu_runs(int block) {
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  static const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  return block == 8 ? avx2 : block == 16 && avx512;
}

}  // namespace cnnkit::kernels::simd
#else
namespace cnnkit::kernels::simd {
inline bool cpu_runs(int) { return false; }
}  // namespace cnnkit::kernels::simd
#endif
