// Hyperparameter search over a run config: grid or random trials (select/space.h), each
// trained by train::Run and scored on the validation split or by k-fold cross-validation,
// optionally with successive halving (select/halving.h) — sklearn's GridSearchCV /
// RandomizedSearchCV / HalvingRandomSearchCV with resource = epochs.
//
//   namespace ms = cnnkit::model_selection;
//   auto base = train::load_run_config("configs/lenet5-fashion-mnist.yaml", {"epochs=9"});
//   ms::SearchResult r = ms::search(base, ms::SearchOptions()
//                                             .space({ms::parse_space("optimizer.lr=loguniform(1e-3,0.3)")})
//                                             .n_random(9).halving(true).output_dir("runs/lr-search"));
//   std::cout << ms::search_table(r);          // sorted by score
//   train::Run(r.best_config).fit();            // the winner at full epochs (also runs/lr-search/best.yaml)
//
//   // Your own training loop: the driver only schedules, records and resumes.
//   auto trials = ms::grid_trials({ms::parse_grid("width=16,32,64")});
//   ms::search(trials, [](const ms::Trial& t, int64_t epochs, const std::string& dir) { return my_score(t, epochs); },
//              ms::SearchOptions().epochs(4).metric("val_accuracy").mode(train::Mode::kMax).output_dir("runs/mine"));
//
// A search directory holds search.json (what the search is: the base config's hash and the
// search arguments), base.yaml (the base config, resolved), trials.csv (one row per trial and
// rung, rewritten atomically after every trial), trial-<id>-e<epochs>/ (each trial's run
// directory, or its cross-validation directory) and, at the end, best.yaml.
//
// Contracts:
//   - Resumable: a search run again into its directory skips every trial and rung that
//     trials.csv records (and reuses a finished run found in a trial's directory); the same
//     arguments give the same trials, promotions and result. A directory holding another
//     search (search.json differs) or anything else is refused (ValueError naming the first
//     setting that differs).
//   - A trial that throws (an invalid override, a NaN loss) is recorded as "failed: <message>"
//     and the search goes on; train::Interrupted (RunOptions::stop) propagates after every
//     finished trial is in trials.csv.
//   - Trials never look at the test split (RunOptions::test(false)).
//   - With halving, every rung trains its trials from scratch for the rung's epochs (in
//     trial-<id>-e<epochs>/), so a rung's score is what a run with `epochs: <rung epochs>`
//     gives: schedules that depend on the epoch count (CosineAnnealingLR's T_max, OneCycleLR)
//     stay what the config says. That costs about eta / (eta - 1) times what resuming the
//     promoted trials would (1.5x at eta 3).
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "cnnkit/core/arg.h"
#include "cnnkit/select/space.h"
#include "cnnkit/train/callbacks.h"
#include "cnnkit/train/config.h"
#include "cnnkit/train/run.h"

namespace cnnkit::model_selection {

struct SearchOptions {
  using Log = std::ostream*;
  // --grid: every combination of the values (grid_trials). Exactly one of grid and space.
  CNNKIT_ARG(std::vector<SearchParam>, grid) = {};
  // --space with --random N: n_random trials drawn with `seed` (random_trials).
  CNNKIT_ARG(std::vector<SearchParam>, space) = {};
  CNNKIT_ARG(int64_t, n_random) = 0;
  CNNKIT_ARG(uint64_t, seed) = 0;
  // 0: score on the config's validation split; K >= 2: the mean over K folds (cross_validate,
  // folds drawn with the config's data.split.seed, the same for every trial).
  CNNKIT_ARG(int64_t, cv_folds) = 0;
  // Successive halving over epochs: rungs from halving_rungs(n, min_epochs, epochs, eta).
  CNNKIT_ARG(bool, halving) = false;
  CNNKIT_ARG(int64_t, eta) = 3;
  CNNKIT_ARG(int64_t, min_epochs) = 1;
  // The full budget in epochs: 0 = the config's epochs (the callable driver needs >= 1).
  CNNKIT_ARG(int64_t, epochs) = 0;
  // "" = the config's output_dir, else runs/<name>-search-<time> (the driver needs one).
  CNNKIT_ARG(std::string, output_dir) = "";
  // `--set key=value` applied to the base config before the search (the trials' come after).
  CNNKIT_ARG(std::vector<std::string>, overrides) = {};
  // Each trial's train::Run: threads, progress, log, stop (test(false) and overwrite(true) are set here).
  CNNKIT_ARG(train::RunOptions, run) = {};
  // Where the search reports each trial (one line each); nullptr = nowhere.
  CNNKIT_ARG(Log, log) = nullptr;
  // The callable driver: the score's name and direction (the config search sets them from the
  // task: val_accuracy, max for classification; val_loss, min otherwise).
  CNNKIT_ARG(std::string, metric) = "score";
  CNNKIT_ARG(train::Mode, mode) = train::Mode::kMax;
  // What the trials are scored on, recorded in search.json so that a rerun over another base
  // is refused (the config search sets config_hash(base)).
  CNNKIT_ARG(std::string, fingerprint) = "";
  // Under mpirun with several processes: each rung's trials are dealt over the ranks (the
  // j-th trial of a rung on rank j mod N, each a one-process run); the rung's results are
  // gathered before promotion and rank 0 writes the files. A trial finished on another rank
  // reaches trials.csv when its rung ends.
  CNNKIT_ARG(bool, spread_over_ranks) = true;
};

// One row of trials.csv: a trial trained to `epochs` at rung `rung` (0 without halving).
struct TrialResult {
  Trial trial;
  int64_t rung = 0, epochs = 0;
  double score = 0;     // NaN for a failed trial
  std::string status;   // "ok" | "failed: <message>" | "pruned" (scored, not promoted)
  double seconds = 0;
  std::string dir;      // trial-<id>-e<epochs> inside the search directory
  bool skipped = false;  // read back from trials.csv, not run this time
};

struct SearchResult {
  std::string dir, metric;
  train::Mode mode = train::Mode::kMax;
  std::vector<TrialResult> rows;      // by rung, then trial id: trials.csv's order
  std::optional<TrialResult> best;    // the best score at the highest rung any trial finished; none if all failed
  train::RunConfig best_config;       // config search: the base with best's overrides (best.yaml)
  int64_t trained = 0, skipped = 0;   // rows run now / read back
};

// What a trial is worth after `epochs` epochs: higher or lower is better as options.mode says.
// `dir` is the trial's directory (not created): where its runs go. Throw to fail the trial.
using ScoreFn = std::function<double(const Trial& trial, int64_t epochs, const std::string& dir)>;

// The driver: runs `trials` (distinct ids) through `score` at every rung, writes search.json,
// trials.csv after each trial, skips what trials.csv already holds. ValueError for no trials,
// options.epochs < 1, min_epochs out of [1, epochs], eta < 2 (with halving), no output_dir,
// or a directory holding something else.
SearchResult search(const std::vector<Trial>& trials, const ScoreFn& score, const SearchOptions& options);

// The config search: trials from options.grid or options.space, each the base config with its
// overrides (then `epochs` set to the rung's), trained with train::Run and scored by
// val_accuracy (classification; max) or val_loss (min) on the validation split, or by their
// cross-validated mean. Writes best.yaml (best_config; output_dir DIR/best) when a trial
// succeeds. ValueError up front, naming the argument, for: neither or both of grid and space,
// a space without n_random >= 1 (or n_random without a space), cv_folds 1 or < 0, a key the
// config does not take (with a did-you-mean), no validation split and no cv.
SearchResult search(const train::RunConfig& base, const SearchOptions& options);

// The console table: one row per trial and rung, the highest rung first, best score first
// within a rung, failed rows last.
std::string search_table(const SearchResult& result);

}  // namespace cnnkit::model_selection
