// Learning-rate schedulers over an Optimizer's parameter groups. LibTorch's classes keep
// LibTorch's names and signatures (StepLR, ReduceLROnPlateauScheduler); the ones LibTorch
// lacks take PyTorch's Python names and arguments (CosineAnnealingLR(opt, T_max), OneCycleLR,
// ...). Every formula is PyTorch's (torch/optim/lr_scheduler.py), so the lr sequence matches.
//
//   optim::SGD opt(net->parameters(), optim::SGDOptions(0.1).momentum(0.9));
//   optim::CosineAnnealingLR sched(opt, /*T_max=*/50);
//   for (epoch ...) { train_one_epoch(); sched.step(); }
//   optim::ReduceLROnPlateauScheduler plateau(opt, ...);  plateau.step(val_loss);
//
// As in PyTorch, constructing a scheduler sets the initial lr (e.g. LinearLR's start
// factor) and step() advances one epoch (or one batch for OneCycleLR).
#pragma once

#include <memory>
#include <vector>

#include "cnnkit/optim/optimizer.h"

namespace cnnkit {
namespace optim {

// Base of every epoch-driven scheduler. Implementations compute the next lrs from
// last_epoch_ and the current lrs (PyTorch's chainable get_lr).
class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;

  virtual void step();
  std::vector<double> get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }

  // "last_epoch", "base_lrs.<g>", "last_lr.<g>" and the scheduler's own counters.
  virtual StateDict state_dict() const;
  virtual void load_state_dict(const StateDict& dict);

 protected:
  virtual std::vector<double> get_lrs() = 0;
  std::vector<double> get_current_lrs() const;
  void set_optimizer_lrs(const std::vector<double>& lrs);

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
  int64_t last_epoch_ = -1;
};

}  // namespace optim
}  // namespace cnnkit
