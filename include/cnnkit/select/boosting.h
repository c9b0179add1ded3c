// One round of SAMME boosting (Zhu, Zou, Rosset & Hastie, "Multi-class AdaBoost", 2009), as
// scikit-learn's AdaBoostClassifier(algorithm="SAMME") does it: the member's weighted error
// on the current example weights gives its vote weight alpha and the next round's weights.
//
//   namespace ms = cnnkit::model_selection;
//   std::vector<double> w(n, 1.0 / n);
//   std::vector<double> alphas;
//   for (int m = 0; m < rounds; ++m) {
//     train a member on data::weighted_resample(w, n, seed + m) (or with w as loss weights);
//     std::vector<bool> wrong = which training examples it misclassifies;
//     ms::SammeStep s = ms::samme_step(w, wrong, num_classes);
//     if (s.alpha > 0) alphas.push_back(s.alpha);   // else drop the member (no better than chance)
//     if (s.stop) break;
//     w = s.weights;
//   }
//   ms::Ensemble(members, ms::EnsembleOptions("weighted").weights(alphas));
//
// Intended usage: the `ensemble --method boost` verb and the C++ API; the vote itself is
// EnsembleImpl's "weighted" method.
#pragma once

#include <cstdint>
#include <vector>

namespace cnnkit::model_selection {

struct SammeStep {
  double error;                 // sum_i w_i [wrong_i] / sum_i w_i
  double alpha;                 // the member's vote weight
  bool stop;                    // boosting ends with this round (perfect, or no better than chance)
  std::vector<double> weights;  // the next round's example weights, summing to 1
};

// With K = num_classes and err the weighted error (sklearn's _boost_discrete, then fit()'s
// renormalisation):
//   0 < err < 1 - 1/K:  alpha = learning_rate * (log((1 - err) / err) + log(K - 1)),
//                       w_i *= exp(alpha [wrong_i]), renormalised; stop = false.
//   err == 0 (perfect): alpha = 1, weights unchanged, stop = true. As sklearn: the member
//                       is kept with weight 1 and boosting ends (an infinite alpha would
//                       silence every other member; nothing is left to reweight).
//   err >= 1 - 1/K:     alpha = 0, weights unchanged, stop = true: the member is no better
//                       than chance and is dropped (sklearn pops it and stops).
// "Unchanged" weights are the input renormalised to sum 1. ValueError if the sizes differ or
// are 0, a weight is negative or not finite, all are 0, num_classes < 2, or learning_rate <= 0.
SammeStep samme_step(const std::vector<double>& weights, const std::vector<bool>& wrong, int64_t num_classes,
                     double learning_rate = 1.0);

}  // namespace cnnkit::model_selection
