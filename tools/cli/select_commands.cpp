// The model-selection verbs: cv and ensemble (search: search_command.cpp). Each is one call into the select layer
// (select/cv.h, ...), which builds on train::Run; this file parses nothing and prints.
#include <iostream>

#include "cnnkit/distributed/distributed.h"
#include "cnnkit/select/cv.h"
#include "cnnkit/select/ensemble.h"
#include "cnnkit/train/config.h"
#include "commands.h"

namespace cnnkit::cli {

train::RunConfig load_config_saying_notes(const std::string& path, const std::vector<std::string>& overrides) {
  train::RunConfig config = train::load_run_config(path, overrides);
  for (const std::string& note : config.notes) std::cout << note << "\n";
  return config;
}

namespace {

// Each member or fold run reports on stdout; Ctrl-C stops it after the step in flight.
train::RunOptions run_options(int threads, bool quiet) {
  return train::RunOptions().threads(threads).progress_bar(!quiet).log(&std::cout).stop(stop_flag());
}

}  // namespace

int cv(const CvArgs& args) {
  const train::RunConfig config = load_config_saying_notes(args.config, args.overrides);
  TrainingScope training;
  // Under mpirun the folds are spread over the ranks; rank 0 reports.
  const bool speaker = distributed::get_rank() == 0;
  train::RunOptions run = run_options(args.threads, args.quiet || !speaker);
  if (!speaker) run.log(nullptr);
  const model_selection::CvResult result = model_selection::cross_validate(
      config, model_selection::CvOptions()
                  .folds(args.folds)
                  .stratified(args.stratified)
                  .seed(args.seed)
                  .refit(args.refit)
                  .output_dir(args.output)
                  .run(run));
  if (!speaker) return 0;
  std::cout << "\n" << model_selection::cv_table(result);
  std::cout << "wrote " << result.dir << "/{cv.json, cv.csv, fold-*/" << (args.refit ? ", refit/" : "") << "}\n";
  return 0;
}

int ensemble(const EnsembleArgs& args) {
  const train::RunConfig config = load_config_saying_notes(args.config, args.overrides);
  TrainingScope training;
  const train::RunOptions run = run_options(args.threads, args.quiet);
  const model_selection::EnsembleResult result = model_selection::fit_ensemble(
      config, model_selection::EnsembleFitOptions()
                  .method(args.method)
                  .members(args.members)
                  .bootstrap(!args.no_bootstrap)
                  .combine(args.combine)
                  .folds(args.folds)
                  .learning_rate(args.learning_rate)
                  .seed(args.seed)
                  .output_dir(args.output)
                  .run(run));
  std::cout << "\n" << model_selection::ensemble_table(result);
  std::cout << "wrote " << result.dir << "/{model.safetensors, config.yaml, ensemble.json, member-*/}\n"
            << "evaluate it with: cnnkit eval " << result.dir << "\n";
  return 0;
}

}  // namespace cnnkit::cli
