// Higher-order gradients: backward(create_graph=true) and autograd::grad(create_graph=true),
// third order, the refusal of backwards that are kernels, the pass that runs only what leads to
// the inputs, and backward(inputs=...). The op-by-op second-order table is in
// tests/gradcheck (GradGradCheck); PyTorch goldens in tests/golden/double_backward_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "cnnkit/autograd/function.h"
#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"
#include "kernels/onednn.h"
#include "test_util.h"

using namespace cnnkit;

namespace {

std::vector<float> values(const Tensor& t) { return t.contiguous().to_vector(); }

TEST(DoubleBackward, BackwardWithCreateGraphLeavesDifferentiableGrads) {
  Tensor x = tensor({1.0f, -2.0f, 0.5f}).set_requires_grad(true);
  (x * x * x).sum().backward({}, std::nullopt, /*create_graph=*/true);
  Tensor g = x.grad();  // 3 x^2, with a graph
  ASSERT_TRUE(g.requires_grad());
  EXPECT_EQ(values(g), (std::vector<float>{3.0f, 12.0f, 0.75f}));
  Tensor h = autograd::grad({g.sum()}, {x})[0];  // 6 x
  EXPECT_EQ(values(h), (std::vector<float>{6.0f, -12.0f, 3.0f}));
  // x.grad()'s graph reaches x itself (PyTorch's reference cycle): dropping the gradient
  // breaks it, as zero_grad() does.
  x.mutable_grad() = Tensor();
}

TEST(DoubleBackward, GradWithoutCreateGraphHasNoGraph) {
  Tensor x = tensor({1.0f, 2.0f}).set_requires_grad(true);
  Tensor g = autograd::grad({(x * x).sum()}, {x})[0];
  EXPECT_FALSE(g.requires_grad());
}

TEST(DoubleBackward, ThirdOrderThroughTanh) {
  // tanh''' = -2 (1 - t^2) (1 - 3 t^2)
  Tensor x = tensor({-0.7f, 0.2f, 1.1f}).set_requires_grad(true);
  Tensor g1 = autograd::grad({tanh(x).sum()}, {x}, {}, std::nullopt, true)[0];
  Tensor g2 = autograd::grad({g1.sum()}, {x}, {}, std::nullopt, true)[0];
  Tensor g3 = autograd::grad({g2.sum()}, {x})[0];
  const std::vector<float> xs = values(x.detach()), got = values(g3);
  for (size_t i = 0; i < xs.size(); ++i) {
    const double t = std::tanh(static_cast<double>(xs[i]));
    EXPECT_NEAR(got[i], -2 * (1 - t * t) * (1 - 3 * t * t), 1e-5) << "x = " << xs[i];
  }
}

TEST(DoubleBackward, ThirdOrderThroughConvolutionIsRefusedByName) {
  Tensor x = randn({1, 1, 5, 5}).set_requires_grad(true);
  Tensor w = randn({2, 1, 3, 3}).set_requires_grad(true);
  Tensor y = conv2d(x, w).pow(2).sum();
  Tensor gx = autograd::grad({y}, {x}, {}, std::nullopt, true)[0];
  Tensor gxx = autograd::grad({gx.pow(2).sum()}, {w}, {}, std::nullopt, true)[0];  // second order: fine
  ASSERT_TRUE(gxx.requires_grad());
  try {
    autograd::grad({gxx.sum()}, {x});
    FAIL() << "a third backward through a convolution must throw";
  } catch (const NotImplementedError& e) {
    EXPECT_NE(std::string(e.what()).find("ConvolutionBackwardBackward0"), std::string::npos) << e.what();
  }
}

// A convolution's output keeps oneDNN's blocked layout, and max pooling then runs on it in that
// layout, keeping tap numbers rather than the input: its double backward reads the positions
// from them and must agree with the plain path's (a copy of the conv output pools on the loops).
TEST(DoubleBackward, MaxPoolInAKeptLayoutMatchesThePlainPath) {
  manual_seed(5);
  const Tensor x0 = randn({2, 3, 8, 8}), w0 = randn({16, 3, 3, 3});
  auto penalty_grads = [&](bool plain) {
    Tensor x = x0.clone().set_requires_grad(true), w = w0.clone().set_requires_grad(true);
    Tensor c = conv2d(x, w, {}, 1, 1);
    EXPECT_NE(kernels::onednn::layout_of(*c.unsafeGetTensorImpl()), nullptr) << "the conv output is kept blocked";
    Tensor in = plain ? c.clone() : c;
    if (plain) {
      EXPECT_EQ(kernels::onednn::layout_of(*in.unsafeGetTensorImpl()), nullptr);
    }
    Tensor y = max_pool2d(in, {2, 2}, {2, 2}, {0, 0}, {1, 1}, /*ceil_mode=*/false);
    Tensor g = autograd::grad({y.pow(2).sum()}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
    return autograd::grad({g.pow(2).sum()}, {w})[0];
  };
  const Tensor kept = penalty_grads(false), plain = penalty_grads(true);
  EXPECT_TRUE(test::allclose(kept, plain, 1e-5, 1e-5, "d/dw of the penalty"));
}

TEST(DoubleBackward, GradientPenaltyOfAModuleReachesItsParameters) {
  manual_seed(3);
  nn::Sequential d(nn::Conv2d(nn::Conv2dOptions(1, 2, 3).padding(1)), nn::ReLU(), nn::Flatten(), nn::Linear(32, 1));
  Tensor x = randn({2, 1, 4, 4}).set_requires_grad(true);
  Tensor g = autograd::grad({d->forward(x).sum()}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
  Tensor penalty = (g.reshape({2, -1}).norm(2, 1) - 1).pow(2).mean();
  penalty.backward();
  // The weights shape the gradient; the conv's bias only moves ReLU's (constant) mask, so
  // nothing reaches it, as PyTorch's zeros.
  for (const char* name : {"0.weight", "3.weight"}) {
    Tensor grad = d->named_parameters()[name].grad();
    ASSERT_TRUE(grad.defined()) << name;
    EXPECT_GT(grad.abs().sum().item<float>(), 0.0f) << name;
  }
  Tensor bias_grad = d->named_parameters()["0.bias"].grad();
  EXPECT_TRUE(!bias_grad.defined() || bias_grad.abs().sum().item<float>() == 0.0f);
}

// A custom function whose backward throws: it tells which nodes a pass runs.
struct Tripwire : autograd::Function<Tripwire> {
  static Tensor forward(autograd::AutogradContext*, Tensor x) { return x.clone(); }
  static autograd::variable_list backward(autograd::AutogradContext*, autograd::variable_list) {
    throw std::runtime_error("tripwire ran");
  }
};

TEST(DoubleBackward, GradRunsOnlyThePartOfTheGraphThatLeadsToItsInputs) {
  Tensor a = tensor({1.0f, 2.0f}).set_requires_grad(true);
  Tensor b = Tripwire::apply(a * 3.0);  // above h: its backward must not run
  Tensor h = b * 2.0;
  Tensor y = (h * h).sum();
  Tensor gh = autograd::grad({y}, {h})[0];
  EXPECT_EQ(values(gh), (std::vector<float>{12.0f, 24.0f}));
  EXPECT_THROW(y.backward(), std::runtime_error);  // the whole graph does reach it
}

TEST(DoubleBackward, BackwardWithInputsAccumulatesOnlyIntoThem) {
  Tensor a = tensor({1.0f, 2.0f}).set_requires_grad(true);
  Tensor b = tensor({3.0f}).set_requires_grad(true);
  Tensor c = Tripwire::apply(tensor({5.0f}).set_requires_grad(true));
  Tensor y = (a * b).sum() + c.sum();
  autograd::backward({y}, {}, std::nullopt, false, {a});
  EXPECT_EQ(values(a.grad()), (std::vector<float>{3.0f, 3.0f}));
  EXPECT_FALSE(b.grad().defined());
  Tensor nonleaf = a * 2.0;
  EXPECT_THROW(autograd::backward({nonleaf.sum()}, {}, std::nullopt, false, {nonleaf}), ValueError);
  // Tensor::backward's form (LibTorch's fourth argument).
  ((a * b).sum() * 2.0).backward({}, std::nullopt, false, std::vector<Tensor>{b});
  EXPECT_EQ(values(b.grad()), std::vector<float>{6.0f});  // 2 * (1 + 2)
  EXPECT_EQ(values(a.grad()), (std::vector<float>{3.0f, 3.0f}));  // unchanged
}

TEST(DoubleBackward, SavedInputsKeepTheirHistoryAcrossInPlaceOps) {
  // y = x * z saves x; x is then changed in place (rebased); the second-order graph still
  // differentiates through the value and history x had when y was computed.
  Tensor p = tensor({2.0f}).set_requires_grad(true);
  Tensor x = p * 1.0;
  Tensor z = tensor({3.0f}).set_requires_grad(true);
  Tensor y = x * z;
  x.mul_(10.0);
  Tensor gz = autograd::grad({y.sum()}, {z}, {}, std::nullopt, true)[0];  // = x before the in-place op
  EXPECT_EQ(values(gz), std::vector<float>{2.0f});
  Tensor gp = autograd::grad({gz.sum()}, {p})[0];
  EXPECT_EQ(values(gp), std::vector<float>{1.0f});
}

TEST(DoubleBackward, HessianVectorProductOfASoftmaxCrossEntropy) {
  // For L = CE(x W), d/dW <dL/dW, V> against a central difference of the first-order gradient.
  manual_seed(7);
  Tensor x = randn({4, 3});
  Tensor w = randn({3, 5}).set_requires_grad(true);
  Tensor v = randn({3, 5});
  Tensor t = tensor(std::vector<int64_t>{0, 4, 2, 1});
  auto loss = [&](const Tensor& ww) { return cross_entropy_loss(matmul(x, ww), t); };
  Tensor gw = autograd::grad({loss(w)}, {w}, {}, std::nullopt, true)[0];
  Tensor hv = autograd::grad({(gw * v).sum()}, {w})[0];
  const double h = 1e-2;
  NoGradGuard no_grad;
  Tensor wp = (w.detach() + v * h).set_requires_grad(true), wm = (w.detach() - v * h).set_requires_grad(true);
  Tensor gp, gm;
  {
    AutoGradMode on(true);
    gp = autograd::grad({loss(wp)}, {wp})[0];
    gm = autograd::grad({loss(wm)}, {wm})[0];
  }
  EXPECT_TRUE(test::allclose(hv, (gp - gm) / (2 * h), 2e-3, 2e-4, "hvp"));
}

}  // namespace
