// RMSprop, optionally centered and with momentum (torch::optim::RMSprop; PyTorch 1.13's
// torch/optim/rmsprop.py, single-tensor path).
//
//   optim::RMSprop opt(net->parameters(), optim::RMSpropOptions(1e-3).momentum(0.9).centered(true));
#pragma once

#include "cnnkit/optim/optimizer.h"

namespace cnnkit {
namespace optim {

struct RMSpropOptions : public OptimizerCloneableOptions<RMSpropOptions> {
  RMSpropOptions(double lr = 1e-2);  // NOLINT: implicit as LibTorch
  CNNKIT_ARG(double, lr) = 1e-2;
  CNNKIT_ARG(double, alpha) = 0.99;
  CNNKIT_ARG(double, eps) = 1e-8;
  CNNKIT_ARG(double, weight_decay) = 0;
  CNNKIT_ARG(double, momentum) = 0;
  CNNKIT_ARG(bool, centered) = false;

 public:
  double get_lr() const override { return lr(); }
  void set_lr(double new_lr) override { lr(new_lr); }
  void save(StateDict& dict, const std::string& prefix) const override;
  void load(const StateDict& dict, const std::string& prefix) override;
  bool has_momentum() const override { return true; }
  double get_momentum() const override { return momentum(); }
  void set_momentum(double m) override { momentum(m); }
};

// "step", "square_avg"; "momentum_buffer" when momentum > 0; "grad_avg" when centered.
struct RMSpropParamState : public OptimizerCloneableParamState<RMSpropParamState> {
  CNNKIT_ARG(int64_t, step) = 0;
  CNNKIT_ARG(Tensor, square_avg);
  CNNKIT_ARG(Tensor, momentum_buffer);
  CNNKIT_ARG(Tensor, grad_avg);

 public:
  void save(StateDict& dict, const std::string& prefix) const override;
  void load(const StateDict& dict, const std::string& prefix) override;
};

class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<OptimizerParamGroup> param_groups, RMSpropOptions defaults = {});
  RMSprop(std::vector<Tensor> params, RMSpropOptions defaults = {})
      : RMSprop(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, std::move(defaults)) {}

  Tensor step(LossClosure closure = nullptr) override;

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override;
};

}  // namespace optim
}  // namespace cnnkit
