// nn::utils::clip_grad_norm_ and clip_grad_value_ against PyTorch 1.13 literals:
//   a = [3., -4.], b = [[12.]] with those gradients;
//   clip_grad_norm_([a, b], 1.0)          -> 13.0, a.grad [0.23076921701431274, -0.307692289352417], b.grad 0.923076868057251
//   clip_grad_norm_([a, b], 2.0, inf)     -> 12.0, [0.4999999701976776, -0.6666666269302368], 1.9999998807907104
//   clip_grad_norm_([a, b], 5.0, 1.0)     -> 19.0, [0.7894735336303711, -1.0526313781738281], 3.1578941345214844
//   clip_grad_norm_([a, b], 2.0, 3.0)     -> 12.207056999206543, [0.49151891469955444, -0.6553585529327393], 1.9660756587982178
//   clip_grad_value_([a, b], 3.5)         -> [3.0, -3.5], [[3.5]]
#include <gtest/gtest.h>

#include <cmath>

#include "cnnkit/nn/utils/clip_grad.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

struct Grads {
  Tensor a = lit({3, -4}, {2}).set_requires_grad(true);
  Tensor b = lit({12}, {1, 1}).set_requires_grad(true);
  Grads() {
    a.set_grad(lit({3, -4}, {2}));
    b.set_grad(lit({12}, {1, 1}));
  }
  std::vector<Tensor> params() const { return {a, b}; }
};

TEST(ClipGradNorm, L2MatchesTorch) {
  Grads g;
  EXPECT_DOUBLE_EQ(nn::utils::clip_grad_norm_(g.params(), 1.0), 13.0);
  EXPECT_TRUE(allclose(g.a.grad(), std::vector<float>{0.23076921701431274f, -0.307692289352417f}, 1e-7, 0, "a"));
  EXPECT_TRUE(allclose(g.b.grad(), std::vector<float>{0.923076868057251f}, 1e-7, 0, "b"));
}

TEST(ClipGradNorm, InfNormMatchesTorch) {
  Grads g;
  EXPECT_DOUBLE_EQ(nn::utils::clip_grad_norm_(g.params(), 2.0, INFINITY), 12.0);
  EXPECT_TRUE(allclose(g.a.grad(), std::vector<float>{0.4999999701976776f, -0.6666666269302368f}, 1e-7, 0, "a"));
  EXPECT_TRUE(allclose(g.b.grad(), std::vector<float>{1.9999998807907104f}, 1e-7, 0, "b"));
}

TEST(ClipGradNorm, L1AndL3MatchTorch) {
  Grads g;
  EXPECT_DOUBLE_EQ(nn::utils::clip_grad_norm_(g.params(), 5.0, 1.0), 19.0);
  EXPECT_TRUE(allclose(g.a.grad(), std::vector<float>{0.7894735336303711f, -1.0526313781738281f}, 1e-7, 0, "a"));
  EXPECT_TRUE(allclose(g.b.grad(), std::vector<float>{3.1578941345214844f}, 1e-7, 0, "b"));
  Grads h;
  EXPECT_NEAR(nn::utils::clip_grad_norm_(h.params(), 2.0, 3.0), 12.207056999206543, 2e-6);
  EXPECT_TRUE(allclose(h.a.grad(), std::vector<float>{0.49151891469955444f, -0.6553585529327393f}, 1e-6, 0, "a"));
  EXPECT_TRUE(allclose(h.b.grad(), std::vector<float>{1.9660756587982178f}, 1e-6, 0, "b"));
}

TEST(ClipGradNorm, BelowMaxNormLeavesGradientsAlone) {
  Grads g;
  EXPECT_DOUBLE_EQ(nn::utils::clip_grad_norm_(g.params(), 100.0), 13.0);
  EXPECT_TRUE(allclose(g.a.grad(), std::vector<float>{3, -4}, 0, 0, "a"));
  EXPECT_DOUBLE_EQ(nn::utils::clip_grad_norm_(g.a, 100.0), 5.0);  // the single-tensor overload
}

TEST(ClipGradNorm, SkipsParametersWithoutGradAndReturnsZeroForNone) {
  Grads g;
  Tensor c = lit({100}, {1}).set_requires_grad(true);  // no gradient
  EXPECT_DOUBLE_EQ(nn::utils::clip_grad_norm_({g.a, c, g.b}, 1.0), 13.0);
  EXPECT_FALSE(c.grad().defined());
  EXPECT_EQ(nn::utils::clip_grad_norm_(std::vector<Tensor>{c}, 1.0), 0.0);
}

TEST(ClipGradNorm, NonFiniteNormThrowsOnlyWhenAsked) {
  Grads g;
  g.b.set_grad(lit({NAN}, {1, 1}));
  EXPECT_TRUE(contains(error_of([&] { nn::utils::clip_grad_norm_(g.params(), 1.0, 2.0, true); }), "non-finite"));
  EXPECT_THROW(nn::utils::clip_grad_norm_(g.params(), 1.0, 2.0, true), ValueError);
  EXPECT_TRUE(allclose(g.a.grad(), std::vector<float>{3, -4}, 0, 0, "a untouched by the error"));
  // torch without the flag: the NaN norm is returned and scales every gradient to NaN.
  EXPECT_TRUE(std::isnan(nn::utils::clip_grad_norm_(g.params(), 1.0)));
  EXPECT_TRUE(std::isnan(g.a.grad().to_vector()[0]));
}

TEST(ClipGradValue, ClampsEveryElement) {
  Grads g;
  nn::utils::clip_grad_value_(g.params(), 3.5);
  EXPECT_TRUE(allclose(g.a.grad(), std::vector<float>{3.0f, -3.5f}, 0, 0, "a"));
  EXPECT_TRUE(allclose(g.b.grad(), std::vector<float>{3.5f}, 0, 0, "b"));
}

}  // namespace
