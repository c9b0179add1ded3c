// The learning-rate range test (train/lr_find.h): the exponential sweep with the smoothed,
// bias-corrected loss and the divergence stop, the two suggestion rules, the model and
// run-config overloads that supply the training step, and the CSV / YAML files. The figure is
// the report layer's (report/lr_find.h); this file writes no pictures and no weights.
#include "cnnkit/train/lr_find.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <ostream>

#include "cnnkit/core/error.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/data/dataloader.h"
#include "cnnkit/data/iterable.h"
#include "cnnkit/io/file.h"
#include "cnnkit/nn/utils/clip_grad.h"
#include "cnnkit/ops/ops.h"
#include "cnnkit/train/run.h"

namespace cnnkit::train {

namespace fs = std::filesystem;

void LrFindOptions::validate() const {
  // The CLI's flags are named too: the CLI passes its arguments through here unchecked.
  CNNKIT_CHECK(std::isfinite(start_lr()) && start_lr() > 0, "lr_find: start_lr (--start-lr) must be a positive lr, got ",
               start_lr());
  CNNKIT_CHECK(std::isfinite(end_lr()) && end_lr() > 0, "lr_find: end_lr (--end-lr) must be a positive lr, got ", end_lr());
  CNNKIT_CHECK(start_lr() < end_lr(), "lr_find: start_lr (--start-lr) ", start_lr(), " must be below end_lr (--end-lr) ",
               end_lr());
  CNNKIT_CHECK(steps() >= 10, "lr_find: steps (--steps) must be at least 10, got ", steps());
  CNNKIT_CHECK(beta() >= 0 && beta() < 1, "lr_find: beta (--beta) must be in [0, 1), got ", beta());
  CNNKIT_CHECK(diverge() > 1, "lr_find: diverge (--diverge) must be above 1, got ", diverge());
  CNNKIT_CHECK(skip_start() >= 0 && skip_start() < 1, "lr_find: skip_start must be in [0, 1), got ", skip_start());
  CNNKIT_CHECK(suggest() == "minimum" || suggest() == "steepest",
               "lr_find: suggest (--suggest) must be minimum or steepest, got '", suggest(), "'");
  CNNKIT_CHECK(!grad_clip_norm() || *grad_clip_norm() > 0, "lr_find: grad_clip_norm must be > 0, got ",
               grad_clip_norm().value_or(0));
  CNNKIT_CHECK(threads() >= 0, "lr_find: threads (--threads) must be >= 0, got ", threads());
}

double lr_at(const LrFindOptions& o, int64_t i) {
  const double t = static_cast<double>(i) / static_cast<double>(o.steps() - 1);
  return o.start_lr() * std::pow(o.end_lr() / o.start_lr(), t);
}

std::string format_lr(double lr) { return fmt::format("{:.3g}", lr); }

// ---- the suggestion -------------------------------------------------------------------------

void suggest_lr(LrFindResult& r) {
  r.suggested_step = r.min_step = r.steepest_step = LrFindResult::npos;
  r.suggested_lr = NAN;
  r.steepest_gradient = 0;
  r.no_suggestion.clear();
  const bool minimum = r.options.suggest() == "minimum";
  CNNKIT_CHECK(minimum || r.options.suggest() == "steepest", "lr_find: suggest (--suggest) must be minimum or "
               "steepest, got '", r.options.suggest(), "'");
  const size_t n = std::min(r.lr.size(), r.smoothed.size());
  for (size_t i = 0; i < n; ++i)
    if (std::isfinite(r.smoothed[i]) && (r.min_step == LrFindResult::npos || r.smoothed[i] < r.smoothed[r.min_step]))
      r.min_step = i;
  if (r.min_step == LrFindResult::npos) {
    r.no_suggestion = "no step gave a finite loss";
    return;
  }
  const auto skip = static_cast<size_t>(std::ceil(r.options.skip_start() * static_cast<double>(r.options.steps())));
  if (r.min_step <= skip) {
    r.no_suggestion = fmt::format(
        "the smoothed loss was lowest at step {} (lr {}), within the first {} steps, which are not read: the loss {} "
        "from the start; try a lower --start-lr",
        r.min_step + 1, format_lr(r.lr[r.min_step]), skip, r.min_step == 0 ? "never fell" : "stopped falling early");
    return;
  }
  // d smoothed / d log10(lr) as numpy.gradient: central differences inside, one-sided at the
  // ends. The steps are evenly spaced in log10(lr), but the lr of each step is used as given.
  auto x = [&](size_t i) { return std::log10(r.lr[i]); };
  auto gradient = [&](size_t i) {
    const size_t lo = i == 0 ? 0 : i - 1, hi = i + 1 < n ? i + 1 : i;
    return (r.smoothed[hi] - r.smoothed[lo]) / (x(hi) - x(lo));
  };
  for (size_t i = skip; i < r.min_step; ++i) {
    const double g = gradient(i);
    if (std::isfinite(g) && g < 0 && (r.steepest_step == LrFindResult::npos || g < r.steepest_gradient)) {
      r.steepest_step = i;
      r.steepest_gradient = g;
    }
  }
  if (minimum) {
    r.suggested_step = r.min_step;
    r.suggested_lr = r.lr[r.min_step] / 10;
  } else if (r.steepest_step != LrFindResult::npos) {
    r.suggested_step = r.steepest_step;
    r.suggested_lr = r.lr[r.steepest_step];
  } else {
    r.no_suggestion = fmt::format("the smoothed loss did not fall between step {} and its lowest point (step {})",
                                  skip + 1, r.min_step + 1);
  }
}

std::string LrFindResult::suggestion_reason() const {
  if (!has_suggestion()) return "no suggestion: " + no_suggestion;
  if (suggested_step == min_step && options.suggest() == "minimum")
    return fmt::format("the lowest smoothed loss, at step {} of {} (lr {}), divided by 10", min_step + 1, lr.size(),
                       format_lr(lr[min_step]));
  return fmt::format("the steepest descent of the smoothed loss, at step {} of {}", suggested_step + 1, lr.size());
}

// ---- the sweep ------------------------------------------------------------------------------

LrFindResult lr_find(const std::function<double(double)>& step, const LrFindOptions& options) {
  options.validate();
  CNNKIT_CHECK(static_cast<bool>(step), "lr_find: the step function is empty");
  LrFindResult r;
  r.options = options;
  std::ostream* log = options.log();
  const int64_t steps = options.steps();
  const int64_t every = std::max<int64_t>(1, steps / 10);
  double avg = 0, best = INFINITY;
  r.stop_reason = fmt::format("all {} steps done", steps);
  for (int64_t i = 0; i < steps; ++i) {
    const double lr = lr_at(options, i);
    const double loss = step(lr);
    r.lr.push_back(lr);
    r.loss.push_back(loss);
    if (!std::isfinite(loss)) {
      r.smoothed.push_back(NAN);
      r.diverged = true;
      r.stop_reason = fmt::format("diverged at step {} (lr {}): the loss is {}", i + 1, format_lr(lr), loss);
      break;
    }
    avg = options.beta() * avg + (1 - options.beta()) * loss;
    const double smoothed = avg / (1 - std::pow(options.beta(), static_cast<double>(i + 1)));
    r.smoothed.push_back(smoothed);
    if (log && ((i + 1) % every == 0 || i == 0))
      *log << fmt::format("lr-find: step {:>4}/{}  lr {:<9.3g}  loss {:.4f}  smoothed {:.4f}", i + 1, steps, lr, loss,
                          smoothed)
           << std::endl;
    if (i > 0 && smoothed > options.diverge() * best) {
      r.diverged = true;
      r.stop_reason = fmt::format("diverged at step {} (lr {}): the smoothed loss {:.4g} exceeds {} x the best {:.4g}", i + 1,
                                  format_lr(lr), smoothed, options.diverge(), best);
      break;
    }
    best = std::min(best, smoothed);
  }
  if (log) *log << "lr-find: " << r.stop_reason << std::endl;
  suggest_lr(r);
  return r;
}

namespace {

// Everything the model overloads change, to put back afterwards (LrFindOptions::restore).
struct Snapshot {
  nn::Module& module;
  optim::Optimizer& optimizer;
  std::vector<std::pair<std::string, Tensor>> state;  // clones: the sweep changes the originals in place
  optim::StateDict optimizer_state;
  std::vector<bool> training;

  Snapshot(nn::Module& m, optim::Optimizer& o) : module(m), optimizer(o), optimizer_state(o.state_dict()) {
    for (const auto& item : m.state_dict()) state.emplace_back(item.key(), item.value().clone());
    m.apply([&](nn::Module& sub) { training.push_back(sub.is_training()); });
  }
  void restore() {
    std::map<std::string, Tensor> dict(state.begin(), state.end());
    module.load_state_dict(dict);
    optimizer.load_state_dict(optimizer_state);
    size_t i = 0;
    module.apply([&](nn::Module& sub) { sub.train(training[i++]); });
  }
};

// One optimisation step at `lr` on a batch; the loss as a double.
double train_step(nn::AnyModule& model, optim::Optimizer& optimizer, const LossFn& loss_fn,
                  const std::vector<Tensor>& params, const std::optional<double>& clip, data::Example<>& batch,
                  double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
  Tensor loss = loss_fn(model.forward(batch.data), batch.target);
  optimizer.zero_grad();
  loss.backward();
  if (clip) nn::utils::clip_grad_norm_(params, *clip);
  optimizer.step();
  return loss.item<double>();
}

}  // namespace

LrFindResult lr_find(nn::AnyModule model, optim::Optimizer& optimizer, const LossFn& loss_fn, data::DataLoader& loader,
                     const LrFindOptions& options) {
  options.validate();
  CNNKIT_CHECK(!model.is_empty(), "lr_find: the model is empty");
  CNNKIT_CHECK(static_cast<bool>(loss_fn), "lr_find: no loss function given");
  nn::Module& module = *model.ptr();
  std::optional<Snapshot> snapshot;
  if (options.restore()) snapshot.emplace(module, optimizer);
  const std::vector<Tensor> params = module.parameters();
  module.train();

  // The loader's batches, cycling through its epochs; an epoch without a batch is an error
  // (it would cycle for ever).
  int64_t epoch = 0;
  loader.set_epoch(epoch);
  std::optional<data::DataLoader::Iterator> it;
  auto next_batch = [&]() -> data::Example<>& {
    if (!it) it = loader.begin();
    else ++*it;
    if (*it == loader.end()) {
      loader.set_epoch(++epoch);
      it = loader.begin();
      CNNKIT_CHECK(*it != loader.end(), "lr_find: the training loader gives no batch");
    }
    return **it;
  };
  auto step = [&](double lr) {
    data::Example<>& batch = next_batch();
    CNNKIT_CHECK(!batch.weight.defined(), "lr_find: the training batches carry sample weights; lr_find trains with "
                 "the plain loss (leave the weights out of the dataset)");
    return train_step(model, optimizer, loss_fn, params, options.grad_clip_norm(), batch, lr);
  };
  try {
    LrFindResult r = lr_find(step, options);
    if (snapshot) snapshot->restore();
    return r;
  } catch (...) {
    if (snapshot) snapshot->restore();
    throw;
  }
}

LrFindResult lr_find(const RunConfig& config, const LrFindOptions& options) {
  options.validate();
  // The run layer builds what `cnnkit train` would: the same split, statistics, transforms and
  // initial weights (Run::model() seeds from the config).
  Run run(config, RunOptions().threads(options.threads()));
  const RunData& data = run.data();
  CNNKIT_CHECK(data.train && data.train->size().value_or(1) > 0, "lr_find: ", config.source,
               " gives an empty training split");
  CNNKIT_CHECK(config.data.sample_weights.empty(),
               "lr_find: the config carries sample weights (model selection); lr_find trains with the plain loss");
  nn::Sequential& model = run.model();
  const LossFn criterion = build_loss(config);
  std::unique_ptr<optim::Optimizer> opt = build_optimizer(config, model->parameters());

  // The config's L1/L2 penalty, as the Trainer adds it: ||w||_1 and ||w||_2 (not squared) of
  // the weights (dims >= 2), or of every parameter with `params: all`.
  std::vector<Tensor> penalised;
  const RegularizationConfig& reg = config.regularization;
  if (reg.l1 > 0 || reg.l2 > 0)
    for (const Tensor& p : model->parameters())
      if (reg.params == "all" || p.dim() > 1) penalised.push_back(p);
  LossFn loss_fn = criterion;
  if (!penalised.empty())
    loss_fn = [&](const Tensor& out, const Tensor& target) {
      Tensor total = criterion(out, target);
      for (const Tensor& p : penalised) {
        if (reg.l1 > 0) total = total + cnnkit::norm(p, 1) * reg.l1;
        if (reg.l2 > 0) total = total + cnnkit::norm(p, 2) * reg.l2;
      }
      return total;
    };

  // The training loader as Run::fit builds it (one process): a streamed set shuffles itself.
  const bool streamed = dynamic_cast<const data::IterableDataset*>(data.train.get()) != nullptr;
  data::DataLoader loader(data.train, data::DataLoaderOptions(static_cast<size_t>(config.data.batch_size))
                                          .shuffle(!streamed)
                                          .workers(static_cast<size_t>(config.data.workers))
                                          .seed(config.seed));
  manual_seed(config.seed);  // dropout draws as a fresh run's (Trainer::fit seeds here too)
  LrFindOptions o = options;
  if (!o.grad_clip_norm()) o.grad_clip_norm(config.grad_clip_norm);
  o.restore(false);  // the model is this function's own
  if (std::ostream* log = o.log())
    *log << fmt::format("lr-find: {} on {} ({} training examples, batch {}), {}; lr {} to {} over {} steps",
                        run.model_name(), config.data.dataset, data.train->size().value_or(0), config.data.batch_size,
                        describe_optimizer(config), format_lr(o.start_lr()), format_lr(o.end_lr()), o.steps())
         << std::endl;
  return lr_find(nn::AnyModule(model), *opt, loss_fn, loader, o);
}

// ---- files ----------------------------------------------------------------------------------

std::vector<std::string> save_lr_find(const LrFindResult& r, const std::string& dir, const std::string& config_path) {
  fs::create_directories(dir);
  auto num = [](double v) { return std::isnan(v) ? std::string("nan") : fmt::format("{:.9g}", v); };
  std::string csv = "step,lr,loss,smoothed_loss\n";
  for (size_t i = 0; i < r.lr.size(); ++i)
    csv += fmt::format("{},{},{},{}\n", i + 1, num(r.lr[i]), num(r.loss[i]), num(r.smoothed[i]));
  const std::string csv_path = (fs::path(dir) / "lr_find.csv").string();
  io::write_file_atomic(csv_path, csv, "lr_find");

  const std::string config = config_path.empty() ? "CONFIG" : config_path;
  std::string yaml = fmt::format("# cnnkit lr-find: lr {} to {} over {} steps; {}\n",
                                 format_lr(r.options.start_lr()), format_lr(r.options.end_lr()), r.options.steps(),
                                 r.stop_reason);
  if (r.has_suggestion()) {
    const std::string lr = format_lr(r.suggested_lr);
    yaml += fmt::format("# suggested ({} rule): {}\n", r.options.suggest(), r.suggestion_reason());
    if (r.steepest_step != LrFindResult::npos)
      yaml += fmt::format("# steepest descent of the smoothed loss: lr {} at step {}\n",
                          format_lr(r.lr[r.steepest_step]), r.steepest_step + 1);
    yaml += fmt::format("#   cnnkit train {} --set optimizer.lr={}\n", config, lr);
    yaml += "optimizer:\n  lr: " + lr + "\n";
  } else {
    yaml += "# no suggestion: " + r.no_suggestion + "\n";
  }
  const std::string yaml_path = (fs::path(dir) / "lr_find.yaml").string();
  io::write_file_atomic(yaml_path, yaml, "lr_find");
  return {csv_path, yaml_path};
}

}  // namespace cnnkit::train
