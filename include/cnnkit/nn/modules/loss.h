// Loss modules (torch/nn/modules/loss.h): each holds its options, registers weight (and
// pos_weight) as buffers as LibTorch does, and calls the functional of the same name.
//   auto crit = nn::CrossEntropyLoss(nn::CrossEntropyLossOptions().label_smoothing(0.1));
//   Tensor loss = crit(logits, labels);      // logits (N, C), labels int64 (N)
//   loss.backward();
// Printing is LibTorch's (`torch::nn::CrossEntropyLoss()` -> `cnnkit::nn::CrossEntropyLoss()`,
// SmoothL1Loss and HuberLoss without the parentheses, as LibTorch prints them).
#pragma once

#include <ostream>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/cloneable.h"
#include "cnnkit/nn/options/loss.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit {
namespace nn {

#define CNNKIT_LOSS_MODULE(Name, Options)                                    \
  class Name##Impl : public Cloneable<Name##Impl> {                          \
   public:                                                                   \
    explicit Name##Impl(Options options_ = {});                              \
    void reset() override;                                                   \
    void pretty_print(std::ostream& stream) const override;                 \
    Tensor forward(const Tensor& input, const Tensor& target);               \
    Options options;                                                         \
  };                                                                         \
  CNNKIT_MODULE(Name)

// Losses with a per-class (or broadcast) weight, registered as the buffer "weight".
#define CNNKIT_WEIGHTED_LOSS_MODULE(Name, Options)                           \
  class Name##Impl : public Cloneable<Name##Impl> {                          \
   public:                                                                   \
    explicit Name##Impl(Options options_ = {});                              \
    void reset() override;                                                   \
    void pretty_print(std::ostream& stream) const override;                 \
    Tensor forward(const Tensor& input, const Tensor& target);               \
    Options options;                                                         \
    Tensor weight;                                                           \
  };                                                                         \
  CNNKIT_MODULE(Name)

CNNKIT_LOSS_MODULE(L1Loss, L1LossOptions);
CNNKIT_LOSS_MODULE(MSELoss, MSELossOptions);
CNNKIT_LOSS_MODULE(SmoothL1Loss, SmoothL1LossOptions);
CNNKIT_LOSS_MODULE(HuberLoss, HuberLossOptions);
CNNKIT_WEIGHTED_LOSS_MODULE(CrossEntropyLoss, CrossEntropyLossOptions);
CNNKIT_WEIGHTED_LOSS_MODULE(NLLLoss, NLLLossOptions);
CNNKIT_WEIGHTED_LOSS_MODULE(BCELoss, BCELossOptions);
CNNKIT_WEIGHTED_LOSS_MODULE(MultiLabelSoftMarginLoss, MultiLabelSoftMarginLossOptions);

#undef CNNKIT_LOSS_MODULE
#undef CNNKIT_WEIGHTED_LOSS_MODULE

class BCEWithLogitsLossImpl : public Cloneable<BCEWithLogitsLossImpl> {
 public:
  explicit BCEWithLogitsLossImpl(BCEWithLogitsLossOptions options_ = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input, const Tensor& target);
  BCEWithLogitsLossOptions options;
  Tensor weight;
  Tensor pos_weight;
};
CNNKIT_MODULE(BCEWithLogitsLoss);

}  // namespace nn
}  // namespace cnnkit
