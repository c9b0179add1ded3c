// k-fold cross-validation over train::Run (select/cv.h).
#include "cnnkit/select/cv.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "cnnkit/core/error.h"
#include "cnnkit/data/folds.h"
#include "cnnkit/distributed/distributed.h"
#include "cnnkit/io/file.h"
#include "cnnkit/train/progress.h"
#include "select/files.h"

namespace cnnkit::model_selection {

namespace fs = std::filesystem;
using files::json;
using files::read_json;
using files::write_json;

namespace {

// The settings a cross-validation directory is tied to.
json settings(const train::RunConfig& config, const CvOptions& o) {
  return {{"config_hash", config_hash(config)}, {"k", o.folds()}, {"stratified", o.stratified()},
          {"shuffle", o.shuffle()},             {"seed", o.seed()}};
}

CvFold fold_from_json(const json& j) {
  CvFold f;
  f.fold = j.at("fold").get<int64_t>();
  f.train_size = j.at("train_size").get<size_t>();
  f.val_size = j.at("val_size").get<size_t>();
  f.metrics = j.at("metrics").get<std::map<std::string, double>>();
  f.seconds = j.value("seconds", 0.0);
  f.reused = j.value("reused", false);
  return f;
}

// A fold's result, read back from its fold.json.
CvFold read_fold(const fs::path& path) {
  CvFold f = fold_from_json(read_json(path));
  f.reused = true;
  return f;
}

json fold_json(const CvFold& f) {
  return {{"fold", f.fold},
          {"train_size", f.train_size},
          {"val_size", f.val_size},
          {"metrics", f.metrics},
          {"seconds", f.seconds}};
}

}  // namespace

std::map<std::string, double> prefixed(const train::Metrics& m, const std::string& prefix) {
  std::map<std::string, double> out;
  for (const auto& [k, v] : m.scalars()) out[prefix + k] = v;
  return out;
}

std::string config_hash(const train::RunConfig& config) {
  // FNV-1a over the flattened resolved config, less what does not change the numbers.
  static const std::set<std::string> kIgnored = {"name", "output_dir", "threads", "data.workers",
                                                 "data.eval_batch_size"};
  uint64_t h = 1469598103934665603ULL;
  for (const auto& [k, v] : train::flatten_config(config)) {
    if (kIgnored.count(k)) continue;
    for (char c : k + "=" + v + "\n") h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  }
  return fmt::format("{:016x}", h);
}

CvResult cross_validate(const train::RunConfig& config, const CvOptions& options) {
  const int64_t k = options.folds();
  CNNKIT_CHECK(k >= 2, "cross-validation: --folds must be at least 2, got ", k);
  const train::Task task = train::task_of(config);
  CNNKIT_CHECK(!options.stratified() || task == train::Task::kClassification,
               "cross-validation: --stratified needs a classification loss (", config.loss.name,
               " is not one): stratified folds keep each class's share");
  std::ostream* log = options.run().log();
  auto say = [&](const std::string& line) {
    if (log) *log << line << std::endl;
  };

  CvResult result;
  result.dir = !options.output_dir().empty() ? options.output_dir()
               : !config.output_dir.empty()  ? config.output_dir
                                             : "runs/" + config.name + "-cv-" + train::local_timestamp();
  const bool spread = options.spread_over_ranks() && distributed::get_world_size() > 1;
  const int world = spread ? distributed::get_world_size() : 1, rank = spread ? distributed::get_rank() : 0;
  if (spread) result.dir = distributed::all_gather_object(result.dir).front();  // rank 0's (a default has a timestamp)
  const fs::path dir(result.dir);
  const json tied = settings(config, options);
  std::error_code ec;
  // Under mpirun the folds are spread over the ranks (fold i on rank i mod N, each a
  // one-process run); rank 0 claims the directory and writes cv.json, the others wait for its
  // verdict (an error there stops every rank, none hangs).
  {
    std::string claim_error;
    if (rank == 0) {
      try {
        files::claim_dir(dir, "cv.json", "a cross-validation", tied);  // before any fold trains
      } catch (const Error& e) {
        claim_error = e.what();
      }
    }
    if (spread) claim_error = distributed::all_gather_object(claim_error).front();
    if (!claim_error.empty()) throw ValueError(claim_error);
  }
  if (world > 1)
    say(fmt::format("cross-validation over {} processes: fold i on rank i mod {}", world, world));
  json doc = tied;
  doc["std_ddof"] = 0;

  // The training set whole (no validation split): the folds partition it.
  train::RunConfig whole = config;
  whole.data.val_fraction = 0;
  train::Run base(whole, train::RunOptions(options.run()).log(nullptr));
  const train::RunData& data = base.data();
  CNNKIT_CHECK(data.train_source != nullptr, "cross-validation needs random access to the training set; dataset '",
               config.data.dataset, "' is streamed (run it on the source dataset the shards were made from)");
  const size_t n = data.train_source->size().value_or(0);
  const std::vector<data::Fold> folds =
      options.stratified() ? data::stratified_kfold(data::labels_of(data.train_source), k, options.shuffle(), options.seed())
                           : data::kfold(n, k, options.shuffle(), options.seed());
  say(fmt::format("cross-validation: {} {}folds of {} training examples (seed {}) in {}", k,
                  options.stratified() ? "stratified " : "", n, options.seed(), result.dir));

  for (int64_t i = 0; i < k; ++i) {
    if (i % world != rank) continue;
    const fs::path fold_dir = dir / fmt::format("fold-{}", i);
    if (fs::exists(fold_dir / "fold.json", ec)) {
      result.folds.push_back(read_fold(fold_dir / "fold.json"));
      say(fmt::format("fold {}/{}: finished before, reused ({})", i + 1, k, fold_dir.string()));
      continue;
    }
    say(fmt::format("fold {}/{}: {} train / {} validation", i + 1, k, folds[i].train.size(), folds[i].val.size()));
    train::RunConfig cfg = config;
    cfg.data.train_indices = folds[i].train;
    cfg.data.val_indices = folds[i].val;
    cfg.output_dir = fold_dir.string();
    train::Run run(cfg, train::RunOptions(options.run()).test(false).overwrite(true).data_parallel(false));
    const train::FitResult fit = run.fit();
    CvFold f;
    f.fold = i;
    f.train_size = folds[i].train.size();
    f.val_size = folds[i].val.size();
    f.metrics = prefixed(fit.val, "val_");
    f.seconds = fit.seconds;
    write_json(fold_dir / "fold.json", fold_json(f));
    result.folds.push_back(f);
  }

  if (world > 1) {  // every rank's folds, in fold order
    json mine = json::array();
    for (const CvFold& f : result.folds) {
      json j = fold_json(f);
      j["reused"] = f.reused;
      mine.push_back(j);
    }
    result.folds.clear();
    for (const std::string& part : distributed::all_gather_object(mine.dump()))
      for (const json& f : json::parse(part)) result.folds.push_back(fold_from_json(f));
    std::sort(result.folds.begin(), result.folds.end(), [](const CvFold& a, const CvFold& b) { return a.fold < b.fold; });
    if (rank != 0) return result;  // rank 0 refits and writes
  }

  // Mean and std (ddof = 0, numpy's default) of each metric every fold has.
  for (const auto& [key, first] : result.folds.front().metrics) {
    std::vector<double> v;
    for (const CvFold& f : result.folds)
      if (f.metrics.count(key)) v.push_back(f.metrics.at(key));
    if (v.size() != result.folds.size()) continue;
    double mean = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    double var = 0;
    for (double x : v) var += (x - mean) * (x - mean);
    result.mean[key] = mean;
    result.std[key] = std::sqrt(var / static_cast<double>(v.size()));
  }
  doc["folds"] = json::array();
  for (const CvFold& f : result.folds) doc["folds"].push_back(fold_json(f));
  doc["mean"] = result.mean;
  doc["std"] = result.std;

  if (options.refit()) {
    // The whole training set, scored on the test split. A validation split stays only where
    // the config needs one (early stopping, ReduceLROnPlateau watch it).
    train::RunConfig cfg = config;
    const bool needs_val = config.early_stopping.enabled || !train::plateau_monitor(config).empty();
    if (!needs_val) cfg.data.val_fraction = 0;
    const fs::path refit_dir = dir / "refit";
    cfg.output_dir = refit_dir.string();
    result.refit_dir = refit_dir.string();
    if (fs::exists(refit_dir / "summary.txt", ec) && fs::exists(refit_dir / "model.safetensors", ec)) {
      say("refit: finished before, evaluated again (" + refit_dir.string() + ")");
      result.refit_test = train::Run::open(refit_dir.string(), "", {}, options.run()).evaluate("test");
    } else {
      say(fmt::format("refit: the whole training set{}", needs_val ? " (less the validation split early stopping "
                                                                     "or ReduceLROnPlateau watches)"
                                                                   : ""));
      result.refit_test =
          train::Run(cfg, train::RunOptions(options.run()).test(true).overwrite(true).data_parallel(false)).fit().test;
    }
    doc["refit"] = {{"dir", result.refit_dir}, {"test", prefixed(*result.refit_test, "test_")}};
  }
  write_json(dir / "cv.json", doc);

  // cv.csv: a row a fold, then mean and std.
  std::ostringstream csv;
  csv << "fold,train_size,val_size,seconds";
  for (const auto& [key, v] : result.mean) csv << "," << key;
  csv << "\n";
  for (const CvFold& f : result.folds) {
    csv << f.fold << "," << f.train_size << "," << f.val_size << "," << fmt::format("{:.3f}", f.seconds);
    for (const auto& [key, v] : result.mean) csv << "," << fmt::format("{}", f.metrics.at(key));
    csv << "\n";
  }
  for (const auto* row : {&result.mean, &result.std}) {
    csv << (row == &result.mean ? "mean" : "std") << ",,,";
    for (const auto& [key, v] : *row) csv << "," << fmt::format("{}", v);
    csv << "\n";
  }
  io::write_file_atomic((dir / "cv.csv").string(), csv.str(), "cv");
  return result;
}

std::string cv_table(const CvResult& r) {
  if (r.folds.empty()) return "";
  // The loss and the headline metrics of the task, as logged.
  std::vector<std::string> keys;
  for (const char* key : {"val_loss", "val_accuracy", "val_macro_f1", "val_mae", "val_r2", "val_micro_f1"})
    if (r.mean.count(key)) keys.push_back(key);
  auto cell = [](const std::string& key, double v) {
    return key.find("accuracy") != std::string::npos ? fmt::format("{:.2f}%", 100 * v) : fmt::format("{:.4f}", v);
  };
  std::string out = fmt::format("{:>6} {:>7} {:>7}", "fold", "train", "val");
  for (const std::string& key : keys) out += fmt::format(" {:>13}", key);
  out += fmt::format(" {:>8}\n", "time");
  for (const CvFold& f : r.folds) {
    out += fmt::format("{:>6} {:>7} {:>7}", f.fold, f.train_size, f.val_size);
    for (const std::string& key : keys) out += fmt::format(" {:>13}", cell(key, f.metrics.at(key)));
    out += fmt::format(" {:>8}\n", f.reused ? "reused" : train::format_duration(f.seconds));
  }
  for (const auto* row : {&r.mean, &r.std}) {
    out += fmt::format("{:>6} {:>7} {:>7}", row == &r.mean ? "mean" : "std", "", "");
    for (const std::string& key : keys) out += fmt::format(" {:>13}", cell(key, row->at(key)));
    out += "\n";
  }
  out += "(std over folds with ddof = 0, numpy's default)\n";
  if (r.refit_test) out += "refit on the whole training set, test: " + train::metrics_line(*r.refit_test) + "\n";
  return out;
}

}  // namespace cnnkit::model_selection
