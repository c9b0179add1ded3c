// OneCycleLR (torch.optim.lr_scheduler.OneCycleLR): the 1cycle policy, stepped once per
// batch. lr warms from max_lr / div_factor to max_lr over pct_start of total_steps, then
// anneals to initial_lr / final_div_factor (three_phase: back to initial_lr first). With
// cycle_momentum, momentum (SGD, RMSprop) or betas.0 (Adam, AdamW) moves inversely between
// max_momentum and base_momentum. Arguments in this order (PyTorch's total_steps form;
// epochs * steps_per_epoch is the caller's multiplication):
//   optim::OneCycleLR sched(opt, /*max_lr=*/0.1, /*total_steps=*/epochs * batches);
//   optim::OneCycleLR sched(opt, 0.1, 1000, /*pct_start=*/0.25, "linear", /*div_factor=*/10.0);
#pragma once

#include <string>

#include "cnnkit/core/arg.h"
#include "cnnkit/optim/lr_scheduler.h"

namespace cnnkit {
namespace optim {

// OneCycleLR's arguments as an options object.
struct OneCycleLROptions {
  OneCycleLROptions(double max_lr, int64_t total_steps) : max_lr_(max_lr), total_steps_(total_steps) {}
  CNNKIT_ARG(double, max_lr);
  CNNKIT_ARG(int64_t, total_steps);
  CNNKIT_ARG(double, pct_start) = 0.3;
  CNNKIT_ARG(std::string, anneal_strategy) = "cos";
  CNNKIT_ARG(double, div_factor) = 25.0;
  CNNKIT_ARG(double, final_div_factor) = 1e4;
  CNNKIT_ARG(bool, three_phase) = false;
  CNNKIT_ARG(bool, cycle_momentum) = true;
  CNNKIT_ARG(double, base_momentum) = 0.85;
  CNNKIT_ARG(double, max_momentum) = 0.95;
};

class OneCycleLR : public LRScheduler {
 public:
  // ValueError as PyTorch for total_steps < 1, pct_start outside [0, 1], an unknown
  // anneal_strategy ("cos" or "linear"), cycle_momentum on an optimiser without momentum.
  OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, double pct_start = 0.3,
             const std::string& anneal_strategy = "cos", double div_factor = 25.0,
             double final_div_factor = 1e4, bool three_phase = false, bool cycle_momentum = true,
             double base_momentum = 0.85, double max_momentum = 0.95);
  OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& o)
      : OneCycleLR(optimizer, o.max_lr(), o.total_steps(), o.pct_start(), o.anneal_strategy(), o.div_factor(),
                   o.final_div_factor(), o.three_phase(), o.cycle_momentum(), o.base_momentum(), o.max_momentum()) {}
  // One max_lr per parameter group.
  OneCycleLR(Optimizer& optimizer, std::vector<double> max_lrs, int64_t total_steps,
             double pct_start = 0.3, const std::string& anneal_strategy = "cos",
             double div_factor = 25.0, double final_div_factor = 1e4, bool three_phase = false,
             bool cycle_momentum = true, double base_momentum = 0.85, double max_momentum = 0.95);

  // ValueError "Tried to step N times. The specified number of total steps is T" past the end.
  void step() override;
  int64_t total_steps() const { return total_steps_; }

 protected:
  std::vector<double> get_lrs() override;

 private:
  enum Anchor { kInitialLr, kMaxLr, kMinLr, kMaxMomentum, kBaseMomentum };
  struct Phase {
    double end_step;
    Anchor start_lr, end_lr, start_momentum, end_momentum;
  };
  double anchor(size_t group, Anchor a) const;
  double anneal(double start, double end, double pct) const;

  int64_t total_steps_;
  bool cos_;
  bool cycle_momentum_;
  std::vector<Phase> phases_;
  std::vector<double> initial_lrs_, max_lrs_, min_lrs_, max_momentums_, base_momentums_;
};

}  // namespace optim
}  // namespace cnnkit
