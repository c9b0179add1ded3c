// ExponentialLR (torch.optim.lr_scheduler.ExponentialLR): lr *= gamma every epoch.
//   optim::ExponentialLR sched(opt, /*gamma=*/0.95);
#pragma once

#include "cnnkit/optim/lr_scheduler.h"

namespace cnnkit {
namespace optim {

class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  std::vector<double> get_lrs() override;
  std::vector<double> get_closed_form_lrs() override;

 private:
  double gamma_;
};

}  // namespace optim
}  // namespace cnnkit
