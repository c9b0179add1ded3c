// ExponentialLR (torch.optim.lr_scheduler.ExponentialLR): lr *= gamma every epoch.
//   optim::ExponentialLR sched(opt, /*gamma=*/0.95);
#pragma once

#include "cnnkit/core/arg.h"
#include "cnnkit/optim/lr_scheduler.h"

namespace cnnkit {
namespace optim {

// ExponentialLR's arguments as an options object.
struct ExponentialLROptions {
  ExponentialLROptions(double gamma) : gamma_(gamma) {}  // NOLINT: implicit as LibTorch's options
  CNNKIT_ARG(double, gamma);
};

class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);
  ExponentialLR(Optimizer& optimizer, const ExponentialLROptions& o) : ExponentialLR(optimizer, o.gamma()) {}

 protected:
  std::vector<double> get_lrs() override;
  std::vector<double> get_closed_form_lrs() override;

 private:
  double gamma_;
};

}  // namespace optim
}  // namespace cnnkit
