// data::kfold and data::stratified_kfold (unshuffled) against scikit-learn 1.2's KFold and
// StratifiedKFold on tests/golden/data/folds.safetensors (tools/golden/gen_folds.py): every
// example's validation fold must be sklearn's exactly, and each fold's train set the rest.
// The file holds all cases in two uint8 tensors; metadata "cases" lists [name, kind, k, n].
#include <gtest/gtest.h>

#include "cnnkit/data/folds.h"
#include "test_util.h"

using namespace cnnkit;

namespace {

TEST(Folds, MatchSklearnKFoldAndStratifiedKFold) {
  test::Golden golden("folds");
  const Tensor& labels_t = golden.tensors().at("labels");
  const Tensor& folds_t = golden.tensors().at("test_fold");
  const uint8_t* all_labels = labels_t.data_ptr<uint8_t>();
  const uint8_t* all_folds = folds_t.data_ptr<uint8_t>();
  auto cases = nlohmann::json::parse(golden.metadata().at("cases"));
  ASSERT_GE(cases.size(), 10u);
  size_t offset = 0;
  for (const auto& c : cases) {
    const std::string name = c[0], kind = c[1];
    const int64_t k = c[2];
    const size_t n = c[3];
    SCOPED_TRACE(name);
    ASSERT_LE(offset + n, static_cast<size_t>(labels_t.numel()));
    std::vector<int64_t> labels(all_labels + offset, all_labels + offset + n);
    std::vector<int64_t> expected(all_folds + offset, all_folds + offset + n);
    offset += n;
    auto folds = kind == "kfold" ? data::kfold(n, k) : data::stratified_kfold(labels, k);
    ASSERT_EQ(folds.size(), static_cast<size_t>(k));
    std::vector<int64_t> got(n, -1);
    for (int64_t f = 0; f < k; ++f) {
      for (size_t i : folds[f].val) got[i] = f;
      EXPECT_EQ(folds[f].train.size() + folds[f].val.size(), n);
      for (size_t i : folds[f].train) EXPECT_NE(expected[i], f) << "example " << i << " in fold " << f;
    }
    EXPECT_EQ(got, expected);
  }
  EXPECT_EQ(offset, static_cast<size_t>(labels_t.numel()));
}

}  // namespace
