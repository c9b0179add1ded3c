// ConstantLR (torch.optim.lr_scheduler.ConstantLR): lr * factor for the first total_iters
// epochs, then lr.
//   optim::ConstantLR sched(opt, /*factor=*/0.5, /*total_iters=*/4);
#pragma once

#include "cnnkit/optim/lr_scheduler.h"

namespace cnnkit {
namespace optim {

class ConstantLR : public LRScheduler {
 public:
  // ValueError unless 0 <= factor <= 1 (PyTorch's message).
  ConstantLR(Optimizer& optimizer, double factor = 1.0 / 3, int64_t total_iters = 5);

 protected:
  std::vector<double> get_lrs() override;
  std::vector<double> get_closed_form_lrs() override;

 private:
  double factor_;
  int64_t total_iters_;
};

}  // namespace optim
}  // namespace cnnkit
