// LinearWarmupLR: a linear warm-up ramped per optimisation step, then an epoch schedule that
// keeps its epoch semantics. Stepped once per optimisation step (the Trainer's
// SchedulerStep::kBatch). PyTorch has no single class for it; it is what recipes write by
// hand: SequentialLR([LinearLR(opt, start_factor, 1.0, total_iters=E * S), main],
// milestones=[E * S]) stepped per batch, with `main` stepped only once every S batches.
//
//   auto cosine = std::make_shared<optim::CosineAnnealingLR>(opt, /*T_max=*/epochs - 5);
//   optim::LinearWarmupLR sched(opt, cosine, /*start_factor=*/0.1, /*warmup_epochs=*/5,
//                               /*steps_per_epoch=*/loader.size());
//   for (epoch ...) for (batch ...) { ...; opt.step(); sched.step(); }
//
// With E = warmup_epochs and S = steps_per_epoch: over steps 0 .. E*S the lr goes linearly
// from start_factor * lr to lr (PyTorch's LinearLR over E*S iterations); at step E*S `main`
// restarts at its epoch 0 (as SequentialLR does at a milestone), and from then on it is
// stepped after every S-th step, i.e. at the epoch boundaries. So at every epoch boundary the
// lr equals PyTorch's epoch-stepped SequentialLR([LinearLR(opt, start_factor, 1.0, E), main],
// [E]): bit for bit after the warm-up, to rounding during it (the per-step ramp passes
// through the per-epoch values). `main` may be null: warm-up only, the lr stays at its
// initial value after (e.g. when ReduceLROnPlateau drives it, whose reductions compose).
#pragma once

#include <memory>

#include "cnnkit/optim/lr_scheduler.h"
#include "cnnkit/optim/schedulers/linear_lr.h"

namespace cnnkit {
namespace optim {

class LinearWarmupLR : public LRScheduler {
 public:
  // ValueError for warmup_epochs or steps_per_epoch < 1, start_factor outside (0, 1], or a
  // `main` driving another optimiser. Construct `main` first (PyTorch's order).
  LinearWarmupLR(Optimizer& optimizer, std::shared_ptr<LRScheduler> main, double start_factor,
                 int64_t warmup_epochs, int64_t steps_per_epoch);
  void step() override;  // once per optimisation step

  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int64_t warmup_steps() const { return warmup_steps_; }  // warmup_epochs * steps_per_epoch
  const std::shared_ptr<LRScheduler>& main_scheduler() const { return main_; }

 protected:
  std::vector<double> get_lrs() override { return get_current_lrs(); }
  // Its counters, "steps_per_epoch" and "warmup_steps" (checked on load: a resume with
  // another batch size would shift every epoch boundary), then "_schedulers.0.<key>" for
  // the warm-up and "_schedulers.1.<key>" for `main`, as SequentialLR nests them.
  void save_to(StateDict& dict, const std::string& prefix) const override;
  void load_from(const StateDict& dict, const std::string& prefix) override;

 private:
  std::shared_ptr<LinearLR> warmup_;
  std::shared_ptr<LRScheduler> main_;
  int64_t steps_per_epoch_;
  int64_t warmup_steps_;
};

}  // namespace optim
}  // namespace cnnkit
