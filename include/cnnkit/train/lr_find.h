// The learning-rate range test (Smith, "Cyclical Learning Rates for Training Neural Networks",
// 2017; fastai's lr_find, PyTorch Lightning's Tuner.lr_find): train from the initial weights
// for up to `steps` mini-batches while the lr grows exponentially from start_lr to end_lr,
// record each step's loss and its smoothed value, stop when the loss diverges, and suggest an
// lr from the curve. `cnnkit lr-find CONFIG` is the config overload.
//
//   train::LrFindResult r = train::lr_find(train::load_run_config("configs/lenet5-fashion-mnist.yaml"));
//   if (r.has_suggestion()) std::cout << r.suggested_lr;     // then --set optimizer.lr=...
//   train::save_lr_find(r, "runs/x");                         // lr_find.csv, lr_find.yaml
//   report::write_lr_find(r, "runs/x");                       // the same plus lr_find.svg / .png
//
//   // Your own model, optimiser and loader (weights and optimiser state restored afterwards):
//   auto r = train::lr_find(nn::AnyModule(net), opt, loss_fn, loader, train::LrFindOptions().steps(200));
//   // Or any training step at all: train one batch at `lr`, return its loss.
//   auto r = train::lr_find([&](double lr) { return my_step(lr); }, train::LrFindOptions());
//
// The sweep: step i (0-based) trains at lr_i = start_lr * (end_lr / start_lr)^(i / (steps - 1)),
// set on every parameter group before the step; the config's scheduler is ignored, its
// optimiser (momentum, weight decay, ...) kept. Smoothing: avg_i = beta avg_{i-1} + (1 - beta)
// loss_i (avg_{-1} = 0), smoothed_i = avg_i / (1 - beta^(i+1)) (the bias correction of Adam
// and fastai). The sweep stops early - divergence, expected here, not an error - after the
// first step whose loss is NaN or inf, or whose smoothed loss exceeds `diverge` times the
// lowest smoothed loss so far.
//
// The suggestion (suggest_lr) reads the smoothed loss after the first skip_start x steps (10%
// by default: there it still averages too few steps) by one of two rules:
//   minimum  (the default; fastai's `minimum`) the lr of the lowest smoothed loss divided by
//            10: one decade below where the loss stops falling and starts to diverge;
//   steepest (fastai's `steep`, Lightning's suggestion) the lr of the steepest descent of the
//            smoothed loss against log10(lr) - the minimum of its numerical gradient (central
//            differences, one-sided at the ends, as numpy.gradient) - among the steps before
//            the lowest smoothed loss; only a negative gradient counts.
// Why minimum is the default: in a sweep of 100 steps over 8 decades the model barely trains
// until the lr is large enough to make progress within a few steps, so the steepest descent
// sits right at the edge of divergence. On Fashion-MNIST LeNet-5 (SGD, momentum 0.9) it
// suggested 0.201, and 3 epochs at that lr diverged (10% accuracy), while minimum's 0.0292
// trained as the config's hand-picked 0.03 does (README, "Finding a learning rate"). Both
// readings are always in the result. No reading (the loss never fell, or was lowest within
// the skipped start): no suggestion, and no_suggestion says why.
//
// Deliberately not: saving weights (nothing of the model is ever written), changing the
// config, fastai's `valley` and `slide` rules.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "cnnkit/core/arg.h"
#include "cnnkit/nn/modules/container/any.h"
#include "cnnkit/optim/optimizer.h"
#include "cnnkit/train/config.h"
#include "cnnkit/train/progress.h"
#include "cnnkit/train/trainer.h"

namespace cnnkit {
namespace data {
class DataLoader;
}
}  // namespace cnnkit

namespace cnnkit::train {

struct LrFindOptions {
  CNNKIT_ARG(double, start_lr) = 1e-7;  // the first step's lr (> 0)
  CNNKIT_ARG(double, end_lr) = 10;      // the last step's lr (> start_lr)
  CNNKIT_ARG(int64_t, steps) = 100;     // mini-batches at most (>= 10)
  CNNKIT_ARG(double, beta) = 0.98;      // smoothing of the loss, in [0, 1)
  CNNKIT_ARG(double, diverge) = 4;      // stop when smoothed > diverge x the best smoothed (> 1)
  CNNKIT_ARG(double, skip_start) = 0.1;  // the first skip_start x steps are never suggested, in [0, 1)
  // The rule of the suggestion: "minimum" (lowest smoothed loss / 10) or "steepest" (see above).
  CNNKIT_ARG(std::string, suggest) = "minimum";
  // The model overloads: gradient clipping before each step (clip_grad_norm_); the config
  // overload takes the config's grad_clip_norm when this is unset.
  CNNKIT_ARG(std::optional<double>, grad_clip_norm) = std::nullopt;
  // The model overloads: put the weights, buffers, optimiser state (lr included) and the
  // train/eval flag back afterwards, as fastai and Lightning do.
  CNNKIT_ARG(bool, restore) = true;
  // The config overload: threads for the math; 0 = the config's `threads` (auto: CNNKIT_NUM_THREADS or all cores).
  CNNKIT_ARG(int, threads) = 0;
  // One progress line every 10% of the steps, and the reason it stopped; nullptr = silent.
  CNNKIT_ARG(OStreamPtr, log) = nullptr;

 public:  // CNNKIT_ARG leaves the section private
  // ValueError naming the option (and the CLI flag) and its value.
  void validate() const;
};

struct LrFindResult {
  // One entry per step done (fewer than `steps` when it stopped early). The last step may
  // hold a NaN or inf loss (smoothed NaN then).
  std::vector<double> lr, loss, smoothed;
  LrFindOptions options;  // what it ran with
  // The suggestion by options.suggest()'s rule; NaN without one.
  double suggested_lr = std::numeric_limits<double>::quiet_NaN();
  size_t suggested_step = npos;   // the step the rule read: min_step or steepest_step
  // What both rules read, whichever was chosen (npos when there is nothing to read):
  size_t min_step = npos;         // index of the lowest finite smoothed loss
  size_t steepest_step = npos;    // index of the steepest descent before min_step
  double steepest_gradient = 0;   // d smoothed / d log10(lr) there (negative)
  bool diverged = false;          // stopped early by `diverge` or a non-finite loss
  std::string stop_reason;        // "all 100 steps done", "diverged at step 87 (lr 1.2): the smoothed loss ..."
  std::string no_suggestion;      // why there is none (empty with a suggestion)

  static constexpr size_t npos = static_cast<size_t>(-1);
  bool has_suggestion() const { return suggested_step != npos; }
  // "the lowest smoothed loss at step 81 of 100 (lr 0.292) / 10" or "the steepest descent of
  // the smoothed loss at step 79 of 100": how the suggestion was read, for messages.
  std::string suggestion_reason() const;
};

// The lr of step i (0-based) of the sweep.
double lr_at(const LrFindOptions& options, int64_t i);

// Fills result.suggested_* (or no_suggestion), min_step and steepest_* from result.lr and
// smoothed by the rules in this file's comment, skipping the first skip_start x steps steps.
void suggest_lr(LrFindResult& result);

// The sweep over any training step: step(lr) trains one mini-batch at that lr and returns
// its loss. The other overloads are this one with their step.
LrFindResult lr_find(const std::function<double(double lr)>& step, const LrFindOptions& options = {});

// A model, its optimiser and loss over a loader's batches (the loader cycles through epochs,
// set_epoch(0), (1), ... when `steps` outlasts one). The model trains in train mode; with
// options.restore() (the default) it and the optimiser are as before when this returns.
LrFindResult lr_find(nn::AnyModule model, optim::Optimizer& optimizer, const LossFn& loss_fn,
                     data::DataLoader& loader, const LrFindOptions& options = {});

// A run config, as `cnnkit train` would build it: its training split (after the validation
// split, with the training augmentation), loader (batch size, shuffle, seed, workers), model
// (the initial weights of its seed), loss, optimiser and gradient clipping; the L1/L2
// penalty, when configured, is part of the loss recorded (what the optimiser minimises). The
// scheduler and early stopping are ignored. Nothing is written; the config is not changed.
LrFindResult lr_find(const RunConfig& config, const LrFindOptions& options = {});

// "0.0123": the suggestion rounded to 3 significant digits, as printed and written to
// lr_find.yaml (so the lr a user copies is the lr the files say).
std::string format_lr(double lr);

// Writes DIR/lr_find.csv (step,lr,loss,smoothed_loss; step 1-based) and DIR/lr_find.yaml
// (`optimizer: {lr: ...}` with the command that uses it as a comment, or only comments
// without a suggestion), each atomically, creating DIR. `config_path` names the config in the
// comment ("CONFIG" when empty). Returns the paths written.
std::vector<std::string> save_lr_find(const LrFindResult& result, const std::string& dir,
                                      const std::string& config_path = "");

}  // namespace cnnkit::train
