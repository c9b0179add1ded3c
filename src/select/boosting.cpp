// SAMME's weight update, in double. Not here: training or evaluating the members.
#include "cnnkit/select/boosting.h"

#include <cmath>

#include "cnnkit/core/error.h"

namespace cnnkit::model_selection {

SammeStep samme_step(const std::vector<double>& weights, const std::vector<bool>& wrong, int64_t num_classes,
                     double learning_rate) {
  CNNKIT_CHECK(!weights.empty() && weights.size() == wrong.size(), "samme_step: ", weights.size(), " weights and ",
               wrong.size(), " wrong flags; one of each per example, at least one example");
  CNNKIT_CHECK(num_classes >= 2, "samme_step: num_classes must be at least 2, got ", num_classes);
  CNNKIT_CHECK(learning_rate > 0 && std::isfinite(learning_rate), "samme_step: learning_rate must be positive, got ",
               learning_rate);
  double total = 0, wrong_total = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    CNNKIT_CHECK(std::isfinite(weights[i]) && weights[i] >= 0, "samme_step: weights[", i, "] = ", weights[i],
                 "; weights must be finite and non-negative");
    total += weights[i];
    if (wrong[i]) wrong_total += weights[i];
  }
  CNNKIT_CHECK(total > 0, "samme_step: all ", weights.size(), " weights are 0");

  const double K = static_cast<double>(num_classes);
  SammeStep s{wrong_total / total, 0.0, false, weights};
  if (s.error <= 0) {
    s.alpha = 1.0;
    s.stop = true;
  } else if (s.error >= 1 - 1 / K) {
    s.stop = true;
  } else {
    s.alpha = learning_rate * (std::log((1 - s.error) / s.error) + std::log(K - 1));
    const double boost = std::exp(s.alpha);
    total = 0;
    for (size_t i = 0; i < s.weights.size(); ++i) {
      if (wrong[i]) s.weights[i] *= boost;
      total += s.weights[i];
    }
  }
  for (double& w : s.weights) w /= total;
  return s;
}

}  // namespace cnnkit::model_selection
