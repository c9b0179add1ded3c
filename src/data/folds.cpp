// k-fold and stratified k-fold (scikit-learn's algorithms, unshuffled output identical),
// bootstrap and weighted resampling. Everything is computed on indices; Subsets are made
// only by the dataset overloads. Not here: what to train on each fold (select/).
#include "cnnkit/data/folds.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

namespace cnnkit::data {

namespace {

void check_k(int64_t k, size_t n, const char* fn) {
  CNNKIT_CHECK(k >= 2, fn, ": k (the number of folds) must be at least 2, got ", k);
  CNNKIT_CHECK(static_cast<uint64_t>(k) <= n, fn, ": ", k, " folds need at least ", k, " examples, got ", n);
}

// Folds from each example's validation fold number (sklearn's test_folds array).
std::vector<Fold> folds_from(const std::vector<int64_t>& val_fold, int64_t k) {
  std::vector<Fold> folds(static_cast<size_t>(k));
  for (size_t i = 0; i < val_fold.size(); ++i)
    for (int64_t f = 0; f < k; ++f) (f == val_fold[i] ? folds[f].val : folds[f].train).push_back(i);
  return folds;
}

size_t sized(const std::shared_ptr<DatasetBase>& dataset, const char* fn) {
  CNNKIT_CHECK(dataset != nullptr, fn, ": the dataset is null");
  auto n = dataset->size();
  CNNKIT_CHECK(n.has_value(), fn, ": the dataset has no size (a stream); folds need random access");
  return *n;
}

std::vector<std::pair<std::shared_ptr<Subset>, std::shared_ptr<Subset>>> subsets(
    const std::shared_ptr<DatasetBase>& dataset, std::vector<Fold> folds) {
  std::vector<std::pair<std::shared_ptr<Subset>, std::shared_ptr<Subset>>> out;
  for (auto& f : folds)
    out.emplace_back(std::make_shared<Subset>(dataset, std::move(f.train)),
                     std::make_shared<Subset>(dataset, std::move(f.val)));
  return out;
}

}  // namespace

std::vector<Fold> kfold(size_t n, int64_t k, bool shuffle, uint64_t seed) {
  check_k(k, n, "kfold");
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  if (shuffle) {
    Generator gen(seed);
    order = detail::permutation(n, gen);
  }
  const size_t K = static_cast<size_t>(k);
  std::vector<int64_t> val_fold(n);
  size_t pos = 0;
  for (size_t f = 0; f < K; ++f)
    for (size_t s = 0; s < n / K + (f < n % K ? 1 : 0); ++s) val_fold[order[pos++]] = static_cast<int64_t>(f);
  return folds_from(val_fold, k);
}

std::vector<Fold> stratified_kfold(const std::vector<int64_t>& labels, int64_t k, bool shuffle, uint64_t seed) {
  const size_t n = labels.size();
  check_k(k, n, "stratified_kfold");
  const size_t K = static_cast<size_t>(k);
  // Classes numbered by first appearance (sklearn's y_encoded), and their sizes.
  std::unordered_map<int64_t, size_t> code;
  std::vector<int64_t> class_label;
  std::vector<size_t> count;
  std::vector<size_t> encoded(n);
  for (size_t i = 0; i < n; ++i) {
    auto [it, added] = code.emplace(labels[i], class_label.size());
    if (added) {
      class_label.push_back(labels[i]);
      count.push_back(0);
    }
    encoded[i] = it->second;
    ++count[it->second];
  }
  const size_t C = class_label.size();
  size_t smallest = static_cast<size_t>(std::min_element(count.begin(), count.end()) - count.begin());
  CNNKIT_CHECK(count[smallest] >= K, "stratified ", k, "-fold: class ", class_label[smallest], " has only ",
               count[smallest], (count[smallest] == 1 ? " example" : " examples"), "; at least ", k, " needed");

  // allocation[f][c]: class c's examples in fold f, from dealing the class-sorted labels
  // round-robin (position j of the sorted list goes to fold j % k).
  std::vector<std::vector<size_t>> allocation(K, std::vector<size_t>(C, 0));
  for (size_t c = 0, j = 0; c < C; ++c)
    for (size_t s = 0; s < count[c]; ++s, ++j) ++allocation[j % K][c];

  std::vector<std::vector<size_t>> members(C);  // each class's examples, in index order
  for (size_t i = 0; i < n; ++i) members[encoded[i]].push_back(i);
  Generator gen(seed);
  std::vector<int64_t> val_fold(n);
  for (size_t c = 0; c < C; ++c) {
    std::vector<int64_t> fold_of;  // sklearn's folds_for_class: 0...0 1...1 ...
    for (size_t f = 0; f < K; ++f) fold_of.insert(fold_of.end(), allocation[f][c], static_cast<int64_t>(f));
    std::vector<size_t> order(fold_of.size());
    std::iota(order.begin(), order.end(), size_t{0});
    if (shuffle) order = detail::permutation(fold_of.size(), gen);
    for (size_t s = 0; s < members[c].size(); ++s) val_fold[members[c][s]] = fold_of[order[s]];
  }
  return folds_from(val_fold, k);
}

std::vector<std::pair<std::shared_ptr<Subset>, std::shared_ptr<Subset>>> kfold(
    std::shared_ptr<DatasetBase> dataset, int64_t k, bool shuffle, uint64_t seed) {
  size_t n = sized(dataset, "kfold");
  return subsets(dataset, kfold(n, k, shuffle, seed));
}

std::vector<std::pair<std::shared_ptr<Subset>, std::shared_ptr<Subset>>> stratified_kfold(
    std::shared_ptr<DatasetBase> dataset, int64_t k, bool shuffle, uint64_t seed) {
  sized(dataset, "stratified_kfold");
  return subsets(dataset, stratified_kfold(labels_of(dataset), k, shuffle, seed));
}

std::vector<size_t> bootstrap_indices(size_t n, uint64_t seed) {
  CNNKIT_CHECK(n > 0, "bootstrap_indices: n must be positive, got 0");
  Generator gen(seed);
  std::vector<size_t> out(n);
  for (auto& i : out) i = static_cast<size_t>(gen.randint(0, static_cast<int64_t>(n)));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<size_t> out_of_bag(const std::vector<size_t>& sample, size_t n) {
  std::vector<bool> drawn(n, false);
  for (size_t i : sample) {
    CNNKIT_CHECK(i < n, "out_of_bag: sample index ", i, " out of range for ", n, " examples");
    drawn[i] = true;
  }
  std::vector<size_t> out;
  for (size_t i = 0; i < n; ++i)
    if (!drawn[i]) out.push_back(i);
  return out;
}

std::vector<size_t> weighted_resample(const std::vector<double>& weights, size_t n, uint64_t seed) {
  CNNKIT_CHECK(!weights.empty(), "weighted_resample: weights is empty");
  std::vector<double> cumulative(weights.size());
  double total = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    CNNKIT_CHECK(std::isfinite(weights[i]) && weights[i] >= 0, "weighted_resample: weights[", i, "] = ",
                 weights[i], "; weights must be finite and non-negative");
    cumulative[i] = total += weights[i];
  }
  CNNKIT_CHECK(total > 0, "weighted_resample: all ", weights.size(), " weights are 0");
  size_t last_positive = weights.size() - 1;
  while (weights[last_positive] == 0) --last_positive;
  Generator gen(seed);
  std::vector<size_t> out(n);
  for (auto& i : out) {
    // u in [0, total) lands in [cumulative[i-1], cumulative[i]) with probability weights[i] / total;
    // a zero weight gives an empty interval, never hit.
    double u = gen.uniform_double() * total;
    i = static_cast<size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin());
    i = std::min(i, last_positive);  // u rounded up to total
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cnnkit::data
