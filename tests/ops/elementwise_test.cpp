// Element-wise ops: broadcast values and gradients against PyTorch 1.13 literals, dtype
// promotion, strided (view) inputs and outputs, in-place rules, and every error path.
//
// Unless a test says otherwise the torch snippet is
//   a = torch.tensor([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]], requires_grad=True)  # (2, 3)
//   b = torch.tensor([2.0, -0.5, 1.25], requires_grad=True)                     # (3)
//   c = torch.tensor([[0.5], [-3.0]], requires_grad=True)                       # (2, 1)
//   ap = a.abs() (as a new leaf)
//   g = torch.tensor([[1.0, -2.0, 0.5], [3.0, 1.5, -1.0]])
//   y = <op>; y.backward(g)
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/factory.h"

using namespace cnnkit;

namespace {

void expect_values(const Tensor& t, const std::vector<float>& expected, float tol = 1e-6f) {
  std::vector<float> got = t.to_vector();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "at index " << i;
    } else if (std::isinf(expected[i])) {
      EXPECT_EQ(got[i], expected[i]) << "at index " << i;
    } else {
      EXPECT_NEAR(got[i], expected[i], tol * (1 + std::fabs(expected[i]))) << "at index " << i;
    }
  }
}

Tensor A() { return tensor({{1.5, -2.0, 3.0}, {0.5, 4.0, -1.0}}, requires_grad()); }
Tensor AP() { return tensor({{1.5, 2.0, 3.0}, {0.5, 4.0, 1.0}}, requires_grad()); }
Tensor B() { return tensor({2.0f, -0.5f, 1.25f}, requires_grad()); }
// (2, 1): `tensor({{0.5}, {-3.0}})` is ambiguous in C++ (each {x} also converts to a double).
Tensor C() {
  std::vector<float> v = {0.5f, -3.0f};
  return from_blob(v.data(), {2, 1}).clone().requires_grad_();
}
Tensor G() { return tensor({{1.0, -2.0, 0.5}, {3.0, 1.5, -1.0}}); }

}  // namespace

// ---- broadcasting: values and gradients -----------------------------------------------------

TEST(Elementwise, AddWithAlphaBroadcastsRowAndReducesItsGradient) {
  Tensor a = A(), b = B();
  Tensor y = add(a, b, 2.0);
  EXPECT_EQ(y.sizes(), std::vector<int64_t>({2, 3}));
  expect_values(y, {5.5f, -3, 5.5f, 4.5f, 3, 1.5f});
  y.backward(G());
  expect_values(a.grad(), {1, -2, 0.5f, 3, 1.5f, -1});
  expect_values(b.grad(), {8, -1, -1});
  EXPECT_EQ(b.grad().sizes(), std::vector<int64_t>({3}));
}

TEST(Elementwise, SubWithAlphaBroadcastsColumn) {
  Tensor a = A(), c = C();
  Tensor y = sub(a, c, 0.5);
  expect_values(y, {1.25f, -2.25f, 2.75f, 2, 5.5f, 0.5f});
  y.backward(G());
  expect_values(a.grad(), {1, -2, 0.5f, 3, 1.5f, -1});
  expect_values(c.grad(), {0.25f, -1.75f});
  EXPECT_EQ(c.grad().sizes(), std::vector<int64_t>({2, 1}));
}

TEST(Elementwise, MulOfRowAndColumnBroadcastsBothWays) {
  Tensor b = B(), c = C();
  Tensor y = b * c;
  EXPECT_EQ(y.sizes(), std::vector<int64_t>({2, 3}));
  expect_values(y, {1, -0.25f, 0.625f, -6, 1.5f, -3.75f});
  y.backward(G());
  expect_values(b.grad(), {-8.5f, -5.5f, 3.25f});
  expect_values(c.grad(), {3.625f, 4});
}

TEST(Elementwise, DivGradientsMatchTorch) {
  Tensor a = A(), b = B();
  Tensor y = a / b;
  expect_values(y, {0.75f, 4, 2.4000001f, 0.25f, -8, -0.800000012f});
  y.backward(G());
  expect_values(a.grad(), {0.5f, 4, 0.400000006f, 1.5f, -3, -0.800000012f});
  expect_values(b.grad(), {-0.75f, -40, -1.60000002f});

  Tensor a2 = A(), c = C();
  Tensor y2 = c / a2;
  expect_values(y2, {0.333333343f, -0.25f, 0.166666672f, -6, -0.75f, 3});
  y2.backward(G());
  expect_values(a2.grad(), {-0.222222224f, 0.25f, -0.027777778f, 36, 0.28125f, -3});
  expect_values(c.grad(), {1.83333337f, 7.375f});
}

TEST(Elementwise, PowScalarTensorAndScalarBase) {
  Tensor ap = AP();
  Tensor y = pow(ap, 2.5);
  expect_values(y, {2.75567603f, 5.65685415f, 15.5884571f, 0.176776692f, 32, 1});
  y.backward(G());
  expect_values(ap.grad(), {4.59279346f, -14.1421356f, 6.49519014f, 2.65165043f, 30, -2.5f});

  // torch.pow(ap, e), e = [2.0, -1.0, 0.5] broadcast over rows
  Tensor ap2 = AP(), e = tensor({2.0f, -1.0f, 0.5f}, requires_grad());
  Tensor y2 = pow(ap2, e);
  expect_values(y2, {2.25f, 0.5f, 1.73205078f, 0.25f, 0.25f, 1});
  y2.backward(G());
  expect_values(ap2.grad(), {3, 0.5f, 0.144337565f, 3, -0.09375f, -0.5f});
  expect_values(e.grad(), {0.392436087f, -0.173286796f, 0.951426148f});

  // torch.pow(2.0, a)
  Tensor a = A();
  Tensor y3 = pow(2.0, a);
  expect_values(y3, {2.82842708f, 0.25f, 8, 1.41421354f, 16, 0.5f});
  y3.backward(G());
  expect_values(a.grad(), {1.96051621f, -0.346573591f, 2.77258873f, 2.94077444f, 16.6355324f, -0.346573591f});
}

TEST(Elementwise, PowGradientAtZeroExponentIsZero) {
  // torch: x ** 0 has gradient 0 everywhere, even at x = 0
  Tensor x = tensor({0.0f, 2.0f}, requires_grad());
  Tensor y = pow(x, 0.0);
  expect_values(y, {1, 1});
  y.backward(ones({2}));
  expect_values(x.grad(), {0, 0});
}

TEST(Elementwise, MaximumAndMinimumSplitTiesLikeTorch) {
  Tensor a = A(), b = B();
  Tensor y = maximum(a, b);
  expect_values(y, {2, -0.5f, 3, 2, 4, 1.25f});
  y.backward(G());
  expect_values(a.grad(), {0, 0, 0.5f, 0, 1.5f, 0});
  expect_values(b.grad(), {4, -2, -1});

  Tensor a2 = A(), c = C();
  Tensor y2 = minimum(a2, c);
  expect_values(y2, {0.5f, -2, 0.5f, -3, -3, -3});
  y2.backward(G());
  expect_values(a2.grad(), {0, -2, 0, 0, 0, 0});
  expect_values(c.grad(), {1.5f, 3.5f});

  // ties: torch.maximum(t([1., 2., 3.]), t([1., 1., 4.])) -> grads [0.5, 1, 0], [0.5, 0, 1]
  Tensor p = tensor({1.0f, 2.0f, 3.0f}, requires_grad()), q = tensor({1.0f, 1.0f, 4.0f}, requires_grad());
  maximum(p, q).backward(ones({3}));
  expect_values(p.grad(), {0.5f, 1, 0});
  expect_values(q.grad(), {0.5f, 0, 1});
}

TEST(Elementwise, WhereAndMaskedFillRouteGradients) {
  Tensor cond = tensor({{1, 0, 1}, {0, 1, 0}}).to(kBool);
  Tensor a = A(), b = B();
  Tensor y = where(cond, a, b);
  expect_values(y, {1.5f, -0.5f, 3, 2, 4, 1.25f});
  y.backward(G());
  expect_values(a.grad(), {1, 0, 0.5f, 0, 1.5f, 0});
  expect_values(b.grad(), {3, -2, -1});

  Tensor a2 = A();
  Tensor mask = tensor({1, 0, 0}).to(kBool);
  Tensor y2 = a2.masked_fill(mask, 7.0);
  expect_values(y2, {7, -2, 3, 7, 4, -1});
  y2.backward(G());
  expect_values(a2.grad(), {0, -2, 0.5f, 0, 1.5f, -1});

  Tensor a3 = A();
  Tensor y3 = where(cond, a3, -1.0);
  expect_values(y3, {1.5f, -1, 3, -1, 4, -1});
  y3.backward(G());
  expect_values(a3.grad(), {1, 0, 0.5f, 0, 1.5f, 0});
}

TEST(Elementwise, LerpBothFormulasAndGradients) {
  Tensor a = A(), b = B();
  Tensor y = lerp(a, b, 0.25);
  expect_values(y, {1.625f, -1.625f, 2.5625f, 0.875f, 2.875f, -0.4375f});
  y.backward(G());
  expect_values(a.grad(), {0.75f, -1.5f, 0.375f, 2.25f, 1.125f, -0.75f});
  expect_values(b.grad(), {1, -0.125f, -0.125f});

  Tensor a2 = A(), b2 = B();
  Tensor y2 = lerp(a2, b2, 0.75);
  expect_values(y2, {1.875f, -0.875f, 1.6875f, 1.625f, 0.625f, 0.6875f});
  y2.backward(G());
  expect_values(a2.grad(), {0.25f, -0.5f, 0.125f, 0.75f, 0.375f, -0.25f});
  expect_values(b2.grad(), {3, -0.375f, -0.375f});
}

TEST(Elementwise, AddcmulAndAddcdivBroadcastThreeWays) {
  Tensor a = A(), b = B(), c = C();
  Tensor y = addcmul(a, b, c, 0.5);
  expect_values(y, {2, -2.125f, 3.3125f, -2.5f, 4.75f, -2.875f});
  y.backward(G());
  expect_values(a.grad(), {1, -2, 0.5f, 3, 1.5f, -1});
  expect_values(b.grad(), {-4.25f, -2.75f, 1.625f});
  expect_values(c.grad(), {1.8125f, 2});

  Tensor a2 = A(), b2 = B(), c2 = C();
  Tensor y2 = addcdiv(a2, b2, c2, -2.0);
  expect_values(y2, {-6.5f, 0, -2, 1.83333337f, 3.66666675f, -0.166666687f});
  y2.backward(G());
  expect_values(a2.grad(), {1, -2, 0.5f, 3, 1.5f, -1});
  expect_values(b2.grad(), {-2, 9, -2.66666675f});
  expect_values(c2.grad(), {29, 0.888888955f});
}

TEST(Elementwise, ScalarOnTheLeftOperators) {
  Tensor a = A();
  Tensor y = 3.0 - a;
  expect_values(y, {1.5f, 5, 0, 2.5f, -1, 4});
  y.backward(G());
  expect_values(a.grad(), {-1, 2, -0.5f, -3, -1.5f, 1});

  Tensor a2 = A();
  Tensor y2 = 3.0 / a2;
  expect_values(y2, {2, -1.5f, 1, 6, 0.75f, -3});
  y2.backward(G());
  expect_values(a2.grad(), {-1.33333349f, 1.5f, -0.166666687f, -36, -0.28125f, 3});

  Tensor a3 = A();
  Tensor y3 = 2.0 * a3 + 1.0;
  expect_values(y3, {4, -3, 7, 2, 9, -1});
  y3.backward(G());
  expect_values(a3.grad(), {2, -4, 1, 6, 3, -2});
}

// ---- unary math --------------------------------------------------------------------------------

namespace {
void check_unary(Tensor (*f)(const Tensor&), bool positive_input, const std::vector<float>& y_expected,
                 const std::vector<float>& g_expected) {
  Tensor x = positive_input ? AP() : A();
  Tensor y = f(x);
  expect_values(y, y_expected);
  y.backward(G());
  expect_values(x.grad(), g_expected);
}
}  // namespace

TEST(Elementwise, UnaryValuesAndGradientsMatchTorch) {
  check_unary(exp, false, {4.48168898f, 0.135335281f, 20.085537f, 1.64872122f, 54.5981522f, 0.36787945f},
              {4.48168898f, -0.270670563f, 10.0427685f, 4.94616365f, 81.8972321f, -0.36787945f});
  check_unary(log, true, {0.405465096f, 0.693147182f, 1.09861231f, -0.693147182f, 1.38629436f, 0},
              {0.666666687f, -1, 0.166666672f, 6, 0.375f, -1});
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  check_unary(log1p, false, {0.91629076f, nan, 1.38629436f, 0.405465096f, 1.60943794f, -inf},
              {0.400000006f, 2, 0.125f, 2, 0.300000012f, -inf});
  check_unary(sqrt, true, {1.22474492f, 1.41421354f, 1.73205078f, 0.707106769f, 2, 1},
              {0.408248276f, -0.707106769f, 0.144337565f, 2.12132049f, 0.375f, -0.5f});
  check_unary(rsqrt, true, {0.816496551f, 0.707106769f, 0.577350259f, 1.41421354f, 0.5f, 1},
              {-0.272165507f, 0.353553355f, -0.0481125191f, -4.2426405f, -0.09375f, 0.5f});
  check_unary(reciprocal, false, {0.666666687f, -0.5f, 0.333333343f, 2, 0.25f, -1},
              {-0.444444478f, 0.5f, -0.0555555597f, -12, -0.09375f, 1});
  check_unary(sin, false, {0.997494996f, -0.909297407f, 0.141120002f, 0.47942555f, -0.756802499f, -0.841470957f},
              {0.070737198f, 0.832293689f, -0.49499625f, 2.63274765f, -0.980465412f, -0.540302336f});
  check_unary(cos, false, {0.070737198f, -0.416146845f, -0.989992499f, 0.87758255f, -0.653643608f, 0.540302336f},
              {-0.997494996f, -1.81859481f, -0.0705600008f, -1.43827665f, 1.13520372f, -0.841470957f});
  check_unary(square, false, {2.25f, 4, 9, 0.25f, 16, 1}, {3, 8, 3, 3, 12, 2});
  check_unary(abs, false, {1.5f, 2, 3, 0.5f, 4, 1}, {1, 2, 0.5f, 3, 1.5f, 1});
  check_unary(sign, false, {1, -1, 1, 1, 1, -1}, {0, 0, 0, 0, 0, 0});
  check_unary(neg, false, {-1.5f, 2, -3, -0.5f, -4, 1}, {-1, 2, -0.5f, -3, -1.5f, 1});
  check_unary(floor, false, {1, -2, 3, 0, 4, -1}, {0, 0, 0, 0, 0, 0});
  check_unary(ceil, false, {2, -2, 3, 1, 4, -1}, {0, 0, 0, 0, 0, 0});
  // half to even: round(1.5) = 2, round(0.5) = 0
  check_unary(round, false, {2, -2, 3, 0, 4, -1}, {0, 0, 0, 0, 0, 0});
}

TEST(Elementwise, GradientsAtZeroFollowTorch) {
  // torch: d|x|/dx at 0 is 0; d sqrt(x)/dx at 0 is inf
  Tensor x = tensor({-1.0f, 0.0f, 1.0f}, requires_grad());
  abs(x).backward(ones({3}));
  expect_values(x.grad(), {-1, 0, 1});
  Tensor z = tensor({0.0f, 1.0f}, requires_grad());
  sqrt(z).backward(ones({2}));
  EXPECT_EQ(z.grad().to_vector()[0], std::numeric_limits<float>::infinity());
  EXPECT_FLOAT_EQ(z.grad().to_vector()[1], 0.5f);
}

TEST(Elementwise, ClampPassesGradientInsideClosedRange) {
  Tensor a = A();
  Tensor y = clamp(a, -1.0, 3.0);
  expect_values(y, {1.5f, -1, 3, 0.5f, 3, -1});
  y.backward(G());
  expect_values(a.grad(), {1, 0, 0.5f, 3, 0, -1});  // x = -1 and x = 3 (the bounds) pass

  Tensor a2 = A();
  Tensor y2 = a2.clamp_min(0.5);
  expect_values(y2, {1.5f, 0.5f, 3, 0.5f, 4, 0.5f});
  y2.backward(G());
  expect_values(a2.grad(), {1, 0, 0.5f, 3, 1.5f, 0});

  Tensor a3 = A();
  Tensor y3 = a3.clamp_max(1.5);
  expect_values(y3, {1.5f, -2, 1.5f, 0.5f, 1.5f, -1});
  y3.backward(G());
  expect_values(a3.grad(), {1, -2, 0, 3, 0, -1});
}

TEST(Elementwise, ClampKeepsNaN) {
  Tensor x = tensor({std::nanf(""), 5.0f});
  std::vector<float> v = clamp(x, 0.0, 1.0).to_vector();
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], 1.0f);
}

// ---- dtypes --------------------------------------------------------------------------------------

TEST(Elementwise, DtypePromotionFollowsTorch) {
  Tensor i = tensor({1, 2, 3});
  Tensor f = tensor({0.5f, 0.5f, 0.5f});
  EXPECT_EQ((i + i).dtype(), kLong);
  EXPECT_EQ((i + f).dtype(), kFloat);
  EXPECT_EQ((f * i).dtype(), kFloat);
  EXPECT_EQ((i / i).dtype(), kFloat);  // true division
  expect_values(i / tensor({2, 2, 2}), {0.5f, 1, 1.5f});
  EXPECT_EQ((i + 1.0).dtype(), kLong);  // labels + 1 stays int64
  EXPECT_EQ((i * 0.5).dtype(), kFloat);
  expect_values(i * 0.5, {0.5f, 1, 1.5f});
  EXPECT_EQ((i > 1.0).dtype(), kBool);
  EXPECT_EQ((i > 1.5).dtype(), kBool);
  expect_values(i > 1.5, {0, 1, 1});
  Tensor u8 = tensor({200, 100}).to(kByte);
  EXPECT_EQ((u8 + u8).dtype(), kLong);
  expect_values(u8 + u8, {400, 200});
  Tensor bl = tensor({1, 0}).to(kBool);
  EXPECT_EQ((bl + bl).dtype(), kLong);
  EXPECT_EQ(neg(i).dtype(), kLong);
  EXPECT_EQ(exp(i).dtype(), kFloat);
  EXPECT_EQ(floor(i).dtype(), kLong);
  EXPECT_EQ(where(bl, bl, bl).dtype(), kBool);
  EXPECT_EQ(pow(i, 2.0).dtype(), kLong);
  expect_values(pow(i, 2.0), {1, 4, 9});
  EXPECT_EQ(clamp(i, 0.0, 2.0).dtype(), kLong);
  EXPECT_EQ(clamp(i, 0.5, 2.0).dtype(), kFloat);
}

TEST(Elementwise, Int64ArithmeticIsExact) {
  const int64_t big = int64_t{1} << 53;
  Tensor t = tensor({big, -big});
  Tensor s = t + tensor({int64_t{1}, int64_t{-1}});
  EXPECT_EQ(s.data_ptr<int64_t>()[0], big + 1);
  EXPECT_EQ(s.data_ptr<int64_t>()[1], -big - 1);
  EXPECT_EQ((t * 2.0).data_ptr<int64_t>()[0], 2 * big);
  Tensor q = tensor({7, -7});
  EXPECT_EQ(abs(q).data_ptr<int64_t>()[1], 7);
  EXPECT_EQ(sign(q).data_ptr<int64_t>()[1], -1);
}

// ---- comparisons and logic -----------------------------------------------------------------------

TEST(Elementwise, ComparisonsReturnBoolAndBroadcast) {
  Tensor a = A().detach(), b = B().detach();
  Tensor gt_ab = a > b;
  EXPECT_EQ(gt_ab.dtype(), kBool);
  EXPECT_EQ(gt_ab.sizes(), std::vector<int64_t>({2, 3}));
  expect_values(gt_ab, {0, 0, 1, 0, 1, 0});
  expect_values(a >= 3.0, {0, 0, 1, 0, 1, 0});
  expect_values(a < 0.5, {0, 1, 0, 0, 0, 1});
  expect_values(a <= 0.5, {0, 1, 0, 1, 0, 1});
  expect_values(a == -2.0, {0, 1, 0, 0, 0, 0});
  expect_values(a != -2.0, {1, 0, 1, 1, 1, 1});
  expect_values(a.eq(a), {1, 1, 1, 1, 1, 1});
  expect_values(a.ne(b), {1, 1, 1, 1, 1, 1});
  expect_values(a.lt(b), {1, 1, 0, 1, 0, 1});
  expect_values(a.le(b), {1, 1, 0, 1, 0, 1});
  expect_values(a.ge(b), {0, 0, 1, 0, 1, 0});
  expect_values(a.gt(1.0), {1, 0, 1, 0, 1, 0});
  Tensor r = a > b;
  EXPECT_FALSE(r.requires_grad());
}

TEST(Elementwise, LogicalAndBitwiseOperators) {
  Tensor p = tensor({1, 1, 0, 0}).to(kBool), q = tensor({1, 0, 1, 0}).to(kBool);
  expect_values(p & q, {1, 0, 0, 0});
  expect_values(p | q, {1, 1, 1, 0});
  expect_values(!p, {0, 0, 1, 1});
  EXPECT_EQ((p & q).dtype(), kBool);
  expect_values(logical_and(tensor({2.0f, 0.0f}), tensor({1.0f, 1.0f})), {1, 0});
  expect_values(logical_or(tensor({0, 0}), tensor({0, 3})), {0, 1});
  Tensor i = tensor({12, 10}), j = tensor({10, 6});
  expect_values(i & j, {8, 2});
  expect_values(i | j, {14, 14});
  EXPECT_THROW(tensor({1.0f}) & tensor({1.0f}), TypeError);
}

TEST(Elementwise, NanInfPredicates) {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = tensor({1.0f, std::nanf(""), inf, -inf});
  expect_values(isnan(x), {0, 1, 0, 0});
  expect_values(isinf(x), {0, 0, 1, 1});
  expect_values(isfinite(x), {1, 0, 0, 0});
  EXPECT_EQ(x.isfinite().dtype(), kBool);
  expect_values(isnan(tensor({1, 2})), {0, 0});
}

TEST(Elementwise, EqualAndAllclose) {
  Tensor a = tensor({1.0f, 2.0f, 3.0f});
  EXPECT_TRUE(equal(a, tensor({1.0f, 2.0f, 3.0f})));
  EXPECT_FALSE(equal(a, tensor({1.0f, 2.0f, 3.5f})));
  EXPECT_FALSE(equal(a, tensor({1.0f, 2.0f})));
  EXPECT_TRUE(a.allclose(tensor({1.0f, 2.0f, 3.00001f})));
  EXPECT_FALSE(a.allclose(tensor({1.0f, 2.0f, 3.001f})));
  EXPECT_TRUE(a.allclose(tensor({1.0f, 2.0f, 3.001f}), 1e-3));
  EXPECT_FALSE(tensor({std::nanf("")}).allclose(tensor({std::nanf("")})));
  EXPECT_TRUE(tensor({1.0f, 1.0f}).allclose(tensor({1.0f})));  // broadcasts, as torch
}

// ---- broadcasting rules and sum_to ---------------------------------------------------------------

TEST(Elementwise, BroadcastShapes) {
  EXPECT_EQ(broadcast_shapes({2, 1, 4}, {3, 1}), std::vector<int64_t>({2, 3, 4}));
  EXPECT_EQ(broadcast_shapes({}, {5}), std::vector<int64_t>({5}));
  EXPECT_EQ(broadcast_shapes({0, 3}, {1, 3}), std::vector<int64_t>({0, 3}));
  EXPECT_THROW(broadcast_shapes({2, 3}, {4}), ShapeError);
}

TEST(Elementwise, BroadcastErrorNamesOpAndBothShapes) {
  try {
    add(zeros({2, 3}), zeros({4}));
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("add"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[4]"), std::string::npos) << msg;
  }
}

TEST(Elementwise, SumToReducesLeadingAndSizeOneDims) {
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[i] = static_cast<float>(i);
  Tensor g = from_blob(v.data(), {2, 3, 4});
  // torch.arange(24.).reshape(2, 3, 4).sum_to_size(3, 1) -> [[60], [92], [124]]
  Tensor s = sum_to(g, {3, 1});
  EXPECT_EQ(s.sizes(), std::vector<int64_t>({3, 1}));
  expect_values(s, {60, 92, 124});
  // .sum_to_size(4) -> [60, 66, 72, 78]
  expect_values(sum_to(g, {4}), {60, 66, 72, 78});
  // .sum_to_size(1, 1, 1) -> [[[276]]]
  expect_values(sum_to(g, {1, 1, 1}), {276});
  EXPECT_TRUE(sum_to(g, {2, 3, 4}).is_same(g));
  EXPECT_THROW(sum_to(g, {5}), ShapeError);
  EXPECT_THROW(sum_to(g, {1, 2, 3, 4}), ShapeError);
}

TEST(Elementwise, ZeroDimAndEmptyTensors) {
  Tensor s = scalar_tensor(2.0);
  Tensor x = tensor({1.0f, 2.0f});
  expect_values(x * s, {2, 4});
  EXPECT_EQ((s * s).dim(), 0);
  Tensor e = zeros({0, 3});
  EXPECT_EQ((e + 1.0).sizes(), std::vector<int64_t>({0, 3}));
  EXPECT_EQ((e + zeros({3})).sizes(), std::vector<int64_t>({0, 3}));
}

// ---- strided inputs and outputs ---------------------------------------------------------------

TEST(Elementwise, StridedInputsAreReadThroughTheirStrides) {
  std::vector<float> buf = {1, 2, 3, 4, 5, 6};
  Tensor t = from_blob(buf.data(), {3, 2}, {1, 3});  // the transpose of [[1,2,3],[4,5,6]]
  expect_values(t + tensor({10.0f, 20.0f}), {11, 24, 12, 25, 13, 26});
  expect_values(exp(t) / exp(t), {1, 1, 1, 1, 1, 1});
  expect_values(t.clamp(2.0, 5.0), {2, 4, 2, 5, 3, 5});
  expect_values(t.to(kLong), {1, 4, 2, 5, 3, 6});
}

TEST(Elementwise, InPlaceOpsWriteThroughAView) {
  std::vector<float> buf = {1, 2, 3, 4, 5, 6};
  Tensor col = from_blob(buf.data(), {2}, {3});  // column 0 of [[1,2,3],[4,5,6]]
  col.add_(10.0);
  col.mul_(tensor({2.0f, 3.0f}));
  EXPECT_EQ(buf, std::vector<float>({22, 2, 3, 42, 5, 6}));
  Tensor tr = from_blob(buf.data(), {3, 2}, {1, 3});
  tr.sub_(tensor({1.0f, 2.0f}));  // row-broadcast over the transposed view
  EXPECT_EQ(buf, std::vector<float>({21, 1, 2, 40, 3, 4}));
  tr.clamp_(2.0, 30.0);
  EXPECT_EQ(buf, std::vector<float>({21, 2, 2, 30, 3, 4}));
  tr.masked_fill_(tensor({1, 0}).to(kBool), -1.0);
  EXPECT_EQ(buf, std::vector<float>({-1, -1, -1, 30, 3, 4}));
  tr.neg_();
  tr.abs_();
  tr.sign_();
  EXPECT_EQ(buf, std::vector<float>({1, 1, 1, 1, 1, 1}));
  tr.addcmul_(tensor({1.0f, 2.0f}), tensor({3.0f, 3.0f}), 0.5);
  EXPECT_EQ(buf, std::vector<float>({2.5f, 2.5f, 2.5f, 4, 4, 4}));
  tr.addcdiv_(tensor({1.0f, 2.0f}), tensor({2.0f, 4.0f}), 2.0);
  EXPECT_EQ(buf, std::vector<float>({3.5f, 3.5f, 3.5f, 5, 5, 5}));
  tr.lerp_(zeros({3, 2}), 0.5);
  EXPECT_EQ(buf, std::vector<float>({1.75f, 1.75f, 1.75f, 2.5f, 2.5f, 2.5f}));
  tr.pow_(2.0);
  tr.sqrt_();
  tr.div_(tensor({1.75f, 2.5f}));
  tr.exp_();
  for (float v : buf) EXPECT_NEAR(v, std::exp(1.0f), 1e-5f);
}

TEST(Elementwise, InPlaceAliasingReadsBeforeWriting) {
  // x += x.t() on a symmetric read: the input is copied first, so the result is exact.
  std::vector<float> buf = {1, 2, 3, 4};
  Tensor x = from_blob(buf.data(), {2, 2});
  Tensor xt = from_blob(buf.data(), {2, 2}, {1, 2});
  x.add_(xt);
  EXPECT_EQ(buf, std::vector<float>({2, 5, 5, 8}));
  x.add_(x);  // the same view: element-wise, safe
  EXPECT_EQ(buf, std::vector<float>({4, 10, 10, 16}));
}

TEST(Elementwise, InPlaceDtypeRules) {
  Tensor i = tensor({1, 2});
  i.add_(3.0);
  EXPECT_EQ(i.data_ptr<int64_t>()[1], 5);
  EXPECT_THROW(i.add_(0.5), TypeError);
  EXPECT_THROW(i.add_(tensor({1.0f, 1.0f})), TypeError);
  EXPECT_THROW(i.div_(2.0), TypeError);
  EXPECT_THROW(i.sqrt_(), TypeError);
  EXPECT_THROW(i.pow_(-1.0), ValueError);
  Tensor f = tensor({1.0f, 2.0f});
  f.add_(tensor({1, 1}));  // int into float is fine
  expect_values(f, {2, 3});
  Tensor u8 = tensor({250, 3}).to(kByte);
  u8.add_(10.0);  // wraps like torch.uint8
  EXPECT_EQ(u8.data_ptr<uint8_t>()[0], 4);
  EXPECT_EQ(u8.data_ptr<uint8_t>()[1], 13);
}

TEST(Elementwise, InPlaceCannotGrowSelf) {
  Tensor x = zeros({3});
  EXPECT_THROW(x.add_(zeros({2, 3})), ShapeError);
  EXPECT_THROW(x.mul_(zeros({4})), ShapeError);
}

TEST(Elementwise, InPlaceOnExpandedSelfIsRejected) {
  std::vector<float> buf = {1, 2};
  Tensor e = from_blob(buf.data(), {3, 2}, {0, 1});
  EXPECT_THROW(e.add_(1.0), ValueError);
}

// In-place ops on non-leaf tensors are recorded (tests/autograd/inplace_test.cpp); on leaves
// that require grad they are an error, as in PyTorch.
TEST(Elementwise, InPlaceOnLeavesThatRequireGradIsRejected) {
  Tensor leaf = tensor({1.0f, 2.0f}, requires_grad());
  try {
    leaf.add_(1.0);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("a leaf Variable that requires grad is being used in an in-place operation"),
              std::string::npos);
  }
  EXPECT_THROW(leaf.relu_(), ValueError);
  EXPECT_THROW(leaf.masked_fill_(tensor({1, 0}).to(kBool), 0.0), ValueError);
  EXPECT_THROW(leaf.copy_(zeros({2})), ValueError);
  {
    NoGradGuard guard;  // optimiser updates run like this
    leaf.sub_(tensor({0.5f, 0.5f}), 2.0);
  }
  expect_values(leaf, {0, 1});
  EXPECT_FALSE(leaf.grad().defined());
}

// ---- errors -----------------------------------------------------------------------------------

TEST(Elementwise, ErrorPathsThrowTypedErrors) {
  EXPECT_THROW(where(tensor({1.0f}), zeros({1}), zeros({1})), TypeError);
  EXPECT_THROW(masked_fill(zeros({2}), tensor({1.0f, 0.0f}), 1.0), TypeError);
  EXPECT_THROW(clamp(zeros({2})), ValueError);
  EXPECT_THROW(pow(tensor({1, 2}), -1.0), ValueError);
  EXPECT_THROW(mul(zeros({2, 3}), zeros({3, 2})), ShapeError);
  EXPECT_THROW(where(tensor({1, 0, 1}).to(kBool), zeros({2}), zeros({2})), ShapeError);
  EXPECT_THROW(Tensor() + zeros({1}), ValueError);
  EXPECT_THROW(-tensor({1, 0}).to(kBool), TypeError);
  // torch: "For integral input tensors, argument alpha must not be a floating point number."
  EXPECT_THROW(add(tensor({1}), tensor({2}), 0.5), TypeError);
  EXPECT_NO_THROW(add(tensor({1}), tensor({2}), 3.0));
}

// ---- the parallel paths agree with the serial ones ----------------------------------------------

TEST(Elementwise, LargeBroadcastMatchesElementLoop) {
  // 600 x 500 = 300000 elements: above even the memory-bound ops' grain size, so rows split
  // across threads when there are several.
  const int R = 600, K = 500;
  Tensor m = randn({R, K}), row = randn({K}), col = randn({R, 1});
  Tensor y = m * row + col;
  std::vector<float> mv = m.to_vector(), rv = row.to_vector(), cv = col.to_vector(), yv = y.to_vector();
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < K; ++j) {
      // tolerance: the compiler may fuse the reference's multiply-add into one FMA
      const float expected = mv[i * K + j] * rv[j] + cv[i];
      ASSERT_NEAR(yv[i * K + j], expected, 1e-6f * (1 + std::fabs(expected)));
    }
  std::vector<float> sq = (m * m).to_vector(), ex = exp(m).to_vector();
  for (size_t i = 0; i < mv.size(); ++i) {
    ASSERT_EQ(sq[i], mv[i] * mv[i]);
    ASSERT_EQ(ex[i], std::exp(mv[i]));
  }
  // gradient of the broadcast row: column sums of m
  Tensor r = row.detach().requires_grad_();
  (m * r).backward(ones({R, K}));
  std::vector<float> gr = r.grad().to_vector();
  for (int j = 0; j < K; j += 37) {
    double s = 0;
    for (int i = 0; i < R; ++i) s += mv[i * K + j];
    EXPECT_NEAR(gr[j], s, 1e-3);
  }
}
