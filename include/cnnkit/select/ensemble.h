// Ensembles of one run config, trained and saved as one model file (sklearn's
// BaggingClassifier / AdaBoostClassifier(algorithm="SAMME") / StackingClassifier over
// train::Run): `cnnkit eval DIR` and `cnnkit predict DIR img.png` take the result like any model.
//
//   namespace ms = cnnkit::model_selection;
//   auto cfg = train::load_run_config("configs/lenet5-fashion-mnist.yaml", {"epochs=3"});
//   ms::EnsembleResult r = ms::fit_ensemble(cfg, ms::EnsembleFitOptions().method("bagging").members(5));
//   r.test.at("test_accuracy");  r.members[0].test.at("test_accuracy");
//
// Every member is an ordinary run in DIR/member-<m>/ trained from the config with seed + m.
// All share one preprocessing: the statistics of normalize: auto come from the base training
// split once (the resolved config, DIR/config.yaml), not from each member's resample, since
// the ensemble feeds every member the same input. The validation split is the config's
// (data.split) and is never trained on.
//   bagging   each member on a bootstrap resample of the training split (or the whole split
//             with bootstrap(false): seeds only); combined by averaged probabilities
//             (combine "mean", soft voting) or majority vote ("vote")
//   boosting  SAMME (Zhu et al. 2009): member m trains on the whole training split with the
//             sample-weighted loss (each example's current weight: data::Example::weight,
//             train::build_weighted_loss); its weighted training error err gives alpha = log((1 - err) / err) + log(K - 1); the weights of the examples it
//             gets wrong are multiplied by exp(alpha) and renormalised; stops when err >= 1 - 1/K.
//             Combined by the alpha-weighted vote.
//   stacking  members trained on the whole training split; out-of-fold probabilities (k folds:
//             for each fold, a copy of each member trained without it predicts it) train a
//             multinomial logistic regression (nn::Linear(M K, K) + cross-entropy) on the
//             concatenated member probabilities.
// DIR gets model.safetensors (the ensemble), config.yaml, ensemble.json (members' and the
// ensemble's validation and test metrics; boosting's per-round error and alpha; stacking's
// meta-learner metrics) and summary lines on the log. A member directory that holds a
// finished member (member.json) is reused: an interrupted ensemble continues.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cnnkit/core/arg.h"
#include "cnnkit/train/run.h"

namespace cnnkit::model_selection {

struct EnsembleFitOptions {
  CNNKIT_ARG(std::string, method) = "bagging";  // bagging | boosting | stacking
  CNNKIT_ARG(int64_t, members) = 5;             // M >= 2 (boosting: at most M rounds)
  CNNKIT_ARG(bool, bootstrap) = true;           // bagging: resample, else seeds only
  CNNKIT_ARG(std::string, combine) = "mean";    // bagging: mean (soft vote) | vote (majority)
  CNNKIT_ARG(int64_t, folds) = 5;               // stacking: folds of the out-of-fold probabilities
  // boosting: sklearn AdaBoostClassifier's learning_rate, the factor on every alpha (and so on
  // the reweighting exp(alpha)); below 1 it damps how hard the next member leans on the errors.
  CNNKIT_ARG(double, learning_rate) = 1.0;
  CNNKIT_ARG(uint64_t, seed) = 0;               // resampling and folds
  CNNKIT_ARG(std::string, output_dir) = "";     // "" = the config's output_dir or runs/<name>-<method>-<time>
  CNNKIT_ARG(train::RunOptions, run) = {};
};

struct MemberResult {
  int64_t index = 0;
  std::string dir;
  size_t train_size = 0;
  std::map<std::string, double> val, test;  // "val_accuracy", ...; "test_accuracy", ...
  double error = 0, alpha = 0;               // boosting: weighted training error and SAMME's alpha
  double ensemble_error = 0;                 // boosting: the ensemble's training error after this round
  bool reused = false;
};

struct EnsembleResult {
  std::string dir, method, model_path;
  std::vector<MemberResult> members;
  std::map<std::string, double> val, test;  // the ensemble's
  std::map<std::string, double> meta;       // stacking: the meta-learner on the out-of-fold probabilities
};

// ValueError for an unknown method or combine, members < 2, a task other than classification,
// a directory holding another ensemble (config hash or settings differ).
EnsembleResult fit_ensemble(const train::RunConfig& config, const EnsembleFitOptions& options = {});

// A row a member and one for the ensemble: validation and test accuracy (and boosting's
// error and alpha).
std::string ensemble_table(const EnsembleResult& result);

}  // namespace cnnkit::model_selection
