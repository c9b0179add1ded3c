// ReduceLROnPlateauScheduler (torch::optim::ReduceLROnPlateauScheduler, PyTorch's
// ReduceLROnPlateau): multiplies every group's lr by `factor` once the metric has not
// improved for more than `patience` steps, then waits `cooldown` steps.
//   optim::ReduceLROnPlateauScheduler sched(opt, optim::ReduceLROnPlateauScheduler::SchedulerMode::max,
//                                           /*factor=*/0.5, /*patience=*/3);
//   sched.step(val_accuracy);
// LibTorch takes factor and min_lr as float; they are widened through their shortest
// decimal form (0.1f -> 0.1), so the lrs are PyTorch's double ones.
#pragma once

#include <vector>

#include "cnnkit/core/arg.h"
#include "cnnkit/optim/optimizer.h"

namespace cnnkit {
namespace optim {

struct ReduceLROnPlateauOptions;

class ReduceLROnPlateauScheduler {
 public:
  enum SchedulerMode { min, max };
  enum ThresholdMode { rel, abs };

  // ValueError if factor >= 1 or min_lr has neither 0, 1 nor one value per group.
  ReduceLROnPlateauScheduler(Optimizer& optimizer, SchedulerMode mode = min, float factor = 0.1,
                             int patience = 10, double threshold = 1e-4, ThresholdMode threshold_mode = rel,
                             int cooldown = 0, const std::vector<float> min_lr = std::vector<float>(),
                             double eps = 1e-8, bool verbose = false);
  explicit ReduceLROnPlateauScheduler(Optimizer& optimizer, const ReduceLROnPlateauOptions& options);
  virtual ~ReduceLROnPlateauScheduler() = default;

  void step(float metric);
  std::vector<double> get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  int num_bad_epochs() const { return num_bad_epochs_; }

  // "best", "num_bad_epochs", "cooldown_counter", "last_epoch", "_last_lr.<g>".
  StateDict state_dict() const;
  void load_state_dict(const StateDict& dict);

 private:
  bool is_better(double a, double best) const;
  void reduce_lr();

  Optimizer& optimizer_;
  SchedulerMode mode_;
  double factor_;
  int patience_;
  double threshold_;
  ThresholdMode threshold_mode_;
  int cooldown_;
  std::vector<double> min_lrs_;
  double eps_;
  bool verbose_;

  double best_;
  int num_bad_epochs_ = 0;
  int cooldown_counter_ = 0;
  int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

// ReduceLROnPlateauScheduler's arguments as an options object (PyTorch's names and defaults).
struct ReduceLROnPlateauOptions {
  using Mode = ReduceLROnPlateauScheduler::SchedulerMode;
  using ThresholdMode = ReduceLROnPlateauScheduler::ThresholdMode;
  CNNKIT_ARG(Mode, mode) = ReduceLROnPlateauScheduler::min;
  CNNKIT_ARG(double, factor) = 0.1;
  CNNKIT_ARG(int64_t, patience) = 10;
  CNNKIT_ARG(double, threshold) = 1e-4;
  CNNKIT_ARG(ThresholdMode, threshold_mode) = ReduceLROnPlateauScheduler::rel;
  CNNKIT_ARG(int64_t, cooldown) = 0;
  CNNKIT_ARG(double, min_lr) = 0;
  CNNKIT_ARG(double, eps) = 1e-8;
};

inline ReduceLROnPlateauScheduler::ReduceLROnPlateauScheduler(Optimizer& optimizer, const ReduceLROnPlateauOptions& o)
    : ReduceLROnPlateauScheduler(optimizer, o.mode(), static_cast<float>(o.factor()), static_cast<int>(o.patience()),
                                 o.threshold(), o.threshold_mode(), static_cast<int>(o.cooldown()),
                                 std::vector<float>{static_cast<float>(o.min_lr())}, o.eps()) {}

}  // namespace optim
}  // namespace cnnkit
