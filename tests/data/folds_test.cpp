// kfold / stratified_kfold (partitions, sklearn's fold sizes and per-class allocation, seeds),
// their Subset forms, bootstrap_indices / out_of_bag statistics, weighted_resample
// frequencies, and every error. Exact agreement with sklearn: tests/golden/folds_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "cnnkit/data/folds.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::data;

namespace {

std::vector<size_t> iota_n(size_t n) {
  std::vector<size_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

// Each fold's train and val are ascending, disjoint and cover [0, n); the vals partition [0, n).
void expect_folds_partition(const std::vector<Fold>& folds, size_t n) {
  std::vector<size_t> all_val;
  for (const auto& f : folds) {
    EXPECT_TRUE(std::is_sorted(f.train.begin(), f.train.end()));
    EXPECT_TRUE(std::is_sorted(f.val.begin(), f.val.end()));
    EXPECT_FALSE(f.val.empty());
    std::vector<size_t> both = f.train;
    both.insert(both.end(), f.val.begin(), f.val.end());
    std::sort(both.begin(), both.end());
    EXPECT_EQ(both, iota_n(n));
    all_val.insert(all_val.end(), f.val.begin(), f.val.end());
  }
  std::sort(all_val.begin(), all_val.end());
  EXPECT_EQ(all_val, iota_n(n));
}

// counts[f][label]: examples of each class in fold f's val set.
std::vector<std::map<int64_t, size_t>> class_counts(const std::vector<Fold>& folds, const std::vector<int64_t>& labels) {
  std::vector<std::map<int64_t, size_t>> out(folds.size());
  for (size_t f = 0; f < folds.size(); ++f)
    for (size_t i : folds[f].val) ++out[f][labels[i]];
  return out;
}

std::vector<int64_t> random_labels(std::mt19937& rng, int64_t k) {
  int n_classes = std::uniform_int_distribution<int>(2, 6)(rng);
  std::vector<int64_t> labels;
  for (int c = 0; c < n_classes; ++c) {
    int count = std::uniform_int_distribution<int>(static_cast<int>(k), 40)(rng);
    labels.insert(labels.end(), static_cast<size_t>(count), c * 7 - 3);  // negative and sparse labels too
  }
  std::shuffle(labels.begin(), labels.end(), rng);
  return labels;
}

// Knows its labels; get() must never be called.
struct LabeledOnly : datasets::Dataset<LabeledOnly>, datasets::Labeled {
  std::vector<int64_t> l;
  explicit LabeledOnly(std::vector<int64_t> v) : l(std::move(v)) {}
  Example<> get(size_t) override { throw std::logic_error("get() called"); }
  std::optional<size_t> size() const override { return l.size(); }
  std::vector<int64_t> labels() const override { return l; }
};

TEST(KFold, UnshuffledFoldsAreContiguousBlocksWithSklearnSizes) {
  auto folds = kfold(11, 3);  // n % k = 2: the first two folds get one more
  ASSERT_EQ(folds.size(), 3u);
  EXPECT_EQ(folds[0].val, (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_EQ(folds[1].val, (std::vector<size_t>{4, 5, 6, 7}));
  EXPECT_EQ(folds[2].val, (std::vector<size_t>{8, 9, 10}));
  EXPECT_EQ(folds[1].train, (std::vector<size_t>{0, 1, 2, 3, 8, 9, 10}));
}

TEST(KFold, FoldsPartitionForRandomSizes) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    int64_t k = std::uniform_int_distribution<int64_t>(2, 10)(rng);
    size_t n = std::uniform_int_distribution<size_t>(static_cast<size_t>(k), 200)(rng);
    for (bool shuffle : {false, true}) {
      auto folds = kfold(n, k, shuffle, static_cast<uint64_t>(trial));
      ASSERT_EQ(folds.size(), static_cast<size_t>(k));
      expect_folds_partition(folds, n);
      for (size_t f = 0; f < folds.size(); ++f)  // sklearn's sizes, shuffled or not
        EXPECT_EQ(folds[f].val.size(), n / k + (f < n % k ? 1 : 0));
    }
  }
}

TEST(KFold, SameSeedSameFoldsDifferentSeedDifferentFolds) {
  auto a = kfold(100, 5, true, 42), b = kfold(100, 5, true, 42), c = kfold(100, 5, true, 43);
  for (size_t f = 0; f < 5; ++f) EXPECT_EQ(a[f].val, b[f].val);
  bool differ = false;
  for (size_t f = 0; f < 5; ++f) differ |= a[f].val != c[f].val;
  EXPECT_TRUE(differ);
  EXPECT_NE(a[0].val, kfold(100, 5)[0].val);  // shuffled at all
}

TEST(StratifiedKFold, FoldsPartitionAndSpreadEachClassEvenlyShuffledOrNot) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 40; ++trial) {
    int64_t k = std::uniform_int_distribution<int64_t>(2, 7)(rng);
    std::vector<int64_t> labels = random_labels(rng, k);
    auto plain = stratified_kfold(labels, k);
    auto shuffled = stratified_kfold(labels, k, true, static_cast<uint64_t>(trial));
    expect_folds_partition(plain, labels.size());
    expect_folds_partition(shuffled, labels.size());
    std::map<int64_t, size_t> total;
    for (int64_t l : labels) ++total[l];
    auto cp = class_counts(plain, labels), cs = class_counts(shuffled, labels);
    // Shuffling moves examples between folds but keeps sklearn's allocation of each class.
    EXPECT_EQ(cp, cs);
    for (size_t f = 0; f < cp.size(); ++f)
      for (const auto& [label, count] : total) {
        double share = static_cast<double>(count) / static_cast<double>(k);
        EXPECT_LT(std::fabs(static_cast<double>(cp[f][label]) - share), 1.0) << "class " << label << " fold " << f;
      }
  }
}

TEST(StratifiedKFold, ClassExamplesFillFoldsInIndexOrderWhenNotShuffled) {
  // Class 1 (3 examples) appears first: dealt round-robin, folds get (2, 1) of it and (2, 2)
  // of class 0; each class's examples then fill fold 0's share first.
  std::vector<int64_t> labels = {1, 1, 1, 0, 0, 0, 0};
  auto folds = stratified_kfold(labels, 2);
  EXPECT_EQ(folds[0].val, (std::vector<size_t>{0, 1, 3, 4}));
  EXPECT_EQ(folds[1].val, (std::vector<size_t>{2, 5, 6}));
}

TEST(StratifiedKFold, SameSeedSameFoldsDifferentSeedDifferentFolds) {
  std::vector<int64_t> labels;
  for (int i = 0; i < 90; ++i) labels.push_back(i % 3);
  auto a = stratified_kfold(labels, 3, true, 5), b = stratified_kfold(labels, 3, true, 5);
  auto c = stratified_kfold(labels, 3, true, 6);
  bool differ = false;
  for (size_t f = 0; f < 3; ++f) {
    EXPECT_EQ(a[f].val, b[f].val);
    differ |= a[f].val != c[f].val;
  }
  EXPECT_TRUE(differ);
}

TEST(Folds, DatasetOverloadsGiveSubsetsOfTheSameFoldsWithoutDecoding) {
  std::vector<int64_t> labels = {0, 1, 0, 1, 0, 1, 2, 2, 2, 0, 1, 2};
  auto ds = std::make_shared<LabeledOnly>(labels);
  auto index_folds = stratified_kfold(labels, 3, true, 9);
  auto subset_folds = stratified_kfold(ds, 3, true, 9);
  ASSERT_EQ(subset_folds.size(), 3u);
  for (size_t f = 0; f < 3; ++f) {
    EXPECT_EQ(subset_folds[f].first->indices(), index_folds[f].train);
    EXPECT_EQ(subset_folds[f].second->indices(), index_folds[f].val);
    EXPECT_EQ(subset_folds[f].second->labels().size(), index_folds[f].val.size());
  }
  auto plain = kfold(ds, 4);
  ASSERT_EQ(plain.size(), 4u);
  EXPECT_EQ(plain[3].second->indices(), (std::vector<size_t>{9, 10, 11}));
}

TEST(Folds, ErrorsNameTheArgument) {
  EXPECT_EQ(test::error_of([] { kfold(10, 1); }), "kfold: k (the number of folds) must be at least 2, got 1");
  EXPECT_EQ(test::error_of([] { kfold(3, 5); }), "kfold: 5 folds need at least 5 examples, got 3");
  EXPECT_EQ(test::error_of([] { stratified_kfold(std::vector<int64_t>{0, 1, 0}, 0); }),
            "stratified_kfold: k (the number of folds) must be at least 2, got 0");
  std::vector<int64_t> labels = {0, 0, 0, 0, 0, 3, 3, 1, 1, 1, 1, 1};
  EXPECT_EQ(test::error_of([&] { stratified_kfold(labels, 5); }),
            "stratified 5-fold: class 3 has only 2 examples; at least 5 needed");
  EXPECT_THROW(stratified_kfold(labels, 5), ValueError);
  EXPECT_NO_THROW(stratified_kfold(labels, 2));
  EXPECT_EQ(test::error_of([] { kfold(std::shared_ptr<DatasetBase>(), 2); }), "kfold: the dataset is null");
}

TEST(Bootstrap, DrawsInRangeAndAboutOneMinusOneOverEUnique) {
  // The number of distinct draws among n has mean n(1 - (1 - 1/n)^n) and variance about
  // n(e^-1 - 2e^-2) ~ 0.097 n: for n = 1000 the unique fraction's sd is ~0.0099, and the mean
  // of 20 seeds' fractions has sd ~0.0022. 0.012 is over 5 sd.
  const size_t n = 1000;
  double sum = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto bag = bootstrap_indices(n, seed);
    ASSERT_EQ(bag.size(), n);
    EXPECT_TRUE(std::is_sorted(bag.begin(), bag.end()));
    EXPECT_LT(bag.back(), n);
    std::set<size_t> unique(bag.begin(), bag.end());
    sum += static_cast<double>(unique.size()) / n;
    auto oob = out_of_bag(bag, n);
    EXPECT_EQ(oob.size() + unique.size(), n);
    for (size_t i : oob) EXPECT_EQ(unique.count(i), 0u);
  }
  double expected = 1 - std::pow(1 - 1.0 / n, static_cast<double>(n));
  EXPECT_NEAR(sum / 20, expected, 0.012);
  EXPECT_EQ(bootstrap_indices(50, 3), bootstrap_indices(50, 3));
  EXPECT_NE(bootstrap_indices(50, 3), bootstrap_indices(50, 4));
}

TEST(WeightedResample, FrequenciesAreProportionalToWeights) {
  std::vector<double> w = {1, 2, 0, 3, 4};
  const size_t n = 100000;
  auto draws = weighted_resample(w, n, 123);
  ASSERT_EQ(draws.size(), n);
  EXPECT_TRUE(std::is_sorted(draws.begin(), draws.end()));
  std::vector<double> count(w.size(), 0);
  for (size_t i : draws) count.at(i) += 1;
  EXPECT_EQ(count[2], 0);  // weight 0: never drawn
  // Pearson's chi-square over the 4 categories with weight > 0 (3 degrees of freedom): the
  // 0.9999 quantile is 21.1, so a correct sampler fails this about once in 10^4 seeds.
  double chi2 = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == 0) continue;
    double e = n * w[i] / 10.0;
    chi2 += (count[i] - e) * (count[i] - e) / e;
  }
  EXPECT_LT(chi2, 21.1);
  EXPECT_EQ(weighted_resample(w, 100, 1), weighted_resample(w, 100, 1));
  EXPECT_EQ(weighted_resample({0, 0, 5}, 10, 2), std::vector<size_t>(10, 2));
}

TEST(Resampling, ErrorsNameTheArgument) {
  EXPECT_EQ(test::error_of([] { bootstrap_indices(0, 1); }), "bootstrap_indices: n must be positive, got 0");
  EXPECT_EQ(test::error_of([] { out_of_bag({1, 5}, 5); }), "out_of_bag: sample index 5 out of range for 5 examples");
  EXPECT_EQ(test::error_of([] { weighted_resample({}, 3, 0); }), "weighted_resample: weights is empty");
  EXPECT_EQ(test::error_of([] { weighted_resample({1, -0.5}, 3, 0); }),
            "weighted_resample: weights[1] = -0.5; weights must be finite and non-negative");
  EXPECT_THROW(weighted_resample({1, NAN}, 3, 0), ValueError);
  EXPECT_EQ(test::error_of([] { weighted_resample({0, 0}, 3, 0); }), "weighted_resample: all 2 weights are 0");
}

}  // namespace
