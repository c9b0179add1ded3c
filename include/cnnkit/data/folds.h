// Cross-validation folds and resampling (scikit-learn's KFold / StratifiedKFold, bagging's
// bootstrap, boosting's weighted resampling), as indices or as Subsets of a dataset.
//
//   auto folds = data::stratified_kfold(full, /*k=*/5);         // (train, val) Subsets per fold
//   for (auto& [train, val] : folds) { /* train on train, score on val */ }
//   auto idx = data::kfold(/*n=*/100, 5, /*shuffle=*/true, /*seed=*/42);   // indices only
//   auto bag = data::bootstrap_indices(n, seed);                  // n draws with replacement
//   auto oob = data::out_of_bag(bag, n);                          // the examples it never drew
//   auto boost = data::weighted_resample(weights, n, seed);       // draws proportional to weights
//
// Intended usage: the model-selection layer (select/) builds cross-validation, bagging and
// boosting on these; the CLI and the C++ API then split the same way. Unshuffled folds are
// scikit-learn's exactly (tests/golden/folds_test.cpp); shuffled ones draw from cnnkit's
// Generator(seed), so they match sklearn's allocation but not its random choice.
// Every list of indices is in ascending order.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "cnnkit/data/split.h"

namespace cnnkit::data {

// One fold: the examples to train on and the held-out ones (sklearn's train/test indices).
struct Fold {
  std::vector<size_t> train, val;
};

// sklearn.model_selection.KFold(n_splits=k, shuffle, random_state=seed) over n examples: the
// first n % k folds hold n / k + 1 examples, the others n / k; fold i holds out a contiguous
// block of [0, n), or of a permutation of it drawn from Generator(seed) when shuffled.
// ValueError if k < 2 or k > n.
std::vector<Fold> kfold(size_t n, int64_t k, bool shuffle = false, uint64_t seed = 0);

// sklearn.model_selection.StratifiedKFold(n_splits=k, shuffle, random_state=seed): each class
// is spread over the folds as evenly as the class counts allow. sklearn's algorithm: classes
// are numbered in order of first appearance in `labels`; dealing the labels, sorted by that
// number, round-robin to folds 0..k-1 gives the count of each class per fold; then each
// class's examples, in index order, fill fold 0's share, then fold 1's, ... (with shuffle, the
// class's fold numbers are shuffled with Generator(seed), classes in first-appearance order).
// ValueError if k < 2, k > labels.size(), or a class has fewer than k examples (sklearn only
// warns: such a class is missing from some validation folds, and its score is then noise).
std::vector<Fold> stratified_kfold(const std::vector<int64_t>& labels, int64_t k, bool shuffle = false,
                                   uint64_t seed = 0);

// The same folds as Subsets of `dataset`: (train, val) per fold. The stratified form reads
// the labels with labels_of (no decoding when the dataset is Labeled).
std::vector<std::pair<std::shared_ptr<Subset>, std::shared_ptr<Subset>>> kfold(
    std::shared_ptr<DatasetBase> dataset, int64_t k, bool shuffle = false, uint64_t seed = 0);
std::vector<std::pair<std::shared_ptr<Subset>, std::shared_ptr<Subset>>> stratified_kfold(
    std::shared_ptr<DatasetBase> dataset, int64_t k, bool shuffle = false, uint64_t seed = 0);

// Bagging's bootstrap sample (sklearn BaggingClassifier, bootstrap=True): n draws from [0, n)
// with replacement, uniformly, from Generator(seed); sorted ascending (a Subset of them is
// the bag). About n (1 - 1/e) distinct examples. ValueError if n == 0.
std::vector<size_t> bootstrap_indices(size_t n, uint64_t seed);

// The examples of [0, n) that `sample` never drew (a bag's out-of-bag set), ascending.
// ValueError if an index of `sample` is not below n.
std::vector<size_t> out_of_bag(const std::vector<size_t>& sample, size_t n);

// n draws with replacement, example i with probability weights[i] / sum(weights) (boosting by
// resampling, torch.multinomial(weights, n, replacement=True)), from Generator(seed); sorted
// ascending. ValueError if weights is empty, a weight is negative or not finite, or all are 0.
std::vector<size_t> weighted_resample(const std::vector<double>& weights, size_t n, uint64_t seed);

}  // namespace cnnkit::data
