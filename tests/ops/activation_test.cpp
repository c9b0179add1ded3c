// Every activation, forward and backward, against numbers computed with PyTorch 1.13.
// Inputs cover both sides of every kink; the boundary cases check which side the
// gradient takes exactly at the kink (torch's convention).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "kernels/onednn.h"
#include "cnnkit/ops/activation.h"
#include "cnnkit/ops/factory.h"

using namespace cnnkit;

namespace {

void expect_values(const Tensor& t, const std::vector<float>& expected, float tol = 2e-6f) {
  std::vector<float> got = t.to_vector();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], tol * (1 + std::fabs(expected[i]))) << "at index " << i;
}

// The common input and upstream gradient:
//   x = torch.tensor([-3.5, -1.0, -0.25, 0.0, 0.3, 1.0, 2.5, 7.0])
//   g = torch.tensor([0.5, -1.0, 2.0, 1.5, -0.7, 0.3, 1.1, -2.0])
//   y = f(x.requires_grad_()); y.backward(g)
const std::vector<float> kX = {-3.5f, -1.0f, -0.25f, 0.0f, 0.3f, 1.0f, 2.5f, 7.0f};
const std::vector<float> kG = {0.5f, -1.0f, 2.0f, 1.5f, -0.7f, 0.3f, 1.1f, -2.0f};

void check(const std::function<Tensor(const Tensor&)>& f, const std::vector<float>& y_expected,
           const std::vector<float>& gx_expected, const std::vector<float>& xv = kX,
           const std::vector<float>& gv = kG) {
  Tensor x = tensor(xv, requires_grad());
  Tensor y = f(x);
  EXPECT_EQ(y.sizes(), x.sizes());
  expect_values(y, y_expected);
  y.backward(tensor(gv));
  ASSERT_TRUE(x.grad().defined());
  expect_values(x.grad(), gx_expected);
}

}  // namespace

TEST(Activation, ReluMatchesTorch) {
  check([](const Tensor& x) { return relu(x); }, {0, 0, 0, 0, 0.300000012f, 1, 2.5f, 7},
        {0, 0, 0, 0, -0.699999988f, 0.300000012f, 1.10000002f, -2});
}

TEST(Activation, Relu6MatchesTorch) {
  check([](const Tensor& x) { return relu6(x); }, {0, 0, 0, 0, 0.300000012f, 1, 2.5f, 6},
        {0, 0, 0, 0, -0.699999988f, 0.300000012f, 1.10000002f, 0});
}

TEST(Activation, LeakyReluPositiveNegativeAndSteepSlopes) {
  check([](const Tensor& x) { return leaky_relu(x); },
        {-0.0350000001f, -0.00999999978f, -0.00249999994f, 0, 0.300000012f, 1, 2.5f, 7},
        {0.00499999989f, -0.00999999978f, 0.0199999996f, 0.0149999997f, -0.699999988f, 0.300000012f, 1.10000002f, -2});
  // A negative slope flips the sign of negative inputs: the gradient must come from x, not y.
  check([](const Tensor& x) { return leaky_relu(x, -0.2); },
        {0.699999988f, 0.200000003f, 0.0500000007f, 0, 0.300000012f, 1, 2.5f, 7},
        {-0.100000001f, 0.200000003f, -0.400000006f, -0.300000012f, -0.699999988f, 0.300000012f, 1.10000002f, -2});
  check([](const Tensor& x) { return leaky_relu(x, 1.5); }, {-5.25f, -1.5f, -0.375f, 0, 0.300000012f, 1, 2.5f, 7},
        {0.75f, -1.5f, 3, 2.25f, -0.699999988f, 0.300000012f, 1.10000002f, -2});
}

TEST(Activation, EluWithAlpha) {
  check([](const Tensor& x) { return elu(x); },
        {-0.969802618f, -0.63212055f, -0.221199214f, 0, 0.300000012f, 1, 2.5f, 7},
        {0.0150986919f, -0.36787945f, 1.55760157f, 1.5f, -0.699999988f, 0.300000012f, 1.10000002f, -2});
  check([](const Tensor& x) { return elu(x, 0.5); },
        {-0.484901309f, -0.316060275f, -0.110599607f, 0, 0.300000012f, 1, 2.5f, 7},
        {0.00754934596f, -0.183939725f, 0.778800786f, 0.75f, -0.699999988f, 0.300000012f, 1.10000002f, -2});
}

TEST(Activation, SeluMatchesTorch) {
  check([](const Tensor& x) { return selu(x); },
        {-1.70500934f, -1.11133075f, -0.388890177f, 0, 0.315210313f, 1.05070102f, 2.62675261f, 7.35490704f},
        {0.0265449993f, -0.64676863f, 2.73841834f, 2.63714886f, -0.73549068f, 0.315210313f, 1.15577114f,
         -2.10140204f});
}

TEST(Activation, GeluExactAndTanhApproximation) {
  check([](const Tensor& x) { return gelu(x); },
        {-0.000814333558f, -0.158655286f, -0.100323431f, 0, 0.185373425f, 0.841344714f, 2.48447585f, 7},
        {-0.00141085684f, 0.0833154321f, 0.609253407f, 0.75f, -0.512629449f, 0.324994624f, 1.14137208f, -2});
  check([](const Tensor& x) { return gelu(x, "tanh"); },
        {-0.000616148114f, -0.158807993f, -0.100324646f, 0, 0.185370937f, 0.841192007f, 2.48491573f, 7},
        {-0.00121122447f, 0.0829640925f, 0.609291792f, 0.75f, -0.512606859f, 0.324889243f, 1.14174688f, -2});
}

TEST(Activation, SigmoidAndTanhMatchTorch) {
  check([](const Tensor& x) { return sigmoid(x); },
        {0.0293122306f, 0.268941432f, 0.437823504f, 0.5f, 0.574442506f, 0.731058598f, 0.924141824f, 0.999089003f},
        {0.0142265111f, -0.196611941f, 0.492268145f, 0.375f, -0.171120822f, 0.058983583f, 0.0771140829f,
         -0.00182033493f});
  check([](const Tensor& x) { return tanh(x); },
        {-0.998177886f, -0.761594176f, -0.244918659f, 0, 0.291312635f, 0.761594176f, 0.986614287f, 0.999998331f},
        {0.00182045391f, -0.419974297f, 1.88002968f, 1.5f, -0.640595853f, 0.125992298f, 0.0292514749f,
         -6.67571476e-06f});
}

TEST(Activation, SiluAndMishMatchTorch) {
  check([](const Tensor& x) { return silu(x); },
        {-0.102592811f, -0.268941432f, -0.109455876f, 0, 0.172332764f, 0.731058598f, 2.31035447f, 6.99362278f},
        {-0.0351366736f, -0.0723294839f, 0.752579987f, 0.75f, -0.453446001f, 0.27830115f, 1.20934117f, -2.01092029f});
  check([](const Tensor& x) { return mish(x); },
        {-0.10409575f, -0.30340144f, -0.129926965f, 0, 0.20800139f, 0.865098357f, 2.47139239f, 6.99998856f},
        {-0.036380209f, -0.0592167303f, 0.879631221f, 0.900000036f, -0.547979116f, 0.314710885f, 1.14524257f,
         -2.00004339f});
}

TEST(Activation, HardswishAndHardsigmoidMatchTorch) {
  check([](const Tensor& x) { return hardswish(x); },
        {0, -0.333333343f, -0.114583336f, 0, 0.165000007f, 0.666666687f, 2.29166675f, 7},
        {0, -0.166666657f, 0.833333313f, 0.75f, -0.420000017f, 0.25000003f, 1.46666658f, -2});
  check([](const Tensor& x) { return hardsigmoid(x); },
        {0, 0.333333343f, 0.458333343f, 0.5f, 0.550000012f, 0.666666687f, 0.916666687f, 1},
        {0, -0.166666672f, 0.333333343f, 0.25f, -0.116666667f, 0.0500000045f, 0.183333337f, 0});
}

TEST(Activation, HardtanhDefaultAndCustomRange) {
  check([](const Tensor& x) { return hardtanh(x); }, {-1, -1, -0.25f, 0, 0.300000012f, 1, 1, 1},
        {0, 0, 2, 1.5f, -0.699999988f, 0, 0, 0});
  check([](const Tensor& x) { return hardtanh(x, -2, 2.5); }, {-2, -1, -0.25f, 0, 0.300000012f, 1, 2.5f, 2.5f},
        {0, -1, 2, 1.5f, -0.699999988f, 0.300000012f, 0, 0});
}

TEST(Activation, SoftplusBetaAndThreshold) {
  check([](const Tensor& x) { return softplus(x); },
        {0.0297504179f, 0.313261688f, 0.575939417f, 0.693147182f, 0.854355276f, 1.31326163f, 2.57888985f, 7.00091171f},
        {0.0146561153f, -0.268941432f, 0.875647008f, 0.75f, -0.402109802f, 0.219317585f, 1.01655602f, -1.99817789f});
  check([](const Tensor& x) { return softplus(x, 2, 3); },
        {0.000455733243f, 0.0634640008f, 0.237038493f, 0.346573591f, 0.518743992f, 1.06346405f, 2.5f, 7},
        {0.000455525616f, -0.119202919f, 0.755081356f, 0.75f, -0.451959461f, 0.264239132f, 1.10000002f, -2});
  check([](const Tensor& x) { return softplus(x, 0.5, 1); },
        {0.320448309f, 0.948153973f, 1.26519811f, 1.38629436f, 1.54191411f, 1.94815397f, 2.5f, 7},
        {0.0740235969f, -0.377540678f, 0.937581301f, 0.75f, -0.376200885f, 0.186737806f, 1.10000002f, -2});
}

TEST(Activation, SoftplusStaysFiniteForLargeInputs) {
  // F.softplus(torch.tensor([30., 100., -100.])) and its gradient for g = 1
  check([](const Tensor& x) { return softplus(x); }, {30, 100, 3.78350585e-44f}, {1, 1, 3.78350585e-44f},
        {30, 100, -100}, {1, 1, 1});
}

// x = [-3, 3, 0, 6, -1, 1], g = 1: exactly at the kinks.
TEST(Activation, GradientAtKinksFollowsTorch) {
  const std::vector<float> xb = {-3, 3, 0, 6, -1, 1}, ones(6, 1.0f);
  check([](const Tensor& x) { return hardswish(x); }, {0, 3, 0, 6, -0.333333343f, 0.666666687f},
        {-0.5f, 1.5f, 0.5f, 1, 0.166666657f, 0.833333373f}, xb, ones);
  check([](const Tensor& x) { return hardsigmoid(x); }, {0, 1, 0.5f, 1, 0.333333343f, 0.666666687f},
        {0, 0, 0.166666672f, 0, 0.166666672f, 0.166666672f}, xb, ones);
  check([](const Tensor& x) { return relu6(x); }, {0, 3, 0, 6, 0, 1}, {0, 1, 0, 0, 0, 1}, xb, ones);
  check([](const Tensor& x) { return hardtanh(x); }, {-1, 1, 0, 1, -1, 1}, {0, 0, 1, 0, 0, 0}, xb, ones);
  check([](const Tensor& x) { return relu(x); }, {0, 3, 0, 6, 0, 1}, {0, 1, 0, 1, 0, 1}, xb, ones);
}

// x = [[[-1, 2], [0.5, -3]], [[4, -0.5], [-2, 1]]] (N=2, C=2, L=2), w = [0.25, -0.1],
// g = [1, -2, 0.5, 3, -1, 2, 1.5, 0.7]; y = F.prelu(x, w); y.backward(g)
TEST(Activation, PreluPerChannelWeightAndItsGradient) {
  std::vector<float> xv = {-1, 2, 0.5f, -3, 4, -0.5f, -2, 1};
  Tensor x = from_blob(xv.data(), {2, 2, 2}).clone().requires_grad_();
  Tensor w = tensor({0.25f, -0.1f}, requires_grad());
  Tensor y = prelu(x, w);
  expect_values(y, {-0.25f, 2, 0.5f, 0.300000012f, 4, -0.125f, 0.200000003f, 1});
  std::vector<float> gv = {1, -2, 0.5f, 3, -1, 2, 1.5f, 0.7f};
  y.backward(from_blob(gv.data(), {2, 2, 2}).clone());
  expect_values(x.grad(), {0.25f, -2, 0.5f, -0.300000012f, -1, 0.5f, -0.150000006f, 0.699999988f});
  expect_values(w.grad(), {-2, -12});
}

TEST(Activation, PreluSingleWeightBroadcastsOverChannels) {
  std::vector<float> xv = {-1, 2, 0.5f, -3, 4, -0.5f, -2, 1};
  Tensor x = from_blob(xv.data(), {2, 2, 2}).clone().requires_grad_();
  Tensor w = tensor({0.3f}, requires_grad());
  Tensor y = prelu(x, w);
  expect_values(y, {-0.300000012f, 2, 0.5f, -0.900000036f, 4, -0.150000006f, -0.600000024f, 1});
  std::vector<float> gv = {1, -2, 0.5f, 3, -1, 2, 1.5f, 0.7f};
  y.backward(from_blob(gv.data(), {2, 2, 2}).clone());
  expect_values(x.grad(), {0.300000012f, -2, 0.5f, 0.900000036f, -1, 0.600000024f, 0.450000018f, 0.699999988f});
  expect_values(w.grad(), {-14});
}

TEST(Activation, PreluRejectsWrongWeightCount) {
  Tensor x = zeros({2, 3, 4});
  EXPECT_THROW(prelu(x, zeros({2})), ShapeError);
  EXPECT_THROW(prelu(x, zeros({3, 1})), ShapeError);
  EXPECT_NO_THROW(prelu(x, zeros({3})));
}

TEST(Activation, NonContiguousInputGivesSameResult) {
  // A (3, 2) view over a (2, 3) buffer, read column-major: relu must follow the strides.
  std::vector<float> buf = {-1, 2, -3, 4, -5, 6};
  Tensor xt = from_blob(buf.data(), {3, 2}, {1, 3});
  Tensor y = relu(xt);
  expect_values(y, {0, 4, 2, 0, 0, 6});
  Tensor s = sigmoid(xt);
  EXPECT_NEAR(s.to_vector()[1], 1.0f / (1.0f + std::exp(-4.0f)), 1e-6f);
}

TEST(Activation, GradientArrivingStridedIsHandled) {
  Tensor x = tensor({-1.0f, 2.0f, -3.0f, 4.0f}, requires_grad());
  Tensor y = tanh(x);
  std::vector<float> gbuf = {1, 0, 2, 0, 3, 0, 4, 0};
  y.backward(from_blob(gbuf.data(), {4}, {2}));  // every other element
  std::vector<float> gx = x.grad().to_vector();
  for (int i = 0; i < 4; ++i) {
    const float t = std::tanh(x.to_vector()[i]);
    EXPECT_NEAR(gx[i], (i + 1) * (1 - t * t), 1e-5f);
  }
}

TEST(Activation, ErrorsNameTheProblem) {
  EXPECT_THROW(gelu(zeros({2}), "fast"), ValueError);
  EXPECT_THROW(relu(zeros({2}, kLong)), TypeError);
  EXPECT_THROW(hardtanh(zeros({2}), 1, -1), ValueError);
}

TEST(Activation, NoGradModeRecordsNothing) {
  Tensor x = tensor({-1.0f, 1.0f}, requires_grad());
  NoGradGuard guard;
  Tensor y = relu(x);
  EXPECT_FALSE(y.requires_grad());
}

TEST(Activation, InPlaceMethodsMatchOutOfPlace) {
  Tensor x = tensor(kX);
  Tensor a = x.clone(), b = x.clone(), c = x.clone();
  a.relu_();
  b.sigmoid_();
  c.tanh_();
  expect_values(a, relu(x).to_vector());
  expect_values(b, sigmoid(x).to_vector());
  expect_values(c, tanh(x).to_vector());
  Tensor leaf = tensor(kX, requires_grad());
  EXPECT_THROW(leaf.relu_(), ValueError);
}

TEST(Activation, PrimitivesAreCachedPerShape) {
  Tensor x = randn({7, 13});
  relu(x);
  const size_t before = kernels::onednn::cache_size();
  for (int i = 0; i < 3; ++i) relu(x);
  EXPECT_EQ(kernels::onednn::cache_size(), before);
}
