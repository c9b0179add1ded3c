// Matrix products (torch::matmul, torch::mm, torch::bmm) and the fused affine map of a
// Linear layer (x W^T + b), on oneDNN's matmul / inner product; least squares (lstsq) on LAPACK.
#pragma once

#include "cnnkit/core/tensor.h"

namespace cnnkit {

Tensor matmul(const Tensor& a, const Tensor& b);    // 1-d/2-d/batched, broadcasting batch dims
Tensor mm(const Tensor& a, const Tensor& b);        // (n, k) x (k, m)
Tensor bmm(const Tensor& a, const Tensor& b);       // (B, n, k) x (B, k, m)
Tensor addmm(const Tensor& bias, const Tensor& a, const Tensor& b, double beta = 1, double alpha = 1);
// y = x W^T + b; x: (*, in), weight: (out, in), bias: (out) or undefined -> (*, out)
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
// torch.linalg.lstsq(a, b, driver="gels").solution for float32 a (m, n), m >= n, full rank,
// and b (m): x (n) minimising |a x - b|. LAPACK's sgels, the routine torch calls, so the
// float32 result is torch's bit for bit. No gradient (an inference-side helper: torchvision's
// perspective coefficients). ValueError when a is rank deficient.
Tensor lstsq(const Tensor& a, const Tensor& b);

}  // namespace cnnkit
