// data::kfold and data::stratified_kfold (unshuffled) against scikit-learn 1.2's KFold and
// StratifiedKFold on tests/golden/data/folds.safetensors (tools/golden/gen_folds.py): every
// example's validation fold must be sklearn's exactly, and each fold's train set the rest.
#include <gtest/gtest.h>

#include "cnnkit/data/folds.h"
#include "test_util.h"

using namespace cnnkit;

namespace {

std::vector<int64_t> ints(const Tensor& t) {
  const int64_t* p = t.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + t.numel());
}

TEST(Folds, MatchSklearnKFoldAndStratifiedKFold) {
  test::Golden golden("folds");
  auto cases = golden.cases();
  ASSERT_GE(cases.size(), 10u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c);
    auto opts = golden.options(c);
    std::vector<int64_t> labels = ints(golden.get(c, "labels"));
    std::vector<int64_t> expected = ints(golden.get(c, "test_fold"));
    int64_t k = opts.at("k").get<int64_t>();
    auto folds = opts.at("kind") == "kfold" ? data::kfold(labels.size(), k) : data::stratified_kfold(labels, k);
    ASSERT_EQ(folds.size(), static_cast<size_t>(k));
    std::vector<int64_t> got(labels.size(), -1);
    for (int64_t f = 0; f < k; ++f) {
      for (size_t i : folds[f].val) got[i] = f;
      EXPECT_EQ(folds[f].train.size() + folds[f].val.size(), labels.size());
      for (size_t i : folds[f].train) EXPECT_NE(expected[i], f) << "example " << i << " in fold " << f;
    }
    EXPECT_EQ(got, expected);
  }
}

}  // namespace
