// LinearLR (torch.optim.lr_scheduler.LinearLR): the factor on lr moves linearly from
// start_factor to end_factor over total_iters epochs (a warm-up, usually).
//   optim::LinearLR warmup(opt, /*start_factor=*/0.1, /*end_factor=*/1.0, /*total_iters=*/5);
#pragma once

#include "cnnkit/core/arg.h"
#include "cnnkit/optim/lr_scheduler.h"

namespace cnnkit {
namespace optim {

// LinearLR's arguments as an options object.
struct LinearLROptions {
  CNNKIT_ARG(double, start_factor) = 1.0 / 3;
  CNNKIT_ARG(double, end_factor) = 1.0;
  CNNKIT_ARG(int64_t, total_iters) = 5;
};

class LinearLR : public LRScheduler {
 public:
  // ValueError unless both factors are in [0, 1] (PyTorch's messages).
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0,
           int64_t total_iters = 5);
  LinearLR(Optimizer& optimizer, const LinearLROptions& o)
      : LinearLR(optimizer, o.start_factor(), o.end_factor(), o.total_iters()) {}

 protected:
  std::vector<double> get_lrs() override;
  std::vector<double> get_closed_form_lrs() override;

 private:
  double start_factor_;
  double end_factor_;
  int64_t total_iters_;
};

}  // namespace optim
}  // namespace cnnkit
