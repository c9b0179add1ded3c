// The loss functionals of nn::functional (torch/nn/functional/loss.h): unpack LibTorch's
// options (the reduction variant becomes ATen's int) and call the ops in ops/loss. No
// arithmetic here; the formulas and checks live with the ops.
#include <variant>

#include "cnnkit/nn/functional.h"
#include "cnnkit/ops/loss.h"

namespace cnnkit {
namespace nn {
namespace functional {

namespace {
// enumtype::reduction_get_enum: kNone / kMean / kSum -> Reduction::None / Mean / Sum.
int64_t reduction_enum(const nn::detail::loss_reduction_t& r) {
  if (std::holds_alternative<enumtype::kNone>(r)) return Reduction::None;
  if (std::holds_alternative<enumtype::kSum>(r)) return Reduction::Sum;
  return Reduction::Mean;
}
}  // namespace

Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossFuncOptions& options) {
  return ::cnnkit::l1_loss(input, target, reduction_enum(options.reduction()));
}

Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossFuncOptions& options) {
  return ::cnnkit::mse_loss(input, target, reduction_enum(options.reduction()));
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossFuncOptions& options) {
  return ::cnnkit::smooth_l1_loss(input, target, reduction_enum(options.reduction()), options.beta().value_or(1.0));
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossFuncOptions& options,
                      double beta) {
  CNNKIT_CHECK(!options.beta().has_value(), "smooth_l1_loss: expected beta not to be provided in 'options', but got ",
               *options.beta());
  return ::cnnkit::smooth_l1_loss(input, target, reduction_enum(options.reduction()), beta);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossFuncOptions& options) {
  return ::cnnkit::huber_loss(input, target, reduction_enum(options.reduction()), options.delta());
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyFuncOptions& options) {
  return ::cnnkit::cross_entropy_loss(input, target, options.weight(), reduction_enum(options.reduction()),
                                      options.ignore_index(), options.label_smoothing());
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossFuncOptions& options) {
  return ::cnnkit::nll_loss(input, target, options.weight(), reduction_enum(options.reduction()),
                            options.ignore_index());
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BinaryCrossEntropyFuncOptions& options) {
  return ::cnnkit::binary_cross_entropy(input, target, options.weight(), reduction_enum(options.reduction()));
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BinaryCrossEntropyWithLogitsFuncOptions& options) {
  return ::cnnkit::binary_cross_entropy_with_logits(input, target, options.weight(), options.pos_weight(),
                                                    reduction_enum(options.reduction()));
}

Tensor multilabel_soft_margin_loss(const Tensor& input, const Tensor& target,
                                   const MultilabelSoftMarginLossFuncOptions& options) {
  return ::cnnkit::multilabel_soft_margin_loss(input, target, options.weight(), reduction_enum(options.reduction()));
}

}  // namespace functional
}  // namespace nn
}  // namespace cnnkit
