// SGD: PyTorch 1.13's _single_tensor_sgd as one fused loop per parameter over raw arrays,
// in the parameter's dtype with the scalars cast to it (as ATen's kernels do). No `maximize`,
// no sparse gradients.
#include "cnnkit/optim/sgd.h"

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/threads.h"
#include "optim/optim_internal.h"

namespace cnnkit {
namespace optim {

SGDOptions::SGDOptions(double lr) : lr_(lr) {}

void SGDOptions::save(StateDict& dict, const std::string& prefix) const {
  dict.scalars[prefix + "lr"] = lr();
  dict.scalars[prefix + "momentum"] = momentum();
  dict.scalars[prefix + "dampening"] = dampening();
  dict.scalars[prefix + "weight_decay"] = weight_decay();
  dict.scalars[prefix + "nesterov"] = nesterov() ? 1.0 : 0.0;
}

void SGDOptions::load(const StateDict& dict, const std::string& prefix) {
  lr(detail::read_scalar(dict, prefix + "lr"));
  momentum(detail::read_scalar(dict, prefix + "momentum"));
  dampening(detail::read_scalar(dict, prefix + "dampening"));
  weight_decay(detail::read_scalar(dict, prefix + "weight_decay"));
  nesterov(detail::read_scalar(dict, prefix + "nesterov") != 0.0);
}

void SGDParamState::save(StateDict& dict, const std::string& prefix) const {
  if (momentum_buffer().defined()) dict.tensors[prefix + "momentum_buffer"] = momentum_buffer();
}

void SGDParamState::load(const StateDict& dict, const std::string& prefix) {
  if (detail::has_tensor(dict, prefix + "momentum_buffer"))
    momentum_buffer(detail::read_tensor(dict, prefix + "momentum_buffer"));
}

namespace {

void validate(const SGDOptions& o) {
  detail::check_option(o.lr() >= 0.0, "learning rate", o.lr());
  detail::check_option(o.momentum() >= 0.0, "momentum value", o.momentum());
  detail::check_option(o.weight_decay() >= 0.0, "weight_decay value", o.weight_decay());
  CNNKIT_CHECK(!o.nesterov() || (o.momentum() > 0 && o.dampening() == 0),
               "Nesterov momentum requires a momentum and zero dampening");
}

// N = number of elements of the parameter.
void sgd_update(float* __restrict param, float* __restrict buf, const float* __restrict grad, int64_t n,
                const SGDOptions& o, bool first) {
  const float lr = static_cast<float>(o.lr()), wd = static_cast<float>(o.weight_decay());
  const float momentum = static_cast<float>(o.momentum()), keep = static_cast<float>(1 - o.dampening());
  detail::dispatch_flags(
      [&](auto decay, auto use_momentum, auto nesterov, auto first_step) {
        parallel_for(n, kGrainSize, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) {
            float d = grad[i];
            if constexpr (decay) d = d + wd * param[i];
            if constexpr (use_momentum) {
              // The first step's buffer is the gradient itself, without dampening.
              float m = first_step ? d : buf[i] * momentum + keep * d;
              buf[i] = m;
              d = nesterov ? d + momentum * m : m;
            }
            param[i] = param[i] + (-lr) * d;
          }
        });
      },
      o.weight_decay() != 0, o.momentum() != 0, o.nesterov(), first);
}

}  // namespace

SGD::SGD(std::vector<OptimizerParamGroup> param_groups, SGDOptions defaults)
    : Optimizer(std::move(param_groups), std::make_unique<SGDOptions>(defaults)) {
  validate(defaults);
  for (const auto& group : param_groups_) validate(static_cast<const SGDOptions&>(group.options()));
}

std::unique_ptr<OptimizerParamState> SGD::make_state() const { return std::make_unique<SGDParamState>(); }

Tensor SGD::step(LossClosure closure) {
  Tensor loss = evaluate_closure(closure);
  NoGradGuard no_grad;
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const SGDOptions&>(group.options());
    for (const Tensor& p : group.params()) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      detail::UpdateView v(p, g, "SGD");
      bool first = false;
      Tensor buf;
      if (o.momentum() != 0) {
        auto& slot = state_[key_of(p)];
        if (!slot) slot = std::make_unique<SGDParamState>();
        auto& s = static_cast<SGDParamState&>(*slot);
        if (!s.momentum_buffer().defined()) {
          s.momentum_buffer(cnnkit::empty(p.sizes(), TensorOptions(p.dtype())));
          first = true;
        }
        buf = s.momentum_buffer();
      }
      sgd_update(v.param(), buf.defined() ? detail::data(buf) : nullptr, v.grad(), v.numel(), o, first);
      v.commit();
    }
  }
  return loss;
}

}  // namespace optim
}  // namespace cnnkit
