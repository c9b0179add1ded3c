// Batch, layer, group and instance norm against PyTorch 1.13: outputs, input/weight/bias
// gradients and running-statistic updates for every mode, the error paths, and the
// multi-threaded kernels against the single-threaded ones. Inputs are deterministic
// sequences that the torch snippets rebuild in double and round to float32:
//   seq(n, a, b, s)[i] = sin(a*i + b)*s + 0.1*(i % 5),   dyseq(n, a)[i] = cos(a*i)
// Only core and autograd are used, so these tests do not depend on other op families.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/ops/norm.h"

namespace cnnkit {
namespace {

Tensor make(const std::vector<int64_t>& sizes, const std::vector<float>& v, bool grad = false) {
  Tensor t = cnnkit::empty(sizes);
  EXPECT_EQ(static_cast<size_t>(t.numel()), v.size());
  if (!v.empty()) std::memcpy(t.data_ptr<float>(), v.data(), v.size() * sizeof(float));
  if (grad) t.set_requires_grad(true);
  return t;
}

Tensor seq(const std::vector<int64_t>& sizes, double a, double b, double scale = 2.0,
           bool grad = true) {
  Tensor t = cnnkit::empty(sizes);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    p[i] = static_cast<float>(std::sin(a * i + b) * scale + 0.1 * (i % 5));
  if (grad) t.set_requires_grad(true);
  return t;
}

Tensor dyseq(IntArrayRef sizes, double a) {
  Tensor t = cnnkit::empty(sizes);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(std::cos(a * i));
  return t;
}

// |actual - expected| <= atol + rtol |expected| element-wise.
void expect_close(const Tensor& actual, const std::vector<float>& expected, const char* what,
                  double atol = 2e-5, double rtol = 1e-4) {
  ASSERT_TRUE(actual.defined()) << what << " is undefined";
  std::vector<float> a = actual.to_vector();
  ASSERT_EQ(a.size(), expected.size()) << what;
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], expected[i], atol + rtol * std::fabs(expected[i])) << what << "[" << i << "]";
}

// ---- batch norm ---------------------------------------------------------------------------

// x = seq(24, .37, 0).view(2,3,2,2); w = [1.5,-.5,2]; b = [.1,.2,-.3]; rm = [.5,-1,0]; rv = [2,.5,1]
// y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)
// y.backward(dyseq(24, .11).view_as(y))
TEST(BatchNorm, Train4dAffineMomentum01MatchesTorch) {
  const std::vector<float> y = {0.31802177f, 1.1740685f, 1.9283274f, 2.4927869f, -0.4437879f,
      -0.1888988f, -0.064271554f, 0.17748819f, -0.43355918f, -1.3640928f, -2.9522257f, -3.5986435f,
      -1.4770528f, -1.4398443f, -1.1224947f, -1.0738128f, 1.1871309f, 0.73943627f, 0.2927438f,
      -0.099841267f, 1.2294236f, 1.6619704f, 1.699729f, 1.3573985f};
  const std::vector<float> rm = {0.42903358f, -0.7793352f, 0.075244613f};
  const std::vector<float> rv = {2.0378048f, 0.54681915f, 1.1134036f};
  const std::vector<float> dx = {0.42642492f, 0.18368635f, -0.043430485f, -0.23038834f,
      -0.12340274f, -0.18999851f, -0.20246303f, -0.25338155f, 1.0364941f, 0.56157583f, -0.16717316f,
      -0.5543502f, 0.14045909f, 0.018038753f, -0.18352494f, -0.31126532f, -0.13739769f,
      0.087358229f, 0.30980524f, 0.50948018f, -0.14002052f, -0.10414137f, -0.20290217f,
      -0.42948282f};
  const std::vector<float> dw = {3.1875286f, 2.7434623f, -4.0582995f};
  const std::vector<float> db = {4.2560735f, 1.8882751f, -0.8392334f};
  Tensor x = seq({2, 3, 2, 2}, 0.37, 0.0);
  Tensor w = make({3}, {1.5f, -0.5f, 2.0f}, true), b = make({3}, {0.1f, 0.2f, -0.3f}, true);
  Tensor run_mean = make({3}, {0.5f, -1.0f, 0.0f}), run_var = make({3}, {2.0f, 0.5f, 1.0f});
  Tensor out = batch_norm(x, w, b, run_mean, run_var, true, 0.1, 1e-5);
  expect_close(out, y, "y");
  expect_close(run_mean, rm, "running_mean");
  expect_close(run_var, rv, "running_var");
  EXPECT_FALSE(run_mean.requires_grad());
  out.backward(dyseq(out.sizes(), 0.11));
  expect_close(x.grad(), dx, "dx");
  expect_close(w.grad(), dw, "dweight");
  expect_close(b.grad(), db, "dbias");
}

// x = seq(24, .53, 1).view(3,2,4); rm = zeros(2); rv = ones(2)
// y = F.batch_norm(x, rm, rv, None, None, training=True, momentum=0.5, eps=1e-3)
// y.backward(dyseq(24, .23).view_as(y))
TEST(BatchNorm, Train3dNoAffineMomentum05MatchesTorch) {
  const std::vector<float> y = {1.1097947f, 1.4181139f, 1.3194553f, 0.86125565f, 0.14334644f,
      -0.8139345f, -1.2528737f, -1.3723352f, -1.1992675f, -0.57125282f, -0.11438072f, 0.70675933f,
      1.1688492f, 1.3970948f, 1.2547841f, 0.46166188f, -0.14705066f, -0.81088978f, -1.2497336f,
      -1.3228037f, -1.2680517f, -0.65969753f, 0.10537519f, 0.8357811f};
  const std::vector<float> rm = {0.093865663f, 0.11551615f};
  const std::vector<float> rv = {1.489552f, 1.6941835f};
  const std::vector<float> dx = {0.377253f, 0.23837593f, 0.21895301f, 0.30365843f, 0.54376483f,
      0.19325727f, -0.05419375f, -0.23591541f, 0.3313089f, -0.069676466f, -0.38570905f,
      -0.81668162f, -0.2600145f, -0.24908514f, -0.2870433f, -0.43717015f, -0.51575905f,
      -0.15528035f, 0.14622398f, 0.32733324f, -0.26155451f, 0.031524036f, 0.35598063f, 0.66045004f};
  Tensor x = seq({3, 2, 4}, 0.53, 1.0);
  Tensor run_mean = make({2}, {0.0f, 0.0f}), run_var = make({2}, {1.0f, 1.0f});
  Tensor out = batch_norm(x, {}, {}, run_mean, run_var, true, 0.5, 1e-3);
  expect_close(out, y, "y");
  expect_close(run_mean, rm, "running_mean");
  expect_close(run_var, rv, "running_var");
  out.backward(dyseq(out.sizes(), 0.23));
  expect_close(x.grad(), dx, "dx");
}

// x = seq(12, .71, .3).view(4,3); w = [.7,1.2,-1.1]; b = [0,.5,1]
// y = F.batch_norm(x, None, None, w, b, training=True); y.backward(dyseq(12, .31).view_as(y))
TEST(BatchNorm, Train2dWithoutRunningStatsMatchesTorch) {
  const std::vector<float> y = {0.11043677f, 1.5392413f, -0.12049337f, 0.63641506f, 0.30348432f,
      2.4370224f, -1.168371f, -1.3853019f, 1.6988655f, 0.42151913f, 1.5425762f, -0.015394472f};
  const std::vector<float> dx = {0.45724985f, 0.75798035f, -0.68977094f, 0.18928395f, 0.3809261f,
      -0.2832832f, -0.06388317f, -0.16207469f, 0.36297631f, -0.58265066f, -0.97683185f, 0.6100778f};
  const std::vector<float> dw = {0.61197293f, 0.78957015f, 0.41312754f};
  const std::vector<float> db = {0.37381953f, -0.2859903f, -0.91853595f};
  Tensor x = seq({4, 3}, 0.71, 0.3);
  Tensor w = make({3}, {0.7f, 1.2f, -1.1f}, true), b = make({3}, {0.0f, 0.5f, 1.0f}, true);
  Tensor out = batch_norm(x, w, b, {}, {}, true, 0.1, 1e-5);
  expect_close(out, y, "y");
  out.backward(dyseq(out.sizes(), 0.31));
  expect_close(x.grad(), dx, "dx");
  expect_close(w.grad(), dw, "dweight");
  expect_close(b.grad(), db, "dbias");
}

// x = seq(24, .29, .7).view(2,3,2,2); w = [1.5,-.5,2]; b = [.1,.2,-.3]; rm = [.5,-1,.25]; rv = [2,.5,1.5]
// y = F.batch_norm(x, rm, rv, w, b, training=False); y.backward(dyseq(24, .17).view_as(y))
TEST(BatchNorm, EvalUsesRunningStatsAndLeavesThemMatchesTorch) {
  const std::vector<float> y = {0.93625987f, 1.4492114f, 1.814056f, 2.0091829f, -2.1454089f,
      -1.6906414f, -1.4905834f, -1.2142977f, 0.17779016f, -0.60246998f, -2.1535079f, -2.7673547f,
      -2.0459158f, -2.1714349f, -2.1249769f, -2.4318926f, 0.56688952f, 0.21091634f, -0.21683024f,
      -0.68653333f, -0.0056703421f, 1.0403394f, 1.9539582f, 2.6725249f};
  const std::vector<float> dx = {1.0606575f, 1.045368f, 0.99993986f, 0.92568308f, -0.54982144f,
      -0.46667391f, -0.37007195f, -0.2628006f, 0.34168416f, 0.066601425f, -0.21040149f,
      -0.48133841f, -0.47960407f, -0.63274223f, -0.76763803f, -0.88040257f, 0.64518487f,
      0.68483824f, 0.70474732f, 0.70433825f, -1.5787696f, -1.4854122f, -1.3492298f, -1.1741483f};
  const std::vector<float> dw = {7.6569757f, 7.0575428f, -2.2248194f};
  const std::vector<float> db = {1.1985598f, -1.5411417f, -3.5952592f};
  Tensor x = seq({2, 3, 2, 2}, 0.29, 0.7);
  Tensor w = make({3}, {1.5f, -0.5f, 2.0f}, true), b = make({3}, {0.1f, 0.2f, -0.3f}, true);
  Tensor run_mean = make({3}, {0.5f, -1.0f, 0.25f}), run_var = make({3}, {2.0f, 0.5f, 1.5f});
  Tensor out = batch_norm(x, w, b, run_mean, run_var, false, 0.1, 1e-5);
  expect_close(out, y, "y");
  expect_close(run_mean, {0.5f, -1.0f, 0.25f}, "running_mean unchanged", 0, 0);
  expect_close(run_var, {2.0f, 0.5f, 1.5f}, "running_var unchanged", 0, 0);
  out.backward(dyseq(out.sizes(), 0.17));
  expect_close(x.grad(), dx, "dx");
  expect_close(w.grad(), dw, "dweight");
  expect_close(b.grad(), db, "dbias");
}

// x = seq(12, .71, .3).view(4,3); w = [.7,1.2,-1.1]; b = [0,.5,1]; rm = [.2,-.4,.1]; rv = [1.5,.8,2.5]
// y = F.batch_norm(x, rm, rv, w, b, training=False); y.backward(dyseq(12, .31).view_as(y))
TEST(BatchNorm, Eval2dMatchesTorch) {
  const std::vector<float> y = {0.22349748f, 3.4430902f, -0.44551054f, 0.80363983f, 1.5775794f,
      1.9748493f, -1.186999f, -0.97182894f, 1.2762786f, 0.56661445f, 3.4481246f, -0.34604794f};
  const std::vector<float> dx = {0.57154572f, 1.2776816f, -0.56621504f, 0.34168947f, 0.43575725f,
      -0.014466956f, -0.16299859f, -0.75666064f, 0.54891735f, -0.53658164f, -1.3404721f,
      0.67078984f};
  const std::vector<float> dw = {0.7292968f, 0.86442655f, 0.069394618f};
  const std::vector<float> db = {0.37381953f, -0.2859903f, -0.91853595f};
  Tensor x = seq({4, 3}, 0.71, 0.3);
  Tensor w = make({3}, {0.7f, 1.2f, -1.1f}, true), b = make({3}, {0.0f, 0.5f, 1.0f}, true);
  Tensor run_mean = make({3}, {0.2f, -0.4f, 0.1f}), run_var = make({3}, {1.5f, 0.8f, 2.5f});
  Tensor out = batch_norm(x, w, b, run_mean, run_var, false, 0.1, 1e-5);
  expect_close(out, y, "y");
  out.backward(dyseq(out.sizes(), 0.31));
  expect_close(x.grad(), dx, "dx");
  expect_close(w.grad(), dw, "dweight");
  expect_close(b.grad(), db, "dbias");
}

TEST(BatchNorm, SkipsGradientsNobodyNeeds) {
  Tensor x = seq({2, 3, 2, 2}, 0.37, 0.0, 2.0, /*grad=*/false);
  Tensor w = make({3}, {1.5f, -0.5f, 2.0f}, true), b = make({3}, {0.1f, 0.2f, -0.3f});
  Tensor out = batch_norm(x, w, b, {}, {}, true, 0.1, 1e-5);
  ASSERT_TRUE(out.requires_grad());
  out.backward(dyseq(out.sizes(), 0.11));
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  // dweight as in Train4dAffineMomentum01MatchesTorch (same x, w, dy)
  expect_close(w.grad(), {3.1875286f, 2.7434623f, -4.0582995f}, "dweight");
  {
    NoGradGuard no_grad;
    EXPECT_FALSE(batch_norm(x, w, b, {}, {}, true, 0.1, 1e-5).requires_grad());
  }
}

TEST(BatchNorm, NonContiguousInputAndGradientMatchContiguous) {
  // x4 is bn4d_train's input stored as (N, H, W, C) and viewed as (N, C, H, W).
  Tensor ref_x = seq({2, 3, 2, 2}, 0.37, 0.0);
  std::vector<float> ref = ref_x.to_vector(), nhwc(24);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int s = 0; s < 4; ++s) nhwc[(n * 4 + s) * 3 + c] = ref[(n * 3 + c) * 4 + s];
  Tensor base = make({2, 2, 2, 3}, nhwc);
  auto impl = std::make_shared<TensorImpl>(*base.unsafeGetTensorImpl());
  impl->sizes = {2, 3, 2, 2};
  impl->strides = {12, 1, 6, 3};
  Tensor x(impl);
  x.set_requires_grad(true);
  ASSERT_FALSE(x.is_contiguous());
  Tensor w = make({3}, {1.5f, -0.5f, 2.0f}), b = make({3}, {0.1f, 0.2f, -0.3f});
  Tensor out = batch_norm(x, w, b, {}, {}, true, 0.1, 1e-5);
  Tensor out_ref = batch_norm(ref_x, w, b, {}, {}, true, 0.1, 1e-5);
  expect_close(out, out_ref.to_vector(), "y", 1e-6, 0);
  // A non-contiguous upstream gradient: the same values, laid out channels-last.
  std::vector<float> g = dyseq({2, 3, 2, 2}, 0.11).to_vector(), g_nhwc(24);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int s = 0; s < 4; ++s) g_nhwc[(n * 4 + s) * 3 + c] = g[(n * 3 + c) * 4 + s];
  Tensor gbase = make({2, 2, 2, 3}, g_nhwc);
  auto gimpl = std::make_shared<TensorImpl>(*gbase.unsafeGetTensorImpl());
  gimpl->sizes = {2, 3, 2, 2};
  gimpl->strides = {12, 1, 6, 3};
  out.backward(Tensor(gimpl));
  out_ref.backward(dyseq({2, 3, 2, 2}, 0.11));
  expect_close(x.grad(), ref_x.grad().to_vector(), "dx", 1e-6, 0);
}

TEST(BatchNorm, RejectsBadArguments) {
  Tensor x = seq({4, 64}, 0.3, 0.0);
  Tensor c64 = make({64}, std::vector<float>(64, 1.0f)), c32 = make({32}, std::vector<float>(32, 1.0f));
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THROW(batch_norm(x, {}, {}, c32, c64, true, 0.1, 1e-5), ShapeError);
  EXPECT_NE(message([&] { batch_norm(x, {}, {}, c32, c64, true, 0.1, 1e-5); })
                .find("running_mean should contain 64 elements not 32"),
            std::string::npos);
  EXPECT_THROW(batch_norm(x, {}, {}, c64, c32, true, 0.1, 1e-5), ShapeError);
  EXPECT_THROW(batch_norm(x, c32, {}, {}, {}, true, 0.1, 1e-5), ShapeError);
  EXPECT_THROW(batch_norm(x, {}, c32, {}, {}, true, 0.1, 1e-5), ShapeError);
  // training with one value per channel: PyTorch's ValueError
  Tensor one = seq({1, 64}, 0.3, 0.0);
  EXPECT_THROW(batch_norm(one, {}, {}, c64, c64, true, 0.1, 1e-5), ValueError);
  EXPECT_NE(message([&] { batch_norm(one, {}, {}, c64, c64, true, 0.1, 1e-5); })
                .find("Expected more than 1 value per channel when training, got input size [1, 64]"),
            std::string::npos);
  EXPECT_THROW(batch_norm(seq({1, 3, 1, 1}, 0.3, 0.0), {}, {}, {}, {}, true, 0.1, 1e-5), ValueError);
  EXPECT_NO_THROW(batch_norm(one, {}, {}, c64, c64, false, 0.1, 1e-5));  // eval is fine
  // eval needs running statistics
  EXPECT_THROW(batch_norm(x, {}, {}, {}, {}, false, 0.1, 1e-5), ValueError);
  EXPECT_THROW(batch_norm(x, {}, {}, c64, {}, false, 0.1, 1e-5), ValueError);
  // rank and dtype
  EXPECT_THROW(batch_norm(seq({4}, 0.3, 0.0), {}, {}, {}, {}, true, 0.1, 1e-5), ShapeError);
  EXPECT_THROW(batch_norm(cnnkit::empty({4, 3}, kLong), {}, {}, {}, {}, true, 0.1, 1e-5), TypeError);
  EXPECT_THROW(batch_norm(Tensor(), {}, {}, {}, {}, true, 0.1, 1e-5), ValueError);
}

TEST(Norms, EmptyBatchGivesEmptyOutputAndKeepsRunningStats) {
  // PyTorch: F.batch_norm(torch.randn(0, 3), rm, rv, training=True) leaves rm, rv as they were.
  Tensor x = seq({0, 3}, 0.3, 0.0);
  Tensor run_mean = make({3}, {0.5f, -1.0f, 0.0f}), run_var = make({3}, {2.0f, 0.5f, 1.0f});
  Tensor y = batch_norm(x, {}, {}, run_mean, run_var, true, 0.1, 1e-5);
  EXPECT_EQ(y.sizes(), IntArrayRef({0, 3}));
  expect_close(run_mean, {0.5f, -1.0f, 0.0f}, "running_mean", 0, 0);
  expect_close(run_var, {2.0f, 0.5f, 1.0f}, "running_var", 0, 0);
  y.backward(cnnkit::empty({0, 3}));
  EXPECT_EQ(x.grad().sizes(), IntArrayRef({0, 3}));
  EXPECT_EQ(layer_norm(seq({0, 4}, 0.3, 0.0), {4}).sizes(), IntArrayRef({0, 4}));
  EXPECT_EQ(group_norm(seq({0, 4, 2}, 0.3, 0.0), 2).sizes(), IntArrayRef({0, 4, 2}));
  EXPECT_EQ(instance_norm(seq({0, 4, 2}, 0.3, 0.0), {}, {}, {}, {}, true, 0.1, 1e-5).sizes(),
            IntArrayRef({0, 4, 2}));
}

// ---- layer norm ---------------------------------------------------------------------------

// x = seq(15, .41, .2).view(3,5); w = [1,.5,-1,2,.3]; b = [.1,-.1,.2,0,.5]
// y = F.layer_norm(x, (5,), w, b, 1e-5); y.backward(dyseq(15, .13).view_as(y))
TEST(LayerNorm, OneDimAffineMatchesTorch) {
  const std::vector<float> y = {-1.5939631f, -0.36455119f, -0.17500199f, 1.782492f, 0.78704512f,
      1.4589512f, 0.28824717f, 0.17479177f, -1.5043008f, 0.077448957f, -0.70494199f, -0.55799502f,
      0.68295175f, 0.89919561f, 1.0262855f};
  const std::vector<float> dx = {0.45238072f, -0.10527372f, -2.0083511f, 1.9180171f, -0.25677282f,
      0.38432893f, -0.046843231f, -1.0437216f, 0.81532502f, -0.10908891f, 0.29904258f,
      -0.043452382f, -0.10367781f, -0.31985742f, 0.16794497f};
  const std::vector<float> dw = {-0.82744515f, -0.10115979f, 0.3726556f, 0.39010084f, -0.15184918f};
  const std::vector<float> db = {2.0635827f, 1.8428071f, 1.5909318f, 1.3122078f, 1.0113385f};
  Tensor x = seq({3, 5}, 0.41, 0.2);
  Tensor w = make({5}, {1.0f, 0.5f, -1.0f, 2.0f, 0.3f}, true);
  Tensor b = make({5}, {0.1f, -0.1f, 0.2f, 0.0f, 0.5f}, true);
  Tensor out = layer_norm(x, {5}, w, b, 1e-5);
  expect_close(out, y, "y");
  out.backward(dyseq(out.sizes(), 0.13));
  expect_close(x.grad(), dx, "dx");
  expect_close(w.grad(), dw, "dweight");
  expect_close(b.grad(), db, "dbias");
}

// x = seq(24, .61, .9).view(2,3,4); y = F.layer_norm(x, (3,4)); y.backward(dyseq(24, .19).view_as(y))
TEST(LayerNorm, TwoDimsWithoutAffineMatchesTorch) {
  const std::vector<float> y = {0.8025493f, 1.1738181f, 1.0403368f, 0.47553694f, -0.29157174f,
      -1.3094902f, -1.6112195f, -1.4131248f, -0.76137537f, 0.13422444f, 0.62542808f, 1.1348882f,
      1.1290084f, 0.68070167f, -0.047747925f, -1.1151074f, -1.5433288f, -1.4994727f, -0.97435999f,
      -0.13240272f, 0.40117991f, 1.0269699f, 1.1977204f, 0.87683916f};
  const std::vector<float> dx = {0.39592972f, 0.37211934f, 0.33875516f, 0.29496863f, 0.23604259f,
      0.16639313f, 0.060471088f, -0.071059048f, -0.22228603f, -0.38214752f, -0.52631348f,
      -0.66287374f, -0.039592743f, -0.07830292f, -0.064682722f, 0.010729134f, 0.035190642f,
      0.029188514f, -0.0083211064f, -0.058949053f, -0.051210463f, -0.034539521f, 0.051907241f,
      0.20858368f};
  Tensor x = seq({2, 3, 4}, 0.61, 0.9);
  Tensor out = layer_norm(x, {3, 4});
  expect_close(out, y, "y");
  out.backward(dyseq(out.sizes(), 0.19));
  expect_close(x.grad(), dx, "dx");
}

// x = seq(24, .23, .4).view(2,2,3,2); w = seq(12, .9, .1, 1).view(2,3,2)
// y = F.layer_norm(x, (2,3,2), w, None, 1e-3); y.backward(dyseq(24, .27).view_as(y))
TEST(LayerNorm, ThreeDimsWeightOnlyMatchesTorch) {
  const std::vector<float> w_in = {0.099833414f, 0.94147098f, 1.1463001f, 0.63498813f, -0.12983614f,
      -0.99369103f, -0.60554034f, 0.31654921f, 1.1504366f, 1.3407305f, 0.31909835f, -0.44402111f};
  const std::vector<float> y = {-0.14284086f, -0.52251166f, 0.24299705f, 0.53274566f, -0.16907547f,
      -0.70529729f, -0.4901363f, 0.23057017f, 0.55241418f, 0.11678044f, -0.41408116f, 0.83680439f,
      0.20731845f, 1.4304191f, 1.1494085f, -0.14154311f, 0.072160207f, 0.7504701f, 0.48594537f,
      -0.21740972f, -1.3703169f, -1.0078323f, -0.053782281f, -0.23795407f};
  const std::vector<float> dx = {-0.15945345f, 1.4099584f, 1.6772653f, 0.83077693f, 0.036878884f,
      -0.34119177f, 0.11009407f, -0.13051152f, -1.1208136f, -1.8491044f, -0.81706136f, 0.35316259f,
      1.1169178f, -0.43400609f, -0.80417204f, -0.69274652f, -0.19734216f, -0.20211768f,
      -0.56025708f, -0.15077055f, 0.49758762f, 1.3312182f, 0.42429292f, -0.32860494f};
  const std::vector<float> dw = {-3.4973891f, -1.952288f, -0.62340313f, 0.71556717f, 0.82630229f,
      0.24764736f, -0.1578383f, -0.50713104f, -1.0228347f, -0.68072218f, 1.014462f, 2.3914003f};
  Tensor x = seq({2, 2, 3, 2}, 0.23, 0.4);
  Tensor w = seq({2, 3, 2}, 0.9, 0.1, 1.0);
  expect_close(w, w_in, "weight", 0, 0);
  Tensor out = layer_norm(x, {2, 3, 2}, w, {}, 1e-3);
  expect_close(out, y, "y");
  out.backward(dyseq(out.sizes(), 0.27));
  expect_close(x.grad(), dx, "dx");
  expect_close(w.grad(), dw, "dweight");
}

TEST(LayerNorm, RejectsMismatchedShapes) {
  Tensor x = seq({4, 3, 5}, 0.3, 0.0);
  EXPECT_THROW(layer_norm(x, {3, 4}), ShapeError);
  try {
    layer_norm(x, {3, 4});
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("normalized_shape=[3, 4]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[4, 3, 5]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(layer_norm(x, {2, 4, 3, 5}), ShapeError);  // more dims than the input
  EXPECT_THROW(layer_norm(x, {}), ShapeError);
  EXPECT_THROW(layer_norm(x, {5}, make({4}, {1, 1, 1, 1})), ShapeError);
  EXPECT_THROW(layer_norm(x, {5}, {}, make({3}, {1, 1, 1})), ShapeError);
  EXPECT_THROW(layer_norm(cnnkit::empty({4, 5}, kLong), {5}), TypeError);
  EXPECT_NO_THROW(layer_norm(x, {3, 5}));
}

// ---- group norm ---------------------------------------------------------------------------

// x = seq(24, .47, .6).view(2,4,3); w = [1,-.5,2,.7]; b = [.1,.2,-.3,0]
// y = F.group_norm(x, G, w, b, 1e-5); y.backward(dyseq(24, .21).view_as(y))   for G in 1, 2, 4
void check_group_norm(int64_t G, const std::vector<float>& y, const std::vector<float>& dx,
                      const std::vector<float>& dw, const std::vector<float>& db) {
  SCOPED_TRACE("num_groups=" + std::to_string(G));
  Tensor x = seq({2, 4, 3}, 0.47, 0.6);
  Tensor w = make({4}, {1.0f, -0.5f, 2.0f, 0.7f}, true), b = make({4}, {0.1f, 0.2f, -0.3f, 0.0f}, true);
  Tensor out = group_norm(x, G, w, b, 1e-5);
  expect_close(out, y, "y");
  out.backward(dyseq(out.sizes(), 0.21));
  expect_close(x.grad(), dx, "dx");
  expect_close(w.grad(), dw, "dweight");
  expect_close(b.grad(), db, "dbias");
}

TEST(GroupNorm, OneGroupMatchesTorch) {
  const std::vector<float> y = {0.74785423f, 1.2351151f, 1.4667122f, -0.45349666f, -0.29174098f,
      0.1275398f, -1.1263049f, -2.082253f, -2.6415477f, -0.82381362f, -0.86066884f, -0.49253473f,
      -0.053936489f, 0.64816767f, 1.2259842f, -0.36155564f, -0.38616893f, -0.2659471f, 0.63786995f,
      -0.50225836f, -2.2715335f, -0.95267636f, -1.0335187f, -0.90452367f};
  const std::vector<float> dx = {0.4830631f, 0.3874898f, 0.30544066f, -0.56971711f, -0.46883571f,
      -0.27268142f, 0.39805466f, 0.20155777f, -0.033772938f, -0.033899054f, -0.11502714f,
      -0.28167281f, -0.24700138f, -0.34690723f, -0.41393957f, 0.61046386f, 0.60027397f, 0.58688885f,
      -0.8210746f, -0.60174215f, -0.32953826f, 0.21998215f, 0.32422325f, 0.41837168f};
  const std::vector<float> dw = {1.5255359f, -1.3306042f, 0.08515051f, 1.8539555f};
  const std::vector<float> db = {0.18193412f, -0.91277575f, -1.6570296f, -1.7650754f};
  check_group_norm(1, y, dx, dw, db);
}

TEST(GroupNorm, TwoGroupsMatchesTorch) {
  const std::vector<float> y = {-0.56895614f, 0.58286482f, 1.1303301f, -0.24458119f, 0.13778803f,
      1.1289129f, 3.1884768f, -0.032348618f, -1.916751f, -0.5802561f, -0.7044304f, 0.53590447f,
      -1.9003069f, -0.41445294f, 0.80837268f, -0.15114644f, -0.20323524f, 0.051188681f, 3.1800101f,
      1.605786f, -0.83712816f, -0.55063266f, -0.66225505f, -0.48414615f};
  const std::vector<float> dx = {1.2268959f, 0.94636369f, 0.72645426f, -1.3356113f, -1.0608836f,
      -0.50321919f, 0.60232627f, 0.55229616f, 0.11748016f, 0.12486935f, -0.08105576f, -1.3159163f,
      0.2336036f, -0.74655998f, -1.5210711f, 0.65000618f, 0.5745433f, 0.8094784f, 0.12225693f,
      -0.060829878f, -0.43906057f, -0.00013804436f, 0.045348048f, 0.33242375f};
  const std::vector<float> dw = {2.1476986f, -1.8831896f, -1.2606841f, 0.49278331f};
  const std::vector<float> db = {0.18193412f, -0.91277575f, -1.6570296f, -1.7650754f};
  check_group_norm(2, y, dx, dw, db);
}

TEST(GroupNorm, OneChannelPerGroupMatchesTorch) {
  const std::vector<float> y = {-1.2419078f, 0.38444707f, 1.1574602f, -0.30560505f, 0.02470739f,
      0.88089782f, 2.3332622f, -0.72266781f, -2.5105951f, -0.41498566f, -0.57082617f, 0.98581213f,
      -1.1623948f, 0.17916153f, 1.2832333f, -0.028136447f, -0.26541352f, 0.89354897f, 1.9554002f,
      0.050405357f, -2.9058056f, 0.14325528f, -0.91956574f, 0.77631146f};
  const std::vector<float> dx = {-0.017071724f, 0.053001404f, -0.035930157f, -0.016771972f,
      0.023239672f, -0.0064677298f, -0.058358669f, 0.15821505f, -0.099856973f, 0.22728205f,
      -0.20450258f, -0.022778988f, 0.0047783852f, -0.010579705f, 0.0058014393f, 0.074470401f,
      -0.059154987f, -0.01531589f, -0.017820358f, 0.029296041f, -0.011475444f, -1.4007139f,
      0.52246094f, 0.87825394f};
  const std::vector<float> dw = {-0.30370966f, 0.27027547f, 0.11917228f, -0.16066737f};
  const std::vector<float> db = {0.18193412f, -0.91277575f, -1.6570296f, -1.7650754f};
  check_group_norm(4, y, dx, dw, db);
}

// x = seq(32, .33, .1).view(2,4,2,2); y = F.group_norm(x, 2); y.backward(dyseq(32, .15).view_as(y))
TEST(GroupNorm, FourDimsWithoutAffineMatchesTorch) {
  const std::vector<float> y = {-2.0856724f, -0.96349978f, 0.021131128f, 0.77846092f, 1.2432586f,
      0.61751747f, 0.43146673f, -0.042663533f, 1.8463308f, 1.3166999f, 0.28031397f, -0.21027099f,
      -0.58308029f, -0.78727221f, -0.79020166f, -1.0725192f, -1.6285976f, -1.1603237f, -0.59851444f,
      0.0048262165f, 0.1936501f, 0.71220952f, 1.1136054f, 1.363145f, 1.4282656f, 0.94693154f,
      0.70894325f, 0.35618457f, -0.064809971f, -0.5001424f, -1.2866321f, -1.5887405f};
  const std::vector<float> dx = {0.046608806f, 0.1564492f, 0.21677732f, 0.21858203f, 0.15636504f,
      -0.0576123f, -0.24694574f, -0.49022424f, -0.066593572f, -0.045431055f, 0.12599307f,
      0.12880781f, 0.097323202f, 0.019248106f, -0.11225184f, -0.14709571f, 0.047969401f,
      0.0020755529f, -0.023298383f, -0.029950321f, -0.044334173f, -0.021127224f, 0.012981892f,
      0.055683136f, 0.015854061f, -0.028785706f, -0.0061769783f, 0.0043236017f, 0.010856837f,
      0.02291742f, -0.03495571f, 0.015966415f};
  Tensor x = seq({2, 4, 2, 2}, 0.33, 0.1);
  Tensor out = group_norm(x, 2);
  expect_close(out, y, "y");
  out.backward(dyseq(out.sizes(), 0.15));
  expect_close(x.grad(), dx, "dx");
}

TEST(GroupNorm, RejectsBadGroupsAndWeights) {
  Tensor x = seq({4, 6, 5}, 0.3, 0.0);
  EXPECT_THROW(group_norm(x, 4), ShapeError);
  EXPECT_THROW(group_norm(x, 0), ValueError);
  EXPECT_THROW(group_norm(x, 3, make({5}, {1, 1, 1, 1, 1})), ShapeError);
  EXPECT_THROW(group_norm(x, 3, {}, make({5}, {1, 1, 1, 1, 1})), ShapeError);
  EXPECT_THROW(group_norm(seq({6}, 0.3, 0.0), 3), ShapeError);
  EXPECT_NO_THROW(group_norm(x, 3));
}

// ---- instance norm ------------------------------------------------------------------------

// x = seq(24, .39, .8).view(2,3,2,2); y = F.instance_norm(x); y.backward(dyseq(24, .14).view_as(y))
// (nn::InstanceNorm2d's defaults: affine=false, track_running_stats=false)
TEST(InstanceNorm, DefaultsMatchTorch) {
  const std::vector<float> y = {-1.6532623f, 0.076930612f, 0.88291401f, 0.69341838f, 1.4640151f,
      0.26760206f, -0.48782265f, -1.2437947f, 1.3995509f, 0.40248203f, -1.2582642f, -0.54376835f,
      -1.4080869f, -0.44061705f, 0.68536878f, 1.1633352f, -1.6378428f, 0.016630294f, 0.84711719f,
      0.77409607f, 1.2810463f, 0.52152526f, -0.42054859f, -1.3820229f};
  const std::vector<float> dx = {-0.01830044f, 0.086043954f, 0.053107928f, -0.12085122f,
      -0.020647772f, 0.031073507f, 0.011842398f, -0.022268049f, 0.072386876f, 0.058515694f,
      0.2741937f, -0.40509632f, -0.0066025439f, -0.0014712291f, 0.040485937f, -0.032412156f,
      -0.03406876f, 0.11627028f, 0.079401195f, -0.16160272f, 0.016675517f, -0.015681555f,
      -0.015137879f, 0.014144087f};
  Tensor x = seq({2, 3, 2, 2}, 0.39, 0.8);
  Tensor out = instance_norm(x, {}, {}, {}, {}, true, 0.1, 1e-5);
  expect_close(out, y, "y");
  out.backward(dyseq(out.sizes(), 0.14));
  expect_close(x.grad(), dx, "dx");
}

// x = seq(24, .57, .2).view(2,3,4); w = [1.5,-.5,2]; b = [.1,.2,-.3]; rm = [.5,-1,0]; rv = [2,.5,1]
// y = F.instance_norm(x, rm, rv, w, b, use_input_stats=True, momentum=0.1)
// y.backward(dyseq(24, .29).view_as(y))
TEST(InstanceNorm, RunningStatsAveragedOverBatchMatchTorch) {
  const std::vector<float> y = {-2.3020675f, -0.031443179f, 1.3262436f, 1.4072672f, -0.54309458f,
      0.0658518f, 0.48857117f, 0.78867167f, -2.5196345f, -1.3630086f, -0.16783734f, 2.8504801f,
      -0.80039042f, 1.456647f, 1.6388276f, -1.8950833f, -0.5734722f, 0.097082026f, 0.57860845f,
      0.69778162f, -2.8982999f, -1.3330963f, 0.62465125f, 2.406745f};
  const std::vector<float> rm = {0.61975873f, -0.94936436f, -0.041536432f};
  const std::vector<float> rv = {1.8479999f, 0.58149695f, 1.046669f};
  const std::vector<float> dx = {-0.074370533f, 0.18400626f, 0.13773069f, -0.24736677f,
      0.016946001f, -0.025250753f, -0.014389219f, 0.022693966f, 0.19715545f, -0.09919811f,
      -0.21228513f, 0.11432806f, -1.056087f, -0.19911316f, 0.51596826f, 0.73923248f, -0.023534812f,
      0.040885452f, 0.045023929f, -0.062374536f, -0.069652759f, 0.066827767f, 0.067103706f,
      -0.064278625f};
  const std::vector<float> dw = {-0.75629079f, 0.096817851f, -0.36737436f};
  const std::vector<float> db = {0.72568822f, 1.2535628f, 0.27550602f};
  Tensor x = seq({2, 3, 4}, 0.57, 0.2);
  Tensor w = make({3}, {1.5f, -0.5f, 2.0f}, true), b = make({3}, {0.1f, 0.2f, -0.3f}, true);
  Tensor run_mean = make({3}, {0.5f, -1.0f, 0.0f}), run_var = make({3}, {2.0f, 0.5f, 1.0f});
  Tensor out = instance_norm(x, w, b, run_mean, run_var, true, 0.1, 1e-5);
  expect_close(out, y, "y");
  expect_close(run_mean, rm, "running_mean");
  expect_close(run_var, rv, "running_var");
  out.backward(dyseq(out.sizes(), 0.29));
  expect_close(x.grad(), dx, "dx");
  expect_close(w.grad(), dw, "dweight");
  expect_close(b.grad(), db, "dbias");
}

// as above with use_input_stats=False
TEST(InstanceNorm, EvalUsesRunningStatsMatchesTorch) {
  const std::vector<float> y = {-0.0088885278f, 1.1524591f, 1.8468701f, 1.8883109f, -1.6587873f,
      -0.63644892f, 0.073239513f, 0.57706755f, -3.6954503f, -2.7610447f, -1.7954992f, 0.64291513f,
      1.238317f, 1.9463583f, 2.003509f, 0.89490759f, -0.72571558f, -0.014079743f, 0.49694753f,
      0.62342185f, -3.5912979f, -1.6442848f, 0.79102772f, 3.007838f};
  const std::vector<float> dx = {1.0606575f, 1.0163686f, 0.88720047f, 0.68394017f, -0.28237286f,
      -0.085207477f, 0.11907379f, 0.31341094f, -1.362105f, -1.7239931f, -1.9419066f, -1.9976472f,
      -1.0005019f, -0.85803461f, -0.64391088f, -0.37601271f, 0.051141534f, -0.15266114f,
      -0.34371474f, -0.50606394f, 1.7710302f, 1.9627856f, 1.9906242f, 1.8522215f};
  const std::vector<float> dw = {-0.32721758f, 1.0414979f, 2.4298713f};
  const std::vector<float> db = {0.72568822f, 1.2535628f, 0.27550602f};
  Tensor x = seq({2, 3, 4}, 0.57, 0.2);
  Tensor w = make({3}, {1.5f, -0.5f, 2.0f}, true), b = make({3}, {0.1f, 0.2f, -0.3f}, true);
  Tensor run_mean = make({3}, {0.5f, -1.0f, 0.0f}), run_var = make({3}, {2.0f, 0.5f, 1.0f});
  Tensor out = instance_norm(x, w, b, run_mean, run_var, false, 0.1, 1e-5);
  expect_close(out, y, "y");
  expect_close(run_mean, {0.5f, -1.0f, 0.0f}, "running_mean unchanged", 0, 0);
  out.backward(dyseq(out.sizes(), 0.29));
  expect_close(x.grad(), dx, "dx");
  expect_close(w.grad(), dw, "dweight");
  expect_close(b.grad(), db, "dbias");
}

TEST(InstanceNorm, RejectsBadArguments) {
  Tensor c6 = make({6}, std::vector<float>(6, 1.0f)), c5 = make({5}, std::vector<float>(5, 1.0f));
  EXPECT_THROW(instance_norm(seq({4, 6, 1}, 0.3, 0.0), {}, {}, {}, {}, true, 0.1, 1e-5), ValueError);
  EXPECT_THROW(instance_norm(seq({4, 6}, 0.3, 0.0), {}, {}, {}, {}, true, 0.1, 1e-5), ValueError);
  Tensor x = seq({4, 6, 5}, 0.3, 0.0);
  EXPECT_THROW(instance_norm(x, {}, {}, {}, {}, false, 0.1, 1e-5), ValueError);
  EXPECT_THROW(instance_norm(x, {}, {}, c6, {}, false, 0.1, 1e-5), ValueError);
  EXPECT_THROW(instance_norm(x, {}, {}, c5, c6, true, 0.1, 1e-5), ShapeError);
  EXPECT_THROW(instance_norm(x, c5, {}, {}, {}, true, 0.1, 1e-5), ShapeError);
  EXPECT_THROW(instance_norm(seq({6}, 0.3, 0.0), {}, {}, {}, {}, true, 0.1, 1e-5), ShapeError);
}

// ---- threads ------------------------------------------------------------------------------

// Shapes above the grain size run the kernels' parallel paths (per-thread partial sums in
// layer norm's weight gradient, channel and group splits): they must give the serial result.
TEST(NormKernels, ParallelMatchesSerial) {
  struct Result {
    std::vector<std::vector<float>> v;
  };
  auto run = [](int threads) {
    const int prev = get_num_threads();
    set_num_threads(threads);
    Result r;
    auto add = [&](const Tensor& t) { r.v.push_back(t.to_vector()); };
    {
      Tensor x = seq({8, 16, 24, 24}, 0.013, 0.2), w = seq({16}, 0.7, 0.0), b = seq({16}, 0.3, 1.0);
      Tensor rm = make({16}, std::vector<float>(16, 0.0f)), rv = make({16}, std::vector<float>(16, 1.0f));
      Tensor y = batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5);
      y.backward(dyseq(y.sizes(), 0.0071));
      add(y), add(rm), add(rv), add(x.grad()), add(w.grad()), add(b.grad());
    }
    {
      // (N, C) input: the rows-with-channels-innermost loops
      Tensor x = seq({512, 128}, 0.013, 0.2), w = seq({128}, 0.7, 0.0), b = seq({128}, 0.3, 1.0);
      Tensor rm = make({128}, std::vector<float>(128, 0.0f)), rv = make({128}, std::vector<float>(128, 1.0f));
      Tensor y = batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5);
      y.backward(dyseq(y.sizes(), 0.0071));
      add(y), add(rm), add(rv), add(x.grad()), add(w.grad()), add(b.grad());
      Tensor x2 = seq({512, 128}, 0.017, 0.5);
      Tensor y2 = batch_norm(x2, w, b, rm, rv, false, 0.1, 1e-5);
      y2.backward(dyseq(y2.sizes(), 0.0031));
      add(y2), add(x2.grad());
    }
    {
      Tensor x = seq({96, 1000}, 0.011, 0.2), w = seq({1000}, 0.7, 0.0), b = seq({1000}, 0.3, 1.0);
      Tensor y = layer_norm(x, {1000}, w, b);
      y.backward(dyseq(y.sizes(), 0.0031));
      add(y), add(x.grad()), add(w.grad()), add(b.grad());
    }
    {
      Tensor x = seq({4, 32, 20, 20}, 0.017, 0.2), w = seq({32}, 0.7, 0.0), b = seq({32}, 0.3, 1.0);
      Tensor y = group_norm(x, 8, w, b);
      y.backward(dyseq(y.sizes(), 0.0053));
      add(y), add(x.grad()), add(w.grad()), add(b.grad());
    }
    set_num_threads(prev);
    return r;
  };
  Result serial = run(1), parallel = run(4);
  ASSERT_EQ(serial.v.size(), parallel.v.size());
  for (size_t i = 0; i < serial.v.size(); ++i) {
    SCOPED_TRACE("result " + std::to_string(i));
    ASSERT_EQ(serial.v[i].size(), parallel.v[i].size());
    for (size_t j = 0; j < serial.v[i].size(); ++j)
      ASSERT_NEAR(parallel.v[i][j], serial.v[i][j], 1e-5 + 1e-5 * std::fabs(serial.v[i][j])) << j;
  }
}

}  // namespace
}  // namespace cnnkit
