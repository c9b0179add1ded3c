// Ranking and calibration metrics of a whole pass's class scores, which the streaming
// metrics (metrics.h) cannot give batch by batch: one-vs-rest ROC-AUC and average precision
// (scikit-learn's roc_auc_score and average_precision_score for each class against the
// rest, ties counted as sklearn does) and the expected calibration error of the top-1
// probability with its reliability bins (Guo et al. 2017: equal-width bins (i/B, (i+1)/B]).
//
//   Tensor probs = softmax(logits, 1);                 // (N, C), targets (N) int64
//   std::vector<double> auc = train::roc_auc_ovr(probs, targets);
//   double macro = train::nan_mean(auc);               // sklearn's average="macro"
//   train::Calibration cal = train::calibration(probs, targets, 15);   // cal.ece
#pragma once

#include <cstdint>
#include <vector>

#include "cnnkit/core/tensor.h"

namespace cnnkit::train {

// Per class c: the area under the ROC curve of scores[:, c] separating targets == c from
// the rest. NaN for a class with no positive or no negative example, or a NaN score (sklearn
// refuses those).
// ShapeError unless scores is (N, C) float and targets (N) int64 in [0, C).
std::vector<double> roc_auc_ovr(const Tensor& scores, const Tensor& targets);
// Per class c: sklearn's average precision, sum over the distinct thresholds from the
// highest of (R_n - R_{n-1}) * P_n. NaN for a class with no positive example or a NaN score.
std::vector<double> average_precision_ovr(const Tensor& scores, const Tensor& targets);
// The mean over the values that are not NaN; NaN when none is.
double nan_mean(const std::vector<double>& values);

struct Calibration {
  double ece = 0;                   // sum over bins of count/N * |accuracy - confidence|
  std::vector<int64_t> count;       // examples whose top-1 probability falls in each bin
  std::vector<double> confidence;   // their mean top-1 probability (NaN for an empty bin)
  std::vector<double> accuracy;     // the fraction of them predicted right (NaN when empty)
};
// probs (N, C): probabilities (rows of a softmax); the top-1 class and its probability per
// example. ValueError unless n_bins >= 1.
Calibration calibration(const Tensor& probs, const Tensor& targets, int64_t n_bins = 15);

// Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks"): the T > 0
// minimising the mean negative log-likelihood of softmax(logits / T) against targets, found
// exactly (the NLL is convex in 1 / T: a safeguarded Newton search to 1e-12), within
// [0.01, 100]. logits (N, C) float, targets (N) int64 in [0, C); ValueError when N is 0 or a
// logit is NaN or infinite.
double fit_temperature(const Tensor& logits, const Tensor& targets);
// The mean negative log-likelihood of softmax(logits / temperature), in double.
double temperature_nll(const Tensor& logits, const Tensor& targets, double temperature = 1.0);

}  // namespace cnnkit::train
