// Pooling unit tests: values, indices and input gradients against PyTorch over grids of
// options (stride, padding, dilation, ceil_mode, count_include_pad, divisor_override, adaptive
// sizes), small cases element by element, the oneDNN path against the loops, and every error
// path of ops/pool.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cnnkit/core/threads.h"
#include "kernels/pool.h"
#include "cnnkit/ops/pool.h"

#include "test_util.h"

namespace cnnkit {
namespace {

using cnnkit::test::pattern;
using cnnkit::test::pat;


std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  if (t.dtype() == kLong) {
    const int64_t* p = t.data_ptr<int64_t>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(p[i]);
  } else {
    std::vector<float> f = t.to_vector();
    for (size_t i = 0; i < v.size(); ++i) v[i] = f[i];
  }
  return v;
}

// Checksum: sum_i t[i] * pat(i, 101) in double, with the sum of |terms| to scale tolerances.
//   def wsum(x): return float((x.reshape(-1).double() * pat(x.numel(), 101)).sum())
#define EXPECT_SUM(t, expected)                                                 \
  do {                                                                          \
    std::vector<double> v_ = as_doubles(t);                                     \
    double s_ = 0, a_ = 0;                                                      \
    for (size_t i_ = 0; i_ < v_.size(); ++i_) {                                 \
      s_ += v_[i_] * pat(static_cast<int64_t>(i_), 101);                        \
      a_ += std::abs(v_[i_] * pat(static_cast<int64_t>(i_), 101));              \
    }                                                                           \
    EXPECT_NEAR(s_, (expected), 1e-5 * a_ + 1e-6) << #t;                        \
  } while (0)

// ---- max ------------------------------------------------------------------------------------

struct MaxCase {
  std::vector<int64_t> x_sizes, kernel, stride, padding, dilation;
  bool ceil_mode;
  std::vector<int64_t> y_sizes;
  double y, indices, gx;
};
// x = t(xs, 1).requires_grad_()
// y, i = F.max_pool2d(x, k, s or None, p, d, ceil_mode, return_indices=True)
// y.backward(t(y.shape, 4)); print(y.shape, wsum(y), wsum(i), wsum(x.grad))   (float64)
const std::vector<MaxCase> kMaxGrid = {
    {{2, 3, 6, 6}, {2, 2}, {}, {0, 0}, {1, 1}, false, {2, 3, 3, 3}, 0.3125, 42.125, -1.015625},
    {{1, 2, 7, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false, {1, 2, 4, 4}, 0.546875, 20.5, 0.25},
    {{1, 2, 7, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, true, {1, 2, 4, 4}, 0.546875, 20.5, 0.25},
    {{2, 2, 8, 9}, {3, 2}, {2, 3}, {1, 1}, {1, 1}, true, {2, 2, 5, 4}, 0.265625, -229.875, -0.453125},
    {{1, 3, 9, 9}, {3, 3}, {1, 1}, {1, 1}, {2, 2}, false, {1, 3, 7, 7}, 0.28125, 160.5, 0.234375},
    {{1, 2, 10, 8}, {2, 3}, {3, 2}, {1, 0}, {3, 2}, true, {1, 2, 4, 3}, 0.28125, -15.25, -0.234375},
    {{3, 5, 5}, {3, 3}, {1, 1}, {0, 0}, {1, 1}, false, {3, 3, 3}, 1.078125, 17.625, -0.59375},
    {{1, 1, 5, 5}, {4, 4}, {3, 3}, {2, 2}, {1, 1}, true, {1, 1, 3, 3}, -0.59375, -6.375, 1.578125},
    {{2, 1, 6, 1}, {2, 1}, {2, 1}, {1, 0}, {1, 1}, true, {2, 1, 4, 1}, 1.21875, 2.75, 0.78125},
};

TEST(MaxPool2d, ValuesIndicesAndGradientsMatchTorchOverOptionGrid) {
  for (size_t r = 0; r < kMaxGrid.size(); ++r) {
    const MaxCase& c = kMaxGrid[r];
    SCOPED_TRACE("grid row " + std::to_string(r));
    Tensor x = pattern(c.x_sizes, 1, true);
    auto [y, idx] = max_pool2d_with_indices(x, c.kernel, c.stride, c.padding, c.dilation, c.ceil_mode);
    ASSERT_EQ(y.sizes(), IntArrayRef(c.y_sizes));
    ASSERT_EQ(idx.dtype(), kLong);
    EXPECT_FALSE(idx.requires_grad());
    y.backward(pattern(c.y_sizes, 4));
    EXPECT_SUM(y, c.y);
    EXPECT_SUM(idx, c.indices);
    EXPECT_SUM(x.grad(), c.gx);
    // max_pool2d (no indices) takes its own path; same numbers.
    Tensor x2 = pattern(c.x_sizes, 1, true);
    Tensor y2 = max_pool2d(x2, c.kernel, c.stride, c.padding, c.dilation, c.ceil_mode);
    y2.backward(pattern(c.y_sizes, 4));
    EXPECT_EQ(y2.to_vector(), y.to_vector());
    EXPECT_EQ(x2.grad().to_vector(), x.grad().to_vector());
  }
}

TEST(MaxPool2d, CeilModeSmallCaseMatchesTorchElementwise) {
  // x = t((1,1,4,5),1); y, i = F.max_pool2d(x, 2, return_indices=True, ceil_mode=True)
  // y.backward(t(y.shape, 4))
  Tensor x = pattern({1, 1, 4, 5}, 1, true);
  auto [y, idx] = max_pool2d_with_indices(x, 2, {}, 0, 1, true);
  y.backward(pattern({1, 1, 2, 3}, 4));
  EXPECT_EQ(y.to_vector(), (std::vector<float>{1.0, 0.75, -0.75, 0.625, 1.125, 0.875}));
  EXPECT_EQ(as_doubles(idx), (std::vector<double>{6, 3, 4, 11, 17, 14}));
  EXPECT_EQ(x.grad().to_vector(),
            (std::vector<float>{0.0, 0.0, 0.0, -0.875, 0.0, 0.0, 0.625, 0.0, 0.0, 0.0, 0.0, 0.875,
                                0.0, 0.0, 0.25, 0.0, 0.0, -0.625, 0.0, 0.0}));
}

TEST(MaxPool2d, NanPropagatesAndTiesKeepTheFirstMaximum) {
  // torch: F.max_pool2d(torch.tensor([[[[1., 1.], [nan, 1.]]]]), 2, return_indices=True)
  //   -> (nan, 2);  ties [[2, 2], [2, 2]] -> (2, 0)
  Tensor x = cnnkit::empty({1, 1, 2, 2});
  float* p = x.data_ptr<float>();
  p[0] = 1, p[1] = 1, p[2] = std::numeric_limits<float>::quiet_NaN(), p[3] = 1;
  auto [y, idx] = max_pool2d_with_indices(x, 2);
  EXPECT_TRUE(std::isnan(y.to_vector()[0]));
  EXPECT_EQ(as_doubles(idx)[0], 2);
  p[0] = p[1] = p[2] = p[3] = 2;
  auto [y2, idx2] = max_pool2d_with_indices(x, 2);
  EXPECT_EQ(y2.to_vector()[0], 2.0f);
  EXPECT_EQ(as_doubles(idx2)[0], 0);
}

// ---- average ----------------------------------------------------------------------------------

struct AvgCase {
  std::vector<int64_t> x_sizes, kernel, stride, padding;
  bool ceil_mode, count_include_pad;
  int64_t divisor_override;  // 0: none
  std::vector<int64_t> y_sizes;
  double y, gx;
};
// x = t(xs, 1).requires_grad_()
// y = F.avg_pool2d(x, k, s or None, p, ceil_mode, count_include_pad, divisor_override or None)
// y.backward(t(y.shape, 4)); print(y.shape, wsum(y), wsum(x.grad))   (float64)
const std::vector<AvgCase> kAvgGrid = {
    {{2, 3, 6, 6}, {2, 2}, {}, {0, 0}, false, true, 0, {2, 3, 3, 3}, 0.3203125, 0.09765625},
    {{1, 2, 7, 7}, {3, 3}, {2, 2}, {1, 1}, false, true, 0, {1, 2, 4, 4}, -0.2447916667, -0.1996527778},
    {{1, 2, 7, 7}, {3, 3}, {2, 2}, {1, 1}, false, false, 0, {1, 2, 4, 4}, -0.3094618056, -0.1540798611},
    {{1, 2, 7, 7}, {3, 3}, {2, 2}, {1, 1}, true, true, 0, {1, 2, 4, 4}, -0.2447916667, -0.1996527778},
    {{1, 2, 7, 7}, {3, 3}, {2, 2}, {1, 1}, true, false, 0, {1, 2, 4, 4}, -0.3094618056, -0.1540798611},
    {{2, 2, 8, 9}, {3, 2}, {2, 3}, {1, 1}, true, true, 0, {2, 2, 5, 4}, -0.9713541667, 0.5729166667},
    {{2, 2, 8, 9}, {3, 2}, {2, 3}, {1, 1}, true, false, 0, {2, 2, 5, 4}, -1.381510417, -0.171875},
    {{1, 2, 6, 6}, {3, 3}, {2, 2}, {1, 1}, false, true, 5, {1, 2, 3, 3}, 0.340625, -0.175},
    {{1, 2, 6, 5}, {2, 4}, {3, 1}, {1, 2}, true, false, 3, {1, 2, 3, 6}, 1.635416667, -0.05208333333},
    {{3, 5, 5}, {3, 3}, {1, 1}, {1, 1}, false, false, 0, {3, 5, 5}, 0.3923611111, 0.7100694444},
    {{1, 1, 5, 5}, {4, 4}, {3, 3}, {2, 2}, true, true, 0, {1, 1, 3, 3}, -0.08517795139, 0.2001953125},
    {{1, 1, 5, 5}, {4, 4}, {3, 3}, {2, 2}, true, false, 0, {1, 1, 3, 3}, -0.736328125, 1.053710938},
};

TEST(AvgPool2d, ValuesAndGradientsMatchTorchOverOptionGrid) {
  for (size_t r = 0; r < kAvgGrid.size(); ++r) {
    const AvgCase& c = kAvgGrid[r];
    SCOPED_TRACE("grid row " + std::to_string(r));
    Tensor x = pattern(c.x_sizes, 1, true);
    std::optional<int64_t> div;
    if (c.divisor_override) div = c.divisor_override;
    Tensor y = avg_pool2d(x, c.kernel, c.stride, c.padding, c.ceil_mode, c.count_include_pad, div);
    ASSERT_EQ(y.sizes(), IntArrayRef(c.y_sizes));
    y.backward(pattern(c.y_sizes, 4));
    EXPECT_SUM(y, c.y);
    EXPECT_SUM(x.grad(), c.gx);
  }
}

TEST(AvgPool2d, CeilModeDivisorCountsPaddingButNotTheOverhang) {
  // x = t((1,1,4,5),1); y = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True)
  // y.backward(t(y.shape, 4))
  Tensor x = pattern({1, 1, 4, 5}, 1, true);
  Tensor y = avg_pool2d(x, 3, 2, 1, true, true);
  y.backward(pattern({1, 1, 3, 3}, 4));
  const std::vector<double> ey{0.06944444444444445, 0.05555555555555555, -0.08333333333333333,
                               0.125, 0.18055555555555555, 0.027777777777777776, -0.0625,
                               0.16666666666666666, 0.020833333333333332};
  const std::vector<double> egx{
      0.06944444444444445, -0.027777777777777776, -0.09722222222222222, -0.09722222222222222, 0.0,
      0.16666666666666669, 0.0, -0.16666666666666669, -0.1388888888888889, 0.027777777777777776,
      0.09722222222222222, 0.027777777777777776, -0.06944444444444445, -0.04166666666666667,
      0.027777777777777776, 0.2847222222222222, 0.1527777777777778, -0.13194444444444445,
      -0.020833333333333343, 0.1111111111111111};
  std::vector<double> gy = as_doubles(y), gg = as_doubles(x.grad());
  for (size_t i = 0; i < ey.size(); ++i) EXPECT_NEAR(gy[i], ey[i], 1e-6) << i;
  for (size_t i = 0; i < egx.size(); ++i) EXPECT_NEAR(gg[i], egx[i], 1e-6) << i;
}

// ---- adaptive -------------------------------------------------------------------------------

struct AdaptiveCase {
  std::vector<int64_t> x_sizes, output_size, y_sizes;
  double avg_y, avg_gx, max_y, max_indices, max_gx;
};
// x = t(xs, 1).requires_grad_(); y = F.adaptive_avg_pool2d(x, o); y.backward(t(y.shape, 4))
// ym, i = F.adaptive_max_pool2d(x, o, return_indices=True); ym.backward(t(ym.shape, 4))
// print(wsum(y), wsum(x.grad of avg), wsum(ym), wsum(i), wsum(x.grad of max))   (float64)
const std::vector<AdaptiveCase> kAdaptiveGrid = {
    {{2, 3, 6, 6}, {1, 1}, {2, 3, 1, 1}, 0.006076388889, 0.004774305556, 0.84375, -5.125, -0.0625},
    {{1, 2, 7, 5}, {3, 2}, {1, 2, 3, 2}, -0.09895833333, 0.2899305556, -0.421875, 18.375, 0.078125},
    {{1, 2, 5, 7}, {4, 3}, {1, 2, 4, 3}, 0.1328125, -0.53125, -0.03125, -8, -0.953125},
    {{2, 1, 3, 3}, {5, 4}, {2, 1, 5, 4}, -7.4609375, 2.296875, -5.234375, -11.25, 2.359375},
    {{3, 8, 6}, {2, 4}, {3, 2, 4}, 0.12890625, -0.232421875, -0.390625, 53.375, 0.015625},
    {{1, 2, 10, 10}, {3, 3}, {1, 2, 3, 3}, -0.5751953125, 1.145507812, -0.46875, -139.5, -0.453125},
};

TEST(AdaptivePool2d, AvgAndMaxMatchTorchOverOutputSizes) {
  for (size_t r = 0; r < kAdaptiveGrid.size(); ++r) {
    const AdaptiveCase& c = kAdaptiveGrid[r];
    SCOPED_TRACE("grid row " + std::to_string(r));
    Tensor x = pattern(c.x_sizes, 1, true);
    Tensor y = adaptive_avg_pool2d(x, c.output_size);
    ASSERT_EQ(y.sizes(), IntArrayRef(c.y_sizes));
    y.backward(pattern(c.y_sizes, 4));
    EXPECT_SUM(y, c.avg_y);
    EXPECT_SUM(x.grad(), c.avg_gx);
    Tensor x2 = pattern(c.x_sizes, 1, true);
    auto [ym, idx] = adaptive_max_pool2d(x2, c.output_size);
    ASSERT_EQ(ym.sizes(), IntArrayRef(c.y_sizes));
    ym.backward(pattern(c.y_sizes, 4));
    EXPECT_SUM(ym, c.max_y);
    EXPECT_SUM(idx, c.max_indices);
    EXPECT_SUM(x2.grad(), c.max_gx);
  }
}

// ---- oneDNN path ------------------------------------------------------------------------------

TEST(Pool2d, OneDnnPathMatchesLoopsWhereItIsExact) {
  struct Case {
    kernels::Pool2dShape s;
    bool ceil;
  };
  std::vector<Case> cases;
  for (int64_t k : {2, 3})
    for (int64_t st : {1, 2})
      for (int64_t pad = 0; pad <= k / 2; ++pad)
        for (bool ceil : {false, true}) {
          kernels::Pool2dShape s;
          s.N = 2, s.C = 10, s.H = 7, s.W = 6, s.kH = s.kW = k, s.stride_h = s.stride_w = st;
          s.pad_h = s.pad_w = pad;
          s.H_out = kernels::pool_output_size(s.H, k, pad, st, 1, ceil);
          s.W_out = kernels::pool_output_size(s.W, k, pad, st, 1, ceil);
          cases.push_back({s, ceil});
        }
  int compared = 0;
  for (const Case& c : cases) {
    const kernels::Pool2dShape& s = c.s;
    const Tensor x = pattern({s.N, s.C, s.H, s.W}, 1), gy = pattern({s.N, s.C, s.H_out, s.W_out}, 4);
    for (auto kind : {kernels::PoolKind::max, kernels::PoolKind::avg}) {
      for (bool cip : {true, false}) {
        const kernels::AvgOptions avg{cip, 0};
        if (!kernels::onednn_pool_exact(s, kind, avg)) continue;
        Tensor y0 = cnnkit::empty(gy.sizes()), y1 = cnnkit::empty(gy.sizes());
        Tensor g0 = cnnkit::empty(x.sizes()), g1 = cnnkit::empty(x.sizes());
        std::shared_ptr<kernels::Pool2dSaved> saved;
        kernels::pool2d_forward_onednn(y0.data_ptr<float>(), x.data_ptr<float>(), s, kind, avg, &saved);
        kernels::pool2d_backward_onednn(g0.data_ptr<float>(), gy.data_ptr<float>(), s, kind, avg,
                                        saved.get());
        if (kind == kernels::PoolKind::max) {
          Tensor idx = cnnkit::empty(gy.sizes(), kLong);
          kernels::max_pool2d_forward(y1.data_ptr<float>(), idx.data_ptr<int64_t>(), x.data_ptr<float>(), s);
          kernels::max_pool2d_backward(g1.data_ptr<float>(), gy.data_ptr<float>(), idx.data_ptr<int64_t>(),
                                       s.N * s.C, s.H * s.W, s.H_out * s.W_out);
        } else {
          kernels::avg_pool2d_forward(y1.data_ptr<float>(), x.data_ptr<float>(), s, avg);
          kernels::avg_pool2d_backward(g1.data_ptr<float>(), gy.data_ptr<float>(), s, avg);
        }
        std::vector<float> a = y0.to_vector(), b = y1.to_vector(), ga = g0.to_vector(), gb = g1.to_vector();
        for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-6) << "y " << i;
        for (size_t i = 0; i < ga.size(); ++i) ASSERT_NEAR(ga[i], gb[i], 1e-6) << "gx " << i;
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 20);
  // count_include_pad with a ceil_mode window past the padding is PyTorch-only.
  kernels::Pool2dShape s;
  s.N = s.C = 1, s.H = s.W = 5, s.kH = s.kW = 4, s.stride_h = s.stride_w = 3, s.pad_h = s.pad_w = 2;
  s.H_out = s.W_out = 3;
  EXPECT_FALSE(kernels::onednn_pool_exact(s, kernels::PoolKind::avg, {true, 0}));
  EXPECT_FALSE(kernels::onednn_pool_exact(s, kernels::PoolKind::avg, {false, 2}));
}

TEST(Pool2d, TwoThreadsGiveTheSameResultsAsOne) {
  // Large enough (64*16 planes) for the loops to split planes across threads.
  const int before = get_num_threads();
  std::vector<float> results[2];
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Tensor x = pattern({64, 16, 16, 16}, 1, true);
    auto [m, idx] = max_pool2d_with_indices(x, 3, 2, 1, 1, true);
    Tensor a = avg_pool2d(x, 3, 2, 1, true, false);
    Tensor g = adaptive_avg_pool2d(x, {3, 5});
    auto [am, aidx] = adaptive_max_pool2d(x, 3);
    Tensor loss_seed = pattern(m.sizes().vec(), 4);
    m.backward(loss_seed);
    for (const Tensor& t : {m, a, g, am, x.grad()}) {
      std::vector<float> v = t.to_vector();
      results[threads - 1].insert(results[threads - 1].end(), v.begin(), v.end());
    }
    for (const Tensor& t : {idx, aidx})
      for (double v : as_doubles(t)) results[threads - 1].push_back(static_cast<float>(v));
  }
  set_num_threads(before);
  EXPECT_EQ(results[0], results[1]);
}

TEST(Pool2d, EmptyBatchGivesEmptyOutput) {
  Tensor x = pattern({0, 2, 4, 4}, 1, true);
  Tensor y = max_pool2d(x, 2);
  EXPECT_EQ(y.sizes(), IntArrayRef({0, 2, 2, 2}));
  y.backward(cnnkit::empty({0, 2, 2, 2}));
  EXPECT_EQ(x.grad().sizes(), IntArrayRef({0, 2, 4, 4}));
  EXPECT_EQ(avg_pool2d(x, 2).sizes(), IntArrayRef({0, 2, 2, 2}));
  EXPECT_EQ(adaptive_avg_pool2d(x, 3).sizes(), IntArrayRef({0, 2, 3, 3}));
}

TEST(Pool2d, SkipsTheGraphWhenNoGradientIsNeeded) {
  Tensor x = pattern({1, 2, 4, 4}, 1);
  EXPECT_FALSE(max_pool2d(x, 2).requires_grad());
  EXPECT_FALSE(avg_pool2d(x, 2).requires_grad());
  EXPECT_FALSE(adaptive_avg_pool2d(x, 1).requires_grad());
  EXPECT_TRUE(max_pool2d(pattern({1, 2, 4, 4}, 1, true), 2).requires_grad());
}

// ---- errors -----------------------------------------------------------------------------------

template <typename E, typename F>
void expect_error(F&& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "expected an exception mentioning: " << fragment;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Pool2d, RejectsBadInputsWithTorchLikeMessages) {
  const Tensor x = pattern({1, 1, 4, 4}, 1);
  expect_error<ShapeError>([&] { max_pool2d(pattern({4, 4}, 1), 2); },
                           "max_pool2d: expected 3D (C, H, W) or 4D (N, C, H, W) input");
  expect_error<ShapeError>([&] { avg_pool2d(pattern({1, 0, 4, 4}, 1), 2); }, "non-zero C, H, W");
  expect_error<ShapeError>([&] { adaptive_avg_pool2d(pattern({4, 4}, 1), 2); },
                           "adaptive_avg_pool2d: expected 3D");
  expect_error<ShapeError>([&] { adaptive_max_pool2d(pattern({2, 1, 4, 4, 1}, 1), 2); },
                           "adaptive_max_pool2d: expected 3D");
  expect_error<TypeError>([&] { max_pool2d(cnnkit::empty({1, 1, 4, 4}, kLong), 2); },
                          "expected a float32 input");
  expect_error<ValueError>([&] { max_pool2d(x, {2, 2, 2}); },
                           "max_pool2d: kernel_size must either be a single int, or a tuple of two ints");
  expect_error<ValueError>([&] { max_pool2d(x, 2, {1, 1, 1}); }, "stride must either be omitted");
  expect_error<ValueError>([&] { max_pool2d(x, 2, {}, {0, 0, 0}); }, "padding must either be");
  expect_error<ValueError>([&] { max_pool2d(x, 2, {}, 0, {1, 1, 1}); }, "dilation must be either");
  expect_error<ValueError>([&] { max_pool2d(x, 0); },
                           "kernel size should be greater than zero, but got kH: 0 kW: 0");
  expect_error<ValueError>([&] { avg_pool2d(x, 2, 0); },
                           "stride should be greater than zero, but got dH: 0 dW: 0");
  expect_error<ValueError>([&] { max_pool2d(x, 2, {}, 0, 0); },
                           "dilation should be greater than zero, but got dilationH: 0 dilationW: 0");
  expect_error<ValueError>([&] { max_pool2d(x, 2, {}, -1); }, "pad must be non-negative");
  expect_error<ValueError>([&] { max_pool2d(x, 3, {}, 2); },
                           "pad should be at most half of kernel size, but got pad=2 and kernel_size=3");
  expect_error<ValueError>([&] { avg_pool2d(x, 3, {}, 2); }, "pad should be at most half");
  expect_error<ShapeError>([&] { max_pool2d(pattern({1, 1, 2, 2}, 1), 3); },
                           "given input size: (1x2x2). Calculated output size: (1x0x0). Output size "
                           "is too small");
  expect_error<ShapeError>([&] { avg_pool2d(pattern({1, 1, 2, 2}, 1), 3); }, "Output size is too small");
  expect_error<ValueError>([&] { avg_pool2d(x, 2, {}, 0, false, true, 0); },
                           "avg_pool2d: divisor must be not zero");
  expect_error<ValueError>([&] { adaptive_avg_pool2d(x, {-1, 2}); },
                           "output_size must be non-negative");
  expect_error<ValueError>([&] { adaptive_max_pool2d(x, {1, 2, 3}); }, "output_size must either be");
  // A dilated window wholly in the padding (PyTorch would index outside the plane).
  expect_error<ValueError>([&] { max_pool2d(pattern({2, 1, 3}, 1), {2, 3}, {3, 1}, 1, 2); },
                           "covers only padding");
  expect_error<ValueError>([&] { max_pool2d(Tensor(), 2); }, "input must be defined");
}

}  // namespace
}  // namespace cnnkit
