// In-place ops under autograd: x += y, x.relu_(), x.mul_(w), buf.copy_(x) ... on tensors
// that are not leaves requiring grad are recorded, and every gradient equals the one of
// the same program written out of place. Where cnnkit cannot be right (a view or detached
// alias modified in place, a storage both viewed and saved for backward) it says so.
#include <gtest/gtest.h>

#include "cnnkit/cnnkit.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::allclose;
using cnnkit::test::error_of;

namespace {

// A residual block as LibTorch users write it, with `out += shortcut` or `out = out + shortcut`.
struct BlockImpl : nn::Module {
  explicit BlockImpl(bool use_in_place)
      : in_place(use_in_place),
        conv1(nn::Conv2dOptions(3, 3, 3).padding(1).bias(false)),
        bn1(3),
        conv2(nn::Conv2dOptions(3, 3, 3).padding(1).bias(false)),
        bn2(3) {
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("conv2", conv2);
    register_module("bn2", bn2);
  }
  Tensor forward(const Tensor& x) {
    Tensor out = bn1(conv1(x));
    if (in_place) cnnkit::relu_(out);
    else out = relu(out);
    out = bn2(conv2(out));
    if (in_place) out += x;
    else out = out + x;
    if (in_place) return out.relu_();
    return relu(out);
  }
  bool in_place;
  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
};
TORCH_MODULE(Block);

}  // namespace

TEST(InPlaceAutograd, ResidualBlockWithPlusEqualsMatchesOutOfPlace) {
  manual_seed(3);
  Block a(true), b(false);
  {
    NoGradGuard g;
    auto pa = a->parameters(), pb = b->parameters();
    for (size_t i = 0; i < pa.size(); ++i) pb[i].copy_(pa[i]);
  }
  Tensor x = randn({2, 3, 6, 6});
  Tensor xa = x.clone().set_requires_grad(true), xb = x.clone().set_requires_grad(true);
  Tensor ya = a->forward(xa), yb = b->forward(xb);
  EXPECT_TRUE(allclose(ya, yb, 0, 0, "out"));
  Tensor g = randn(ya.sizes());
  ya.backward(g);
  yb.backward(g);
  EXPECT_TRUE(allclose(xa.grad(), xb.grad(), 1e-6, 1e-6, "grad_input"));
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_TRUE(allclose(pa[i].value().grad(), pb[i].value().grad(), 1e-6, 1e-6, pa[i].key()));
}

TEST(InPlaceAutograd, ChainsOfInPlaceOpsGiveTheOutOfPlaceGradients) {
  manual_seed(5);
  Tensor x0 = randn({4, 5}), w0 = randn({4, 5}), z0 = randn({5});
  auto run = [&](bool in_place) {
    Tensor x = x0.clone().set_requires_grad(true), w = w0.clone().set_requires_grad(true),
           z = z0.clone().set_requires_grad(true);
    Tensor y = x * 2;
    if (in_place) {
      y.mul_(w).add_(z, 0.5).sub_(1.0).div_(3.0);
      y.tanh_();
      y.clamp_(-0.5, 0.6);
      y.addcmul_(w, z, 2.0);
      y.sigmoid_().pow_(2.0);
      y.masked_fill_(x0.gt(1.5), 0.25);
    } else {
      y = ((y * w + 0.5 * z - 1.0) / 3.0).tanh().clamp(-0.5, 0.6);
      y = y + 2.0 * w * z;
      y = y.sigmoid().pow(2.0).masked_fill(x0.gt(1.5), 0.25);
    }
    (y * y.sum()).sum().backward();
    return std::vector<Tensor>{y.detach(), x.grad(), w.grad(), z.grad()};
  };
  std::vector<Tensor> a = run(true), b = run(false);
  EXPECT_TRUE(allclose(a[0], b[0], 1e-6, 1e-7, "y"));
  EXPECT_TRUE(allclose(a[1], b[1], 1e-5, 1e-6, "x.grad"));
  EXPECT_TRUE(allclose(a[2], b[2], 1e-5, 1e-6, "w.grad"));
  EXPECT_TRUE(allclose(a[3], b[3], 1e-5, 1e-6, "z.grad"));
}

TEST(InPlaceAutograd, ValuesSavedForBackwardSurviveALaterInPlaceOp) {
  Tensor x = tensor({0.5f, -1.0f}, requires_grad());
  Tensor w = tensor({2.0f, 3.0f}, requires_grad());
  Tensor y = x.exp();  // exp's backward saves y
  Tensor z = y * w;    // mul's backward saves y for w's gradient
  y.add_(1.0);
  (z.sum() + y.sum()).backward();
  EXPECT_TRUE(allclose(w.grad(), x.detach().exp(), 1e-6, 0, "w.grad: exp(x), not exp(x) + 1"));
  EXPECT_TRUE(allclose(x.grad(), x.detach().exp() * (w.detach() + 1), 1e-6, 0, "x.grad"));
  EXPECT_TRUE(allclose(y, x.detach().exp() + 1, 1e-6, 0, "y"));
}

TEST(InPlaceAutograd, AccumulatingIntoABufferThatNeedsNoGrad) {
  Tensor a = tensor({1.0f, 2.0f}, requires_grad());
  Tensor total = zeros({});
  total += (a * a).sum();
  total += (a * 3).sum();
  EXPECT_TRUE(total.requires_grad());
  total.backward();
  EXPECT_TRUE(allclose(a.grad(), std::vector<float>{5, 7}, 0, 0));

  Tensor b = tensor({1.0f, -2.0f}, requires_grad());
  Tensor buf = zeros({2});
  buf.copy_(b * 3);
  buf.sum().backward();
  EXPECT_TRUE(allclose(b.grad(), std::vector<float>{3, 3}, 0, 0));
}

TEST(InPlaceAutograd, ViewsOfTheModifiedTensorSeeTheNewValues) {
  Tensor x = tensor({1.0f, 2.0f, 3.0f, 4.0f}, requires_grad());
  Tensor y = x * 2;
  Tensor v = y.view({2, 2});
  y.add_(1.0);
  EXPECT_TRUE(allclose(v, std::vector<float>{3, 5, 7, 9}, 0, 0));
  y.sum().backward();
  EXPECT_TRUE(allclose(x.grad(), std::vector<float>{2, 2, 2, 2}, 0, 0));
}

TEST(InPlaceAutograd, WhatCannotBeRecordedIsAnErrorNamingTheOp) {
  Tensor leaf = tensor({1.0f, 2.0f}, requires_grad());
  EXPECT_NE(error_of([&] { leaf.add_(1.0); }).find("add_: a leaf Variable that requires grad"), std::string::npos);
  Tensor y = leaf * 2;
  EXPECT_NE(error_of([&] { y.narrow(0, 0, 1).mul_(2.0); }).find("mul_: in-place operation on a view"),
            std::string::npos);
  EXPECT_NE(error_of([&] { y.detach().relu_().add_(leaf); }).find("add_: in-place operation on a view or detached"),
            std::string::npos);
  Tensor e = leaf.exp();  // saved by its own backward
  Tensor v = e.view({2, 1});
  EXPECT_NE(error_of([&] { e.add_(1.0); }).find("add_: this tensor has views, and its values are saved"),
            std::string::npos);
  EXPECT_TRUE(allclose(v, leaf.detach().exp().view({2, 1}), 0, 0, "nothing was written"));
  // under NoGradGuard nothing is recorded and everything is allowed, as in PyTorch
  {
    NoGradGuard g;
    leaf.add_(1.0);
    y.narrow(0, 0, 1).mul_(2.0);
  }
  EXPECT_TRUE(allclose(leaf, std::vector<float>{2, 3}, 0, 0));
}
