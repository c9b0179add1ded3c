// nn::functional (torch::nn::functional, usually `namespace F = cnnkit::nn::functional;`):
// the stateless forms of the layers, taking LibTorch's *FuncOptions. Each forwards to the
// differentiable op in ops/ after unpacking options; semantics are PyTorch's F.* ones.
//
//   namespace F = cnnkit::nn::functional;
//   auto y = F::conv2d(x, w, F::Conv2dFuncOptions().bias(b).stride(1).padding(1));
//   y = F::max_pool2d(F::relu(y), F::MaxPool2dFuncOptions(2));
//   y = F::batch_norm(y, mean, var, F::BatchNormFuncOptions().weight(g).bias(b).training(true));
//   y = F::pad(y, F::PadFuncOptions({1, 1, 1, 1}).mode(cnnkit::kReflect));
//   auto p = F::softmax(F::linear(y.flatten(1), fc_w, fc_b), F::SoftmaxFuncOptions(1));
//
//   auto loss = F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().label_smoothing(0.1));
//   loss = loss + F::mse_loss(y, target, F::MSELossFuncOptions(cnnkit::kSum));
#pragma once

#include <tuple>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/options/activation.h"
#include "cnnkit/ops/activation.h"
#include "cnnkit/nn/options/conv.h"
#include "cnnkit/nn/options/dropout.h"
#include "cnnkit/nn/options/linear.h"
#include "cnnkit/nn/options/loss.h"
#include "cnnkit/nn/options/normalization.h"
#include "cnnkit/nn/options/padding.h"
#include "cnnkit/nn/options/pooling.h"
#include "cnnkit/nn/options/upsampling.h"

namespace cnnkit {
namespace nn {
namespace functional {

// ---- convolution and linear (input (N, C, H, W) or (C, H, W); linear: (*, in)) ----------
// conv1d: input (N, C, L) or (C, L), weight (C_out, C_in / groups, k).
Tensor conv1d(const Tensor& input, const Tensor& weight, const Conv1dFuncOptions& options = {});
Tensor conv2d(const Tensor& input, const Tensor& weight, const Conv2dFuncOptions& options = {});
// weight (C_in, C_out / groups, kH, kW); ops/conv.h's conv_transpose2d says more.
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const ConvTranspose2dFuncOptions& options = {});
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = {});

// ---- pooling ------------------------------------------------------------------------------
// 1-d: input (N, C, L) or (C, L).
Tensor max_pool1d(const Tensor& input, const MaxPool1dFuncOptions& options);
std::tuple<Tensor, Tensor> max_pool1d_with_indices(const Tensor& input, const MaxPool1dFuncOptions& options);
Tensor avg_pool1d(const Tensor& input, const AvgPool1dFuncOptions& options);
Tensor adaptive_avg_pool1d(const Tensor& input, const AdaptiveAvgPool1dFuncOptions& options);
Tensor adaptive_max_pool1d(const Tensor& input, const AdaptiveMaxPool1dFuncOptions& options);
std::tuple<Tensor, Tensor> adaptive_max_pool1d_with_indices(const Tensor& input,
                                                            const AdaptiveMaxPool1dFuncOptions& options);
Tensor max_pool2d(const Tensor& input, const MaxPool2dFuncOptions& options);
std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, const MaxPool2dFuncOptions& options);
Tensor avg_pool2d(const Tensor& input, const AvgPool2dFuncOptions& options);
// nullopt output sizes keep the input's size in that dim.
Tensor adaptive_avg_pool2d(const Tensor& input, const AdaptiveAvgPool2dFuncOptions& options);
Tensor adaptive_max_pool2d(const Tensor& input, const AdaptiveMaxPool2dFuncOptions& options);
std::tuple<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& input,
                                                            const AdaptiveMaxPool2dFuncOptions& options);

// ---- activations --------------------------------------------------------------------------
Tensor relu(Tensor input, const ReLUFuncOptions& options = {});
Tensor relu6(Tensor input, const ReLU6FuncOptions& options = {});
Tensor selu(Tensor input, const SELUFuncOptions& options = {});
Tensor leaky_relu(Tensor input, const LeakyReLUFuncOptions& options = {});
Tensor elu(Tensor input, const ELUFuncOptions& options = {});
Tensor gelu(const Tensor& input, const GELUFuncOptions& options = {});
Tensor hardtanh(Tensor input, const HardtanhFuncOptions& options = {});
Tensor softplus(const Tensor& input, const SoftplusFuncOptions& options = {});
// silu, mish, hardswish, hardsigmoid, ...: the list in ops/activation.h.
#define CNNKIT_DECLARE_ACTIVATION_FUNCTION(Module, function, ...) Tensor function(const Tensor& input);
CNNKIT_PLAIN_ACTIVATIONS(CNNKIT_DECLARE_ACTIVATION_FUNCTION)
#undef CNNKIT_DECLARE_ACTIVATION_FUNCTION
Tensor prelu(const Tensor& input, const Tensor& weight);
Tensor softmax(const Tensor& input, const SoftmaxFuncOptions& options);
Tensor log_softmax(const Tensor& input, const LogSoftmaxFuncOptions& options);

// ---- normalisation ------------------------------------------------------------------------
// running_mean / running_var may be undefined; when training they are updated in place.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const BatchNormFuncOptions& options = {});
Tensor instance_norm(const Tensor& input, const InstanceNormFuncOptions& options = {});
Tensor layer_norm(const Tensor& input, const LayerNormFuncOptions& options);
Tensor group_norm(const Tensor& input, const GroupNormFuncOptions& options);

// ---- dropout ------------------------------------------------------------------------------
Tensor dropout(Tensor input, const DropoutFuncOptions& options = {});
// Zeroes whole channels: input (N, C, H, W); any other rank is treated as unbatched.
Tensor dropout2d(Tensor input, const Dropout2dFuncOptions& options = {});

// ---- padding ------------------------------------------------------------------------------
Tensor pad(const Tensor& input, const PadFuncOptions& options);

// ---- upsampling ------------------------------------------------------------------------------
// PyTorch's F.interpolate for modes nearest ((N, C, L), (N, C, H, W)), linear ((N, C, L)) and
// bilinear ((N, C, H, W)); options/upsampling.h says more.
Tensor interpolate(const Tensor& input, const InterpolateFuncOptions& options = {});

// ---- pixel shuffle ----------------------------------------------------------------------------
// (*, C * r * r, H, W) -> (*, C, H * r, W * r), r = upscale_factor; pixel_unshuffle inverts it.
Tensor pixel_shuffle(const Tensor& input, const PixelShuffleFuncOptions& options);
Tensor pixel_unshuffle(const Tensor& input, const PixelUnshuffleFuncOptions& options);
// (*) int64 class indices -> (*, num_classes) int64 one-hot; -1 infers max + 1.
Tensor one_hot(const Tensor& tensor, int64_t num_classes = -1);

// ---- losses (ops/loss.h has the shapes and PyTorch's formulas) ------------------------------
Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossFuncOptions& options = {});
Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossFuncOptions& options = {});
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossFuncOptions& options = {});
// LibTorch's deprecated form: beta given separately (options.beta() must then be unset).
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossFuncOptions& options, double beta);
Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossFuncOptions& options = {});
// target: class indices int64 (N) / (N, d1, ...), or class probabilities of the input's shape.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyFuncOptions& options = {});
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossFuncOptions& options = {});
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target,
                            const BinaryCrossEntropyFuncOptions& options = {});
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BinaryCrossEntropyWithLogitsFuncOptions& options = {});
Tensor multilabel_soft_margin_loss(const Tensor& input, const Tensor& target,
                                   const MultilabelSoftMarginLossFuncOptions& options = {});

}  // namespace functional
}  // namespace nn
}  // namespace cnnkit
