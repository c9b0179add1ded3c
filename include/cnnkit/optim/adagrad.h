// Adagrad with lr decay, L2 weight decay and an initial accumulator value
// (torch::optim::Adagrad; PyTorch 1.13's torch/optim/adagrad.py, dense single-tensor path).
// As in PyTorch, every parameter's state ("sum", "step") exists from construction.
//
//   optim::Adagrad opt(net->parameters(), optim::AdagradOptions(0.1).lr_decay(1e-3));
#pragma once

#include "cnnkit/optim/optimizer.h"

namespace cnnkit {
namespace optim {

struct AdagradOptions : public OptimizerCloneableOptions<AdagradOptions> {
  AdagradOptions(double lr = 1e-2);  // NOLINT: implicit as LibTorch
  CNNKIT_ARG(double, lr) = 1e-2;
  CNNKIT_ARG(double, lr_decay) = 0;
  CNNKIT_ARG(double, weight_decay) = 0;
  CNNKIT_ARG(double, initial_accumulator_value) = 0;
  CNNKIT_ARG(double, eps) = 1e-10;

 public:
  double get_lr() const override { return lr(); }
  void set_lr(double new_lr) override { lr(new_lr); }
  void save(StateDict& dict, const std::string& prefix) const override;
  void load(const StateDict& dict, const std::string& prefix) override;
};

struct AdagradParamState : public OptimizerCloneableParamState<AdagradParamState> {
  CNNKIT_ARG(Tensor, sum);
  CNNKIT_ARG(int64_t, step) = 0;

 public:
  void save(StateDict& dict, const std::string& prefix) const override;
  void load(const StateDict& dict, const std::string& prefix) override;
};

class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<OptimizerParamGroup> param_groups, AdagradOptions defaults = {});
  Adagrad(std::vector<Tensor> params, AdagradOptions defaults = {})
      : Adagrad(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, std::move(defaults)) {}

  Tensor step(LossClosure closure = nullptr) override;

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override;
};

}  // namespace optim
}  // namespace cnnkit
