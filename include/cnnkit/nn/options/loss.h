// Options of the loss modules and functionals (torch/nn/options/loss.h): the same fields,
// defaults and reduction variant (kNone, kMean, kSum; default kMean).
//   nn::CrossEntropyLossOptions().weight(w).ignore_index(0).label_smoothing(0.1)
//   nn::BCEWithLogitsLossOptions().pos_weight(pw).reduction(cnnkit::kSum)
//   F::mse_loss(x, y, F::MSELossFuncOptions(cnnkit::kSum))
// As in LibTorch, only L1Loss, MSELoss, SmoothL1Loss and HuberLoss options take the
// reduction as a constructor argument.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>

#include "cnnkit/core/enum.h"
#include "cnnkit/core/tensor.h"
#include "cnnkit/core/arg.h"

namespace cnnkit {
namespace nn {

namespace detail {
using loss_reduction_t = std::variant<enumtype::kNone, enumtype::kMean, enumtype::kSum>;
}  // namespace detail

// LibTorch's TORCH_OPTIONS_CTOR_VARIANT_ARG3(Name, reduction, kNone, kMean, kSum).
#define CNNKIT_LOSS_REDUCTION_CTORS(Name)                                 \
  Name() = default;                                                       \
  Name(enumtype::kNone r) : reduction_(r) {} /* NOLINT: implicit */      \
  Name(enumtype::kMean r) : reduction_(r) {} /* NOLINT: implicit */      \
  Name(enumtype::kSum r) : reduction_(r) {}  /* NOLINT: implicit */

struct L1LossOptions {
  using reduction_t = detail::loss_reduction_t;
  CNNKIT_LOSS_REDUCTION_CTORS(L1LossOptions)
  CNNKIT_ARG(reduction_t, reduction) = kMean;
};

struct MSELossOptions {
  using reduction_t = detail::loss_reduction_t;
  CNNKIT_LOSS_REDUCTION_CTORS(MSELossOptions)
  CNNKIT_ARG(reduction_t, reduction) = kMean;
};

// beta unset means 1.0 (LibTorch keeps it optional to tell the deprecated F::smooth_l1_loss
// overload with a separate beta apart).
struct SmoothL1LossOptions {
  using reduction_t = detail::loss_reduction_t;
  CNNKIT_LOSS_REDUCTION_CTORS(SmoothL1LossOptions)
  CNNKIT_ARG(reduction_t, reduction) = kMean;
  CNNKIT_ARG(std::optional<double>, beta) = std::nullopt;
};

struct HuberLossOptions {
  using reduction_t = detail::loss_reduction_t;
  CNNKIT_LOSS_REDUCTION_CTORS(HuberLossOptions)
  CNNKIT_ARG(reduction_t, reduction) = kMean;
  CNNKIT_ARG(double, delta) = 1.0;
};

#undef CNNKIT_LOSS_REDUCTION_CTORS

// weight: (C), one value per class.
struct CrossEntropyLossOptions {
  using reduction_t = detail::loss_reduction_t;
  CNNKIT_ARG(Tensor, weight) = {};
  CNNKIT_ARG(int64_t, ignore_index) = -100;
  CNNKIT_ARG(reduction_t, reduction) = kMean;
  CNNKIT_ARG(double, label_smoothing) = 0.0;
};

struct NLLLossOptions {
  using reduction_t = detail::loss_reduction_t;
  CNNKIT_ARG(Tensor, weight) = {};
  CNNKIT_ARG(int64_t, ignore_index) = -100;
  CNNKIT_ARG(reduction_t, reduction) = kMean;
};

// weight broadcasts to the input's shape.
struct BCELossOptions {
  using reduction_t = detail::loss_reduction_t;
  CNNKIT_ARG(Tensor, weight) = {};
  CNNKIT_ARG(reduction_t, reduction) = kMean;
};

// weight and pos_weight broadcast to the input's shape (pos_weight usually (C)).
struct BCEWithLogitsLossOptions {
  using reduction_t = detail::loss_reduction_t;
  CNNKIT_ARG(Tensor, weight) = {};
  CNNKIT_ARG(reduction_t, reduction) = kMean;
  CNNKIT_ARG(Tensor, pos_weight) = {};
};

struct MultiLabelSoftMarginLossOptions {
  using reduction_t = detail::loss_reduction_t;
  CNNKIT_ARG(Tensor, weight) = {};
  CNNKIT_ARG(reduction_t, reduction) = kMean;
};

namespace functional {
using L1LossFuncOptions = L1LossOptions;
using MSELossFuncOptions = MSELossOptions;
using SmoothL1LossFuncOptions = SmoothL1LossOptions;
using HuberLossFuncOptions = HuberLossOptions;
using CrossEntropyFuncOptions = CrossEntropyLossOptions;
using NLLLossFuncOptions = NLLLossOptions;
using BinaryCrossEntropyFuncOptions = BCELossOptions;
using BinaryCrossEntropyWithLogitsFuncOptions = BCEWithLogitsLossOptions;
using MultilabelSoftMarginLossFuncOptions = MultiLabelSoftMarginLossOptions;  // LibTorch's spelling
using MultiLabelSoftMarginLossFuncOptions = MultiLabelSoftMarginLossOptions;
}  // namespace functional

}  // namespace nn
}  // namespace cnnkit
