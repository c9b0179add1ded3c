// MultiStepLR (torch.optim.lr_scheduler.MultiStepLR): lr *= gamma at each milestone epoch
// (a milestone listed twice multiplies by gamma twice, as PyTorch's Counter does).
//   optim::MultiStepLR sched(opt, /*milestones=*/{30, 80}, /*gamma=*/0.1);
#pragma once

#include "cnnkit/core/arg.h"
#include "cnnkit/optim/lr_scheduler.h"

namespace cnnkit {
namespace optim {

// MultiStepLR's arguments as an options object.
struct MultiStepLROptions {
  MultiStepLROptions(std::vector<int64_t> milestones) : milestones_(std::move(milestones)) {}  // NOLINT
  CNNKIT_ARG(std::vector<int64_t>, milestones);
  CNNKIT_ARG(double, gamma) = 0.1;
};

class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);
  MultiStepLR(Optimizer& optimizer, const MultiStepLROptions& o) : MultiStepLR(optimizer, o.milestones(), o.gamma()) {}

 protected:
  std::vector<double> get_lrs() override;
  std::vector<double> get_closed_form_lrs() override;

 private:
  std::vector<int64_t> milestones_;  // sorted
  double gamma_;
};

}  // namespace optim
}  // namespace cnnkit
