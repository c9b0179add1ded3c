// train::Run: the run layer every `cnnkit` verb calls. Run assembly (datasets, loaders,
// model, loss, optimiser, scheduler, callbacks), the run directory, resume, model files and
// the summary live here; the CLI parses arguments and prints.
#include "cnnkit/train/run.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <thread>

#include "cnnkit/autograd/anomaly_mode.h"
#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/data/dataloader.h"
#include "cnnkit/data/datasets/labeled.h"
#include "cnnkit/data/image.h"
#include "cnnkit/data/iterable.h"
#include "cnnkit/data/transforms.h"
#include "cnnkit/distributed/ddp.h"
#include "cnnkit/distributed/distributed.h"
#include "cnnkit/io/checkpoint.h"
#include "cnnkit/io/file.h"
#include "cnnkit/io/onnx.h"
#include "cnnkit/io/safetensors.h"
#include "cnnkit/models/inference.h"
#include "cnnkit/models/summary.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/nn/modules/container/ensemble.h"
#include "cnnkit/ops/ops.h"
#include "cnnkit/optim/optim.h"
#include "cnnkit/train/callbacks.h"
#include "cnnkit/train/progress.h"
#include "cnnkit/train/ranking.h"
#include "train/families.h"

namespace cnnkit::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kMetaConfig = "cnnkit.config";
constexpr const char* kMetaClasses = "cnnkit.classes";
constexpr const char* kMetaTemperature = "cnnkit.temperature";
constexpr const char* kMetaEnsemble = "cnnkit.ensemble";
// The files a run directory holds; a directory with any of them is a run.
constexpr const char* kRunFiles[] = {"config.yaml", "metrics.csv", "steps.csv",   "summary.txt",
                                     "model.safetensors", "checkpoints", "report.html", "figures"};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}


std::string percent(double x) { return std::isnan(x) ? "-" : fmt::format("{:.2f}%", 100 * x); }
std::string num(double x, int digits = 4) { return std::isnan(x) ? "-" : fmt::format("{:.{}f}", x, digits); }

double log_value(const Logs& logs, const char* key) {
  const auto it = logs.find(key);
  return it == logs.end() ? NAN : it->second;
}

int64_t count_parameters(nn::Module& m) {
  int64_t n = 0;
  for (const Tensor& p : m.parameters()) n += p.numel();
  return n;
}

// ---- the run directory -----------------------------------------------------------------

std::vector<std::string> run_files_in(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const char* f : kRunFiles)
    if (fs::exists(dir / f, ec)) found.push_back(f);
  return found;
}

// The exclusive claim of one `cnnkit train` on a run directory: flock on DIR/.lock, held
// until the process ends (the kernel drops it when the process dies, SIGKILL included), so
// two processes never interleave one run's files. The file holds the holder's pid, for the
// message the second one prints.
class RunDirLock {
 public:
  explicit RunDirLock(const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    CNNKIT_CHECK_IO(!ec, "cannot create the run directory ", dir, ": ", ec.message());
    path_ = (fs::path(dir) / ".lock").string();
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    CNNKIT_CHECK_IO(fd_ >= 0, "cannot create the run directory's lock ", path_, ": ", std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      char buf[32] = {};
      const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
      const std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("?");
      ::close(fd_);
      fd_ = -1;
      throw IOError(fmt::format("run directory {} is in use by another cnnkit process (pid {}, holding {}); two "
                                "processes would interleave its checkpoints and logs. Wait for it to end, or use "
                                "another output_dir",
                                dir, holder.substr(0, holder.find('\n')), path_));
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
  }
  ~RunDirLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock; the file stays (removing it would race)
  }
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

// A new run's directory: output_dir, or runs/<name>-<time> (-2, -3... when taken). An
// output_dir that already holds a run is refused unless `overwrite`, which removes the old
// run's files (and only those).
std::string new_run_dir(const RunConfig& cfg, bool overwrite) {
  std::error_code ec;
  if (cfg.output_dir.empty()) {
    const std::string base = "runs/" + cfg.name + "-" + local_timestamp();
    std::string dir = base;
    for (int i = 2; fs::exists(dir, ec); ++i) dir = base + "-" + std::to_string(i);
    return dir;
  }
  const fs::path dir = fs::path(cfg.output_dir).lexically_normal();
  const std::vector<std::string> found = run_files_in(dir);
  if (!found.empty()) {
    if (!overwrite)
      throw ValueError(fmt::format("output directory {} already holds a run ({}): pass --overwrite to replace it, "
                                   "or --resume {} to continue it",
                                   dir.string(), join(found, ", "), dir.string()));
    for (const std::string& f : found) fs::remove_all(dir / f);
  }
  return dir.string();
}

// ---- model files -----------------------------------------------------------------------

// Loads a state dict or a training checkpoint into `module`; ValueError naming the file when
// it was saved from another model (the first difference, not pages of keys).
void load_weights_into(const std::string& path, nn::Module& module) {
  const io::Metadata meta = io::load_safetensors_metadata(path);
  const auto fmt_it = meta.find("cnnkit.format");
  if (fmt_it != meta.end() && fmt_it->second == io::kCheckpointFormat) {
    const io::Checkpoint ck = io::load_checkpoint(path);
    io::load_model_state(path, ck, module);
    return;
  }
  const io::TensorMap tensors = io::load_safetensors(path);
  const auto expected = module.state_dict();
  auto shape = [](IntArrayRef s) { return fmt::format("[{}]", fmt::join(s, ", ")); };
  for (const auto& item : expected) {
    const auto it = tensors.find(item.key());
    if (it == tensors.end())
      throw ValueError(fmt::format("model file {} was saved from another model: it has no '{}' (the file holds {} "
                                   "tensors, the model expects {})",
                                   path, item.key(), tensors.size(), expected.size()));
    if (it->second.sizes() != item.value().sizes())
      throw ValueError(fmt::format("model file {} was saved from another model: '{}' has shape {}, the model "
                                   "expects {}",
                                   path, item.key(), shape(it->second.sizes()), shape(item.value().sizes())));
  }
  for (const auto& [key, t] : tensors)
    if (!expected.contains(key))
      throw ValueError(fmt::format("model file {} was saved from another model: unexpected tensor '{}'", path, key));
  module.load_state_dict(tensors, /*strict=*/true);
}

// ---- what a run prints -----------------------------------------------------------------

// One row an epoch: lr, losses and the task's headline metrics.
std::string epoch_table(const History& h, Task task) {
  struct Column {
    const char* title;
    const char* key;
    bool is_percent;
  };
  std::vector<Column> cols;
  switch (task) {
    case Task::kClassification:
      cols = {{"train_acc", "train_accuracy", true}, {"val_loss", "val_loss", false}, {"val_acc", "val_accuracy", true}};
      break;
    case Task::kRegression:
      cols = {{"val_loss", "val_loss", false}, {"val_mae", "val_mae", false}, {"val_r2", "val_r2", false}};
      break;
    case Task::kMultiLabel:
      cols = {{"val_loss", "val_loss", false}, {"val_microF1", "val_micro_f1", false},
              {"val_macroF1", "val_macro_f1", false}};
      break;
  }
  std::string out = fmt::format("{:>5} {:>10} {:>10}", "epoch", "lr", "train_loss");
  for (const Column& c : cols) out += fmt::format(" {:>11}", c.title);
  out += fmt::format(" {:>8}\n", "time");
  for (size_t i = 0; i < h.size(); ++i) {
    const Logs& l = h[i];
    out += fmt::format("{:>5} {:>10.4g} {:>10}", i + 1, log_value(l, "lr"), num(log_value(l, "train_loss")));
    for (const Column& c : cols)
      out += fmt::format(" {:>11}", c.is_percent ? percent(log_value(l, c.key)) : num(log_value(l, c.key)));
    out += fmt::format(" {:>8}\n", format_duration(log_value(l, "seconds")));
  }
  return out;
}

std::string optimizer_line(const RunConfig& cfg) {
  return describe_optimizer(cfg) + "; scheduler " + describe_scheduler(cfg) +
         fmt::format("; loss {}; epochs {}; seed {}", cfg.loss.name, cfg.epochs, cfg.seed);
}

// ---- callbacks the run adds ------------------------------------------------------------

// Stops after the step in flight when the flag is set (a signal handler sets it).
class StopWhenAsked : public Callback {
 public:
  explicit StopWhenAsked(const std::atomic<int>* flag) : flag_(flag) {}
  std::string name() const override { return "stop_when_asked"; }
  void on_batch_end(Trainer& trainer, const BatchLogs& /*logs*/) override {
    if (flag_->load() != 0)
      throw Interrupted(fmt::format("interrupted in epoch {} after {} optimisation steps", trainer.epoch() + 1,
                                    trainer.global_step()));
  }

 private:
  const std::atomic<int>* flag_;
};

// No progress bar: one line an epoch ("epoch 3/10  train_loss 0.412  val_accuracy 86.10%  12.3s").
class EpochLines : public Callback {
 public:
  EpochLines(std::ostream& out, int64_t epochs) : out_(out), epochs_(epochs) {}
  std::string name() const override { return "epoch_lines"; }
  void on_epoch_end(Trainer& /*trainer*/, int64_t epoch, const Logs& logs) override {
    // The loss and the task's headline metrics; metrics.csv has every logged value.
    static constexpr const char* kKeys[] = {"train_loss", "train_accuracy", "val_loss",     "val_accuracy",
                                            "val_mae",    "val_r2",         "val_micro_f1", "val_macro_f1"};
    std::string line = fmt::format("epoch {}/{}", epoch + 1, epochs_);
    for (const char* key : kKeys) {
      const auto it = logs.find(key);
      if (it == logs.end()) continue;
      const bool pct = std::string_view(key).find("accuracy") != std::string_view::npos;
      line += fmt::format("  {} {}", key, pct ? percent(it->second) : num(it->second));
    }
    out_ << line << fmt::format("  {:.0f} img/s  ", log_value(logs, "images_per_second"))
         << format_duration(log_value(logs, "seconds")) << std::endl;
  }

 private:
  std::ostream& out_;
  int64_t epochs_;
};

// The largest class label of a classification split, where the dataset lists its labels
// without decoding (datasets::Labeled: npy, IDX, CIFAR, image folders, and subsets of them);
// -1 otherwise. Labels the loss ignores (ignore_index) do not count.
int64_t max_label(const std::shared_ptr<data::DatasetBase>& split, const RunConfig& cfg) {
  if (!split || task_of(cfg) != Task::kClassification) return -1;
  std::shared_ptr<data::DatasetBase> ds = split;
  while (auto mapped = std::dynamic_pointer_cast<data::MapDataset>(ds)) ds = mapped->dataset();
  const auto* labeled = dynamic_cast<const data::datasets::Labeled*>(ds.get());
  if (!labeled) return -1;
  int64_t ignore_index = -100;
  std::visit(
      [&](const auto& o) {
        if constexpr (requires { o.ignore_index(); }) ignore_index = o.ignore_index();
      },
      cfg.loss.options);
  int64_t top = -1;
  for (int64_t label : labeled->labels())
    if (label != ignore_index) top = std::max(top, label);
  return top;
}

// Class labels past the model's outputs: without this, cross_entropy fails on the first batch
// holding one, mid-epoch, naming neither the data nor the model.
void check_labels_fit(int64_t top, const std::string& split, int64_t outputs) {
  if (top < outputs) return;
  throw ValueError(fmt::format("data: the {} split has class labels up to {} ({} classes) but the model gives {} "
                               "outputs: set model.num_classes (or the last layer's out_features) to {}",
                               split, top, top + 1, outputs, top + 1));
}

// Runs one example of each split through its pipeline and the model, and the loss on them,
// before the run directory is made: a transform that fails, train and eval pipelines that
// give different shapes, a model that does not take the input, an output that does not fit
// the loss, or class labels the model has no output for all fail here, naming what failed,
// instead of at batch 0 or after training.
void check_pipeline(const RunData& data, nn::Sequential& model, const LossFn& loss_fn, const RunConfig& cfg) {
  struct Split {
    const char* name;
    std::shared_ptr<data::DatasetBase> ds;
  };
  std::vector<int64_t> eval_shape;
  data::Example<> first;
  for (const Split& s : {Split{"test", data.test}, Split{"train", data.train}}) {
    if (!s.ds || s.ds->size().value_or(0) == 0) continue;
    data::Example<> ex;
    try {
      ex = data::first_example(*s.ds);  // get(0), or a stream's first example
    } catch (const Error& e) {
      throw ValueError(fmt::format("the {} transforms fail on the first {} example: {}", s.name, s.name, e.what()));
    }
    const std::vector<int64_t> shape(ex.data.sizes().begin(), ex.data.sizes().end());
    if (eval_shape.empty()) {
      eval_shape = shape;
      first = ex;
    } else if (shape != eval_shape) {
      throw ShapeError(fmt::format("the train transforms give examples of shape [{}] but the eval transforms [{}]; "
                                   "the model sees both (a RandomResizedCrop or RandomCrop size that differs from "
                                   "the eval size?)",
                                   fmt::join(shape, ", "), fmt::join(eval_shape, ", ")));
    }
  }
  if (!first.data.defined()) return;
  NoGradGuard no_grad;
  model->eval();
  Tensor out;
  try {
    out = model->forward(first.data.unsqueeze(0));
    loss_fn(out, first.target.unsqueeze(0));
  } catch (const Error& e) {
    model->train();
    throw ShapeError(fmt::format("the model on one example of shape [{}]: {}", fmt::join(eval_shape, ", "), e.what()));
  }
  model->train();
  if (out.dim() == 2)
    for (const auto& [name, split] : {std::pair{"training", data.train}, {"validation", data.val}, {"test", data.test}})
      check_labels_fit(max_label(split, cfg), name, out.size(1));
}

// threads: auto. The thread count that runs this model's training step fastest here, timed
// on a synthetic batch before training (a few steps each, ~0.3 s): OpenMP fork/join makes
// small models slower on more threads on some machines and faster on others.
// Stops every rank with the same error when any runs another config than rank 0 (the keys
// that change numbers; threads, workers and the like may differ).
void check_same_config_on_every_rank(const RunConfig& cfg) {
  const std::vector<std::string> all = distributed::all_gather_object(to_yaml_string(cfg));
  for (size_t r = 1; r < all.size(); ++r) {
    if (all[r] == all[0]) continue;
    const std::vector<std::string> diff =
        config_difference(parse_run_config(all[0], "rank 0's config"), parse_run_config(all[r], "rank " + std::to_string(r) + "'s config"));
    if (diff.empty()) continue;
    std::string list;
    for (const std::string& d : diff) list += "\n  " + d;
    throw ValueError(fmt::format("data parallel: rank {} runs another config than rank 0 (every process of `mpirun "
                                 "... cnnkit train` must get the same config file and --set):{}",
                                 r, list));
  }
}

int measure_threads(const RunConfig& cfg, const std::vector<int64_t>& input_shape, std::ostream* out) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  if (cores == 1) return 1;
  std::vector<int> candidates{1};
  for (int t = 2; t < cores; t *= 2) candidates.push_back(t);
  candidates.push_back(cores);
  std::vector<int64_t> shape{std::min<int64_t>(cfg.data.batch_size, 256)};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  const Tensor x = randn(shape);
  int best = 1;
  double best_ips = 0;
  std::vector<std::string> parts;
  for (int t : candidates) {
    set_num_threads(t);
    nn::Sequential net = build_model(cfg, input_shape);
    optim::SGD opt(net->parameters(), optim::SGDOptions(1e-3));
    auto step = [&] {
      opt.zero_grad();
      net->forward(x).mean().backward();  // the backward of any loss costs the same
      opt.step();
    };
    step();  // primitives created, buffers allocated
    int64_t steps = 0;
    const auto t0 = Clock::now();
    do {
      step();
      ++steps;
    } while (seconds_since(t0) < 0.3 && steps < 50);
    const double ips = static_cast<double>(steps * shape[0]) / seconds_since(t0);
    parts.push_back(fmt::format("{}: {:.0f} img/s", t, ips));
    if (ips > best_ips) best_ips = ips, best = t;
  }
  set_num_threads(best);
  if (out)
    *out << fmt::format("threads: auto -> {} (measured on a synthetic batch of {}: {})\n", best, shape[0],
                        fmt::format("{}", fmt::join(parts, ", ")));
  return best;
}

// The best-checkpoint monitor of a task: accuracy for classification, the loss otherwise.
std::string checkpoint_monitor(Task task, bool has_val) {
  if (!has_val) return "train_loss";
  return task == Task::kClassification ? "val_accuracy" : "val_loss";
}

bool is_yaml(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  return ext == ".yaml" || ext == ".yml";
}

}  // namespace

// ---- free functions ----------------------------------------------------------------------

std::vector<std::string> config_difference(const RunConfig& run, RunConfig asked) {
  if (asked.data.normalize == "auto" && asked.data.mean.empty()) {
    asked.data.mean = run.data.mean;
    asked.data.std = run.data.std;
    asked.data.normalize = run.data.normalize;
  }
  if (asked.data.image_shape.empty()) asked.data.image_shape = run.data.image_shape;
  if (asked.data.input_values.empty()) {
    asked.data.input_values = run.data.input_values;
    asked.data.input_range = run.data.input_range;
  }
  const std::map<std::string, std::string> a = flatten_config(run), b = flatten_config(asked);
  const std::vector<std::string> ignored = {"name",           "output_dir",           "threads",
                                            "data.workers",   "data.eval_batch_size", "distributed.bucket_cap_mb"};
  std::set<std::string> keys;
  for (const auto& [k, v] : a) keys.insert(k);
  for (const auto& [k, v] : b) keys.insert(k);
  std::vector<std::string> out;
  for (const std::string& k : keys) {
    if (std::find(ignored.begin(), ignored.end(), k) != ignored.end()) continue;
    const auto ia = a.find(k), ib = b.find(k);
    const std::string va = ia == a.end() ? "(unset)" : ia->second, vb = ib == b.end() ? "(unset)" : ib->second;
    if (va != vb) out.push_back(fmt::format("{}: {} in the run, {} here", k, va, vb));
  }
  return out;
}

std::string metrics_line(const Metrics& m) {
  switch (m.task) {
    case Task::kClassification: {
      std::string s = fmt::format("accuracy {}", percent(m.accuracy));
      if (m.top_k > 1 && m.top_k < m.num_classes) s += fmt::format("  top-{} {}", m.top_k, percent(m.top_k_accuracy));
      s += fmt::format("  loss {}  macro F1 {}", num(m.loss), num(m.macro_f1));
      if (!std::isnan(m.roc_auc_macro))
        s += fmt::format("  ROC-AUC {}  avg precision {}  ECE {}", num(m.roc_auc_macro), num(m.average_precision_macro),
                         num(m.ece));
      return s;
    }
    case Task::kRegression:
      return fmt::format("mse {}  mae {}  r2 {}  loss {}", num(m.mse, 6), num(m.mae, 6), num(m.r2), num(m.loss));
    case Task::kMultiLabel:
      return fmt::format("subset accuracy {}  micro F1 {}  macro F1 {}  hamming loss {}  loss {}",
                         percent(m.subset_accuracy), num(m.micro_f1), num(m.macro_f1), num(m.hamming_loss),
                         num(m.loss));
  }
  return "";
}

namespace {

// Temperature scaling's effect on the test split and the reliability table behind its ECE.
std::string calibration_lines(const FitResult& r, double raw_nll) {
  const Metrics &raw = r.test, &cal = r.test_calibrated;
  std::string s = fmt::format("calibration: temperature {:.4f} fitted on the validation split; on the test split "
                              "NLL {} -> {}, ECE {} -> {} (accuracy unchanged)\n",
                              r.temperature, num(raw_nll), num(cal.loss), num(raw.ece), num(cal.ece));
  if (raw.reliability_count.empty() || cal.reliability_count.empty()) return s;
  s += "reliability (top-1 probability bins; mean confidence / accuracy, raw then calibrated)\n";
  const size_t bins = raw.reliability_count.size();
  for (size_t b = 0; b < bins; ++b) {
    if (raw.reliability_count[b] == 0 && cal.reliability_count[b] == 0) continue;
    auto cell = [&](const Metrics& m) {
      return m.reliability_count[b] == 0
                 ? std::string("-")
                 : fmt::format("{:5} ex  {:.3f} / {:.3f}", m.reliability_count[b], m.reliability_confidence[b],
                               m.reliability_accuracy[b]);
    };
    s += fmt::format("  ({:.3f}, {:.3f}]  {:<26}  {}\n", static_cast<double>(b) / static_cast<double>(bins),
                     static_cast<double>(b + 1) / static_cast<double>(bins), cell(raw), cell(cal));
  }
  return s;
}

}  // namespace

void save_model(const std::string& path, nn::Module& module, const RunConfig& resolved_config,
                const std::vector<std::string>& classes, const EnsembleSpec* ensemble,
                std::optional<double> temperature) {
  io::Metadata meta{{"format", "pt"}, {kMetaConfig, to_yaml_string(resolved_config)}};
  if (!classes.empty()) meta[kMetaClasses] = join(classes, "\n");
  if (ensemble) meta[kMetaEnsemble] = ensemble->to_string();
  if (temperature) meta[kMetaTemperature] = io::format_double(*temperature);
  io::save_state_dict(path, module, meta);
}

// ---- ensembles ---------------------------------------------------------------------------

std::string EnsembleSpec::to_string() const {
  return fmt::format("method={} members={} num_classes={} weights={}", method, members, num_classes,
                     fmt::join(weights, ","));
}

EnsembleSpec EnsembleSpec::parse(const std::string& text, const std::string& where) {
  EnsembleSpec spec;
  std::istringstream in(text);
  auto bad = [&](const std::string& what) {
    return ValueError(fmt::format("{}: its ensemble description '{}' is not valid: {}", where, text, what));
  };
  for (std::string item; in >> item;) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) throw bad("'" + item + "' is not key=value");
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    try {
      if (key == "method") spec.method = value;
      else if (key == "members") spec.members = std::stoll(value);
      else if (key == "num_classes") spec.num_classes = std::stoll(value);
      else if (key == "weights") {
        std::stringstream ws(value);
        for (std::string w; std::getline(ws, w, ',');) spec.weights.push_back(std::stod(w));
      } else {
        throw bad("unknown key '" + key + "'");
      }
    } catch (const std::logic_error&) {  // stoll / stod
      throw bad("'" + value + "' is not a number");
    }
  }
  if (spec.members < 1) throw bad("members must be at least 1");
  return spec;
}

nn::Sequential build_ensemble(const RunConfig& cfg, const std::vector<int64_t>& input_shape, const EnsembleSpec& spec) {
  std::vector<nn::AnyModule> members;
  for (int64_t m = 0; m < spec.members; ++m) {
    RunConfig member = cfg;
    member.seed = cfg.seed + static_cast<uint64_t>(m);
    members.emplace_back(build_model(member, input_shape));
  }
  nn::Sequential seq;
  seq->push_back(nn::Ensemble(std::move(members), nn::EnsembleOptions(spec.method)
                                                      .weights(spec.weights)
                                                      .num_classes(spec.num_classes)));
  return seq;
}

// ---- Run ---------------------------------------------------------------------------------

Run::Run(RunConfig config, RunOptions options) : config_(std::move(config)), options_(std::move(options)) {}

Run Run::resume(const std::string& arg, const std::string& config_path, const std::vector<std::string>& overrides,
                RunOptions options) {
  std::error_code ec;
  CNNKIT_CHECK_IO(fs::exists(arg, ec), "--resume: no such run directory or checkpoint: ", arg);
  Run run;
  run.options_ = std::move(options);
  if (fs::is_directory(arg, ec)) {
    run.run_dir_ = fs::path(arg).lexically_normal().string();
    // Without a checkpoint (no epoch finished) fit() starts the run again from the beginning
    // under its config.yaml: nothing was lost.
    run.resume_checkpoint_ = (fs::path(run.run_dir_) / "checkpoints" / "checkpoint_last.safetensors").string();
  } else {
    run.resume_checkpoint_ = arg;
    fs::path dir = fs::absolute(arg).parent_path();
    if (dir.filename() == "checkpoints") dir = dir.parent_path();
    run.run_dir_ = dir.string();
  }
  const std::string path = (fs::path(run.run_dir_) / "config.yaml").string();
  CNNKIT_CHECK_IO(fs::exists(path, ec), "--resume ", arg, ": not a run directory made by `cnnkit train` or a "
                  "checkpoint inside one (", run.run_dir_, " holds no config.yaml)");
  if (fs::exists(run.resume_checkpoint_, ec)) {
    // Weights alone (best.safetensors, model.safetensors) hold no optimiser state or epoch to
    // continue from; said here, before the data are read, in the terms of the command line.
    const io::Metadata meta = io::load_safetensors_metadata(run.resume_checkpoint_);
    const auto format = meta.find("cnnkit.format");
    if (format == meta.end() || format->second != io::kCheckpointFormat)
      throw ValueError(fmt::format("--resume {}: {} holds model weights, not a training checkpoint (no optimiser "
                                   "state or epoch to continue from){}",
                                   arg, run.resume_checkpoint_,
                                   fs::is_directory(arg, ec) ? std::string()
                                                             : "; resume from the run directory: cnnkit train --resume " +
                                                                   run.run_dir_));
  }
  run.config_ = load_run_config(path);
  if (!config_path.empty() || !overrides.empty()) {
    const RunConfig asked = load_run_config(config_path.empty() ? path : config_path, overrides);
    // Resuming under another config would mix two runs.
    const std::vector<std::string> diff = config_difference(run.config_, asked);
    if (!diff.empty()) {
      std::string msg = fmt::format("--resume {}: the run was made with another config than the one given here; a "
                                    "resumed run continues under its own config ({}). Differences:",
                                    run.run_dir_, path);
      for (size_t i = 0; i < diff.size() && i < 20; ++i) msg += "\n  " + diff[i];
      if (diff.size() > 20) msg += fmt::format("\n  ... ({} differences in all)", diff.size());
      msg += "\nResume with `cnnkit train --resume " + run.run_dir_ + "` alone, or start a new run.";
      throw ValueError(msg);
    }
    run.config_.threads = asked.threads;  // may differ: they change speed, not numbers
    run.config_.data.workers = asked.data.workers;
    run.config_.notes = asked.notes;
  }
  return run;
}

Run Run::open(const std::string& target, const std::string& config_path, const std::vector<std::string>& overrides,
              RunOptions options) {
  std::error_code ec;
  CNNKIT_CHECK_IO(fs::exists(target, ec), "no such file or directory: ", target);
  Run run;
  run.options_ = std::move(options);
  std::string config = config_path;
  if (fs::is_directory(target, ec)) {  // a run directory
    for (const char* name : {"model.safetensors", "checkpoints/best.safetensors",
                             "checkpoints/checkpoint_last.safetensors"}) {
      if (fs::exists(fs::path(target) / name, ec)) {
        run.weights_ = (fs::path(target) / name).string();
        break;
      }
    }
    CNNKIT_CHECK_IO(!run.weights_.empty(), target,
                    " is not a run directory: it holds no model.safetensors or checkpoints/");
    if (config.empty()) config = (fs::path(target) / "config.yaml").string();
  } else if (is_yaml(target)) {
    config = target;
  } else {
    run.weights_ = target;
  }
  io::Metadata meta;
  if (!run.weights_.empty()) meta = io::load_safetensors_metadata(run.weights_);
  if (meta.count(kMetaClasses)) run.model_classes_ = split_lines(meta.at(kMetaClasses));
  if (meta.count(kMetaEnsemble)) run.ensemble_ = EnsembleSpec::parse(meta.at(kMetaEnsemble), run.weights_);
  if (meta.count(kMetaTemperature)) {
    const double t = io::parse_double(meta.at(kMetaTemperature), run.weights_ + ": " + kMetaTemperature);
    CNNKIT_CHECK_T(IOError, t > 0 && std::isfinite(t), run.weights_, ": ", kMetaTemperature,
                   " must be a positive number, got ", meta.at(kMetaTemperature));
    run.temperature_ = t;
  }
  if (config.empty() && meta.count(kMetaConfig)) {
    run.config_ = parse_run_config(meta.at(kMetaConfig), run.weights_ + " (embedded config)", overrides);
    return run;
  }
  if (config.empty()) {
    // A checkpoint inside a run directory: runs/x/checkpoints/best.safetensors -> runs/x/config.yaml
    const fs::path p = fs::absolute(run.weights_);
    for (const fs::path& dir : {p.parent_path(), p.parent_path().parent_path()}) {
      if (fs::exists(dir / "config.yaml", ec)) {
        config = (dir / "config.yaml").string();
        break;
      }
    }
  }
  if (config.empty())
    throw ValueError(run.weights_ + " carries no run config and none was found beside it: pass --config CONFIG.yaml");
  run.config_ = load_run_config(config, overrides);
  return run;
}

Task Run::task() const { return task_of(config_); }

void Run::set_threads() {
  const int t = options_.threads() > 0 ? options_.threads() : static_cast<int>(config_.threads);
  if (t > 0) set_num_threads(t);
}

const RunData& Run::data() {
  if (!data_) {
    // A trained model's test split: numbered by the classes it was trained on; the training
    // split is read only for statistics the config does not record.
    RunConfig cfg = config_;
    if (!model_classes_.empty()) cfg.data.classes = model_classes_;
    const bool need_train = weights_.empty() || (cfg.data.normalize == "auto" && cfg.data.mean.empty());
    data_ = build_datasets(cfg, need_train);
    data_has_train_ = need_train;
  }
  return *data_;
}

const std::vector<std::string>& Run::classes() {
  if (!model_classes_.empty()) return model_classes_;
  return data().classes;
}

std::vector<int64_t> Run::input_shape() {
  if (data_) return data_->input_shape;
  if (!config_.data.image_shape.empty()) return config_.data.image_shape;
  if (auto shape = families::dataset_shape(config_.data.dataset); !shape.empty()) return shape;
  return data().input_shape;
}

RunConfig Run::resolved_config() { return resolved(config_, data()); }

void Run::load_weights() {
  if (!weights_.empty()) load_weights_into(weights_, **model_);
}

nn::Sequential& Run::model() {
  if (!model_) {
    set_threads();
    model_ = ensemble_ ? build_ensemble(config_, input_shape(), *ensemble_) : build_model(config_, input_shape());
    load_weights();
  }
  return *model_;
}

nn::Sequential& Run::inference_model() {
  if (!inference_model_) inference_model_ = models::optimize_for_inference(model());
  return *inference_model_;
}

std::string Run::model_name() const {
  const ModelDescription m = describe_model(config_);
  if (m.zoo.empty()) return "layers";
  if (m.zoo.rfind("resnet", 0) != 0 || m.blocks.empty()) return m.zoo;
  // `zoo: resnet20` with `blocks: [1, 1, 1]` is a ResNet-8 (2 + 2 convolutions per BasicBlock).
  int64_t depth = 2;
  for (int64_t b : m.blocks) depth += 2 * b;
  if (m.zoo == "resnet" + std::to_string(depth)) return m.zoo;
  return fmt::format("{} with blocks [{}]: a ResNet-{}", m.zoo, fmt::join(m.blocks, ", "), depth);
}

std::string Run::model_summary() {
  std::vector<int64_t> batch{1};
  const std::vector<int64_t> shape = input_shape();
  batch.insert(batch.end(), shape.begin(), shape.end());
  return models::summary(*model(), batch).table();
}

Metrics Run::evaluate(const std::string& split, double temperature) {
  if (split != "test" && data_has_train_ == false) {
    // The validation and training splits are cut from the training set, which data() does not
    // load for an opened model's test split.
    RunConfig cfg = config_;
    if (!model_classes_.empty()) cfg.data.classes = model_classes_;
    data_ = build_datasets(cfg, true);
    data_has_train_ = true;
  }
  const RunData& d = data();
  std::shared_ptr<data::DatasetBase> ds = split == "test" ? d.test : split == "val" ? d.val : nullptr;
  if (split == "train" && d.train) {
    // Without augmentation: the training examples through the eval transforms.
    if (auto base = std::dynamic_pointer_cast<data::MapDataset>(d.train)) {
      ds = std::make_shared<data::MapDataset>(base->dataset(), build_pipeline(resolved_config(), false));
    } else if (auto stream = std::dynamic_pointer_cast<data::IterableMapDataset>(d.train)) {
      ds = std::make_shared<data::IterableMapDataset>(stream->dataset(), build_pipeline(resolved_config(), false));
    } else {
      ds = d.train;
    }
  }
  CNNKIT_CHECK(split == "test" || split == "val" || split == "train", "evaluate: unknown split '", split,
               "' (test, val or train)");
  CNNKIT_CHECK(ds != nullptr, "evaluate: the run has no ", split, " split",
               split == "val" ? " (data.split.val is 0)" : "");
  if (const int64_t top = max_label(ds, config_); top >= 0) {  // a model evaluated on another dataset
    NoGradGuard no_grad;
    nn::Sequential& net = model();
    const bool training = net->is_training();
    net->eval();
    const Tensor out = net->forward(ds->get(0).data.unsqueeze(0));
    if (training) net->train();
    if (out.dim() == 2) check_labels_fit(top, split, out.size(1));
  }
  data::DataLoader loader(ds, data::DataLoaderOptions(static_cast<size_t>(config_.data.eval_batch_size))
                                  .workers(static_cast<size_t>(config_.data.workers)));
  return train::evaluate(
      nn::AnyModule(model()), loader, build_loss(config_),
      EvaluateOptions()
          .task(task())
          .num_classes(static_cast<int64_t>(classes().size()))
          .tta(config_.tta)
          .ranking(true)
          .temperature(temperature));
}

void Run::export_onnx(const std::string& path, int64_t opset) {
  const std::vector<int64_t> shape = input_shape();  // (C, H, W)
  nn::Sequential& net = model();
  RunConfig cfg = config_;
  if (cfg.data.normalize == "auto" && cfg.data.mean.empty()) cfg = resolved_config();  // a hand-written config
  auto json_list = [](const auto& values) {
    std::string s = "[";
    for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + fmt::format("{}", values[i]);
    return s + "]";
  };
  std::vector<std::string> quoted;
  for (const std::string& c : classes()) {
    std::string q = "\"";
    for (char ch : c) {
      if (ch == '"' || ch == '\\') q += '\\';
      q += ch;
    }
    quoted.push_back(q + "\"");
  }
  std::string preprocessing;
  if (cfg.data.input_values == "pixels")
    preprocessing = "float32 pixel values 0-255, unscaled";
  else
    preprocessing = "float32 (N, C, H, W), pixels scaled to [0, 1] (x / 255)";
  if (!cfg.data.mean.empty()) preprocessing += ", then (x - mean) / std per channel";
  io::OnnxMetadata meta = {{"classes", json_list(quoted)},
                           {"mean", json_list(cfg.data.mean)},
                           {"std", json_list(cfg.data.std)},
                           {"input_shape", json_list(shape)},
                           {"preprocessing", preprocessing},
                           {"config", to_yaml_string(cfg)}};
  std::vector<int64_t> example = {1};
  example.insert(example.end(), shape.begin(), shape.end());
  io::export_onnx(*net, zeros(example), path, io::OnnxExportOptions().opset_version(opset).metadata(meta));
}

Tensor predict_array(const std::function<Tensor(const Tensor&)>& forward, const Tensor& x, int64_t batch_size,
                     const std::vector<int64_t>& expected, const std::string& what) {
  CNNKIT_CHECK_TYPE(x.scalar_type() == kFloat, what, " holds ", x.scalar_type(),
                    " values; the model takes float32 (preprocessed as at training: cnnkit predict feeds the array as is)");
  CNNKIT_CHECK_SHAPE(x.dim() >= 1 && x.size(0) > 0, what, " must hold (N, ...) with N >= 1 examples, got sizes ",
                     x.sizes());
  if (!expected.empty()) {
    bool fits = x.dim() == static_cast<int64_t>(expected.size()) + 1;
    for (size_t d = 0; fits && d < expected.size(); ++d)
      fits = expected[d] < 0 || x.size(static_cast<int64_t>(d) + 1) == expected[d];
    std::string want = "(N";
    for (int64_t e : expected) want += ", " + (e < 0 ? std::string("?") : std::to_string(e));
    CNNKIT_CHECK_SHAPE(fits, what, " has sizes ", x.sizes(), " but the model takes ", want, ")");
  }
  CNNKIT_CHECK(batch_size >= 0, "predict: the batch size must be positive, got ", batch_size);
  NoGradGuard no_grad;
  const int64_t n = x.size(0), step = batch_size > 0 ? batch_size : n;
  std::vector<Tensor> parts;
  for (int64_t start = 0; start < n; start += step)
    parts.push_back(forward(x.narrow(0, start, std::min(step, n - start)).contiguous()).contiguous());
  return parts.size() == 1 ? parts[0] : cat(parts, 0);
}

Prediction Run::predict_file(const std::string& path, int64_t top_k) {
  const std::vector<int64_t> shape = input_shape();  // (C, H, W) the model takes
  RunConfig cfg = config_;
  if (cfg.data.normalize == "auto" && cfg.data.mean.empty()) cfg = resolved_config();  // a hand-written config
  bool sizes_itself = false;  // eval transforms that fix the size: leave the image's size to them
  for (const auto& t : cfg.data.eval_transforms)
    sizes_itself |= t.name == "Resize" || t.name == "CenterCrop" || t.name == "RandomResizedCrop";
  const data::ImageReadMode mode = shape[0] == 1   ? data::ImageReadMode::GRAY
                                   : shape[0] == 3 ? data::ImageReadMode::RGB
                                                   : data::ImageReadMode::UNCHANGED;
  Tensor img = data::decode_image(path, mode);
  if (!sizes_itself && (img.size(1) != shape[1] || img.size(2) != shape[2]))
    img = data::transforms::functional::resize(img, std::vector<int64_t>{shape[1], shape[2]});
  const Tensor x = preprocess_image(cfg, img).unsqueeze(0);
  NoGradGuard no_grad;
  Prediction p;
  p.path = path;
  p.outputs = inference_model()->forward(x).reshape({-1}).contiguous();
  if (task() == Task::kRegression) return p;
  // Classification: the softmax's top k. Multi-label: each label's own sigmoid, the labels
  // at p >= 0.5 marked, the k most probable listed.
  const bool multi = task() == Task::kMultiLabel;
  const Tensor probs = multi ? sigmoid(p.outputs).contiguous() : softmax(p.outputs, 0).contiguous();
  const int64_t k = std::min<int64_t>(top_k, probs.size(0));
  auto [values, indices] = probs.topk(k);
  const std::vector<std::string>& names = model_classes_;
  for (int64_t i = 0; i < k; ++i) {
    const int64_t c = indices[i].item<int64_t>();
    const double prob = values[i].item<double>();
    const std::string label = c < static_cast<int64_t>(names.size()) ? names[static_cast<size_t>(c)]
                                                                     : "class " + std::to_string(c);
    p.top.push_back({c, label, prob, multi && prob >= 0.5});
  }
  return p;
}

FitResult Run::fit() {
  const auto t0 = Clock::now();
  std::error_code ec;
  std::ostream* out = options_.log();
  auto say = [&](const std::string& line) {
    if (out) *out << line << "\n";
  };
  // Data parallel when launched by mpirun with more than one process (the CLI initialised the
  // process group); every rank runs this function, rank 0 alone writes and reports.
  const int world = options_.data_parallel() ? distributed::get_world_size() : 1;
  const int rank = options_.data_parallel() ? distributed::get_rank() : 0;
  if (world > 1) {
    check_same_config_on_every_rank(config_);
    CNNKIT_CHECK(config_.data.batch_size % world == 0, config_.source, ": data.batch_size ", config_.data.batch_size,
                 " is the global batch of the ", world, " processes; it must be divisible by ", world,
                 " (each rank takes batch_size / ", world, ")");
  }
  if (rank != 0) out = nullptr;
  for (const std::string& note : config_.notes) say(note);
  // threads: auto unless the caller or CNNKIT_NUM_THREADS names a count.
  bool threads_auto =
      options_.threads() <= 0 && config_.threads < 0 && std::getenv("CNNKIT_NUM_THREADS") == nullptr;
  if (!threads_auto) set_threads();
  if (threads_auto && distributed::get_world_size() > 1) {
    // Timing thread counts while the other ranks do the same measures contention; share the
    // node's cores between its ranks instead.
    const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    const int t = std::max(1, cores / std::max(1, distributed::launched_local_size()));
    set_num_threads(t);
    say(fmt::format("threads: auto -> {} ({} cores shared by {} processes on this node)", t, cores,
                    distributed::launched_local_size()));
    threads_auto = false;
  }
  const Task task = this->task();

  if (world > 1 && !data_) {  // a streamed training set (shards) reads this rank's share
    config_.data.rank = rank;
    config_.data.world_size = world;
  }
  this->data();  // built on first use
  RunData& data = *data_;
  if (data.val && data.val->size().value_or(0) == 0) {
    data.report.push_back(fmt::format("validation split: empty ({} of {} examples rounds to none); training without "
                                      "validation",
                                      config_.data.val_fraction, data.train->size().value_or(0)));
    data.val = nullptr;
  }
  RunConfig resolved_cfg = resolved_config();
  const LossFn loss_fn = build_loss(config_);
  inference_model_.reset();  // made again from the trained weights when asked for
  model_ = build_model(config_, data.input_shape);
  check_pipeline(data, *model_, loss_fn, config_);
  if (threads_auto) {
    // The run's config.yaml records the count measured here: a --resume runs on it again
    // (another count sums in another order, and the resumed weights would not be the ones an
    // uninterrupted run reaches).
    resolved_cfg.threads = measure_threads(config_, data.input_shape, out);
    model_ = build_model(config_, data.input_shape);  // the same initial weights as without the probe
  }
  nn::Sequential& model = *model_;

  const bool resuming = !resume_checkpoint_.empty();
  const bool writer = rank == 0;
  std::unique_ptr<RunDirLock> lock;
  if (writer) {
    // The claim comes first, so --overwrite never deletes the files of a run still training.
    if (resuming) lock = std::make_unique<RunDirLock>(run_dir_);
    else if (!config_.output_dir.empty()) lock = std::make_unique<RunDirLock>(config_.output_dir);
    if (!resuming) run_dir_ = new_run_dir(config_, options_.overwrite());
    if (!lock) lock = std::make_unique<RunDirLock>(run_dir_);
    fs::create_directories(fs::path(run_dir_) / "checkpoints");
    if (!resuming) save_resolved_config(resolved_cfg, (fs::path(run_dir_) / "config.yaml").string());
  }
  // A run killed before its first checkpoint: started again from the beginning in its directory.
  const bool from_checkpoint = resuming && fs::exists(resume_checkpoint_, ec);
  if (world > 1) {
    run_dir_ = distributed::all_gather_object(run_dir_).front();  // rank 0's, for every rank's messages
    say(fmt::format("data parallel: {} processes, {} examples a step each (global batch {}), gradient buckets of "
                    "{} MiB{}",
                    world, config_.data.batch_size / world, config_.data.batch_size, config_.distributed.bucket_cap_mb,
                    config_.distributed.sync_batchnorm ? ", SyncBatchNorm" : ""));
  }

  say("run " + run_dir_);
  say(fmt::format("data: {} ({} train, {} validation, {} test examples), input [{}]", config_.data.dataset,
                  data.train->size().value_or(0), data.val ? data.val->size().value_or(0) : 0,
                  data.test->size().value_or(0), fmt::join(data.input_shape, ", ")));
  for (const std::string& line : data.report) say("  " + line);
  say(fmt::format("model: {}, {} parameters", model_name(), count_parameters(*model)));
  say("optimizer: " + optimizer_line(config_));
  std::unique_ptr<optim::Optimizer> opt = build_optimizer(config_, model->parameters());

  const auto workers = static_cast<size_t>(config_.data.workers);
  const auto replicas = static_cast<size_t>(world), me = static_cast<size_t>(rank);
  // A streamed training set (shards) shuffles itself (its shuffle buffer), from the seed, and
  // splits itself over the ranks (build_datasets gives it the rank); a map-style one is
  // dealt over the ranks by the loader.
  const bool streamed = dynamic_cast<const data::IterableDataset*>(data.train.get()) != nullptr;
  data::DataLoader train_loader(data.train, data::DataLoaderOptions(static_cast<size_t>(config_.data.batch_size) / replicas)
                                                .shuffle(!streamed).workers(workers).seed(config_.seed)
                                                .num_replicas(streamed ? 1 : replicas).rank(streamed ? 0 : me));
  // Evaluation: each rank its share of a map-style split (metrics merged over the ranks); a
  // streamed split is read whole by every rank.
  auto eval_options = [&](const std::shared_ptr<data::DatasetBase>& split) {
    const bool whole = dynamic_cast<const data::IterableDataset*>(split.get()) != nullptr;
    return data::DataLoaderOptions(static_cast<size_t>(config_.data.eval_batch_size))
        .workers(workers).num_replicas(whole ? 1 : replicas).rank(whole ? 0 : me);
  };
  std::unique_ptr<data::DataLoader> val_loader;
  if (data.val) val_loader = std::make_unique<data::DataLoader>(data.val, eval_options(data.val));
  data::DataLoader test_loader(data.test, eval_options(data.test));

  TrainerOptions topts;
  topts.epochs(config_.epochs)
      .task(task)
      .l1(config_.regularization.l1)
      .l2(config_.regularization.l2)
      .grad_clip_norm(config_.grad_clip_norm)
      .seed(config_.seed)
      .num_classes(static_cast<int64_t>(data.classes.size()))
      .verbose(options_.progress_bar() && writer);
  if (config_.regularization.params == "all") topts.penalty_params({"*"});
  if (config_.ema.enabled) topts.ema_decay(config_.ema.decay).ema_warmup(config_.ema.warmup).ema_every(config_.ema.every);
  if (config_.swa.enabled)
    topts.swa_start(config_.swa.swa_start)
        .swa_lr(config_.swa.swa_lr)
        .swa_anneal_epochs(config_.swa.anneal_epochs)
        .swa_anneal_strategy(config_.swa.anneal_strategy)
        .swa_update_bn(config_.swa.update_bn);
  topts.mixup(config_.mixup);
  topts.checkpoint_every_steps(config_.checkpoint_every_steps).checkpoint_every_seconds(60 * config_.checkpoint_every_minutes);
  Trainer trainer(nn::AnyModule(model), *opt, loss_fn, topts);
  if (!config_.data.sample_weights.empty()) trainer.set_weighted_loss(build_weighted_loss(config_.loss));
  if (world > 1) {
    if (config_.distributed.sync_batchnorm) distributed::convert_sync_batchnorm(*model);
    trainer.set_distributed(std::make_shared<distributed::DistributedDataParallel>(
        nn::AnyModule(model),
        distributed::DistributedDataParallelOptions().bucket_cap_mb(config_.distributed.bucket_cap_mb)));
  }

  if (auto sched = build_scheduler(config_, *opt, static_cast<int64_t>(train_loader.global_size())))
    trainer.set_scheduler(sched, scheduler_per_batch(config_) ? SchedulerStep::kBatch : SchedulerStep::kEpoch);
  if (auto plateau = build_plateau_scheduler(config_, *opt)) {
    const std::string monitor = plateau_monitor(config_);
    CNNKIT_CHECK(val_loader || monitor.rfind("val_", 0) != 0, config_.source, ": scheduler ReduceLROnPlateau monitors ",
                 monitor, " but there is no validation split (data.split.val is 0)");
    trainer.set_plateau_scheduler(plateau, monitor);
  }

  auto checkpoint = std::make_shared<ModelCheckpoint>(
      ModelCheckpointOptions((fs::path(run_dir_) / "checkpoints").string())
          .monitor(checkpoint_monitor(task, val_loader != nullptr)));
  if (writer) {  // the files of the run are rank 0's
    trainer.add_callback(checkpoint);
    trainer.add_callback(std::make_shared<CSVLogger>((fs::path(run_dir_) / "metrics.csv").string()));
    trainer.add_callback(std::make_shared<StepLogger>((fs::path(run_dir_) / "steps.csv").string()));
  }
  trainer.add_callback(std::make_shared<TerminateOnNaN>());
  std::shared_ptr<EarlyStopping> early_stopping;
  if (config_.early_stopping.enabled) {
    const auto& e = config_.early_stopping;
    CNNKIT_CHECK(val_loader || e.monitor.rfind("val_", 0) != 0, config_.source, ": early_stopping monitors ",
                 e.monitor, " but there is no validation split (data.split.val is 0)");
    early_stopping = std::make_shared<EarlyStopping>(
        EarlyStoppingOptions()
            .monitor(e.monitor)
            .patience(e.patience)
            .min_delta(e.min_delta)
            .mode(e.mode == "min" ? Mode::kMin : e.mode == "max" ? Mode::kMax : Mode::kAuto)
            .restore_best_weights(e.restore_best_weights));
    trainer.add_callback(early_stopping);
  }
  if (options_.stop()) trainer.add_callback(std::make_shared<StopWhenAsked>(options_.stop()));
  if (!options_.progress_bar() && out) trainer.add_callback(std::make_shared<EpochLines>(*out, config_.epochs));
  // Resumed data parallel, every rank reads the checkpoint (the run directory must be visible
  // to every rank, as with torch.distributed), so weights, optimiser state and epoch agree.

  FitResult result;
  const std::string model_path = (fs::path(run_dir_) / "model.safetensors").string();
  if (resuming && !from_checkpoint)
    say(fmt::format("no epoch of {} had finished ({} does not exist): the run starts again from the beginning under "
                    "its config",
                    run_dir_, resume_checkpoint_));
  if (from_checkpoint) {
    trainer.resume(resume_checkpoint_);
    const bool stopped_early = early_stopping && early_stopping->stopped();
    // summary.txt is written last: without it the final evaluation and files are redone.
    if ((trainer.epoch() >= config_.epochs || stopped_early) && fs::exists(model_path, ec) &&
        fs::exists(fs::path(run_dir_) / "summary.txt", ec)) {
      say(fmt::format("run {} already finished ({} of {} epochs{}); nothing left to do. `cnnkit eval {}` "
                      "evaluates its model.",
                      run_dir_, trainer.epoch(), config_.epochs, stopped_early ? ", stopped early" : "", run_dir_));
      result.already_finished = true;
      return result;
    }
    if (trainer.batches_into_epoch() > 0)
      say(fmt::format("resumed from {} in epoch {} after step {} of {}", resume_checkpoint_, trainer.epoch() + 1,
                      trainer.batches_into_epoch(), train_loader.global_size()));
    else
      say(fmt::format("resumed from {} after epoch {}", resume_checkpoint_, trainer.epoch()));
  }

  try {
    // Anomaly mode for this run's training only (it is process-global).
    const bool anomaly_before = autograd::AnomalyMode::is_enabled();
    autograd::AnomalyMode::set_enabled(config_.detect_anomaly || anomaly_before);
    struct Restore {
      bool v;
      ~Restore() { autograd::AnomalyMode::set_enabled(v); }
    } restore{anomaly_before};
    result.history = trainer.fit(train_loader, val_loader.get());
  } catch (const Interrupted& e) {
    if (out) *out << std::endl;
    std::string msg = std::string(e.what()) + ". ";
    if (fs::exists(checkpoint->last_path(), ec))
      msg += fmt::format("The run's last checkpoint is {}; continue it with:\n  cnnkit train --resume {}",
                         checkpoint->last_path(), run_dir_);
    else
      msg += fmt::format("No epoch had finished, so there is no checkpoint; `cnnkit train --resume {}` starts the "
                         "run again from the beginning under its config.",
                         run_dir_);
    throw Interrupted(msg);
  } catch (const NonFiniteError& e) {
    std::string msg = e.what();
    if (fs::exists(checkpoint->last_path(), ec) && msg.find(checkpoint->last_path()) == std::string::npos)
      msg += " The last good checkpoint is " + checkpoint->last_path() + ".";
    throw NonFiniteError(msg);
  }

  if (auto* average = trainer.ema() ? trainer.ema() : trainer.swa(); average && average->n_averaged() > 0) {
    // The run's model is the weight average, what validation measured as val_* (SWA's with
    // its BatchNorm statistics recomputed by update_bn at the end of fit).
    NoGradGuard no_grad;
    model->load_state_dict(average->module().ptr()->state_dict());
  }
  EvaluateOptions final_eval =
      EvaluateOptions().task(task).num_classes(static_cast<int64_t>(data.classes.size())).tta(config_.tta).ranking(true);
  if (val_loader) result.val = train::evaluate(nn::AnyModule(model), *val_loader, loss_fn, final_eval);
  if (options_.test()) result.test = train::evaluate(nn::AnyModule(model), test_loader, loss_fn, final_eval);
  std::optional<double> temperature;
  double raw_test_nll = Metrics::kNaN;
  if (val_loader && task == Task::kClassification && result.val.count > 0) {
    // Temperature scaling fitted on the validation split, measured on the test split. Its
    // loss is the negative log-likelihood, what T minimises (the run's loss may smooth
    // labels, which T does not aim at); accuracy and the per-class metrics do not change.
    const EvaluationOutputs v = evaluation_outputs(nn::AnyModule(model), *val_loader, final_eval);
    // TerminateOnNaN saw a finite training loss and finite weights; outputs can still overflow
    // when training diverged (one step an epoch), and fit_temperature would name only a logit.
    if (!all_finite(v.outputs))
      throw NonFiniteError(fmt::format(
          "the trained model's outputs on the validation split are not finite (val_loss {}): its weights are "
          "finite but large enough to overflow, so training diverged; lower optimizer.lr or set grad_clip_norm",
          result.val.loss));
    temperature = result.temperature = fit_temperature(v.outputs, v.targets);
    if (options_.test()) {
      const EvaluationOutputs t = evaluation_outputs(nn::AnyModule(model), test_loader, final_eval);
      raw_test_nll = temperature_nll(t.outputs, t.targets);
      const Calibration c = calibration(softmax(t.outputs / result.temperature, 1), t.targets);
      result.test_calibrated = result.test;
      result.test_calibrated.loss = temperature_nll(t.outputs, t.targets, result.temperature);
      result.test_calibrated.ece = c.ece;
      result.test_calibrated.reliability_count = c.count;
      result.test_calibrated.reliability_confidence = c.confidence;
      result.test_calibrated.reliability_accuracy = c.accuracy;
    }
  }
  result.seconds = seconds_since(t0);
  if (!writer) return result;
  save_model(model_path, *model, resolved_cfg, data.classes, nullptr, temperature);

  std::ostringstream summary;
  summary << "cnnkit run " << config_.name << " (" << run_dir_ << ")\n";
  const std::string& command = options_.command();  // "" or " --set ..." when resumed without a config file
  summary << "config: " << (command.empty() || command[0] == ' ' ? run_dir_ + "/config.yaml" + command : command)
          << "\n";
  summary << fmt::format("data: {}, {} train / {} validation / {} test, batch {}", config_.data.dataset,
                         data.train->size().value_or(0), data.val ? data.val->size().value_or(0) : 0,
                         data.test->size().value_or(0), config_.data.batch_size);
  if (!data.mean.empty())
    summary << fmt::format(", normalize mean [{}] std [{}]", fmt::join(data.mean, ", "), fmt::join(data.std, ", "));
  summary << "\n";
  summary << "optimizer: " << optimizer_line(config_) << "\n";
  if (config_.ema.enabled)
    summary << fmt::format("weights: exponential moving average (decay {}{}, every {} steps); raw_val_* are the "
                           "raw weights'\n",
                           config_.ema.decay, config_.ema.warmup ? ", warm-up" : "", config_.ema.every);
  if (config_.swa.enabled)
    summary << fmt::format("weights: stochastic weight average of the epochs from {} on{}{}; raw_val_* are the raw "
                           "weights'\n",
                           config_.swa.swa_start + 1,
                           config_.swa.swa_lr ? fmt::format(", SWALR to lr {} over {} epochs ({})", *config_.swa.swa_lr,
                                                            config_.swa.anneal_epochs, config_.swa.anneal_strategy)
                                              : std::string(),
                           config_.swa.update_bn ? ", BatchNorm statistics recomputed at the end" : "");
  if (config_.mixup) {
    const data::MixupOptions& m = *config_.mixup;
    summary << fmt::format("batch mixing: mixup alpha {}, cutmix alpha {}{}, prob {}, switch_prob {}, mode {}, "
                           "label smoothing {}; train accuracy is against the unmixed labels\n",
                           m.mixup_alpha(), m.cutmix_alpha(),
                           m.cutmix_minmax() ? fmt::format(" (box side in [{}, {}))", m.cutmix_minmax()->first,
                                                           m.cutmix_minmax()->second)
                                             : "",
                           m.prob(), m.switch_prob(), m.mode(), m.label_smoothing());
  }
  if (!config_.tta.empty())
    summary << fmt::format("test-time augmentation: the original and {} averaged (final validation and test "
                           "metrics; per-epoch validation without)\n",
                           fmt::join(config_.tta, ", "));
  summary << "\n";
  summary << "model: " << model_name() << "\n" << model_summary() << "\n";
  summary << epoch_table(result.history, task) << "\n";
  if (early_stopping) summary << early_stopping->summary() << "\n";
  if (data.val) summary << "validation: " << metrics_line(result.val) << "\n";
  if (options_.test()) {
    summary << "test: " << metrics_line(result.test) << "\n";
    if (result.test_calibrated.count > 0) summary << calibration_lines(result, raw_test_nll) << "\n";
    summary << result.test.report(data.classes) << "\n";
    if (task == Task::kClassification)
      summary << "confusion matrix (rows: true class, columns: predicted)\n"
              << result.test.confusion_matrix_string(data.classes) << "\n";
  } else {
    summary << "test: not evaluated (model selection: the test split is kept for the chosen model)\n";
  }
  summary << "wall time " << format_duration(result.seconds) << "\n";
  io::write_file_atomic((fs::path(run_dir_) / "summary.txt").string(), summary.str(), "train");
  say("wrote " + run_dir_ + "/{config.yaml, metrics.csv, steps.csv, checkpoints/, model.safetensors, summary.txt}");
  return result;
}

}  // namespace cnnkit::train
