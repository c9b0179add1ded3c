// Run configs: one YAML file says everything a training run needs (data, model, loss,
// optimiser, schedule, regularisation, early stopping, epochs, seed, output). This file
// parses and validates it into a typed RunConfig, applies `--set key.sub=value` overrides,
// writes the resolved config back as YAML, and builds each object the run needs from it,
// so the `cnnkit` command stays thin. It does not run the training loop (train::Trainer).
//
//   train::RunConfig cfg = train::load_run_config("configs/lenet5-fashion-mnist.yaml",
//                                                 {"optimizer.lr=0.1", "epochs=3"});
//   train::RunData data = train::build_datasets(cfg);      // train / val / test + normalize
//   nn::AnyModule model = train::build_model(cfg);
//   auto opt   = train::build_optimizer(cfg, model.ptr()->parameters());
//   auto sched = train::build_scheduler(cfg, *opt, steps_per_epoch);
//   train::save_resolved_config(cfg, run_dir + "/config.yaml");
//
// Every error is a cnnkit::ValueError naming the file, the line and the key:
//   "configs/x.yaml:12: unknown key 'lerning_rate' in optimizer (allowed: ...); did you mean 'lr'?"
//   "configs/x.yaml (after --set optimizer.lr=abc): key 'lr': expected a number, got 'abc'"
// Keys (defaults in the structs below; configs/*.yaml are commented examples):
//   data: dataset and its keys (root, paths {...}, label_column: DatasetSource), image_shape, split {val, stratified, seed}, subset {train,
//         test}, normalize (auto | none | {mean, std}), clean, batch_size, eval_batch_size,
//         workers, transforms {train: [...], eval: [...]}
//   model: {zoo: name, options...} or {layers: [...]} (models/builder.h); `model: lenet5`
//   loss: name + the PyTorch class's arguments; optimizer: name + PyTorch's argument names
//   scheduler: name + arguments, warmup {epochs, start_factor}
//   regularization {l1, l2, params}; early_stopping {enabled, monitor, patience, min_delta,
//   mode, restore_best_weights}; ema {decay, warmup, every}; swa {swa_start, swa_lr,
//   anneal_epochs, anneal_strategy, update_bn}; detect_anomaly; mixup {mixup_alpha, cutmix_alpha,
//   cutmix_minmax, prob, switch_prob, mode, correct_lam, label_smoothing}; tta [hflip, vflip]; epochs, seed, output_dir,
//   checkpoint_every (steps, or {steps, minutes}), grad_clip_norm, threads, name
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <variant>
#include <string>
#include <vector>

#include "cnnkit/core/arg.h"
#include "cnnkit/core/tensor.h"
#include "cnnkit/io/config_node.h"

#include "cnnkit/data/datasets/cifar.h"
#include "cnnkit/data/mixup.h"
#include "cnnkit/data/transforms.h"
#include "cnnkit/nn/modules/container/sequential.h"
#include "cnnkit/nn/options/loss.h"
#include "cnnkit/optim/optim.h"
#include "cnnkit/train/metrics.h"

namespace cnnkit {
namespace data {
class DatasetBase;
}
}  // namespace cnnkit

namespace cnnkit::train {

// One transform of a `data.transforms.train|eval` list: a torchvision class name and its
// keyword arguments (a mapping, possibly empty). Written in YAML as any of
//   - ToTensor                       - RandomCrop: {size: 28, padding: 2}
//   - {name: RandomHorizontalFlip, p: 0.5}
struct TransformSpec {
  std::string name;
  io::ConfigNode args;  // the keyword arguments as written (a mapping; nothing for none)
  int line = -1;    // 0-based line in the config file, -1 when made in code
};

// `data.dataset` and the keys it takes, one options type per reader: what its constructor
// needs to find the files. The config's keys are the members' names (`root`, and
// `paths.train` ... under `data.paths`); a key another dataset takes is an error, not ignored.
struct IdxSource {  // mnist, fashion-mnist: the four IDX files (gzipped or not) in `root`
  CNNKIT_ARG(std::string, root);
};
struct CifarSource {  // cifar10, cifar100: the binary batches in `root`
  CNNKIT_ARG(std::string, root);
  // cifar100: fine (100 classes, torchvision's targets) | coarse (20 superclasses)
  CNNKIT_ARG(data::datasets::CIFAR100::Label, label) = data::datasets::CIFAR100::Label::kFine;
};
struct ImageFolderSource {  // image-folder: class sub-folders in `train` / `test` (default root/train, root/test)
  CNNKIT_ARG(std::string, root);
  CNNKIT_ARG(std::string, train);
  CNNKIT_ARG(std::string, test);
};
struct NpySource {  // npy: images (N, C, H, W) or (N, H, W) and labels (N) .npy files
  CNNKIT_ARG(std::string, train_images);
  CNNKIT_ARG(std::string, train_labels);
  CNNKIT_ARG(std::string, test_images);
  CNNKIT_ARG(std::string, test_labels);
};
struct CsvSource {  // csv: one example a row, the target in `label_column`, pixels in the others
  CNNKIT_ARG(std::string, train);
  CNNKIT_ARG(std::string, test);
  CNNKIT_ARG(std::string, label_column) = "label";
};
struct ShardsSource {  // shards: tar shards (`cnnkit shard` writes them), read as a stream
  CNNKIT_ARG(std::string, train);  // a brace pattern: "out/train-{000000..000009}.tar"
  CNNKIT_ARG(std::string, test);
  // Optional: the validation shards. A stream cannot be split at random, so validation
  // holds out whole shards: paths {train: "d/train-{000000..000008}.tar", val: "d/train-000009.tar"}.
  CNNKIT_ARG(std::string, val);
  CNNKIT_ARG(int64_t, shuffle_buffer) = 1000;  // samples per loader worker (WebDataset's shuffle(n))
};
using DatasetSource = std::variant<IdxSource, CifarSource, ImageFolderSource, NpySource, CsvSource, ShardsSource>;

struct DataConfig {
  // fashion-mnist | mnist | cifar10 | cifar100 | image-folder | npy | csv | shards, and its source
  std::string dataset = "fashion-mnist";
  DatasetSource source = IdxSource().root("/usr/share/datasets/fashion-mnist");
  std::vector<int64_t> image_shape;  // csv: (C, H, W) of a row's pixels; npy: unused
  // Validation split of the training set (0 = none).
  double val_fraction = 0.1;
  bool stratified = true;
  uint64_t split_seed = 0;
  // Only the first N examples of train / test (0 = all): quick runs and tests.
  int64_t subset_train = 0;
  int64_t subset_test = 0;
  // Normalize: "auto" (per-channel mean/std of the training split), "none", or "explicit".
  std::string normalize = "auto";
  std::vector<double> mean, std;  // explicit values (and, in a saved run's config, auto's: train::resolved)
  bool clean = false;             // drop corrupt / non-finite / duplicate examples
  // What an example's target is: "label" (the dataset's), or "input": the example's own
  // input after the transforms (an autoencoder learns to reconstruct it; a regression loss).
  std::string target = "label";
  // Not a YAML key: the class names in label order when the caller knows them (`cnnkit
  // eval`: the model file's). build_datasets numbers image-folder and text-label csv
  // classes by it; empty = the training split's classes (listed from its folder or file
  // even when only the test split is loaded).
  std::vector<std::string> classes;
  // Not YAML keys either: the training and validation examples chosen by model selection (a
  // cross-validation fold, a bootstrap resample; indices into the training set after subset
  // and clean, repeats allowed in train_indices). When train_indices is set it replaces the
  // validation split; val_indices may be empty (no validation). A saved config.yaml does not
  // record them: cv.json / ensemble.json say how they were drawn.
  std::optional<std::vector<size_t>> train_indices;
  std::vector<size_t> val_indices;
  // One loss weight per train_indices entry (boosting's example weights), or empty: every
  // training example weighs 1. Set, the training examples carry them (data::Example::weight)
  // and Run::fit trains with build_weighted_loss.
  std::vector<double> sample_weights;
  // What the raw examples hold, resolved from the training split by build_datasets and saved
  // with the run (so in the model file), so that `predict` feeds an image file's 8-bit
  // pixels to the model exactly as training fed the dataset's values:
  //   uint8  - 8-bit images (IDX, CIFAR, image folders, uint8 npy); ToTensor scales to [0, 1]
  //   unit   - float values in [0, 1]: an image file's pixels / 255 match them
  //   pixels - float whole numbers in [0, 255] (csv pixel columns, float npy of pixels): an
  //            image file's pixels are used as they are, not divided by 255
  //   other  - floats in another range (input_range): predict takes no image files
  // Empty until resolved. Set in a config, build_datasets checks the data agree.
  std::string input_values;
  std::vector<double> input_range;  // [min, max] of the training split's raw values
  // Not YAML keys: this process's place in a distributed run (set from the MPI world). A
  // streamed training set (shards) is split over the ranks and each rank's loader workers
  // without overlap; validation and test streams are read whole by every rank.
  int64_t rank = 0, world_size = 1;
  int64_t batch_size = 64;
  int64_t eval_batch_size = 256;
  int64_t workers = 2;
  std::vector<TransformSpec> train_transforms;
  std::vector<TransformSpec> eval_transforms;
};

// The loss, optimiser and scheduler sections each name a PyTorch class and hold its
// arguments in the library's own options type, starting from that type's defaults (PyTorch's):
//   std::get<optim::SGDOptions>(cfg.optimizer.options).momentum()     // 0.9
//   std::get<nn::CrossEntropyLossOptions>(cfg.loss.options).label_smoothing()
// The config reads and writes them through one table per family (config.cpp), so a key,
// its default and its check exist once: in the options type and the class that takes it.
using LossOptions =
    std::variant<nn::CrossEntropyLossOptions, nn::NLLLossOptions, nn::MSELossOptions, nn::L1LossOptions,
                 nn::SmoothL1LossOptions, nn::HuberLossOptions, nn::BCELossOptions, nn::BCEWithLogitsLossOptions,
                 nn::MultiLabelSoftMarginLossOptions>;
struct LossConfig {
  std::string name = "CrossEntropyLoss";  // PyTorch class name
  LossOptions options = nn::CrossEntropyLossOptions();
};

using OptimizerOptions = std::variant<optim::SGDOptions, optim::AdamOptions, optim::AdamWOptions,
                                      optim::AdagradOptions, optim::RMSpropOptions>;
struct OptimizerConfig {
  std::string name = "SGD";  // SGD | Adam | AdamW | Adagrad | RMSprop
  OptimizerOptions options = optim::SGDOptions(0.01);
  double lr() const;
  double momentum() const;  // 0 for an optimiser without momentum
};

// none, or the scheduler's options. Two values are resolved when the run is built:
// CosineAnnealingLR's T_max 0 = the epochs after the warm-up, OneCycleLR's max_lr 0 = the
// optimiser's lr (its total_steps is always epochs x batches per epoch).
using SchedulerOptions =
    std::variant<std::monostate, optim::StepLROptions, optim::MultiStepLROptions, optim::ExponentialLROptions,
                 optim::CosineAnnealingLROptions, optim::CosineAnnealingWarmRestartsOptions,
                 optim::ReduceLROnPlateauOptions, optim::LinearLROptions, optim::OneCycleLROptions>;
struct SchedulerConfig {
  // none | StepLR | MultiStepLR | ExponentialLR | CosineAnnealingLR |
  // CosineAnnealingWarmRestarts | ReduceLROnPlateau | LinearLR | OneCycleLR
  std::string name = "none";
  SchedulerOptions options;
  std::string monitor = "val_loss";  // ReduceLROnPlateau: the metric it steps on
  // Linear warm-up before the schedule, ramped per step (optim::LinearWarmupLR).
  int64_t warmup_epochs = 0;
  double warmup_start_factor = 0.1;
  // build_scheduler's scheduler is stepped per batch: OneCycleLR, and any warm-up.
  bool per_batch() const { return name == "OneCycleLR" || warmup_epochs > 0; }
};

struct RegularizationConfig {
  double l1 = 0.0;               // lambda of sum |w| added to the loss
  double l2 = 0.0;               // lambda of sum w^2 added to the loss
  std::string params = "weights";  // weights (dims >= 2, no biases or norms) | all
};

struct EarlyStoppingConfig {
  bool enabled = false;
  std::string monitor = "val_loss";
  int64_t patience = 5;
  double min_delta = 0.0;
  std::string mode = "auto";  // min | max | auto (max for accuracies)
  bool restore_best_weights = true;
};

// Data parallel under `mpirun -np N cnnkit train` (ignored by one process): data.batch_size
// stays the global batch, each rank taking batch_size / N.
struct DistributedConfig {
  double bucket_cap_mb = 25;    // gradient bucket size (DistributedDataParallelOptions)
  bool sync_batchnorm = false;  // BatchNorm statistics over all ranks (convert_sync_batchnorm)
};

// An exponential moving average of the weights (optim::swa_utils::AveragedModel with
// ema_avg_fn, BatchNorm statistics averaged too): validated, checkpointed and shipped as
// the run's model (see TrainerOptions::ema_decay). `ema: 0.999` is {decay: 0.999}.
struct EmaConfig {
  bool enabled = false;
  double decay = 0.999;
  bool warmup = false;  // decay min(decay, (1 + n) / (10 + n)) after n updates
  int64_t every = 1;    // optimisation steps between updates
};

// Stochastic weight averaging (TrainerOptions::swa_start): `swa: {swa_start: 12, swa_lr: 0.01}`
// averages the weights at the end of every epoch from epoch swa_start on (epochs counted
// from 0 as in PyTorch's loops; the run's epoch lines count from 1), anneals the lr to swa_lr
// with SWALR instead of the scheduler, recomputes the average's BatchNorm statistics at the
// end (update_bn), and ships the average.
struct SwaConfig {
  bool enabled = false;
  int64_t swa_start = 0;
  std::optional<double> swa_lr;  // none: the scheduler goes on
  int64_t anneal_epochs = 10;
  std::string anneal_strategy = "cos";
  bool update_bn = true;
};

// Mixup / CutMix of the training batches (data::MixupOptions, timm's keys and defaults):
// `mixup: {mixup_alpha: 0.2, cutmix_alpha: 1.0, switch_prob: 0.5, label_smoothing: 0.1}`.
// Needs loss CrossEntropyLoss (its class-probability targets carry the mixed labels) and a
// classification task; label smoothing belongs to one of loss and mixup, not both.

struct RunConfig {
  std::string name;    // the config file's stem ("lenet5-fashion-mnist")
  std::string source;  // the file it was read from ("" when made in code)
  DataConfig data;
  io::ConfigNode model;  // the `model:` section as written (`model: lenet5` = {zoo: lenet5}), for models::build
  LossConfig loss;
  OptimizerConfig optimizer;
  SchedulerConfig scheduler;
  RegularizationConfig regularization;
  EarlyStoppingConfig early_stopping;
  EmaConfig ema;
  SwaConfig swa;
  std::optional<data::MixupOptions> mixup;  // none: no mixing
  // Test-time augmentation of the run's final validation and test metrics and of `cnnkit
  // eval`: views "hflip" / "vflip" averaged with the original (EvaluateOptions::tta).
  std::vector<std::string> tta;
  DistributedConfig distributed;
  // autograd::AnomalyMode for the run's training: the first backward op that returns a NaN
  // stops it with its name (slower; a debugging switch).
  bool detect_anomaly = false;
  // Mid-epoch checkpoints (TrainerOptions::checkpoint_every_steps/_seconds) for long epochs:
  // `checkpoint_every: 500` (steps) or `checkpoint_every: {steps: 500, minutes: 10}`; 0 = off.
  // `cnnkit train --resume` then continues from the last one, bit for bit.
  int64_t checkpoint_every_steps = 0;
  double checkpoint_every_minutes = 0;
  int64_t epochs = 10;
  uint64_t seed = 0;
  std::string output_dir;                // "" = runs/<name>-<timestamp>
  std::optional<double> grad_clip_norm;  // clip_grad_norm_ max_norm; none when unset
  // Threads for the math (set_num_threads); 0 = CNNKIT_NUM_THREADS or every core; -1 =
  // `threads: auto`: `cnnkit train` times a few training steps of the model at 1, 2, 4 ...
  // cores threads and keeps the fastest (small models are often faster on one: OpenMP
  // fork/join costs more than it saves on some machines and not on others).
  int64_t threads = 0;
  // What applying the overrides changed besides the key itself ("--set optimizer.name=Adam:
  // dropped optimizer.momentum (Adam does not take it)"); not part of the saved config.
  std::vector<std::string> notes;
};

// Reads, overrides, validates and fills defaults. `overrides` are "a.b.c=value" strings
// (value parsed as a YAML scalar or flow collection: 0.1, true, [3, 5], {p: 0.5}).
// Throws IOError for an unreadable file or malformed YAML (naming the file and line),
// ValueError for anything invalid (naming file, line and key; for a --set, the override).
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});

// The same from YAML text; `file` names it in messages.
RunConfig parse_run_config(const std::string& yaml_text, const std::string& file,
                           const std::vector<std::string>& overrides = {});

// The resolved config (defaults filled in) as YAML text; parse_run_config() of it gives the
// same config back.
std::string to_yaml_string(const RunConfig& cfg);
// Writes to_yaml_string(cfg) to `path` atomically (temporary file + rename).
void save_resolved_config(const RunConfig& cfg, const std::string& path);

// ---- reading a config -------------------------------------------------------------------

// Every scalar of the config's YAML (to_yaml) under its dotted path ("optimizer.lr" ->
// "0.03"); lists of scalars stay one value ("[3, 5]").
std::map<std::string, std::string> flatten_config(const RunConfig& cfg);

// "SGD lr 0.1 momentum 0.9 nesterov weight_decay 0.0005": the optimiser and the arguments
// that differ from its defaults; "CosineAnnealingLR (warm-up 5 epochs)" likewise.
std::string describe_optimizer(const RunConfig& cfg);
std::string describe_scheduler(const RunConfig& cfg);

// The metric ReduceLROnPlateau steps on ("val_loss" unless configured); "" for other schedulers.
std::string plateau_monitor(const RunConfig& cfg);
// build_scheduler's scheduler is stepped per batch: OneCycleLR, and any warm-up.
bool scheduler_per_batch(const RunConfig& cfg);

// What the `model:` section names: the zoo model (empty for a `layers:` list) and its
// `blocks` when given.
struct ModelDescription {
  std::string zoo;
  std::vector<int64_t> blocks;
};
ModelDescription describe_model(const RunConfig& cfg);

// ---- building the run's objects from the config ----------------------------------------

// The task the loss implies: CrossEntropyLoss / NLLLoss classify (int64 class targets);
// BCELoss / BCEWithLogitsLoss / MultiLabelSoftMarginLoss are multi-label (0/1 target rows);
// MSELoss, L1Loss, SmoothL1Loss, HuberLoss regress. It picks the metrics, the monitor of the
// best checkpoint and what eval and predict print.
Task task_of(const RunConfig& cfg);
Task task_of_loss(const std::string& loss_name);

// The model from the `model:` section (models::build: `zoo: name` with options, or
// `layers: [...]`), after manual_seed(cfg.seed), so a run's initial weights depend on its
// seed only. input_shape (C, H, W), when known, lets the builder infer channel counts and
// check shapes layer by layer before training.
nn::Sequential build_model(const RunConfig& cfg, const std::vector<int64_t>& input_shape = {});

// The loss as a function of (logits, targets), reduction as configured.
using LossFn = std::function<Tensor(const Tensor&, const Tensor&)>;
LossFn build_loss(const RunConfig& cfg);
LossFn build_loss(const LossConfig& loss);
// The same loss weighted per example (Trainer::set_weighted_loss): the class's per-example
// losses l_i (reduction none; averaged over an example's elements for element-wise losses),
// combined as sum_i w_i l_i / sum_i w_i, whatever the configured reduction.
std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)> build_weighted_loss(const LossConfig& loss);

std::unique_ptr<optim::Optimizer> build_optimizer(const RunConfig& cfg,
                                                  const std::vector<Tensor>& params);

// The LR scheduler, or nullptr for "none" and ReduceLROnPlateau (see build_plateau_scheduler)
// without a warm-up. Stepped per batch when SchedulerConfig::per_batch() (OneCycleLR; any
// warm-up: an optim::LinearWarmupLR that ramps per step, then runs the schedule on epoch
// boundaries, or holds the lr for ReduceLROnPlateau / none), else per epoch. steps_per_epoch
// (the training loader's batches) is needed for those; ValueError for a warm-up with OneCycleLR.
std::shared_ptr<optim::LRScheduler> build_scheduler(const RunConfig& cfg, optim::Optimizer& opt,
                                                    int64_t steps_per_epoch);
// ReduceLROnPlateau when configured (stepped with cfg.scheduler.monitor), else nullptr.
std::shared_ptr<optim::ReduceLROnPlateauScheduler> build_plateau_scheduler(const RunConfig& cfg,
                                                                           optim::Optimizer& opt);

// One transform from its spec (names and arguments as torchvision; ValueError naming the
// config line for an unknown name or argument), and a split's whole pipeline: the listed
// transforms, ToTensor at the end unless listed, then Normalize(mean, std) when set.
data::transforms::AnyTransform build_transform(const TransformSpec& spec, const std::string& file);
data::transforms::Compose build_pipeline(const RunConfig& cfg, bool train);

// The datasets of a run: train (after the validation split), val (may be null), test, with
// transforms applied (train augmentation; eval transforms for val and test), class names,
// and what building resolved from the data: the input shape (C, H, W), the normalisation
// in effect, the kind of input values. The split is the data layer's (data::stratified_split
// for classification when data.split.stratified, else data::random_split, seeded with
// data.split.seed) and the statistics data::compute_mean_std's of the training split after
// the eval transforms (rounded to 4 significant digits), so the C++ API gives the same.
struct RunData {
  std::shared_ptr<data::DatasetBase> train, val, test;
  std::vector<std::string> classes;
  std::vector<int64_t> input_shape;  // (C, H, W) after the eval transforms
  std::vector<double> mean, std;     // empty when not normalised
  std::string input_values;          // DataConfig::input_values resolved ("" without the training split)
  std::vector<double> input_range;
  // Indices into the training set (after subset and clean) of the two sides of the split;
  // empty without a validation split.
  std::vector<size_t> train_indices, val_indices;
  // The whole training set those indices point into (after subset and clean), untransformed;
  // null when only the test split was loaded. Model selection cuts its folds and resamples
  // from it and reads its labels without running the transforms.
  std::shared_ptr<data::DatasetBase> train_source;
  std::vector<std::string> report;   // what cleaning / splitting did, one line each
};
// `need_train` false loads only the test set (eval). The config is not changed.
RunData build_datasets(const RunConfig& cfg, bool need_train = true);

// The config with what build_datasets resolved recorded in it (normalize: auto's statistics,
// image_shape, input_values/input_range): the config.yaml a run saves, which gives the same
// run again and lets eval / predict preprocess exactly as training did.
RunConfig resolved(RunConfig cfg, const RunData& data);

// The eval transforms (and normalisation) applied to one decoded image (C, H, W) uint8:
// what `cnnkit predict` feeds the model. cfg.data.mean/std must be resolved (a saved run's
// config has them).
Tensor preprocess_image(const RunConfig& cfg, const Tensor& image);

}  // namespace cnnkit::train
