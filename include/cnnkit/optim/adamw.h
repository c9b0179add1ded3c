// AdamW: Adam with decoupled weight decay, param *= 1 - lr * weight_decay before the Adam
// step (torch::optim::AdamW; PyTorch 1.13's torch/optim/adamw.py, single-tensor path).
//
//   optim::AdamW opt(net->parameters(), optim::AdamWOptions(1e-3).weight_decay(0.05));
#pragma once

#include <tuple>

#include "cnnkit/optim/adam.h"

namespace cnnkit {
namespace optim {

struct AdamWOptions : public OptimizerCloneableOptions<AdamWOptions> {
  using betas_t = std::tuple<double, double>;
  AdamWOptions(double lr = 1e-3);  // NOLINT: implicit as LibTorch
  CNNKIT_ARG(double, lr) = 1e-3;
  CNNKIT_ARG(betas_t, betas) = std::make_tuple(0.9, 0.999);
  CNNKIT_ARG(double, eps) = 1e-8;
  CNNKIT_ARG(double, weight_decay) = 1e-2;
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

using AdamWParamState = AdamParamState;

class AdamW : public Optimizer {
 public:
  AdamW(std::vector<OptimizerParamGroup> param_groups, AdamWOptions defaults = {});
  AdamW(std::vector<Tensor> params, AdamWOptions defaults = {})
      : AdamW(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, std::move(defaults)) {}

  Tensor step(LossClosure closure = nullptr) override;

 protected:
  std::unique_ptr<OptimizerParamState> make_state() const override;
};

}  // namespace optim
}  // namespace cnnkit
