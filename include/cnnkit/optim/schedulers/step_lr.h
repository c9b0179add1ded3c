// StepLR (torch::optim::StepLR): lr *= gamma every step_size epochs.
//   optim::StepLR sched(opt, /*step_size=*/30, /*gamma=*/0.1);
#pragma once

#include "cnnkit/core/arg.h"
#include "cnnkit/optim/lr_scheduler.h"

namespace cnnkit {
namespace optim {

// StepLR's arguments as an options object (what run configs read into).
struct StepLROptions {
  StepLROptions(int64_t step_size) : step_size_(step_size) {}  // NOLINT: implicit as LibTorch's options
  CNNKIT_ARG(int64_t, step_size);
  CNNKIT_ARG(double, gamma) = 0.1;
};

class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);  // ValueError if step_size < 1
  StepLR(Optimizer& optimizer, const StepLROptions& o) : StepLR(optimizer, o.step_size(), o.gamma()) {}

 protected:
  std::vector<double> get_lrs() override;
  std::vector<double> get_closed_form_lrs() override;

 private:
  int64_t step_size_;
  double gamma_;
};

}  // namespace optim
}  // namespace cnnkit
