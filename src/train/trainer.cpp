// The Trainer: fit/evaluate loops, the L1/L2 penalty, clipping, scheduler stepping,
// callbacks and checkpoint assembly/restoration. The per-step work is exactly a hand-written
// loop's (forward, loss, zero_grad, backward, step) plus one loss.item() and an O(N * C)
// metrics pass over the logits already computed; nothing else is allocated per step.
#include "cnnkit/train/trainer.h"

#include <fnmatch.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/data/dataloader.h"
#include "cnnkit/data/iterable.h"
#include "cnnkit/data/transforms.h"
#include "cnnkit/distributed/ddp.h"
#include "cnnkit/distributed/distributed.h"
#include "cnnkit/models/inference.h"
#include "cnnkit/nn/module.h"
#include "cnnkit/nn/modules/container/sequential.h"
#include "cnnkit/nn/utils/clip_grad.h"
#include "cnnkit/ops/factory.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/reduce.h"
#include "cnnkit/ops/shape.h"
#include "cnnkit/ops/softmax.h"
#include "cnnkit/optim/schedulers/reduce_on_plateau_scheduler.h"
#include "cnnkit/train/ranking.h"

namespace cnnkit::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string shape_str(IntArrayRef s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

// Keys of the trainer's own entries in Checkpoint::extra.
constexpr const char* kEpochKey = "trainer.epoch";
constexpr const char* kStepKey = "trainer.step";
constexpr const char* kRngKey = "rng.default";
constexpr const char* kHistoryPrefix = "history.";
constexpr const char* kCallbackPrefix = "callback.";
constexpr const char* kPlateauPrefix = "plateau.";
constexpr const char* kEmaPrefix = "ema.";
constexpr const char* kSwaPrefix = "swa.";
constexpr const char* kSwalrPrefix = "swalr.";
// A mid-epoch checkpoint's position (batches done of the epoch's batches) and every rank's
// running train-metric state ("trainer.train_metrics.<rank>": the doubles' bits as int64).
constexpr const char* kBatchKey = "trainer.batch";
constexpr const char* kBatchesKey = "trainer.batches";
constexpr const char* kMetricsPrefix = "trainer.train_metrics.";

// The streaming metrics of the task, behind one interface: one of the three is used.
class TaskMetrics {
 public:
  TaskMetrics(Task task, int64_t num_classes, int64_t top_k) : task_(task), cm_(num_classes, top_k), ml_(num_classes) {}
  void reset() {
    cm_.reset();
    rm_.reset();
    ml_.reset();
  }
  void update(const Tensor& out, const Tensor& target, double loss) {
    switch (task_) {
      case Task::kClassification: cm_.update(out, target, loss); break;
      case Task::kRegression: rm_.update(out, target, loss); break;
      case Task::kMultiLabel: ml_.update(out, target, loss); break;
    }
  }
  int64_t count() const {
    return task_ == Task::kClassification ? cm_.count() : task_ == Task::kRegression ? rm_.count() : ml_.count();
  }
  double running_loss() const {
    return task_ == Task::kClassification ? cm_.running_loss()
           : task_ == Task::kRegression   ? rm_.running_loss()
                                          : ml_.running_loss();
  }
  // The progress bar's "acc": single-label accuracy only (for multi-label the subset
  // accuracy is too harsh a number to watch per batch; the epoch line has the real metrics).
  double running_accuracy() const { return task_ == Task::kClassification ? cm_.running_accuracy() : Metrics::kNaN; }
  Metrics compute() const {
    return task_ == Task::kClassification ? cm_.compute() : task_ == Task::kRegression ? rm_.compute() : ml_.compute();
  }
  std::vector<double> state() const {
    return task_ == Task::kClassification ? cm_.state() : task_ == Task::kRegression ? rm_.state() : ml_.state();
  }
  void merge_state(const std::vector<double>& s) {
    switch (task_) {
      case Task::kClassification: cm_.merge_state(s); break;
      case Task::kRegression: rm_.merge_state(s); break;
      case Task::kMultiLabel: ml_.merge_state(s); break;
    }
  }
  // The metrics of every rank's pass, merged in rank order (the same result on every rank).
  Metrics compute_over_ranks(int64_t num_classes, int64_t top_k) const {
    const std::vector<double> mine = state();
    std::string bytes(reinterpret_cast<const char*>(mine.data()), mine.size() * sizeof(double));
    TaskMetrics all(task_, num_classes, top_k);
    for (const std::string& b : distributed::all_gather_object(bytes)) {
      std::vector<double> st(b.size() / sizeof(double));
      std::memcpy(st.data(), b.data(), st.size() * sizeof(double));
      all.merge_state(st);
    }
    return all.compute();
  }

 private:
  Task task_;
  ClassificationMetrics cm_;
  RegressionMetrics rm_;
  MultiLabelMetrics ml_;
};

// "1 NaN and 2 inf of its 512 values (the first in example 5 of the batch)", or "" when all
// are finite (integer tensors always are); TerminateOnNaN counts parameters the same way.
std::string non_finite_values(const Tensor& t) {
  if (!t.defined() || !is_floating_point(t.scalar_type()) || t.numel() == 0) return "";
  const Tensor c = t.to(kFloat).contiguous();  // float16/bfloat16 widen exactly, inf and NaN included
  const float* p = c.data_ptr<float>();
  const int64_t n = c.numel();
  int64_t nans = 0, infs = 0, first = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isfinite(p[i])) continue;
    if (first < 0) first = i;
    ++(std::isnan(p[i]) ? nans : infs);
  }
  if (first < 0) return "";
  std::ostringstream os;
  os << nans << " NaN and " << infs << " inf of its " << n << " values (the first in example "
     << (t.dim() > 0 ? first / std::max<int64_t>(1, n / t.size(0)) : 0) << " of the batch)";
  return os.str();
}

// Why a training step's loss came out NaN or inf (BatchLogs::non_finite_cause): the batch's
// data or target, else the loss function on a finite output, else the first layer of a
// Sequential model whose output is not finite, found by replaying the layers one by one on the
// step's (mixed) input in the step's mode (dropout draws its own masks). The generator and
// the buffers (BatchNorm's running statistics) are restored after, so a run that goes on is
// unchanged.
std::string non_finite_cause(nn::Module& module, const Tensor& data, const Tensor& target, const Tensor& input,
                             const Tensor& output) {
  if (std::string s = non_finite_values(data); !s.empty()) return "the batch's input is bad: " + s;
  if (std::string s = non_finite_values(target); !s.empty()) return "the batch's target is bad: " + s;
  if (non_finite_values(output).empty())
    return "the model's output is finite, so the loss function produced it (targets outside its domain?)";
  auto* seq = dynamic_cast<nn::SequentialImpl*>(&module);
  if (!seq) return "the model's output is not finite";
  std::vector<Tensor> buffers;
  for (const Tensor& b : module.buffers()) buffers.push_back(b.clone());
  std::string rng;
  {
    std::lock_guard<std::mutex> lock(default_generator().mutex());
    rng = default_generator().state();
  }
  std::string cause = "the model's output is not finite";
  {
    NoGradGuard no_grad;
    Tensor x = input;
    const auto children = seq->named_children();
    for (size_t i = 0; i < children.size(); ++i) {
      const Tensor y = (seq->begin() + static_cast<std::ptrdiff_t>(i))->forward(x);
      if (std::string s = non_finite_values(y); !s.empty()) {
        double largest = 0;
        for (const Tensor& p : children[i].value()->parameters())
          if (p.numel() > 0) largest = std::max(largest, cnnkit::abs(p.detach()).max().item<double>());
        std::ostringstream os;
        os << "layer '" << children[i].key() << "' (" << nn::type_name(*children[i].value())
           << ") is the first whose output is not finite, from a finite input: " << s;
        if (!children[i].value()->parameters().empty()) os << "; its largest |parameter| is " << largest;
        cause = os.str();
        break;
      }
      x = y;
    }
    std::vector<Tensor> now = module.buffers();
    for (size_t i = 0; i < now.size(); ++i) now[i].copy_(buffers[i]);
  }
  std::lock_guard<std::mutex> lock(default_generator().mutex());
  default_generator().set_state(rng);
  return cause;
}

int64_t parse_int(const std::string& s, const std::string& what) {
  try {
    size_t used = 0;
    long long v = std::stoll(s, &used);
    CNNKIT_CHECK(used == s.size(), what, ": expected an integer, got '", s, "'");
    return v;
  } catch (const std::logic_error&) {
    CNNKIT_CHECK(false, what, ": expected an integer, got '", s, "'");
  }
}

}  // namespace

std::vector<double> History::get(const std::string& key) const {
  std::vector<double> out;
  out.reserve(epochs.size());
  for (const auto& e : epochs) {
    auto it = e.find(key);
    out.push_back(it == e.end() ? Metrics::kNaN : it->second);
  }
  return out;
}

Trainer::Trainer(nn::AnyModule model, optim::Optimizer& optimizer, LossFn loss_fn, TrainerOptions options)
    : model_(std::move(model)), optimizer_(optimizer), loss_fn_(std::move(loss_fn)), options_(std::move(options)) {
  CNNKIT_CHECK(!model_.is_empty(), "Trainer: the model is empty");
  CNNKIT_CHECK(static_cast<bool>(loss_fn_), "Trainer: no loss function given");
  CNNKIT_CHECK(options_.epochs() >= 0, "Trainer: epochs must be >= 0, got ", options_.epochs());
  CNNKIT_CHECK(options_.l1() >= 0 && options_.l2() >= 0, "Trainer: l1 and l2 must be >= 0, got l1=", options_.l1(),
               ", l2=", options_.l2());
  CNNKIT_CHECK(!options_.grad_clip_norm() || *options_.grad_clip_norm() > 0,
               "Trainer: grad_clip_norm must be > 0, got ", options_.grad_clip_norm().value_or(0));
  CNNKIT_CHECK(!options_.grad_clip_value() || *options_.grad_clip_value() > 0,
               "Trainer: grad_clip_value must be > 0, got ", options_.grad_clip_value().value_or(0));
  CNNKIT_CHECK(options_.top_k() >= 1, "Trainer: top_k must be >= 1, got ", options_.top_k());
  CNNKIT_CHECK(options_.num_classes() >= 0, "Trainer: num_classes must be >= 0, got ", options_.num_classes());
  CNNKIT_CHECK(options_.ema_every() >= 1, "Trainer: ema_every must be >= 1, got ", options_.ema_every());
  module_ = model_.ptr();
  parameters_ = module_->parameters();
  if (options_.ema_decay())
    ema_ = std::make_shared<optim::swa_utils::AveragedModelImpl>(
        model_, optim::swa_utils::ema_avg_fn(*options_.ema_decay(), options_.ema_warmup()), /*use_buffers=*/true);
  if (options_.swa_start()) {
    CNNKIT_CHECK(!options_.ema_decay(), "Trainer: ema_decay and swa_start both average the weights; choose one");
    CNNKIT_CHECK(*options_.swa_start() >= 0, "Trainer: swa_start must be >= 0, got ", *options_.swa_start());
    CNNKIT_CHECK(!options_.swa_lr() || *options_.swa_lr() > 0, "Trainer: swa_lr must be > 0, got ",
                 options_.swa_lr().value_or(0));
    CNNKIT_CHECK(options_.swa_anneal_epochs() >= 0, "Trainer: swa_anneal_epochs must be >= 0, got ",
                 options_.swa_anneal_epochs());
    CNNKIT_CHECK(options_.swa_anneal_strategy() == "cos" || options_.swa_anneal_strategy() == "linear",
                 "Trainer: swa_anneal_strategy must be \"cos\" or \"linear\", got \"", options_.swa_anneal_strategy(),
                 "\"");
    swa_ = std::make_shared<optim::swa_utils::AveragedModelImpl>(model_, nullptr, /*use_buffers=*/true);
  }
  if (options_.mixup()) {
    CNNKIT_CHECK(options_.task() == Task::kClassification,
                 "Trainer: mixup mixes class labels; it needs a classification task");
    mixup_.emplace(*options_.mixup());
  }

  std::vector<std::string> unmatched = options_.penalty_params();
  for (const auto& item : module_->named_parameters()) {
    bool take;
    if (options_.penalty_params().empty()) {
      take = item.value().dim() > 1;
    } else {
      take = false;
      for (const auto& pattern : options_.penalty_params()) {
        if (fnmatch(pattern.c_str(), item.key().c_str(), 0) == 0) {
          take = true;
          std::erase(unmatched, pattern);
        }
      }
    }
    if (take) penalty_params_.push_back(item.value());
  }
  if (!unmatched.empty()) {
    std::string names;
    for (const auto& item : module_->named_parameters()) names += (names.empty() ? "" : ", ") + item.key();
    CNNKIT_CHECK(false, "Trainer: penalty_params pattern '", unmatched.front(),
                 "' matches no parameter of the model (parameters: ", names, ")");
  }
  if (options_.verbose()) progress_ = std::make_shared<ProgressBar>(ProgressBarOptions().stream(&log()));
}

Trainer::~Trainer() = default;

std::ostream& Trainer::log() const { return options_.log_stream() ? *options_.log_stream() : std::cout; }

double Trainer::lr() const {
  const auto& groups = optimizer_.param_groups();
  return groups.empty() ? Metrics::kNaN : groups[0].options().get_lr();
}

void Trainer::set_scheduler(std::shared_ptr<optim::LRScheduler> scheduler, SchedulerStep when) {
  scheduler_ = std::move(scheduler);
  scheduler_step_ = when;
}

void Trainer::set_plateau_scheduler(std::shared_ptr<optim::ReduceLROnPlateauScheduler> scheduler,
                                    std::string monitor) {
  plateau_ = std::move(scheduler);
  plateau_monitor_ = std::move(monitor);
}

void Trainer::set_distributed(std::shared_ptr<distributed::DistributedDataParallel> ddp) {
  CNNKIT_CHECK(ddp == nullptr || &ddp->module() == module_.get(),
               "Trainer::set_distributed: the DistributedDataParallel wraps another module than the trainer's");
  ddp_ = std::move(ddp);
}

void Trainer::add_callback(std::shared_ptr<Callback> callback) {
  CNNKIT_CHECK(callback != nullptr, "Trainer::add_callback: null callback");
  std::string key = callback->name();
  int n = 0;
  for (const auto& k : callback_keys_)
    if (k == key || k.rfind(key + "#", 0) == 0) ++n;
  if (n) key.append("#").append(std::to_string(n));
  callback_keys_.push_back(key);
  callbacks_.push_back(std::move(callback));
}

// ---- checks ----------------------------------------------------------------------------------

void Trainer::resolve_num_classes(data::DataLoader& loader) {
  if (options_.task() == Task::kRegression) return;
  if (options_.num_classes() > 0) num_classes_ = options_.num_classes();
  else if (num_classes_ == 0) num_classes_ = static_cast<int64_t>(loader.dataset().classes().size());
}

namespace {

// The output/target agreement a task needs, checked on every batch before the loss, so that
// a model with the wrong last layer fails with its shape, not deep inside a loss.
void check_task_output(Task task, int64_t num_classes_, const Tensor& out, const Tensor& target, const char* where) {
  if (task == Task::kMultiLabel) {
    CNNKIT_CHECK_SHAPE(target.dim() == 2 && target.is_floating_point(), "Trainer::", where,
                       ": multi-label targets must be float (N, C) of 0/1, got ", target.scalar_type(), " of shape ",
                       shape_str(target.sizes()));
    CNNKIT_CHECK_SHAPE(out.sizes() == target.sizes(), "Trainer::", where, ": the model's output has shape ",
                       shape_str(out.sizes()), " but the targets have shape ", shape_str(target.sizes()),
                       "; a multi-label model outputs one logit per label, (N, C)");
    CNNKIT_CHECK_SHAPE(num_classes_ == 0 || out.size(1) == num_classes_, "Trainer::", where,
                       ": the model's output has shape ", shape_str(out.sizes()), " for ", num_classes_,
                       " labels; expected (", out.size(0), ", ", num_classes_, ") — does the last layer have ",
                       num_classes_, " outputs?");
    return;
  }
  if (task == Task::kRegression) {
    bool ok = out.sizes() == target.sizes() ||
              (target.dim() == 1 && out.dim() == 2 && out.size(1) == 1 && out.size(0) == target.size(0));
    CNNKIT_CHECK_SHAPE(ok, "Trainer::", where, ": the model's output has shape ", shape_str(out.sizes()),
                       " but the targets have shape ", shape_str(target.sizes()),
                       "; a regression model must output the target's shape");
    return;
  }
  const int64_t n = target.dim() >= 1 ? target.size(0) : 1;
  if (target.scalar_type() == kLong) {
    CNNKIT_CHECK_SHAPE(target.dim() == 1, "Trainer::", where, ": classification targets must be class indices (N), got shape ",
                       shape_str(target.sizes()));
    CNNKIT_CHECK_SHAPE(out.dim() == 2 && out.size(0) == n, "Trainer::", where, ": the model's output has shape ",
                       shape_str(out.sizes()), " but the targets have shape ", shape_str(target.sizes()),
                       "; classification expects output (N, C) = (", n, ", C)");
    CNNKIT_CHECK_SHAPE(num_classes_ == 0 || out.size(1) == num_classes_, "Trainer::", where,
                       ": the model's output has shape ", shape_str(out.sizes()), " for ", num_classes_,
                       " classes; expected (", n, ", ", num_classes_, ") — does the last layer have ",
                       num_classes_, " outputs?");
  } else {
    // Probability / one-hot targets (N, C) or binary float targets (N) / (N, 1).
    CNNKIT_CHECK_SHAPE(out.dim() >= 1 && out.size(0) == n && out.numel() == target.numel(), "Trainer::", where,
                       ": the model's output has shape ", shape_str(out.sizes()), " but the targets have shape ",
                       shape_str(target.sizes()));
  }
}

}  // namespace

void Trainer::check_output(const Tensor& out, const Tensor& target, const char* where) const {
  check_task_output(options_.task(), num_classes_, out, target, where);
}

namespace {

// The classes an evaluation checks outputs against: the options', else the dataset's (0:
// the output's width).
int64_t eval_classes(const EvaluateOptions& options, data::DataLoader& loader) {
  if (options.num_classes() != 0 || options.task() == Task::kRegression) return options.num_classes();
  return static_cast<int64_t>(loader.dataset().classes().size());
}

// One pass of `model` over `loader` in eval mode without autograd (the training flag comes
// back after, also on a throw), calling fn(outputs, batch) with each batch's outputs as
// evaluate() scores them: logits / temperature, or under TTA the log of the views' averaged
// softmax.
void for_each_output(nn::AnyModule model, data::DataLoader& loader, const EvaluateOptions& options,
                        const std::function<void(const Tensor&, const data::Example<>&)>& fn) {
  for (const std::string& view : options.tta())
    CNNKIT_CHECK(view == "hflip" || view == "vflip", "evaluate: test-time augmentation '", view,
                 "' is not one of hflip, vflip");
  CNNKIT_CHECK(options.tta().empty() || options.task() == Task::kClassification,
               "evaluate: test-time augmentation averages class probabilities; a ",
               options.task() == Task::kRegression ? "regression" : "multi-label", " task has none");
  const double temperature = options.temperature();
  CNNKIT_CHECK(temperature > 0 && std::isfinite(temperature), "evaluate: the temperature must be positive and "
               "finite, got ", temperature);
  CNNKIT_CHECK(temperature == 1.0 || options.task() == Task::kClassification,
               "evaluate: temperature scaling divides class logits; a ",
               options.task() == Task::kRegression ? "regression" : "multi-label", " task has none");
  // logits / T, as calibrated probabilities are softmax(logits / T)
  auto scaled = [temperature](Tensor logits) { return temperature == 1.0 ? logits : logits / temperature; };
  const int64_t num_classes = eval_classes(options, loader);

  nn::Module& module = *model.ptr();  // put in eval mode for the pass, then back
  const bool was_training = module.is_training();
  module.eval();
  try {
    // A Sequential runs as optimised for inference (models/inference.h: batch norm folded, ReLU
    // and residual sums fused): the eval-mode outputs, in fewer passes over the activations.
    if (auto seq = std::dynamic_pointer_cast<nn::SequentialImpl>(model.ptr()))
      model = nn::AnyModule(models::optimize_for_inference(nn::Sequential(seq)));
    NoGradGuard no_grad;
    for (data::Example<>& batch : loader) {
      Tensor out = model.forward(batch.data);
      check_task_output(options.task(), num_classes, out, batch.target, "evaluate");
      out = scaled(out);
      if (!options.tta().empty()) {
        // log(mean of the views' softmax): a log-probability, so argmax, top-k and the
        // cross entropy (log_softmax of a log-probability is itself) read it as logits.
        Tensor probs = softmax(out, 1);
        for (const std::string& view : options.tta()) {
          namespace TF = data::transforms::functional;
          const Tensor x = view == "hflip" ? TF::hflip(batch.data) : TF::vflip(batch.data);
          probs = probs + softmax(scaled(model.forward(x)), 1);
        }
        out = cnnkit::log(probs / static_cast<double>(options.tta().size() + 1));
      }
      fn(out, batch);
    }
  } catch (...) {
    module.train(was_training);
    throw;
  }
  module.train(was_training);
}

Tensor class_indices(const Tensor& target) { return target.dim() == 2 ? target.argmax(1) : target.to(kLong); }

}  // namespace

Metrics evaluate(nn::AnyModule model, data::DataLoader& loader, const LossFn& loss_fn, EvaluateOptions options) {
  const int64_t num_classes = eval_classes(options, loader);
  TaskMetrics tm(options.task(), num_classes, options.top_k());
  const bool ranked = options.ranking() && options.task() == Task::kClassification && loader.options().num_replicas() == 1;
  std::vector<Tensor> pass_probs, pass_targets;  // the pass's softmax rows and class indices, for ranking
  for_each_output(std::move(model), loader, options, [&](const Tensor& out, const data::Example<>& batch) {
    tm.update(out, batch.target, loss_fn(out, batch.target).item<double>());
    if (ranked) {
      pass_probs.push_back(softmax(out, 1));
      pass_targets.push_back(class_indices(batch.target));
    }
  });
  if (loader.options().num_replicas() > 1) return tm.compute_over_ranks(num_classes, options.top_k());
  Metrics m = tm.compute();
  if (ranked && !pass_probs.empty() && pass_probs.front().dim() == 2 && pass_probs.front().size(1) >= 2) {
    const Tensor p = cat(pass_probs, 0), y = cat(pass_targets, 0);
    m.roc_auc = roc_auc_ovr(p, y);
    m.average_precision = average_precision_ovr(p, y);
    m.roc_auc_macro = nan_mean(m.roc_auc);
    m.average_precision_macro = nan_mean(m.average_precision);
    const Calibration cal = calibration(p, y);
    m.ece = cal.ece;
    m.reliability_count = cal.count;
    m.reliability_confidence = cal.confidence;
    m.reliability_accuracy = cal.accuracy;
  }
  return m;
}

EvaluationOutputs evaluation_outputs(nn::AnyModule model, data::DataLoader& loader, EvaluateOptions options) {
  std::vector<Tensor> outputs, targets;
  for_each_output(std::move(model), loader, options, [&](const Tensor& out, const data::Example<>& batch) {
    outputs.push_back(out.clone());
    targets.push_back(options.task() == Task::kClassification ? class_indices(batch.target) : batch.target.clone());
  });
  if (outputs.empty()) return {};
  return {cat(outputs, 0), cat(targets, 0)};
}

Tensor Trainer::penalty() const {
  Tensor total;
  for (const Tensor& p : penalty_params_) {
    Tensor t;
    if (options_.l1() > 0) t = cnnkit::norm(p, 1) * options_.l1();
    if (options_.l2() > 0) {
      Tensor t2 = cnnkit::norm(p, 2) * options_.l2();
      t = t.defined() ? t + t2 : t2;
    }
    total = total.defined() ? total + t : t;
  }
  return total;
}

// ---- loops -----------------------------------------------------------------------------------

History Trainer::fit(data::DataLoader& train_loader, data::DataLoader* val_loader) {
  resolve_num_classes(train_loader);
  if (!options_.output_dir().empty()) std::filesystem::create_directories(options_.output_dir());
  if (!resumed_ && epoch_ == 0 && options_.seed()) manual_seed(*options_.seed());
  stop_ = false;

  std::vector<Callback*> all;  // progress first, so callbacks' messages follow its epoch line
  if (progress_) all.push_back(progress_.get());
  for (auto& c : callbacks_) all.push_back(c.get());
  bool checkpoint_writer = false;  // a ModelCheckpoint writes <output_dir>/checkpoint_last
  std::string last_path;           // where the epoch ends write checkpoint_last (mid-epoch ones too)
  if (!options_.output_dir().empty()) last_path = options_.output_dir() + "/checkpoint_last.safetensors";
  for (auto& c : callbacks_) {
    auto* mc = dynamic_cast<ModelCheckpoint*>(c.get());
    if (mc && mc->last_path() == options_.output_dir() + "/checkpoint_last.safetensors") checkpoint_writer = true;
    if (mc && mc->options().save_last()) last_path = mc->last_path();
  }
  const bool mid_epoch = options_.checkpoint_every_steps() > 0 || options_.checkpoint_every_seconds() > 0;
  CNNKIT_CHECK(options_.checkpoint_every_steps() >= 0 && options_.checkpoint_every_seconds() >= 0,
               "Trainer::fit: checkpoint_every_steps and checkpoint_every_seconds must be >= 0 (0 = off), got ",
               options_.checkpoint_every_steps(), " and ", options_.checkpoint_every_seconds());
  // Data parallel, the ranks without the writing callback take part in the metric gathering.
  CNNKIT_CHECK(!mid_epoch || !last_path.empty() || (ddp_ && distributed::get_rank() != 0),
               "Trainer::fit: checkpoint_every_steps/_seconds need somewhere to write: set TrainerOptions().output_dir "
               "or add a ModelCheckpoint that saves the last checkpoint");

  if (ddp_ && dynamic_cast<const data::IterableDataset*>(&train_loader.dataset()) == nullptr) {
    CNNKIT_CHECK(train_loader.options().num_replicas() == static_cast<size_t>(distributed::get_world_size()) &&
                     train_loader.options().rank() == static_cast<size_t>(distributed::get_rank()),
                 "Trainer::fit: data-parallel training needs the training loader to hold this rank's share "
                 "(DataLoaderOptions().num_replicas(", distributed::get_world_size(), ").rank(",
                 distributed::get_rank(), ")), got num_replicas ", train_loader.options().num_replicas(), ", rank ",
                 train_loader.options().rank());
  }
  const bool sync_bn = ddp_ && distributed::uses_sync_batchnorm(*module_);
  if (sync_bn) {
    // SyncBatchNorm's forward is collective: every rank needs examples in every step.
    const size_t n = train_loader.dataset().size().value_or(0), world = train_loader.options().num_replicas();
    const size_t global_batch = train_loader.options().batch_size() * world, last = n % global_batch;
    CNNKIT_CHECK(train_loader.options().drop_last() || last == 0 || last >= world, "Trainer::fit: with SyncBatchNorm "
                 "every rank needs examples in every step, but the epoch's last global batch has ", last, " of ", n,
                 " examples for ", world, " ranks; drop the last batch (drop_last), or choose a batch size or a "
                 "training split that leaves at least one example per rank");
  }
  // Steps per epoch: over all ranks when data parallel (a rank may have a batch fewer).
  const int64_t batches = static_cast<int64_t>(ddp_ ? train_loader.global_size() : train_loader.size());
  if (auto* warm = dynamic_cast<optim::LinearWarmupLR*>(scheduler_.get())) {
    CNNKIT_CHECK(scheduler_step_ == SchedulerStep::kBatch,
                 "Trainer::fit: a LinearWarmupLR counts optimisation steps; set it with SchedulerStep::kBatch");
    CNNKIT_CHECK(warm->steps_per_epoch() == batches, "Trainer::fit: the LinearWarmupLR was built for ",
                 warm->steps_per_epoch(), " steps per epoch but the training loader has ", batches, " batches");
  }

  // A mid-epoch checkpoint is resumed on the loader it was written for.
  CNNKIT_CHECK(resume_batch_ == 0 || resume_batches_ == batches, "Trainer::fit: the checkpoint ", last_checkpoint_,
               " was written after batch ", resume_batch_, " of an epoch of ", resume_batches_,
               " batches, but the training loader has ", batches,
               " batches an epoch: resume with the data, batch size and ranks of the run that wrote it");

  for (Callback* c : all) c->on_train_begin(*this);
  TaskMetrics tm(options_.task(), num_classes_, options_.top_k());
  auto last_save = Clock::now();  // checkpoint_every_seconds counts from here and each checkpoint

  for (; epoch_ < options_.epochs() && !stop_; ) {
    const int64_t epoch = epoch_;
    auto t0 = Clock::now();
    for (Callback* c : all) c->on_epoch_begin(*this, epoch);
    train_loader.set_epoch(epoch);
    module_->train();
    tm.reset();
    BatchLogs bl;
    bl.epoch = epoch;
    bl.batches = batches;
    // A resumed mid-epoch checkpoint: the epoch goes on after its batch, with its metrics.
    int64_t b = std::exchange(resume_batch_, 0);
    if (b > 0) {
      train_loader.skip_batches(static_cast<size_t>(b));
      const size_t rank = ddp_ ? static_cast<size_t>(distributed::get_rank()) : 0;
      const size_t world = ddp_ ? static_cast<size_t>(distributed::get_world_size()) : 1;
      try {  // merge_state checks the state's length and class count
        if (resume_metrics_.size() == world) tm.merge_state(resume_metrics_[rank]);
        else if (rank == 0) for (const auto& s : resume_metrics_) tm.merge_state(s);  // another world size
      } catch (const Error&) {
        rethrow_with_prefix("Trainer::fit: the train metrics of checkpoint " + last_checkpoint_ + ": ");
      }
      resume_metrics_.clear();
    }
    const int64_t count_before = tm.count();  // images/s measures this process's batches
    auto it = train_loader.begin();
    const auto end = train_loader.end();
    for (;; ++b) {
      const bool have = it != end;
      bool save_due = false;  // data parallel: rank 0's clock, shared in the step's all-reduce
      if (ddp_) {
        // The step's examples over all ranks: each rank's share of the gradient, and the
        // end of the epoch when no rank has any left.
        const int64_t mine = have ? it->data.size(0) : 0;
        const bool late = options_.checkpoint_every_seconds() > 0 && distributed::get_rank() == 0 &&
                          seconds_since(last_save) >= options_.checkpoint_every_seconds();
        Tensor counts = cnnkit::tensor(std::vector<int64_t>{mine, mine == 0 ? 1 : 0, late ? 1 : 0});
        distributed::all_reduce(counts);  // examples, ranks without any, whether a checkpoint is due
        const int64_t total = counts.data_ptr<int64_t>()[0], empty_ranks = counts.data_ptr<int64_t>()[1];
        save_due = counts.data_ptr<int64_t>()[2] > 0;
        if (total == 0) break;
        CNNKIT_CHECK(!sync_bn || empty_ranks == 0, "Trainer::fit: with SyncBatchNorm every rank needs examples in "
                     "every step, but step ", step_, " (epoch ", epoch + 1, ") leaves ", empty_ranks,
                     " rank(s) without any: their shares of the data are uneven (a streamed dataset?)");
        if (!have) {
          optimizer_.zero_grad();
          ddp_->skip_step();
          finish_step(bl);
          if (mid_epoch && b + 1 < batches &&
              (save_due || (options_.checkpoint_every_steps() > 0 && step_ % options_.checkpoint_every_steps() == 0))) {
            save_mid_epoch(last_path, b + 1, batches, tm.state());
            last_save = Clock::now();
          }
          continue;
        }
        ddp_->set_gradient_weight(static_cast<double>(it->data.size(0)) / static_cast<double>(total));
        ddp_->prepare_forward();
      } else if (!have) {
        break;
      }
      data::Example<>& batch = *it;
      CNNKIT_CHECK_SHAPE(batch.data.numel() > 0, "Trainer::fit: batch ", b + 1, " of epoch ", epoch + 1,
                         " (global step ", step_ + 1, ") holds no values (data of shape ", batch.data.sizes(),
                         "): the dataset gave empty examples");
      Tensor input = batch.data, target = batch.target;
      if (mixup_) {
        CNNKIT_CHECK(!batch.weight.defined(), "Trainer::fit: the training batches carry sample weights, which "
                     "mixup cannot weigh (a mixed example holds two); drop the weights or the mixing");
        if (num_classes_ == 0) {
          // Neither the options nor the dataset name the classes: the output's width, from
          // one example in eval mode (no BatchNorm statistics move, no dropout draws).
          NoGradGuard no_grad;
          module_->eval();
          const Tensor probe = model_.forward(batch.data.narrow(0, 0, 1));
          module_->train();
          CNNKIT_CHECK_SHAPE(probe.dim() == 2, "Trainer::fit: mixup needs (N, C) class logits, got an output of shape ",
                             probe.sizes());
          num_classes_ = probe.size(1);
        }
        std::tie(input, target) = (*mixup_)(batch.data, batch.target, num_classes_);
      }
      Tensor out = model_.forward(input);
      check_output(out, batch.target, "fit");
      CNNKIT_CHECK(!batch.weight.defined() || weighted_loss_fn_, "Trainer::fit: the training batches carry sample "
                   "weights but no weighted loss is set (Trainer::set_weighted_loss)");
      Tensor loss = batch.weight.defined() ? weighted_loss_fn_(out, batch.target, batch.weight)
                                           : loss_fn_(out, target);
      const double lv = loss.item<double>();
      // The first step of a run of non-finite losses says where it came from, before the
      // step's update spreads it over the weights (a run that goes on without TerminateOnNaN
      // does not pay for the replay every step).
      const bool first_bad = !std::isfinite(lv) && (bl.step == 0 || std::isfinite(bl.loss));
      bl.non_finite_cause = first_bad ? non_finite_cause(*module_, batch.data, batch.target, input, out) : "";
      Tensor objective = loss;
      if (!penalty_params_.empty() && (options_.l1() > 0 || options_.l2() > 0)) objective = loss + penalty();
      optimizer_.zero_grad();
      objective.backward();
      finish_step(bl);

      tm.update(out, batch.target, lv);
      bl.batch = b;
      bl.step = step_;
      bl.batch_size = out.size(0);
      bl.samples = tm.count();
      bl.loss = lv;
      bl.running_loss = tm.running_loss();
      bl.running_accuracy = tm.running_accuracy();
      for (Callback* c : all) c->on_batch_end(*this, bl);
      if (mid_epoch && b + 1 < batches) {
        if (!ddp_) save_due = options_.checkpoint_every_seconds() > 0 &&
                              seconds_since(last_save) >= options_.checkpoint_every_seconds();
        if (save_due || (options_.checkpoint_every_steps() > 0 && step_ % options_.checkpoint_every_steps() == 0)) {
          save_mid_epoch(last_path, b + 1, batches, tm.state());
          last_save = Clock::now();
        }
      }
      ++it;
    }
    const double train_seconds = seconds_since(t0);

    Logs logs;
    logs["epoch"] = static_cast<double>(epoch + 1);
    logs["lr"] = bl.lr;
    const Metrics train_metrics = ddp_ ? tm.compute_over_ranks(num_classes_, options_.top_k()) : tm.compute();
    for (const auto& [k, v] : train_metrics.scalars()) {
      // Single-label training-time macro P/R/F1 come from changing weights; only val reports
      // them. Multi-label runs have no headline accuracy, so all of theirs are logged.
      if (options_.task() == Task::kClassification && k.rfind("macro_", 0) == 0) continue;
      logs["train_" + k] = v;
    }
    logs["images_per_second"] =
        train_seconds > 0 ? static_cast<double>(ddp_ ? train_metrics.count : tm.count() - count_before) / train_seconds : 0;
    if (ddp_) ddp_->sync_buffers();  // evaluate and save rank 0's running statistics everywhere
    const bool swa_epoch = swa_ && epoch >= *options_.swa_start();
    if (swa_epoch) swa_->update_parameters(*module_);
    if (val_loader) {
      Metrics vm = evaluate(*val_loader);
      optim::swa_utils::AveragedModelImpl* average = ema_ ? ema_.get() : swa_epoch ? swa_.get() : nullptr;
      if (ema_ || swa_) for (const auto& [k, v] : vm.scalars()) logs["raw_val_" + k] = v;
      if (average)
        vm = train::evaluate(average->module(), *val_loader, loss_fn_,  // a Sequential runs optimised
                             EvaluateOptions().task(options_.task()).num_classes(num_classes_).top_k(options_.top_k()));
      for (const auto& [k, v] : vm.scalars()) logs["val_" + k] = v;
    }
    if (swa_epoch && options_.swa_lr()) {
      // SWALR takes over from the first averaged epoch's end: built now, it anneals from the
      // lr the schedule reached (PyTorch's SWALR recovers that lr the same way).
      if (!swalr_)
        swalr_ = std::make_shared<optim::swa_utils::SWALR>(optimizer_, *options_.swa_lr(), options_.swa_anneal_epochs(),
                                                           options_.swa_anneal_strategy());
      swalr_->step();
    } else {
      if (scheduler_ && scheduler_step_ == SchedulerStep::kEpoch) scheduler_->step();
      if (plateau_) plateau_->step(static_cast<float>(monitored_value(logs, plateau_monitor_, "ReduceLROnPlateau")));
    }
    logs["seconds"] = seconds_since(t0);

    ++epoch_;
    history_.epochs.push_back(logs);
    for (Callback* c : all) c->on_epoch_end(*this, epoch, logs);
    for (Callback* c : all) c->on_epoch_saved(*this, epoch, logs);
    if (!options_.output_dir().empty() && !checkpoint_writer) {
      if (weights_finite(*module_)) save_checkpoint(options_.output_dir() + "/checkpoint_last.safetensors");
      else log() << "Trainer: epoch " << epoch + 1 << ": the weights hold NaN or inf; " << options_.output_dir()
                 << "/checkpoint_last.safetensors keeps the previous epoch\n";
    }
    last_save = Clock::now();
  }
  if (swa_ && options_.swa_update_bn() && swa_->n_averaged() > 0) {
    if (options_.verbose()) log() << "Trainer: recomputing the weight average's BatchNorm statistics (update_bn)\n";
    optim::swa_utils::update_bn(train_loader, swa_->module());
  }
  for (Callback* c : all) c->on_train_end(*this);
  return history_;
}

// After backward (or skip_step): clipping, the optimiser's step, a per-step scheduler.
void Trainer::finish_step(BatchLogs& bl) {
  if (options_.grad_clip_norm()) nn::utils::clip_grad_norm_(parameters_, *options_.grad_clip_norm());
  if (options_.grad_clip_value()) nn::utils::clip_grad_value_(parameters_, *options_.grad_clip_value());
  bl.lr = lr();
  optimizer_.step();
  if (scheduler_ && scheduler_step_ == SchedulerStep::kBatch && !swalr_) scheduler_->step();
  ++step_;
  if (ema_ && step_ % options_.ema_every() == 0) ema_->update_parameters(*module_);
}

// A checkpoint inside epoch epoch_ after `batch` of its `batches` batches, with the epoch's
// running train metrics of every rank (gathered here: every rank calls it at the same step).
void Trainer::save_mid_epoch(const std::string& path, int64_t batch, int64_t batches, const std::vector<double>& metrics) {
  std::vector<std::vector<double>> states{metrics};
  if (ddp_) {
    states.clear();
    const std::string mine(reinterpret_cast<const char*>(metrics.data()), metrics.size() * sizeof(double));
    for (const std::string& bytes : distributed::all_gather_object(mine)) {
      std::vector<double> s(bytes.size() / sizeof(double));
      std::memcpy(s.data(), bytes.data(), s.size() * sizeof(double));
      states.push_back(std::move(s));
    }
  }
  if (path.empty()) return;  // a data-parallel rank that does not write
  if (!weights_finite(*module_)) {
    log() << "Trainer: epoch " << epoch_ + 1 << " step " << batch << ": the weights hold NaN or inf; " << path
          << " keeps the previous checkpoint\n";
    return;
  }
  io::Checkpoint ck = checkpoint();
  ck.extra[kBatchKey] = std::to_string(batch);
  ck.extra[kBatchesKey] = std::to_string(batches);
  for (size_t r = 0; r < states.size(); ++r) {
    // The doubles' bits as int64 (safetensors readers widen F64 to the float32 of training).
    std::vector<int64_t> bits(states[r].size());
    std::memcpy(bits.data(), states[r].data(), bits.size() * sizeof(double));
    ck.extra_tensors[kMetricsPrefix + std::to_string(r)] = cnnkit::tensor(bits);
  }
  io::save_checkpoint(path, ck);
  last_checkpoint_ = path;
}

Metrics Trainer::evaluate(data::DataLoader& loader) {
  resolve_num_classes(loader);
  return train::evaluate(model_, loader, loss_fn_,
                         EvaluateOptions().task(options_.task()).num_classes(num_classes_).top_k(options_.top_k()));
}

// ---- checkpoints -----------------------------------------------------------------------------

io::Checkpoint Trainer::checkpoint() const {
  io::Checkpoint ck;
  ck.model = io::named_tensors(module_->state_dict());
  ck.optimizer = optimizer_.state_dict();
  if (scheduler_) ck.scheduler = scheduler_->state_dict();
  if (plateau_) {
    optim::StateDict p = plateau_->state_dict();
    for (auto& [k, v] : p.scalars) ck.scheduler.scalars[kPlateauPrefix + k] = v;
    for (auto& [k, v] : p.tensors) ck.scheduler.tensors[kPlateauPrefix + k] = v;
  }
  ck.extra[kEpochKey] = std::to_string(epoch_);
  ck.extra[kStepKey] = std::to_string(step_);
  {
    std::lock_guard<std::mutex> lock(default_generator().mutex());
    ck.extra[kRngKey] = default_generator().state();
  }
  for (size_t e = 0; e < history_.epochs.size(); ++e)
    for (const auto& [k, v] : history_.epochs[e])
      ck.extra[kHistoryPrefix + std::to_string(e) + "." + k] = io::format_double(v);
  if (ema_)
    for (const auto& item : ema_->state_dict()) ck.extra_tensors[kEmaPrefix + item.key()] = item.value().clone();
  if (swa_)
    for (const auto& item : swa_->state_dict()) ck.extra_tensors[kSwaPrefix + item.key()] = item.value().clone();
  if (swalr_) {
    optim::StateDict p = swalr_->state_dict();
    for (auto& [k, v] : p.scalars) ck.scheduler.scalars[kSwalrPrefix + k] = v;
    for (auto& [k, v] : p.tensors) ck.scheduler.tensors[kSwalrPrefix + k] = v;
  }
  for (size_t i = 0; i < callbacks_.size(); ++i) {
    CallbackState s;
    callbacks_[i]->save_state(s);
    const std::string prefix = kCallbackPrefix + callback_keys_[i] + ".";
    for (auto& [k, v] : s.values) ck.extra[prefix + k] = v;
    for (auto& [k, t] : s.tensors) ck.extra_tensors[prefix + k] = t;
  }
  return ck;
}

void Trainer::save_checkpoint(const std::string& path) {
  const std::string bad = first_non_finite(*module_);
  if (!bad.empty())
    throw NonFiniteParameterError("Trainer::save_checkpoint: '" + bad + "' holds NaN or inf after global step " +
                                      std::to_string(step_) + "; " + path + " not written" +
                                      (last_checkpoint_.empty() ? "" : " (the last good one is " + last_checkpoint_ + ")"),
                                  bad);
  io::save_checkpoint(path, checkpoint());
  last_checkpoint_ = path;
}

void Trainer::resume(const std::string& path) {
  io::Checkpoint ck = io::load_checkpoint(path);
  io::check_model_matches(path, ck, *module_);

  // Split the scheduler section into the LR scheduler's and the plateau scheduler's.
  optim::StateDict sched, plateau, swalr;
  auto route = [&](const std::string& k) -> std::pair<optim::StateDict*, std::string> {
    for (auto [prefix, dict] : {std::pair{kPlateauPrefix, &plateau}, std::pair{kSwalrPrefix, &swalr}})
      if (k.rfind(prefix, 0) == 0) return {dict, k.substr(std::strlen(prefix))};
    return {&sched, k};
  };
  for (auto& [k, v] : ck.scheduler.scalars) {
    auto [dict, key] = route(k);
    dict->scalars[key] = v;
  }
  for (auto& [k, v] : ck.scheduler.tensors) {
    auto [dict, key] = route(k);
    dict->tensors[key] = v;
  }
  const bool has_sched = !sched.scalars.empty() || !sched.tensors.empty();
  const bool has_plateau = !plateau.scalars.empty() || !plateau.tensors.empty();
  CNNKIT_CHECK(has_sched == (scheduler_ != nullptr), "Trainer::resume: checkpoint ", path,
               has_sched ? " holds LR scheduler state but this trainer has no scheduler: call set_scheduler() "
                           "before resume()"
                         : " holds no LR scheduler state but this trainer has a scheduler");
  CNNKIT_CHECK(has_plateau == (plateau_ != nullptr), "Trainer::resume: checkpoint ", path,
               has_plateau ? " holds ReduceLROnPlateau state but this trainer has none: call "
                             "set_plateau_scheduler() before resume()"
                           : " holds no ReduceLROnPlateau state but this trainer has a plateau scheduler");
  // A weight average (EMA or SWA): both or neither, each tensor with the averaged copy's shape.
  auto check_average = [&](const char* prefix, optim::swa_utils::AveragedModelImpl* avg, const char* what,
                           const char* option) {
    bool has = false;
    for (const auto& [k, t] : ck.extra_tensors) has |= k.rfind(prefix, 0) == 0;
    CNNKIT_CHECK(has == (avg != nullptr), "Trainer::resume: checkpoint ", path,
                 has ? std::string(" holds ") + what + " but this trainer keeps none: set TrainerOptions()." + option +
                           "(...) as in the run that wrote it"
                     : std::string(" holds no ") + what + " but this trainer keeps one (" + option +
                           "): it was written by a run without it");
    if (avg)
      for (const auto& item : avg->state_dict()) {
        auto it = ck.extra_tensors.find(prefix + item.key());
        CNNKIT_CHECK(it != ck.extra_tensors.end() && it->second.sizes() == item.value().sizes() &&
                         it->second.scalar_type() == item.value().scalar_type(),
                     "Trainer::resume: checkpoint ", path, ": ", what, "'s '", item.key(), "' is ",
                     it == ck.extra_tensors.end() ? std::string("missing") : "of another shape or type",
                     ": the checkpoint was written for another model");
      }
  };
  check_average(kEmaPrefix, ema_.get(), "a moving average of the weights (ema)", "ema_decay");
  check_average(kSwaPrefix, swa_.get(), "a stochastic weight average (swa)", "swa_start");
  auto need = [&](const char* key) -> const std::string& {
    auto it = ck.extra.find(key);
    CNNKIT_CHECK_T(IOError, it != ck.extra.end(), "Trainer::resume: checkpoint ", path, " lacks '", key,
                   "': it was not written by a Trainer");
    return it->second;
  };
  const int64_t epoch = parse_int(need(kEpochKey), path + ": " + kEpochKey);
  const int64_t step = parse_int(need(kStepKey), path + ": " + kStepKey);
  const std::string rng = need(kRngKey);
  // A mid-epoch checkpoint: where in epoch `epoch` it was written, and the epoch's train metrics.
  int64_t batch = 0, batches = 0;
  if (ck.extra.count(kBatchKey)) {
    batch = parse_int(need(kBatchKey), path + ": " + kBatchKey);
    batches = parse_int(need(kBatchesKey), path + ": " + kBatchesKey);
    CNNKIT_CHECK_T(IOError, batch > 0 && batch < batches, "Trainer::resume: checkpoint ", path, ": position ", batch,
                   " of ", batches, " batches is not inside an epoch");
    for (size_t r = 0;; ++r) {
      auto m = ck.extra_tensors.find(kMetricsPrefix + std::to_string(r));
      if (m == ck.extra_tensors.end()) break;
      CNNKIT_CHECK_T(IOError, m->second.scalar_type() == kLong && m->second.dim() == 1, "Trainer::resume: checkpoint ",
                     path, ": ", m->first, " is not the int64 vector a mid-epoch checkpoint writes");
    }
    CNNKIT_CHECK_T(IOError, ck.extra_tensors.count(std::string(kMetricsPrefix) + "0"), "Trainer::resume: checkpoint ",
                   path, " lacks the epoch's train metrics (", kMetricsPrefix, "0) that a mid-epoch checkpoint holds");
  }
  // SWALR exists from the end of the first averaged epoch on, when swa_lr is set.
  const bool has_swalr = !swalr.scalars.empty() || !swalr.tensors.empty();
  const bool want_swalr = swa_ && options_.swa_lr() && epoch > *options_.swa_start();
  CNNKIT_CHECK(has_swalr == want_swalr, "Trainer::resume: checkpoint ", path,
               has_swalr ? " holds SWALR state, but this trainer's swa_start/swa_lr would not have built SWALR by "
                           "epoch " + std::to_string(epoch) + ": resume with the options of the run that wrote it"
                         : " holds no SWALR state, but this trainer's swa_start/swa_lr would have built it by epoch " +
                               std::to_string(epoch) + ": resume with the options of the run that wrote it");

  // Each loader validates before it changes anything; should a later one fail, the earlier
  // ones are undone, so a failed resume leaves the trainer as it was.
  io::Checkpoint before;
  before.model = io::named_tensors(module_->state_dict());
  for (auto& [k, t] : before.model) t = t.clone();
  before.optimizer = optimizer_.state_dict();
  if (scheduler_) before.scheduler = scheduler_->state_dict();
  const optim::StateDict plateau_before = plateau_ ? plateau_->state_dict() : optim::StateDict{};
  try {
    io::load_model_state(path, ck, *module_);
    optimizer_.load_state_dict(ck.optimizer);
    if (scheduler_) scheduler_->load_state_dict(sched);
    if (plateau_) plateau_->load_state_dict(plateau);
    if (has_swalr) {
      swalr_ = std::make_shared<optim::swa_utils::SWALR>(optimizer_, *options_.swa_lr(), options_.swa_anneal_epochs(),
                                                         options_.swa_anneal_strategy());
      swalr_->load_state_dict(swalr);
    }
    std::lock_guard<std::mutex> lock(default_generator().mutex());
    default_generator().set_state(rng);  // validates before it changes the generator
  } catch (const Error&) {
    io::load_model_state(path, before, *module_);
    optimizer_.load_state_dict(before.optimizer);
    if (scheduler_) scheduler_->load_state_dict(before.scheduler);
    if (plateau_) plateau_->load_state_dict(plateau_before);
    swalr_.reset();
    rethrow_with_prefix("Trainer::resume: checkpoint " + path + ": ");
  }
  {
    NoGradGuard no_grad;
    if (ema_)
      for (auto& item : ema_->state_dict()) item.value().copy_(ck.extra_tensors.at(kEmaPrefix + item.key()));
    if (swa_)
      for (auto& item : swa_->state_dict()) item.value().copy_(ck.extra_tensors.at(kSwaPrefix + item.key()));
  }
  epoch_ = epoch;
  step_ = step;
  resume_batch_ = resume_batches_ = 0;
  resume_metrics_.clear();
  if (ck.extra.count(kBatchKey)) {
    resume_batch_ = batch;
    resume_batches_ = batches;
    for (size_t r = 0;; ++r) {
      auto m = ck.extra_tensors.find(kMetricsPrefix + std::to_string(r));
      if (m == ck.extra_tensors.end()) break;
      const Tensor t = m->second.contiguous();
      std::vector<double> state(static_cast<size_t>(t.numel()));
      std::memcpy(state.data(), t.data_ptr<int64_t>(), state.size() * sizeof(double));
      resume_metrics_.push_back(std::move(state));
    }
  }

  history_.epochs.assign(static_cast<size_t>(epoch), Logs{});
  for (const auto& [k, v] : ck.extra) {
    if (k.rfind(kHistoryPrefix, 0) != 0) continue;
    const std::string rest = k.substr(8);
    const size_t dot = rest.find('.');
    if (dot == std::string::npos) continue;
    const int64_t e = parse_int(rest.substr(0, dot), path + ": " + k);
    if (e >= 0 && e < epoch) history_.epochs[static_cast<size_t>(e)][rest.substr(dot + 1)] = io::parse_double(v, path + ": " + k);
  }
  for (size_t i = 0; i < callbacks_.size(); ++i) {
    const std::string prefix = kCallbackPrefix + callback_keys_[i] + ".";
    CallbackState s;
    for (const auto& [k, v] : ck.extra)
      if (k.rfind(prefix, 0) == 0) s.values[k.substr(prefix.size())] = v;
    for (const auto& [k, t] : ck.extra_tensors)
      if (k.rfind(prefix, 0) == 0) s.tensors[k.substr(prefix.size())] = t;
    callbacks_[i]->load_state(s);
  }
  resumed_ = true;
  last_checkpoint_ = path;
}

}  // namespace cnnkit::train
