// conv2d unit tests: values and gradients (input, weight, bias) against PyTorch over a grid of
// options, a small case element by element, the two kernel algorithms against each other,
// gradient skipping, non-contiguous inputs, and every error path of ops/conv.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/threads.h"
#include "kernels/conv.h"
#include "cnnkit/ops/conv.h"

#include "test_util.h"

namespace cnnkit {
namespace {

using cnnkit::test::pattern;
using cnnkit::test::pat;


// Checksum: sum_i t[i] * pat(i, 101) in double, and the sum of |terms| to scale tolerances.
//   def wsum(x): return float((x.reshape(-1) * pat(x.numel(), 101)).sum())
struct Sum {
  double value = 0, scale = 0;
};
Sum wsum(const Tensor& t) {
  Sum s;
  std::vector<float> v = t.to_vector();
  for (size_t i = 0; i < v.size(); ++i) {
    const double term = double(v[i]) * pat(static_cast<int64_t>(i), 101);
    s.value += term;
    s.scale += std::abs(term);
  }
  return s;
}

#define EXPECT_SUM(t, expected)                                                    \
  do {                                                                             \
    Sum s_ = wsum(t);                                                              \
    EXPECT_NEAR(s_.value, (expected), 2e-5 * s_.scale + 1e-5) << #t;               \
  } while (0)

struct ConvCase {
  std::vector<int64_t> x_sizes, w_sizes;
  bool bias;
  std::vector<int64_t> stride, padding;
  const char* padding_mode;  // "same" / "valid", or null for numeric padding
  std::vector<int64_t> dilation;
  int64_t groups;
  std::vector<int64_t> y_sizes;
  double y, gx, gw, gb;  // wsum of the output and of each gradient
};

// Made by (float64, then the loop printing each row):
//   x = t(xs, 1).requires_grad_(); w = t(ws, 2).requires_grad_()
//   b = t((ws[0],), 3).requires_grad_() if bias else None
//   y = F.conv2d(x, w, b, stride, padding_mode or padding, dilation, groups)
//   y.backward(t(y.shape, 4)); print(y.shape, wsum(y), wsum(x.grad), wsum(w.grad), wsum(b.grad))
// where t(sizes, seed) = pat(numel, seed).reshape(sizes).
const std::vector<ConvCase> kGrid = {
    // plain 3x3, stride 1-3, padding 0-3, rectangular kernels and strides
    {{2, 3, 6, 5}, {4, 3, 3, 3}, true, {1, 1}, {1, 1}, nullptr, {1, 1}, 1, {2, 4, 6, 5}, 8.486328125, 46.640625, 10.77539062, -1.578125},
    {{2, 3, 7, 7}, {4, 3, 3, 3}, true, {2, 2}, {0, 0}, nullptr, {1, 1}, 1, {2, 4, 3, 3}, 3.18359375, 8.53515625, 6.8203125, -2.328125},
    {{1, 2, 8, 9}, {3, 2, 3, 3}, false, {3, 3}, {2, 2}, nullptr, {1, 1}, 1, {1, 3, 4, 4}, 2.30078125, 3.1171875, 6.064453125, 0},
    {{2, 2, 6, 7}, {3, 2, 2, 3}, true, {1, 2}, {2, 1}, nullptr, {1, 1}, 1, {2, 3, 9, 4}, 12.09960938, 17.89453125, -12.69726562, -2.296875},
    // dilation
    {{1, 3, 9, 9}, {2, 3, 3, 3}, true, {1, 1}, {2, 2}, nullptr, {2, 2}, 1, {1, 2, 9, 9}, 23.94726562, 39.33007812, 60.48242188, 0},
    {{2, 2, 10, 6}, {4, 2, 3, 2}, true, {2, 1}, {3, 0}, nullptr, {3, 1}, 1, {2, 4, 5, 5}, -36.53320312, 8.3828125, 7.45703125, -1.734375},
    // groups, depthwise (also with a channel multiplier and with dilation)
    {{2, 4, 5, 5}, {6, 2, 3, 3}, true, {1, 1}, {1, 1}, nullptr, {1, 1}, 2, {2, 6, 5, 5}, -3.158203125, 30.85742188, 30.93945312, 2.703125},
    {{1, 6, 6, 7}, {3, 2, 1, 3}, false, {2, 1}, {0, 1}, nullptr, {1, 1}, 3, {1, 3, 3, 7}, -1.0546875, -0.345703125, -12.96679688, 0},
    {{2, 4, 6, 6}, {4, 1, 3, 3}, true, {1, 1}, {1, 1}, nullptr, {1, 1}, 4, {2, 4, 6, 6}, -53.1640625, -21.10742188, 38.00976562, -4.21875},
    {{1, 3, 5, 5}, {6, 1, 3, 3}, true, {2, 2}, {1, 1}, nullptr, {1, 1}, 3, {1, 6, 3, 3}, -0.79296875, -1.255859375, -0.8984375, -1.3125},
    {{2, 8, 7, 7}, {8, 1, 3, 3}, true, {1, 1}, {2, 2}, nullptr, {2, 2}, 8, {2, 8, 7, 7}, 23.1875, -64.47851562, 8.625, 1.3125},
    {{2, 12, 6, 6}, {8, 3, 3, 3}, true, {3, 2}, {1, 2}, nullptr, {1, 2}, 4, {2, 8, 2, 3}, 3.076171875, 20.27734375, 3.75, 2.921875},
    // 1x1, also strided (oneDNN's right padding goes negative)
    {{2, 8, 4, 4}, {16, 8, 1, 1}, true, {1, 1}, {0, 0}, nullptr, {1, 1}, 1, {2, 16, 4, 4}, -30.5625, -13.625, -3.71875, -2.390625},
    {{2, 8, 5, 5}, {4, 8, 1, 1}, false, {2, 2}, {0, 0}, nullptr, {1, 1}, 1, {2, 4, 3, 3}, 0.623046875, -3.30078125, 0.646484375, 0},
    // "same" (odd kernel; even kernel pads one more at the end; with dilation) and "valid"
    {{2, 3, 6, 6}, {4, 3, 3, 3}, true, {1, 1}, {0}, "same", {1, 1}, 1, {2, 4, 6, 6}, 42.79101562, -84.17773438, -29.47265625, -4.21875},
    {{1, 2, 5, 6}, {3, 2, 4, 2}, true, {1, 1}, {0}, "same", {1, 1}, 1, {1, 3, 5, 6}, -22.22265625, -48.96875, 10.62890625, 0.328125},
    {{1, 2, 7, 7}, {2, 2, 4, 3}, false, {1, 1}, {0}, "same", {2, 1}, 1, {1, 2, 7, 7}, 6.98046875, -30.58984375, -67.72070312, 0},
    {{2, 3, 6, 5}, {2, 3, 3, 2}, true, {1, 1}, {0}, "valid", {1, 1}, 1, {2, 2, 4, 4}, 12.57226562, 8.484375, 21.20117188, -0.984375},
    // unbatched (C, H, W)
    {{3, 6, 6}, {4, 3, 3, 3}, true, {1, 1}, {1, 1}, nullptr, {1, 1}, 1, {4, 6, 6}, 64.65429688, -15.78320312, 2.07421875, -2.1875},
    // few input channels: the im2col + sgemm passes (LeNet-5 conv1, a 3-channel stem)
    {{4, 1, 12, 12}, {6, 1, 5, 5}, true, {1, 1}, {2, 2}, nullptr, {1, 1}, 1, {4, 6, 12, 12}, -0.58203125, 2.154296875, 26.71679688, 1.265625},
    {{3, 2, 8, 8}, {4, 2, 3, 3}, true, {2, 2}, {1, 1}, nullptr, {1, 1}, 1, {3, 4, 4, 4}, 23.47460938, -15.49609375, 5.576171875, -0.0625},
    {{2, 3, 11, 11}, {8, 3, 7, 7}, true, {2, 2}, {3, 3}, nullptr, {1, 1}, 1, {2, 8, 6, 6}, 66.75585938, -6.244140625, 47.80078125, -2.5625},
    // padding as large as the kernel; kernel exactly the padded input; blocked 16 channels
    {{1, 2, 4, 4}, {2, 2, 3, 3}, true, {1, 1}, {3, 3}, nullptr, {1, 1}, 1, {1, 2, 8, 8}, 24.78125, 4.814453125, -3.25, -1.203125},
    {{1, 2, 3, 3}, {2, 2, 5, 5}, true, {1, 1}, {1, 1}, nullptr, {1, 1}, 1, {1, 2, 1, 1}, 4.744140625, -1.51171875, 1.318359375, -0.546875},
    {{2, 16, 6, 6}, {16, 16, 3, 3}, true, {1, 1}, {1, 1}, nullptr, {1, 1}, 1, {2, 16, 6, 6}, 205.1386719, 50.91992188, 110.8339844, -3.625},
};

TEST(Conv2d, ValuesAndGradientsMatchTorchOverOptionGrid) {
  for (size_t i = 0; i < kGrid.size(); ++i) {
    const ConvCase& c = kGrid[i];
    SCOPED_TRACE("grid row " + std::to_string(i));
    Tensor x = pattern(c.x_sizes, 1, true), w = pattern(c.w_sizes, 2, true);
    Tensor b = c.bias ? pattern({c.w_sizes[0]}, 3, true) : Tensor();
    Tensor y = c.padding_mode ? conv2d(x, w, b, c.stride, std::string(c.padding_mode), c.dilation, c.groups)
                              : conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
    ASSERT_EQ(y.sizes(), IntArrayRef(c.y_sizes));
    y.backward(pattern(c.y_sizes, 4));
    EXPECT_SUM(y, c.y);
    {  // the no-grad forward may run a different primitive (forward_inference)
      NoGradGuard no_grad;
      Tensor y_inference = c.padding_mode
          ? conv2d(x, w, b, c.stride, std::string(c.padding_mode), c.dilation, c.groups)
          : conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
      EXPECT_FALSE(y_inference.requires_grad());
      EXPECT_SUM(y_inference, c.y);
    }
    EXPECT_SUM(x.grad(), c.gx);
    EXPECT_SUM(w.grad(), c.gw);
    if (c.bias) EXPECT_SUM(b.grad(), c.gb);
  }
}

std::vector<float> values(const Tensor& t) { return t.to_vector(); }
void expect_values(const Tensor& t, const std::vector<float>& expected) {
  std::vector<float> v = values(t);
  ASSERT_EQ(v.size(), expected.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], expected[i], 1e-5) << "element " << i;
}

TEST(Conv2d, SmallCaseMatchesTorchElementwise) {
  // x = t((1,1,4,4),1); w = t((2,1,3,3),2); b = t((2,),3); y = F.conv2d(x, w, b, 2, 1)
  // y.backward(t(y.shape, 4))
  Tensor x = pattern({1, 1, 4, 4}, 1, true), w = pattern({2, 1, 3, 3}, 2, true);
  Tensor b = pattern({2}, 3, true);
  Tensor y = conv2d(x, w, b, 2, 1);
  y.backward(pattern({1, 2, 2, 2}, 4));
  expect_values(y, {-0.828125, -0.234375, -1.53125, 0.640625, -0.203125, -1.25, 0.625, -2.25});
  expect_values(x.grad(), {1.015625, -0.28125, -0.953125, 0.578125, -0.109375, -0.984375, -0.1875,
                           -0.296875, -0.84375, -0.140625, 1.046875, -0.59375, -0.5625, 0.265625,
                           1.171875, -0.46875});
  expect_values(w.grad(), {0.109375, 0.875, -0.4375, -0.109375, 0.203125, -0.734375, -0.109375,
                           -0.578125, -0.03125, -0.046875, -1.21875, 0.328125, 0.171875, 0.171875,
                           -0.6875, 0.03125, -0.59375, 0.03125});
  expect_values(b.grad(), {0.625, 0.375});
}

TEST(Conv2d, SamePaddingKeepsSizeAndPutsOddPaddingAtTheEnd) {
  Tensor x = pattern({1, 1, 5, 6}, 1), w = pattern({1, 1, 4, 2}, 2);
  Tensor same = conv2d(x, w, {}, 1, "same");
  EXPECT_EQ(same.sizes(), IntArrayRef({1, 1, 5, 6}));
  // total padding 3 rows = 1 top + 2 bottom, 1 column = 0 left + 1 right
  Tensor explicit_pad = conv2d_padded(x, w, {}, {1, 1}, {1, 0}, {2, 1}, {1, 1}, 1);
  EXPECT_EQ(values(same), values(explicit_pad));
  // A literal 0 or {0, 1} is numeric padding, not a padding string.
  EXPECT_EQ(conv2d(x, w, {}, 1, 0).sizes(), IntArrayRef({1, 1, 2, 5}));
  EXPECT_EQ(conv2d(x, w, {}, 1, {0, 1}).sizes(), IntArrayRef({1, 1, 2, 7}));
  EXPECT_EQ(conv2d(x, w, {}, 1, "valid").sizes(), IntArrayRef({1, 1, 2, 5}));
}

TEST(Conv2d, ForcedAlgorithmsAgreeOnEveryPass) {
  // oneDNN and im2col + sgemm, each pass, on shapes the registry routes either way.
  struct Shape {
    int64_t N, C_in, H, W, C_out, k, stride, pad, dil, groups;
  };
  // Two threads, so that the batch of 64 (LeNet-5 conv1) is split across image chunks whose
  // partial weight gradients are summed.
  const int threads_before = get_num_threads();
  set_num_threads(2);
  for (Shape sh : {Shape{2, 1, 9, 9, 6, 5, 1, 2, 1, 1}, Shape{2, 3, 10, 8, 8, 3, 2, 1, 1, 1},
                   Shape{1, 8, 7, 7, 16, 3, 1, 2, 2, 1}, Shape{2, 8, 6, 6, 8, 3, 1, 1, 1, 8},
                   Shape{2, 6, 5, 5, 4, 1, 2, 0, 1, 2}, Shape{64, 1, 28, 28, 6, 5, 1, 2, 1, 1}}) {
    kernels::Conv2dShape s;
    s.N = sh.N, s.C_in = sh.C_in, s.H = sh.H, s.W = sh.W, s.C_out = sh.C_out;
    s.kH = s.kW = sh.k, s.groups = sh.groups, s.stride_h = s.stride_w = sh.stride;
    s.dil_h = s.dil_w = sh.dil, s.pad_t = s.pad_l = s.pad_b = s.pad_r = sh.pad, s.has_bias = true;
    s.H_out = kernels::conv_output_size(s.H, s.kH, s.stride_h, s.pad_t, s.pad_b, s.dil_h);
    s.W_out = kernels::conv_output_size(s.W, s.kW, s.stride_w, s.pad_l, s.pad_r, s.dil_w);
    SCOPED_TRACE("C_in=" + std::to_string(s.C_in) + " groups=" + std::to_string(s.groups));
    const Tensor x = pattern({s.N, s.C_in, s.H, s.W}, 1);
    const Tensor w = pattern({s.C_out, s.C_in / s.groups, s.kH, s.kW}, 2);
    const Tensor b = pattern({s.C_out}, 3), gy = pattern({s.N, s.C_out, s.H_out, s.W_out}, 4);
    std::vector<Tensor> outs[3];
    const kernels::ConvAlgo algos[3] = {kernels::ConvAlgo::onednn, kernels::ConvAlgo::im2col_gemm,
                                        kernels::ConvAlgo::direct};
    for (int a = 0; a < 3; ++a) {
      const kernels::ConvAlgo algo = algos[a];
      Tensor y = cnnkit::empty(gy.sizes()), gx = cnnkit::empty(x.sizes());
      Tensor gw = cnnkit::empty(w.sizes()), gb = cnnkit::empty(b.sizes());
      std::shared_ptr<kernels::Conv2dSaved> saved;
      kernels::conv2d_forward(y.data_ptr<float>(), x.data_ptr<float>(), w.data_ptr<float>(),
                              b.data_ptr<float>(), s, algo, true, &saved);
      kernels::conv2d_backward(gx.data_ptr<float>(), gw.data_ptr<float>(), gb.data_ptr<float>(),
                               gy.data_ptr<float>(), x.data_ptr<float>(), w.data_ptr<float>(), s,
                               algo, algo, saved.get());
      outs[a] = {y, gx, gw, gb};
    }
    for (int a = 1; a < 3; ++a)
      for (size_t t = 0; t < 4; ++t) {
        std::vector<float> u = values(outs[0][t]), v = values(outs[a][t]);
        for (size_t i = 0; i < u.size(); ++i)
          ASSERT_NEAR(u[i], v[i], 1e-4 * std::max(1.0f, std::abs(u[i])))
              << kernels::to_string(algos[a]) << " tensor " << t << " element " << i;
      }
  }
  set_num_threads(threads_before);
}

// The weight and bias gradient as sums in double, straight from the definition.
void reference_weight_grad(const kernels::Conv2dShape& s, const std::vector<float>& x,
                           const std::vector<float>& dy, std::vector<double>& gw, std::vector<double>& gb) {
  gw.assign(static_cast<size_t>(s.C_out * s.C_in * s.kH * s.kW), 0.0);
  gb.assign(static_cast<size_t>(s.C_out), 0.0);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.C_out; ++o)
      for (int64_t oh = 0; oh < s.H_out; ++oh)
        for (int64_t ow = 0; ow < s.W_out; ++ow) {
          const double d = dy[static_cast<size_t>(((n * s.C_out + o) * s.H_out + oh) * s.W_out + ow)];
          gb[static_cast<size_t>(o)] += d;
          for (int64_t c = 0; c < s.C_in; ++c)
            for (int64_t kh = 0; kh < s.kH; ++kh)
              for (int64_t kw = 0; kw < s.kW; ++kw) {
                const int64_t ih = oh * s.stride_h - s.pad_t + kh * s.dil_h;
                const int64_t iw = ow * s.stride_w - s.pad_l + kw * s.dil_w;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                gw[static_cast<size_t>(((o * s.C_in + c) * s.kH + kh) * s.kW + kw)] +=
                    d * x[static_cast<size_t>(((n * s.C_in + c) * s.H + ih) * s.W + iw)];
              }
        }
}

TEST(Conv2d, DirectWeightGradientMatchesTheDefinitionOnEdgeShapes) {
  // Row widths around the 8-float vector (masked tails of 1-8 lanes), more than 8 output
  // channels (a block of 8 and a remainder), asymmetric padding, vertical stride, dilation.
  struct Shape {
    int64_t N, C_in, H, W, C_out, kH, kW, stride_h, dil, pad_t, pad_l, pad_b, pad_r;
  };
  kernels::Conv2dShape probe;
  probe.W_out = 1;
  if (!kernels::conv2d_direct_supported(probe)) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const int threads_before = get_num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (Shape sh : {Shape{3, 1, 9, 9, 6, 5, 5, 1, 1, 2, 2, 2, 2}, Shape{2, 2, 7, 8, 11, 3, 3, 1, 1, 1, 1, 1, 1},
                     Shape{2, 1, 6, 17, 3, 3, 2, 2, 1, 0, 1, 2, 0}, Shape{1, 2, 10, 5, 9, 3, 3, 1, 2, 2, 0, 1, 3},
                     Shape{2, 1, 4, 16, 1, 1, 1, 1, 1, 0, 0, 0, 0}, Shape{64, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 2, 2}}) {
      kernels::Conv2dShape s;
      s.N = sh.N, s.C_in = sh.C_in, s.H = sh.H, s.W = sh.W, s.C_out = sh.C_out, s.kH = sh.kH, s.kW = sh.kW;
      s.stride_h = sh.stride_h, s.stride_w = 1, s.dil_h = s.dil_w = sh.dil;
      s.pad_t = sh.pad_t, s.pad_l = sh.pad_l, s.pad_b = sh.pad_b, s.pad_r = sh.pad_r, s.has_bias = true;
      s.H_out = kernels::conv_output_size(s.H, s.kH, s.stride_h, s.pad_t, s.pad_b, s.dil_h);
      s.W_out = kernels::conv_output_size(s.W, s.kW, s.stride_w, s.pad_l, s.pad_r, s.dil_w);
      SCOPED_TRACE("C_out=" + std::to_string(s.C_out) + " W_out=" + std::to_string(s.W_out) +
                   " threads=" + std::to_string(threads));
      const Tensor x = pattern({s.N, s.C_in, s.H, s.W}, 1), gy = pattern({s.N, s.C_out, s.H_out, s.W_out}, 4);
      const Tensor w = pattern({s.C_out, s.C_in, s.kH, s.kW}, 2);
      Tensor gw = cnnkit::empty(w.sizes()), gb = cnnkit::empty({s.C_out});
      kernels::conv2d_backward(nullptr, gw.data_ptr<float>(), gb.data_ptr<float>(), gy.data_ptr<float>(),
                               x.data_ptr<float>(), w.data_ptr<float>(), s, kernels::ConvAlgo::onednn,
                               kernels::ConvAlgo::direct, nullptr);
      std::vector<double> rw, rb;
      reference_weight_grad(s, values(x), values(gy), rw, rb);
      const std::vector<float> vw = values(gw), vb = values(gb);
      for (size_t i = 0; i < rw.size(); ++i) ASSERT_NEAR(vw[i], rw[i], 1e-4 * std::max(1.0, std::abs(rw[i]))) << i;
      for (size_t i = 0; i < rb.size(); ++i) ASSERT_NEAR(vb[i], rb[i], 1e-4 * std::max(1.0, std::abs(rb[i]))) << i;
    }
  }
  set_num_threads(threads_before);
}

TEST(Conv2d, DirectWeightGradientSumsOnlyRealProducts) {
  // A NaN in the last input column of a 3-tap, unpadded conv: only the taps that read that
  // column (kw = 2; output columns 0..5 read input columns kw..kw+5) become NaN, as in PyTorch.
  // The kernel's vectors reach past the row's end; those lanes must add nothing.
  kernels::Conv2dShape s;
  s.N = 1, s.C_in = 1, s.H = 3, s.W = 8, s.C_out = 2, s.kH = 1, s.kW = 3, s.H_out = 3, s.W_out = 6;
  if (!kernels::conv2d_direct_supported(s)) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  Tensor x = pattern({1, 1, 3, 8}, 1);
  x.data_ptr<float>()[7] = std::nanf("");
  const Tensor gy = pattern({1, 2, 3, 6}, 4), w = pattern({2, 1, 1, 3}, 2);
  Tensor gw = cnnkit::empty(w.sizes());
  kernels::conv2d_backward(nullptr, gw.data_ptr<float>(), nullptr, gy.data_ptr<float>(), x.data_ptr<float>(),
                           w.data_ptr<float>(), s, kernels::ConvAlgo::onednn, kernels::ConvAlgo::direct, nullptr);
  const std::vector<float> v = values(gw);
  for (int o = 0; o < 2; ++o)
    for (int kw = 0; kw < 3; ++kw) EXPECT_EQ(std::isnan(v[static_cast<size_t>(o * 3 + kw)]), kw == 2) << o << " " << kw;
}

TEST(Conv2d, RegistryRoutesFewInputChannelsToGemmAndLogsOnce) {
  kernels::Conv2dShape s;  // LeNet-5 conv1
  s.N = 64, s.C_in = 1, s.H = s.W = 28, s.C_out = 6, s.kH = s.kW = 5;
  s.pad_t = s.pad_l = s.pad_b = s.pad_r = 2, s.H_out = s.W_out = 28, s.has_bias = true;
  const kernels::Conv2dPlan& p = kernels::conv2d_plan(s);
  EXPECT_EQ(p.forward, kernels::ConvAlgo::onednn);
  EXPECT_EQ(p.backward_data, kernels::ConvAlgo::im2col_gemm);
  EXPECT_EQ(&p, &kernels::conv2d_plan(s)) << "the plan is decided once per shape";
  s.C_in = 16, s.C_out = 16;
  const kernels::Conv2dPlan& q = kernels::conv2d_plan(s);
  EXPECT_EQ(q.backward_data, kernels::ConvAlgo::onednn);
  EXPECT_EQ(q.backward_weights, kernels::ConvAlgo::onednn);
}

TEST(Conv2d, UnbatchedInputGivesUnbatchedOutputEqualToBatchOfOne) {
  Tensor x3 = pattern({3, 6, 5}, 1), x4 = pattern({1, 3, 6, 5}, 1), w = pattern({2, 3, 3, 3}, 2);
  Tensor y3 = conv2d(x3, w, {}, 1, 1), y4 = conv2d(x4, w, {}, 1, 1);
  EXPECT_EQ(y3.sizes(), IntArrayRef({2, 6, 5}));
  EXPECT_EQ(values(y3), values(y4));
}

TEST(Conv2d, EmptyBatchGivesEmptyOutputAndZeroWeightGradient) {
  // torch: F.conv2d(torch.zeros(0, 3, 5, 5), w) has shape (0, 4, 3, 3); w.grad is zeros
  Tensor x = pattern({0, 3, 5, 5}, 1, true), w = pattern({4, 3, 3, 3}, 2, true);
  Tensor y = conv2d(x, w);
  ASSERT_EQ(y.sizes(), IntArrayRef({0, 4, 3, 3}));
  y.backward(cnnkit::empty({0, 4, 3, 3}));
  EXPECT_EQ(x.grad().sizes(), IntArrayRef({0, 3, 5, 5}));
  for (float v : w.grad().to_vector()) EXPECT_EQ(v, 0.0f);
}

TEST(Conv2d, SkipsGradientsNobodyNeeds) {
  // First layer: the input needs no gradient, only the weight and bias.
  Tensor x = pattern({2, 1, 6, 6}, 1), w = pattern({3, 1, 3, 3}, 2, true), b = pattern({3}, 3);
  Tensor y = conv2d(x, w, b, 1, 1);
  ASSERT_TRUE(y.requires_grad());
  y.backward(pattern({2, 3, 6, 6}, 4));
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  ASSERT_TRUE(w.grad().defined());
  // Frozen weight: only the input gradient, and it equals the one computed with both.
  Tensor x2 = pattern({2, 1, 6, 6}, 1, true), w2 = pattern({3, 1, 3, 3}, 2);
  conv2d(x2, w2, {}, 1, 1).backward(pattern({2, 3, 6, 6}, 4));
  Tensor x3 = pattern({2, 1, 6, 6}, 1, true), w3 = pattern({3, 1, 3, 3}, 2, true);
  conv2d(x3, w3, {}, 1, 1).backward(pattern({2, 3, 6, 6}, 4));
  EXPECT_FALSE(w2.grad().defined());
  EXPECT_EQ(values(x2.grad()), values(x3.grad()));
  EXPECT_EQ(values(w.grad()), values(w3.grad()));
  // No tensor needs a gradient: no graph.
  EXPECT_FALSE(conv2d(pattern({1, 1, 4, 4}, 1), pattern({1, 1, 3, 3}, 2)).requires_grad());
}

TEST(Conv2d, NonContiguousInputGivesSameResultAsContiguous) {
  // Every other column of a (1, 2, 5, 12) buffer: strides (120, 60, 12, 2).
  Tensor base = pattern({1, 2, 5, 12}, 1);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl_ptr()->storage;
  impl->sizes = {1, 2, 5, 6};
  impl->strides = {120, 60, 12, 2};
  Tensor strided(impl);
  ASSERT_FALSE(strided.is_contiguous());
  Tensor dense_copy = cnnkit::empty({1, 2, 5, 6});
  std::vector<float> b = values(base);
  float* d = dense_copy.data_ptr<float>();
  for (int64_t i = 0; i < 2 * 5 * 6; ++i) d[i] = b[static_cast<size_t>(i * 2)];
  Tensor w = pattern({3, 2, 3, 3}, 2);
  EXPECT_EQ(values(conv2d(strided, w, {}, 1, 1)), values(conv2d(dense_copy, w, {}, 1, 1)));
}

// ---- errors ------------------------------------------------------------------------------

template <typename E, typename F>
void expect_error(F&& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "expected an exception mentioning: " << fragment;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Conv2d, RejectsBadShapesWithTorchLikeMessages) {
  const Tensor w = pattern({4, 3, 3, 3}, 2);
  expect_error<ShapeError>([&] { conv2d(pattern({3, 4}, 1), w); },
                           "expected input with 4 dims (N, C, H, W) or 3 (C, H, W), got 2 dims [3, 4]");
  expect_error<ShapeError>([&] { conv2d(pattern({1, 3, 5, 5}, 1), pattern({4, 3, 3}, 2)); },
                           "expected weight with 4 dims");
  expect_error<ShapeError>([&] { conv2d(pattern({1, 4, 5, 5}, 1), w); },
                           "given groups=1, weight of size [4, 3, 3, 3], expected input [1, 4, 5, 5] "
                           "to have 3 channels, but got 4 channels instead");
  expect_error<ShapeError>([&] { conv2d(pattern({1, 6, 5, 5}, 1), pattern({4, 2, 3, 3}, 2), {}, 1, 0, 1, 3); },
                           "given groups=3, expected weight to be divisible by 3 at dimension 0");
  expect_error<ShapeError>([&] { conv2d(pattern({1, 3, 5, 5}, 1), w, pattern({3}, 3)); },
                           "expected bias to be 1-dimensional with 4 elements, but got bias of size [3]");
  expect_error<ShapeError>([&] { conv2d(pattern({1, 3, 2, 2}, 1), w); },
                           "calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). "
                           "Kernel size can't be greater than actual input size");
  // the dilated kernel counts: 3 taps at dilation 2 span 5 > 4
  expect_error<ShapeError>([&] { conv2d(pattern({1, 3, 4, 4}, 1), w, {}, 1, 0, 2); },
                           "Kernel size: (5 x 5)");
}

TEST(Conv2d, RejectsBadArgumentValues) {
  const Tensor x = pattern({1, 3, 5, 5}, 1), w = pattern({4, 3, 3, 3}, 2);
  expect_error<ValueError>([&] { conv2d(x, w, {}, 0); }, "non-positive stride is not supported");
  expect_error<ValueError>([&] { conv2d(x, w, {}, {1, -1}); }, "non-positive stride");
  expect_error<ValueError>([&] { conv2d(x, w, {}, 1, 0, 0); },
                           "dilation should be greater than zero, but got [0, 0]");
  expect_error<ValueError>([&] { conv2d(x, w, {}, 1, -1); }, "negative padding is not supported");
  expect_error<ValueError>([&] { conv2d(x, w, {}, 1, 0, 1, 0); },
                           "non-positive groups is not supported, got groups=0");
  expect_error<ValueError>([&] { conv2d(x, w, {}, {1, 2, 3}); },
                           "expected stride to be a single integer value or a list of 2 values");
  expect_error<ValueError>([&] { conv2d(x, w, {}, 1, {1, 1, 1}); }, "padding=[1, 1, 1]");
  expect_error<ValueError>([&] { conv2d(x, w, {}, 2, std::string("same")); },
                           "padding='same' is not supported for strided convolutions");
  expect_error<ValueError>([&] { conv2d(x, w, {}, 1, std::string("foo")); },
                           "invalid padding string: 'foo'");
  expect_error<ValueError>([&] { conv2d(Tensor(), w); }, "input and weight must be defined");
  expect_error<TypeError>([&] { conv2d(cnnkit::empty({1, 3, 5, 5}, kLong), w); },
                          "expected float32 input");
  expect_error<ValueError>([&] { conv2d_padded(x, w, {}, {1, 1}, {0, 0}, {0, -1}, {1, 1}, 1); },
                           "negative padding");
}

}  // namespace
}  // namespace cnnkit
