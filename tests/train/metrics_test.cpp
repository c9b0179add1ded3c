// Streaming metrics against numbers computed in PyTorch with sklearn's formulas
// (precision_recall_fscore_support(labels=range(C), zero_division=0), top_k_accuracy_score,
// mean_squared_error, mean_absolute_error, r2_score with uniform averaging over outputs).
#include <gtest/gtest.h>

#include <cmath>

#include "cnnkit/cnnkit.h"
#include "cnnkit/train/metrics.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::contains;
using cnnkit::test::lit;
using cnnkit::test::message_of;

namespace {

// torch.manual_seed(3); x = torch.randn(8, 4) rounded to 4 decimals; y = [0,1,2,0,1,2,0,1]
Tensor logits8x4() {
  return lit({-0.0766f, 0.3599f, -0.782f, 0.0715f, 0.6648f, -0.2868f, 1.6206f, -1.5967f, -0.0517f, -0.306f, 0.2485f,
              -0.2226f, 0.9132f, 0.2043f, 0.574f, 0.4163f, 0.2615f, 0.9311f, -0.5145f, -1.6517f, 1.046f, 0.5222f,
              -0.1668f, 0.053f, 0.5638f, 2.2566f, 1.8693f, -1.1952f, 0.9979f, 0.4592f, 2.4364f, -0.1468f},
             {8, 4});
}
Tensor targets8() { return tensor({0, 1, 2, 0, 1, 2, 0, 1}); }

}  // namespace

TEST(ClassificationMetrics, MatchesSklearnFormulas) {
  // pred = x.argmax(1) = [1, 2, 2, 0, 1, 0, 1, 2]; class 3 never occurs nor is predicted.
  train::ClassificationMetrics cm(4, 3);
  cm.update(logits8x4(), targets8(), 0.5);
  train::Metrics m = cm.compute();
  EXPECT_EQ(m.count, 8);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.375);
  EXPECT_EQ(m.top_k, 3);
  EXPECT_DOUBLE_EQ(m.top_k_accuracy, 0.875);
  EXPECT_EQ(m.confusion, (std::vector<int64_t>{1, 2, 0, 0, 0, 1, 2, 0, 1, 0, 1, 0, 0, 0, 0, 0}));
  const std::vector<double> p = {0.5, 1.0 / 3, 1.0 / 3, 0.0}, r = {1.0 / 3, 1.0 / 3, 0.5, 0.0},
                            f = {0.4, 1.0 / 3, 0.4, 0.0};
  for (size_t c = 0; c < 4; ++c) {
    EXPECT_NEAR(m.precision[c], p[c], 1e-12) << c;
    EXPECT_NEAR(m.recall[c], r[c], 1e-12) << c;
    EXPECT_NEAR(m.f1[c], f[c], 1e-12) << c;
  }
  EXPECT_EQ(m.support, (std::vector<int64_t>{3, 3, 2, 0}));
  EXPECT_NEAR(m.macro_precision, 0.29166666666666663, 1e-12);
  EXPECT_NEAR(m.macro_recall, 0.29166666666666663, 1e-12);
  EXPECT_NEAR(m.macro_f1, 0.2833333333333333, 1e-12);
  EXPECT_DOUBLE_EQ(m.loss, 0.5);
}

TEST(ClassificationMetrics, StreamingEqualsOneBatchAndWeightsLossBySize) {
  Tensor x = logits8x4(), y = targets8();
  train::ClassificationMetrics one(4, 2), two(4, 2);
  one.update(x, y, 1.0);
  two.update(x.slice(0, 0, 6), y.slice(0, 0, 6), 2.0);  // 6 examples at 2.0
  two.update(x.slice(0, 6, 8), y.slice(0, 6, 8), 4.0);  // 2 examples at 4.0
  train::Metrics a = one.compute(), b = two.compute();
  EXPECT_EQ(a.confusion, b.confusion);
  EXPECT_DOUBLE_EQ(a.accuracy, b.accuracy);
  EXPECT_DOUBLE_EQ(a.top_k_accuracy, 0.375);  // torch: top-2 = 0.375
  EXPECT_DOUBLE_EQ(b.loss, (6 * 2.0 + 2 * 4.0) / 8);
  EXPECT_DOUBLE_EQ(two.running_accuracy(), 0.375);
  two.reset();
  EXPECT_EQ(two.count(), 0);
  EXPECT_TRUE(std::isnan(two.compute().accuracy));
}

TEST(ClassificationMetrics, NumClassesFromLogitsAndProbabilityTargets) {
  train::ClassificationMetrics cm(0, 1);
  Tensor onehot = zeros({8, 4});
  std::vector<int64_t> y = {0, 1, 2, 0, 1, 2, 0, 1};
  for (int i = 0; i < 8; ++i) onehot.data_ptr<float>()[i * 4 + y[i]] = 1.0f;
  cm.update(logits8x4(), onehot);
  train::Metrics m = cm.compute();
  EXPECT_EQ(m.num_classes, 4);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.375);
  EXPECT_TRUE(std::isnan(m.loss));  // no loss given
  EXPECT_EQ(m.scalars().count("loss"), 0u);
  EXPECT_EQ(m.scalars().count("top1_accuracy"), 0u);
}

TEST(ClassificationMetrics, BinaryFromOneLogit) {
  train::ClassificationMetrics cm;
  cm.update(lit({2.0f, -1.0f, 0.5f, -0.2f}, {4, 1}), lit({1, 0, 0, 1}, {4, 1}));
  train::Metrics m = cm.compute();
  EXPECT_EQ(m.num_classes, 2);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
  EXPECT_EQ(m.confusion, (std::vector<int64_t>{1, 1, 1, 1}));
}

TEST(ClassificationMetrics, ErrorsNameShapesAndTargets) {
  train::ClassificationMetrics cm(10);
  EXPECT_THROW(cm.update(zeros({4, 5}), tensor({0, 1, 2, 3})), ShapeError);
  EXPECT_TRUE(contains(message_of([&] { cm.update(zeros({4, 5}), tensor({0, 1, 2, 3})); }), "expected 10"));
  train::ClassificationMetrics c4(4);
  EXPECT_THROW(c4.update(zeros({4, 4}), tensor({0, 1})), ShapeError);
  EXPECT_THROW(c4.update(zeros({2, 4}), tensor({0, 4})), ValueError);
  EXPECT_TRUE(contains(message_of([&] { c4.update(zeros({2, 4}), tensor({0, 7})); }), "target 7 at index 1"));
  EXPECT_THROW(train::ClassificationMetrics(-1), ValueError);
  EXPECT_THROW(train::ClassificationMetrics(3, 0), ValueError);
}

TEST(ClassificationMetrics, NanLossMakesRunningLossNan) {
  train::ClassificationMetrics cm(4);
  cm.update(logits8x4(), targets8(), 1.0);
  cm.update(logits8x4(), targets8(), std::nan(""));
  EXPECT_TRUE(std::isnan(cm.running_loss()));
  auto s = cm.compute().scalars();
  ASSERT_EQ(s.count("loss"), 1u);  // kept, so logs show the NaN
  EXPECT_TRUE(std::isnan(s.at("loss")));
  EXPECT_EQ(s.count("top5_accuracy"), 0u);  // top-5 of 4 classes is always 1: not reported
  EXPECT_EQ(s.count("top4_accuracy"), 0u);
}

TEST(ClassificationMetrics, PrintsConfusionMatrixAndReport) {
  train::ClassificationMetrics cm(4, 3);
  cm.update(logits8x4(), targets8(), 0.5);
  train::Metrics m = cm.compute();
  std::string s = m.confusion_matrix_string({"cat", "dog", "bird", "fish"});
  EXPECT_TRUE(contains(s, "predicted")) << s;
  EXPECT_TRUE(contains(s, " cat | 1 2 0 0")) << s;
  EXPECT_TRUE(contains(s, "fish | 0 0 0 0")) << s;
  std::string r = m.report();
  EXPECT_TRUE(contains(r, "macro avg")) << r;
  EXPECT_TRUE(contains(r, "0.2833")) << r;
}

TEST(RegressionMetrics, MatchesSklearnFormulas) {
  // yt, yp below; torch: mse 0.35, mae 0.5, r2 per output [0.75, 0.87951807], mean 0.81475904
  Tensor yt = lit({1, 2, 2, -1, 3, 0.5f, 4, 2.5f, 5, 0}, {5, 2});
  Tensor yp = lit({1.5f, 2, 1, -0.5f, 3.5f, 0, 4, 3, 4, 0.5f}, {5, 2});
  train::RegressionMetrics rm;
  rm.update(yp.slice(0, 0, 2), yt.slice(0, 0, 2), 0.1);
  rm.update(yp.slice(0, 2, 5), yt.slice(0, 2, 5), 0.2);
  train::Metrics m = rm.compute();
  EXPECT_EQ(m.count, 5);
  EXPECT_NEAR(m.mse, 0.35, 1e-12);
  EXPECT_NEAR(m.mae, 0.5, 1e-12);
  EXPECT_NEAR(m.r2, (0.75 + 0.8795180722891566) / 2, 1e-12);
  EXPECT_NEAR(m.loss, (2 * 0.1 + 3 * 0.2) / 5, 1e-12);
  EXPECT_EQ(m.scalars().count("r2"), 1u);
  EXPECT_EQ(m.scalars().count("accuracy"), 0u);
}

TEST(RegressionMetrics, ConstantTargetsFollowForceFinite) {
  train::RegressionMetrics exact, off;
  exact.update(lit({2, 2, 2}, {3}), lit({2, 2, 2}, {3}));
  off.update(lit({2, 2, 3}, {3}), lit({2, 2, 2}, {3}));
  EXPECT_DOUBLE_EQ(exact.compute().r2, 1.0);
  EXPECT_DOUBLE_EQ(off.compute().r2, 0.0);
}

TEST(RegressionMetrics, ShapeMismatchIsShapeError) {
  train::RegressionMetrics rm;
  EXPECT_THROW(rm.update(zeros({4, 2}), zeros({4, 3})), ShapeError);
  rm.update(zeros({4, 1}), zeros({4}));  // (N, 1) output for (N) targets is fine
  EXPECT_THROW(rm.update(zeros({4, 2}), zeros({4, 2})), ShapeError);  // outputs per example changed
}

TEST(RegressionMetrics, ReportPrintsMseMaeAndR2) {
  train::RegressionMetrics rm;
  rm.update(lit({1.5f, 2, 3}, {3}), lit({1, 2, 4}, {3}), 0.25);
  const std::string r = rm.compute().report();
  // sklearn 1.2.1: mean_squared_error / mean_absolute_error / r2_score([1, 2, 4], [1.5, 2, 3])
  //   = 0.4166666666666667, 0.5, 0.7321428571428571
  EXPECT_TRUE(contains(r, "mse      0.416667")) << r;
  EXPECT_TRUE(contains(r, "mae      0.500000")) << r;
  EXPECT_TRUE(contains(r, "r2       0.732143")) << r;
  EXPECT_TRUE(contains(r, "loss     0.250000")) << r;
}

namespace {

// Multi-label logits (6, 4) and 0/1 targets; label 3 is never true (and once predicted).
Tensor ml_logits() {
  return lit({1.2f, -0.3f, 0.5f, -2.0f, -0.7f, 0.8f, -0.1f, -1.5f, 0.3f, 0.4f, 2.1f, -0.2f,
              -1.1f, 0.6f, -0.4f, 0.9f, 0.9f, -1.3f, -0.2f, -0.8f, -0.2f, 1.7f, -0.5f, -1.1f},
             {6, 4});
}
Tensor ml_targets() {
  return lit({1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0}, {6, 4});
}

}  // namespace

TEST(MultiLabelMetrics, MatchesSklearn) {
  // sklearn 1.2.1, logits and y as ml_logits()/ml_targets() (numpy), pred = (logits > 0):
  //   precision_recall_fscore_support(y, pred, average=None, zero_division=0)
  //   precision_recall_fscore_support(y, pred, average='micro' / 'macro', zero_division=0)
  //   accuracy_score(y, pred), hamming_loss(y, pred)
  train::MultiLabelMetrics ml;
  ml.update(ml_logits().slice(0, 0, 4), ml_targets().slice(0, 0, 4), 0.5);  // streamed in two batches
  ml.update(ml_logits().slice(0, 4, 6), ml_targets().slice(0, 4, 6), 0.8);
  const train::Metrics m = ml.compute();
  EXPECT_EQ(m.task, train::Task::kMultiLabel);
  EXPECT_EQ(m.count, 6);
  EXPECT_EQ(m.num_classes, 4);
  const std::vector<double> p = {1.0, 0.5, 1.0, 0.0}, r = {1.0, 0.6666666666666666, 0.6666666666666666, 0.0},
                            f = {1.0, 0.5714285714285715, 0.8, 0.0};
  for (size_t j = 0; j < 4; ++j) {
    EXPECT_NEAR(m.precision[j], p[j], 1e-12) << j;
    EXPECT_NEAR(m.recall[j], r[j], 1e-12) << j;
    EXPECT_NEAR(m.f1[j], f[j], 1e-12) << j;
  }
  EXPECT_EQ(m.support, (std::vector<int64_t>{3, 3, 3, 0}));
  EXPECT_NEAR(m.micro_precision, 0.7, 1e-12);
  EXPECT_NEAR(m.micro_recall, 0.7777777777777778, 1e-12);
  EXPECT_NEAR(m.micro_f1, 0.7368421052631577, 1e-12);
  EXPECT_NEAR(m.macro_precision, 0.625, 1e-12);
  EXPECT_NEAR(m.macro_recall, 0.5833333333333333, 1e-12);
  EXPECT_NEAR(m.macro_f1, 0.592857142857143, 1e-12);
  EXPECT_NEAR(m.subset_accuracy, 0.3333333333333333, 1e-12);
  EXPECT_NEAR(m.accuracy, m.subset_accuracy, 0);
  EXPECT_NEAR(m.hamming_loss, 0.20833333333333334, 1e-12);
  EXPECT_NEAR(m.loss, (4 * 0.5 + 2 * 0.8) / 6, 1e-12);

  const auto s = m.scalars();
  for (const char* k : {"loss", "micro_precision", "micro_recall", "micro_f1", "macro_precision", "macro_recall",
                        "macro_f1", "subset_accuracy", "hamming_loss"})
    EXPECT_EQ(s.count(k), 1u) << k;
  EXPECT_EQ(s.count("accuracy"), 0u);  // named subset_accuracy, so nobody reads it as per-label
  EXPECT_DOUBLE_EQ(s.at("micro_f1"), m.micro_f1);
}

TEST(MultiLabelMetrics, ReportHasAPerLabelTableAndTheAverages) {
  train::MultiLabelMetrics ml(4);
  ml.update(ml_logits(), ml_targets(), 0.5);
  const std::string r = ml.compute().report({"cat", "dog", "sun", "car"});
  EXPECT_TRUE(contains(r, "precision     recall   f1-score    support")) << r;
  EXPECT_TRUE(contains(r, "dog     0.5000     0.6667     0.5714          3")) << r;
  EXPECT_TRUE(contains(r, "car     0.0000     0.0000     0.0000          0")) << r;
  EXPECT_TRUE(contains(r, "micro avg     0.7000     0.7778     0.7368          9")) << r;
  EXPECT_TRUE(contains(r, "macro avg     0.6250     0.5833     0.5929          9")) << r;
  EXPECT_TRUE(contains(r, "subset accuracy     0.3333          6 examples")) << r;
  EXPECT_TRUE(contains(r, "hamming loss  0.2083")) << r;
}

TEST(MultiLabelMetrics, EdgeCasesAndErrors) {
  train::MultiLabelMetrics ml;
  EXPECT_TRUE(std::isnan(ml.compute().micro_f1));  // nothing seen: nothing reported
  EXPECT_EQ(ml.compute().scalars().size(), 0u);
  // A NaN logit predicts 0; int64 and smoothed targets are read as 0/1 (> 0.5).
  ml.update(lit({std::nanf(""), 1.0f}, {1, 2}), lit({0.05f, 0.95f}, {1, 2}));
  EXPECT_DOUBLE_EQ(ml.compute().subset_accuracy, 1.0);
  ml.update(lit({1.0f, 1.0f}, {1, 2}), tensor({int64_t{1}, int64_t{0}}).reshape({1, 2}));
  EXPECT_DOUBLE_EQ(ml.compute().hamming_loss, 0.25);
  EXPECT_THROW(ml.update(zeros({2, 3}), zeros({2, 3})), ShapeError);  // 3 labels after 2
  EXPECT_TRUE(contains(message_of([&] { ml.update(zeros({2, 2}), zeros({2})); }), "differ in shape"));
  EXPECT_THROW(ml.update(zeros({2}), zeros({2})), ShapeError);
  ml.reset();
  EXPECT_EQ(ml.count(), 0);
  ml.update(zeros({1, 2}), zeros({1, 2}));  // the label count survives reset()
  EXPECT_EQ(ml.compute().num_classes, 2);
  EXPECT_THROW(train::MultiLabelMetrics(-1), ValueError);
}
