// A run: everything one training run or one trained model needs, built from a RunConfig.
// It owns the datasets, loaders, model, loss, optimiser, scheduler, callbacks, the run
// directory and resume; every `cnnkit` verb is one call into it, and so are the C++ users
// who want what the CLI does:
//
//   train::Run run(train::load_run_config("configs/lenet5-fashion-mnist.yaml", {"epochs=3"}));
//   train::FitResult r = run.fit();            // runs/<name>-<time>/{config.yaml, metrics.csv, ...}
//   std::cout << r.test.accuracy;
//
//   train::Run again = train::Run::resume("runs/lenet5-fashion-mnist-20261202-101500");
//   again.fit();                               // the epochs left, under the run's own config
//
//   train::Run trained = train::Run::open("runs/lenet5-fashion-mnist-20261202-101500");
//   train::Metrics m = trained.evaluate();      // the test split
//   train::Prediction p = trained.predict_file("shoe.png");
//
// Contracts:
//   - Building never changes the config: config() is what was given. What the run resolves
//     from the data (normalize: auto's statistics, the input shape, the kind of input
//     values) is recorded by resolved_config(), which is the config.yaml the run saves: run
//     again, it gives the same run.
//   - The data come from build_datasets (the data layer's split and statistics: the same
//     indices and numbers data::stratified_split / data::compute_mean_std give in C++).
//   - Nothing is written before fit(), and fit() writes nothing before one example of each
//     split went through its transforms, the model and the loss (check_pipeline).
//   - RunOptions::stop, when set non-zero (a signal handler), stops fit() after the step in
//     flight with an Interrupted error naming the checkpoint and the resume command.
//   - A resumed run refuses a config that differs from its own in anything that changes
//     numbers (config_difference).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cnnkit/core/error.h"
#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/modules/container/sequential.h"
#include "cnnkit/core/arg.h"
#include "cnnkit/train/config.h"
#include "cnnkit/train/metrics.h"
#include "cnnkit/train/trainer.h"

namespace cnnkit::train {

// Training stopped on request (RunOptions::stop: Ctrl-C or SIGTERM in the CLI); the message
// says what was kept and the command that continues the run.
class Interrupted : public Error {
 public:
  using Error::Error;
};

struct RunOptions {
  using Log = std::ostream*;
  using StopFlag = const std::atomic<int>*;
  // Threads for the math; 0 = the config's `threads` (`auto` measures, unless
  // CNNKIT_NUM_THREADS is set).
  CNNKIT_ARG(int, threads) = 0;
  // Replace a run already in the config's output_dir (its run files only).
  CNNKIT_ARG(bool, overwrite) = false;
  // Progress: the Trainer's bar, or one line an epoch (EpochLines) when false.
  CNNKIT_ARG(bool, progress_bar) = true;
  // Where the run reports what it does (data, model, split, ...); nullptr = nowhere.
  CNNKIT_ARG(Log, log) = nullptr;
  // Checked after every step; non-zero stops fit() (Interrupted).
  CNNKIT_ARG(StopFlag, stop) = nullptr;
  // Written to summary.txt as how the run was started ("configs/x.yaml --set epochs=3").
  CNNKIT_ARG(std::string, command) = "";
  // fit() ends by evaluating the test split. Model selection (folds, search trials, ensemble
  // members) turns it off: choosing by the test split would make its numbers optimistic.
  CNNKIT_ARG(bool, test) = true;
  // Under mpirun with several processes: true trains data parallel over all of them; false
  // trains this process's own run (model selection spreads folds over the ranks instead).
  CNNKIT_ARG(bool, data_parallel) = true;
};

struct FitResult {
  History history;
  Metrics test;                  // the test split, with the final (or restored best) weights (RunOptions::test)
  Metrics val;                   // the validation split with those weights (empty without one)
  // Classification with a validation split: the temperature fitted on it (fit_temperature)
  // and the test split's metrics with the logits divided by it (calibrated probabilities,
  // loss and ECE; the same accuracy). temperature 1 and test_calibrated empty otherwise.
  double temperature = 1.0;
  Metrics test_calibrated;
  bool already_finished = false;  // a resumed run with nothing left to do (no training, no test)
  double seconds = 0;
};

// One image's outputs: classification and multi-label give the k most probable classes.
struct Prediction {
  std::string path;
  Tensor outputs;  // the model's raw outputs (1-D)
  struct Entry {
    int64_t index;
    std::string label;
    double probability;
    bool on;  // multi-label: p >= 0.5
  };
  std::vector<Entry> top;  // empty for regression
};

// What a model file of an ensemble says about it (its "cnnkit.ensemble" metadata): how many
// members of the config's architecture, combined how (nn::EnsembleOptions).
struct EnsembleSpec {
  std::string method = "mean";  // mean | vote | weighted | stacking
  int64_t members = 0;
  std::vector<double> weights;  // weighted: alpha per member
  int64_t num_classes = 0;      // stacking
  std::string to_string() const;  // "method=weighted members=3 num_classes=0 weights=0.5,1.2,0.3"
  // ValueError naming `where` for text that is not one.
  static EnsembleSpec parse(const std::string& text, const std::string& where);
};

class Run {
 public:
  // A new run; nothing is read or written until used.
  explicit Run(RunConfig config, RunOptions options = RunOptions());

  // Continues the run in a run directory (or the run a checkpoint file inside one belongs to)
  // under its own config.yaml. A config file and overrides, when given (what a command line
  // asks for), must not differ from it in anything that changes numbers (ValueError listing
  // the keys); threads and workers may.
  static Run resume(const std::string& run_or_checkpoint, const std::string& config_path = "",
                    const std::vector<std::string>& overrides = {}, RunOptions options = RunOptions());

  // A trained model: a run directory, a model or checkpoint file (its embedded config, or the
  // run's config.yaml beside it), or `config_path` when the file carries none. A bare config
  // (.yaml) opens the model untrained (summary only).
  static Run open(const std::string& target, const std::string& config_path = "",
                  const std::vector<std::string>& overrides = {}, RunOptions options = RunOptions());

  const RunConfig& config() const { return config_; }
  RunConfig resolved_config();  // config() + what the data resolved: the saved config.yaml
  Task task() const;
  const std::string& run_dir() const { return run_dir_; }          // "" until fit() made it
  const std::string& weights_path() const { return weights_; }     // open(): the weights loaded
  // open(): the temperature the run fitted on its validation split (FitResult::temperature),
  // when the model file records one.
  std::optional<double> temperature() const { return temperature_; }
  const std::vector<std::string>& notes() const { return config_.notes; }

  // The datasets (built on first use; eval-only opens load the training split only when
  // normalize: auto has no recorded statistics).
  const RunData& data();
  const std::vector<std::string>& classes();
  // (C, H, W) the model takes, without reading data when the dataset fixes it.
  std::vector<int64_t> input_shape();
  // The model (built on first use from the config's seed; open() loads the weights).
  nn::Sequential& model();
  // model() optimised for eval-mode forwards without autograd (models::optimize_for_inference:
  // batch norm folded, ReLU and residual sums fused), made on first use from model()'s weights
  // at that moment; predict uses it. Training the run afterwards makes a fresh one.
  nn::Sequential& inference_model();
  // "lenet5", "layers", or "resnet20 with blocks [1, 1, 1]: a ResNet-8".
  std::string model_name() const;
  // models::summary's table for one example.
  std::string model_summary();

  // Trains (the epochs left, when resumed), evaluates the test split, writes the run
  // directory: config.yaml, metrics.csv, checkpoints/, model.safetensors, summary.txt.
  FitResult fit();
  // Metrics of the model on a split: "test", "val" or "train" (train without augmentation),
  // with the config's test-time augmentation and the logits divided by `temperature`.
  Metrics evaluate(const std::string& split = "test", double temperature = 1.0);
  // One image file through the eval preprocessing and the model.
  Prediction predict_file(const std::string& path, int64_t top_k = 5);
  // The model as an ONNX file (io::export_onnx on a (1, C, H, W) example, opset 13 to 17)
  // whose metadata_props say how to feed it: "classes", "mean", "std" (JSON lists; mean and
  // std empty without normalisation), "input_shape" ([C, H, W]), "preprocessing" (in words),
  // "config" (the run's config, YAML).
  void export_onnx(const std::string& path, int64_t opset = 13);

 private:
  Run() = default;
  void set_threads();
  void load_weights();

  RunConfig config_;
  RunOptions options_;
  std::string run_dir_, resume_checkpoint_, weights_;
  std::vector<std::string> model_classes_;  // from the model file, when it names them
  std::optional<double> temperature_;       // from the model file, when the run fitted one
  std::optional<RunData> data_;
  bool data_has_train_ = false;
  std::optional<nn::Sequential> model_;
  std::optional<nn::Sequential> inference_model_;
  std::optional<EnsembleSpec> ensemble_;  // open(): the model file holds an ensemble
};

// `spec.members` fresh models of the config's architecture (build_model: member m seeded
// with the config's seed + m) combined by an nn::Ensemble, as a one-module Sequential: the
// shape a model file of an ensemble has (keys "0.member<m>.<the member's keys>").
nn::Sequential build_ensemble(const RunConfig& cfg, const std::vector<int64_t>& input_shape, const EnsembleSpec& spec);

// The keys where `asked` differs from the config a run was made with, as
// "optimizer.lr: 0.03 in the run, 0.05 here". What a run resolves by itself (statistics,
// input shape, input values) and what cannot change its numbers (threads, workers, eval
// batch size, name, output_dir) are not differences.
std::vector<std::string> config_difference(const RunConfig& run, RunConfig asked);

// "accuracy 91.07%  loss 0.2500  macro F1 0.9100" (per task): the test line of eval and summary.txt.
std::string metrics_line(const Metrics& m);

// Saves a model file: its weights and, in the metadata, the resolved config and the class
// names, so the file alone is enough for eval / predict / info.
// Runs `forward` over x (N, ...) in eval mode without gradients, batch_size rows at a time
// (all at once for 0), and concatenates the outputs along dim 0: `cnnkit predict --input`.
// `expected` is the (C, H, W) the model takes when known (empty: not checked); a ShapeError
// names `what` (the file) and both shapes when x does not fit.
Tensor predict_array(const std::function<Tensor(const Tensor&)>& forward, const Tensor& x, int64_t batch_size,
                     const std::vector<int64_t>& expected = {}, const std::string& what = "the input");

// An ensemble's file also records `ensemble`, so Run::open builds the ensemble back.
// A temperature (FitResult::temperature) is recorded too, for `cnnkit eval`'s calibrated line.
void save_model(const std::string& path, nn::Module& module, const RunConfig& resolved_config,
                const std::vector<std::string>& classes, const EnsembleSpec* ensemble = nullptr,
                std::optional<double> temperature = std::nullopt);

}  // namespace cnnkit::train
