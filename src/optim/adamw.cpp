// AdamW: the Adam loop of adam.cpp with decoupled weight decay (PyTorch 1.13's
// _single_tensor_adamw: param.mul_(1 - lr * weight_decay), then Adam without L2 term).
#include "cnnkit/optim/adamw.h"

#include "cnnkit/autograd/grad_mode.h"
#include "optim/optim_internal.h"

namespace cnnkit {
namespace optim {

AdamWOptions::AdamWOptions(double lr) : lr_(lr) {}

void AdamWOptions::save(StateDict& dict, const std::string& prefix) const {
  detail::save_adam_options(*this, dict, prefix);
}

void AdamWOptions::load(const StateDict& dict, const std::string& prefix) {
  detail::load_adam_options(*this, dict, prefix);
}

namespace {
void validate(const AdamWOptions& o) {
  detail::validate_adam(o.lr(), o.eps(), std::get<0>(o.betas()), std::get<1>(o.betas()), o.weight_decay());
}
}  // namespace

AdamW::AdamW(std::vector<OptimizerParamGroup> param_groups, AdamWOptions defaults)
    : Optimizer(std::move(param_groups), std::make_unique<AdamWOptions>(defaults)) {
  validate(defaults);
  for (const auto& group : param_groups_) validate(static_cast<const AdamWOptions&>(group.options()));
}

std::unique_ptr<OptimizerParamState> AdamW::make_state() const { return std::make_unique<AdamParamState>(); }

Tensor AdamW::step(LossClosure closure) {
  Tensor loss = evaluate_closure(closure);
  NoGradGuard no_grad;
  detail::adam_step<AdamWOptions>(param_groups_, state_, /*decoupled=*/true);
  return loss;
}

}  // namespace optim
}  // namespace cnnkit
