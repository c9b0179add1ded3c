// The blocked-layout kernels compiled for AVX2 + FMA, on nChw8c tensors (kernels/isa.h); the callers
// check the CPU first.
#include "kernels/isa.h"

#if defined(__x86_64__)
#include "kernels/simd.h"
#define CNNKIT_ISA_TARGET CNNKIT_SIMD_AVX2_TARGET
#include "kernels/direct3x3_impl.h"
#include "kernels/norm_blocked_impl.h"
#include "kernels/wgrad3x3_impl.h"
#include "kernels/winograd_impl.h"

namespace cnnkit::kernels::avx2 {

bool winograd_conv3x3(const float* src, const float* U, const float* direct, int m, const float* bias,
                      const float* residual, bool relu, float* dst, const Conv2dShape& s, float* mean, float* var) {
  return winograd::conv3x3_kernel<simd::Avx2>(src, U, direct, m, bias, residual, relu, dst, s, mean, var);
}
bool winograd_weight_grad(const float* src, const float* grad_out, float* grad_weight, float* grad_bias,
                          const Conv2dShape& s, int m) {
  return winograd::weight_grad_kernel<simd::Avx2>(src, grad_out, grad_weight, grad_bias, s, m);
}
void wgrad3x3(const float* src, const float* grad_out, float* grad_weight, float* grad_bias, const Conv2dShape& s) {
  kernels::wgrad3x3::weight_grad_kernel<simd::Avx2>(src, grad_out, grad_weight, grad_bias, s);
}
void direct_conv3x3(const float* src, const float* w, const float* bias, const float* residual, bool relu,
                    float* dst, const Conv2dShape& s) {
  kernels::direct3x3::conv3x3_kernel<simd::Avx2>(src, w, bias, residual, relu, dst, s);
}

void bn_relu_forward(float* y, float* mean, float* var, float* scale, float* shift, const float* x,
                     const float* residual, const float* weight, const float* bias, double eps, int64_t N, int64_t C,
                     int64_t S, int block, bool moments_given) {
  using K = kernels::norm_blocked::Kernels<simd::Avx2>;
  if (block == 8) return K::forward<8>(y, mean, var, scale, shift, x, residual, weight, bias, eps, N, C, S, moments_given);
  K::forward<16>(y, mean, var, scale, shift, x, residual, weight, bias, eps, N, C, S, moments_given);
}
void bn_relu_backward(float* dx, float* dresidual, float* dweight, float* dbias, const float* dy, const float* x,
                      const float* y, const float* mean, const float* var, const float* scale, const float* shift,
                      const float* weight, double eps, int64_t N, int64_t C, int64_t S, int block) {
  using K = kernels::norm_blocked::Kernels<simd::Avx2>;
  if (block == 8)
    return K::backward<8>(dx, dresidual, dweight, dbias, dy, x, y, mean, var, scale, shift, weight, eps, N, C, S);
  K::backward<16>(dx, dresidual, dweight, dbias, dy, x, y, mean, var, scale, shift, weight, eps, N, C, S);
}

}  // namespace cnnkit::kernels::avx2
#endif
