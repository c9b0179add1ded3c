// SAMME's round against hand-computed values (the arithmetic is in each test), its two
// stopping cases as scikit-learn's AdaBoostClassifier(algorithm="SAMME") handles them, and
// every error.
#include <gtest/gtest.h>

#include <cmath>

#include "cnnkit/select/boosting.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::model_selection;

namespace {

void expect_weights(const std::vector<double>& got, const std::vector<double>& expected) {
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-12) << i;
}

TEST(SammeStep, ThreeClassesOneOfFourWrong) {
  // err = 0.25; alpha = log(0.75 / 0.25) + log(3 - 1) = log 3 + log 2 = log 6.
  // The wrong example's weight 0.25 becomes 0.25 * 6 = 1.5; total 1.5 + 3 * 0.25 = 2.25:
  // weights 1.5 / 2.25 = 2/3 and 0.25 / 2.25 = 1/9.
  auto s = samme_step({0.25, 0.25, 0.25, 0.25}, {true, false, false, false}, 3);
  EXPECT_DOUBLE_EQ(s.error, 0.25);
  EXPECT_NEAR(s.alpha, std::log(6.0), 1e-12);
  EXPECT_FALSE(s.stop);
  expect_weights(s.weights, {2.0 / 3, 1.0 / 9, 1.0 / 9, 1.0 / 9});
}

TEST(SammeStep, UnnormalisedWeightsTwoClasses) {
  // weights (2, 1, 1), the second wrong: err = 1 / 4; alpha = log(3) + log(1) = log 3.
  // (2, 1 * 3, 1) / 6 = (1/3, 1/2, 1/6).
  auto s = samme_step({2, 1, 1}, {false, true, false}, 2);
  EXPECT_DOUBLE_EQ(s.error, 0.25);
  EXPECT_NEAR(s.alpha, std::log(3.0), 1e-12);
  expect_weights(s.weights, {1.0 / 3, 0.5, 1.0 / 6});
}

TEST(SammeStep, LearningRateScalesAlpha) {
  // alpha = 0.5 log 6; the wrong weight is multiplied by exp(alpha) = sqrt 6.
  auto s = samme_step({0.25, 0.25, 0.25, 0.25}, {true, false, false, false}, 3, 0.5);
  EXPECT_NEAR(s.alpha, 0.5 * std::log(6.0), 1e-12);
  double total = 0.25 * std::sqrt(6.0) + 0.75;
  expect_weights(s.weights, {0.25 * std::sqrt(6.0) / total, 0.25 / total, 0.25 / total, 0.25 / total});
}

TEST(SammeStep, MoreErrorThanHalfStillHelpsWithThreeClasses) {
  // K = 3: chance is 1 - 1/3 = 2/3 error, so err = 0.6 still boosts: alpha = log(0.4/0.6) + log 2 = log(4/3).
  auto s = samme_step({1, 1, 1, 1, 1}, {true, true, true, false, false}, 3);
  EXPECT_DOUBLE_EQ(s.error, 0.6);
  EXPECT_NEAR(s.alpha, std::log(4.0 / 3), 1e-12);
  EXPECT_FALSE(s.stop);
}

TEST(SammeStep, PerfectMemberKeepsWeightOneAndStops) {
  auto s = samme_step({1, 3}, {false, false}, 4);  // sklearn: return sample_weight, 1.0, 0.0
  EXPECT_EQ(s.error, 0);
  EXPECT_EQ(s.alpha, 1.0);
  EXPECT_TRUE(s.stop);
  expect_weights(s.weights, {0.25, 0.75});
}

TEST(SammeStep, ChanceLevelMemberIsDroppedAndStops) {
  // K = 2: err 0.5 >= 1 - 1/2.
  auto s = samme_step({1, 1, 1, 1}, {true, true, false, false}, 2);
  EXPECT_DOUBLE_EQ(s.error, 0.5);
  EXPECT_EQ(s.alpha, 0);
  EXPECT_TRUE(s.stop);
  expect_weights(s.weights, {0.25, 0.25, 0.25, 0.25});
}

TEST(SammeStep, ErrorsNameTheArgument) {
  EXPECT_EQ(test::error_of([] { samme_step({1, 1}, {true}, 2); }),
            "samme_step: 2 weights and 1 wrong flags; one of each per example, at least one example");
  EXPECT_EQ(test::error_of([] { samme_step({1}, {true}, 1); }), "samme_step: num_classes must be at least 2, got 1");
  EXPECT_EQ(test::error_of([] { samme_step({1, -1}, {true, false}, 2); }),
            "samme_step: weights[1] = -1; weights must be finite and non-negative");
  EXPECT_EQ(test::error_of([] { samme_step({0, 0}, {true, false}, 2); }), "samme_step: all 2 weights are 0");
  EXPECT_EQ(test::error_of([] { samme_step({1}, {true}, 2, 0); }), "samme_step: learning_rate must be positive, got 0");
}

}  // namespace
