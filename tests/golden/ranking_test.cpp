// Ranking and calibration metrics against scikit-learn 1.2 on tests/golden/data/
// ranking.safetensors (tools/golden/gen_ranking.py): per-class one-vs-rest ROC-AUC and
// average precision on scores with and without ties, and the expected calibration error with
// its 15 reliability bins. Tolerance 1e-6 (the expected values are stored as float32).
#include <cmath>

#include "cnnkit/ops/ops.h"
#include "cnnkit/train/ranking.h"

#include "golden_runner.h"
#include "test_util.h"

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

// Temperature scaling against scipy's minimiser: the temperature to 1e-6 relative (scipy
// stops at xatol 1e-12 in 1 / T), the NLLs to 1e-9.
TEST(TemperatureScaling, MatchesScipysMinimiser) {
  for (const std::string c : {"temp_overconfident", "temp_underconfident", "temp_two_classes"}) {
    const nlohmann::json o = golden().options(c);
    const Tensor z = golden().get(c, "logits"), y = golden().get(c, "targets");
    const double t = train::fit_temperature(z, y), want = o.at("temperature").get<double>();
    EXPECT_NEAR(t, want, 1e-6 * want) << c;
    EXPECT_NEAR(train::temperature_nll(z, y), o.at("nll_raw").get<double>(), 1e-9) << c;
    EXPECT_NEAR(train::temperature_nll(z, y, t), o.at("nll_scaled").get<double>(), 1e-9) << c;
    EXPECT_LE(train::temperature_nll(z, y, t), train::temperature_nll(z, y)) << c;
  }
  const std::string over = "temp_overconfident", under = "temp_underconfident";
  EXPECT_GT(train::fit_temperature(golden().get(over, "logits"), golden().get(over, "targets")), 1.0);
  EXPECT_LT(train::fit_temperature(golden().get(under, "logits"), golden().get(under, "targets")), 1.0);
}

// The fitted temperature is the minimum: the NLL is no lower a little either side of it, on
// random logit sets of every kind (a converging Newton step once jumped away from the root).
TEST(TemperatureScaling, IsALocalMinimumOnRandomLogits) {
  cnnkit::manual_seed(4);
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t n = 50 + 37 * trial % 400, c = 2 + trial % 9;
    const double scale = 0.2 + 0.3 * trial;
    const Tensor z = cnnkit::randn({n, c}) * scale;
    const Tensor y = cnnkit::randint(0, c, {n});
    const double t = train::fit_temperature(z, y);
    if (t == 0.01 || t == 100.0) continue;  // at a bound
    const double f = train::temperature_nll(z, y, t);
    EXPECT_LE(f, train::temperature_nll(z, y, t * 1.001)) << trial << ": T " << t;
    EXPECT_LE(f, train::temperature_nll(z, y, t / 1.001)) << trial << ": T " << t;
  }
}

TEST(TemperatureScaling, BoundsAndBadInput) {
  // Perfectly separated data: the NLL keeps falling as T -> 0; the search stops at 0.01.
  const Tensor z = cnnkit::tensor(std::vector<float>{5, -5, -5, 5}).reshape({2, 2});
  const Tensor y = cnnkit::tensor(std::vector<int64_t>{0, 1});
  EXPECT_DOUBLE_EQ(train::fit_temperature(z, y), 0.01);
  // Always wrong: the NLL falls as T grows; the search stops at 100.
  EXPECT_DOUBLE_EQ(train::fit_temperature(z, cnnkit::tensor(std::vector<int64_t>{1, 0})), 100.0);
  const Tensor nan = cnnkit::tensor(std::vector<float>{1, std::nanf(""), 0, 1}).reshape({2, 2});
  const std::string msg = cnnkit::test::message_of([&] { train::fit_temperature(nan, y); });
  EXPECT_NE(msg.find("logit 1 of example 0 is nan"), std::string::npos) << msg;
  EXPECT_THROW(train::fit_temperature(z.narrow(0, 0, 0), y.narrow(0, 0, 0)), ValueError);
  EXPECT_THROW(train::temperature_nll(z, y, 0.0), ValueError);
}

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

TEST(Ranking, ANaNScoreMakesItsClassNaNInsteadOfLooping) {
  // A model whose weights went non-finite, evaluated before TerminateOnNaN's epoch-end check:
  // the tie-grouping loop compared NaN == NaN and never advanced.
  const float nan = std::nanf("");
  const Tensor s = cnnkit::tensor(std::vector<float>{nan, 0.1f, 0.8f, 0.2f, 0.3f, 0.7f}).reshape({3, 2});
  const Tensor y = cnnkit::tensor(std::vector<int64_t>{0, 1, 1});
  const std::vector<double> auc = train::roc_auc_ovr(s, y);
  EXPECT_TRUE(std::isnan(auc[0]));
  EXPECT_DOUBLE_EQ(auc[1], 1.0);
  const std::vector<double> ap = train::average_precision_ovr(s, y);
  EXPECT_TRUE(std::isnan(ap[0]));
  EXPECT_DOUBLE_EQ(ap[1], 1.0);
}

}  // namespace
