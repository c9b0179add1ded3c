// Successive halving's rung schedule and its promotion rule. Not here: training the trials
// (the caller runs train::Run for each), which is why the schedule is plain arithmetic.
#include "cnnkit/select/halving.h"

#include <algorithm>
#include <cmath>

#include "cnnkit/core/error.h"

namespace cnnkit::model_selection {

std::vector<Rung> halving_rungs(int64_t n_trials, int64_t min_epochs, int64_t max_epochs, int64_t eta) {
  CNNKIT_CHECK(n_trials >= 1, "halving_rungs: n_trials must be at least 1, got ", n_trials);
  CNNKIT_CHECK(min_epochs >= 1, "halving_rungs: min_epochs must be at least 1, got ", min_epochs);
  CNNKIT_CHECK(max_epochs >= min_epochs, "halving_rungs: max_epochs (", max_epochs,
               ") must be at least min_epochs (", min_epochs, ")");
  CNNKIT_CHECK(eta >= 2, "halving_rungs: eta (the reduction factor) must be at least 2, got ", eta);
  std::vector<Rung> rungs;
  int64_t keep = n_trials, epochs = min_epochs;
  while (true) {
    if (keep == 1) epochs = max_epochs;
    rungs.push_back({epochs, keep});
    if (epochs == max_epochs) return rungs;
    keep = (keep + eta - 1) / eta;  // ceil(ceil(n / eta^r) / eta) = ceil(n / eta^(r+1))
    epochs = epochs > max_epochs / eta ? max_epochs : std::min(epochs * eta, max_epochs);
  }
}

std::vector<size_t> promote(const std::vector<double>& scores, int64_t keep, train::Mode mode) {
  CNNKIT_CHECK(keep >= 0, "promote: keep must be >= 0, got ", keep);
  CNNKIT_CHECK(mode != train::Mode::kAuto,
               "promote: mode must be kMax or kMin (resolve kAuto from the metric's name with train::resolve_mode)");
  std::vector<size_t> order;
  for (size_t i = 0; i < scores.size(); ++i)
    if (!std::isnan(scores[i])) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return mode == train::Mode::kMax ? scores[a] > scores[b] : scores[a] < scores[b];
  });
  order.resize(std::min(order.size(), static_cast<size_t>(keep)));
  return order;
}

}  // namespace cnnkit::model_selection
