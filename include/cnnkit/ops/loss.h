// Loss functions at op level (torch::mse_loss, torch::nll_loss, torch::cross_entropy_loss,
// ...): PyTorch 1.13's numbers, each with its analytic backward; reduction is an int as in
// ATen (Reduction::None / Mean / Sum). nn::functional and the nn loss modules call these.
//
//   auto logits = net->forward(x);                       // (N, C) or (N, C, H, W)
//   auto loss = cnnkit::cross_entropy_loss(logits, labels);  // labels int64 (N) / (N, H, W)
//   loss.backward();
//
// Intended usage: through nn::CrossEntropyLoss / F::cross_entropy (options as LibTorch);
// these functions are the op layer underneath, usable directly as torch::X is.
// Conventions shared by all of them:
//  - input float32, any strides; float targets must have the input's shape (no broadcast:
//    PyTorch only warns and broadcasts, which is nearly always a bug).
//  - gradients flow to the input and to float targets; weight / pos_weight are constants.
//  - kMean of an empty input is nan, as in PyTorch.
#pragma once

#include <cstdint>

#include "cnnkit/core/tensor.h"

namespace cnnkit {

// at::Reduction::Reduction.
namespace Reduction {
enum Reduction { None = 0, Mean = 1, Sum = 2, END };
}

// (x - y)^2 (torch.nn.MSELoss).
Tensor mse_loss(const Tensor& input, const Tensor& target, int64_t reduction = Reduction::Mean);
// |x - y| (torch.nn.L1Loss); gradient sign(x - y), 0 at 0.
Tensor l1_loss(const Tensor& input, const Tensor& target, int64_t reduction = Reduction::Mean);
// 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (torch.nn.SmoothL1Loss); beta >= 0,
// beta = 0 is l1_loss.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, int64_t reduction = Reduction::Mean,
                      double beta = 1.0);
// 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (torch.nn.HuberLoss); delta > 0.
Tensor huber_loss(const Tensor& input, const Tensor& target, int64_t reduction = Reduction::Mean,
                  double delta = 1.0);

// -w (y log x + (1 - y) log(1 - x)), logs clamped to >= -100 (torch.nn.BCELoss). input
// must lie in [0, 1]; weight broadcasts to the input's shape.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                            int64_t reduction = Reduction::Mean);
// -w (p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))) in the stable form
// (1 - y) x + (1 + (p - 1) y) softplus(-x) (torch.nn.BCEWithLogitsLoss); weight and
// pos_weight p broadcast to the input's shape (pos_weight usually (C), one per class).
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                                        const Tensor& pos_weight = {}, int64_t reduction = Reduction::Mean);
// Per sample: mean over the C classes (last dim) of w_c * BCE-with-logits(x_c, y_c)
// (torch.nn.MultiLabelSoftMarginLoss). input (N, C) or (C); kNone gives (N).
Tensor multilabel_soft_margin_loss(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                                   int64_t reduction = Reduction::Mean);

// Negative log-likelihood of log-probabilities (torch.nn.NLLLoss): input (N, C), (C) or
// (N, C, d1, ...), target int64 (N), () or (N, d1, ...) with values in [0, C) or
// ignore_index. loss_i = -w[t_i] input[i, t_i]; kMean divides by the sum of w[t_i] over
// targets that are not ignored (nan when there are none).
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                int64_t reduction = Reduction::Mean, int64_t ignore_index = -100);
// log_softmax over dim 1 and nll_loss fused, with one backward softmax - onehot
// (torch::cross_entropy_loss, torch.nn.CrossEntropyLoss). target is either class indices
// (int64, as nll_loss) or class probabilities (float, the input's shape; ignore_index must
// then be negative). label_smoothing eps in [0, 1] mixes the target with the uniform
// distribution, with PyTorch 1.13's weighting: for class indices
//   loss_i = (1 - eps) w[t_i] (-lp[i, t_i]) + eps / C sum_c w_c (-lp[i, c]),
// kMean dividing both terms by the sum of w[t_i] over non-ignored targets; for
// probabilities kMean divides by the number of samples N * d1 * ... .
Tensor cross_entropy_loss(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                          int64_t reduction = Reduction::Mean, int64_t ignore_index = -100,
                          double label_smoothing = 0.0);

}  // namespace cnnkit
