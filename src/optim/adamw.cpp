// AdamW: the Adam loop of adam.cpp with decoupled weight decay (PyTorch 1.13's
// _single_tensor_adamw: param.mul_(1 - lr * weight_decay), then Adam without L2 term).
#include "cnnkit/optim/adamw.h"

#include "cnnkit/autograd/grad_mode.h"

namespace cnnkit {
namespace optim {

AdamWOptions::AdamWOptions(double lr) : lr_(lr) {}

void AdamWOptions::save(StateDict& dict, const std::string& prefix) const {
  dict.scalars[prefix + "lr"] = lr();
  dict.scalars[prefix + "betas.0"] = std::get<0>(betas());
  dict.scalars[prefix + "betas.1"] = std::get<1>(betas());
  dict.scalars[prefix + "eps"] = eps();
  dict.scalars[prefix + "weight_decay"] = weight_decay();
  dict.scalars[prefix + "amsgrad"] = amsgrad() ? 1.0 : 0.0;
}

void AdamWOptions::load(const StateDict& dict, const std::string& prefix) {
  lr(detail::read_scalar(dict, prefix + "lr"));
  betas(std::make_tuple(detail::read_scalar(dict, prefix + "betas.0"), detail::read_scalar(dict, prefix + "betas.1")));
  eps(detail::read_scalar(dict, prefix + "eps"));
  weight_decay(detail::read_scalar(dict, prefix + "weight_decay"));
  amsgrad(detail::read_scalar(dict, prefix + "amsgrad") != 0.0);
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
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const AdamWOptions&>(group.options());
    for (const Tensor& p : group.params()) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      auto& slot = state_[key_of(p)];
      if (!slot) slot = std::make_unique<AdamParamState>();
      detail::adam_update(p, g, static_cast<AdamParamState&>(*slot), o.lr(), std::get<0>(o.betas()),
                          std::get<1>(o.betas()), o.eps(), o.weight_decay(), o.amsgrad(), /*decoupled=*/true);
    }
  }
  return loss;
}

}  // namespace optim
}  // namespace cnnkit
