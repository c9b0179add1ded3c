// The `cnnkit` subcommands. Each builds what it needs from the run config (train/config.h)
// and the Trainer; this file only wires and prints. A run directory holds config.yaml (the
// resolved config), metrics.csv, checkpoints/{best,checkpoint_last}.safetensors,
// model.safetensors (final weights; its metadata carries the config and the class names, so
// the file alone is enough for eval / predict / info) and summary.txt.
#include "commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <chrono>
#include <csignal>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/error.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/data/dataloader.h"
#include "cnnkit/data/datasets/mnist.h"
#include "cnnkit/data/datasets/tensor.h"
#include "cnnkit/data/image.h"
#include "cnnkit/data/stats.h"
#include "cnnkit/data/transforms.h"
#include "cnnkit/io/checkpoint.h"
#include "cnnkit/io/file.h"
#include "cnnkit/io/safetensors.h"
#include "cnnkit/models/summary.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/ops/ops.h"
#include "cnnkit/optim/optim.h"
#include "cnnkit/train/config.h"
#include "cnnkit/train/train.h"

namespace cnnkit::cli {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string timestamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

void set_threads(int threads) {
  if (threads > 0) set_num_threads(threads);
}

int64_t count_parameters(nn::Module& m) {
  int64_t n = 0;
  for (const Tensor& p : m.parameters()) n += p.numel();
  return n;
}

// ---- model files --------------------------------------------------------------------------

constexpr const char* kMetaConfig = "cnnkit.config";
constexpr const char* kMetaClasses = "cnnkit.classes";

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

// What eval / predict / info load: the config, the weights file (empty for a bare config)
// and the class names when known.
struct Loaded {
  train::RunConfig cfg;
  std::string weights;
  std::vector<std::string> classes;
};

bool is_yaml(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  return ext == ".yaml" || ext == ".yml";
}

Loaded load_target(const std::string& target, const std::string& config_path,
                   const std::vector<std::string>& overrides) {
  std::error_code ec;
  CNNKIT_CHECK_IO(fs::exists(target, ec), "no such file or directory: ", target);
  Loaded out;
  std::string config = config_path;
  if (fs::is_directory(target, ec)) {  // a run directory
    for (const char* name : {"model.safetensors", "checkpoints/best.safetensors",
                             "checkpoints/checkpoint_last.safetensors"}) {
      if (fs::exists(fs::path(target) / name, ec)) {
        out.weights = (fs::path(target) / name).string();
        break;
      }
    }
    CNNKIT_CHECK_IO(!out.weights.empty(), target,
                    " is not a run directory: it holds no model.safetensors or checkpoints/");
    if (config.empty()) config = (fs::path(target) / "config.yaml").string();
  } else if (is_yaml(target)) {
    config = target;
  } else {
    out.weights = target;
  }
  io::Metadata meta;
  if (!out.weights.empty()) meta = io::load_safetensors_metadata(out.weights);
  if (meta.count(kMetaClasses)) out.classes = split_lines(meta.at(kMetaClasses));
  if (config.empty() && meta.count(kMetaConfig)) {
    out.cfg = train::parse_run_config(meta.at(kMetaConfig), out.weights + " (embedded config)", overrides);
    return out;
  }
  if (config.empty()) {
    // A checkpoint inside a run directory: runs/x/checkpoints/best.safetensors -> runs/x/config.yaml
    const fs::path p = fs::absolute(out.weights);
    for (const fs::path& dir : {p.parent_path(), p.parent_path().parent_path()}) {
      if (fs::exists(dir / "config.yaml", ec)) {
        config = (dir / "config.yaml").string();
        break;
      }
    }
  }
  if (config.empty())
    throw ValueError(out.weights + " carries no run config and none was found beside it: pass --config CONFIG.yaml");
  out.cfg = train::load_run_config(config, overrides);
  return out;
}

// Loads a state dict or a training checkpoint into `module`; ValueError naming the file when
// it was saved from another model.
void load_weights(const std::string& path, nn::Module& module) {
  const io::Metadata meta = io::load_safetensors_metadata(path);
  const auto fmt_it = meta.find("cnnkit.format");
  if (fmt_it != meta.end() && fmt_it->second == io::kCheckpointFormat) {
    const io::Checkpoint ck = io::load_checkpoint(path);
    io::load_model_state(path, ck, module);
    return;
  }
  // Name the first difference (Module::load_state_dict lists every key, pages of them for a
  // ResNet), then load.
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

void save_model(const std::string& path, nn::Module& module, const train::RunConfig& cfg,
                const std::vector<std::string>& classes) {
  io::Metadata meta{{"format", "pt"}, {kMetaConfig, train::to_yaml_string(cfg)}};
  if (!classes.empty()) meta[kMetaClasses] = join(classes, "\n");
  io::save_state_dict(path, module, meta);
}

// The (C, H, W) input a config's model takes, without reading the data when the dataset
// fixes it.
std::vector<int64_t> input_shape_of(train::RunConfig& cfg) {
  if (!cfg.data.image_shape.empty()) return cfg.data.image_shape;
  const std::string& d = cfg.data.dataset;
  if (d == "fashion-mnist" || d == "mnist") return {1, 28, 28};
  if (d == "cifar10" || d == "cifar100") return {3, 32, 32};
  return train::build_datasets(cfg, /*need_train=*/false).input_shape;
}

// models::summary's table for one example of `input_shape` (C, H, W).
std::string model_summary_text(nn::Module& module, const std::vector<int64_t>& input_shape) {
  std::vector<int64_t> batch{1};
  batch.insert(batch.end(), input_shape.begin(), input_shape.end());
  return models::summary(module, batch).table();
}

// The zoo name, and the depth its blocks really give when they change it: `zoo: resnet20`
// with `blocks: [1, 1, 1]` is a ResNet-8 (2 + 2 convolutions per BasicBlock).
std::string model_name(const train::RunConfig& cfg) {
  if (!cfg.model["zoo"]) return "layers";
  const std::string zoo = cfg.model["zoo"].Scalar();
  const YAML::Node blocks = cfg.model["blocks"];
  if (zoo.rfind("resnet", 0) != 0 || !blocks || !blocks.IsSequence()) return zoo;
  int64_t depth = 2;
  std::vector<std::string> counts;
  for (const YAML::Node& b : blocks) {
    depth += 2 * b.as<int64_t>(0);
    counts.push_back(b.Scalar());
  }
  if (zoo == "resnet" + std::to_string(depth)) return zoo;
  return fmt::format("{} with blocks [{}]: a ResNet-{}", zoo, join(counts, ", "), depth);
}

std::string percent(double x) { return std::isnan(x) ? "-" : fmt::format("{:.2f}%", 100 * x); }
std::string num(double x, int digits = 4) { return std::isnan(x) ? "-" : fmt::format("{:.{}f}", x, digits); }

double log_value(const train::Logs& logs, const char* key) {
  const auto it = logs.find(key);
  return it == logs.end() ? NAN : it->second;
}

// One row an epoch: lr, losses and the task's headline metrics.
std::string epoch_table(const train::History& h, train::Task task) {
  struct Column {
    const char* title;
    const char* key;
    bool is_percent;
  };
  std::vector<Column> cols;
  switch (task) {
    case train::Task::kClassification:
      cols = {{"train_acc", "train_accuracy", true}, {"val_loss", "val_loss", false}, {"val_acc", "val_accuracy", true}};
      break;
    case train::Task::kRegression:
      cols = {{"val_loss", "val_loss", false}, {"val_mae", "val_mae", false}, {"val_r2", "val_r2", false}};
      break;
    case train::Task::kMultiLabel:
      cols = {{"val_loss", "val_loss", false}, {"val_microF1", "val_micro_f1", false},
              {"val_macroF1", "val_macro_f1", false}};
      break;
  }
  std::string out = fmt::format("{:>5} {:>10} {:>10}", "epoch", "lr", "train_loss");
  for (const Column& c : cols) out += fmt::format(" {:>11}", c.title);
  out += fmt::format(" {:>8}\n", "time");
  for (size_t i = 0; i < h.size(); ++i) {
    const train::Logs& l = h[i];
    out += fmt::format("{:>5} {:>10.4g} {:>10}", i + 1, log_value(l, "lr"), num(log_value(l, "train_loss")));
    for (const Column& c : cols)
      out += fmt::format(" {:>11}", c.is_percent ? percent(log_value(l, c.key)) : num(log_value(l, c.key)));
    out += fmt::format(" {:>8}\n", train::format_duration(log_value(l, "seconds")));
  }
  return out;
}

std::string optimizer_line(const train::RunConfig& cfg) {
  const auto& o = cfg.optimizer;
  std::string s = fmt::format("{} lr {:g}", o.name, o.lr);
  if (o.momentum) s += fmt::format(" momentum {:g}", o.momentum);
  if (o.nesterov) s += " nesterov";
  if (o.weight_decay) s += fmt::format(" weight_decay {:g}", o.weight_decay);
  s += "; scheduler " + cfg.scheduler.name;
  if (cfg.scheduler.warmup_epochs) s += fmt::format(" (warm-up {} epochs)", cfg.scheduler.warmup_epochs);
  s += fmt::format("; loss {}; epochs {}; seed {}", cfg.loss.name, cfg.epochs, cfg.seed);
  return s;
}

}  // namespace

// ---- train ---------------------------------------------------------------------------------

namespace {

// The files a run directory holds; a directory with any of them is a run.
constexpr const char* kRunFiles[] = {"config.yaml", "metrics.csv", "summary.txt", "model.safetensors", "checkpoints"};

std::vector<std::string> run_files_in(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const char* f : kRunFiles)
    if (fs::exists(dir / f, ec)) found.push_back(f);
  return found;
}

// A new run's directory: output_dir, or runs/<name>-<time> (-2, -3... when taken). An
// output_dir that already holds a run is refused unless --overwrite, which removes the old
// run's files (and only those).
std::string new_run_dir(const train::RunConfig& cfg, bool overwrite) {
  std::error_code ec;
  if (cfg.output_dir.empty()) {
    const std::string base = "runs/" + cfg.name + "-" + timestamp();
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

struct ResumeTarget {
  std::string run_dir, checkpoint;
};

ResumeTarget resume_target(const std::string& arg) {
  std::error_code ec;
  CNNKIT_CHECK_IO(fs::exists(arg, ec), "--resume: no such run directory or checkpoint: ", arg);
  ResumeTarget t;
  if (fs::is_directory(arg, ec)) {
    t.run_dir = fs::path(arg).lexically_normal().string();
    t.checkpoint = (fs::path(t.run_dir) / "checkpoints" / "checkpoint_last.safetensors").string();
    CNNKIT_CHECK_IO(fs::exists(t.checkpoint, ec), "--resume: ", t.run_dir,
                    " holds no checkpoints/checkpoint_last.safetensors to resume from (no epoch finished)");
  } else {
    t.checkpoint = arg;
    fs::path dir = fs::absolute(arg).parent_path();
    if (dir.filename() == "checkpoints") dir = dir.parent_path();
    t.run_dir = dir.string();
  }
  CNNKIT_CHECK_IO(fs::exists(fs::path(t.run_dir) / "config.yaml", ec), "--resume ", arg,
                  ": not a run directory made by `cnnkit train` or a checkpoint inside one (", t.run_dir,
                  " holds no config.yaml)");
  return t;
}

// Every scalar of a YAML tree under its dotted path ("optimizer.lr" -> "0.03"); lists of
// scalars stay one value ("[3, 5]").
void flatten(const YAML::Node& n, const std::string& path, std::map<std::string, std::string>& out) {
  auto child = [&](const std::string& k) { return path.empty() ? k : path + "." + k; };
  if (n.IsMap() && n.size()) {
    for (auto it = n.begin(); it != n.end(); ++it) flatten(it->second, child(it->first.Scalar()), out);
    return;
  }
  if (n.IsSequence() && std::any_of(n.begin(), n.end(), [](const YAML::Node& x) { return !x.IsScalar(); })) {
    for (size_t i = 0; i < n.size(); ++i) flatten(n[i], child(std::to_string(i)), out);
    return;
  }
  YAML::Emitter e;
  e << YAML::Flow << n;
  out[path] = e.c_str();
}

// The keys where `asked` differs from the config a run was made with, as
// "optimizer.lr: 0.03 in the run, 0.05 here" lines. What a run resolves by itself (the
// statistics of `normalize: auto`, the input shape) and what cannot change its numbers
// (threads, loader workers, eval batch size, where it is written) are not differences.
std::vector<std::string> config_difference(const train::RunConfig& run, train::RunConfig asked) {
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
  std::map<std::string, std::string> a, b;
  flatten(train::to_yaml(run), "", a);
  flatten(train::to_yaml(asked), "", b);
  const std::vector<std::string> ignored = {"name", "output_dir", "threads", "data.workers", "data.eval_batch_size"};
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

// The run's own resolved config, checked against what the command line asks for (a config
// file and --set overrides, when given): resuming under another config would mix two runs.
train::RunConfig resume_config(const TrainArgs& args, const ResumeTarget& t) {
  const std::string path = (fs::path(t.run_dir) / "config.yaml").string();
  train::RunConfig run = train::load_run_config(path);
  if (args.config.empty() && args.overrides.empty()) return run;
  const train::RunConfig asked = train::load_run_config(args.config.empty() ? path : args.config, args.overrides);
  const std::vector<std::string> diff = config_difference(run, asked);
  if (!diff.empty()) {
    std::string msg = fmt::format("--resume {}: the run was made with another config than the one given here; a "
                                  "resumed run continues under its own config ({}). Differences:",
                                  t.run_dir, path);
    for (size_t i = 0; i < diff.size() && i < 20; ++i) msg += "\n  " + diff[i];
    if (diff.size() > 20) msg += fmt::format("\n  ... ({} differences in all)", diff.size());
    msg += "\nResume with `cnnkit train --resume " + t.run_dir + "` alone, or start a new run.";
    throw ValueError(msg);
  }
  run.threads = asked.threads;  // may differ: it changes speed, not numbers
  run.data.workers = asked.data.workers;
  return run;
}

// Ctrl-C (SIGINT) or SIGTERM during training: the step in flight finishes, the run stops,
// and the message names the checkpoint to resume from. A second signal kills at once.
std::atomic<int> g_signal{0};

extern "C" void on_stop_signal(int sig) {
  g_signal.store(sig);
  std::signal(sig, SIG_DFL);
}

class StopOnSignal : public train::Callback {
 public:
  std::string name() const override { return "stop_on_signal"; }
  void on_batch_end(train::Trainer& trainer, const train::BatchLogs& /*logs*/) override {
    if (g_signal.load() != 0)
      throw Interrupted(fmt::format("interrupted in epoch {} after {} optimisation steps", trainer.epoch() + 1,
                                    trainer.global_step()));
  }
};

// -q: no progress bar, one line an epoch ("epoch 3/10  train_loss 0.412  val_accuracy 86.10%  12.3s").
class EpochLines : public train::Callback {
 public:
  EpochLines(std::ostream& out, int64_t epochs) : out_(out), epochs_(epochs) {}
  std::string name() const override { return "epoch_lines"; }
  void on_epoch_end(train::Trainer& /*trainer*/, int64_t epoch, const train::Logs& logs) override {
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
         << train::format_duration(log_value(logs, "seconds")) << std::endl;
  }

 private:
  std::ostream& out_;
  int64_t epochs_;
};

// Runs one example of each split through its pipeline and the model, and the loss on them,
// before the run directory is made: a transform that fails, train and eval pipelines that
// give different shapes, a model that does not take the input or an output that does not
// fit the loss all fail here, naming what failed, instead of at batch 0 or after training.
void check_pipeline(const train::RunData& data, nn::Sequential& model, const train::LossFn& loss_fn) {
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
      ex = s.ds->get(0);
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
  try {
    Tensor out = model->forward(first.data.unsqueeze(0));
    loss_fn(out, first.target.unsqueeze(0));
  } catch (const Error& e) {
    model->train();
    throw ShapeError(fmt::format("the model on one example of shape [{}]: {}", fmt::join(eval_shape, ", "), e.what()));
  }
  model->train();
}

// threads: auto. The thread count that runs this model's training step fastest here, timed
// on a synthetic batch before training (a few steps each, ~0.3 s): OpenMP fork/join makes
// small models slower on more threads on some machines and faster on others.
int measure_threads(const train::RunConfig& cfg, const std::vector<int64_t>& input_shape, std::ostream& out) {
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
    nn::Sequential net = train::build_model(cfg, input_shape);
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
  out << fmt::format("threads: auto -> {} (measured on a synthetic batch of {}: {})\n", best, shape[0],
                     fmt::format("{}", fmt::join(parts, ", ")));
  return best;
}

// The best-checkpoint monitor of a task: accuracy for classification, the loss otherwise.
std::string checkpoint_monitor(train::Task task, bool has_val) {
  if (!has_val) return "train_loss";
  return task == train::Task::kClassification ? "val_accuracy" : "val_loss";
}

std::string metrics_line(const train::Metrics& m) {
  switch (m.task) {
    case train::Task::kClassification: {
      std::string s = fmt::format("accuracy {}", percent(m.accuracy));
      if (m.top_k > 1 && m.top_k < m.num_classes) s += fmt::format("  top-{} {}", m.top_k, percent(m.top_k_accuracy));
      return s + fmt::format("  loss {}  macro F1 {}", num(m.loss), num(m.macro_f1));
    }
    case train::Task::kRegression:
      return fmt::format("mse {}  mae {}  r2 {}  loss {}", num(m.mse, 6), num(m.mae, 6), num(m.r2), num(m.loss));
    case train::Task::kMultiLabel:
      return fmt::format("subset accuracy {}  micro F1 {}  macro F1 {}  hamming loss {}  loss {}",
                         percent(m.subset_accuracy), num(m.micro_f1), num(m.macro_f1), num(m.hamming_loss),
                         num(m.loss));
  }
  return "";
}

}  // namespace

int train(const TrainArgs& args) {
  const auto t0 = Clock::now();
  std::error_code ec;
  std::ostream& out = std::cout;
  CNNKIT_CHECK(!args.config.empty() || !args.resume.empty(),
               "train: give a run config (cnnkit train CONFIG.yaml) or a run to continue (--resume RUN_DIR)");

  ResumeTarget resume;
  train::RunConfig cfg;
  if (!args.resume.empty()) {
    resume = resume_target(args.resume);
    cfg = resume_config(args, resume);
  } else {
    cfg = train::load_run_config(args.config, args.overrides);
  }
  for (const std::string& note : cfg.notes) out << note << "\n";
  // threads: auto unless the command line or CNNKIT_NUM_THREADS names a count.
  const bool threads_auto = args.threads <= 0 && cfg.threads < 0 && std::getenv("CNNKIT_NUM_THREADS") == nullptr;
  if (!threads_auto) set_threads(args.threads > 0 ? args.threads : static_cast<int>(cfg.threads));
  const train::Task task = train::task_of(cfg);

  train::RunData data = train::build_datasets(cfg);
  cfg.data.image_shape = data.input_shape;
  if (data.val && data.val->size().value_or(0) == 0) {
    data.report.push_back(fmt::format("validation split: empty ({} of {} examples rounds to none); training without "
                                      "validation",
                                      cfg.data.val_fraction, data.train->size().value_or(0)));
    data.val = nullptr;
  }
  const train::LossFn loss_fn = train::build_loss(cfg);
  nn::Sequential model = train::build_model(cfg, data.input_shape);
  check_pipeline(data, model, loss_fn);
  if (threads_auto) {
    measure_threads(cfg, data.input_shape, out);
    model = train::build_model(cfg, data.input_shape);  // the same initial weights as without the probe
  }

  const std::string run_dir = resume.run_dir.empty() ? new_run_dir(cfg, args.overwrite) : resume.run_dir;
  fs::create_directories(fs::path(run_dir) / "checkpoints");
  if (resume.run_dir.empty()) train::save_resolved_config(cfg, (fs::path(run_dir) / "config.yaml").string());

  out << "run " << run_dir << "\n";
  out << fmt::format("data: {} ({} train, {} validation, {} test examples), input [{}]\n", cfg.data.dataset,
                     data.train->size().value_or(0), data.val ? data.val->size().value_or(0) : 0,
                     data.test->size().value_or(0), fmt::join(data.input_shape, ", "));
  for (const std::string& line : data.report) out << "  " << line << "\n";
  out << "model: " << model_name(cfg) << ", " << count_parameters(*model) << " parameters\n";
  out << "optimizer: " << optimizer_line(cfg) << "\n";
  std::unique_ptr<optim::Optimizer> opt = train::build_optimizer(cfg, model->parameters());

  const auto workers = static_cast<size_t>(cfg.data.workers);
  data::DataLoader train_loader(data.train, data::DataLoaderOptions(static_cast<size_t>(cfg.data.batch_size))
                                                .shuffle(true).workers(workers).seed(cfg.seed));
  std::unique_ptr<data::DataLoader> val_loader;
  if (data.val)
    val_loader = std::make_unique<data::DataLoader>(
        data.val, data::DataLoaderOptions(static_cast<size_t>(cfg.data.eval_batch_size)).workers(workers));
  data::DataLoader test_loader(data.test,
                               data::DataLoaderOptions(static_cast<size_t>(cfg.data.eval_batch_size)).workers(workers));

  train::TrainerOptions topts;
  topts.epochs(cfg.epochs)
      .task(task)
      .l1(cfg.regularization.l1)
      .l2(cfg.regularization.l2)
      .grad_clip_norm(cfg.grad_clip_norm)
      .seed(cfg.seed)
      .num_classes(static_cast<int64_t>(data.classes.size()))
      .verbose(!args.quiet);
  if (cfg.regularization.params == "all") topts.penalty_params({"*"});
  train::Trainer trainer(nn::AnyModule(model), *opt, loss_fn, topts);

  if (auto sched = train::build_scheduler(cfg, *opt, static_cast<int64_t>(train_loader.size())))
    trainer.set_scheduler(sched, cfg.scheduler.per_batch() ? train::SchedulerStep::kBatch : train::SchedulerStep::kEpoch);
  if (auto plateau = train::build_plateau_scheduler(cfg, *opt)) {
    CNNKIT_CHECK(val_loader || cfg.scheduler.monitor.rfind("val_", 0) != 0, cfg.source,
                 ": scheduler ReduceLROnPlateau monitors ", cfg.scheduler.monitor,
                 " but there is no validation split (data.split.val is 0)");
    trainer.set_plateau_scheduler(plateau, cfg.scheduler.monitor);
  }

  auto checkpoint = std::make_shared<train::ModelCheckpoint>(
      train::ModelCheckpointOptions((fs::path(run_dir) / "checkpoints").string())
          .monitor(checkpoint_monitor(task, val_loader != nullptr)));
  trainer.add_callback(checkpoint);
  trainer.add_callback(std::make_shared<train::CSVLogger>((fs::path(run_dir) / "metrics.csv").string()));
  trainer.add_callback(std::make_shared<train::TerminateOnNaN>());
  std::shared_ptr<train::EarlyStopping> early_stopping;
  if (cfg.early_stopping.enabled) {
    const auto& e = cfg.early_stopping;
    CNNKIT_CHECK(val_loader || e.monitor.rfind("val_", 0) != 0, cfg.source, ": early_stopping monitors ", e.monitor,
                 " but there is no validation split (data.split.val is 0)");
    early_stopping = std::make_shared<train::EarlyStopping>(
        train::EarlyStoppingOptions()
            .monitor(e.monitor)
            .patience(e.patience)
            .min_delta(e.min_delta)
            .mode(e.mode == "min" ? train::Mode::kMin : e.mode == "max" ? train::Mode::kMax : train::Mode::kAuto)
            .restore_best_weights(e.restore_best_weights));
    trainer.add_callback(early_stopping);
  }
  trainer.add_callback(std::make_shared<StopOnSignal>());
  if (args.quiet) trainer.add_callback(std::make_shared<EpochLines>(out, cfg.epochs));
  const std::string model_path = (fs::path(run_dir) / "model.safetensors").string();
  if (!resume.checkpoint.empty()) {
    trainer.resume(resume.checkpoint);
    const bool stopped_early = early_stopping && early_stopping->stopped();
    if ((trainer.epoch() >= cfg.epochs || stopped_early) && fs::exists(model_path, ec)) {
      out << fmt::format("run {} already finished ({} of {} epochs{}); nothing left to do. `cnnkit eval {}` "
                         "evaluates its model.\n",
                         run_dir, trainer.epoch(), cfg.epochs, stopped_early ? ", stopped early" : "", run_dir);
      return 0;
    }
    out << "resumed from " << resume.checkpoint << " after epoch " << trainer.epoch() << "\n";
  }

  const std::string resume_hint = "cnnkit train --resume " + run_dir;
  train::History history;
  g_signal.store(0);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  try {
    history = trainer.fit(train_loader, val_loader.get());
  } catch (const Interrupted& e) {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    out << std::endl;
    std::string msg = std::string(e.what()) + ". ";
    if (fs::exists(checkpoint->last_path(), ec))
      msg += fmt::format("The run after epoch {} is in {}; continue it with:\n  {}", trainer.epoch(),
                         checkpoint->last_path(), resume_hint);
    else
      msg += "No epoch had finished, so there is no checkpoint to resume from; start the run again (with "
             "--overwrite when the config sets output_dir).";
    throw Interrupted(msg);
  } catch (const train::NonFiniteError& e) {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::string msg = e.what();
    if (fs::exists(checkpoint->last_path(), ec) && msg.find(checkpoint->last_path()) == std::string::npos)
      msg += " The last good checkpoint is " + checkpoint->last_path() + ".";
    throw train::NonFiniteError(msg);
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);

  const train::Metrics test = trainer.evaluate(test_loader);
  save_model(model_path, *model, cfg, data.classes);
  const double wall = seconds_since(t0);

  std::ostringstream summary;
  summary << "cnnkit run " << cfg.name << " (" << run_dir << ")\n";
  summary << "config: " << (args.config.empty() ? run_dir + "/config.yaml" : args.config);
  for (const std::string& o : args.overrides) summary << " --set " << o;
  summary << "\n";
  summary << fmt::format("data: {}, {} train / {} validation / {} test, batch {}", cfg.data.dataset,
                         data.train->size().value_or(0), data.val ? data.val->size().value_or(0) : 0,
                         data.test->size().value_or(0), cfg.data.batch_size);
  if (!cfg.data.mean.empty())
    summary << fmt::format(", normalize mean [{}] std [{}]", fmt::join(cfg.data.mean, ", "), fmt::join(cfg.data.std, ", "));
  summary << "\n";
  summary << "optimizer: " << optimizer_line(cfg) << "\n\n";
  summary << "model: " << model_name(cfg) << "\n" << model_summary_text(*model, data.input_shape) << "\n";
  summary << epoch_table(history, task) << "\n";
  if (early_stopping) summary << early_stopping->summary() << "\n";
  summary << "test: " << metrics_line(test) << "\n";
  summary << test.report(data.classes) << "\n";
  if (task == train::Task::kClassification)
    summary << "confusion matrix (rows: true class, columns: predicted)\n"
            << test.confusion_matrix_string(data.classes) << "\n";
  summary << "wall time " << train::format_duration(wall) << "\n";
  io::write_file_atomic((fs::path(run_dir) / "summary.txt").string(), summary.str(), "train");
  out << "wrote " << run_dir << "/{config.yaml, metrics.csv, checkpoints/, model.safetensors, summary.txt}\n";
  out << train::summary_line("test", test, wall) << std::endl;
  return 0;
}

// ---- eval ----------------------------------------------------------------------------------

int eval(const EvalArgs& args) {
  const auto t0 = Clock::now();
  Loaded l = load_target(args.model, args.config, args.overrides);
  set_threads(args.threads > 0 ? args.threads : static_cast<int>(l.cfg.threads));
  CNNKIT_CHECK(!l.weights.empty(), "eval: ", args.model, " is a config; pass a run directory or a model file");
  // The weights first: a file from another model fails before any data is read.
  nn::Sequential model = train::build_model(l.cfg, input_shape_of(l.cfg));
  load_weights(l.weights, *model);
  const bool need_train = l.cfg.data.normalize == "auto" && l.cfg.data.mean.empty();
  l.cfg.data.classes = l.classes;  // the test split numbered by the classes the model was trained on
  train::RunData data = train::build_datasets(l.cfg, need_train);
  for (const std::string& line : data.report) std::cout << line << "\n";
  if (l.classes.empty()) l.classes = data.classes;
  data::DataLoader loader(data.test, data::DataLoaderOptions(static_cast<size_t>(l.cfg.data.eval_batch_size))
                                         .workers(static_cast<size_t>(l.cfg.data.workers)));
  const train::Task task = train::task_of(l.cfg);
  const train::Metrics m =
      train::evaluate(nn::AnyModule(model), loader, train::build_loss(l.cfg),
                      train::EvaluateOptions().task(task).num_classes(static_cast<int64_t>(l.classes.size())));
  std::cout << "model " << l.weights << " on the " << l.cfg.data.dataset << " test set (" << m.count << " examples)\n";
  std::cout << metrics_line(m) << "\n\n";
  std::cout << m.report(l.classes) << "\n";
  if (task == train::Task::kClassification)
    std::cout << "confusion matrix (rows: true class, columns: predicted)\n" << m.confusion_matrix_string(l.classes);
  std::cout << train::summary_line("test", m, seconds_since(t0)) << std::endl;
  return 0;
}

// ---- predict -------------------------------------------------------------------------------

int predict(const PredictArgs& args) {
  Loaded l = load_target(args.model, args.config, {});
  set_threads(args.threads > 0 ? args.threads : static_cast<int>(l.cfg.threads));
  CNNKIT_CHECK(!l.weights.empty(), "predict: ", args.model, " is a config; pass a run directory or a model file");
  std::vector<int64_t> shape = input_shape_of(l.cfg);  // (C, H, W) the model takes
  nn::Sequential model = train::build_model(l.cfg, shape);
  load_weights(l.weights, *model);
  if (l.cfg.data.normalize == "auto" && l.cfg.data.mean.empty()) {
    // A hand-written config: the statistics come from the training data, as in training.
    l.cfg.data.classes = l.classes;
    train::RunData data = train::build_datasets(l.cfg, true);
    if (l.classes.empty()) l.classes = data.classes;
  }
  model->eval();

  bool sizes_itself = false;  // eval transforms that fix the size: leave the image's size to them
  for (const auto& t : l.cfg.data.eval_transforms)
    sizes_itself |= t.name == "Resize" || t.name == "CenterCrop" || t.name == "RandomResizedCrop";
  const data::ImageReadMode mode = shape[0] == 1   ? data::ImageReadMode::GRAY
                                   : shape[0] == 3 ? data::ImageReadMode::RGB
                                                   : data::ImageReadMode::UNCHANGED;
  const train::Task task = train::task_of(l.cfg);
  auto label = [&](int64_t c) {
    return c < static_cast<int64_t>(l.classes.size()) ? l.classes[static_cast<size_t>(c)] : "class " + std::to_string(c);
  };
  NoGradGuard no_grad;
  int failed = 0;
  for (const std::string& path : args.images) {
    // One file that does not decode is reported and skipped; the exit code says so at the end.
    Tensor x;
    try {
      Tensor img = data::decode_image(path, mode);
      if (!sizes_itself && (img.size(1) != shape[1] || img.size(2) != shape[2]))
        img = data::transforms::functional::resize(img, std::vector<int64_t>{shape[1], shape[2]});
      x = train::preprocess_image(l.cfg, img).unsqueeze(0);
    } catch (const Error& e) {
      std::cout << path << "\n  error: " << e.what() << "\n";
      std::cerr << "cnnkit: error: " << e.what() << "\n";
      ++failed;
      continue;
    }
    const Tensor out = model->forward(x).reshape({-1}).contiguous();
    std::cout << path << "\n";
    if (task == train::Task::kRegression) {
      for (int64_t i = 0; i < out.size(0); ++i)
        std::cout << fmt::format("  output[{}] = {:.6g}\n", i, out[i].item<double>());
      continue;
    }
    // Classification: the softmax's top k. Multi-label: each label's own sigmoid, the labels
    // at p >= 0.5 marked, the k most probable listed.
    const Tensor probs = task == train::Task::kMultiLabel ? sigmoid(out).contiguous() : softmax(out, 0).contiguous();
    const int64_t k = std::min<int64_t>(args.top_k, probs.size(0));
    auto [values, indices] = probs.topk(k);
    for (int64_t i = 0; i < k; ++i) {
      const int64_t c = indices[i].item<int64_t>();
      const double p = values[i].item<double>();
      const bool on = task == train::Task::kMultiLabel && p >= 0.5;
      std::cout << fmt::format("  {:>6.2f}%  {} ({}){}\n", 100 * p, label(c), c, on ? "  *" : "");
    }
  }
  if (failed)
    throw IOError(fmt::format("predict: {} of {} images could not be read (see above)", failed, args.images.size()));
  return 0;
}

// ---- info ----------------------------------------------------------------------------------

int info(const InfoArgs& args) {
  Loaded l = load_target(args.target, "", args.overrides);
  const std::vector<int64_t> shape = input_shape_of(l.cfg);
  nn::Sequential model = train::build_model(l.cfg, shape);
  if (!l.weights.empty()) load_weights(l.weights, *model);
  std::cout << "config " << l.cfg.source << " (" << l.cfg.name << ")";
  if (!l.weights.empty()) std::cout << ", weights " << l.weights;
  std::cout << "\n" << model_summary_text(*model, shape);
  return 0;
}

// ---- bench ---------------------------------------------------------------------------------

namespace {

struct StepTimer {
  nn::Sequential net;
  optim::SGD opt;
  StepTimer(nn::Sequential n) : net(std::move(n)), opt(net->parameters(), optim::SGDOptions(0.01).momentum(0.9)) {}
  void step(const Tensor& x, const Tensor& y) {
    opt.zero_grad();
    Tensor loss = nn::functional::cross_entropy(net->forward(x), y);
    loss.backward();
    opt.step();
  }
};

nn::Sequential bench_model(const std::string& name) {
  models::ZooOptions o;
  o.in_channels = name == "lenet5" ? 1 : 3;
  o.num_classes = 10;
  return models::make(name, o);
}

// The two data paths of W1 with real data: batches from the DataLoader (worker threads,
// RandomCrop(28, 2) + RandomHorizontalFlip + ToTensor + Normalize per example) against
// batches sliced from tensors prepared up front. Same model, same number of steps.
int bench_from_loader(const BenchArgs& args) {
  namespace T = data::transforms;
  auto fm = std::make_shared<data::datasets::FashionMNIST>(args.data_root);
  const auto n = static_cast<int64_t>(fm->size().value_or(0));
  CNNKIT_CHECK(n >= args.batch, "bench --from-loader: ", args.data_root, " holds ", n,
               " training images, fewer than one batch of ", args.batch);
  const auto [mean, std] = data::compute_mean_std(fm);  // of the data given, not Fashion-MNIST's
  auto train_tf = T::Compose({T::RandomCrop(28, T::IntList(2)), T::RandomHorizontalFlip(), T::ToTensor(),
                              T::Normalize<>(mean, std)});
  auto ds = std::make_shared<data::MapDataset>(fm, train_tf);
  data::DataLoader loader(ds, data::DataLoaderOptions(static_cast<size_t>(args.batch))
                                  .shuffle(true).workers(static_cast<size_t>(args.workers)).drop_last(true));
  const int64_t total = args.warmup + args.steps;

  manual_seed(0);
  StepTimer a(bench_model("lenet5"));
  int64_t done = 0;
  Clock::time_point t0;
  for (int64_t epoch = 0; done < total; ++epoch) {
    loader.set_epoch(epoch);
    for (data::Example<>& b : loader) {
      if (done == args.warmup) t0 = Clock::now();
      a.step(b.data, b.target);
      if (++done == total) break;
    }
  }
  const double loader_ips = static_cast<double>(args.steps * args.batch) / seconds_since(t0);

  // The same images, transformed once (no augmentation), held as tensors: the whole
  // training set, walked in order (a small cycled subset would sit in cache and flatter it).
  Tensor x = T::functional::normalize(T::functional::to_tensor(fm->images().narrow(0, 0, n)), mean, std);
  Tensor y = fm->targets().narrow(0, 0, n);
  manual_seed(0);
  StepTimer b(bench_model("lenet5"));
  const int64_t batches = n / args.batch;
  for (int64_t i = 0; i < total; ++i) {
    if (i == args.warmup) t0 = Clock::now();
    const int64_t j = (i % batches) * args.batch;
    b.step(x.narrow(0, j, args.batch), y.narrow(0, j, args.batch));
  }
  const double tensor_ips = static_cast<double>(args.steps * args.batch) / seconds_since(t0);
  std::cout << fmt::format("bench framework=cnnkit model=lenet5 batch={} threads={} steps={} workers={} "
                           "loader_images_per_s={:.1f} tensor_images_per_s={:.1f} ratio={:.3f}\n",
                           args.batch, get_num_threads(), args.steps, args.workers, loader_ips, tensor_ips,
                           loader_ips / tensor_ips);
  return 0;
}

}  // namespace

int bench(const BenchArgs& args) {
  set_threads(args.threads);
  if (args.from_loader) return bench_from_loader(args);
  manual_seed(0);
  StepTimer t(bench_model(args.model));
  const std::vector<int64_t> shape = args.model == "lenet5" ? std::vector<int64_t>{args.batch, 1, 28, 28}
                                                            : std::vector<int64_t>{args.batch, 3, 32, 32};
  std::vector<Tensor> xs, ys;  // a few distinct batches, cycled (as bench/torch_train.py)
  for (int i = 0; i < 4; ++i) {
    xs.push_back(randn(shape));
    ys.push_back(randint(10, {args.batch}));
  }
  for (int64_t i = 0; i < args.warmup; ++i) t.step(xs[i % 4], ys[i % 4]);
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < args.steps; ++i) t.step(xs[i % 4], ys[i % 4]);
  const double ips = static_cast<double>(args.steps * args.batch) / seconds_since(t0);
  std::cout << fmt::format("bench framework=cnnkit model={} batch={} threads={} steps={} images_per_s={:.1f}\n",
                           args.model, args.batch, get_num_threads(), args.steps, ips);
  return 0;
}

}  // namespace cnnkit::cli
