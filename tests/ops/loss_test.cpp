// Loss ops (ops/loss.h): values and gradients against literals from PyTorch 1.13, shapes of
// kNone outputs, strided inputs, empty batches, and every error path with its message.
// Literals: x = seq(shape) (torch.sin(torch.arange(n, dtype=float64) * 0.7 + 0.3).float()),
// y = seq(shape, 0.3, 0.1); the torch snippet sits above each value.
#include "cnnkit/ops/loss.h"

#include <gtest/gtest.h>

#include <cmath>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/ops/ops.h"
#include "test_util.h"

using namespace cnnkit;
using test::contains;
using test::error_of;
using test::lit;
using test::seq;

namespace {

Tensor longs(std::vector<int64_t> shape, std::vector<int64_t> v) {
  Tensor t = cnnkit::empty(shape, kLong);
  for (size_t i = 0; i < v.size(); ++i) t.data_ptr<int64_t>()[i] = v[i];
  return t;
}

float value(const Tensor& t) { return t.data_ptr<float>()[0]; }

TEST(CrossEntropy, ValueAndGradientMatchTorch) {
  // x = seq((4, 5)).requires_grad_(); F.cross_entropy(x, torch.tensor([1, 0, 4, 2])).backward()
  Tensor x = seq({4, 5});
  x.set_requires_grad(true);
  Tensor loss = cross_entropy_loss(x, longs({4}, {1, 0, 4, 2}));
  EXPECT_EQ(loss.dim(), 0);
  EXPECT_NEAR(value(loss), 2.002558708190918, 1e-6);
  loss.backward();
  EXPECT_TRUE(test::allclose(
      x.grad(),
      {0.03586701676249504f, -0.18808460235595703f, 0.07194937765598297f, 0.05244479328393936f, 0.027823431417346f,
       -0.20995137095451355f, 0.027782943099737167f, 0.030523518100380898f, 0.0508091077208519f,
       0.10083581507205963f, 0.06859278678894043f, 0.07881544530391693f, 0.056867264211177826f,
       0.030039893463253975f, -0.23431538045406342f, 0.017892083153128624f, 0.019882552325725555f,
       -0.21664974093437195f, 0.06620586663484573f, 0.11266924440860748f},
      1e-5, 1e-7, "grad"));
}

TEST(CrossEntropy, WeightsIgnoreIndexAndLabelSmoothingMatchTorch) {
  // w = torch.tensor([0.5, 1.5, 1.0, 2.0, 0.7]); t = torch.tensor([1, -100, 4, 2])
  // F.cross_entropy(seq((4, 5)), t, weight=w, label_smoothing=0.1)  (and reduction='none')
  const Tensor w = lit({0.5f, 1.5f, 1.0f, 2.0f, 0.7f}, {5});
  const Tensor t = longs({4}, {1, -100, 4, 2});
  EXPECT_NEAR(value(cross_entropy_loss(seq({4, 5}), t, w, Reduction::Mean, -100, 0.1)), 1.8839020729064941, 1e-5);
  Tensor none = cross_entropy_loss(seq({4, 5}), t, w, Reduction::None, -100, 0.1);
  EXPECT_TRUE(test::allclose(none, {2.0635876655578613f, 0.0f, 1.9450302124023438f, 2.019869089126587f}, 1e-5,
                             1e-6, "none"));
}

TEST(CrossEntropy, NoneKeepsTheTargetShape) {
  EXPECT_EQ(cross_entropy_loss(seq({2, 4, 3, 5}), cnnkit::zeros({2, 3, 5}, kLong), {}, Reduction::None).sizes(),
            IntArrayRef({2, 3, 5}));
  EXPECT_EQ(cross_entropy_loss(seq({2, 4, 3, 5}), seq({2, 4, 3, 5}), {}, Reduction::None).sizes(),
            IntArrayRef({2, 3, 5}));
  // unbatched (C) with a 0-dim target
  EXPECT_EQ(cross_entropy_loss(seq({7}), longs({}, {3}), {}, Reduction::None).dim(), 0);
}

TEST(CrossEntropy, StridedInputGivesTheSameLossAndGradient) {
  Tensor base = seq({5, 4});
  base.set_requires_grad(true);
  Tensor xt = base.t();  // (4, 5), not contiguous
  ASSERT_FALSE(xt.is_contiguous());
  const Tensor t = longs({4}, {1, 0, 4, 2});
  Tensor a = cross_entropy_loss(xt, t);
  a.backward();
  Tensor xc = xt.detach().contiguous();
  xc.set_requires_grad(true);
  Tensor b = cross_entropy_loss(xc, t);
  b.backward();
  EXPECT_FLOAT_EQ(value(a), value(b));
  EXPECT_TRUE(test::allclose(base.grad().t(), xc.grad(), 0, 0, "grad"));
}

TEST(CrossEntropy, EmptyBatchIsNanForMeanAndZeroForSum) {
  // F.cross_entropy(torch.zeros(0, 10), torch.zeros(0, dtype=torch.long)) -> nan; 'sum' -> 0
  EXPECT_TRUE(std::isnan(value(cross_entropy_loss(cnnkit::zeros({0, 10}), cnnkit::zeros({0}, kLong)))));
  Tensor x = cnnkit::zeros({0, 10});
  x.set_requires_grad(true);
  Tensor s = cross_entropy_loss(x, cnnkit::zeros({0}, kLong), {}, Reduction::Sum);
  EXPECT_EQ(value(s), 0.0f);
  s.backward();
  EXPECT_EQ(x.grad().numel(), 0);
}

TEST(CrossEntropy, MinusInfLogitIsFineAndNanPropagates) {
  // F.cross_entropy(torch.tensor([[0., -inf, 1.], [nan, 0., 0.]]), torch.tensor([0, 1]), reduction='none')
  //   -> [1.3132617, nan]
  Tensor l = cross_entropy_loss(lit({0, -INFINITY, 1, NAN, 0, 0}, {2, 3}), longs({2}, {0, 1}), {}, Reduction::None);
  EXPECT_NEAR(l.to_vector()[0], 1.3132617, 1e-6);
  EXPECT_TRUE(std::isnan(l.to_vector()[1]));
}

TEST(CrossEntropy, NoGraphWithoutGrad) {
  Tensor x = seq({4, 5});
  x.set_requires_grad(true);
  NoGradGuard guard;
  EXPECT_FALSE(cross_entropy_loss(x, longs({4}, {1, 0, 4, 2})).requires_grad());
}

TEST(CrossEntropy, BadShapesAreShapeErrors) {
  const Tensor x = cnnkit::zeros({64, 10});
  EXPECT_EQ(error_of([&] { cross_entropy_loss(x, cnnkit::zeros({64, 3}, kLong)); }),
            "cross_entropy: expected target of shape [64] for input [64, 10], got [64, 3]");
  EXPECT_THROW(cross_entropy_loss(x, cnnkit::zeros({64, 3}, kLong)), ShapeError);
  EXPECT_THROW(cross_entropy_loss(x, cnnkit::zeros({32}, kLong)), ShapeError);
  EXPECT_THROW(cross_entropy_loss(x, cnnkit::zeros({64, 3})), ShapeError);  // float, neither shape
  EXPECT_THROW(cross_entropy_loss(cnnkit::zeros({}), cnnkit::zeros({}, kLong)), ShapeError);
}

TEST(CrossEntropy, OutOfRangeTargetNamesValueClassesAndIndex) {
  const Tensor t = longs({8}, {0, 1, 2, 3, 4, 12, 6, 7});
  EXPECT_EQ(error_of([&] { cross_entropy_loss(cnnkit::zeros({8, 10}), t); }),
            "cross_entropy: target 12 is out of range for 10 classes (at index 5)");
  EXPECT_THROW(cross_entropy_loss(cnnkit::zeros({8, 10}), t), ValueError);
  EXPECT_THROW(cross_entropy_loss(cnnkit::zeros({8, 10}), longs({8}, {0, -1, 0, 0, 0, 0, 0, 0})), ValueError);
  // multi-dim targets name the position
  Tensor t2 = cnnkit::zeros({2, 2, 2}, kLong);
  t2.data_ptr<int64_t>()[5] = 4;
  EXPECT_TRUE(contains(error_of([&] { cross_entropy_loss(cnnkit::zeros({2, 4, 2, 2}), t2); }),
                       "target 4 is out of range for 4 classes (at index [1, 0, 1])"));
  // ignore_index is exempt, even outside [0, C)
  EXPECT_NO_THROW(cross_entropy_loss(cnnkit::zeros({8, 10}), t, {}, Reduction::Mean, 12));
}

TEST(CrossEntropy, WrongDtypesAreTypeErrors) {
  EXPECT_TRUE(contains(error_of([] { cross_entropy_loss(cnnkit::zeros({64, 10}), cnnkit::zeros({64})); }),
                       "class-index targets must be int64, got float32"));
  EXPECT_THROW(cross_entropy_loss(cnnkit::zeros({64, 10}), cnnkit::zeros({64})), TypeError);
  EXPECT_THROW(cross_entropy_loss(cnnkit::zeros({4, 10}), cnnkit::zeros({4}, kByte)), TypeError);
  EXPECT_THROW(cross_entropy_loss(cnnkit::zeros({4, 10}, kLong), cnnkit::zeros({4}, kLong)), TypeError);
}

TEST(CrossEntropy, BadOptionsAreErrors) {
  const Tensor x = cnnkit::zeros({4, 10}), t = cnnkit::zeros({4}, kLong);
  EXPECT_EQ(error_of([&] { cross_entropy_loss(x, t, cnnkit::ones({3})); }),
            "cross_entropy: expected weight of shape [10] (one value per class), got [3]");
  EXPECT_THROW(cross_entropy_loss(x, t, cnnkit::ones({3})), ShapeError);
  EXPECT_THROW(cross_entropy_loss(x, t, cnnkit::ones({10}, kLong)), TypeError);
  EXPECT_THROW(cross_entropy_loss(x, t, {}, Reduction::Mean, -100, 1.5), ValueError);
  EXPECT_THROW(cross_entropy_loss(x, t, {}, 7), ValueError);
  EXPECT_THROW(cross_entropy_loss(x, cnnkit::zeros({4, 10}), {}, Reduction::Mean, 0), ValueError);
}

TEST(NllLoss, ValueMatchesTorchAndAllIgnoredIsNan) {
  // F.nll_loss(seq((3, 4)), torch.tensor([3, 0, -100]))
  EXPECT_NEAR(value(nll_loss(seq({3, 4}), longs({3}, {3, 0, -100}))), -0.3585219383239746, 1e-6);
  // every target ignored: 0 / 0, as torch
  Tensor x = seq({3, 4});
  x.set_requires_grad(true);
  Tensor l = nll_loss(x, longs({3}, {-100, -100, -100}));
  EXPECT_TRUE(std::isnan(value(l)));
  l.backward();
  EXPECT_TRUE(test::allclose(x.grad(), std::vector<float>(12, 0.0f), 0, 0, "grad"));
  EXPECT_THROW(nll_loss(x, longs({3}, {0, 4, 0})), ValueError);
}

TEST(RegressionLosses, ValuesMatchTorch) {
  const Tensor x = seq({3, 4}), y = seq({3, 4}, 0.3, 0.1);
  // F.mse_loss(x, y); F.huber_loss(x, y, delta=0.5, reduction='sum'); F.smooth_l1_loss(x, y, beta=0.25)
  EXPECT_NEAR(value(mse_loss(x, y)), 1.1292943954467773, 1e-6);
  EXPECT_NEAR(value(huber_loss(x, y, Reduction::Sum, 0.5)), 3.908383369445801, 1e-5);
  EXPECT_NEAR(value(smooth_l1_loss(x, y, Reduction::Mean, 0.25)), 0.74854975938797, 1e-6);
}

TEST(RegressionLosses, TargetGradientIsMinusInputGradient) {
  Tensor x = seq({3, 4}), y = seq({3, 4}, 0.3, 0.1);
  x.set_requires_grad(true);
  y.set_requires_grad(true);
  mse_loss(x, y, Reduction::Sum).backward();
  EXPECT_TRUE(test::allclose(y.grad(), -x.grad(), 0, 0, "dy"));
}

TEST(RegressionLosses, BadInputsAreErrors) {
  EXPECT_EQ(error_of([] { mse_loss(cnnkit::zeros({3, 4}), cnnkit::zeros({4, 3})); }),
            "mse_loss: expected target of the input's shape [3, 4], got [4, 3]");
  EXPECT_THROW(l1_loss(cnnkit::zeros({3, 4}), cnnkit::zeros({4})), ShapeError);
  EXPECT_THROW(mse_loss(cnnkit::zeros({3}, kLong), cnnkit::zeros({3}, kLong)), TypeError);
  EXPECT_THROW(smooth_l1_loss(cnnkit::zeros({3}), cnnkit::zeros({3}), Reduction::Mean, -1.0), ValueError);
  EXPECT_THROW(huber_loss(cnnkit::zeros({3}), cnnkit::zeros({3}), Reduction::Mean, 0.0), ValueError);
  EXPECT_THROW(mse_loss(cnnkit::zeros({3}), cnnkit::zeros({3}), -1), ValueError);
  EXPECT_THROW(mse_loss(Tensor(), cnnkit::zeros({3})), ValueError);
}

TEST(BinaryCrossEntropy, ValuesMatchTorch) {
  const Tensor x = seq({3, 4}), y = seq({3, 4}, 0.3, 0.1);
  const Tensor t = (y + 1.0) / 2.0;
  // F.binary_cross_entropy(torch.sigmoid(x), (y + 1) / 2, weight=torch.tensor([1., 2., 3., 0.5]))
  EXPECT_NEAR(value(binary_cross_entropy(cnnkit::sigmoid(x), t, lit({1, 2, 3, 0.5f}, {4}))), 1.3052314519882202,
              1e-5);
  // F.binary_cross_entropy_with_logits(x * 3, (y + 1) / 2, pos_weight=torch.tensor([1., 2., 3., 0.5]))
  EXPECT_NEAR(value(binary_cross_entropy_with_logits(x * 3.0, t, {}, lit({1, 2, 3, 0.5f}, {4}))),
              1.8672232627868652, 1e-5);
  // F.multilabel_soft_margin_loss(x, (y > 0).float(), reduction='none')
  EXPECT_TRUE(test::allclose(multilabel_soft_margin_loss(x, (y > 0.0).to(kFloat), {}, Reduction::None),
                             {0.4103988707065582f, 1.061009168624878f, 0.7770362496376038f}, 1e-5, 1e-6, "mlsm"));
}

TEST(BinaryCrossEntropy, LogitsStayFiniteForHugeLogits) {
  Tensor x = lit({100.0f, -100.0f, 80.0f}, {3});
  x.set_requires_grad(true);
  Tensor l = binary_cross_entropy_with_logits(x, lit({0, 1, 1}, {3}), {}, {}, Reduction::Sum);
  EXPECT_NEAR(value(l), 200.0, 1e-4);
  l.backward();
  EXPECT_TRUE(test::allclose(x.grad(), {1.0f, -1.0f, 0.0f}, 0, 1e-6, "grad"));
}

TEST(BinaryCrossEntropy, BadInputsAreErrors) {
  EXPECT_EQ(error_of([] { binary_cross_entropy(lit({0.5f, 1.5f}, {2}), lit({0, 1}, {2})); }),
            "binary_cross_entropy: all elements of input should be between 0 and 1, got 1.5 at index 1 (apply "
            "sigmoid first, or use binary_cross_entropy_with_logits on the logits)");
  EXPECT_THROW(binary_cross_entropy(lit({NAN}, {1}), lit({0}, {1})), ValueError);
  EXPECT_THROW(binary_cross_entropy(lit({0.5f, 0.5f}, {2}), lit({0, 1}, {2}), cnnkit::ones({3})), ShapeError);
  EXPECT_THROW(binary_cross_entropy_with_logits(cnnkit::zeros({2, 3}), cnnkit::zeros({2, 3}), {}, cnnkit::ones({2})),
               ShapeError);
  EXPECT_THROW(binary_cross_entropy_with_logits(cnnkit::zeros({2, 3}), cnnkit::zeros({3})), ShapeError);
  EXPECT_THROW(multilabel_soft_margin_loss(cnnkit::zeros({}), cnnkit::zeros({})), ShapeError);
}

}  // namespace
