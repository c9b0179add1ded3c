// The `lr-find` verb: the learning-rate range test of a run config, one call into
// train::lr_find (train/lr_find.h) and one into report::write_lr_find for its files. This
// file declares the options, prints the suggestion and the command that uses it.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>

#include "cnnkit/core/error.h"
#include "cnnkit/report/lr_find.h"
#include "cnnkit/train/config.h"
#include "cnnkit/train/lr_find.h"
#include "cnnkit/train/progress.h"
#include "commands.h"

namespace cnnkit::cli {

CLI::App* add_lr_find_command(CLI::App& app, LrFindArgs& a) {
  auto* s = app.add_subcommand(
      "lr-find", "learning-rate range test: train up to --steps mini-batches while the lr grows exponentially, "
                 "plot the loss and suggest an lr (no weights are saved)");
  s->add_option("config", a.config, "run config (YAML), as `cnnkit train` takes it")->required();
  s->add_option("--set", a.overrides, "override a config key (repeatable)");
  s->add_option("--start-lr", a.start_lr, "lr of the first step (default 1e-7)");
  s->add_option("--end-lr", a.end_lr, "lr of the last step (default 10)");
  s->add_option("--steps", a.steps, "mini-batches at most (default 100, at least 10)");
  s->add_option("--beta", a.beta, "smoothing of the loss curve, in [0, 1) (default 0.98)");
  s->add_option("--diverge", a.diverge, "stop when the smoothed loss exceeds this many times its best (default 4)");
  s->add_option("--suggest", a.suggest,
                "rule: minimum (the lr of the lowest smoothed loss / 10, the default) or steepest (the steepest "
                "descent of the smoothed loss)")
      ->check(CLI::IsMember({"minimum", "steepest"}));
  s->add_option("--threads", a.threads, "threads for the math (default: the config's `threads`)")
      ->check(threads_check());
  s->add_option("--output,-o", a.output, "directory of the files (default: runs/<name>-lr-find-<time>)");
  return s;
}

int lr_find(const LrFindArgs& a) {
  const auto options = train::LrFindOptions()
                           .start_lr(a.start_lr)
                           .end_lr(a.end_lr)
                           .steps(a.steps)
                           .beta(a.beta)
                           .diverge(a.diverge)
                           .suggest(a.suggest)
                           .threads(a.threads)
                           .log(&std::cout);
  options.validate();  // bad arguments before any data is read
  const train::RunConfig config = load_config_saying_notes(a.config, a.overrides);
  // The command that trains with the suggestion: this one's config and overrides, the lr last.
  std::string command = a.config;
  for (const std::string& o : a.overrides)
    if (o.rfind("optimizer.lr=", 0) != 0) command += " --set " + o;
  const std::string dir = a.output.empty() ? "runs/" + config.name + "-lr-find-" + train::local_timestamp() : a.output;

  const train::LrFindResult r = train::lr_find(config, options);
  report::write_lr_find(r, dir, command);
  std::cout << "wrote " << dir << "/{lr_find.csv, lr_find.yaml, lr_find.svg, lr_find.png}\n";
  CNNKIT_CHECK(r.has_suggestion(), "lr-find: no suggestion: ", r.no_suggestion, " (the curve is in ", dir,
               "/lr_find.svg)");
  const std::string lr = train::format_lr(r.suggested_lr);
  std::cout << "suggested lr: " << lr << " (" << r.suggestion_reason() << ")\n";
  if (a.suggest != "steepest" && r.steepest_step != train::LrFindResult::npos)
    std::cout << "  the steepest descent of the smoothed loss is at lr " << train::format_lr(r.lr[r.steepest_step])
              << " (step " << r.steepest_step + 1 << "; --suggest steepest takes it)\n";
  std::cout << "train with it: cnnkit train " << command << " --set optimizer.lr=" << lr << "\n";
  return 0;
}

}  // namespace cnnkit::cli
