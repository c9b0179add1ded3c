// k-fold cross-validation of a run config (sklearn's cross_validate over train::Run): the
// folds partition the training set (after data.subset and data.clean; the test split is never
// touched, and data.split.val is replaced by the folds), each fold trains from scratch on the
// other k-1 parts and is scored on its held-out part.
//
//   namespace ms = cnnkit::model_selection;
//   auto cfg = train::load_run_config("configs/lenet5-fashion-mnist.yaml", {"epochs=2"});
//   ms::CvResult cv = ms::cross_validate(cfg, ms::CvOptions().folds(5).output_dir("runs/cv"));
//   cv.mean.at("val_accuracy");  cv.std.at("val_accuracy");  // std with ddof = 0 (numpy's default)
//
// The directory gets fold-<k>/ (each an ordinary run directory: config.yaml, metrics.csv,
// model.safetensors, summary.txt), cv.json, cv.csv, and with refit the refit/ run trained on
// the whole training set and scored on the test split. A fold directory that already holds a
// finished run (model.safetensors and summary.txt) is reused, not retrained: an interrupted
// cross-validation continues where it stopped; cv.json records the config's hash and the
// fold settings, and a directory made with other ones is refused.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cnnkit/core/arg.h"
#include "cnnkit/train/run.h"

namespace cnnkit::model_selection {

struct CvOptions {
  CNNKIT_ARG(int64_t, folds) = 5;
  // Stratified by class (classification only; ValueError for another task): sklearn's
  // StratifiedKFold; else KFold.
  CNNKIT_ARG(bool, stratified) = false;
  CNNKIT_ARG(bool, shuffle) = true;
  CNNKIT_ARG(uint64_t, seed) = 0;
  // Then train on the whole training set and report the test split's metrics.
  CNNKIT_ARG(bool, refit) = false;
  // "" = the config's output_dir, else runs/<name>-cv-<time>.
  CNNKIT_ARG(std::string, output_dir) = "";
  // For each run: threads, progress, log, stop (RunOptions::test and overwrite are set here).
  // Under mpirun with several processes: fold i on rank i mod N, rank 0 writing (false: this
  // process does every fold, e.g. inside a search trial that already has its rank).
  CNNKIT_ARG(bool, spread_over_ranks) = true;
  CNNKIT_ARG(train::RunOptions, run) = {};
};

struct CvFold {
  int64_t fold = 0;
  size_t train_size = 0, val_size = 0;
  std::map<std::string, double> metrics;  // "val_accuracy", "val_loss", ... (Metrics::scalars, val_ prefixed)
  double seconds = 0;
  bool reused = false;  // found finished in the directory
};

struct CvResult {
  std::string dir;
  std::vector<CvFold> folds;
  std::map<std::string, double> mean, std;  // over the folds; std with ddof = 0
  std::optional<train::Metrics> refit_test;  // the refit run's test metrics
  std::string refit_dir;
};

// ValueError for folds < 2, folds > the training set, a stratified fold count larger than the
// smallest class (naming it), a directory holding another cross-validation.
CvResult cross_validate(const train::RunConfig& config, const CvOptions& options = CvOptions());

// The console table: a row a fold (sizes, loss, the task's headline metric), then mean and std.
std::string cv_table(const CvResult& result);

// A stable hash of what a config trains (its resolved YAML without name, output_dir, threads,
// workers), as 16 hex digits: cv.json and trials.csv carry it so a rerun into a directory
// made by another config is refused rather than mixed.
std::string config_hash(const train::RunConfig& config);

// Metrics::scalars() with `prefix` ("val_") before each name.
std::map<std::string, double> prefixed(const train::Metrics& m, const std::string& prefix);

}  // namespace cnnkit::model_selection
