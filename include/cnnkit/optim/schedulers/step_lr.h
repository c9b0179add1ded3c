// StepLR (torch::optim::StepLR): lr *= gamma every step_size epochs.
//   optim::StepLR sched(opt, /*step_size=*/30, /*gamma=*/0.1);
#pragma once

#include "cnnkit/optim/lr_scheduler.h"

namespace cnnkit {
namespace optim {

class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);  // ValueError if step_size < 1

 protected:
  std::vector<double> get_lrs() override;
  std::vector<double> get_closed_form_lrs() override;

 private:
  int64_t step_size_;
  double gamma_;
};

}  // namespace optim
}  // namespace cnnkit
