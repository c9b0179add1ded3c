// Adam: PyTorch 1.13's _single_tensor_adam (and, with decoupled = true, AdamW's) as one
// fused loop per parameter over raw arrays. Bias corrections and the step size are
// computed in double as Python does, then cast to the parameter's dtype like ATen's
// scalar arguments. No `maximize`, no capturable/differentiable modes.
#include "cnnkit/optim/adam.h"

#include <algorithm>
#include <cmath>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/optim/adamw.h"
#include "optim/optim_internal.h"

namespace cnnkit {
namespace optim {

AdamOptions::AdamOptions(double lr) : lr_(lr) {}

void AdamOptions::save(StateDict& dict, const std::string& prefix) const {
  detail::save_adam_options(*this, dict, prefix);
}

void AdamOptions::load(const StateDict& dict, const std::string& prefix) {
  detail::load_adam_options(*this, dict, prefix);
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

struct AdamScalars {
  float neg_step_size, bc2_sqrt, b1, b2, one_minus_b1, one_minus_b2, eps, wd, decay;
};

// Elements [begin, end) of one parameter. Per tile: the moments, then the roots, then the
// parameters (two vectorised passes over data that stays in L1). A function of its own, not
// a lambda, so that the scalars are locals and `restrict` holds: GCC vectorises it then.
template <bool kCoupledDecay, bool kDecoupledDecay, bool kAmsgrad>
void adam_chunk(float* __restrict param, float* __restrict exp_avg, float* __restrict exp_avg_sq,
                float* __restrict max_sq, const float* __restrict grad, int64_t begin, int64_t end, AdamScalars c) {
  float root[kTile];
  for (int64_t t = begin; t < end; t += kTile) {
    const int64_t len = std::min(kTile, end - t);
    float* __restrict p = param + t;
    float* __restrict m = exp_avg + t;
    float* __restrict v = exp_avg_sq + t;
    const float* __restrict g = grad + t;
    for (int64_t i = 0; i < len; ++i) {
      float gi = g[i];
      if constexpr (kDecoupledDecay) p[i] = p[i] * c.decay;  // AdamW: param.mul_(1 - lr * wd) first
      if constexpr (kCoupledDecay) gi = gi + c.wd * p[i];
      m[i] = m[i] * c.b1 + c.one_minus_b1 * gi;
      float vi = v[i] * c.b2 + c.one_minus_b2 * gi * gi;
      v[i] = vi;
      if constexpr (kAmsgrad) {
        vi = max_sq[t + i] > vi ? max_sq[t + i] : vi;
        max_sq[t + i] = vi;
      }
      root[i] = vi;
    }
    sqrt_(root, len);
    for (int64_t i = 0; i < len; ++i) p[i] = p[i] + c.neg_step_size * m[i] / (root[i] / c.bc2_sqrt + c.eps);
  }
}

// N = number of elements; every array has N.
void adam_kernel(float* param, float* exp_avg, float* exp_avg_sq, float* max_sq, const float* grad, int64_t n,
                 double lr, double beta1, double beta2, double eps, double weight_decay, bool amsgrad, bool decoupled,
                 int64_t step) {
  const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));
  AdamScalars c;
  c.neg_step_size = static_cast<float>(-(lr / bias_correction1));
  c.bc2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  c.b1 = static_cast<float>(beta1);
  c.b2 = static_cast<float>(beta2);
  c.one_minus_b1 = static_cast<float>(1 - beta1);
  c.one_minus_b2 = static_cast<float>(1 - beta2);
  c.eps = static_cast<float>(eps);
  c.wd = static_cast<float>(weight_decay);
  c.decay = static_cast<float>(1 - lr * weight_decay);
  dispatch_flags(
      [&](auto coupled_decay, auto decoupled_decay, auto ams) {
        parallel_for(n, kGrainSize, [&](int64_t begin, int64_t end) {
          adam_chunk<coupled_decay, decoupled_decay, ams>(param, exp_avg, exp_avg_sq, max_sq, grad, begin, end, c);
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

template <class Options>
void save_adam_options(const Options& o, StateDict& dict, const std::string& prefix) {
  dict.scalars[prefix + "lr"] = o.lr();
  dict.scalars[prefix + "betas.0"] = std::get<0>(o.betas());
  dict.scalars[prefix + "betas.1"] = std::get<1>(o.betas());
  dict.scalars[prefix + "eps"] = o.eps();
  dict.scalars[prefix + "weight_decay"] = o.weight_decay();
  dict.scalars[prefix + "amsgrad"] = o.amsgrad() ? 1.0 : 0.0;
}

template <class Options>
void load_adam_options(Options& o, const StateDict& dict, const std::string& prefix) {
  o.lr(read_scalar(dict, prefix + "lr"));
  o.betas(std::make_tuple(read_scalar(dict, prefix + "betas.0"), read_scalar(dict, prefix + "betas.1")));
  o.eps(read_scalar(dict, prefix + "eps"));
  o.weight_decay(read_scalar(dict, prefix + "weight_decay"));
  o.amsgrad(read_scalar(dict, prefix + "amsgrad") != 0.0);
}

template <class Options>
void adam_step(std::vector<OptimizerParamGroup>& groups,
               std::map<const void*, std::unique_ptr<OptimizerParamState>>& state, bool decoupled) {
  for (auto& group : groups) {
    const auto& o = static_cast<const Options&>(group.options());
    for (const Tensor& p : group.params()) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      auto& slot = state[p.unsafeGetTensorImpl()];
      if (!slot) slot = std::make_unique<AdamParamState>();
      adam_update(p, g, static_cast<AdamParamState&>(*slot), o.lr(), std::get<0>(o.betas()), std::get<1>(o.betas()),
                  o.eps(), o.weight_decay(), o.amsgrad(), decoupled);
    }
  }
}

template void save_adam_options(const AdamOptions&, StateDict&, const std::string&);
template void save_adam_options(const AdamWOptions&, StateDict&, const std::string&);
template void load_adam_options(AdamOptions&, const StateDict&, const std::string&);
template void load_adam_options(AdamWOptions&, const StateDict&, const std::string&);
template void adam_step<AdamOptions>(std::vector<OptimizerParamGroup>&,
                                     std::map<const void*, std::unique_ptr<OptimizerParamState>>&, bool);
template void adam_step<AdamWOptions>(std::vector<OptimizerParamGroup>&,
                                      std::map<const void*, std::unique_ptr<OptimizerParamState>>&, bool);

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
  detail::adam_step<AdamOptions>(param_groups_, state_, /*decoupled=*/false);
  return loss;
}

}  // namespace optim
}  // namespace cnnkit
