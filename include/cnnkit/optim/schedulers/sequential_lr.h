// SequentialLR (torch.optim.lr_scheduler.SequentialLR): runs schedulers one after another,
// switching at the milestones; each one restarts from epoch 0 when its turn comes.
//   auto warmup = std::make_shared<optim::LinearLR>(opt, 0.1, 1.0, 5);
//   auto cosine = std::make_shared<optim::CosineAnnealingLR>(opt, 95);
//   optim::SequentialLR sched(opt, {warmup, cosine}, /*milestones=*/{5});
#pragma once

#include <memory>

#include "cnnkit/optim/lr_scheduler.h"

namespace cnnkit {
namespace optim {

class SequentialLR : public LRScheduler {
 public:
  // ValueError if a scheduler drives another optimiser or milestones.size() !=
  // schedulers.size() - 1 (PyTorch's checks).
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones);
  void step() override;

 protected:
  std::vector<double> get_lrs() override { return get_current_lrs(); }
  // "_schedulers.<i>.<key>" for each wrapped scheduler, besides its own counters.
  void save_to(StateDict& dict, const std::string& prefix) const override;
  void load_from(const StateDict& dict, const std::string& prefix) override;

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

}  // namespace optim
}  // namespace cnnkit
