// The `search` verb: hyperparameter search over a run config, one call into
// model_selection::search (select/search.h). This file declares the options, parses the
// --grid / --space arguments with the select layer's parsers, and prints the table.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>

#include "cnnkit/core/error.h"
#include "cnnkit/distributed/distributed.h"
#include "cnnkit/select/search.h"
#include "cnnkit/select/space.h"
#include "cnnkit/train/config.h"
#include "commands.h"

namespace cnnkit::cli {

CLI::App* add_search_command(CLI::App& app, SearchArgs& a) {
  auto* s = app.add_subcommand(
      "search", "hyperparameter search: grid or random trials scored on the validation split (or --cv K), "
                "optionally with successive halving; rerun to continue");
  s->add_option("config", a.config, "run config (YAML): the base of every trial")->required();
  s->add_option("--set", a.overrides, "override a key of the base config (repeatable)");
  s->add_option("--grid", a.grid, "key=v1,v2,...: try every combination of the values (repeatable)");
  s->add_option("--random", a.random, "N random trials drawn from --space");
  s->add_option("--space", a.space,
                "key=loguniform(a,b) | uniform(a,b) | int(a,b) | choice(x,y,...) (repeatable, with --random)");
  s->add_option("--seed", a.seed, "seed of the random draws (default 0)");
  s->add_option("--cv", a.cv, "score each trial by K-fold cross-validation (K >= 2) instead of the validation split");
  s->add_flag("--halving", a.halving, "successive halving over epochs: keep the best 1/eta at each rung");
  s->add_option("--eta", a.eta, "halving's reduction factor (default 3)");
  s->add_option("--min-epochs", a.min_epochs, "epochs of the first rung (default 1; the last gets the config's epochs)");
  s->add_option("--output,-o", a.output,
                "search directory (default: the config's output_dir or runs/<name>-search-<time>); rerun into it "
                "to continue");
  s->add_option("--threads", a.threads, "threads for the math")->check(threads_check());
  s->add_flag("--verbose,-v", a.verbose, "each trial's run log, one line an epoch");
  // Accepted, as train, cv and ensemble accept it: a search prints one line a trial anyway.
  s->add_flag("--quiet,-q", a.quiet, "one line a trial (the default; -v prints each epoch)");
  return s;
}

int search(const SearchArgs& a) {
  namespace ms = model_selection;
  std::vector<ms::SearchParam> grid, space;
  for (const std::string& g : a.grid) grid.push_back(ms::parse_grid(g));
  for (const std::string& s : a.space) space.push_back(ms::parse_space(s));
  const train::RunConfig base = load_config_saying_notes(a.config, a.overrides);

  TrainingScope training;
  // Under mpirun the trials are spread over the ranks; rank 0 reports.
  const bool speaker = distributed::get_rank() == 0;
  const auto run = train::RunOptions()
                       .threads(a.threads)
                       .progress_bar(false)
                       .log(a.verbose && speaker ? &std::cout : nullptr)
                       .stop(stop_flag());
  const ms::SearchResult r = ms::search(base, ms::SearchOptions()
                                                  .grid(grid)
                                                  .space(space)
                                                  .n_random(a.random)
                                                  .seed(a.seed)
                                                  .cv_folds(a.cv)
                                                  .halving(a.halving)
                                                  .eta(a.eta)
                                                  .min_epochs(a.min_epochs)
                                                  .output_dir(a.output)
                                                  .run(run)
                                                  .log(speaker ? &std::cout : nullptr));
  if (!speaker) return 0;
  std::cout << "\n" << ms::search_table(r);
  CNNKIT_CHECK(r.best.has_value(), "search: every trial failed (their messages are in ", r.dir, "/trials.csv)");
  std::string overrides;
  for (const std::string& o : ms::to_overrides(r.best->trial)) overrides += " --set " + o;
  std::cout << fmt::format("best: trial {}, {} {:.4f}:", r.best->trial.id, r.metric, r.best->score) << overrides
            << "\nwrote " << r.dir << "/{search.json, base.yaml, trials.csv, trial-*/, best.yaml}\n";
  return 0;
}

}  // namespace cnnkit::cli
