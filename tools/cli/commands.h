// The `cnnkit` subcommands, one function each; main.cpp parses the command line into these
// argument structs and maps exceptions to exit codes. The commands throw cnnkit::Error
// subclasses for everything a user can get wrong and never exit() themselves.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "cnnkit/core/error.h"
#include "cnnkit/train/config.h"

namespace CLI {
class App;
class Validator;
}

namespace cnnkit::cli {

// Option checks that answer in words (main.cpp): "--batch must be at least 1, got 0",
// "--learning-rate must be a positive number, got 0"; a failed check is a usage error (exit 2).
CLI::Validator at_least(const char* what, long long min);
CLI::Validator positive_number(const char* what);
CLI::Validator threads_check();  // --threads: a thread count, 1 to kMaxThreads

// A command line that names no work or contradicts itself, found by a command after CLI11
// parsed it ("predict" with neither image files nor --input): main() answers exit code 2, as
// for CLI11's own parse errors. Values only the run layer can judge stay Errors (exit 1).
class UsageError : public ValueError {
 public:
  using ValueError::ValueError;
};

// Blocks SIGINT and SIGTERM in this thread (so in every thread started after it) and starts
// the thread that takes them: during `train` they stop the run after the step in flight,
// otherwise they end the process. Call first thing in main().
void watch_stop_signals();

// While one lives, SIGINT / SIGTERM set stop_flag() (train::RunOptions::stop: the run stops
// after the step in flight) instead of ending the process.
struct TrainingScope {
  TrainingScope();
  ~TrainingScope();
  TrainingScope(const TrainingScope&) = delete;
  TrainingScope& operator=(const TrainingScope&) = delete;
};
const std::atomic<int>* stop_flag();

struct TrainArgs {
  std::string config;
  std::vector<std::string> overrides;  // --set key.sub=value
  std::string resume;                  // run dir or checkpoint file
  int threads = 0;                     // 0: the config's `threads` (CNNKIT_NUM_THREADS or all cores)
  bool quiet = false;                  // no progress bar
  bool overwrite = false;              // replace a run already in the config's output_dir
  bool report = true;                  // write report.html at the end (--no-report: not)
};
int train(const TrainArgs& args);

struct ReportArgs {
  std::string run_dir;
  int64_t gallery = 12;
  int threads = 0;
  bool evaluate = true;
};
int report(const ReportArgs& args);

struct CompareArgs {
  std::vector<std::string> run_dirs;
  std::string output = "runs/compare";
};
int compare(const CompareArgs& args);

struct EvalArgs {
  std::string model;   // run dir, or a model / checkpoint file
  std::string config;  // needed when the model file carries no config
  std::vector<std::string> overrides;
  int threads = 0;
};
int eval(const EvalArgs& args);

struct PredictArgs {
  std::string model;
  std::vector<std::string> images;
  std::string config;
  int64_t top_k = 5;
  int threads = 0;
  bool json = false;  // one JSON object a line (JSON Lines) instead of the table
  std::string input, output;  // --input X.npy --output Y.npy: arrays instead of images
  int64_t batch = 256;
};
int predict(const PredictArgs& args);

struct ExportArgs {
  std::string model, onnx, config;
  int64_t opset = 13;
};
int export_model(const ExportArgs& args);

struct InfoArgs {
  std::string target;  // config file, run dir or model file
  std::vector<std::string> overrides;
  bool profile = false;  // --profile: forward / backward time per layer (models::profile_layers)
  int64_t steps = 20;    // timed steps, after 2 warm-up steps
  int64_t batch = 0;     // 0: the config's data.batch_size
  int threads = 0;       // 0: the config's `threads`
};
int info(const InfoArgs& args);

struct BenchArgs {
  std::string model = "lenet5";  // lenet5 | resnet20
  int64_t batch = 64;
  int64_t steps = 100;
  int64_t warmup = 10;
  int threads = 0;  // 0: CNNKIT_NUM_THREADS or all cores, as train
  bool eval = false;         // inference: eval mode under NoGradGuard, forward only
  bool from_loader = false;  // LeNet-5 from the DataLoader with augmentation vs tensors
  std::string data_root = "/usr/share/datasets/fashion-mnist";
  int64_t workers = 2;
};
int bench(const BenchArgs& args);

// ---- model selection (select_commands.cpp) ----

// load_run_config, printing what --set changed besides its key (train::RunConfig::notes).
train::RunConfig load_config_saying_notes(const std::string& path, const std::vector<std::string>& overrides);

struct CvArgs {
  std::string config;
  std::vector<std::string> overrides;
  int64_t folds = 5;
  bool stratified = false;
  uint64_t seed = 0;
  bool refit = false;
  std::string output;  // "" = the config's output_dir or runs/<name>-cv-<time>
  int threads = 0;
  bool quiet = false;
};
int cv(const CvArgs& args);

struct EnsembleArgs {
  std::string config;
  std::vector<std::string> overrides;
  std::string method = "bagging";  // bagging | boosting | stacking
  int64_t members = 5;
  bool no_bootstrap = false;
  std::string combine = "mean";  // bagging: mean | vote
  int64_t folds = 5;             // stacking
  double learning_rate = 1.0;    // boosting
  uint64_t seed = 0;
  std::string output;
  int threads = 0;
  bool quiet = false;
};
int ensemble(const EnsembleArgs& args);

// ---- search (search_command.cpp) ----

struct SearchArgs {
  std::string config;
  std::vector<std::string> overrides;  // --set, applied to the base config first
  std::vector<std::string> grid;       // --grid key=v1,v2
  std::vector<std::string> space;      // --space key=dist(a,b), with --random N
  int64_t random = 0;
  uint64_t seed = 0;                   // draws the random trials
  int64_t cv = 0;                      // --cv K; 0 scores on the validation split
  bool halving = false;
  int64_t eta = 3;
  int64_t min_epochs = 1;
  std::string output;                  // "" = the config's output_dir or runs/<name>-search-<time>
  int threads = 0;
  bool verbose = false;                // each trial's run log, one line an epoch
  bool quiet = false;                  // accepted for symmetry with train/cv/ensemble: the default already
};
// Declares the verb and its options on `app`, so that main.cpp needs one line for it.
CLI::App* add_search_command(CLI::App& app, SearchArgs& args);
int search(const SearchArgs& args);

// ---- shard (shard_command.cpp) ----

struct ShardArgs {
  std::string config;                  // its data section names the source dataset
  std::string out_dir;
  std::string shard_size = "256MB";
  std::string split = "both";          // train | test | both
  std::vector<std::string> overrides;  // --set
  bool force = false;                  // write into a non-empty out_dir
  bool quiet = false;                  // no progress lines
};
CLI::App* add_shard_command(CLI::App& app, ShardArgs& args);
int shard(const ShardArgs& args);

// ---- lr-find (lr_find_command.cpp) ----

struct LrFindArgs {
  std::string config;
  std::vector<std::string> overrides;  // --set
  double start_lr = 1e-7;              // train::LrFindOptions' defaults
  double end_lr = 10;
  int64_t steps = 100;
  double beta = 0.98;
  double diverge = 4;
  std::string suggest = "minimum";     // minimum | steepest
  int threads = 0;                     // 0: the config's `threads`
  std::string output;                  // "" = runs/<name>-lr-find-<time>
};
CLI::App* add_lr_find_command(CLI::App& app, LrFindArgs& args);
int lr_find(const LrFindArgs& args);

}  // namespace cnnkit::cli
