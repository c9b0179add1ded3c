// Batch-level mixing for classification (timm.data.Mixup's names, defaults and arithmetic):
// mixup (Zhang et al. 2017) blends each image with its partner, cutmix (Yun et al. 2019)
// pastes a rectangle of the partner in; the targets become the matching blend of (smoothed)
// one-hot rows, for CrossEntropyLoss's class-probability targets.
//
//   data::Mixup mix(data::MixupOptions().mixup_alpha(0.2).cutmix_alpha(1.0).label_smoothing(0.1));
//   auto [x, y] = mix(batch.data, batch.target, /*num_classes=*/10);   // y: (N, 10) float
//   Tensor loss = F::cross_entropy(model->forward(x), y);
//
// Intended usage:
//   - TrainerOptions().mixup(opts) (or a run config's `mixup:`): the Trainer mixes every
//     training batch, reports training accuracy against the original hard labels, and
//     never mixes validation or evaluation batches;
//   - by hand as above; mixup_target and cutmix_bbox_and_lam are the deterministic pieces.
// The partner of example i is example N - 1 - i (timm's flip of the batch). Random draws
// (whether to mix, mixup or cutmix, lambda ~ Beta(alpha, alpha), the box) come from the
// generator given, by default the global one, which checkpoints save and restore.
// Deliberately not: timm's mixup_enabled toggle (stop mixing by building the Trainer
// without it), mixing of regression or multi-label targets.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "cnnkit/core/arg.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/core/tensor.h"

namespace cnnkit {
namespace data {

// A (min, max) pair of fractions.
using FractionRange = std::pair<double, double>;

struct MixupOptions {
  CNNKIT_ARG(double, mixup_alpha) = 1.0;   // Beta(alpha, alpha) for mixup; 0: no mixup
  CNNKIT_ARG(double, cutmix_alpha) = 0.0;  // Beta(alpha, alpha) for cutmix; 0: no cutmix
  // The box's side as a uniform fraction [min, max) of the image's, instead of from lambda
  // (timm's rand_bbox_minmax); implies cutmix.
  CNNKIT_ARG(std::optional<FractionRange>, cutmix_minmax) = std::nullopt;
  CNNKIT_ARG(double, prob) = 1.0;          // probability of mixing a batch (or an element)
  CNNKIT_ARG(double, switch_prob) = 0.5;   // probability of cutmix when both are enabled
  // "batch": one lambda for the batch; "pair": one per pair (i, N - 1 - i), both mixed
  // with it (N even); "elem": one per example.
  CNNKIT_ARG(std::string, mode) = "batch";
  // Lambda recomputed from the box's area after clipping to the image (timm's correct_lam).
  CNNKIT_ARG(bool, correct_lam) = true;
  CNNKIT_ARG(double, label_smoothing) = 0.1;
  CNNKIT_ARG(int64_t, num_classes) = 0;    // 0: given per call
};

// The box (y_low, y_high, x_low, x_high), half-open, of timm's cutmix_bbox_and_lam.
using CutmixBox = std::array<int64_t, 4>;

// timm's mixup_target: lam * onehot(target) + (1 - lam) * onehot(target.flip(0)), each
// one-hot row smoothed to (1 - smoothing + smoothing / C, smoothing / C). target: (N) int64
// class indices in [0, C); lam: (N) or (N, 1) float per example, or a 0-dim/1-element one
// for the batch. Returns (N, C) float32.
Tensor mixup_target(const Tensor& target, int64_t num_classes, const Tensor& lam, double smoothing = 0.0);
Tensor mixup_target(const Tensor& target, int64_t num_classes, double lam = 1.0, double smoothing = 0.0);

// timm's cutmix_bbox_and_lam for an image of height h and width w: the box from lambda
// (side sqrt(1 - lam) of the image's, centre uniform, clipped to the image) or from
// ratio_minmax; lambda corrected to 1 - box area / image area when correct_lam (always with
// ratio_minmax).
std::pair<CutmixBox, double> cutmix_bbox_and_lam(int64_t h, int64_t w, double lam,
                                                 std::optional<std::pair<double, double>> ratio_minmax,
                                                 bool correct_lam, Generator& gen);

// Batch mode's two mixes of x (N, ...) float32 with its flip along the batch, as new
// tensors: x * lam + x.flip(0) * (1 - lam) in float32 (lam and 1 - lam each rounded to float
// once, as torch's mul_ by a Python float), and x with the box (N, C, H, W or N, H, W) of every
// image taken from its partner.
Tensor mixup_images(const Tensor& x, double lam);
Tensor cutmix_images(const Tensor& x, const CutmixBox& box);

// A draw from Beta(a, b) (a, b > 0), from two Gamma draws (Marsaglia and Tsang).
double sample_beta(Generator& gen, double a, double b);

class Mixup {
 public:
  explicit Mixup(MixupOptions options = {});
  // Mixes a batch: x (N, C, H, W) (or (N, ...) for mixup alone), target (N) int64. Returns
  // the mixed images (a new tensor; x is not written) and the (N, num_classes) float32 soft
  // targets. num_classes 0 takes options().num_classes(). ValueError for float targets,
  // labels outside [0, num_classes), an odd batch in "pair" mode, or cutmix without (H, W).
  std::pair<Tensor, Tensor> operator()(const Tensor& x, const Tensor& target, int64_t num_classes = 0,
                                       Generator* gen = nullptr) const;
  const MixupOptions& options() const { return options_; }

 private:
  MixupOptions options_;
};

}  // namespace data
}  // namespace cnnkit
