// CosineAnnealingLR (torch.optim.lr_scheduler.CosineAnnealingLR): lr follows a cosine from
// the initial lr down to eta_min over T_max epochs (and back up after, as PyTorch's
// recursive form does).
//   optim::CosineAnnealingLR sched(opt, /*T_max=*/50, /*eta_min=*/1e-5);
#pragma once

#include "cnnkit/core/arg.h"
#include "cnnkit/optim/lr_scheduler.h"

namespace cnnkit {
namespace optim {

// CosineAnnealingLR's arguments as an options object.
struct CosineAnnealingLROptions {
  CosineAnnealingLROptions(int64_t T_max) : T_max_(T_max) {}  // NOLINT: implicit; PyTorch's names
  CNNKIT_ARG(int64_t, T_max);
  CNNKIT_ARG(double, eta_min) = 0;
};

class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0);  // NOLINT: PyTorch's names
  CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& o)
      : CosineAnnealingLR(optimizer, o.T_max(), o.eta_min()) {}

 protected:
  std::vector<double> get_lrs() override;
  std::vector<double> get_closed_form_lrs() override;

 private:
  int64_t T_max_;
  double eta_min_;
};

}  // namespace optim
}  // namespace cnnkit
