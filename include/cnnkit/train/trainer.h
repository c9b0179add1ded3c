// The training loop (what Keras's Model.fit/evaluate and PyTorch Lightning's Trainer do, for
// LibTorch-style models): train/eval mode switching, zero_grad/backward/step, the article's
// L1/L2 penalty, gradient clipping, LR schedules per epoch or per batch, metrics from the
// logits already computed, callbacks, a progress bar, and checkpoints that resume exactly.
//
//   optim::SGD opt(net->parameters(), optim::SGDOptions(0.01).momentum(0.9));
//   auto loss_fn = [](const Tensor& out, const Tensor& y) { return F::cross_entropy(out, y); };
//   train::Trainer trainer(nn::AnyModule(net), opt, loss_fn,
//                          train::TrainerOptions().epochs(10).l1(5e-4).l2(1e-4).seed(0));
//   trainer.set_scheduler(std::make_shared<optim::StepLR>(opt, 5), train::SchedulerStep::kEpoch);
//   trainer.add_callback(std::make_shared<train::ModelCheckpoint>("runs/x", "val_accuracy"));
//   train::History h = trainer.fit(train_loader, &val_loader);
//   train::Metrics m = trainer.evaluate(test_loader);
//   // after a crash: same construction, then
//   trainer.resume("runs/x/checkpoint_last.safetensors");  trainer.fit(train_loader, &val_loader);
//
// Intended usage and contracts:
//   - fit() trains until options().epochs() epochs are complete in total: a fresh trainer
//     runs them all, a resumed one the rest. Epoch e calls loader.set_epoch(e), so the
//     shuffle and augmentation of an epoch depend on (loader seed, e) only.
//   - The loss logged is the criterion's (mean over the batch), without the penalty, so
//     train_loss and val_loss compare; the penalty is in what is minimised.
//   - Exact resume: a checkpoint holds the weights, the optimiser's and scheduler's state,
//     the global generator's state (dropout, init, mixup), epoch and step counters, the
//     history and the callbacks' state; the run continues bit for bit as if never stopped.
//     Checkpoints are written at epoch ends, and with checkpoint_every_steps/_seconds also
//     inside an epoch: those hold the position in the epoch and the epoch's running train
//     metrics too, and resume() continues from the next batch (the loader skips the batches
//     done; its order and augmentations depend on (seed, epoch, index) only), bit for bit.
//   - Checks with clear errors before the first step completes: a classification model's
//     output must be (N, C) for int64 targets (N), with C = options().num_classes() or the
//     dataset's classes() when known; a multi-label model's output (N, C) must match float
//     targets (N, C) (C checked the same way); a regression output must have the target's shape.
//   - Logs per task (train_ and val_ prefixed; see Metrics::scalars): classification loss,
//     accuracy, top-k (macro P/R/F1 for val only); multi-label loss, micro and macro
//     P/R/F1, subset_accuracy, hamming_loss; regression loss, mse, mae, r2.
//   - Non-finite values: add a TerminateOnNaN to stop at the first NaN/inf loss or
//     parameter with the epoch and step named. Without it the run goes on (as in Keras), but
//     no checkpoint ever holds NaN/inf weights: save_checkpoint() throws
//     NonFiniteParameterError, and the epoch-end writers skip the write with a warning.
//   - Warm-up per step: a LinearWarmupLR (what build_scheduler returns when a warm-up is
//     configured) is set with SchedulerStep::kBatch; fit() checks that and that it was built
//     for the training loader's batches per epoch.
//   - Data parallel (set_distributed): the training loader holds this rank's share of each
//     epoch (DataLoaderOptions num_replicas / rank, batch = global batch / world). Every
//     step the ranks all-reduce their example counts (8 bytes): each rank weighs its
//     gradients by its share, a rank without examples for the step takes part with none
//     (DistributedDataParallel::skip_step), and the epoch ends when no rank has any. So an
//     epoch on N ranks makes the single process's steps on the same global batches. The
//     epoch's train metrics, and those of evaluate() on a loader with num_replicas > 1, are
//     over all ranks; buffers are synchronised from rank 0 before evaluating.
// Deliberately not: multiple models, mixed precision, EMA and SWA at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/data/mixup.h"
#include "cnnkit/io/checkpoint.h"
#include "cnnkit/nn/modules/container/any.h"
#include "cnnkit/core/arg.h"
#include "cnnkit/optim/lr_scheduler.h"
#include "cnnkit/optim/optimizer.h"
#include "cnnkit/train/swa_utils.h"
#include "cnnkit/train/callbacks.h"
#include "cnnkit/train/metrics.h"
#include "cnnkit/train/progress.h"

namespace cnnkit {
namespace data {
class DataLoader;
}
namespace optim {
class ReduceLROnPlateauScheduler;
}
namespace distributed {
class DistributedDataParallel;
}
}  // namespace cnnkit

namespace cnnkit::train {

// loss(output, target) -> a 0-dim tensor (the batch mean), e.g. F::cross_entropy.
using LossFn = std::function<Tensor(const Tensor& output, const Tensor& target)>;
// The loss of a batch whose examples carry weights (data::Example::weight, stacked to (N)):
// sum_i w_i l_i / sum_i w_i over the per-example losses l_i (train::build_weighted_loss).
using WeightedLossFn = std::function<Tensor(const Tensor& output, const Tensor& target, const Tensor& weight)>;

enum class SchedulerStep { kEpoch, kBatch };  // kBatch: OneCycleLR and LinearWarmupLR

struct TrainerOptions {
  CNNKIT_ARG(int64_t, epochs) = 1;
  CNNKIT_ARG(Task, task) = Task::kClassification;
  // The article's penalty: loss + l1 * sum ||w||_1 + l2 * sum ||w||_2 (torch.norm with p=1 and
  // p=2, not squared; weight decay in the optimiser is the squared one).
  CNNKIT_ARG(double, l1) = 0;
  CNNKIT_ARG(double, l2) = 0;
  // Parameter names the penalty covers, shell globs ("features.*.weight"); empty: every
  // parameter with more than one dimension (conv and linear weights, not biases or BN).
  CNNKIT_ARG(std::vector<std::string>, penalty_params) = {};
  CNNKIT_ARG(std::optional<double>, grad_clip_norm) = std::nullopt;   // nn::utils::clip_grad_norm_
  CNNKIT_ARG(std::optional<double>, grad_clip_value) = std::nullopt;  // nn::utils::clip_grad_value_
  // manual_seed(seed) when a fresh run starts (a resumed run restores the generator instead).
  // The loaders' shuffles come from their own DataLoaderOptions().seed().
  CNNKIT_ARG(std::optional<uint64_t>, seed) = std::nullopt;
  // When set: created at fit(), and <dir>/checkpoint_last.safetensors is written after every
  // epoch (never with NaN/inf weights) unless a ModelCheckpoint writes that same file.
  CNNKIT_ARG(std::string, output_dir) = "";
  // Mid-epoch checkpoints, for long epochs: also after every checkpoint_every_steps
  // optimisation steps and/or once checkpoint_every_seconds of training have passed since the
  // last checkpoint (0: off), to the file the epoch ends write (a ModelCheckpoint's last_path
  // when one saves it, else <output_dir>/checkpoint_last.safetensors; one of them is
  // required). Data parallel: every rank takes part (the decision is rank 0's clock, shared
  // in the step's all-reduce), rank 0 writes.
  CNNKIT_ARG(int64_t, checkpoint_every_steps) = 0;
  CNNKIT_ARG(double, checkpoint_every_seconds) = 0;
  CNNKIT_ARG(int64_t, top_k) = 5;         // the top-k accuracy reported (1 = off)
  // Classes (classification) or labels (multi-label); 0: the dataset's classes(), else the
  // output's width.
  CNNKIT_ARG(int64_t, num_classes) = 0;
  // An exponential moving average of the weights, updated after every `ema_every`
  // optimisation steps (optim::swa_utils::AveragedModel with ema_avg_fn(decay, ema_warmup),
  // BatchNorm statistics averaged too). When set, validation evaluates the averaged weights
  // as val_* (what checkpoints, early stopping and plateau schedulers monitor) and the raw
  // ones as raw_val_*; checkpoints hold both, and resume restores both.
  CNNKIT_ARG(std::optional<double>, ema_decay) = std::nullopt;
  CNNKIT_ARG(bool, ema_warmup) = false;
  CNNKIT_ARG(int64_t, ema_every) = 1;
  // Stochastic weight averaging (Izmailov et al. 2018, the recipe of torch.optim.swa_utils'
  // docs): at the end of every epoch from epoch swa_start (counting from 0) on, the weights
  // join an equal average (AveragedModel, BatchNorm statistics averaged too), and from then
  // on SWALR(swa_lr, swa_anneal_epochs, swa_anneal_strategy) is stepped at epoch ends instead
  // of the scheduler (the per-batch and plateau ones included); with swa_lr unset the
  // scheduler goes on. Once the average holds an epoch, validation measures it as val_* and
  // the raw weights as raw_val_*. When fit() returns, swa_update_bn recomputes the
  // average's BatchNorm statistics in one pass over the training loader (update_bn; on each
  // rank's share under data parallelism). Checkpoints hold the average and SWALR's state.
  // Not together with ema_decay.
  CNNKIT_ARG(std::optional<int64_t>, swa_start) = std::nullopt;
  CNNKIT_ARG(std::optional<double>, swa_lr) = std::nullopt;
  CNNKIT_ARG(int64_t, swa_anneal_epochs) = 10;
  CNNKIT_ARG(std::string, swa_anneal_strategy) = "cos";
  CNNKIT_ARG(bool, swa_update_bn) = true;
  // Mixup / CutMix of every training batch (data::Mixup, timm's semantics): the loss sees
  // the mixed images and their (N, C) soft targets, so loss_fn must take class
  // probabilities (F::cross_entropy does); train accuracy is measured against the original
  // hard labels. Classification only; validation and evaluate() never mix.
  CNNKIT_ARG(std::optional<data::MixupOptions>, mixup) = std::nullopt;
  CNNKIT_ARG(bool, verbose) = true;       // progress bar and epoch lines
  CNNKIT_ARG(OStreamPtr, log_stream) = nullptr;  // progress and messages; nullptr: std::cout
};

struct EvaluateOptions {
  CNNKIT_ARG(Task, task) = Task::kClassification;
  CNNKIT_ARG(int64_t, num_classes) = 0;  // 0: the loader's dataset's classes(), else the output's width
  CNNKIT_ARG(int64_t, top_k) = 5;        // the top-k accuracy reported (1 = off)
  // Test-time augmentation: each batch also through these views ("hflip": flipped along the
  // width, "vflip": along the height), the softmax probabilities averaged over the original
  // and the views; metrics and loss come from the log of that average. Classification only
  // (ValueError otherwise, or for another name).
  CNNKIT_ARG(std::vector<std::string>, tta) = {};
  // Classification with (N, C >= 2) outputs on one process: also the ranking and calibration
  // metrics of the pass's softmax probabilities (Metrics::roc_auc_macro, ..., ece), which keep
  // every example's probabilities until the end of the pass.
  CNNKIT_ARG(bool, ranking) = false;
  // Temperature scaling (Guo et al. 2017): classification logits are divided by it before
  // the softmax, the loss and every metric (train::fit_temperature fits it on a validation
  // pass). 1: the raw logits. Accuracy and the ranking metrics do not change with it.
  CNNKIT_ARG(double, temperature) = 1.0;
};

// One pass of `model` over `loader` in eval mode without autograd (the module's training
// flag is restored after): the task's metrics and the mean loss. Trainer::evaluate is this
// with the trainer's model, loss and options; `cnnkit eval` calls it directly. A loader with
// num_replicas > 1 holds one rank's share: the metrics are then merged over every rank.
Metrics evaluate(nn::AnyModule model, data::DataLoader& loader, const LossFn& loss_fn, EvaluateOptions options = {});

// The outputs evaluate() scores, for one process's pass over `loader`: (N, C) with the
// temperature and test-time augmentation of `options` applied (the log of the averaged
// probabilities under TTA), and the (N) targets. What train::fit_temperature fits on.
struct EvaluationOutputs {
  Tensor outputs, targets;
};
EvaluationOutputs evaluation_outputs(nn::AnyModule model, data::DataLoader& loader, EvaluateOptions options = {});

// Per-epoch logs in order (epoch 0 first), including epochs before a resume.
struct History {
  std::vector<Logs> epochs;
  size_t size() const { return epochs.size(); }
  bool empty() const { return epochs.empty(); }
  const Logs& back() const { return epochs.back(); }
  const Logs& operator[](size_t i) const { return epochs[i]; }
  // One value per epoch (NaN where absent): history.get("val_loss").
  std::vector<double> get(const std::string& key) const;
};

class Trainer {
 public:
  Trainer(nn::AnyModule model, optim::Optimizer& optimizer, LossFn loss_fn, TrainerOptions options = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Stepped after every epoch (after validation) or after every optimisation step.
  void set_scheduler(std::shared_ptr<optim::LRScheduler> scheduler, SchedulerStep when = SchedulerStep::kEpoch);
  // ReduceLROnPlateau, stepped after every epoch with the logged value of `monitor`.
  void set_plateau_scheduler(std::shared_ptr<optim::ReduceLROnPlateauScheduler> scheduler,
                             std::string monitor = "val_loss");
  void add_callback(std::shared_ptr<Callback> callback);
  // The loss for training batches that carry sample weights (batch.weight defined); such a
  // batch without one set is a ValueError, never silently unweighted. Validation and
  // evaluation stay unweighted.
  void set_weighted_loss(WeightedLossFn loss) { weighted_loss_fn_ = std::move(loss); }
  // Trains data-parallel: `ddp` wraps this trainer's model (see the file comment).
  void set_distributed(std::shared_ptr<distributed::DistributedDataParallel> ddp);
  distributed::DistributedDataParallel* distributed() const { return ddp_.get(); }
  // Replaces the default progress bar (nullptr: none).
  void set_progress_bar(std::shared_ptr<ProgressBar> bar) { progress_ = std::move(bar); }

  History fit(data::DataLoader& train_loader, data::DataLoader* val_loader = nullptr);
  // One pass in eval mode without autograd; the module's training flag is restored after.
  Metrics evaluate(data::DataLoader& loader);

  // Restores everything a checkpoint holds. ValueError naming the file and the first
  // difference if it came from another model, or if it has scheduler state and this
  // trainer no scheduler (or the reverse); IOError if it is not a checkpoint.
  void resume(const std::string& path);
  io::Checkpoint checkpoint() const;                   // the run's state now
  // Atomically; remembered as last_checkpoint(). NonFiniteParameterError (nothing written)
  // if a parameter or buffer holds NaN or inf.
  void save_checkpoint(const std::string& path);
  const std::string& last_checkpoint() const { return last_checkpoint_; }

  // Ends training after the current epoch (callbacks call it; Keras's stop_training).
  void stop_training() { stop_ = true; }
  bool stop_requested() const { return stop_; }

  nn::AnyModule& model() { return model_; }
  // The moving average of the weights (TrainerOptions::ema_decay), or null.
  optim::swa_utils::AveragedModelImpl* ema() { return ema_ ? ema_.get() : nullptr; }
  // The stochastic weight average (TrainerOptions::swa_start), or null.
  optim::swa_utils::AveragedModelImpl* swa() { return swa_ ? swa_.get() : nullptr; }
  nn::Module& module() { return *module_; }
  optim::Optimizer& optimizer() { return optimizer_; }
  const TrainerOptions& options() const { return options_; }
  int64_t epoch() const { return epoch_; }        // epochs completed
  int64_t global_step() const { return step_; }   // optimisation steps done
  // Batches of epoch epoch() already trained when a mid-epoch checkpoint was resumed (0 at
  // an epoch boundary); fit() starts there.
  int64_t batches_into_epoch() const { return resume_batch_; }
  const History& history() const { return history_; }
  double lr() const;                              // the first parameter group's lr
  std::ostream& log() const;

 private:
  void check_output(const Tensor& output, const Tensor& target, const char* where) const;
  Tensor penalty() const;
  void finish_step(BatchLogs& bl);
  void resolve_num_classes(data::DataLoader& loader);
  void save_mid_epoch(const std::string& path, int64_t batch, int64_t batches, const std::vector<double>& metrics);

  nn::AnyModule model_;
  std::shared_ptr<nn::Module> module_;
  optim::Optimizer& optimizer_;
  LossFn loss_fn_;
  WeightedLossFn weighted_loss_fn_;
  TrainerOptions options_;
  std::vector<Tensor> parameters_;
  std::vector<Tensor> penalty_params_;

  std::shared_ptr<optim::LRScheduler> scheduler_;
  SchedulerStep scheduler_step_ = SchedulerStep::kEpoch;
  std::shared_ptr<optim::ReduceLROnPlateauScheduler> plateau_;
  std::string plateau_monitor_;
  std::vector<std::shared_ptr<Callback>> callbacks_;
  std::vector<std::string> callback_keys_;
  std::shared_ptr<ProgressBar> progress_;
  std::shared_ptr<distributed::DistributedDataParallel> ddp_;
  std::shared_ptr<optim::swa_utils::AveragedModelImpl> ema_;
  std::optional<data::Mixup> mixup_;
  std::shared_ptr<optim::swa_utils::AveragedModelImpl> swa_;
  std::shared_ptr<optim::swa_utils::SWALR> swalr_;  // from the first averaged epoch's end on

  History history_;
  int64_t epoch_ = 0, step_ = 0;
  int64_t num_classes_ = 0;
  bool stop_ = false;
  bool resumed_ = false;
  std::string last_checkpoint_;
  // A mid-epoch checkpoint's position (batches done, of how many) and the epoch's running
  // train-metric states (one per rank), consumed by the next fit().
  int64_t resume_batch_ = 0, resume_batches_ = 0;
  std::vector<std::vector<double>> resume_metrics_;
};

}  // namespace cnnkit::train
