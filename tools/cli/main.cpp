// `cnnkit`: train | eval | predict | export | report | compare | info | bench | cv | ensemble | search | shard | lr-find. Parses the command line (CLI11) and maps
// what the commands throw to exit codes: 0 success, 1 a cnnkit::Error (message on stderr,
// no stack trace), 2 a usage error, 130 training stopped by Ctrl-C. The commands themselves live in commands.cpp.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <limits>
#include <string_view>
#include <vector>

#include "cnnkit/core/error.h"
#include "cnnkit/core/suggest.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/distributed/distributed.h"
#include "cnnkit/train/run.h"
#include "commands.h"

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;  // as a shell reports a process stopped by SIGINT

}  // namespace

namespace cnnkit::cli {

// "--threads -3" and "-k 0" answered in words (CLI11's Range and PositiveNumber print the
// type's limits, 1.8e308 for a double).
namespace {

CLI::Validator whole_number(const char* what, long long min, long long max) {
  return CLI::Validator(
      [what, min, max](std::string& value) {
        long long v = 0;
        try {
          size_t used = 0;
          v = std::stoll(value, &used);
          if (used != value.size()) return std::string(what) + " must be a whole number, got '" + value + "'";
        } catch (const std::exception&) {
          return std::string(what) + " must be a whole number, got '" + value + "'";
        }
        if (v < min) return std::string(what) + " must be at least " + std::to_string(min) + ", got " + value;
        if (v > max) return std::string(what) + " must be at most " + std::to_string(max) + ", got " + value;
        return std::string();
      },
      "N>=" + std::to_string(min));
}

}  // namespace

CLI::Validator at_least(const char* what, long long min) {
  return whole_number(what, min, std::numeric_limits<long long>::max());
}

CLI::Validator positive_number(const char* what) {
  return CLI::Validator(
      [what](std::string& value) {
        double v = 0;
        try {
          size_t used = 0;
          v = std::stod(value, &used);
          if (used != value.size()) return std::string(what) + " must be a number, got '" + value + "'";
        } catch (const std::exception&) {
          return std::string(what) + " must be a number, got '" + value + "'";
        }
        return v > 0 && std::isfinite(v) ? std::string() : std::string(what) + " must be a positive number, got " + value;
      },
      "X>0");
}

CLI::Validator threads_check() { return whole_number("--threads (a thread count)", 1, kMaxThreads); }

}  // namespace cnnkit::cli

int main(int argc, char** argv) {
  using namespace cnnkit;
  cli::watch_stop_signals();  // before any thread starts: every thread inherits the blocked signals
  CLI::App app{"cnnkit: train, evaluate and run convolutional networks from YAML run configs"};
  app.require_subcommand(0, 1);
  app.set_help_all_flag("--help-all", "help for every subcommand");
  app.set_version_flag("--version", "cnnkit " CNNKIT_VERSION);
  const auto threads_check = cli::threads_check();
  auto at_least_one = [](const char* what) { return cli::at_least(what, 1); };

  cli::TrainArgs ta;
  auto* train = app.add_subcommand("train", "train a model from a run config");
  train->add_option("config", ta.config,
                    "run config (YAML), e.g. configs/lenet5-fashion-mnist.yaml; optional with --resume");
  train->add_option("--set", ta.overrides,
                    "override a config key: --set optimizer.lr=0.1; --set key=null deletes it (repeatable)");
  train->add_option("--resume", ta.resume,
                    "continue a run under its own config: its run directory or a checkpoint file");
  train->add_flag("--overwrite", ta.overwrite, "replace the run already in the config's output_dir")
      ->excludes("--resume");  // a resumed run continues in its directory; replacing it is another run
  train->add_option("--threads", ta.threads, "threads for the math (default: the config's `threads`)")
      ->check(threads_check);
  train->add_flag("--quiet,-q", ta.quiet, "no progress bar: one line an epoch");
  train->add_flag("!--no-report", ta.report, "do not write report.html at the end");

  cli::EvalArgs ea;
  auto* eval = app.add_subcommand("eval", "test-set metrics of a trained model");
  eval->add_option("model", ea.model, "run directory, or a model / checkpoint file")->required();
  eval->add_option("--config", ea.config, "run config, when the model file carries none");
  eval->add_option("--set", ea.overrides, "override a config key (repeatable)");
  eval->add_option("--threads", ea.threads, "threads for the math")->check(threads_check);

  cli::PredictArgs pa;
  auto* predict = app.add_subcommand("predict", "classify image files (PNG, JPEG, BMP), or run a model on an .npy array");
  predict->add_option("model", pa.model, "run directory, model file (.safetensors) or ONNX file (.onnx, with --input)")
      ->required();
  predict->add_option("images", pa.images, "image files");
  auto* input_opt = predict->add_option("--input", pa.input,
                                        "float32 .npy (N, C, H, W) fed to the model as is (already preprocessed)");
  predict->add_option("--output", pa.output, "with --input: .npy of the model's raw float32 outputs")->needs(input_opt);
  predict->add_option("--batch", pa.batch, "with --input: rows per forward pass (bounds memory)")
      ->check(at_least_one("--batch"));
  predict->add_option("--config", pa.config, "run config, when the model file carries none");
  predict->add_option("--top-k,-k", pa.top_k, "classes to print per image")
      ->check(at_least_one("-k"));
  predict->add_option("--threads", pa.threads, "threads for the math")->check(threads_check);
  predict->add_flag("--json", pa.json, "one JSON object a line per image (path, outputs, top classes, or error)");

  cli::ExportArgs xa;
  auto* exp = app.add_subcommand("export", "write a trained model as ONNX (opset 13 to 17)");
  exp->add_option("model", xa.model, "run directory, or a model file (.safetensors)")->required();
  exp->add_option("--onnx", xa.onnx, "the ONNX file to write")->required();
  exp->add_option("--opset", xa.opset, "ONNX opset (13 to 17; 17 writes LayerNorm as one LayerNormalization)");
  exp->add_option("--config", xa.config, "run config, when the model file carries none");

  cli::ReportArgs ra;
  auto* rep = app.add_subcommand("report", "write RUN_DIR/report.html: curves, confusion matrix, filters, Grad-CAM");
  rep->add_option("run_dir", ra.run_dir, "run directory")->required();
  rep->add_option("--gallery", ra.gallery, "images in the mistakes gallery and each Grad-CAM row")
      ->check(at_least_one("--gallery"));
  rep->add_option("--threads", ra.threads, "threads for the math")->check(threads_check);
  rep->add_flag("!--no-eval", ra.evaluate, "curves, filters and config only (no pass over the test split)");

  cli::CompareArgs cpa;
  auto* cmp = app.add_subcommand("compare", "several runs' curves and final numbers on one page (compare.html)");
  cmp->add_option("run_dirs", cpa.run_dirs, "run directories (at most 10)")->required()->expected(1, 10);
  cmp->add_option("--output,-o", cpa.output, "directory of compare.html (default: runs/compare)");

  cli::InfoArgs ia;
  auto* info = app.add_subcommand("info", "model summary: layers, output shapes, parameters, FLOPs; --profile: time per layer");
  info->add_option("target", ia.target, "run config, run directory or model file")->required();
  info->add_option("--set", ia.overrides, "override a config key (repeatable)");
  auto* profile_flag = info->add_flag(
      "--profile", ia.profile,
      "also time a training step per layer (forward, backward, share) on random data of the input shape");
  info->add_option("--steps", ia.steps, "with --profile: timed steps, after 2 warm-up steps (default 20)")
      ->check(at_least_one("--steps"))
      ->needs(profile_flag);
  info->add_option("--batch", ia.batch, "with --profile: batch size (default: the config's data.batch_size)")
      ->check(at_least_one("--batch"))
      ->needs(profile_flag);
  info->add_option("--threads", ia.threads, "threads for the math (default: the config's `threads`)")
      ->check(threads_check);

  cli::BenchArgs ba;
  auto* bench = app.add_subcommand("bench", "training-step (or --eval: inference) throughput on synthetic data");
  bench->add_option("--model", ba.model, "lenet5 or resnet20")->check(CLI::IsMember({"lenet5", "resnet20"}));
  bench->add_option("--batch", ba.batch, "batch size")->check(at_least_one("--batch"));
  bench->add_option("--steps", ba.steps, "timed training steps")->check(at_least_one("--steps"));
  bench->add_option("--warmup", ba.warmup, "untimed steps first")->check(cli::at_least("--warmup", 0));
  bench->add_option("--threads", ba.threads, "threads (default: CNNKIT_NUM_THREADS or all cores)")
      ->check(threads_check);
  bench->add_flag("--eval", ba.eval,
                  "time inference instead: eval mode, no autograd, forward only (ms per batch, median)");
  bench->add_flag("--from-loader", ba.from_loader,
                  "LeNet-5 on Fashion-MNIST through the DataLoader with augmentation vs from tensors");
  bench->add_option("--data", ba.data_root, "Fashion-MNIST directory for --from-loader");
  bench->add_option("--workers", ba.workers, "loader worker threads for --from-loader")
      ->check(cli::at_least("--workers", 0));

  cli::CvArgs ca;
  auto* cv = app.add_subcommand("cv", "k-fold cross-validation of a run config (the test split is not touched)");
  cv->add_option("config", ca.config, "run config (YAML)")->required();
  cv->add_option("--set", ca.overrides, "override a config key (repeatable)");
  cv->add_option("--folds,-k", ca.folds, "number of folds K (>= 2)");
  cv->add_flag("--stratified", ca.stratified, "keep each class's share in every fold (StratifiedKFold)");
  cv->add_option("--seed", ca.seed, "seed of the fold shuffle");
  cv->add_flag("--refit", ca.refit, "then train on the whole training set and report the test split");
  cv->add_option("--output,-o", ca.output, "directory (default: the config's output_dir or runs/<name>-cv-<time>)");
  cv->add_option("--threads", ca.threads, "threads for the math")->check(threads_check);
  cv->add_flag("--quiet,-q", ca.quiet, "no progress bar: one line an epoch");

  cli::EnsembleArgs ens;
  auto* ensemble = app.add_subcommand("ensemble", "train an ensemble of a run config, saved as one model");
  ensemble->add_option("config", ens.config, "run config (YAML)")->required();
  ensemble->add_option("--set", ens.overrides, "override a config key (repeatable)");
  ensemble->add_option("--method", ens.method, "bagging, boosting (SAMME) or stacking")
      ->check(CLI::IsMember({"bagging", "boosting", "stacking"}));
  ensemble->add_option("--members,-m", ens.members, "members M (boosting: at most M rounds)");
  ensemble->add_flag("--no-bootstrap", ens.no_bootstrap, "bagging: seeds only, every member on the whole split");
  ensemble->add_option("--combine", ens.combine, "bagging: mean (averaged probabilities) or vote (majority)")
      ->check(CLI::IsMember({"mean", "vote"}));
  ensemble->add_option("--folds,-k", ens.folds, "stacking: folds of the out-of-fold probabilities");
  ensemble->add_option("--learning-rate", ens.learning_rate, "boosting: factor on each member's alpha (sklearn's learning_rate)")
      ->check(cli::positive_number("--learning-rate"));
  ensemble->add_option("--seed", ens.seed, "seed of the resampling and the folds");
  ensemble->add_option("--output,-o", ens.output, "directory (default: the config's output_dir or runs/<name>-<method>-<time>)");
  ensemble->add_option("--threads", ens.threads, "threads for the math")->check(threads_check);
  ensemble->add_flag("--quiet,-q", ens.quiet, "no progress bar: one line an epoch");

  cli::SearchArgs sa;
  auto* search = cli::add_search_command(app, sa);

  cli::ShardArgs sha;
  auto* shard = cli::add_shard_command(app, sha);

  cli::LrFindArgs lfa;
  auto* lr_find = cli::add_lr_find_command(app, lfa);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // "cnnkit trian": CLI11 takes it for a stray argument; name the subcommand meant.
    std::vector<std::string_view> names;
    for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
    if (argc > 1 && argv[1][0] != '-' && std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      std::string msg = std::string("cnnkit: unknown command '") + argv[1] + "'";
      const std::string hint = did_you_mean(argv[1], names);
      if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
      std::cerr << msg << "\nRun with --help for the commands.\n";
      return kExitUsage;
    }
    const int code = app.exit(e);  // prints help or the usage error
    return code == 0 ? 0 : kExitUsage;
  }
  if (app.get_subcommands().empty()) {
    std::cerr << app.help();
    return kExitUsage;
  }
  if (*train && ta.config.empty() && ta.resume.empty()) {
    std::cerr << "cnnkit train: give a run config (cnnkit train CONFIG.yaml) or a run to continue (--resume RUN_DIR)\n"
              << train->help();
    return kExitUsage;
  }

  // Started by mpirun with several processes: `train` runs data parallel over them (the same
  // config on every rank), `cv` and `search` spread their folds and trials over them; the other
  // verbs are single-process.
  const int launched = distributed::launched_world_size();
  const bool data_parallel = launched > 1;
  if (data_parallel) {
    const bool speaker = distributed::launched_rank() == 0;
    if (!distributed::is_available()) {
      if (speaker)
        std::cerr << "cnnkit: error: started by mpirun with " << launched << " processes, but this cnnkit was built "
                  << "without MPI (install libopenmpi-dev and openmpi-bin, e.g. scripts/install-deps, then reconfigure "
                  << "and rebuild); it will not run " << launched << " independent copies\n";
      return kExitError;
    }
    if (!*train && !*cv && !*search) {
      if (speaker)
        std::cerr << "cnnkit: error: `cnnkit " << app.get_subcommands().front()->get_name() << "` runs as one process; "
                  << "under mpirun (" << launched << " processes here) only `cnnkit train` (data parallel), "
                  << "`cnnkit cv` and `cnnkit search` (folds and trials spread over the processes) run\n";
      return kExitUsage;
    }
    try {
      auto options = distributed::ProcessGroupOptions();
      if (const char* t = std::getenv("CNNKIT_DISTRIBUTED_TIMEOUT")) {
        const double seconds = std::atof(t);
        if (seconds > 0) options.timeout(std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
      }
      distributed::init_process_group("mpi", options);
    } catch (const Error& e) {
      std::cerr << "cnnkit: error: " << e.what() << "\n";
      return kExitError;
    }
  }
  // One rank failing takes all down (MPI_Abort) rather than leaving the others waiting in a
  // collective; a clean finish finalises MPI on every rank.
  auto fail = [&](const std::string& kind, const std::string& message, int code) {
    if (data_parallel) distributed::abort(kind + message, code);
    std::cerr << "cnnkit: " << kind << message << "\n";
    return code;
  };

  try {
    int code = kExitUsage;
    if (*train) code = cli::train(ta);
    else if (*eval) code = cli::eval(ea);
    else if (*predict) code = cli::predict(pa);
    else if (*exp) code = cli::export_model(xa);
    else if (*rep) code = cli::report(ra);
    else if (*cmp) code = cli::compare(cpa);
    else if (*info) code = cli::info(ia);
    else if (*bench) code = cli::bench(ba);
    else if (*cv) code = cli::cv(ca);
    else if (*ensemble) code = cli::ensemble(ens);
    else if (*search) code = cli::search(sa);
    else if (*shard) code = cli::shard(sha);
    else if (*lr_find) code = cli::lr_find(lfa);
    if (data_parallel) {
      if (code != 0) distributed::abort("exit code " + std::to_string(code), code);
      distributed::destroy_process_group();
    }
    return code;
  } catch (const train::Interrupted& e) {
    return fail("", e.what(), kExitInterrupted);
  } catch (const cli::UsageError& e) {
    return fail("error: ", e.what(), kExitUsage);
  } catch (const InternalError& e) {
    return fail("internal error: ", e.what(), kExitError);
  } catch (const Error& e) {
    return fail("error: ", e.what(), kExitError);
  } catch (const std::bad_alloc&) {
    return fail("error: ", "out of memory", kExitError);
  } catch (const std::exception& e) {
    // Not a cnnkit::Error: a library below us (yaml-cpp, the standard library) threw.
    return fail("error: ", e.what(), kExitError);
  }
}
