// torch.optim.swa_utils: weight averaging. AveragedModel keeps a running average of a
// model's weights: SWA's equal average by default, or any avg_fn, such as the exponential
// moving average (EMA) that timm's recipes evaluate; SWALR anneals each group's lr to a
// constant SWA lr; update_bn recomputes BatchNorm statistics for averaged weights.
//
//   optim::swa_utils::AveragedModel swa(nn::AnyModule(net));                       // SWA
//   optim::swa_utils::SWALR swa_sched(opt, /*swa_lr=*/0.05);
//   for (int epoch = 0; epoch < 300; ++epoch) {
//     ... train one epoch ...
//     if (epoch > 160) { swa->update_parameters(*net); swa_sched.step(); } else { sched.step(); }
//   }
//   optim::swa_utils::update_bn(loader, swa);
//
//   optim::swa_utils::AveragedModel ema(nn::AnyModule(net),                         // EMA
//                                       optim::swa_utils::ema_avg_fn(0.999), /*use_buffers=*/true);
//   ... after every optimizer.step(): ema->update_parameters(*net);
//
// PyTorch 1.13's semantics (checked against its trajectories by tests/golden): the first
// update copies the model; each later one sets every averaged tensor to avg_fn(averaged,
// current, n_averaged) and then counts it; with use_buffers the buffers (BatchNorm's running
// statistics) are averaged as well, else they stay as copied at construction (update_bn
// then recomputes them). An integer buffer (num_batches_tracked) is averaged in float and
// truncated, as torch's copy_ does. The state dict is PyTorch's: "module.<key>" and
// "n_averaged".
// The namespace is PyTorch's (optim::swa_utils); the header lives in the train layer, since
// an averaged model is an nn::Module and update_bn reads a data::DataLoader.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/module.h"
#include "cnnkit/nn/modules/container/any.h"
#include "cnnkit/nn/pimpl.h"
#include "cnnkit/optim/lr_scheduler.h"

namespace cnnkit::data {
class DataLoader;
}

namespace cnnkit::optim::swa_utils {

// avg_fn(averaged, current, num_averaged) -> the new averaged value (a new tensor).
using AvgFn = std::function<Tensor(const Tensor& averaged, const Tensor& current, int64_t num_averaged)>;

// SWA's equal average: averaged + (current - averaged) / (num_averaged + 1).
AvgFn swa_avg_fn();
// The exponential moving average decay * averaged + (1 - decay) * current. With warmup the
// decay of the update that follows n averaged models is min(decay, (1 + n) / (10 + n)), as
// in timm's ModelEmaV2 and TensorFlow's ExponentialMovingAverage(num_updates), so the first
// steps' random weights fade quickly. ValueError unless 0 <= decay <= 1.
AvgFn ema_avg_fn(double decay, bool warmup = false);

class AveragedModelImpl : public nn::Module {
 public:
  // Deep-copies `model` (its clone()). avg_fn null: swa_avg_fn().
  explicit AveragedModelImpl(const nn::AnyModule& model, AvgFn avg_fn = nullptr, bool use_buffers = false);

  Tensor forward(const Tensor& input) { return module_.forward(input); }
  // Averages `model`'s current weights in (see the file comment). ValueError when `model`
  // does not have the averaged copy's parameters (and buffers) with the same shapes.
  void update_parameters(const nn::Module& model);

  nn::AnyModule& module() { return module_; }
  int64_t n_averaged() const;
  bool use_buffers() const { return use_buffers_; }

 private:
  nn::AnyModule module_;
  Tensor n_averaged_;
  AvgFn avg_fn_;
  bool use_buffers_;
};
CNNKIT_MODULE(AveragedModel);

// torch.optim.swa_utils.SWALR: from each group's lr at construction, the lr anneals to
// swa_lr over anneal_epochs steps ("cos" or "linear") and then stays there.
// ValueError on anneal_epochs < 0, another strategy, or a list of swa_lrs whose length is
// not the number of parameter groups (PyTorch's messages).
class SWALR : public LRScheduler {
 public:
  SWALR(Optimizer& optimizer, double swa_lr, int64_t anneal_epochs = 10, const std::string& anneal_strategy = "cos");
  // One swa_lr per parameter group.
  SWALR(Optimizer& optimizer, std::vector<double> swa_lrs, int64_t anneal_epochs = 10,
        const std::string& anneal_strategy = "cos");

 protected:
  std::vector<double> get_lrs() override;

 private:
  double anneal(double t) const;
  std::vector<double> swa_lrs_;
  int64_t anneal_epochs_;
  bool cos_;
};

// torch.optim.swa_utils.update_bn: one pass over `loader` in training mode without autograd
// that recomputes every BatchNorm's running_mean and running_var as the cumulative average
// over the batches (momentum None for the pass). The modules' momenta and the model's
// training flag are restored after, also when the pass throws. A model without BatchNorm is
// left untouched. update_bn(loader, swa) with an AveragedModel updates its averaged copy.
void update_bn(data::DataLoader& loader, nn::AnyModule model);
template <typename ModuleType>
void update_bn(data::DataLoader& loader, const nn::ModuleHolder<ModuleType>& model) {
  update_bn(loader, nn::AnyModule(model));
}

}  // namespace cnnkit::optim::swa_utils
