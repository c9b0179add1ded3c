// RMSprop: PyTorch 1.13's _single_tensor_rmsprop as one fused loop per parameter over raw
// arrays (centered and momentum variants specialised at compile time). No `maximize`.
#include "cnnkit/optim/rmsprop.h"

#include <algorithm>
#include <cmath>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/threads.h"
#include "optim/optim_internal.h"

namespace cnnkit {
namespace optim {

RMSpropOptions::RMSpropOptions(double lr) : lr_(lr) {}

void RMSpropOptions::save(StateDict& dict, const std::string& prefix) const {
  dict.scalars[prefix + "lr"] = lr();
  dict.scalars[prefix + "alpha"] = alpha();
  dict.scalars[prefix + "eps"] = eps();
  dict.scalars[prefix + "weight_decay"] = weight_decay();
  dict.scalars[prefix + "momentum"] = momentum();
  dict.scalars[prefix + "centered"] = centered() ? 1.0 : 0.0;
}

void RMSpropOptions::load(const StateDict& dict, const std::string& prefix) {
  lr(detail::read_scalar(dict, prefix + "lr"));
  alpha(detail::read_scalar(dict, prefix + "alpha"));
  eps(detail::read_scalar(dict, prefix + "eps"));
  weight_decay(detail::read_scalar(dict, prefix + "weight_decay"));
  momentum(detail::read_scalar(dict, prefix + "momentum"));
  centered(detail::read_scalar(dict, prefix + "centered") != 0.0);
}

void RMSpropParamState::save(StateDict& dict, const std::string& prefix) const {
  dict.scalars[prefix + "step"] = static_cast<double>(step());
  if (square_avg().defined()) dict.tensors[prefix + "square_avg"] = square_avg();
  if (momentum_buffer().defined()) dict.tensors[prefix + "momentum_buffer"] = momentum_buffer();
  if (grad_avg().defined()) dict.tensors[prefix + "grad_avg"] = grad_avg();
}

void RMSpropParamState::load(const StateDict& dict, const std::string& prefix) {
  step(static_cast<int64_t>(detail::read_scalar(dict, prefix + "step")));
  square_avg(detail::read_tensor(dict, prefix + "square_avg"));
  if (detail::has_tensor(dict, prefix + "momentum_buffer"))
    momentum_buffer(detail::read_tensor(dict, prefix + "momentum_buffer"));
  if (detail::has_tensor(dict, prefix + "grad_avg")) grad_avg(detail::read_tensor(dict, prefix + "grad_avg"));
}

namespace {

void validate(const RMSpropOptions& o) {
  detail::check_option(o.lr() >= 0.0, "learning rate", o.lr());
  detail::check_option(o.eps() >= 0.0, "epsilon value", o.eps());
  detail::check_option(o.momentum() >= 0.0, "momentum value", o.momentum());
  detail::check_option(o.weight_decay() >= 0.0, "weight_decay value", o.weight_decay());
  detail::check_option(o.alpha() >= 0.0, "alpha value", o.alpha());
}

struct RMSpropScalars {
  float lr, wd, eps, alpha, one_minus_alpha, momentum;
};

// Elements [begin, end) of one parameter (buf, grad_avg unused when not needed). Per tile:
// the averages, their roots, the update. A function of its own so the scalars are locals
// and `restrict` holds (GCC vectorises it then).
template <bool kDecay, bool kCentered, bool kMomentum>
void rmsprop_chunk(float* __restrict param, float* __restrict square_avg, float* __restrict grad_avg,
                   float* __restrict buf, const float* __restrict grad, int64_t begin, int64_t end, RMSpropScalars c) {
  float root[detail::kTile];
  for (int64_t t = begin; t < end; t += detail::kTile) {
    const int64_t len = std::min(detail::kTile, end - t);
    float* __restrict p = param + t;
    float* __restrict sq = square_avg + t;
    const float* __restrict g = grad + t;
    for (int64_t i = 0; i < len; ++i) {
      float gi = g[i];
      if constexpr (kDecay) gi = gi + c.wd * p[i];
      float si = sq[i] * c.alpha + c.one_minus_alpha * gi * gi;
      sq[i] = si;
      if constexpr (kCentered) {
        float gai = grad_avg[t + i] * c.alpha + c.one_minus_alpha * gi;
        grad_avg[t + i] = gai;
        si = si + -1.0f * gai * gai;  // square_avg.addcmul(grad_avg, grad_avg, value=-1)
      }
      root[i] = si;
    }
    detail::sqrt_(root, len);
    for (int64_t i = 0; i < len; ++i) {
      float gi = g[i];
      if constexpr (kDecay) gi = gi + c.wd * p[i];
      const float avg = root[i] + c.eps;
      if constexpr (kMomentum) {
        const float mi = buf[t + i] * c.momentum + gi / avg;
        buf[t + i] = mi;
        p[i] = p[i] + (-c.lr) * mi;
      } else {
        p[i] = p[i] + (-c.lr) * gi / avg;
      }
    }
  }
}

// N = number of elements; every array has N.
void rmsprop_update(float* param, float* square_avg, float* grad_avg, float* buf, const float* grad, int64_t n,
                    const RMSpropOptions& o) {
  RMSpropScalars c;
  c.lr = static_cast<float>(o.lr());
  c.wd = static_cast<float>(o.weight_decay());
  c.eps = static_cast<float>(o.eps());
  c.alpha = static_cast<float>(o.alpha());
  c.one_minus_alpha = static_cast<float>(1 - o.alpha());
  c.momentum = static_cast<float>(o.momentum());
  detail::dispatch_flags(
      [&](auto decay, auto centered, auto use_momentum) {
        parallel_for(n, kGrainSize, [&](int64_t begin, int64_t end) {
          rmsprop_chunk<decay, centered, use_momentum>(param, square_avg, grad_avg, buf, grad, begin, end, c);
        });
      },
      o.weight_decay() != 0, o.centered(), o.momentum() > 0);
}

}  // namespace

RMSprop::RMSprop(std::vector<OptimizerParamGroup> param_groups, RMSpropOptions defaults)
    : Optimizer(std::move(param_groups), std::make_unique<RMSpropOptions>(defaults)) {
  validate(defaults);
  for (const auto& group : param_groups_) validate(static_cast<const RMSpropOptions&>(group.options()));
}

std::unique_ptr<OptimizerParamState> RMSprop::make_state() const { return std::make_unique<RMSpropParamState>(); }

Tensor RMSprop::step(LossClosure closure) {
  Tensor loss = evaluate_closure(closure);
  NoGradGuard no_grad;
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const RMSpropOptions&>(group.options());
    for (const Tensor& p : group.params()) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      detail::UpdateView v(p, g, "RMSprop");
      auto& slot = state_[key_of(p)];
      if (!slot) slot = std::make_unique<RMSpropParamState>();
      auto& s = static_cast<RMSpropParamState&>(*slot);
      // Buffers appear when an option first needs them (PyTorch creates them with the state;
      // the difference only shows if a group's options change between steps).
      if (!s.square_avg().defined()) s.square_avg(detail::full_like_param(p, 0));
      if (o.momentum() > 0 && !s.momentum_buffer().defined()) s.momentum_buffer(detail::full_like_param(p, 0));
      if (o.centered() && !s.grad_avg().defined()) s.grad_avg(detail::full_like_param(p, 0));
      s.step(s.step() + 1);
      auto ptr = [](const Tensor& t) { return t.defined() ? detail::data(t) : nullptr; };
      rmsprop_update(v.param(), detail::data(s.square_avg()), ptr(s.grad_avg()), ptr(s.momentum_buffer()), v.grad(),
                     v.numel(), o);
      v.commit();
    }
  }
  return loss;
}

}  // namespace optim
}  // namespace cnnkit
