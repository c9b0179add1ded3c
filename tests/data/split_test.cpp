// Subset, random_split (PyTorch's fraction rule), stratified_split (class proportions per
// part, determinism per seed, labels without get()) and train_val_test_split.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "cnnkit/data/split.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::data;

namespace {

// n examples; example i has data [i] and label labels[i]. Not Labeled: labels come from get().
struct Indexed : datasets::Dataset<Indexed> {
  std::vector<int64_t> labels;
  explicit Indexed(std::vector<int64_t> l) : labels(std::move(l)) {}
  Example<> get(size_t i) override {
    Tensor t = empty({}, TensorOptions(kLong));
    *t.data_ptr<int64_t>() = labels.at(i);
    return {test::lit({static_cast<float>(i)}, {1}), t};
  }
  std::optional<size_t> size() const override { return labels.size(); }
};

// Knows its labels; get() must never be called.
struct LabeledOnly : datasets::Dataset<LabeledOnly>, datasets::Labeled {
  std::vector<int64_t> l;
  explicit LabeledOnly(std::vector<int64_t> v) : l(std::move(v)) {}
  Example<> get(size_t) override { throw std::logic_error("get() called"); }
  std::optional<size_t> size() const override { return l.size(); }
  std::vector<int64_t> labels() const override { return l; }
};

std::vector<int64_t> classes_with_counts(const std::vector<size_t>& counts) {
  std::vector<int64_t> out;
  for (size_t c = 0; c < counts.size(); ++c) out.insert(out.end(), counts[c], static_cast<int64_t>(c));
  return out;
}

std::vector<size_t> sizes(const std::vector<std::shared_ptr<Subset>>& parts) {
  std::vector<size_t> s;
  for (const auto& p : parts) s.push_back(p->size().value());
  return s;
}

// The parts are disjoint and together cover [0, n).
void expect_partition(const std::vector<std::shared_ptr<Subset>>& parts, size_t n) {
  std::vector<size_t> all;
  for (const auto& p : parts) all.insert(all.end(), p->indices().begin(), p->indices().end());
  std::sort(all.begin(), all.end());
  std::vector<size_t> expected(n);
  for (size_t i = 0; i < n; ++i) expected[i] = i;
  EXPECT_EQ(all, expected);
}

std::map<int64_t, size_t> counts_of(const Subset& s, const std::vector<int64_t>& labels) {
  std::map<int64_t, size_t> c;
  for (size_t i : s.indices()) ++c[labels[i]];
  return c;
}

}  // namespace

TEST(Subset, MapsIndicesAndChecksRange) {
  auto ds = std::make_shared<Indexed>(std::vector<int64_t>{5, 6, 7, 8});
  Subset s(ds, {3, 1});
  EXPECT_EQ(s.size().value(), 2u);
  EXPECT_EQ(s.get(0).target.item<int64_t>(), 8);
  EXPECT_EQ(s.get(1).data.item<float>(), 1.0f);
  EXPECT_THROW(s.get(2), ValueError);
  EXPECT_THROW(Subset(ds, {4}), ValueError);
  EXPECT_TRUE(s.labels().empty());  // the source is not Labeled
  auto lab = std::make_shared<LabeledOnly>(std::vector<int64_t>{5, 6, 7, 8});
  EXPECT_EQ(Subset(lab, {3, 1}).labels(), (std::vector<int64_t>{8, 6}));
}

TEST(RandomSplit, FractionsFollowPytorchsRemainderRule) {
  auto ds = std::make_shared<Indexed>(std::vector<int64_t>(10, 0));
  // torch.utils.data.random_split(range(10), [1/3, 1/3, 1/3]) -> lengths [4, 3, 3]
  auto parts = random_split(ds, {1.0 / 3, 1.0 / 3, 1.0 / 3}, 1);
  EXPECT_EQ(sizes(parts), (std::vector<size_t>{4, 3, 3}));
  expect_partition(parts, 10);
  // [0.5, 0.3, 0.2] -> [5, 3, 2]; lengths [7, 3] as given.
  EXPECT_EQ(sizes(random_split(ds, {0.5, 0.3, 0.2}, 1)), (std::vector<size_t>{5, 3, 2}));
  EXPECT_EQ(sizes(random_split(ds, {7, 3}, 1)), (std::vector<size_t>{7, 3}));
  EXPECT_EQ(sizes(random_split(ds, {10}, 1)), (std::vector<size_t>{10}));
}

TEST(RandomSplit, SameSeedSameSplitOtherSeedOther) {
  auto ds = std::make_shared<Indexed>(std::vector<int64_t>(100, 0));
  auto a = random_split(ds, {0.8, 0.2}, 42), b = random_split(ds, {0.8, 0.2}, 42), c = random_split(ds, {0.8, 0.2}, 43);
  EXPECT_EQ(a[1]->indices(), b[1]->indices());
  EXPECT_NE(a[1]->indices(), c[1]->indices());
  expect_partition(a, 100);
  // A permutation, not the identity.
  EXPECT_FALSE(std::is_sorted(a[0]->indices().begin(), a[0]->indices().end()));
}

TEST(RandomSplit, BadLengthsAreValueErrors) {
  auto ds = std::make_shared<Indexed>(std::vector<int64_t>(10, 0));
  std::string msg = test::error_of([&] { random_split(ds, {6, 3}, 0); });
  EXPECT_TRUE(test::contains(msg, "sum to 9") && test::contains(msg, "10 examples")) << msg;
  EXPECT_THROW(random_split(ds, {6, 3}, 0), ValueError);
  EXPECT_THROW(random_split(ds, {2.5, 7.5}, 0), ValueError);
  EXPECT_THROW(random_split(ds, {1.5, -0.5}, 0), ValueError);
  EXPECT_THROW(random_split(ds, {}, 0), ValueError);
  EXPECT_THROW(random_split(nullptr, {1.0}, 0), ValueError);
}

TEST(StratifiedSplit, KeepsClassProportionsInEveryPart) {
  std::vector<int64_t> labels = classes_with_counts({50, 30, 20});
  std::rotate(labels.begin(), labels.begin() + 17, labels.end());  // classes interleaved in index order
  auto ds = std::make_shared<Indexed>(labels);
  auto parts = stratified_split(ds, {0.8, 0.2}, 3);
  expect_partition(parts, 100);
  EXPECT_EQ(counts_of(*parts[0], labels), (std::map<int64_t, size_t>{{0, 40}, {1, 24}, {2, 16}}));
  EXPECT_EQ(counts_of(*parts[1], labels), (std::map<int64_t, size_t>{{0, 10}, {1, 6}, {2, 4}}));
  EXPECT_TRUE(std::is_sorted(parts[0]->indices().begin(), parts[0]->indices().end()));
}

TEST(StratifiedSplit, RemaindersAreSpreadAcrossPartsNotGivenToTheFirst) {
  // Four classes of 7 split in halves: each class has one example left over after 3 + 3;
  // rotating ties give two classes' extras to each part: 14 / 14, every class 3 or 4.
  std::vector<int64_t> labels = classes_with_counts({7, 7, 7, 7});
  auto parts = stratified_split(std::make_shared<Indexed>(labels), {0.5, 0.5}, 0);
  EXPECT_EQ(sizes(parts), (std::vector<size_t>{14, 14}));
  for (const auto& [cls, count] : counts_of(*parts[0], labels)) EXPECT_TRUE(count == 3 || count == 4) << cls;
  // 0.8 / 0.1 / 0.1 of 7: floor 5, 0, 0; the two left go to the larger remainders 0.7, 0.7.
  auto three = stratified_split(std::make_shared<Indexed>(classes_with_counts({7})), {0.8, 0.1, 0.1}, 0);
  EXPECT_EQ(sizes(three), (std::vector<size_t>{5, 1, 1}));
}

TEST(StratifiedSplit, DeterministicPerSeedAndReadsLabelsWithoutGet) {
  std::vector<int64_t> labels = classes_with_counts({40, 25, 35});
  auto lab = std::make_shared<LabeledOnly>(labels);
  auto a = stratified_split(lab, {0.7, 0.3}, 11);  // would throw if get() were called
  auto b = stratified_split(std::make_shared<Indexed>(labels), {0.7, 0.3}, 11);
  auto c = stratified_split(lab, {0.7, 0.3}, 12);
  EXPECT_EQ(a[1]->indices(), b[1]->indices());  // same labels + seed: same split, either way
  EXPECT_NE(a[1]->indices(), c[1]->indices());
  EXPECT_EQ(counts_of(*a[1], labels), counts_of(*c[1], labels));
  // Labels passed explicitly.
  auto d = stratified_split(lab, labels, {0.7, 0.3}, 11);
  EXPECT_EQ(a[0]->indices(), d[0]->indices());
}

TEST(StratifiedSplit, BadFractionsAndFloatTargetsAreValueErrors) {
  auto ds = std::make_shared<Indexed>(classes_with_counts({5, 5}));
  EXPECT_THROW(stratified_split(ds, {0.5, 0.4}, 0), ValueError);
  EXPECT_THROW(stratified_split(ds, {1.2, -0.2}, 0), ValueError);
  EXPECT_THROW(stratified_split(ds, std::vector<int64_t>{0, 1}, {0.5, 0.5}, 0), ValueError);
  struct Regression : datasets::Dataset<Regression> {
    Example<> get(size_t) override { return {test::lit({1}, {1}), test::lit({0.5f}, {1})}; }
    std::optional<size_t> size() const override { return 4; }
  };
  std::string msg = test::error_of([] { stratified_split(std::make_shared<Regression>(), {0.5, 0.5}, 0); });
  EXPECT_TRUE(test::contains(msg, "regression")) << msg;
}

TEST(TrainValTestSplit, SizesStratifiedOrNot) {
  std::vector<int64_t> labels = classes_with_counts({60, 40});
  auto ds = std::make_shared<Indexed>(labels);
  auto s = train_val_test_split(ds, 0.1, 0.2, 5);
  EXPECT_EQ(s.train->size().value(), 70u);
  EXPECT_EQ(s.val->size().value(), 10u);
  EXPECT_EQ(s.test->size().value(), 20u);
  EXPECT_EQ(counts_of(*s.test, labels), (std::map<int64_t, size_t>{{0, 12}, {1, 8}}));
  auto r = train_val_test_split(ds, 0.1, 0.2, 5, /*stratify=*/false);
  EXPECT_EQ(r.val->size().value(), 10u);
  expect_partition({r.train, r.val, r.test}, 100);
  EXPECT_THROW(train_val_test_split(ds, 0.6, 0.6, 5), ValueError);
}
