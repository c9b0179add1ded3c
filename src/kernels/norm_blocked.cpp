// Batch norm fused with the ReLU after it (and the residual sum before that ReLU) over a
// channel-blocked buffer, training statistics (kernels/norm.h): the coefficients, the check
// and the dispatch to the kernels of each instruction set (kernels/norm_blocked_impl.h,
// compiled by kernels/isa_avx2.cpp and kernels/isa_avx512.cpp): nChw16c with AVX-512 where the
// CPU has it, else AVX2 + FMA.
#include <cmath>
#include <cstdint>

#include "cnnkit/core/error.h"
#include "kernels/isa.h"
#include "kernels/norm.h"
#include "kernels/simd.h"

namespace cnnkit::kernels {

void batch_norm_relu_coefficients(float* scale, float* shift, const float* mean, const float* var,
                                  const float* weight, const float* bias, double eps, int64_t C) {
  for (int64_t c = 0; c < C; ++c) {
    const double rstd = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
    const double a = (weight != nullptr ? weight[c] : 1.0) * rstd;
    scale[c] = static_cast<float>(a);
    shift[c] = static_cast<float>((bias != nullptr ? bias[c] : 0.0) - mean[c] * a);
  }
}

bool batch_norm_relu_blocked_supported(int64_t C, int block) {
#if defined(__x86_64__)
  return (block == 8 || block == 16) && C > 0 && C % block == 0 && simd::cpu_runs(8);
#else
  (void)C;
  (void)block;
  return false;
#endif
}

void batch_norm_relu_forward_blocked(float* y, float* mean, float* var, float* scale, float* shift,
                                     const float* x, const float* residual, const float* weight,
                                     const float* bias, double eps, int64_t N, int64_t C, int64_t S,
                                     int block, bool moments_given) {
  CNNKIT_ASSERT(batch_norm_relu_blocked_supported(C, block), "batch_norm_relu: block ", block, ", ", C,
                " channels");
#if defined(__x86_64__)
  if (block == 16 && simd::cpu_runs(16)) {
    avx512::bn_relu_forward(y, mean, var, scale, shift, x, residual, weight, bias, eps, N, C, S, block, moments_given);
  } else {
    avx2::bn_relu_forward(y, mean, var, scale, shift, x, residual, weight, bias, eps, N, C, S, block, moments_given);
  }
#endif
}

void batch_norm_relu_backward_blocked(float* dx, float* dresidual, float* dweight, float* dbias,
                                      const float* dy, const float* x, const float* y,
                                      const float* mean, const float* var, const float* scale,
                                      const float* shift, const float* weight, double eps,
                                      int64_t N, int64_t C, int64_t S, int block) {
  CNNKIT_ASSERT(batch_norm_relu_blocked_supported(C, block), "batch_norm_relu: block ", block, ", ", C,
                " channels");
#if defined(__x86_64__)
  if (block == 16 && simd::cpu_runs(16)) {
    avx512::bn_relu_backward(dx, dresidual, dweight, dbias, dy, x, y, mean, var, scale, shift, weight, eps, N, C, S,
                             block);
  } else {
    avx2::bn_relu_backward(dx, dresidual, dweight, dbias, dy, x, y, mean, var, scale, shift, weight, eps, N, C, S,
                           block);
  }
#endif
}

}  // namespace cnnkit::kernels
