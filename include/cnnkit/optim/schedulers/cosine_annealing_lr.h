// CosineAnnealingLR (torch.optim.lr_scheduler.CosineAnnealingLR): lr follows a cosine from
// the initial lr down to eta_min over T_max epochs (and back up after, as PyTorch's
// recursive form does).
//   optim::CosineAnnealingLR sched(opt, /*T_max=*/50, /*eta_min=*/1e-5);
#pragma once

#include "cnnkit/optim/lr_scheduler.h"

namespace cnnkit {
namespace optim {

class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0);  // NOLINT: PyTorch's names

 protected:
  std::vector<double> get_lrs() override;
  std::vector<double> get_closed_form_lrs() override;

 private:
  int64_t T_max_;
  double eta_min_;
};

}  // namespace optim
}  // namespace cnnkit
