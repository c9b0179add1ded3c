// The backward engine (src/autograd/engine.cpp) driven through real ops: accumulation
// across backward calls, retain_graph, diamonds, grad mode, detach, requires_grad
// propagation, seeds for non-scalar roots, autograd::grad, and a custom Swish layer
// (x * sigmoid(x)) trained for a few steps. Literals come from PyTorch 1.13; inputs are
// seq(sizes): x_i = sin(0.7 i + 0.3) (torch: the same formula in float64, then .float()).
#include <gtest/gtest.h>

#include <cmath>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/ops/activation.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/linalg.h"
#include "cnnkit/ops/reduce.h"
#include "cnnkit/ops/shape.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::allclose;
using cnnkit::test::seq;
using cnnkit::test::lit;

namespace {


// A user-defined layer written as a composition of differentiable ops (STYLE.md rule 5).
Tensor swish(const Tensor& x) { return x * sigmoid(x); }

}  // namespace

TEST(Engine, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = seq({2, 3}).requires_grad_();
  sum(x * x).backward();
  sum(x * 3.0).backward();
  // d/dx (x^2) + d/dx (3x) = 2x + 3
  std::vector<float> xv = x.to_vector(), want;
  for (float v : xv) want.push_back(2 * v + 3);
  EXPECT_TRUE(allclose(x.grad(), want, 1e-6, 1e-6));
  x.mutable_grad() = Tensor();  // zero_grad(set_to_none=true)
  sum(x).backward();
  EXPECT_TRUE(allclose(x.grad(), {1, 1, 1, 1, 1, 1}, 0, 0));
}

TEST(Engine, RetainGraphAllowsASecondBackwardAndItsAbsenceThrows) {
  Tensor x = seq({3}).requires_grad_();
  Tensor y = sum(x * x);
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();  // allowed: the first call kept the graph
  std::vector<float> want;
  for (float v : x.to_vector()) want.push_back(4 * v);  // 2x, twice
  EXPECT_TRUE(allclose(x.grad(), want, 1e-6, 1e-6));
  EXPECT_THROW(y.backward(), Error);  // the second call freed it
  std::string msg;
  try {
    y.backward();
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("Trying to backward through the graph a second time"), std::string::npos) << msg;
}

TEST(Engine, DiamondGraphSumsBothPaths) {
  // torch: x = seq(2,3); torch.matmul(x, x.t()).sum().backward()
  Tensor x = seq({2, 3}).requires_grad_();
  matmul(x, x.t()).sum().backward();
  EXPECT_TRUE(allclose(x.grad(), {1.9419668f, 1.7661033f, 0.75961387f, 1.9419668f, 1.7661033f, 0.75961387f}, 1e-5,
                       1e-6));
  // The same tensor twice in one op: x * x.
  Tensor z = lit({1, -2}, {2}).requires_grad_();
  sum(z * z).backward();
  EXPECT_TRUE(allclose(z.grad(), {2, -4}, 0, 0));
}

TEST(Engine, NoGradGuardStopsRecordingAndRestores) {
  Tensor x = seq({3}).requires_grad_();
  {
    NoGradGuard guard;
    EXPECT_FALSE(autograd::GradMode::is_enabled());
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
    EXPECT_THROW(sum(y).backward(), Error);
    {
      AutoGradMode enable(true);
      EXPECT_TRUE((x * 2.0).requires_grad());
    }
    EXPECT_FALSE(autograd::GradMode::is_enabled());
  }
  EXPECT_TRUE(autograd::GradMode::is_enabled());
  EXPECT_TRUE((x * 2.0).requires_grad());
}

TEST(Engine, DetachSharesStorageAndBlocksGradient) {
  Tensor x = seq({3}).requires_grad_();
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.data_ptr(), x.data_ptr());
  sum(x * d).backward();  // d is a constant: grad = d, not 2x
  EXPECT_TRUE(allclose(x.grad(), x.to_vector(), 0, 0));
  Tensor y = x * 2.0;
  y.detach_();
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(y.is_leaf());
}

TEST(Engine, RequiresGradPropagatesThroughOps) {
  Tensor x = seq({2, 3}).requires_grad_(), c = seq({2, 3});
  EXPECT_TRUE(x.is_leaf());
  Tensor y = x.sum(1);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(y.is_leaf());
  ASSERT_NE(y.grad_fn(), nullptr);
  EXPECT_EQ(y.grad_fn()->name(), "SumBackward");
  EXPECT_FALSE(c.sum().requires_grad());
  EXPECT_TRUE((c + x).requires_grad());
  EXPECT_FALSE(x.argmax().requires_grad());  // integer outputs never require grad
  EXPECT_THROW(cnnkit::empty({2}, kLong).requires_grad_(), TypeError);
  EXPECT_THROW(y.set_requires_grad(false), ValueError);
}

TEST(Engine, NonScalarBackwardNeedsAMatchingGradient) {
  Tensor x = seq({2, 3}).requires_grad_();
  Tensor y = x * 2.0;
  EXPECT_THROW(y.backward(), ShapeError);
  EXPECT_THROW(y.backward(seq({3, 2})), ShapeError);
  y.backward(seq({2, 3}, 0.5));
  std::vector<float> want;
  for (float v : seq({2, 3}, 0.5).to_vector()) want.push_back(2 * v);
  EXPECT_TRUE(allclose(x.grad(), want, 1e-6, 1e-7));
  EXPECT_THROW(seq({1}).backward(), ValueError);  // nothing requires grad
}

TEST(Engine, AutogradGradDoesNotTouchDotGrad) {
  Tensor x = seq({3}).requires_grad_(), w = seq({3}, 0.5).requires_grad_(), unused = seq({2}).requires_grad_();
  Tensor y = sum(x * w);
  TensorList g = autograd::grad({y}, {x}, {}, /*retain_graph=*/true);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_TRUE(allclose(g[0], w.to_vector(), 0, 0));
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
  EXPECT_THROW(autograd::grad({y}, {unused}, {}, true), ValueError);
  TensorList u = autograd::grad({y}, {unused, w}, {}, true, false, /*allow_unused=*/true);
  EXPECT_FALSE(u[0].defined());
  EXPECT_TRUE(allclose(u[1], x.to_vector(), 0, 0));
  // create_graph=true: dy/dx = w, itself differentiable (tests/autograd/double_backward_test.cpp).
  TensorList gg = autograd::grad({y}, {x}, {}, true, /*create_graph=*/true);
  EXPECT_TRUE(gg[0].requires_grad());
  EXPECT_TRUE(allclose(autograd::grad({sum(gg[0])}, {w})[0], {1.0f, 1.0f, 1.0f}, 0, 0));
  // A non-leaf input: the gradient reaching it.
  Tensor h = x * 2.0;
  Tensor z = sum(h * h);
  TensorList gh = autograd::grad({z}, {h});
  std::vector<float> want;
  for (float v : h.to_vector()) want.push_back(2 * v);
  EXPECT_TRUE(allclose(gh[0], want, 1e-6, 1e-7));
  EXPECT_FALSE(x.grad().defined());
}

TEST(Engine, SwishGradientMatchesTorch) {
  // torch: x = seq(5); s = x * torch.sigmoid(x); s.backward(seq(5,a=0.9))
  Tensor x = seq({5}).requires_grad_();
  Tensor s = swish(x);
  EXPECT_TRUE(allclose(s, {0.16943564f, 0.58799881f, 0.72333688f, 0.44764662f, 0.021222508f}, 1e-6, 1e-7));
  s.backward(seq({5}, 0.9));
  EXPECT_TRUE(allclose(x.grad(), {0.19079885f, 0.81636828f, 0.79858917f, 0.11483008f, -0.35817784f}, 1e-5, 1e-7));
}

TEST(Engine, CustomSwishLayerTrainsAndLossDecreases) {
  // y = swish(x W^T + b) fitted with plain SGD to the outputs of a teacher layer.
  Tensor x = seq({16, 4}, 0.37);
  Tensor target = swish(linear(x, seq({3, 4}, 1.3).mul(2.0), seq({3}, 0.4)));
  Tensor W = seq({3, 4}, 0.5).mul(0.1).detach().requires_grad_();
  Tensor b = cnnkit::empty({3});
  std::fill(b.data_ptr<float>(), b.data_ptr<float>() + 3, 0.0f);
  b.requires_grad_();
  std::vector<float> losses;
  for (int step = 0; step < 30; ++step) {
    Tensor diff = swish(linear(x, W, b)) - target;
    Tensor loss = mean(diff * diff);
    losses.push_back(loss.item<float>());
    W.mutable_grad() = Tensor();
    b.mutable_grad() = Tensor();
    loss.backward();
    NoGradGuard no_grad;
    W.sub_(W.grad(), 0.5);
    b.sub_(b.grad(), 0.5);
  }
  for (size_t i = 1; i < losses.size(); ++i) EXPECT_LT(losses[i], losses[i - 1]) << "step " << i;
  EXPECT_LT(losses.back(), 0.7f * losses.front());
}

TEST(Engine, MultipleRootsAndMaterialisedZerosForUnusedOutputs) {
  Tensor x = seq({4, 2}).requires_grad_();
  auto [v, i] = x.max(1);  // two outputs; the indices get no gradient
  std::vector<Tensor> parts = x.chunk(2, 0);
  autograd::backward({sum(v), sum(parts[1])}, {lit({1}, {}), lit({1}, {})}, false);
  std::vector<float> g = x.grad().to_vector();
  float row_total = 0;
  for (float e : g) row_total += e;
  EXPECT_FLOAT_EQ(row_total, 4.0f + 4.0f);  // one max per row, plus ones over the last two rows
}

TEST(Engine, LeafWithoutGradientStaysUndefined) {
  // torch: x.norm(0).backward() leaves x.grad None (NormBackward returns no gradient).
  Tensor x = lit({1, 0, 2}, {3}).requires_grad_();
  norm(x, 0).backward();
  EXPECT_FALSE(x.grad().defined());
}
