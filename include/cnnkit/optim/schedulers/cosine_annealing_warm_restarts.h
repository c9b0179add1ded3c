// CosineAnnealingWarmRestarts (SGDR; torch.optim.lr_scheduler.CosineAnnealingWarmRestarts):
// cosine annealing that restarts at the initial lr after T_0, then T_0 * T_mult, ... epochs.
//   optim::CosineAnnealingWarmRestarts sched(opt, /*T_0=*/10, /*T_mult=*/2);
#pragma once

#include "cnnkit/core/arg.h"
#include "cnnkit/optim/lr_scheduler.h"

namespace cnnkit {
namespace optim {

// CosineAnnealingWarmRestarts's arguments as an options object.
struct CosineAnnealingWarmRestartsOptions {
  CosineAnnealingWarmRestartsOptions(int64_t T_0) : T_0_(T_0) {}  // NOLINT: implicit; PyTorch's names
  CNNKIT_ARG(int64_t, T_0);
  CNNKIT_ARG(int64_t, T_mult) = 1;
  CNNKIT_ARG(double, eta_min) = 0;
};

class CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  // ValueError unless T_0 >= 1 and T_mult >= 1.
  CosineAnnealingWarmRestarts(Optimizer& optimizer, int64_t T_0, int64_t T_mult = 1,  // NOLINT
                              double eta_min = 0);
  CosineAnnealingWarmRestarts(Optimizer& optimizer, const CosineAnnealingWarmRestartsOptions& o)
      : CosineAnnealingWarmRestarts(optimizer, o.T_0(), o.T_mult(), o.eta_min()) {}
  void step() override;

 protected:
  std::vector<double> get_lrs() override;
  void step_to(int64_t epoch) override;
  void save_to(StateDict& dict, const std::string& prefix) const override;
  void load_from(const StateDict& dict, const std::string& prefix) override;

 private:
  void apply();
  int64_t T_0_;
  int64_t T_i_;
  int64_t T_mult_;
  double eta_min_;
  double T_cur_;
};

}  // namespace optim
}  // namespace cnnkit
