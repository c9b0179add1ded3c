// Successive halving (Jamieson & Talwalkar 2016; the inner loop of Hyperband, ASHA's rungs;
// scikit-learn's HalvingGridSearchCV with resource = epochs): train every trial briefly, keep
// the best 1/eta, train those eta times longer, and so on until the survivors reach the full
// budget.
//
//   namespace ms = cnnkit::model_selection;
//   auto rungs = ms::halving_rungs(/*n_trials=*/27, /*min_epochs=*/1, /*max_epochs=*/27);
//   // {1 epoch, 27 trials}, {3, 9}, {9, 3}, {27, 1}
//   std::vector<size_t> alive = all trials;
//   for (size_t r = 0; r < rungs.size(); ++r) {
//     scores = train each alive trial with rungs[r].epochs epochs (from scratch), score it;
//     if (r + 1 < rungs.size()) alive = pick(alive, ms::promote(scores, rungs[r + 1].keep, train::Mode::kMax));
//   }
//
// Intended usage: the `search` verb's --halving; promote() is also the top-k rule of any
// search that keeps the best trials.
#pragma once

#include <cstdint>
#include <vector>

#include "cnnkit/train/callbacks.h"

namespace cnnkit::model_selection {

// One rung: `keep` trials are trained for `epochs` epochs and then scored. A promoted trial
// is trained again from scratch with `epochs: <this many>`, so that a schedule over the
// epochs (cosine T_max, OneCycleLR) is the one the config gives at that budget.
struct Rung {
  int64_t epochs;
  int64_t keep;
};

// The rungs for n_trials trials (eta >= 2):
//   rung r: keep_r = ceil(n_trials / eta^r), epochs_r = min(min_epochs * eta^r, max_epochs);
// the schedule stops at the first rung whose epochs reach max_epochs, and a rung with a
// single trial left is given max_epochs directly (there is nothing left to compare it with).
// So the last rung always trains >= 1 trial for max_epochs; it holds more than one when the
// budget runs out first (the best of them wins). With min_epochs == max_epochs: one rung,
// every trial. ValueError if n_trials < 1, min_epochs < 1, max_epochs < min_epochs or eta < 2.
std::vector<Rung> halving_rungs(int64_t n_trials, int64_t min_epochs, int64_t max_epochs, int64_t eta = 3);

// The indices of the `keep` best scores, best first (mode kMax: highest; kMin: lowest); equal
// scores keep index order, so with scores ordered by trial id the lower id wins a tie. NaN
// scores are never promoted (fewer than `keep` come back if fewer are numbers).
// ValueError if keep < 0 or mode is kAuto (resolve it first with train::resolve_mode).
std::vector<size_t> promote(const std::vector<double>& scores, int64_t keep, train::Mode mode);

}  // namespace cnnkit::model_selection
