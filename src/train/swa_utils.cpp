// torch.optim.swa_utils (include/cnnkit/train/swa_utils.h).
#include "cnnkit/train/swa_utils.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/error.h"
#include "cnnkit/data/dataloader.h"
#include "cnnkit/nn/modules/normalization.h"
#include "cnnkit/ops/factory.h"

namespace cnnkit::optim::swa_utils {

AvgFn swa_avg_fn() {
  return [](const Tensor& averaged, const Tensor& current, int64_t n) {
    return averaged + (current - averaged) / static_cast<double>(n + 1);
  };
}

AvgFn ema_avg_fn(double decay, bool warmup) {
  CNNKIT_CHECK(decay >= 0 && decay <= 1, "ema_avg_fn: decay must be in [0, 1], got ", decay);
  return [decay, warmup](const Tensor& averaged, const Tensor& current, int64_t n) {
    const double d = warmup ? std::min(decay, (1.0 + static_cast<double>(n)) / (10.0 + static_cast<double>(n))) : decay;
    return averaged * d + current * (1.0 - d);
  };
}

AveragedModelImpl::AveragedModelImpl(const nn::AnyModule& model, AvgFn avg_fn, bool use_buffers)
    : nn::Module("AveragedModel"), module_(model.clone()), avg_fn_(avg_fn ? std::move(avg_fn) : swa_avg_fn()),
      use_buffers_(use_buffers) {
  register_module("module", module_.ptr());
  n_averaged_ = register_buffer("n_averaged", cnnkit::tensor(std::vector<int64_t>{0}).reshape({}));
}

int64_t AveragedModelImpl::n_averaged() const { return n_averaged_.item<int64_t>(); }

void AveragedModelImpl::update_parameters(const nn::Module& model) {
  NoGradGuard no_grad;
  const nn::Module& mine = *module_.ptr();
  auto collect = [&](const nn::Module& m) {
    std::vector<std::pair<std::string, Tensor>> out;
    for (const auto& item : m.named_parameters()) out.emplace_back(item.key(), item.value());
    if (use_buffers_)
      for (const auto& item : m.named_buffers()) out.emplace_back(item.key(), item.value());
    return out;
  };
  const auto avg = collect(mine), cur = collect(model);
  CNNKIT_CHECK(avg.size() == cur.size(), "AveragedModel::update_parameters: the model has ", cur.size(),
               use_buffers_ ? " parameters and buffers" : " parameters", ", the averaged copy ", avg.size(),
               ": it is not the model this AveragedModel was made from");
  for (size_t i = 0; i < avg.size(); ++i)
    CNNKIT_CHECK(avg[i].second.sizes() == cur[i].second.sizes(), "AveragedModel::update_parameters: '", cur[i].first,
                 "' has shape ", cur[i].second.sizes(), ", the averaged copy's '", avg[i].first, "' ",
                 avg[i].second.sizes(), ": it is not the model this AveragedModel was made from");
  const int64_t n = n_averaged();
  for (size_t i = 0; i < avg.size(); ++i) {
    Tensor a = avg[i].second;
    const Tensor& c = cur[i].second;
    if (!a.defined() || !c.defined()) continue;
    if (n == 0) {
      a.copy_(c);
    } else if (is_floating_point(a.scalar_type())) {
      a.copy_(avg_fn_(a, c, n));
    } else {
      // torch computes an integer buffer's average in float and copy_ truncates it.
      a.copy_(avg_fn_(a.to(kFloat), c.to(kFloat), n).to(a.scalar_type()));
    }
  }
  n_averaged_.fill_(n + 1);
}

// ---- SWALR ----------------------------------------------------------------------------------

SWALR::SWALR(Optimizer& optimizer, double swa_lr, int64_t anneal_epochs, const std::string& anneal_strategy)
    : SWALR(optimizer, std::vector<double>(optimizer.param_groups().size(), swa_lr), anneal_epochs, anneal_strategy) {}

SWALR::SWALR(Optimizer& optimizer, std::vector<double> swa_lrs, int64_t anneal_epochs,
             const std::string& anneal_strategy)
    : LRScheduler(optimizer), swa_lrs_(std::move(swa_lrs)), anneal_epochs_(anneal_epochs), cos_(anneal_strategy == "cos") {
  CNNKIT_CHECK(swa_lrs_.size() == optimizer.param_groups().size(),
               "swa_lr must have the same length as optimizer.param_groups: swa_lr has ", swa_lrs_.size(),
               ", optimizer.param_groups has ", optimizer.param_groups().size());
  CNNKIT_CHECK(anneal_strategy == "cos" || anneal_strategy == "linear",
               "anneal_strategy must by one of 'cos' or 'linear', instead got ", anneal_strategy);
  CNNKIT_CHECK(anneal_epochs >= 0, "anneal_epochs must be equal or greater than 0, got ", anneal_epochs);
  initial_step();
}

double SWALR::anneal(double t) const { return cos_ ? (1 - std::cos(std::numbers::pi * t)) / 2 : t; }

std::vector<double> SWALR::get_lrs() {
  // PyTorch's get_lr: recover the lr the annealing started from out of the current one, then
  // move it `alpha` of the way to swa_lr.
  int64_t step = step_count_ - 1;
  if (anneal_epochs_ == 0) step = std::max<int64_t>(1, step);
  const double span = static_cast<double>(std::max<int64_t>(1, anneal_epochs_));
  const double prev_alpha = anneal(std::clamp(static_cast<double>(step - 1) / span, 0.0, 1.0));
  const double alpha = anneal(std::clamp(static_cast<double>(step) / span, 0.0, 1.0));
  std::vector<double> lrs = get_current_lrs();
  for (size_t g = 0; g < lrs.size(); ++g) {
    const double swa = swa_lrs_[g];
    const double start = prev_alpha == 1 ? swa : (lrs[g] - prev_alpha * swa) / (1 - prev_alpha);
    lrs[g] = swa * alpha + start * (1 - alpha);
  }
  return lrs;
}

// ---- update_bn ------------------------------------------------------------------------------

namespace {
struct BatchNormRef {
  std::optional<double>* momentum;
  Tensor *running_mean, *running_var, *num_batches_tracked;
};
}  // namespace

void update_bn(data::DataLoader& loader, nn::AnyModule model) {
  nn::Module& root = *model.ptr();
  std::vector<BatchNormRef> bns;
  for (const auto& m : root.modules()) {
    BatchNormRef r{};
    if (auto* b1 = m->as<nn::BatchNorm1dImpl>())
      r = {&b1->options.momentum(), &b1->running_mean, &b1->running_var, &b1->num_batches_tracked};
    else if (auto* b2 = m->as<nn::BatchNorm2dImpl>())
      r = {&b2->options.momentum(), &b2->running_mean, &b2->running_var, &b2->num_batches_tracked};
    else
      continue;
    if (r.running_mean->defined()) bns.push_back(r);  // track_running_stats=False: nothing to update
  }
  if (bns.empty()) return;
  NoGradGuard no_grad;
  std::vector<std::optional<double>> momenta;
  for (BatchNormRef& b : bns) {
    b.running_mean->zero_();
    b.running_var->fill_(1.0);
    momenta.push_back(*b.momentum);
    *b.momentum = std::nullopt;  // the cumulative average over the pass
    if (b.num_batches_tracked->defined()) b.num_batches_tracked->zero_();
  }
  const bool was_training = root.is_training();
  // Momenta and the training flag come back however the pass ends.
  struct Restore {
    std::vector<BatchNormRef>& bns;
    std::vector<std::optional<double>>& momenta;
    nn::Module& root;
    bool was_training;
    ~Restore() {
      for (size_t i = 0; i < bns.size(); ++i) *bns[i].momentum = momenta[i];
      root.train(was_training);
    }
  } restore{bns, momenta, root, was_training};
  root.train();
  for (auto& batch : loader) model.forward(batch.data);
}

}  // namespace cnnkit::optim::swa_utils
