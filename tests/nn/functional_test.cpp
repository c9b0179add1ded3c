// nn::functional with LibTorch's *FuncOptions and nn::init's formulas. Expected numbers
// were computed with PyTorch 1.13 (snippets beside them).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"

#include "test_util.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;

namespace {

using cnnkit::test::message_of;

void expect_near(const Tensor& t, const std::vector<float>& expected, float tol = 1e-5f) {
  auto v = t.contiguous().to_vector();
  ASSERT_EQ(v.size(), expected.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], expected[i], tol) << "element " << i;
}


// x = torch.arange(16.).reshape(1, 1, 4, 4); w = torch.tensor([[[[1., 0], [0, -1]]]])
Tensor x4() { return arange(16, kFloat).reshape({1, 1, 4, 4}); }
Tensor w2() { return tensor({1.f, 0.f, 0.f, -1.f}).reshape({1, 1, 2, 2}); }

}  // namespace

TEST(Functional, Conv2dOptions) {
  // F.conv2d(x, w, torch.tensor([0.5]), stride=2, padding=1)
  expect_near(F::conv2d(x4(), w2(), F::Conv2dFuncOptions().bias(tensor({0.5f})).stride(2).padding(1)),
              {0.5f, -1.5f, 0.5f, -7.5f, -4.5f, 7.5f, 0.5f, 13.5f, 15.5f});
  // F.conv2d(x, w, dilation=2)
  expect_near(F::conv2d(x4(), w2(), F::Conv2dFuncOptions().dilation(2)), {-10, -10, -10, -10});
  // F.conv2d(x, w, padding='same')
  expect_near(F::conv2d(x4(), w2(), F::Conv2dFuncOptions().padding(kSame)),
              {-5, -5, -5, 3, -5, -5, -5, 7, -5, -5, -5, 11, 12, 13, 14, 15});
  EXPECT_EQ(F::conv2d(x4(), w2(), F::Conv2dFuncOptions().padding(kValid)).sizes(), IntArrayRef({1, 1, 3, 3}));
  EXPECT_EQ(F::conv2d(x4(), w2(), F::Conv2dFuncOptions().padding({1, 0})).sizes(), IntArrayRef({1, 1, 5, 3}));
}

TEST(Functional, Pooling) {
  expect_near(F::max_pool2d(x4(), F::MaxPool2dFuncOptions(2)), {5, 7, 13, 15});
  // F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
  expect_near(F::avg_pool2d(x4(), F::AvgPool2dFuncOptions(3).stride(1).padding(1).count_include_pad(false)),
              {2.5f, 3.f, 4.f, 4.5f, 4.5f, 5.f, 6.f, 6.5f, 8.5f, 9.f, 10.f, 10.5f, 10.5f, 11.f, 12.f, 12.5f});
  auto [values, indices] = F::max_pool2d_with_indices(x4(), F::MaxPool2dFuncOptions(2));
  EXPECT_EQ(indices.to_vector(), (std::vector<float>{5, 7, 13, 15}));
  expect_near(F::adaptive_avg_pool2d(x4(), F::AdaptiveAvgPool2dFuncOptions(1)), {7.5f});
  expect_near(F::adaptive_max_pool2d(x4(), F::AdaptiveMaxPool2dFuncOptions({1, std::nullopt})), {12, 13, 14, 15});
  EXPECT_THROW(F::adaptive_avg_pool2d(zeros({4, 4}), F::AdaptiveAvgPool2dFuncOptions(1)), ShapeError);
}

TEST(Functional, BatchNormUpdatesRunningStatsInPlace) {
  // rm = zeros(1); rv = ones(1)
  // F.batch_norm(x, rm, rv, weight=[2.], bias=[1.], training=True, momentum=0.5)
  Tensor rm = zeros({1}), rv = ones({1});
  Tensor y = F::batch_norm(x4(), rm, rv,
                           F::BatchNormFuncOptions().weight(tensor({2.f})).bias(tensor({1.f})).training(true).momentum(0.5));
  expect_near(y, {-2.2539561f, -1.8200953f, -1.3862345f, -0.9523736f, -0.5185128f, -0.0846520f, 0.3492088f, 0.7830696f,
                  1.2169304f, 1.6507912f, 2.0846519f, 2.5185127f, 2.9523735f, 3.3862345f, 3.8200953f, 4.2539558f});
  expect_near(rm, {3.75f});
  expect_near(rv, {11.833333f}, 1e-4f);
  // Defaults: eval with the running statistics.
  Tensor e = F::batch_norm(x4(), zeros({1}), ones({1}));
  expect_near(e.flatten()[3], {3.f / std::sqrt(1.f + 1e-5f)});
  EXPECT_THROW(F::batch_norm(zeros({1, 3}), Tensor(), Tensor(), F::BatchNormFuncOptions().training(true)), ValueError);
  EXPECT_THROW(F::batch_norm(zeros({3}), Tensor(), Tensor()), ShapeError);
}

TEST(Functional, OtherNormalisations) {
  // F.layer_norm(torch.tensor([[1., 2, 3]]), [3], weight=torch.tensor([1., 2, 3]))
  expect_near(F::layer_norm(tensor({{1.f, 2.f, 3.f}}), F::LayerNormFuncOptions({3}).weight(tensor({1.f, 2.f, 3.f}))),
              {-1.2247356f, 0.f, 3.6742067f});
  // F.group_norm(torch.arange(4.).reshape(1, 2, 2), 1)
  expect_near(F::group_norm(arange(4, kFloat).reshape({1, 2, 2}), F::GroupNormFuncOptions(1)),
              {-1.3416355f, -0.4472118f, 0.4472118f, 1.3416355f});
  // F.instance_norm(torch.arange(4.).reshape(1, 1, 4))
  expect_near(F::instance_norm(arange(4, kFloat).reshape({1, 1, 4})), {-1.3416355f, -0.4472119f, 0.4472117f, 1.3416353f});
  EXPECT_THROW(F::instance_norm(zeros({1, 2, 1})), ValueError);
}

TEST(Functional, Activations) {
  Tensor x = tensor({-1.f, 1.f});
  expect_near(F::relu(x), {0.f, 1.f});
  expect_near(F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(0.1)), {-0.1f, 1.f});
  expect_near(F::elu(x, F::ELUFuncOptions().alpha(0.5)), {-0.3160603f, 1.f});  // F.elu(x, alpha=0.5)
  expect_near(F::gelu(tensor({1.f}), F::GELUFuncOptions().approximate("tanh")), {0.8411920f});
  expect_near(F::silu(tensor({1.f})), {0.7310586f});
  expect_near(F::mish(tensor({1.f})), {0.8650984f});
  expect_near(F::hardswish(tensor({1.f})), {0.6666667f});
  expect_near(F::prelu(x, tensor({0.25f})), {-0.25f, 1.f});
  expect_near(F::softmax(tensor({{1.f, 2.f, 3.f}}), F::SoftmaxFuncOptions(1)), {0.0900306f, 0.2447285f, 0.6652409f});
  expect_near(F::log_softmax(tensor({{1.f, 2.f, 3.f}}), F::LogSoftmaxFuncOptions(1)),
              {-2.4076059f, -1.4076059f, -0.4076059f});
  EXPECT_THROW(F::gelu(x, F::GELUFuncOptions().approximate("erf")), ValueError);
  // One rule for hardtanh's range (nn.Hardtanh's max_val > min_val), the same through F, the
  // op and the module.
  EXPECT_THROW(F::hardtanh(x, F::HardtanhFuncOptions().min_val(1).max_val(1)), ValueError);
  EXPECT_THROW(hardtanh(x, 1, 1), ValueError);
  EXPECT_THROW(nn::Hardtanh(nn::HardtanhOptions().min_val(1).max_val(1)), ValueError);
  expect_near(F::logsigmoid(tensor({1.f})), {-0.3132617f});
  Tensor y = tensor({-1.f, 1.f});
  F::relu(y, F::ReLUFuncOptions().inplace(true));
  EXPECT_EQ(y.to_vector(), (std::vector<float>{0.f, 1.f}));
}

TEST(Functional, LinearDropoutPad) {
  expect_near(F::linear(tensor({{1.f, 2.f}}), tensor({{3.f, 4.f}}), tensor({1.f})), {12.f});
  Tensor x = ones({1000});
  EXPECT_TRUE(F::dropout(x, F::DropoutFuncOptions().p(0.3).training(false)).equal(x));
  EXPECT_EQ(message_of([&] { F::dropout(x, F::DropoutFuncOptions().p(1.5)); }),
            "dropout probability has to be between 0 and 1, but got 1.5");
  EXPECT_EQ(F::dropout2d(ones({2, 3, 4, 4})).sizes(), IntArrayRef({2, 3, 4, 4}));
  // F.pad(torch.arange(4.).reshape(1, 1, 2, 2), (1, 0, 0, 1), value=9)
  expect_near(F::pad(arange(4, kFloat).reshape({1, 1, 2, 2}), F::PadFuncOptions({1, 0, 0, 1}).value(9)),
              {9, 0, 1, 9, 2, 3, 9, 9, 9});
  // F.pad(..., (1, 1, 0, 0), mode='circular')
  expect_near(F::pad(arange(4, kFloat).reshape({1, 1, 2, 2}), F::PadFuncOptions({1, 1, 0, 0}).mode(kCircular)),
              {1, 0, 1, 0, 3, 2, 3, 2});
  // F.pad(xi, (1, 1, 1, 0), mode='reflect') on torch.arange(9.).reshape(1, 1, 3, 3)
  expect_near(F::pad(arange(9, kFloat).reshape({1, 1, 3, 3}), F::PadFuncOptions({1, 1, 1, 0}).mode(kReflect)),
              {4, 3, 4, 5, 4, 1, 0, 1, 2, 1, 4, 3, 4, 5, 4, 7, 6, 7, 8, 7});
}

// ---- nn::init -------------------------------------------------------------------------------

TEST(NnInit, GainsAndFansArePyTorchs) {
  // nn.init.calculate_gain('leaky_relu', 0.2), ('tanh'), ('relu'), ('selu')
  EXPECT_NEAR(nn::init::calculate_gain(kLeakyReLU, 0.2), 1.3867504905630728, 1e-12);
  EXPECT_NEAR(nn::init::calculate_gain(kTanh), 5.0 / 3, 1e-12);
  EXPECT_NEAR(nn::init::calculate_gain(kReLU), std::sqrt(2.0), 1e-12);
  EXPECT_EQ(nn::init::calculate_gain(kSELU), 0.75);
  EXPECT_EQ(nn::init::calculate_gain(kConv2D), 1.0);
  EXPECT_EQ(nn::init::calculate_gain(kSigmoid), 1.0);
  auto [fan_in, fan_out] = nn::init::_calculate_fan_in_and_fan_out(empty({64, 3, 5, 5}));
  EXPECT_EQ(fan_in, 75);
  EXPECT_EQ(fan_out, 1600);
  EXPECT_THROW(nn::init::_calculate_fan_in_and_fan_out(empty({5})), ShapeError);
}

TEST(NnInit, InitialisersFillWithTheRightSpread) {
  manual_seed(7);
  Tensor w = empty({256, 128});
  nn::init::xavier_uniform_(w);  // bound sqrt(6 / (128 + 256)) = 0.125
  EXPECT_LE(w.abs().max().item<float>(), 0.125f);
  EXPECT_GT(w.abs().max().item<float>(), 0.124f);
  nn::init::xavier_normal_(w, 2.0);  // std 2 * sqrt(2 / 384)
  EXPECT_NEAR(w.std().item<float>(), 2 * std::sqrt(2.f / 384), 0.005f);
  nn::init::kaiming_normal_(w, 0, kFanOut, kReLU);  // std sqrt(2) / sqrt(256)
  EXPECT_NEAR(w.std().item<float>(), std::sqrt(2.f) / 16, 0.003f);
  nn::init::kaiming_uniform_(w, 0, kFanIn, kReLU);  // bound sqrt(3) * sqrt(2) / sqrt(128)
  EXPECT_LE(w.abs().max().item<float>(), std::sqrt(6.f / 128));
  EXPECT_GT(w.abs().max().item<float>(), 0.99f * std::sqrt(6.f / 128));
  nn::init::uniform_(w, 2, 3);
  EXPECT_GE(w.min().item<float>(), 2.f);
  EXPECT_LT(w.max().item<float>(), 3.f);
  nn::init::normal_(w, 5, 0.5);
  EXPECT_NEAR(w.mean().item<float>(), 5.f, 0.01f);
  nn::init::constant_(w, 0.3);
  EXPECT_EQ(w.max().item<float>(), 0.3f);
  EXPECT_EQ(w.min().item<float>(), 0.3f);
  nn::init::zeros_(w);
  EXPECT_EQ(w.abs().sum().item<float>(), 0.f);
  nn::init::ones_(w);
  EXPECT_EQ(w.sum().item<float>(), 256.f * 128);
  // Initialisers run without recording a graph, even on parameters.
  Tensor p = empty({4, 4}).requires_grad_();
  nn::init::kaiming_uniform_(p);
  EXPECT_TRUE(p.is_leaf());
  EXPECT_THROW(nn::init::zeros_(Tensor()), ValueError);
}

TEST(NnInit, EyeAndDirac) {
  Tensor m = empty({3, 5});
  nn::init::eye_(m);  // torch.nn.init.eye_(torch.empty(3, 5))
  EXPECT_EQ(m.to_vector(), (std::vector<float>{1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_THROW(nn::init::eye_(empty({2, 2, 2})), ShapeError);
  Tensor k = empty({2, 2, 3, 3});
  nn::init::dirac_(k);  // nonzero at [0, 0, 1, 1] and [1, 1, 1, 1]
  auto v = k.to_vector();
  EXPECT_EQ(k.sum().item<float>(), 2.f);
  EXPECT_EQ(v[0 * 18 + 0 * 9 + 4], 1.f);
  EXPECT_EQ(v[1 * 18 + 1 * 9 + 4], 1.f);
  // A Dirac-initialised conv passes its input through.
  nn::Conv2d conv(nn::Conv2dOptions(2, 2, 3).padding(1).bias(false));
  nn::init::dirac_(conv->weight);
  Tensor x = randn({1, 2, 4, 4});
  EXPECT_TRUE(conv(x).allclose(x, 1e-6, 1e-6));
}
