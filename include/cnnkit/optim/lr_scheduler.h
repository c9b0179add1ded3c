// Learning-rate schedulers over an Optimizer's parameter groups. LibTorch's classes keep
// LibTorch's names and signatures (StepLR, ReduceLROnPlateauScheduler); the ones LibTorch
// lacks take PyTorch's Python names and arguments (CosineAnnealingLR(opt, T_max), OneCycleLR,
// ...). Every formula is PyTorch 1.13's chainable one (torch/optim/lr_scheduler.py), in
// double, so the lr sequence matches PyTorch's to rounding.
//
//   optim::SGD opt(net->parameters(), optim::SGDOptions(0.1).momentum(0.9));
//   optim::CosineAnnealingLR sched(opt, /*T_max=*/50);
//   for (epoch ...) { train_one_epoch(); sched.step(); }
//   optim::ReduceLROnPlateauScheduler plateau(opt, ...);  plateau.step(val_loss);
//
// As in PyTorch (and unlike LibTorch's StepLR), constructing a scheduler performs the
// initial step (last_epoch 0: e.g. LinearLR's start factor is applied) and step() advances
// one epoch (or one batch for OneCycleLR). The first scheduler attached records each
// group's initial_lr (PyTorch's group['initial_lr']); later ones start from it too.
// Beyond PyTorch: LinearWarmupLR (a per-step warm-up before an epoch schedule).
// Not here: LambdaLR/MultiplicativeLR, CyclicLR, ChainedScheduler, step(epoch) for users.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "cnnkit/optim/optimizer.h"

namespace cnnkit {
namespace optim {

class SequentialLR;
class LinearWarmupLR;

// Base of every epoch-driven scheduler. Implementations compute the next lrs from
// last_epoch_ and the current lrs (PyTorch's chainable get_lr).
class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  virtual void step();
  std::vector<double> get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  Optimizer& optimizer() const { return optimizer_; }

  // PyTorch's names: "last_epoch", "_step_count", "base_lrs.<g>", "_last_lr.<g>" and the
  // scheduler's own counters. Loading checks the group count (ValueError naming the key)
  // and does not touch the optimiser: restore its state dict too (it holds the lrs).
  virtual StateDict state_dict() const;
  virtual void load_state_dict(const StateDict& dict);

 protected:
  virtual std::vector<double> get_lrs() = 0;
  // The lrs at last_epoch_ from base_lrs_ alone (PyTorch's _get_closed_form_lr); used when
  // SequentialLR restarts a scheduler at a milestone. Defaults to get_lrs().
  virtual std::vector<double> get_closed_form_lrs() { return get_lrs(); }
  // PyTorch's step(epoch): jump to `epoch`, closed form where the scheduler has one.
  virtual void step_to(int64_t epoch);
  // PyTorch's _initial_step(): every derived constructor ends with it.
  void initial_step();

  std::vector<double> get_current_lrs() const;
  void set_optimizer_lrs(const std::vector<double>& lrs);
  // Writes/reads the scheduler's own scalars under `prefix` (SequentialLR nests them).
  virtual void save_to(StateDict& dict, const std::string& prefix) const;
  virtual void load_from(const StateDict& dict, const std::string& prefix);

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;  // PyTorch's _step_count (CosineAnnealingLR reads it)

  friend class SequentialLR;
  friend class LinearWarmupLR;
class LinearWarmupLR;
};

}  // namespace optim
}  // namespace cnnkit

#include "cnnkit/optim/schedulers/constant_lr.h"
#include "cnnkit/optim/schedulers/cosine_annealing_lr.h"
#include "cnnkit/optim/schedulers/cosine_annealing_warm_restarts.h"
#include "cnnkit/optim/schedulers/exponential_lr.h"
#include "cnnkit/optim/schedulers/linear_lr.h"
#include "cnnkit/optim/schedulers/linear_warmup_lr.h"
#include "cnnkit/optim/schedulers/multi_step_lr.h"
#include "cnnkit/optim/schedulers/one_cycle_lr.h"
#include "cnnkit/optim/schedulers/reduce_on_plateau_scheduler.h"
#include "cnnkit/optim/schedulers/sequential_lr.h"
#include "cnnkit/optim/schedulers/step_lr.h"
