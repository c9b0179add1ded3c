// The blocked-layout kernels as compiled for each instruction set: avx2:: works on nChw8c
// tensors (kernels/isa_avx2.cpp), avx512:: on nChw16c (kernels/isa_avx512.cpp). Called by
// winograd.cpp, wgrad3x3.cpp, direct3x3.cpp and norm_blocked.cpp, which check the CPU and the
// shape first; the arguments are theirs (kernels/winograd.h, kernels/wgrad3x3.h,
// kernels/direct3x3.h, kernels/norm.h), with the channel block the namespace's.
#pragma once

#include "kernels/conv.h"

namespace cnnkit::kernels {

#define CNNKIT_ISA_KERNELS                                                                                        \
  /* Winograd F(m x m, 3x3): U [(m + 2)^2][C_in][C_out] and direct [C_in][9][C_out] as in winograd::Weights. */ \
  /* With mean non-null, also the moments of dst (winograd::conv3x3); false when it could not take them. */    \
  bool winograd_conv3x3(const float* src, const float* U, const float* direct, int m, const float* bias,         \
                        const float* residual, bool relu, float* dst, const Conv2dShape& s, float* mean,          \
                        float* var);                                                                              \
  bool winograd_weight_grad(const float* src, const float* grad_out, float* grad_weight, float* grad_bias,      \
                            const Conv2dShape& s, int m);                                                         \
  void wgrad3x3(const float* src, const float* grad_out, float* grad_weight, float* grad_bias,                  \
                const Conv2dShape& s);                                                                            \
  /* Direct 3x3: w as direct3x3::pack_weights lays it out. */                                                     \
  void direct_conv3x3(const float* src, const float* w, const float* bias, const float* residual, bool relu,     \
                      float* dst, const Conv2dShape& s);                                                          \
  /* Batch norm + ReLU, kernels/norm.h's _blocked functions (avx512:: block 16 only). */                          \
  void bn_relu_forward(float* y, float* mean, float* var, float* scale, float* shift, const float* x,           \
                       const float* residual, const float* weight, const float* bias, double eps, int64_t N,    \
                       int64_t C, int64_t S, int block, bool moments_given);                                      \
  void bn_relu_backward(float* dx, float* dresidual, float* dweight, float* dbias, const float* dy,             \
                        const float* x, const float* y, const float* mean, const float* var, const float* scale, \
                        const float* shift, const float* weight, double eps, int64_t N, int64_t C, int64_t S,    \
                        int block);

namespace avx2 {
CNNKIT_ISA_KERNELS
}  // namespace avx2
namespace avx512 {
CNNKIT_ISA_KERNELS
}  // namespace avx512

#undef CNNKIT_ISA_KERNELS

}  // namespace cnnkit::kernels
