// kernels/wgrad3x3.h: the direct weight gradient of 3x3 stride-1 convolutions between nChw8c
// tensors (and nChw16c where the CPU has AVX-512), by direct sums. Each weight and bias gradient against a double-precision sum on random shapes
// (within 1e-5 of that output's own sum of |terms|), over several thread counts, at least as
// close to it as oneDNN's weight gradient, and through conv2d's autograd against oneDNN, NaN
// and infinity included.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cnnkit/core/rng.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/ops/ops.h"
#include "kernels/conv.h"
#include "kernels/wgrad3x3.h"
#include "kernels/winograd.h"
#include "conv3x3_case.h"
#include "test_util.h"

namespace cnnkit {
namespace {

using kernels::Conv2dShape;
namespace wg = kernels::wgrad3x3;

using test::at_block;
using test::describe;
using test::blocks;
using test::Case;
using test::random_cases;
using test::shape_of;
using test::with_threads;


// The exact sums (double) and the sums of |terms| of every weight gradient, then of every bias
// gradient: [(o C_in + c) 9 + tap] then [C_out C_in 9 + o].
struct Reference {
  std::vector<double> value, magnitude;
};

// x and gy blocked by `block` channels.
Reference reference(const Conv2dShape& s, const std::vector<float>& x, const std::vector<float>& gy, int block) {
  Reference r;
  const size_t n_w = static_cast<size_t>(s.C_out * s.C_in * 9);
  r.value.assign(n_w + static_cast<size_t>(s.C_out), 0.0);
  r.magnitude = r.value;
  for (int64_t o = 0; o < s.C_out; ++o)
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t oh = 0; oh < s.H_out; ++oh)
        for (int64_t ow = 0; ow < s.W_out; ++ow) {
          const double g = gy[at_block(n, o, oh, ow, s.C_out, s.H_out, s.W_out, block)];
          r.value[n_w + static_cast<size_t>(o)] += g;
          r.magnitude[n_w + static_cast<size_t>(o)] += std::abs(g);
          for (int64_t c = 0; c < s.C_in; ++c)
            for (int64_t tap = 0; tap < 9; ++tap) {
              const int64_t ih = oh + tap / 3 - s.pad_t, iw = ow + tap % 3 - s.pad_l;
              if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
              const double p = g * x[at_block(n, c, ih, iw, s.C_in, s.H, s.W, block)];
              const size_t at = static_cast<size_t>((o * s.C_in + c) * 9 + tap);
              r.value[at] += p;
              r.magnitude[at] += std::abs(p);
            }
        }
  return r;
}

// The largest |got - exact| / (sum of |terms|) over the weight gradients.
double worst_error(const std::vector<float>& gw, const Reference& r) {
  double worst = 0;
  for (size_t i = 0; i < gw.size(); ++i)
    if (r.magnitude[i] > 0) worst = std::max(worst, std::abs(gw[i] - r.value[i]) / r.magnitude[i]);
  return worst;
}

// Random normal input x and output gradient gy of shape s (any layout: every value random).
struct Operands {
  std::vector<float> x, gy;
};
Operands random_operands(const Conv2dShape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Operands o{std::vector<float>(static_cast<size_t>(s.N * s.C_in * s.H * s.W)),
             std::vector<float>(static_cast<size_t>(s.N * s.C_out * s.H_out * s.W_out))};
  for (float& v : o.x) v = normal(rng);
  for (float& v : o.gy) v = normal(rng);
  return o;
}

void check(const Case& k, uint32_t seed, bool with_bias, int block) {
  SCOPED_TRACE("nChw" + std::to_string(block) + "c, " + describe(k) + (with_bias ? ", bias" : ""));
  const Conv2dShape s = shape_of(k);
  ASSERT_TRUE(wg::supported(s, block));
  const auto [x, gy] = random_operands(s, seed);
  std::vector<float> gw(static_cast<size_t>(s.C_out * s.C_in * 9), -7.0f), gb(static_cast<size_t>(s.C_out), -7.0f);
  wg::weight_grad(x.data(), gy.data(), gw.data(), with_bias ? gb.data() : nullptr, s, block);
  const Reference r = reference(s, x, gy, block);
  int64_t bad = 0;
  for (size_t i = 0; i < gw.size() + (with_bias ? gb.size() : 0); ++i) {
    const double got = i < gw.size() ? gw[i] : gb[i - gw.size()];
    if (std::abs(got - r.value[i]) <= 1e-5 * r.magnitude[i]) continue;
    if (bad++ < 5)
      ADD_FAILURE() << (i < gw.size() ? "dw " + std::to_string(i) : "db " + std::to_string(i - gw.size())) << ": "
                    << got << " vs " << r.value[i] << " (magnitude " << r.magnitude[i] << ")";
  }
  EXPECT_EQ(bad, 0);
  if (!with_bias) {
    EXPECT_EQ(gb, std::vector<float>(gb.size(), -7.0f)) << "no bias: grad_bias untouched";
  }
}

TEST(Wgrad3x3, MatchesTheDirectSum) {
  for (int block : blocks()) {
    std::vector<Case> cases = random_cases(20, 9, block);
    const int64_t c = block;  // the fewest channels the layout holds
    cases.push_back({1, c, 2 * c, 40, 40, 1, 1, 1, 1});   // more than 1024 outputs: bands of rows
    cases.push_back({2, c, c, 3, 1100, 1, 1, 1, 1});      // a row longer than 1024 outputs
    cases.push_back({5, 2 * c, c, 6, 6, 2, 0, 1, 2});     // several images a group, uneven padding
    cases.push_back({3, 2 * c, 2 * c, 9, 7, 1, 1, 0, 2}); // an odd number of columns, W_out 7
    cases.push_back({2, c, 4 * c, 5, 4, 0, 0, 0, 0});     // W_out 2, no padding
    cases.push_back({4, c, 2 * c, 30, 19, 2, 2, 2, 2});   // W_out 19, bands, padding 2
    uint32_t seed = 1;
    for (const Case& k : cases) {
      check(k, seed, seed % 2 == 0, block);
      ++seed;
    }
  }
}

// A given thread count sums in the same order every run: the same bits.
TEST(Wgrad3x3, SameBitsEveryRun) {
  for (int block : blocks())
    with_threads({1, 2, 3}, [block] {
      const Conv2dShape s = shape_of({6, block, 2 * block, 12, 12, 1, 1, 1, 1});
      const auto [x, gy] = random_operands(s, 8);
      std::vector<float> a(static_cast<size_t>(s.C_out * s.C_in * 9)), b = a;
      wg::weight_grad(x.data(), gy.data(), a.data(), nullptr, s, block);
      wg::weight_grad(x.data(), gy.data(), b.data(), nullptr, s, block);
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "nChw" << block << "c";
    });
}

// The images split over threads, each thread's sums added in order.
TEST(Wgrad3x3, OverThreads) {
  for (int block : blocks())
    with_threads({1, 2, 3}, [block] {
      check({7, 16, 48, 20, 20, 1, 1, 1, 1}, 11, true, block);
      check({9, 32, 16, 8, 8, 1, 1, 1, 1}, 12, true, block);  // groups of images
    });
}

// The shapes it does not take go to oneDNN.
TEST(Wgrad3x3, SupportedShapes) {
  const Conv2dShape s = shape_of({2, 16, 16, 8, 8, 1, 1, 1, 1});
  EXPECT_TRUE(wg::supported(s, 8));
  EXPECT_EQ(wg::supported(s, 16), kernels::simd::cpu_runs(16));
  auto refused = [&](Conv2dShape t) { return !wg::supported(t, 8) && !wg::supported(t, 16); };
  Conv2dShape t = s;
  t.C_in = 12;
  EXPECT_TRUE(refused(t));
  t.C_in = 24;
  EXPECT_FALSE(wg::supported(t, 16)) << "24 channels in blocks of 16";
  t = s;
  t.stride_h = t.stride_w = 2;
  EXPECT_TRUE(refused(t));
  t = s;
  t.kH = t.kW = 5;
  EXPECT_TRUE(refused(t));
  t = s;
  t.groups = 2;
  EXPECT_TRUE(refused(t));
  t = s;
  t.pad_t = 3;
  EXPECT_TRUE(refused(t));
  // Where conv2d sends the pass: nChw8c by default, and nChw16c with one input channel block;
  // both layouts with `always`, none with `never`.
  EXPECT_TRUE(wg::runs(s, 8));
  EXPECT_EQ(wg::runs(s, 16), kernels::simd::cpu_runs(16)) << "16 channels in: oneDNN's AVX-512 kernel is the slower one";
  Conv2dShape wide = s;
  wide.C_in = 32;
  EXPECT_TRUE(wg::runs(wide, 8));
  EXPECT_FALSE(wg::runs(wide, 16)) << "32 channels in: oneDNN's AVX-512 kernel is the faster one";
  wg::set_use(wg::Use::always);
  EXPECT_EQ(wg::runs(wide, 16), kernels::simd::cpu_runs(16));
  wg::set_use(wg::Use::never);
  EXPECT_FALSE(wg::runs(s, 8));
  wg::set_use(wg::Use::automatic);
}

// conv2d's weight and bias gradients with the kernel and with oneDNN's direct convolution.
struct Grads {
  Tensor gw, gb;
  uint64_t calls;
};
Grads conv_grads(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& gy, bool kernel) {
  wg::set_use(kernel ? wg::Use::always : wg::Use::never);
  kernels::winograd::set_weight_grad_use(kernels::winograd::WeightGrad::never);
  Tensor wr = w.clone().requires_grad_(true), br = b.clone().requires_grad_(true);
  const uint64_t before = wg::calls();
  conv2d(x, wr, br, 1, 1).backward(gy);
  const uint64_t used = wg::calls() - before;
  wg::set_use(wg::Use::automatic);
  kernels::winograd::set_weight_grad_use(kernels::winograd::WeightGrad::automatic);
  return {wr.grad().contiguous(), br.grad().contiguous(), used};
}

// On ResNet-20's first stage its sums are at least as close to the exact ones as oneDNN's:
// they run over 1024 outputs in float, then in double.
TEST(Wgrad3x3, NoLessAccurateThanOneDnn) {
  Generator g(5);
  const Tensor x = randn({16, 16, 32, 32}, g), w = randn({16, 16, 3, 3}, g), b = randn({16}, g);
  const Tensor gy = randn({16, 16, 32, 32}, g);
  const Grads mine = conv_grads(x, w, b, gy, true);
  if (mine.calls == 0) GTEST_SKIP() << "oneDNN chose no blocked layout on this CPU: the kernel was not used";
  const Grads onednn = conv_grads(x, w, b, gy, false);
  EXPECT_EQ(onednn.calls, 0u);
  // The exact sums, from the plain tensors (laid out as nChw8c for reference()).
  const Conv2dShape s = shape_of({16, 16, 16, 32, 32, 1, 1, 1, 1});
  std::vector<float> x8(static_cast<size_t>(x.numel())), gy8(static_cast<size_t>(gy.numel()));
  const float* xp = x.data_ptr<float>();
  const float* gp = gy.data_ptr<float>();
  for (int64_t n = 0; n < 16; ++n)
    for (int64_t c = 0; c < 16; ++c)
      for (int64_t h = 0; h < 32; ++h)
        for (int64_t w8 = 0; w8 < 32; ++w8) {
          const int64_t plain = ((n * 16 + c) * 32 + h) * 32 + w8;
          x8[at_block(n, c, h, w8, 16, 32, 32, 8)] = xp[plain];
          gy8[at_block(n, c, h, w8, 16, 32, 32, 8)] = gp[plain];
        }
  const Reference r = reference(s, x8, gy8, 8);
  const double mine_error = worst_error(mine.gw.to_vector(), r);
  const double onednn_error = worst_error(onednn.gw.to_vector(), r);
  char line[96];
  std::snprintf(line, sizeof line, "%.3g (oneDNN %.3g)", mine_error, onednn_error);
  RecordProperty("worst_relative_error", line);
  EXPECT_LE(mine_error, onednn_error) << "relative to each sum of |terms|";
}

// NaN and infinity reach the same weight gradients as in oneDNN's direct sums.
TEST(Wgrad3x3, Conv2dAutogradAgreesWithOneDnn) {
  for (const auto& [odd, x, w, b, gy] : test::odd_convs()) {
    SCOPED_TRACE("odd value " + std::to_string(odd));
    const Grads mine = conv_grads(x, w, b, gy, true);
    if (mine.calls == 0) GTEST_SKIP() << "oneDNN chose no blocked layout on this CPU: the kernel was not used";
    EXPECT_EQ(mine.calls, 1u);
    const Grads onednn = conv_grads(x, w, b, gy, false);
    for (const auto& [got, want, what] :
         {std::tuple{mine.gw, onednn.gw, "grad weight"}, std::tuple{mine.gb, onednn.gb, "grad bias"}}) {
      const Tensor finite = want.isfinite();
      EXPECT_TRUE(got.isfinite().equal(finite)) << what;
      EXPECT_TRUE(isnan(got).equal(isnan(want))) << what;
      const double scale = want.masked_fill(finite.logical_not(), 0.0).abs().max().item<double>();
      EXPECT_TRUE(test::allclose(got.masked_fill(finite.logical_not(), 0.0), want.masked_fill(finite.logical_not(), 0.0),
                                 1e-5, 1e-5 * scale, what));
    }
    if (odd != 0.0f) {
      EXPECT_GT(mine.gw.isfinite().logical_not().sum().item<int64_t>(), 0);
    }
  }
}

}  // namespace
}  // namespace cnnkit
