// Successive halving: the rung schedule for several (n, min, max, eta), its invariants over
// many, the promotion rule (best first, ties by index, NaN never) and every error.
#include <gtest/gtest.h>

#include <cmath>

#include "cnnkit/select/halving.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::model_selection;

namespace {

std::vector<std::pair<int64_t, int64_t>> pairs(const std::vector<Rung>& rungs) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& r : rungs) out.emplace_back(r.epochs, r.keep);
  return out;
}
using P = std::vector<std::pair<int64_t, int64_t>>;

TEST(HalvingRungs, HyperbandBracketOf27) {
  // keep ceil(27 / 3^r) = 27, 9, 3, 1 at epochs 1, 3, 9, 27.
  EXPECT_EQ(pairs(halving_rungs(27, 1, 27)), (P{{1, 27}, {3, 9}, {9, 3}, {27, 1}}));
  EXPECT_EQ(pairs(halving_rungs(8, 1, 8, 2)), (P{{1, 8}, {2, 4}, {4, 2}, {8, 1}}));
}

TEST(HalvingRungs, LastTrialJumpsToTheFullBudget) {
  // keep 10, 4, 2, 1 (ceil(10/3) = 4, ceil(10/9) = 2, ceil(10/27) = 1): the single survivor is
  // trained to max_epochs directly, not to 27.
  EXPECT_EQ(pairs(halving_rungs(10, 1, 100)), (P{{1, 10}, {3, 4}, {9, 2}, {100, 1}}));
  EXPECT_EQ(pairs(halving_rungs(1, 1, 50)), (P{{50, 1}}));
}

TEST(HalvingRungs, BudgetRunningOutFirstLeavesSeveralAtFullBudget) {
  // epochs 2, 6, then min(18, 10) = 10: the schedule stops with ceil(100/9) = 12 trials there.
  EXPECT_EQ(pairs(halving_rungs(100, 2, 10)), (P{{2, 100}, {6, 34}, {10, 12}}));
  EXPECT_EQ(pairs(halving_rungs(5, 4, 4)), (P{{4, 5}}));
}

TEST(HalvingRungs, InvariantsHoldForManySettings) {
  for (int64_t n = 1; n <= 60; n += 7)
    for (int64_t lo = 1; lo <= 5; lo += 2)
      for (int64_t hi = lo; hi <= 90; hi += 11)
        for (int64_t eta = 2; eta <= 4; ++eta) {
          auto rungs = halving_rungs(n, lo, hi, eta);
          SCOPED_TRACE(testing::Message() << n << " " << lo << " " << hi << " " << eta);
          ASSERT_FALSE(rungs.empty());
          EXPECT_EQ(rungs.front().keep, n);
          EXPECT_EQ(rungs.back().epochs, hi);
          for (size_t r = 0; r < rungs.size(); ++r) {
            EXPECT_GE(rungs[r].keep, 1);
            EXPECT_LE(rungs[r].epochs, hi);
            if (r == 0) continue;
            EXPECT_GT(rungs[r].epochs, rungs[r - 1].epochs);
            EXPECT_EQ(rungs[r].keep, (rungs[r - 1].keep + eta - 1) / eta);
          }
        }
}

TEST(HalvingRungs, ErrorsNameTheArgument) {
  EXPECT_EQ(test::error_of([] { halving_rungs(0, 1, 9); }), "halving_rungs: n_trials must be at least 1, got 0");
  EXPECT_EQ(test::error_of([] { halving_rungs(9, 0, 9); }), "halving_rungs: min_epochs must be at least 1, got 0");
  EXPECT_EQ(test::error_of([] { halving_rungs(9, 5, 4); }),
            "halving_rungs: max_epochs (4) must be at least min_epochs (5)");
  EXPECT_EQ(test::error_of([] { halving_rungs(9, 1, 9, 1); }),
            "halving_rungs: eta (the reduction factor) must be at least 2, got 1");
}

TEST(Promote, BestFirstTiesByLowerIndexNaNNever) {
  std::vector<double> s = {0.5, NAN, 0.9, 0.5, 0.9, 0.1};
  EXPECT_EQ(promote(s, 3, train::Mode::kMax), (std::vector<size_t>{2, 4, 0}));
  EXPECT_EQ(promote(s, 2, train::Mode::kMin), (std::vector<size_t>{5, 0}));
  EXPECT_EQ(promote(s, 10, train::Mode::kMax), (std::vector<size_t>{2, 4, 0, 3, 5}));  // NaN left out
  EXPECT_TRUE(promote(s, 0, train::Mode::kMax).empty());
  EXPECT_TRUE(promote({NAN, NAN}, 1, train::Mode::kMin).empty());
  EXPECT_EQ(promote({-INFINITY, 2}, 1, train::Mode::kMin), (std::vector<size_t>{0}));
}

TEST(Promote, ErrorsNameTheArgument) {
  EXPECT_EQ(test::error_of([] { promote({1, 2}, -1, train::Mode::kMax); }), "promote: keep must be >= 0, got -1");
  EXPECT_TRUE(test::contains(test::error_of([] { promote({1, 2}, 1, train::Mode::kAuto); }), "kAuto"));
}

}  // namespace
