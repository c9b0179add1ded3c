// The `cnnkit` subcommands. Each builds what it needs from the run config (train/config.h)
// and the Trainer; this file only wires and prints. A run directory holds config.yaml (the
// resolved config), metrics.csv, checkpoints/{best,checkpoint_last}.safetensors,
// model.safetensors (final weights; its metadata carries the config and the class names, so
// the file alone is enough for eval / predict / info) and summary.txt.
#include "commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/error.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/data/dataloader.h"
#include "cnnkit/data/datasets/mnist.h"
#include "cnnkit/data/datasets/tensor.h"
#include "cnnkit/data/image.h"
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

std::string model_name(const train::RunConfig& cfg) {
  return cfg.model["zoo"] ? cfg.model["zoo"].Scalar() : std::string("layers");
}

std::string percent(double x) { return std::isnan(x) ? "-" : fmt::format("{:.2f}%", 100 * x); }
std::string num(double x, int digits = 4) { return std::isnan(x) ? "-" : fmt::format("{:.{}f}", x, digits); }

double log_value(const train::Logs& logs, const char* key) {
  const auto it = logs.find(key);
  return it == logs.end() ? NAN : it->second;
}

std::string epoch_table(const train::History& h) {
  std::string out = fmt::format("{:>5} {:>10} {:>10} {:>9} {:>10} {:>9} {:>8}\n", "epoch", "lr", "train_loss",
                                "train_acc", "val_loss", "val_acc", "time");
  for (size_t i = 0; i < h.size(); ++i) {
    const train::Logs& l = h[i];
    out += fmt::format("{:>5} {:>10.4g} {:>10} {:>9} {:>10} {:>9} {:>8}\n", i + 1, log_value(l, "lr"),
                       num(log_value(l, "train_loss")), percent(log_value(l, "train_accuracy")),
                       num(log_value(l, "val_loss")), percent(log_value(l, "val_accuracy")),
                       train::format_duration(log_value(l, "seconds")));
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

train::Metrics evaluate(nn::Module& module, data::DataLoader& loader, const train::LossFn& loss_fn,
                        int64_t num_classes) {
  NoGradGuard no_grad;
  const bool was_training = module.is_training();
  module.eval();
  train::ClassificationMetrics cm(num_classes, 5);
  auto* seq = dynamic_cast<nn::SequentialImpl*>(&module);
  CNNKIT_CHECK(seq != nullptr, "evaluate: expected a Sequential model");
  for (data::Example<>& batch : loader) {
    Tensor out = seq->forward(batch.data);
    cm.update(out, batch.target, loss_fn(out, batch.target).item<double>());
  }
  module.train(was_training);
  return cm.compute();
}

}  // namespace

// ---- train ---------------------------------------------------------------------------------

int train(const TrainArgs& args) {
  const auto t0 = Clock::now();
  train::RunConfig cfg = train::load_run_config(args.config, args.overrides);
  set_threads(args.threads > 0 ? args.threads : static_cast<int>(cfg.threads));

  std::string run_dir, resume_from;
  std::error_code ec;
  if (!args.resume.empty()) {
    CNNKIT_CHECK_IO(fs::exists(args.resume, ec), "--resume: no such run directory or checkpoint: ", args.resume);
    if (fs::is_directory(args.resume, ec)) {
      run_dir = args.resume;
      resume_from = (fs::path(run_dir) / "checkpoints" / "checkpoint_last.safetensors").string();
      CNNKIT_CHECK_IO(fs::exists(resume_from, ec), "--resume: ", run_dir,
                      " holds no checkpoints/checkpoint_last.safetensors to resume from");
    } else {
      resume_from = args.resume;
      fs::path dir = fs::absolute(resume_from).parent_path();
      if (dir.filename() == "checkpoints") dir = dir.parent_path();
      run_dir = dir.string();
    }
  } else {
    run_dir = cfg.output_dir.empty() ? "runs/" + cfg.name + "-" + timestamp() : cfg.output_dir;
  }

  train::RunData data = train::build_datasets(cfg);
  cfg.data.image_shape = data.input_shape;
  fs::create_directories(fs::path(run_dir) / "checkpoints");
  train::save_resolved_config(cfg, (fs::path(run_dir) / "config.yaml").string());

  std::ostream& out = std::cout;
  out << "run " << run_dir << "\n";
  out << fmt::format("data: {} ({} train, {} validation, {} test examples), input [{}]\n", cfg.data.dataset,
                     data.train->size().value_or(0), data.val ? data.val->size().value_or(0) : 0,
                     data.test->size().value_or(0), fmt::join(data.input_shape, ", "));
  for (const std::string& line : data.report) out << "  " << line << "\n";

  nn::Sequential model = train::build_model(cfg, data.input_shape);
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

  const train::LossFn loss_fn = train::build_loss(cfg);
  train::TrainerOptions topts;
  topts.epochs(cfg.epochs)
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

  const std::string monitor = val_loader ? "val_accuracy" : "train_loss";
  auto checkpoint = std::make_shared<train::ModelCheckpoint>(
      train::ModelCheckpointOptions((fs::path(run_dir) / "checkpoints").string()).monitor(monitor));
  trainer.add_callback(checkpoint);
  trainer.add_callback(std::make_shared<train::CSVLogger>((fs::path(run_dir) / "metrics.csv").string()));
  trainer.add_callback(std::make_shared<train::TerminateOnNaN>());
  if (cfg.early_stopping.enabled) {
    const auto& e = cfg.early_stopping;
    CNNKIT_CHECK(val_loader || e.monitor.rfind("val_", 0) != 0, cfg.source, ": early_stopping monitors ", e.monitor,
                 " but there is no validation split (data.split.val is 0)");
    trainer.add_callback(std::make_shared<train::EarlyStopping>(
        train::EarlyStoppingOptions()
            .monitor(e.monitor)
            .patience(e.patience)
            .min_delta(e.min_delta)
            .mode(e.mode == "min" ? train::Mode::kMin : e.mode == "max" ? train::Mode::kMax : train::Mode::kAuto)
            .restore_best_weights(e.restore_best_weights)));
  }
  if (!resume_from.empty()) {
    trainer.resume(resume_from);
    out << "resumed from " << resume_from << " after epoch " << trainer.epoch() << "\n";
  }

  train::History history;
  try {
    history = trainer.fit(train_loader, val_loader.get());
  } catch (const train::NonFiniteLossError& e) {
    std::string msg = e.what();
    if (fs::exists(checkpoint->last_path(), ec) && msg.find(checkpoint->last_path()) == std::string::npos)
      msg += " The last good checkpoint is " + checkpoint->last_path() + ".";
    throw train::NonFiniteLossError(msg);
  }

  const train::Metrics test = evaluate(*model, test_loader, loss_fn, static_cast<int64_t>(data.classes.size()));
  save_model((fs::path(run_dir) / "model.safetensors").string(), *model, cfg, data.classes);
  const double wall = seconds_since(t0);

  std::ostringstream summary;
  summary << "cnnkit run " << cfg.name << " (" << run_dir << ")\n";
  summary << "config: " << cfg.source;
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
  summary << epoch_table(history) << "\n";
  summary << fmt::format("test: accuracy {}  top-5 {}  loss {}  macro F1 {}\n", percent(test.accuracy),
                         percent(test.top_k_accuracy), num(test.loss), num(test.macro_f1));
  summary << test.report(data.classes) << "\n";
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
  train::RunData data = train::build_datasets(l.cfg, need_train);
  if (l.classes.empty()) l.classes = data.classes;
  data::DataLoader loader(data.test, data::DataLoaderOptions(static_cast<size_t>(l.cfg.data.eval_batch_size))
                                         .workers(static_cast<size_t>(l.cfg.data.workers)));
  const train::Metrics m = evaluate(*model, loader, train::build_loss(l.cfg), static_cast<int64_t>(l.classes.size()));
  std::cout << "model " << l.weights << " on the " << l.cfg.data.dataset << " test set (" << m.count << " examples)\n";
  std::cout << fmt::format("accuracy {}  top-5 {}  loss {}  macro F1 {}\n\n", percent(m.accuracy),
                           percent(m.top_k_accuracy), num(m.loss), num(m.macro_f1));
  std::cout << m.report(l.classes) << "\n";
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
  NoGradGuard no_grad;
  for (const std::string& path : args.images) {
    Tensor img = data::decode_image(path, mode);
    if (!sizes_itself && (img.size(1) != shape[1] || img.size(2) != shape[2]))
      img = data::transforms::functional::resize(img, std::vector<int64_t>{shape[1], shape[2]});
    Tensor x = train::preprocess_image(l.cfg, img).unsqueeze(0);
    Tensor probs = softmax(model->forward(x), 1).squeeze(0).contiguous();
    const int64_t k = std::min<int64_t>(args.top_k, probs.size(0));
    auto [values, indices] = probs.topk(k);
    std::cout << path << "\n";
    for (int64_t i = 0; i < k; ++i) {
      const int64_t c = indices[i].item<int64_t>();
      const std::string name = c < static_cast<int64_t>(l.classes.size()) ? l.classes[c] : "class " + std::to_string(c);
      std::cout << fmt::format("  {:>6.2f}%  {} ({})\n", 100 * values[i].item<double>(), name, c);
    }
  }
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
  auto train_tf = T::Compose({T::RandomCrop(28, T::IntList(2)), T::RandomHorizontalFlip(), T::ToTensor(),
                              T::Normalize<>(0.2860, 0.3530)});
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
  const auto n = static_cast<int64_t>(fm->size().value_or(0));
  Tensor x = T::functional::normalize(T::functional::to_tensor(fm->images().narrow(0, 0, n)), {0.2860}, {0.3530});
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
