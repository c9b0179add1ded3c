// Dropout family: PyTorch's semantics (identity in eval or p = 0, zeros at p = 1, kept
// values scaled by 1 / (1 - p)), mask statistics, the backward's saved mask, whole-plane
// feature dropout, alpha dropout's moments, and seed reproducibility.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cnnkit/ops/dropout.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/factory.h"

using namespace cnnkit;

TEST(Dropout, EvalModeAndZeroProbabilityAreIdentity) {
  Tensor x = randn({4, 5});
  EXPECT_TRUE(dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, true).is_same(x));
  EXPECT_TRUE(feature_dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(alpha_dropout(x, 0.5, false).is_same(x));
}

TEST(Dropout, KeptValuesAreScaledAndTheRestZero) {
  manual_seed(1);
  Tensor x = full({100000}, 2.0);
  const double p = 0.3;
  std::vector<float> y = dropout(x, p, true).to_vector();
  const float kept = 2.0f * (1.0f / 0.7f);
  int64_t n_kept = 0;
  for (float v : y) {
    ASSERT_TRUE(v == 0.0f || v == kept) << v;
    n_kept += v != 0.0f;
  }
  EXPECT_NEAR(static_cast<double>(n_kept) / y.size(), 1 - p, 0.005);
}

TEST(Dropout, BackwardMultipliesByTheSameMask) {
  manual_seed(2);
  Tensor x = randn({64, 32}).requires_grad_();
  Tensor y = dropout(x, 0.4, true);
  Tensor g = randn({64, 32});
  y.backward(g);
  std::vector<float> xv = x.detach().to_vector(), yv = y.detach().to_vector(), gv = g.to_vector(),
                     gx = x.grad().to_vector();
  const float scale = 1.0f / 0.6f;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.0f) {
      EXPECT_EQ(gx[i], 0.0f);
    } else {
      EXPECT_FLOAT_EQ(yv[i], xv[i] * scale);
      EXPECT_FLOAT_EQ(gx[i], gv[i] * scale);
    }
  }
}

TEST(Dropout, ProbabilityOneGivesZerosAndZeroGradient) {
  Tensor x = randn({3, 3}).requires_grad_();
  Tensor y = dropout(x, 1.0, true);
  EXPECT_EQ(y.to_vector(), std::vector<float>(9, 0.0f));
  y.backward(ones({3, 3}));
  EXPECT_EQ(x.grad().to_vector(), std::vector<float>(9, 0.0f));
}

TEST(Dropout, SameSeedSameMask) {
  Tensor x = ones({1000});
  manual_seed(42);
  std::vector<float> a = dropout(x, 0.5, true).to_vector();
  manual_seed(42);
  std::vector<float> b = dropout(x, 0.5, true).to_vector();
  std::vector<float> c = dropout(x, 0.5, true).to_vector();
  EXPECT_EQ(a, b);
  EXPECT_NE(b, c);
}

TEST(Dropout, WorksOnStridedInput) {
  std::vector<float> buf(12, 1.0f);
  Tensor t = from_blob(buf.data(), {4, 3}, {1, 4});
  manual_seed(3);
  Tensor y = dropout(t, 0.5, true);
  EXPECT_EQ(y.sizes(), std::vector<int64_t>({4, 3}));
  for (float v : y.to_vector()) EXPECT_TRUE(v == 0.0f || v == 2.0f);
}

TEST(Dropout, FeatureDropoutZeroesWholePlanes) {
  manual_seed(4);
  const int64_t N = 8, C = 16, H = 3, W = 5;
  Tensor x = ones({N, C, H, W}).requires_grad_();
  Tensor y = feature_dropout(x, 0.5, true);
  EXPECT_EQ(y.sizes(), x.sizes());
  std::vector<float> v = y.to_vector();
  int64_t planes_kept = 0;
  for (int64_t plane = 0; plane < N * C; ++plane) {
    const float first = v[plane * H * W];
    ASSERT_TRUE(first == 0.0f || first == 2.0f);
    for (int64_t i = 1; i < H * W; ++i) ASSERT_EQ(v[plane * H * W + i], first) << "plane " << plane;
    planes_kept += first != 0.0f;
  }
  EXPECT_GT(planes_kept, 0);
  EXPECT_LT(planes_kept, N * C);
  y.backward(ones({N, C, H, W}));
  std::vector<float> gx = x.grad().to_vector();
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(gx[i], v[i]);  // x = 1, so the grad equals y
}

TEST(Dropout, AlphaDropoutKeepsMeanAndVariance) {
  // torch: torch.alpha_dropout(torch.randn(200000), 0.3, True) has mean ~0 and std ~1.
  manual_seed(5);
  Tensor x = randn({200000});
  std::vector<float> y = alpha_dropout(x, 0.3, true).to_vector();
  double m = 0, s = 0;
  for (float v : y) m += v;
  m /= y.size();
  for (float v : y) s += (v - m) * (v - m);
  EXPECT_NEAR(m, 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(s / y.size()), 1.0, 0.01);
  // Dropped elements all take one value: alpha' * a * (p - 1).
  const double alpha = 1.7580993408473766, a = 1.0 / std::sqrt((alpha * alpha * 0.3 + 1) * 0.7);
  const float dropped = static_cast<float>(alpha * a * (0.3 - 1));
  int64_t n_dropped = 0;
  for (float v : y) n_dropped += std::fabs(v - dropped) < 1e-6f;
  EXPECT_NEAR(static_cast<double>(n_dropped) / y.size(), 0.3, 0.01);
}

TEST(Dropout, AlphaDropoutGradientIsTheScaledMask) {
  manual_seed(6);
  Tensor x = zeros({1000}).requires_grad_();
  Tensor y = alpha_dropout(x, 0.2, true);
  y.backward(ones({1000}));
  const double alpha = 1.7580993408473766, a = 1.0 / std::sqrt((alpha * alpha * 0.2 + 1) * 0.8);
  for (float gv : x.grad().to_vector()) EXPECT_TRUE(gv == 0.0f || std::fabs(gv - a) < 1e-6) << gv;
}

TEST(Dropout, RejectsBadArguments) {
  Tensor x = ones({2, 2});
  EXPECT_THROW(dropout(x, -0.1, true), ValueError);
  EXPECT_THROW(dropout(x, 1.5, true), ValueError);
  EXPECT_THROW(feature_dropout(ones({4}), 0.5, true), ShapeError);
  EXPECT_THROW(dropout(ones({2}, kLong), 0.5, true), TypeError);
}
