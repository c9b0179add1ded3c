// SGD with momentum, dampening, Nesterov and L2 weight decay (torch::optim::SGD; the update
// of PyTorch 1.13's torch/optim/sgd.py, single-tensor path). The first step's momentum
// buffer is the gradient itself (no dampening), as in PyTorch.
//
//   optim::SGD opt(net->parameters(), optim::SGDOptions(0.01).momentum(0.9).nesterov(true));
#pragma once

#include "cnnkit/optim/optimizer.h"

namespace cnnkit {
namespace optim {

struct SGDOptions : public OptimizerCloneableOptions<SGDOptions> {
  SGDOptions(double lr);  // NOLINT: implicit as LibTorch
  CNNKIT_ARG(double, lr);
  CNNKIT_ARG(double, momentum) = 0;
  CNNKIT_ARG(double, dampening) = 0;
  CNNKIT_ARG(double, weight_decay) = 0;
  CNNKIT_ARG(bool, nesterov) = false;

 public:
  double get_lr() const override { return lr(); }
  void set_lr(double new_lr) override { lr(new_lr); }
  void save(StateDict& dict, const std::string& prefix) const override;
  void load(const StateDict& dict, const std::string& prefix) override;
  bool has_momentum() const override { return true; }
  double get_momentum() const override { return momentum(); }
  void set_momentum(double m) override { momentum(m); }
};

// "momentum_buffer": absent until the first step with momentum != 0.
struct SGDParamState : public OptimizerCloneableParamState<SGDParamState> {
  CNNKIT_ARG(Tensor, momentum_buffer);

 public:
  void save(StateDict& dict, const std::string& prefix) const override;
  void load(const StateDict& dict, const std::string& prefix) override;
};

class SGD : public Optimizer {
 public:
  // ValueError as PyTorch: "Invalid learning rate: -1", "Invalid momentum value: ...",
  // "Invalid weight_decay value: ...", "Nesterov momentum requires a momentum and zero dampening".
  SGD(std::vector<OptimizerParamGroup> param_groups, SGDOptions defaults);
  SGD(std::vector<Tensor> params, SGDOptions defaults)
      : SGD(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, std::move(defaults)) {}

  Tensor step(LossClosure closure = nullptr) override;

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override;
};

}  // namespace optim
}  // namespace cnnkit
