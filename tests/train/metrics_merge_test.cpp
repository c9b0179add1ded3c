// Metrics over the shards of a dataset, merged (what a distributed evaluation does over its
// ranks), equal one pass over all of it.
#include <gtest/gtest.h>

#include <cmath>

#include "cnnkit/ops/ops.h"
#include "cnnkit/train/metrics.h"

namespace {

using namespace cnnkit;
using namespace cnnkit::train;

void expect_same(const Metrics& a, const Metrics& b) {
  EXPECT_EQ(a.count, b.count);
  auto sa = a.scalars(), sb = b.scalars();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [k, v] : sa) EXPECT_NEAR(v, sb.at(k), 1e-9 * std::max(1.0, std::fabs(v))) << k;
  EXPECT_EQ(a.confusion, b.confusion);
}

TEST(MetricsMerge, Classification) {
  manual_seed(1);
  ClassificationMetrics all(0, 3), first(0, 3), second(0, 3), empty(0, 3);
  for (int b = 0; b < 6; ++b) {
    Tensor logits = randn({7, 5});
    Tensor target = randint(0, 5, {7});
    all.update(logits, target, 0.3 * b);
    (b % 2 ? second : first).update(logits, target, 0.3 * b);
  }
  first.merge_state(second.state());
  first.merge_state(empty.state());  // a rank that saw nothing
  expect_same(first.compute(), all.compute());
  empty.merge_state(all.state());
  expect_same(empty.compute(), all.compute());
  ClassificationMetrics other(4);
  EXPECT_THROW(other.merge_state(all.state()), ShapeError);
  EXPECT_THROW(other.merge_state({4.0, 1.0}), ValueError);  // truncated state
}

TEST(MetricsMerge, RegressionUsesChansMerge) {
  manual_seed(2);
  RegressionMetrics all, first, second;
  for (int b = 0; b < 5; ++b) {
    Tensor out = randn({9, 2});
    Tensor target = randn({9, 2}) * 3.0 + 10.0;
    all.update(out, target, 1.0 + b);
    (b < 2 ? first : second).update(out, target, 1.0 + b);
  }
  first.merge_state(second.state());
  const Metrics a = all.compute(), m = first.compute();
  EXPECT_EQ(a.count, m.count);
  EXPECT_NEAR(a.r2, m.r2, 1e-9);
  EXPECT_NEAR(a.mse, m.mse, 1e-9);
  EXPECT_NEAR(a.mae, m.mae, 1e-9);
  EXPECT_NEAR(a.loss, m.loss, 1e-12);
}

TEST(MetricsMerge, MultiLabel) {
  manual_seed(3);
  MultiLabelMetrics all, first, second;
  for (int b = 0; b < 4; ++b) {
    Tensor logits = randn({6, 4});
    Tensor target = (randn({6, 4}) > 0.0).to(kFloat);
    all.update(logits, target, 0.5);
    (b == 3 ? second : first).update(logits, target, 0.5);
  }
  second.merge_state(first.state());
  expect_same(second.compute(), all.compute());
}

}  // namespace
