// Adam with optional AMSGrad and L2 weight decay added to the gradient (torch::optim::Adam;
// the update of PyTorch 1.13's torch/optim/adam.py, single-tensor path, bias corrections
// 1 - beta^step computed in double as Python does).
//
//   optim::Adam opt(net->parameters(), optim::AdamOptions(1e-3).betas(std::make_tuple(0.9, 0.99)));
#pragma once

#include <tuple>

#include "cnnkit/optim/optimizer.h"

namespace cnnkit {
namespace optim {

struct AdamOptions : public OptimizerCloneableOptions<AdamOptions> {
  using betas_t = std::tuple<double, double>;
  AdamOptions(double lr = 1e-3);  // NOLINT: implicit as LibTorch
  CNNKIT_ARG(double, lr) = 1e-3;
  CNNKIT_ARG(betas_t, betas) = std::make_tuple(0.9, 0.999);
  CNNKIT_ARG(double, eps) = 1e-8;
  CNNKIT_ARG(double, weight_decay) = 0;
  CNNKIT_ARG(bool, amsgrad) = false;

 public:
  double get_lr() const override { return lr(); }
  void set_lr(double new_lr) override { lr(new_lr); }
  void save(StateDict& dict, const std::string& prefix) const override;
  void load(const StateDict& dict, const std::string& prefix) override;
  bool has_momentum() const override { return true; }
  double get_momentum() const override { return std::get<0>(betas()); }
  void set_momentum(double m) override { std::get<0>(betas()) = m; }
};

// "step", "exp_avg", "exp_avg_sq" and, with amsgrad, "max_exp_avg_sq". AdamW shares it.
struct AdamParamState : public OptimizerCloneableParamState<AdamParamState> {
  CNNKIT_ARG(int64_t, step) = 0;
  CNNKIT_ARG(Tensor, exp_avg);
  CNNKIT_ARG(Tensor, exp_avg_sq);
  CNNKIT_ARG(Tensor, max_exp_avg_sq);

 public:
  void save(StateDict& dict, const std::string& prefix) const override;
  void load(const StateDict& dict, const std::string& prefix) override;
};

class Adam : public Optimizer {
 public:
  // ValueError as PyTorch: "Invalid learning rate: ...", "Invalid epsilon value: ...",
  // "Invalid beta parameter at index 0: ...", "Invalid weight_decay value: ...".
  Adam(std::vector<OptimizerParamGroup> param_groups, AdamOptions defaults = {});
  Adam(std::vector<Tensor> params, AdamOptions defaults = {})
      : Adam(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, std::move(defaults)) {}

  Tensor step(LossClosure closure = nullptr) override;

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override;
};

}  // namespace optim
}  // namespace cnnkit
