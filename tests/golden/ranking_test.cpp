// Ranking and calibration metrics against scikit-learn 1.2 on tests/golden/data/
// ranking.safetensors (tools/golden/gen_ranking.py): per-class one-vs-rest ROC-AUC and
// average precision on scores with and without ties, and the expected calibration error with
// its 15 reliability bins. Tolerance 1e-6 (the expected values are stored as float32).
#include <cmath>

#include "cnnkit/ops/ops.h"
#include "cnnkit/train/ranking.h"

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

const Golden& golden() {
  static Golden g("ranking");
  return g;
}

void expect_values(const std::vector<double>& got, const Tensor& want, const std::string& what) {
  const std::vector<float> w = want.to_vector();
  ASSERT_EQ(got.size(), w.size()) << what;
  for (size_t i = 0; i < w.size(); ++i) {
    if (std::isnan(w[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << what << " " << i;
      continue;
    }
    EXPECT_NEAR(got[i], w[i], 1e-6) << what << " " << i;
  }
}

class RankingGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(RankingGolden, MatchesScikitLearn) {
  const std::string c = GetParam();
  const Tensor s = golden().get(c, "scores"), y = golden().get(c, "targets");
  expect_values(train::roc_auc_ovr(s, y), golden().get(c, "roc_auc"), "roc_auc");
  expect_values(train::average_precision_ovr(s, y), golden().get(c, "average_precision"), "average_precision");
  const train::Calibration cal = train::calibration(s, y, 15);
  EXPECT_NEAR(cal.ece, golden().get(c, "ece").to_vector()[0], 1e-6);
  const Tensor counts = golden().get(c, "bin_count");
  for (int64_t b = 0; b < 15; ++b) EXPECT_EQ(cal.count[static_cast<size_t>(b)], counts[b].item<int64_t>()) << b;
  expect_values(cal.confidence, golden().get(c, "bin_confidence"), "bin_confidence");
  expect_values(cal.accuracy, golden().get(c, "bin_accuracy"), "bin_accuracy");
}

INSTANTIATE_TEST_SUITE_P(Sklearn, RankingGolden, ::testing::Values("distinct", "ties", "heavy_ties", "confident"));

TEST(Ranking, AClassWithoutPositivesIsNaNAndBadInputIsNamed) {
  const Tensor s = cnnkit::tensor(std::vector<float>{0.9f, 0.1f, 0.8f, 0.2f, 0.3f, 0.7f}).reshape({3, 2});
  const Tensor y = cnnkit::tensor(std::vector<int64_t>{0, 0, 0});
  const std::vector<double> auc = train::roc_auc_ovr(s, y);
  EXPECT_TRUE(std::isnan(auc[0]) && std::isnan(auc[1])) << "one class only: no negatives for 0, no positives for 1";
  EXPECT_TRUE(std::isnan(train::average_precision_ovr(s, y)[1]));
  EXPECT_TRUE(std::isnan(train::nan_mean({std::nan(""), std::nan("")})));
  EXPECT_DOUBLE_EQ(train::nan_mean({0.5, std::nan(""), 1.0}), 0.75);
  EXPECT_THROW(train::roc_auc_ovr(s, cnnkit::tensor(std::vector<int64_t>{0, 2, 1})), Error);
  EXPECT_THROW(train::calibration(s, y, 0), ValueError);
  EXPECT_THROW(train::roc_auc_ovr(s.reshape({6}), y), ShapeError);
}

}  // namespace
