// Reductions against PyTorch 1.13 literals: values over all elements and over dim lists
// (negative dims, keepdim, the inner/outer/NCHW-bias fast paths and the permuted fallback),
// gradients from seeded backward calls, dtype rules, and every error path.
// Inputs are seq(sizes): x_i = sin(0.7 i + 0.3) (torch: the same formula in float64, then
// .float()); backward seeds are seq with other constants.
#include <gtest/gtest.h>

#include <cmath>

#include "cnnkit/autograd/node.h"
#include "cnnkit/ops/reduce.h"
#include "cnnkit/ops/shape.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::allclose;
using cnnkit::test::seq;
using cnnkit::test::lit;

namespace {

using cnnkit::test::error_of;
using cnnkit::test::contains;

template <typename T>
Tensor typed(std::vector<T> v, std::vector<int64_t> sizes, ScalarType dt) {
  Tensor t = cnnkit::empty(sizes, dt);
  std::copy(v.begin(), v.end(), static_cast<T*>(t.data_ptr()));
  return t;
}
std::vector<int64_t> as_longs(const Tensor& t) {
  std::vector<int64_t> out;
  const int64_t* p = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(p[i]);
  return out;
}

}  // namespace

// ---- sum / mean -----------------------------------------------------------------------------
TEST(Sum, AllAndDimListsMatchTorch) {
  // torch: x = seq(2,3,4); x.sum(); x.sum(1); x.sum((-1,0), keepdim=True); x.mean((0,2))
  Tensor x = seq({2, 3, 4});
  Tensor s = x.sum();
  EXPECT_EQ(s.dim(), 0);
  EXPECT_NEAR(s.item<float>(), 2.191925f, 1e-6);
  EXPECT_TRUE(allclose(x.sum(1), lit({-0.036775798f, 0.54115438f, 0.86457133f, 0.78136677f, 0.77428901f, 0.316834f,
                                      -0.28963301f, -0.75988114f},
                                     {2, 4}),
                       1e-6, 1e-6));
  EXPECT_TRUE(allclose(x.sum({-1, 0}, true), lit({1.8858569f, -2.4783072f, 2.7843759f}, {1, 3, 1}), 1e-6, 1e-6));
  EXPECT_TRUE(allclose(x.mean({0, 2}), lit({0.23573211f, -0.30978841f, 0.34804699f}, {3}), 1e-6, 1e-6));
  EXPECT_EQ(x.sum(IntArrayRef{}).dim(), 0);  // an empty dim list reduces everything, as torch
}

TEST(Sum, NchwBiasPathAndScatteredDimsMatchTorch) {
  // torch: x = seq(2,3,4,5); x.sum((0,2,3)); x.sum((1,3)); seq(4,3).t().sum(1)
  Tensor x = seq({2, 3, 4, 5});
  EXPECT_TRUE(allclose(x.sum({0, 2, 3}), {-0.66886652f, 1.8793069f, 1.182809f}, 1e-5, 1e-6));
  EXPECT_TRUE(allclose(x.sum({1, 3}), lit({0.029100418f, 1.2546052f, -2.3788676f, 3.2008076f, 3.3375778f,
                                           -3.6475763f, 3.4940171f, -2.8964155f},
                                          {2, 4}),
                       1e-5, 1e-6));
  EXPECT_TRUE(allclose(seq({4, 3}).t().sum(1), {0.30499461f, 0.85003358f, 0.99528849f}, 1e-6, 1e-6));
}

TEST(Sum, LargeArraysAccumulatePrecisely) {
  // torch: torch.full((1000003,), 0.1).sum() == 100000.3046875 (exact: 100000.30149...)
  Tensor big = cnnkit::empty({1000003});
  std::fill(big.data_ptr<float>(), big.data_ptr<float>() + big.numel(), 0.1f);
  EXPECT_EQ(big.sum().item<float>(), 100000.3046875f);
  // torch: seq(100000, a=0.01).sum() = 65.91264 (float), 65.91262205 (float64)
  EXPECT_NEAR(seq({100000}, 0.01).sum().item<float>(), 65.91262205f, 2e-5);
  // torch: x = seq(257, 1031, a=0.013); x.double().sum(0)[:4]: the outer-dim (column) path
  std::vector<float> col = seq({257, 1031}, 0.013).sum(0).to_vector();
  EXPECT_NEAR(col[0], 0.8542081066407263, 1e-6);
  EXPECT_NEAR(col[1], 0.871293680742383, 1e-6);
  EXPECT_NEAR(col[3], 0.9050195054151118, 1e-6);
}

TEST(Sum, GradientBroadcastsBack) {
  // torch: x = seq(2,3,4); x.sum(1).backward(seq(2,4,a=0.3))
  Tensor x = seq({2, 3, 4}).requires_grad_();
  x.sum(1).backward(seq({2, 4}, 0.3));
  std::vector<float> r0 = {0.29552022f, 0.56464249f, 0.78332692f, 0.93203908f},
                     r1 = {0.997495f, 0.97384763f, 0.86320937f, 0.6754632f}, e;
  for (int i = 0; i < 3; ++i) e.insert(e.end(), r0.begin(), r0.end());
  for (int i = 0; i < 3; ++i) e.insert(e.end(), r1.begin(), r1.end());
  EXPECT_TRUE(allclose(x.grad(), e, 1e-6, 1e-7));
  // torch: x.mean((0,2), keepdim=True).backward(seq(1,3,1,a=0.3))
  Tensor y = seq({2, 3, 4}).requires_grad_();
  y.mean({0, 2}, true).backward(seq({1, 3, 1}, 0.3));
  std::vector<float> g = y.grad().to_vector();
  EXPECT_NEAR(g[0], 0.036940027f, 1e-7);
  EXPECT_NEAR(g[5], 0.070580311f, 1e-7);
  EXPECT_NEAR(g[23], 0.097915865f, 1e-7);
}

TEST(Sum, IntegerInputsSumToInt64AndMeanNeedsADtype) {
  Tensor l = typed<int64_t>({1, 2, 3, 4}, {2, 2}, kLong);
  Tensor s = l.sum(0);
  EXPECT_EQ(s.dtype(), kLong);
  EXPECT_EQ(as_longs(s), (std::vector<int64_t>{4, 6}));
  Tensor b = typed<uint8_t>({1, 0, 1}, {3}, kBool);
  EXPECT_EQ(b.sum().dtype(), kLong);
  EXPECT_EQ(b.sum().item<int64_t>(), 2);
  EXPECT_EQ(typed<uint8_t>({200, 100}, {2}, kByte).sum().item<int64_t>(), 300);
  // torch: torch.arange(6).mean() -> RuntimeError; with dtype=torch.float32 -> 2.5
  std::string msg = error_of([&] { l.mean(); });
  EXPECT_TRUE(contains(msg, "mean(): could not infer output dtype. Input dtype must be either a floating point or "
                            "complex dtype. Got: int64")) << msg;
  EXPECT_THROW(l.mean(), TypeError);
  EXPECT_FLOAT_EQ(l.mean(kFloat).item<float>(), 2.5f);
  EXPECT_FLOAT_EQ(l.sum(kFloat).item<float>(), 10.0f);
  // torch: torch.tensor([1.5, 2.5]).sum(dtype=torch.long) == 3 (converted first)
  EXPECT_EQ(lit({1.5f, 2.5f}, {2}).sum(kLong).item<int64_t>(), 3);
}

TEST(Sum, EmptyInputsGiveIdentities) {
  Tensor e = cnnkit::empty({0, 3});
  EXPECT_TRUE(allclose(e.sum(0), {0, 0, 0}, 0, 0));
  EXPECT_EQ(e.sum(1).sizes(), IntArrayRef({0}));
  EXPECT_TRUE(std::isnan(e.mean().item<float>()));
  EXPECT_EQ(e.prod().item<float>(), 1.0f);
}

TEST(Sum, DimErrors) {
  Tensor x = seq({2, 3});
  EXPECT_THROW(x.sum({1, 1}), ShapeError);
  EXPECT_TRUE(contains(error_of([&] { x.sum({1, -1}); }), "appears multiple times"));
  EXPECT_THROW(x.sum(2), ShapeError);
  EXPECT_THROW(x.mean({-3}), ShapeError);
}

// ---- prod -----------------------------------------------------------------------------------
TEST(Prod, ValueAndGradientIncludingZeros) {
  // torch: x = seq(2,3); x.prod(); x.prod().backward()
  Tensor x = seq({2, 3}).requires_grad_();
  Tensor p = x.prod();
  EXPECT_NEAR(p.item<float>(), -0.0042377459f, 1e-8);
  p.backward();
  EXPECT_TRUE(allclose(x.grad(), {-0.014339953f, -0.0050361166f, -0.0042733653f, -0.0062738368f, -0.10191627f,
                                  0.0069260295f},
                       1e-5, 1e-8));
  // torch: [2,0,3,4].prod() grad = [0,24,0,0]; [2,0,3,0] -> zeros
  Tensor one = lit({2, 0, 3, 4}, {4}).requires_grad_();
  one.prod().backward();
  EXPECT_TRUE(allclose(one.grad(), {0, 24, 0, 0}, 0, 0));
  Tensor two = lit({2, 0, 3, 0}, {4}).requires_grad_();
  two.prod().backward();
  EXPECT_TRUE(allclose(two.grad(), {0, 0, 0, 0}, 0, 0));
  EXPECT_EQ(typed<int64_t>({2, 3, 4}, {3}, kLong).prod().item<int64_t>(), 24);
}

// ---- max / min ------------------------------------------------------------------------------
TEST(Max, AllElementsSplitsGradientEvenlyAmongTies) {
  // torch 1.13: x = [[1,5,5],[7,2,7]]; x.max().backward() -> [[0,0,0],[.5,0,.5]]
  Tensor x = lit({1, 5, 5, 7, 2, 7}, {2, 3}).requires_grad_();
  Tensor m = x.max();
  EXPECT_EQ(m.item<float>(), 7.0f);
  m.backward();
  EXPECT_TRUE(allclose(x.grad(), {0, 0, 0, 0.5f, 0, 0.5f}, 0, 0));
  Tensor y = lit({1, 5, 5, 7, 2, 7}, {2, 3}).requires_grad_();
  y.min().backward();
  EXPECT_TRUE(allclose(y.grad(), {1, 0, 0, 0, 0, 0}, 0, 0));
}

TEST(Max, OverDimReturnsIndicesAndRoutesGradient) {
  // torch: x = seq(3,4); v, i = x.max(1); v.backward(seq(3,a=0.5))
  Tensor x = seq({3, 4}).requires_grad_();
  auto [v, i] = x.max(1);
  EXPECT_TRUE(allclose(v, {0.99166483f, 0.041580662f, 0.98935825f}, 1e-6, 1e-7));
  EXPECT_EQ(i.dtype(), kLong);
  EXPECT_EQ(as_longs(i), (std::vector<int64_t>{2, 0, 3}));
  v.backward(seq({3}, 0.5));
  EXPECT_TRUE(allclose(x.grad(), {0, 0, 0.29552022f, 0, 0.71735609f, 0, 0, 0, 0, 0, 0, 0.9635582f}, 1e-6, 1e-7));
  // torch: v, i = x.min(0, keepdim=True); v.backward(seq(1,4,a=0.5))
  Tensor y = seq({3, 4}).requires_grad_();
  auto [mv, mi] = y.min(0, true);
  EXPECT_EQ(mv.sizes(), IntArrayRef({1, 4}));
  EXPECT_TRUE(allclose(mv, {-0.37387666f, -0.61185789f, -0.97753012f, -0.88345468f}, 1e-6, 1e-7));
  EXPECT_EQ(as_longs(mi), (std::vector<int64_t>{2, 1, 1, 1}));
  mv.backward(seq({1, 4}, 0.5));
  EXPECT_TRUE(allclose(y.grad(), {0, 0, 0, 0, 0, 0.71735609f, 0.9635582f, 0.97384763f, 0.29552022f, 0, 0, 0}, 1e-6,
                       1e-7));
}

TEST(Max, NanPropagatesAndIntegerInputsWork) {
  // torch: torch.tensor([1., nan, 2.]).max() -> nan, max(0) -> (nan, 1), argmax() -> 1
  Tensor x = lit({1, NAN, 2}, {3});
  EXPECT_TRUE(std::isnan(x.max().item<float>()));
  auto [v, i] = x.max(0);
  EXPECT_TRUE(std::isnan(v.item<float>()));
  EXPECT_EQ(i.item<int64_t>(), 1);
  EXPECT_EQ(x.argmax().item<int64_t>(), 1);
  Tensor l = typed<int64_t>({3, 9, 4}, {3}, kLong);
  EXPECT_EQ(l.max().item<int64_t>(), 9);
  EXPECT_EQ(l.max().dtype(), kLong);
  EXPECT_EQ(l.amin().item<int64_t>(), 3);
}

TEST(Max, AmaxAminTiesAndMultipleDims) {
  // torch: x = [[1,5,5],[7,2,7]]; x.amax(1).backward([1., 2.]) -> [[0,.5,.5],[1,0,1]]
  Tensor x = lit({1, 5, 5, 7, 2, 7}, {2, 3}).requires_grad_();
  x.amax(1).backward(lit({1, 2}, {2}));
  EXPECT_TRUE(allclose(x.grad(), {0, 0.5f, 0.5f, 1, 0, 1}, 0, 0));
  // torch: x = seq(2,3,4); y = x.amin((0,2)); y.backward(seq(3,a=0.5))
  Tensor z = seq({2, 3, 4}).requires_grad_();
  Tensor y = z.amin({0, 2});
  EXPECT_TRUE(allclose(y, {-0.98093623f, -0.97753012f, -0.6381067f}, 1e-6, 1e-7));
  y.backward(seq({3}, 0.5));
  std::vector<float> g(24, 0.0f);
  g[6] = 0.71735609f;
  g[15] = 0.29552022f;
  g[23] = 0.9635582f;
  EXPECT_TRUE(allclose(z.grad(), g, 1e-6, 1e-7));
}

TEST(Max, ArgmaxArgminWithAndWithoutDim) {
  // torch: x = seq(3,4); x.argmax() == 2; x.argmax(1) == [2,0,3]; x.argmin(0, keepdim=True) == [[2,1,1,1]]
  Tensor x = seq({3, 4});
  EXPECT_EQ(x.argmax().item<int64_t>(), 2);
  EXPECT_EQ(as_longs(x.argmax(1)), (std::vector<int64_t>{2, 0, 3}));
  Tensor a = x.argmin(0, true);
  EXPECT_EQ(a.sizes(), IntArrayRef({1, 4}));
  EXPECT_EQ(as_longs(a), (std::vector<int64_t>{2, 1, 1, 1}));
  EXPECT_EQ(x.argmax(std::nullopt, true).sizes(), IntArrayRef({1, 1}));
}

TEST(Max, EmptyReductionsThrow) {
  Tensor e = cnnkit::empty({0, 3});
  EXPECT_THROW(e.max(), ShapeError);
  EXPECT_TRUE(contains(error_of([&] { e.max(); }), "Expected reduction dim to be specified for input.numel() == 0"));
  EXPECT_THROW(e.max(0), ShapeError);
  EXPECT_THROW(e.amax(0), ShapeError);
  EXPECT_THROW(e.argmax(), ShapeError);
  EXPECT_EQ(e.amax(1).sizes(), IntArrayRef({0}));  // nothing to reduce into: fine
  EXPECT_THROW(seq({2, 3}).max(2), ShapeError);
}

// ---- var / std ------------------------------------------------------------------------------
TEST(Var, ValuesMatchTorch) {
  // torch: x = seq(3,4); x.var(); x.var(1, unbiased=False); x.std(0); seq(2,3,4).var((0,2))
  Tensor x = seq({3, 4});
  EXPECT_NEAR(x.var().item<float>(), 0.53643668f, 1e-6);
  EXPECT_TRUE(allclose(x.var({1}, false), {0.067321025f, 0.15859939f, 0.28726834f}, 1e-6, 1e-7));
  EXPECT_TRUE(allclose(x.std(std::vector<int64_t>{0}), {0.33793053f, 0.73548806f, 1.0984184f, 1.0030107f}, 1e-6, 1e-7));
  EXPECT_TRUE(allclose(seq({2, 3, 4}).var({0, 2}), {0.51194131f, 0.44064981f, 0.39623672f}, 1e-6, 1e-7));
  EXPECT_TRUE(std::isnan(lit({2}, {1}).var().item<float>()));  // torch: nan for one element, unbiased
  // Like LibTorch, a braced {0} binds to the bool overload: pass the dims as a vector.
  EXPECT_EQ(x.var(std::vector<int64_t>{1}).dim(), 1);
}

TEST(Var, GradientsMatchTorch) {
  // torch: x = seq(3,4); x.var(1).backward(seq(3,a=0.5))
  Tensor x = seq({3, 4}).requires_grad_();
  x.var(std::vector<int64_t>{1}).backward(seq({3}, 0.5));
  EXPECT_TRUE(allclose(x.grad(), {-0.079890847f, 0.027668806f, 0.057259023f, -0.0050369604f, 0.31056553f,
                                  -0.0019332207f, -0.17681135f, -0.13182096f, -0.52561557f, -0.085322149f,
                                  0.26084915f, 0.35008854f},
                       1e-5, 1e-7));
  // torch: x.std(0, unbiased=False, keepdim=True).backward(seq(1,4,a=0.5))
  Tensor y = seq({3, 4}).requires_grad_();
  y.std({0}, false, true).backward(seq({1, 4}, 0.5));
  EXPECT_TRUE(allclose(y.grad(), {0.10988107f, 0.26323372f, 0.25193173f, 0.1645f, 0.019221323f, -0.31545815f,
                                  -0.45328611f, -0.45342115f, -0.12910239f, 0.052224401f, 0.20135438f, 0.28892118f},
                       1e-5, 1e-7));
  // torch: seq(2,3,4).var((0,2)).backward(seq(3,a=0.5)), a scattered (permuted) reduction
  Tensor z = seq({2, 3, 4}).requires_grad_();
  z.var({0, 2}).backward(seq({3}, 0.5));
  std::vector<float> g = z.grad().to_vector();
  EXPECT_NEAR(g[0], 0.0050481702f, 1e-6);
  EXPECT_NEAR(g[7], -0.117578f, 1e-6);
  EXPECT_NEAR(g[23], -0.27149042f, 1e-6);
  // torch: torch.ones(3).std().backward() -> zeros (not nan)
  Tensor c = lit({1, 1, 1}, {3}).requires_grad_();
  c.std().backward();
  EXPECT_TRUE(allclose(c.grad(), {0, 0, 0}, 0, 0));
}

TEST(Var, VarMeanGradientCombinesBothOutputs) {
  // torch: v, m = torch.var_mean(seq(3,4), 1); (v*seq(3,a=0.5) + m*seq(3,a=0.9)).sum().backward()
  Tensor x = seq({3, 4}).requires_grad_();
  auto [v, m] = var_mean(x, {1});
  EXPECT_TRUE(allclose(v, {0.089761369f, 0.21146587f, 0.38302445f}, 1e-6, 1e-7));
  EXPECT_TRUE(allclose(m, {0.70102978f, -0.6078155f, 0.44436491f}, 1e-6, 1e-7));
  autograd::backward({v, m}, {seq({3}, 0.5), seq({3}, 0.9)}, false);
  EXPECT_TRUE(allclose(x.grad(), {-0.0060107931f, 0.10154886f, 0.13113907f, 0.068843096f, 0.54357529f, 0.23107655f,
                                  0.056198418f, 0.10118881f, -0.30981323f, 0.1304802f, 0.47665149f, 0.56589091f},
                       1e-5, 1e-7));
}

TEST(Var, IntegerInputsThrow) {
  Tensor l = typed<int64_t>({1, 2, 3}, {3}, kLong);
  EXPECT_THROW(l.var(), TypeError);
  EXPECT_THROW(l.std(), TypeError);
  EXPECT_TRUE(contains(error_of([&] { l.var(); }), "std and var only support floating point and complex dtypes"));
}

// ---- norm -----------------------------------------------------------------------------------
struct NormCase {
  double p;
  float value;
  std::vector<float> grad;
};

TEST(Norm, ValuesAndGradientsForEveryP) {
  // torch: x = seq(3,4); y = x.norm(p); y.backward()
  std::vector<NormCase> cases = {
      {1, 7.8437557f, {1, 1, 1, 1, 1, -1, -1, -1, -1, 1, 1, 1}},
      {2, 2.5072148f, {0.11786793f, 0.33561981f, 0.39552447f, 0.26940778f, 0.016584404f, -0.24403888f, -0.38988686f,
                       -0.35236499f, -0.14912032f, 0.12425794f, 0.33919576f, 0.3946045f}},
      {3, 1.7569796f, {0.028290523f, 0.22937435f, 0.31856379f, 0.14779849f, 0.00056007912f, -0.121274f, -0.30954722f,
                       -0.25283381f, -0.04528176f, 0.031441119f, 0.23428825f, 0.31708357f}},
      {INFINITY, 0.99166483f, {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
      {0.5, 86.115524f, {17.070536f, 10.116287f, 9.3187628f, 11.291194f, 45.508762f, -11.863571f, -9.3858938f,
                         -9.8729877f, -15.176672f, 16.625814f, 10.062821f, 9.3296194f}},
  };
  for (const NormCase& c : cases) {
    Tensor x = seq({3, 4}).requires_grad_();
    Tensor y = x.norm(c.p);
    EXPECT_NEAR(y.item<float>(), c.value, 1e-5 * std::fabs(c.value)) << "p = " << c.p;
    y.backward();
    EXPECT_TRUE(allclose(x.grad(), c.grad, 1e-4, 1e-6, "grad p=" + std::to_string(c.p)));
  }
}

TEST(Norm, OverDimsZeroInputsTiesAndCounting) {
  // torch: x = seq(3,4); y = x.norm(2, dim=1); y.backward(seq(3,a=0.5))
  Tensor x = seq({3, 4}).requires_grad_();
  Tensor y = x.norm(2, {1});
  EXPECT_TRUE(allclose(y, {1.4950101f, 1.453326f, 1.3924489f}, 1e-6, 1e-7));
  y.backward(seq({3}, 0.5));
  EXPECT_TRUE(allclose(x.grad(), {0.058415789f, 0.16633445f, 0.19602342f, 0.13351952f, 0.020524053f, -0.30201069f,
                                  -0.48250511f, -0.43606979f, -0.25871825f, 0.21558294f, 0.5884921f, 0.68462425f},
                       1e-5, 1e-7));
  // torch: zeros(3).norm().backward() -> zeros (not nan), for p = 2, 3, 1
  for (double p : {2.0, 3.0, 1.0}) {
    Tensor z = lit({0, 0, 0}, {3}).requires_grad_();
    z.norm(p).backward();
    EXPECT_TRUE(allclose(z.grad(), {0, 0, 0}, 0, 0)) << "p = " << p;
  }
  // torch: [1,-3,3,2].norm(inf).backward() -> [0,-.5,.5,0]
  Tensor t = lit({1, -3, 3, 2}, {4}).requires_grad_();
  t.norm(INFINITY).backward();
  EXPECT_TRUE(allclose(t.grad(), {0, -0.5f, 0.5f, 0}, 0, 0));
  // torch: seq(3,4).norm(0) == 12; [1,0,2].norm(0) == 2, and no gradient
  EXPECT_EQ(lit({1, 0, 2}, {3}).norm(0).item<float>(), 2.0f);
  Tensor c = lit({1, 0, 2}, {3}).requires_grad_();
  c.norm(0).backward();
  EXPECT_FALSE(c.grad().defined());  // torch leaves .grad None
  EXPECT_THROW(typed<int64_t>({1}, {1}, kLong).norm(), TypeError);
}

// ---- logsumexp ------------------------------------------------------------------------------
TEST(Logsumexp, StableValuesAndGradient) {
  // torch: x = seq(3,4); y = x.logsumexp(1); y.backward(seq(3,a=0.5))
  Tensor x = seq({3, 4}).requires_grad_();
  Tensor y = x.logsumexp({1});
  EXPECT_TRUE(allclose(y, {2.1191745f, 0.86474115f, 1.9578058f}, 1e-6, 1e-7));
  y.backward(seq({3}, 0.5));
  EXPECT_TRUE(allclose(x.grad(), {0.04770723f, 0.082354553f, 0.095700897f, 0.069757573f, 0.31494936f, 0.1638536f,
                                  0.11367018f, 0.12488289f, 0.093592517f, 0.18574382f, 0.31838575f, 0.36583608f},
                       1e-5, 1e-7));
  // torch: (seq(3,4)*100).logsumexp(0); [[-inf,-inf],[1,-inf]].logsumexp(1) -> [-inf, 1]
  Tensor big = seq({3, 4});
  for (int i = 0; i < 12; ++i) big.data_ptr<float>()[i] *= 100.0f;
  EXPECT_TRUE(allclose(big.logsumexp({0}), {29.552021f, 84.147095f, 99.166481f, 98.935822f}, 1e-6, 1e-5));
  EXPECT_TRUE(allclose(lit({-INFINITY, -INFINITY, 1, -INFINITY}, {2, 2}).logsumexp({1}), {-INFINITY, 1}, 0, 0));
  EXPECT_NEAR(typed<int64_t>({1, 2, 3}, {3}, kLong).logsumexp({0}).item<float>(), 3.4076059f, 1e-6);
}

// ---- all / any ------------------------------------------------------------------------------
TEST(AllAny, DtypesFollowTorch) {
  EXPECT_TRUE(lit({1, 2}, {2}).all().item<bool>());
  EXPECT_EQ(lit({1, 2}, {2}).all().dtype(), kBool);
  EXPECT_FALSE(lit({1, 0}, {2}).all().item<bool>());
  EXPECT_TRUE(lit({0, NAN}, {2}).any().item<bool>());
  EXPECT_FALSE(lit({0, 0}, {2}).any().item<bool>());
  EXPECT_EQ(typed<uint8_t>({1, 2}, {2}, kByte).all().dtype(), kByte);  // torch keeps uint8
  EXPECT_TRUE(cnnkit::empty({0}).all().item<bool>());
  EXPECT_FALSE(cnnkit::empty({0}).any().item<bool>());
}

// ---- topk / sort ----------------------------------------------------------------------------
TEST(Topk, ValuesIndicesAndGradientMatchTorch) {
  // torch: x = seq(3,5); v, i = x.topk(2, 1); v.backward(seq(3,2,a=0.5))
  Tensor x = seq({3, 5}).requires_grad_();
  auto [v, i] = x.topk(2, 1);
  EXPECT_TRUE(allclose(v, {0.99166483f, 0.84147096f, 0.31154135f, -0.37387666f, 0.98935825f, 0.85043663f}, 1e-6,
                       1e-7));
  EXPECT_EQ(as_longs(i), (std::vector<int64_t>{2, 1, 4, 3, 1, 0}));
  v.backward(seq({3, 2}, 0.5));
  EXPECT_TRUE(allclose(x.grad(), {0, 0.71735609f, 0.29552022f, 0, 0, 0, 0, 0, 0.97384763f, 0.9635582f, 0.33498815f,
                                  0.74570519f, 0, 0, 0},
                       1e-6, 1e-7));
  // torch: seq(3,5).topk(2, 0, largest=False)
  auto [sv, si] = seq({3, 5}).topk(2, 0, false);
  EXPECT_TRUE(allclose(sv, {-0.61185789f, -0.97753012f, -0.88345468f, -0.37387666f, -0.62507063f, 0.29552022f,
                            0.84147096f, 0.66296923f, 0.024775425f, 0.041580662f},
                       1e-6, 1e-7));
  EXPECT_EQ(as_longs(si), (std::vector<int64_t>{1, 1, 1, 1, 2, 0, 0, 2, 2, 0}));
  EXPECT_THROW(seq({2, 3}).topk(4), ShapeError);
  EXPECT_TRUE(contains(error_of([] { seq({2, 3}).topk(4); }), "selected index k out of range"));
}

TEST(Sort, DescendingAlongDimWithGradientAndNanLast) {
  // torch: x = seq(3,5); v, i = x.sort(0, descending=True); v.backward(seq(3,5,a=0.5))
  Tensor x = seq({3, 5}).requires_grad_();
  auto [v, i] = x.sort(0, true);
  EXPECT_TRUE(allclose(v, {0.85043663f, 0.98935825f, 0.99166483f, 0.6754632f, 0.31154135f, 0.29552022f, 0.84147096f,
                           0.66296923f, 0.024775425f, 0.041580662f, -0.61185789f, -0.97753012f, -0.88345468f,
                           -0.37387666f, -0.62507063f},
                       1e-6, 1e-7));
  EXPECT_EQ(as_longs(i), (std::vector<int64_t>{2, 2, 0, 0, 1, 0, 0, 2, 2, 0, 1, 1, 1, 1, 2}));
  v.backward(seq({3, 5}, 0.5));
  EXPECT_TRUE(allclose(x.grad(), {0.33498815f, -0.15774569f, 0.9635582f, 0.97384763f, -0.99616462f, -0.83226746f,
                                  -0.46460217f, 0.0168139f, 0.49411336f, 0.74570519f, 0.29552022f, 0.71735609f,
                                  -0.61185789f, -0.91616595f, 0.85043663f},
                       1e-6, 1e-7));
  // torch: seq(6).argsort() == [5,4,0,3,1,2]; [3,1,nan,3].sort(descending=True) -> nan first, ties stable
  EXPECT_EQ(as_longs(argsort(seq({6}))), (std::vector<int64_t>{5, 4, 0, 3, 1, 2}));
  auto [nv, ni] = lit({3, 1, NAN, 3}, {4}).sort(-1, true);
  EXPECT_EQ(as_longs(ni), (std::vector<int64_t>{2, 0, 3, 1}));
  auto [lv, li] = typed<int64_t>({3, 1, 2}, {3}, kLong).sort();
  EXPECT_EQ(as_longs(lv), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(as_longs(li), (std::vector<int64_t>{1, 2, 0}));
}

TEST(Reduce, ZeroDimInputsAcceptDimZero) {
  Tensor s = lit({5}, {});
  EXPECT_EQ(s.sum(0).item<float>(), 5.0f);
  auto [v, i] = s.max(0);
  EXPECT_EQ(v.item<float>(), 5.0f);
  EXPECT_EQ(i.item<int64_t>(), 0);
  EXPECT_THROW(s.sum(1), ShapeError);
}
