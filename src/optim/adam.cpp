// Adam: PyTorch 1.13's _single_tensor_adam (and, with decoupled = true, AdamW's) as one
// fused loop per parameter over raw arrays. Bias corrections and the step size are
// computed in double as Python does, then cast to the parameter's dtype like ATen's
// scalar arguments. No `maximize`, no capturable/differentiable modes.
#include "cnnkit/optim/adam.h"

#include <cmath>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/threads.h"

namespace cnnkit {
namespace optim {

AdamOptions::AdamOptions(double lr) : lr_(lr) {}

void AdamOptions::save(StateDict& dict, const std::string& prefix) const {
  dict.scalars[prefix + "lr"] = lr();
  dict.scalars[prefix + "betas.0"] = std::get<0>(betas());
  dict.scalars[prefix + "betas.1"] = std::get<1>(betas());
  dict.scalars[prefix + "eps"] = eps();
  dict.scalars[prefix + "weight_decay"] = weight_decay();
  dict.scalars[prefix + "amsgrad"] = amsgrad() ? 1.0 : 0.0;
}

void AdamOptions::load(const StateDict& dict, const std::string& prefix) {
  lr(detail::read_scalar(dict, prefix + "lr"));
  betas(std::make_tuple(detail::read_scalar(dict, prefix + "betas.0"), detail::read_scalar(dict, prefix + "betas.1")));
  eps(detail::read_scalar(dict, prefix + "eps"));
  weight_decay(detail::read_scalar(dict, prefix + "weight_decay"));
  amsgrad(detail::read_scalar(dict, prefix + "amsgrad") != 0.0);
}

void AdamParamState::save(StateDict& dict, const std::string& prefix) const {
  dict.scalars[prefix + "step"] = static_cast<double>(step());
  if (exp_avg().defined()) dict.tensors[prefix + "exp_avg"] = exp_avg();
  if (exp_avg_sq().defined()) dict.tensors[prefix + "exp_avg_sq"] = exp_avg_sq();
  if (max_exp_avg_sq().defined()) dict.tensors[prefix + "max_exp_avg_sq"] = max_exp_avg_sq();
}

void AdamParamState::load(const StateDict& dict, const std::string& prefix) {
  step(static_cast<int64_t>(detail::read_scalar(dict, prefix + "step")));
  exp_avg(detail::read_tensor(dict, prefix + "exp_avg"));
  exp_avg_sq(detail::read_tensor(dict, prefix + "exp_avg_sq"));
  if (detail::has_tensor(dict, prefix + "max_exp_avg_sq"))
    max_exp_avg_sq(detail::read_tensor(dict, prefix + "max_exp_avg_sq"));
}

namespace detail {

namespace {

// N = number of elements; every array has N.
template <typename T>
void adam_kernel(T* __restrict param, T* __restrict exp_avg, T* __restrict exp_avg_sq, T* __restrict max_sq,
                 const T* __restrict grad, int64_t n, double lr, double beta1, double beta2, double eps,
                 double weight_decay, bool amsgrad, bool decoupled, int64_t step) {
  const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));
  const T neg_step_size = static_cast<T>(-(lr / bias_correction1));
  const T bc2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
  const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
  const T one_minus_b1 = static_cast<T>(1 - beta1), one_minus_b2 = static_cast<T>(1 - beta2);
  const T e = static_cast<T>(eps), wd = static_cast<T>(weight_decay);
  const T decay = static_cast<T>(1 - lr * weight_decay);  // AdamW's param.mul_(1 - lr * wd)
  dispatch_flags(
      [&](auto coupled_decay, auto decoupled_decay, auto ams) {
        parallel_for(n, kGrainSize, [&](int64_t b, int64_t end) {
          for (int64_t i = b; i < end; ++i) {
            T p = param[i], g = grad[i];
            if constexpr (decoupled_decay) p = p * decay;
            if constexpr (coupled_decay) g = g + wd * p;
            T m = exp_avg[i] * b1 + one_minus_b1 * g;
            T v = exp_avg_sq[i] * b2 + one_minus_b2 * g * g;
            exp_avg[i] = m;
            exp_avg_sq[i] = v;
            T denom;
            if constexpr (ams) {
              T vmax = max_sq[i] > v ? max_sq[i] : v;
              max_sq[i] = vmax;
              denom = std::sqrt(vmax) / bc2_sqrt + e;
            } else {
              denom = std::sqrt(v) / bc2_sqrt + e;
            }
            param[i] = p + neg_step_size * m / denom;
          }
        });
      },
      !decoupled && weight_decay != 0, decoupled, amsgrad);
}

}  // namespace

void adam_update(const Tensor& param, const Tensor& grad, AdamParamState& s, double lr, double beta1, double beta2,
                 double eps, double weight_decay, bool amsgrad, bool decoupled) {
  UpdateView v(param, grad, decoupled ? "AdamW" : "Adam");
  if (!s.exp_avg().defined()) {
    s.exp_avg(full_like_param(param, 0));
    s.exp_avg_sq(full_like_param(param, 0));
  }
  if (amsgrad && !s.max_exp_avg_sq().defined()) s.max_exp_avg_sq(full_like_param(param, 0));
  s.step(s.step() + 1);
  adam_kernel(v.param(), data(s.exp_avg()), data(s.exp_avg_sq()), amsgrad ? data(s.max_exp_avg_sq()) : nullptr,
              v.grad(), v.numel(), lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled, s.step());
  v.commit();
}

// PyTorch's checks, shared with AdamW.
void validate_adam(double lr, double eps, double beta1, double beta2, double weight_decay) {
  check_option(lr >= 0.0, "learning rate", lr);
  check_option(eps >= 0.0, "epsilon value", eps);
  check_option(beta1 >= 0.0 && beta1 < 1.0, "beta parameter at index 0", beta1);
  check_option(beta2 >= 0.0 && beta2 < 1.0, "beta parameter at index 1", beta2);
  check_option(weight_decay >= 0.0, "weight_decay value", weight_decay);
}

}  // namespace detail

namespace {
void validate(const AdamOptions& o) {
  detail::validate_adam(o.lr(), o.eps(), std::get<0>(o.betas()), std::get<1>(o.betas()), o.weight_decay());
}
}  // namespace

Adam::Adam(std::vector<OptimizerParamGroup> param_groups, AdamOptions defaults)
    : Optimizer(std::move(param_groups), std::make_unique<AdamOptions>(defaults)) {
  validate(defaults);
  for (const auto& group : param_groups_) validate(static_cast<const AdamOptions&>(group.options()));
}

std::unique_ptr<OptimizerParamState> Adam::make_state() const { return std::make_unique<AdamParamState>(); }

Tensor Adam::step(LossClosure closure) {
  Tensor loss = evaluate_closure(closure);
  NoGradGuard no_grad;
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const AdamOptions&>(group.options());
    for (const Tensor& p : group.params()) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      auto& slot = state_[key_of(p)];
      if (!slot) slot = std::make_unique<AdamParamState>();
      detail::adam_update(p, g, static_cast<AdamParamState&>(*slot), o.lr(), std::get<0>(o.betas()),
                          std::get<1>(o.betas()), o.eps(), o.weight_decay(), o.amsgrad(), /*decoupled=*/false);
    }
  }
  return loss;
}

}  // namespace optim
}  // namespace cnnkit
