// The `cnnkit` subcommands: each parses nothing and builds nothing itself; it opens a
// train::Run (train/run.h) and prints what the run gives. A run directory holds config.yaml
// (the resolved config), metrics.csv, checkpoints/{best,checkpoint_last}.safetensors,
// model.safetensors (final weights; its metadata carries the config and the class names, so
// the file alone is enough for eval / predict / info) and summary.txt.
#include "commands.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <thread>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <iostream>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/error.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/data/dataloader.h"
#include "cnnkit/data/datasets/mnist.h"
#include "cnnkit/data/stats.h"
#include "cnnkit/data/transforms.h"
#include "cnnkit/distributed/distributed.h"
#include "cnnkit/io/npy.h"
#include "cnnkit/io/onnx.h"
#include "cnnkit/models/inference.h"
#include "cnnkit/models/profile.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/ops/ops.h"
#include "cnnkit/optim/optim.h"
#include "cnnkit/report/report.h"
#include "cnnkit/train/progress.h"
#include "cnnkit/train/run.h"

namespace cnnkit::cli {

using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void set_threads(int threads) {
  if (threads > 0) set_num_threads(threads);
}

// Ctrl-C (SIGINT) or SIGTERM during training: the step in flight finishes, the run stops,
// and the message names the checkpoint to resume from. A second signal, or one outside
// training, ends the process as the signal does.
//
// The handler never runs on a compute thread: the signals are blocked in the main thread
// before it starts any other (main() calls watch_stop_signals() first; threads inherit the
// mask), and one idle thread leaves them unblocked to run the handler. A handler runs on
// the stack of the thread it interrupts, and oneDNN's JIT gemm kernels may point the stack
// pointer into a heap buffer while they run: the kernel's signal frame then lands in the
// heap and corrupts it (seen as "corrupted size vs. prev_size" aborts of the Ctrl-C test
// under load).
}  // namespace

namespace {
std::atomic<int> g_signal{0};
std::atomic<bool> g_training{false};
}  // namespace

TrainingScope::TrainingScope() {
  g_signal.store(0);
  g_training.store(true);
}
TrainingScope::~TrainingScope() { g_training.store(false); }

const std::atomic<int>* stop_flag() { return &g_signal; }

extern "C" void on_stop_signal(int sig) {
  if (g_training.load() && g_signal.load() == 0) {
    g_signal.store(sig);
    return;
  }
  // Outside training, or a second signal: end as the signal's default action does (the
  // signal is delivered again when this handler returns).
  std::signal(sig, SIG_DFL);
  raise(sig);
}

void watch_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  // Blocked here, so in every thread main() starts from now on (the math, the loader). The
  // handler replaces any inherited SIG_IGN (a shell starts background jobs with SIGINT ignored).
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A write past the file-size limit (ulimit -f) then fails with EFBIG, which the atomic
  // writers report by file, instead of SIGXFSZ killing the process mid-run.
  signal(SIGXFSZ, SIG_IGN);
  // The thread the handler runs on: it does nothing else. (Threads that libraries started
  // before main(), such as OpenBLAS's pool, may take a signal too: they run no JIT code.)
  std::thread([set] {
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    for (;;) pause();
  }).detach();
}

// ---- train ---------------------------------------------------------------------------------

int train(const TrainArgs& args) {
  CNNKIT_CHECK(!args.config.empty() || !args.resume.empty(),
               "train: give a run config (cnnkit train CONFIG.yaml) or a run to continue (--resume RUN_DIR)");
  std::string command = args.config;  // how summary.txt says the run was started
  for (const std::string& o : args.overrides) command += " --set " + o;
  const auto options = train::RunOptions()
                           .threads(args.threads)
                           .overwrite(args.overwrite)
                           .progress_bar(!args.quiet)
                           .log(&std::cout)
                           .stop(stop_flag())
                           .command(command);
  train::Run run = args.resume.empty()
                       ? train::Run(train::load_run_config(args.config, args.overrides), options)
                       : train::Run::resume(args.resume, args.config, args.overrides, options);
  train::FitResult r;
  {
    TrainingScope training;
    r = run.fit();
  }
  // Data parallel, rank 0 speaks for all (Run::fit reports on rank 0 only too).
  if (!r.already_finished && distributed::get_rank() == 0) {
    std::cout << train::summary_line("test", r.test, r.seconds) << std::endl;
    if (args.report) {
      // The run itself is done and saved: a report that cannot be drawn is said, not fatal.
      try {
        const report::ReportResult rr = report::write_report(run.run_dir(), report::ReportOptions().threads(args.threads));
        std::cout << "report: " << rr.html << std::endl;
      } catch (const Error& e) {
        std::cerr << "cnnkit: warning: the report could not be written: " << e.what() << "\n";
      }
    }
  }
  return 0;
}

// ---- report --------------------------------------------------------------------------------

int report(const ReportArgs& args) {
  const report::ReportResult r = report::write_report(
      args.run_dir, report::ReportOptions().gallery(args.gallery).threads(args.threads).evaluate(args.evaluate));
  for (const std::string& n : r.notes) std::cout << "report: left out: " << n << "\n";
  std::cout << "report: " << r.html << " (" << r.figures.size() << " figures in " << args.run_dir << "/figures)\n";
  return 0;
}

int compare(const CompareArgs& args) {
  const report::ReportResult r = report::compare_runs(args.run_dirs, args.output);
  for (const std::string& n : r.notes) std::cout << "compare: " << n << "\n";
  std::cout << "compare: " << r.html << " (" << args.run_dirs.size() << " runs)\n";
  return 0;
}

// ---- eval ----------------------------------------------------------------------------------

int eval(const EvalArgs& args) {
  const auto t0 = Clock::now();
  train::Run run = train::Run::open(args.model, args.config, args.overrides, train::RunOptions().threads(args.threads));
  CNNKIT_CHECK(!run.weights_path().empty(), "eval: ", args.model, " is a config; pass a run directory or a model file");
  run.model();  // the weights first: a file from another model fails before any data is read
  for (const std::string& line : run.data().report) std::cout << line << "\n";
  const train::Metrics m = run.evaluate("test");
  const std::vector<std::string>& classes = run.classes();
  std::cout << "model " << run.weights_path() << " on the " << run.config().data.dataset << " test set (" << m.count
            << " examples)\n";
  std::cout << train::metrics_line(m) << "\n";
  if (run.temperature() && run.task() == train::Task::kClassification) {
    // The temperature the run fitted on its validation split: calibrated probabilities.
    const train::Metrics c = run.evaluate("test", *run.temperature());
    std::cout << fmt::format("calibrated (temperature {:.4f} from the run's validation split): ECE {:.4f} -> {:.4f}, "
                             "accuracy unchanged\n",
                             *run.temperature(), m.ece, c.ece);
  }
  std::cout << "\n" << m.report(classes) << "\n";
  if (run.task() == train::Task::kClassification)
    std::cout << "confusion matrix (rows: true class, columns: predicted)\n" << m.confusion_matrix_string(classes);
  std::cout << train::summary_line("test", m, seconds_since(t0)) << std::endl;
  return 0;
}

// ---- predict -------------------------------------------------------------------------------

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// predict --input X.npy --output Y.npy: the model's raw outputs for an array, in batches.
int predict_array(const PredictArgs& args) {
  if (args.output.empty()) throw UsageError("predict: --input needs --output Y.npy (where the outputs go)");
  if (!args.images.empty()) throw UsageError("predict: give image files or --input X.npy, not both");
  Tensor x = io::load_npy(args.input);
  Tensor y;
  if (ends_with(args.model, ".onnx")) {
    if (args.threads > 0) set_num_threads(args.threads);
    io::OnnxModel m = io::import_onnx(args.model);
    m->eval();
    std::vector<int64_t> shape = m->input_shape();
    if (!shape.empty()) shape.erase(shape.begin());
    y = train::predict_array([&](const Tensor& b) { return m->forward(b); }, x, args.batch, shape,
                             "'" + args.input + "'");
  } else {
    train::Run run = train::Run::open(args.model, args.config, {}, train::RunOptions().threads(args.threads));
    CNNKIT_CHECK(!run.weights_path().empty(), "predict: ", args.model, " is a config; pass a run directory or a model file");
    nn::Sequential& net = run.inference_model();
    y = train::predict_array([&](const Tensor& b) { return net->forward(b); }, x, args.batch, run.input_shape(),
                             "'" + args.input + "'");
  }
  io::save_npy(args.output, y);
  std::cout << "predict: " << x.size(0) << " examples -> " << args.output << " " << y.sizes() << "\n";
  return 0;
}

}  // namespace

int export_model(const ExportArgs& args) {
  train::Run run = train::Run::open(args.model, args.config, {});
  CNNKIT_CHECK(!run.weights_path().empty(), "export: ", args.model,
               " is a config; pass a run directory or a model file (a trained model)");
  run.export_onnx(args.onnx, args.opset);
  std::cout << "export: " << run.model_name() << " -> " << args.onnx << " (ONNX opset " << args.opset
            << ", input (batch, " << fmt::format("{}", fmt::join(run.input_shape(), ", ")) << "))\n";
  return 0;
}

int predict(const PredictArgs& args) {
  if (!args.input.empty()) return predict_array(args);
  // An ONNX file carries no preprocessing cnnkit could apply to an image file.
  if (ends_with(args.model, ".onnx"))
    throw ValueError("predict: " + args.model + " is an ONNX model, which runs on arrays only: pass --input X.npy "
                     "--output Y.npy (image files need the run directory or its model.safetensors)");
  if (args.images.empty()) throw UsageError("predict: give image files, or --input X.npy --output Y.npy");
  train::Run run = train::Run::open(args.model, args.config, {}, train::RunOptions().threads(args.threads));
  CNNKIT_CHECK(!run.weights_path().empty(), "predict: ", args.model, " is a config; pass a run directory or a model file");
  run.model();
  int failed = 0;
  for (const std::string& path : args.images) {
    // One file that does not decode is reported and skipped; the exit code says so at the end.
    train::Prediction p;
    try {
      p = run.predict_file(path, args.top_k);
    } catch (const Error& e) {
      if (args.json)
        std::cout << nlohmann::json{{"path", path}, {"error", e.what()}}.dump() << "\n";
      else
        std::cout << path << "\n  error: " << e.what() << "\n";
      std::cerr << "cnnkit: error: " << e.what() << "\n";
      ++failed;
      continue;
    }
    if (args.json) {  // {"path": .., "outputs": [..], "top": [{"index", "label", "probability"[, "on"]}]}
      nlohmann::json j{{"path", path}};
      j["outputs"] = nlohmann::json::array();
      for (int64_t i = 0; i < p.outputs.size(0); ++i) j["outputs"].push_back(p.outputs[i].item<double>());
      if (run.task() != train::Task::kRegression) {
        j["top"] = nlohmann::json::array();
        for (const train::Prediction::Entry& e : p.top) {
          nlohmann::json entry{{"index", e.index}, {"label", e.label}, {"probability", e.probability}};
          if (run.task() == train::Task::kMultiLabel) entry["on"] = e.on;
          j["top"].push_back(entry);
        }
      }
      std::cout << j.dump() << "\n";
      continue;
    }
    std::cout << path << "\n";
    if (run.task() == train::Task::kRegression) {
      for (int64_t i = 0; i < p.outputs.size(0); ++i)
        std::cout << fmt::format("  output[{}] = {:.6g}\n", i, p.outputs[i].item<double>());
      continue;
    }
    for (const train::Prediction::Entry& e : p.top)
      std::cout << fmt::format("  {:>6.2f}%  {} ({}){}\n", 100 * e.probability, e.label, e.index, e.on ? "  *" : "");
  }
  if (failed)
    throw IOError(fmt::format("predict: {} of {} images could not be read (see above)", failed, args.images.size()));
  return 0;
}

// ---- info ----------------------------------------------------------------------------------

int info(const InfoArgs& args) {
  train::Run run = train::Run::open(args.target, "", args.overrides, train::RunOptions().threads(args.threads));
  std::cout << "config " << run.config().source << " (" << run.config().name << ")";
  if (!run.weights_path().empty()) std::cout << ", weights " << run.weights_path();
  std::cout << "\n" << run.model_summary();
  if (!args.profile) return 0;
  // The times do not depend on the values: random N(0, 1) data of the input shape, from a
  // generator of its own (the model's generator is left alone).
  std::vector<int64_t> shape{args.batch > 0 ? args.batch : run.config().data.batch_size};
  for (int64_t d : run.input_shape()) shape.push_back(d);
  Generator gen(0);
  const Tensor x = randn(shape, gen);
  const models::LayerProfile p = models::profile_layers(*run.model(), x, args.steps);
  std::cout << "\nprofile: a training step per layer (batch " << shape[0] << ", random data)\n" << p.table();
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

// W3i: forwards in eval mode without autograd, one batch at a time as a server would; each
// forward timed alone, reported as the median (latency) and as images/s over the median.
int bench_eval(const BenchArgs& args) {
  manual_seed(0);
  // As predict and eval run a model: optimised for inference (CNNKIT_FUSE=0: as written).
  nn::Sequential net = models::optimize_for_inference(bench_model(args.model));
  NoGradGuard no_grad;
  const std::vector<int64_t> shape = args.model == "lenet5" ? std::vector<int64_t>{args.batch, 1, 28, 28}
                                                            : std::vector<int64_t>{args.batch, 3, 32, 32};
  std::vector<Tensor> xs;
  for (int i = 0; i < 4; ++i) xs.push_back(randn(shape));
  float sink = 0;  // reads each output, as a caller would
  for (int64_t i = 0; i < args.warmup; ++i) sink += net->forward(xs[i % 4]).data_ptr<float>()[0];
  std::vector<double> ms;
  for (int64_t i = 0; i < args.steps; ++i) {
    const auto t0 = Clock::now();
    sink += net->forward(xs[i % 4]).data_ptr<float>()[0];
    ms.push_back(1e3 * seconds_since(t0));
  }
  std::nth_element(ms.begin(), ms.begin() + static_cast<long>(ms.size() / 2), ms.end());
  const double median = ms[ms.size() / 2];
  std::cout << fmt::format("bench framework=cnnkit model={} batch={} threads={} steps={} mode=eval "
                           "ms_per_batch={:.4f} images_per_s={:.1f}{}\n",
                           args.model, args.batch, get_num_threads(), args.steps, median,
                           1e3 * static_cast<double>(args.batch) / median, std::isfinite(sink) ? "" : " (non-finite output)");
  return 0;
}

}  // namespace

int bench(const BenchArgs& args) {
  set_threads(args.threads);
  if (args.from_loader) return bench_from_loader(args);
  if (args.eval) return bench_eval(args);
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
