// Adagrad: PyTorch 1.13's _single_tensor_adagrad (dense gradients) as one fused loop per
// parameter over raw arrays. The decayed lr clr = lr / (1 + (step - 1) * lr_decay) is
// computed in double as Python does. No sparse gradients, no `maximize`.
#include "cnnkit/optim/adagrad.h"

#include <algorithm>
#include <cmath>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/threads.h"
#include "optim/optim_internal.h"

namespace cnnkit {
namespace optim {

AdagradOptions::AdagradOptions(double lr) : lr_(lr) {}

void AdagradOptions::save(StateDict& dict, const std::string& prefix) const {
  dict.scalars[prefix + "lr"] = lr();
  dict.scalars[prefix + "lr_decay"] = lr_decay();
  dict.scalars[prefix + "weight_decay"] = weight_decay();
  dict.scalars[prefix + "initial_accumulator_value"] = initial_accumulator_value();
  dict.scalars[prefix + "eps"] = eps();
}

void AdagradOptions::load(const StateDict& dict, const std::string& prefix) {
  lr(detail::read_scalar(dict, prefix + "lr"));
  lr_decay(detail::read_scalar(dict, prefix + "lr_decay"));
  weight_decay(detail::read_scalar(dict, prefix + "weight_decay"));
  initial_accumulator_value(detail::read_scalar(dict, prefix + "initial_accumulator_value"));
  eps(detail::read_scalar(dict, prefix + "eps"));
}

void AdagradParamState::save(StateDict& dict, const std::string& prefix) const {
  dict.scalars[prefix + "step"] = static_cast<double>(step());
  if (sum().defined()) dict.tensors[prefix + "sum"] = sum();
}

void AdagradParamState::load(const StateDict& dict, const std::string& prefix) {
  step(static_cast<int64_t>(detail::read_scalar(dict, prefix + "step")));
  sum(detail::read_tensor(dict, prefix + "sum"));
}

namespace {

void validate(const AdagradOptions& o) {
  detail::check_option(o.lr() >= 0.0, "learning rate", o.lr());
  detail::check_option(o.lr_decay() >= 0.0, "lr_decay value", o.lr_decay());
  detail::check_option(o.weight_decay() >= 0.0, "weight_decay value", o.weight_decay());
  detail::check_option(o.initial_accumulator_value() >= 0.0, "initial_accumulator_value value",
                       o.initial_accumulator_value());
  detail::check_option(o.eps() >= 0.0, "epsilon value", o.eps());
}

// Elements [begin, end) of one parameter. Per tile: the sums, their roots, the update. A
// function of its own so the scalars are locals and `restrict` holds (GCC vectorises it).
template <bool kDecay>
void adagrad_chunk(float* __restrict param, float* __restrict sum, const float* __restrict grad, int64_t begin,
                   int64_t end, float neg_clr, float wd, float eps) {
  float root[detail::kTile];
  for (int64_t t = begin; t < end; t += detail::kTile) {
    const int64_t len = std::min(detail::kTile, end - t);
    float* __restrict p = param + t;
    float* __restrict s = sum + t;
    const float* __restrict g = grad + t;
    for (int64_t i = 0; i < len; ++i) {
      float gi = g[i];
      if constexpr (kDecay) gi = gi + wd * p[i];
      const float si = s[i] + gi * gi;  // state_sum.addcmul_(grad, grad, value=1)
      s[i] = si;
      root[i] = si;
    }
    detail::sqrt_(root, len);
    for (int64_t i = 0; i < len; ++i) {
      float gi = g[i];
      if constexpr (kDecay) gi = gi + wd * p[i];
      p[i] = p[i] + neg_clr * gi / (root[i] + eps);
    }
  }
}

// N = number of elements; every array has N.
void adagrad_update(float* param, float* sum, const float* grad, int64_t n, const AdagradOptions& o, int64_t step) {
  const double clr = o.lr() / (1 + static_cast<double>(step - 1) * o.lr_decay());
  const float neg_clr = static_cast<float>(-clr), wd = static_cast<float>(o.weight_decay());
  const float eps = static_cast<float>(o.eps());
  detail::dispatch_flags(
      [&](auto decay) {
        parallel_for(n, kGrainSize, [&](int64_t begin, int64_t end) {
          adagrad_chunk<decay>(param, sum, grad, begin, end, neg_clr, wd, eps);
        });
      },
      o.weight_decay() != 0);
}

}  // namespace

Adagrad::Adagrad(std::vector<OptimizerParamGroup> param_groups, AdagradOptions defaults)
    : Optimizer(std::move(param_groups), std::make_unique<AdagradOptions>(defaults)) {
  validate(defaults);
  // PyTorch fills every parameter's state at construction: sum = initial_accumulator_value.
  for (const auto& group : param_groups_) {
    const auto& o = static_cast<const AdagradOptions&>(group.options());
    validate(o);
    for (const Tensor& p : group.params()) {
      auto s = std::make_unique<AdagradParamState>();
      s->sum(detail::full_like_param(p, o.initial_accumulator_value()));
      state_[key_of(p)] = std::move(s);
    }
  }
}

std::unique_ptr<OptimizerParamState> Adagrad::make_state() const { return std::make_unique<AdagradParamState>(); }

Tensor Adagrad::step(LossClosure closure) {
  Tensor loss = evaluate_closure(closure);
  NoGradGuard no_grad;
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const AdagradOptions&>(group.options());
    for (const Tensor& p : group.params()) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      detail::UpdateView v(p, g, "Adagrad");
      auto& slot = state_[key_of(p)];
      if (!slot) {  // a parameter added after construction
        auto fresh = std::make_unique<AdagradParamState>();
        fresh->sum(detail::full_like_param(p, o.initial_accumulator_value()));
        slot = std::move(fresh);
      }
      auto& s = static_cast<AdagradParamState&>(*slot);
      s.step(s.step() + 1);
      adagrad_update(v.param(), detail::data(s.sum()), v.grad(), v.numel(), o, s.step());
      v.commit();
    }
  }
  return loss;
}

}  // namespace optim
}  // namespace cnnkit
