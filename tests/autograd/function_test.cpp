// Custom autograd functions (torch::autograd::Function): forward/backward with a context,
// saved tensors and data, non-tensor arguments, needs_input_grad, mark_non_differentiable,
// set_materialize_grads, the errors LibTorch raises, and double backward through a custom
// backward written with differentiable ops.
#include <gtest/gtest.h>

#include <string>

#include "cnnkit/autograd/function.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/ops/ops.h"
#include "test_util.h"

using namespace cnnkit;
using autograd::AutogradContext;
using autograd::variable_list;

namespace {

std::vector<float> values(const Tensor& t) { return t.contiguous().to_vector(); }

// y = x * w * k for a double k: the LibTorch documentation's shape of a custom function.
struct MulConst : autograd::Function<MulConst> {
  static Tensor forward(AutogradContext* ctx, Tensor x, Tensor w, double k) {
    ctx->saved_data["k"] = k;
    ctx->saved_data["calls"] = ctx->saved_data.count("calls") ? ctx->saved_data["calls"].toInt() + 1 : 1;
    ctx->save_for_backward({x, w});
    EXPECT_FALSE(autograd::GradMode::is_enabled()) << "forward runs with grad mode off";
    return x * w * k;
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    const variable_list s = ctx->get_saved_variables();
    const double k = ctx->saved_data["k"].toDouble();
    Tensor gx = ctx->needs_input_grad(0) ? g[0] * s[1] * k : Tensor();
    Tensor gw = ctx->needs_input_grad(1) ? g[0] * s[0] * k : Tensor();
    return {gx, gw, Tensor()};
  }
};

TEST(CustomFunction, GradientsOfEveryTensorInput) {
  Tensor x = tensor({1.0f, 2.0f}).set_requires_grad(true);
  Tensor w = tensor({3.0f, -1.0f}).set_requires_grad(true);
  Tensor y = MulConst::apply(x, w, 0.5);
  ASSERT_TRUE(y.requires_grad());
  EXPECT_EQ(values(y), (std::vector<float>{1.5f, -1.0f}));
  y.sum().backward();
  EXPECT_EQ(values(x.grad()), (std::vector<float>{1.5f, -0.5f}));
  EXPECT_EQ(values(w.grad()), (std::vector<float>{0.5f, 1.0f}));
}

TEST(CustomFunction, NoGraphWhenNoInputRequiresGrad) {
  Tensor y = MulConst::apply(tensor({1.0f}), tensor({2.0f}), 3.0);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(values(y), std::vector<float>{6.0f});
}

TEST(CustomFunction, NeedsInputGradFollowsTheInputs) {
  Tensor x = tensor({1.0f, 2.0f}).set_requires_grad(true);
  Tensor w = tensor({3.0f, -1.0f});  // a constant
  MulConst::apply(x, w, 1.0).sum().backward();
  EXPECT_EQ(values(x.grad()), (std::vector<float>{3.0f, -1.0f}));
}

TEST(CustomFunction, DoubleBackwardThroughADifferentiableBackward) {
  // d/dx of (dy/dw)^2 summed, where dy/dw = g * x * k: 2 x k^2.
  Tensor x = tensor({1.0f, -2.0f}).set_requires_grad(true);
  Tensor w = tensor({0.5f, 4.0f}).set_requires_grad(true);
  Tensor gw = autograd::grad({MulConst::apply(x, w, 3.0).sum()}, {w}, {}, std::nullopt, /*create_graph=*/true)[0];
  ASSERT_TRUE(gw.requires_grad());
  Tensor gx = autograd::grad({(gw * gw).sum()}, {x})[0];
  EXPECT_EQ(values(gx), (std::vector<float>{18.0f, -36.0f}));
}

// exp with the output saved: the saved output is unpacked with this node as its grad_fn.
struct MyExp : autograd::Function<MyExp> {
  static Tensor forward(AutogradContext* ctx, Tensor x) {
    Tensor y = exp(x);
    ctx->save_for_backward({y});
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    return {g[0] * ctx->get_saved_variables()[0]};
  }
};

TEST(CustomFunction, SavedOutputsSupportDoubleBackward) {
  Tensor x = tensor({0.0f, 1.0f}).set_requires_grad(true);
  Tensor g = autograd::grad({MyExp::apply(x).sum()}, {x}, {}, std::nullopt, true)[0];
  Tensor gg = autograd::grad({g.sum()}, {x})[0];  // exp(x) again
  EXPECT_NEAR(values(gg)[0], 1.0f, 1e-6);
  EXPECT_NEAR(values(gg)[1], std::exp(1.0f), 1e-5);
}

TEST(CustomFunction, SecondBackwardWithoutRetainGraphThrows) {
  Tensor x = tensor({1.0f}).set_requires_grad(true);
  Tensor y = MyExp::apply(x);
  y.backward();
  try {
    y.backward();
    FAIL() << "expected an error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("MyExpBackward"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("retain_graph=true"), std::string::npos) << e.what();
  }
  Tensor z = MyExp::apply(x);
  z.backward({}, /*retain_graph=*/true);
  z.backward();
  EXPECT_NEAR(values(x.grad())[0], 3 * std::exp(1.0f), 1e-5);
}

struct WrongCount : autograd::Function<WrongCount> {
  static Tensor forward(AutogradContext*, Tensor x, Tensor w) { return x * w; }
  static variable_list backward(AutogradContext*, variable_list g) { return {g[0]}; }
};

struct GradForANonTensor : autograd::Function<GradForANonTensor> {
  static Tensor forward(AutogradContext*, Tensor x, int64_t) { return x.clone(); }
  static variable_list backward(AutogradContext*, variable_list g) { return {g[0], g[0]}; }
};

struct WrongShape : autograd::Function<WrongShape> {
  static Tensor forward(AutogradContext*, Tensor x) { return x.sum(); }
  static variable_list backward(AutogradContext*, variable_list g) { return {g[0]}; }
};

TEST(CustomFunction, BackwardsThatBreakTheRulesAreNamed) {
  Tensor x = tensor({1.0f, 2.0f}).set_requires_grad(true);
  try {
    WrongCount::apply(x, x).sum().backward();
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("WrongCountBackward returned an incorrect number of gradients (expected 2, "
                                         "got 1)"),
              std::string::npos)
        << e.what();
  }
  try {
    GradForANonTensor::apply(x, int64_t{3}).sum().backward();
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("corresponding forward input was not a Variable"), std::string::npos)
        << e.what();
  }
  try {
    WrongShape::apply(x).backward();
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("invalid gradient at index 0"), std::string::npos) << e.what();
  }
}

// Two outputs, one of them integer indices marked non-differentiable; set_materialize_grads.
struct MaxWithIndex : autograd::Function<MaxWithIndex> {
  static variable_list forward(AutogradContext* ctx, Tensor x) {
    auto [v, i] = max(x, 0);
    ctx->mark_non_differentiable({i});
    ctx->save_for_backward({i});
    ctx->saved_data["n"] = x.size(0);
    ctx->set_materialize_grads(false);
    return {v, i};
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    EXPECT_FALSE(g[1].defined()) << "no gradient reached the indices and grads are not materialised";
    Tensor gx = zeros({ctx->saved_data["n"].toInt()});
    gx.data_ptr<float>()[ctx->get_saved_variables()[0].item<int64_t>()] = g[0].item<float>();
    return {gx};
  }
};

TEST(CustomFunction, NonDifferentiableOutputsAndUnmaterialisedGrads) {
  Tensor x = tensor({1.0f, 5.0f, 2.0f}).set_requires_grad(true);
  variable_list out = MaxWithIndex::apply(x);
  EXPECT_TRUE(out[0].requires_grad());
  EXPECT_FALSE(out[1].requires_grad());
  (out[0] * 2.0).backward();
  EXPECT_EQ(values(x.grad()), (std::vector<float>{0.0f, 2.0f, 0.0f}));
}

struct Identity : autograd::Function<Identity> {
  static Tensor forward(AutogradContext*, Tensor x) { return x; }
  static variable_list backward(AutogradContext*, variable_list g) { return {g[0] * 2.0}; }
};

TEST(CustomFunction, ReturningAnInputGivesAnAliasWithTheNewHistory) {
  Tensor x = tensor({1.0f}).set_requires_grad(true);
  Tensor y = Identity::apply(x);
  EXPECT_TRUE(x.is_leaf());  // x's own history is untouched
  EXPECT_FALSE(y.is_leaf());
  y.backward();
  EXPECT_EQ(values(x.grad()), std::vector<float>{2.0f});
}

// In place: forward doubles its input and returns it, marked dirty.
struct DoubleInPlace : autograd::Function<DoubleInPlace> {
  static Tensor forward(AutogradContext* ctx, Tensor x) {
    x.mul_(2.0);
    ctx->mark_dirty({x});
    return x;
  }
  static variable_list backward(AutogradContext*, variable_list g) { return {g[0] * 2.0}; }
};

TEST(CustomFunction, MarkDirtyRebasesTheInputsHistory) {
  Tensor p = tensor({1.0f, 3.0f}).set_requires_grad(true);
  Tensor x = p * 1.0;  // a non-leaf
  Tensor y = DoubleInPlace::apply(x);
  EXPECT_EQ(y.unsafeGetTensorImpl(), x.unsafeGetTensorImpl()) << "the input itself is returned";
  EXPECT_EQ(values(x), (std::vector<float>{2.0f, 6.0f}));
  (x * x).sum().backward();  // d/dp (2p)^2 = 8p
  EXPECT_EQ(values(p.grad()), (std::vector<float>{8.0f, 24.0f}));
  Tensor leaf = tensor({1.0f}).set_requires_grad(true);
  EXPECT_THROW(DoubleInPlace::apply(leaf), ValueError);
}

TEST(CustomFunction, IValueKindsAndErrors) {
  autograd::IValue i(int64_t{4}), d(2.5), s(std::string("name")), t(tensor({1.0f})), none;
  EXPECT_TRUE(i.isInt());
  EXPECT_EQ(i.toInt(), 4);
  EXPECT_DOUBLE_EQ(d.toDouble(), 2.5);
  EXPECT_EQ(s.toStringRef(), "name");
  EXPECT_TRUE(t.isTensor());
  EXPECT_TRUE(none.isNone());
  try {
    (void)s.toInt();
    FAIL();
  } catch (const TypeError& e) {
    EXPECT_EQ(std::string(e.what()), "Expected Int but got String");
  }
}

}  // namespace
