// kernels/direct3x3.h: the direct 3x3 stride-1 convolution between nChw8c tensors (and
// nChw16c where the CPU has AVX-512), against a convolution in double precision on random
// shapes (odd sizes, rows wider than a register block, every padding up to 2, channel counts of
// several blocks), with bias, a residual (apart or already in dst), the ReLU, a NaN or an
// infinity (it reaches exactly the outputs whose window holds it, with the double sum's value);
// its backward-data form (flipped weights); the same bits at any thread count; and through
// conv2d's autograd against oneDNN where conv2d sends it (nChw16c with the Winograd kernel
// off). The bound: 1e-5 of the sum of |w x| over each output's window.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cnnkit/core/rng.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/ops/ops.h"
#include "kernels/conv.h"
#include "kernels/direct3x3.h"
#include "kernels/winograd.h"
#include "conv3x3_case.h"
#include "test_util.h"

namespace cnnkit {
namespace {

using kernels::Conv2dShape;
namespace direct = kernels::direct3x3;

using test::at_block;
using test::describe;
using test::blocks;
using test::Case;
using test::shape_of;
using test::with_threads;


struct Options {
  bool bias = false, residual = false, relu = false, in_place = false;
  float odd = 0.0f;  // put in image 1's input (when N > 1): NaN or an infinity; 0: none
};

// Blocked operands of one case, random normal, the weights scaled by 0.2.
struct Operands {
  std::vector<float> x, w, b, r;
};
Operands operands(const Conv2dShape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Operands o;
  o.x.resize(static_cast<size_t>(s.N * s.C_in * s.H * s.W));
  o.w.resize(static_cast<size_t>(s.C_out * s.C_in * 9));
  o.b.resize(static_cast<size_t>(s.C_out));
  o.r.resize(static_cast<size_t>(s.N * s.C_out * s.H_out * s.W_out));
  for (float& v : o.x) v = normal(rng);
  for (float& v : o.w) v = normal(rng) * 0.2f;
  for (float& v : o.b) v = normal(rng);
  for (float& v : o.r) v = normal(rng);
  return o;
}

// Compares y (blocked) with the double-precision convolution of x by `weight(o, c, tap)`.
template <class Weight>
void expect_convolution(const std::vector<float>& y, const std::vector<float>& x, const Weight& weight,
                        const Operands& o, const Conv2dShape& s, const Options& opt, int block) {
  int64_t bad = 0, odd = 0;
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.C_out; ++k)
      for (int64_t oh = 0; oh < s.H_out; ++oh)
        for (int64_t ow = 0; ow < s.W_out; ++ow) {
          double ref = opt.bias ? o.b[static_cast<size_t>(k)] : 0.0, mag = std::abs(ref);
          for (int64_t c = 0; c < s.C_in; ++c)
            for (int64_t tap = 0; tap < 9; ++tap) {
              const int64_t ih = oh + tap / 3 - s.pad_t, iw = ow + tap % 3 - s.pad_l;
              if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
              const double p =
                  static_cast<double>(weight(k, c, tap)) * x[at_block(n, c, ih, iw, s.C_in, s.H, s.W, block)];
              ref += p;
              mag += std::abs(p);
            }
          const size_t at = at_block(n, k, oh, ow, s.C_out, s.H_out, s.W_out, block);
          if (opt.residual) {
            ref += o.r[at];
            mag += std::abs(o.r[at]);
          }
          if (opt.relu && !std::isnan(ref)) ref = std::max(ref, 0.0);
          const float got = y[at];
          const bool ok = std::isfinite(ref) ? std::abs(got - ref) <= 1e-5 * mag
                                             : (std::isnan(ref) ? std::isnan(got) : got == ref);
          odd += !std::isfinite(ref);
          if (!ok && bad++ < 5)
            ADD_FAILURE() << "n " << n << " k " << k << " (" << oh << ", " << ow << "): " << got << " vs " << ref
                          << " (window magnitude " << mag << ")";
        }
  EXPECT_EQ(bad, 0);
  if (opt.odd != 0.0f && s.N > 1) {
    EXPECT_GT(odd, 0) << "the " << opt.odd << " reached no output";
  }
}

void check(const Case& k, uint32_t seed, const Options& opt, int block) {
  SCOPED_TRACE("nChw" + std::to_string(block) + "c, " + describe(k) + (opt.bias ? ", bias" : "") +
               (opt.residual ? (opt.in_place ? ", residual in dst" : ", residual") : "") + (opt.relu ? ", relu" : ""));
  Conv2dShape s = shape_of(k);
  s.has_bias = opt.bias;
  ASSERT_TRUE(direct::supported(s, block));
  Operands o = operands(s, seed);
  if (opt.odd != 0.0f && s.N > 1) o.x[at_block(1, s.C_in / 2, s.H / 2, s.W / 3, s.C_in, s.H, s.W, block)] = opt.odd;
  std::vector<float> packed;
  ASSERT_TRUE(direct::pack_weights(packed, o.w.data(), s.C_out, s.C_in, block));
  std::vector<float> y(o.r.size(), -7.0f);
  if (opt.residual && opt.in_place) y = o.r;
  const float* residual = !opt.residual ? nullptr : opt.in_place ? y.data() : o.r.data();
  const uint64_t before = direct::calls();
  direct::conv3x3(o.x.data(), packed.data(), opt.bias ? o.b.data() : nullptr, residual, opt.relu, y.data(), s, block);
  EXPECT_EQ(direct::calls() - before, 1u);
  const auto weight = [&](int64_t k_out, int64_t c, int64_t tap) {
    return o.w[static_cast<size_t>((k_out * s.C_in + c) * 9 + tap)];
  };
  expect_convolution(y, o.x, weight, o, s, opt, block);
}

TEST(Direct3x3, MatchesTheDoubleSumOnRandomShapes) {
  const float inf = std::numeric_limits<float>::infinity();
  for (int block : blocks()) {
    const int64_t B = block;
    // ResNet-20's first stage (two 16-wide register blocks a row), rows of 37 (three blocks of
    // 13, 12, 12 on AVX-512), several channel blocks each way, one pixel, padding 0 and 2.
    check({2, B, B, 32, 32, 1, 1, 1, 1}, 1, {}, block);
    check({2, 3 * B, B, 7, 37, 1, 1, 1, 1}, 2, {true, true, true}, block);
    check({3, B, 2 * B, 9, 5, 2, 0, 1, 2}, 3, {true, false, false}, block);
    check({1, 2 * B, B, 1, 1, 1, 1, 1, 1}, 4, {true, false, true}, block);
    check({2, B, B, 6, 19, 0, 0, 0, 0}, 5, {false, true, false, true}, block);  // the residual already in dst
    // A NaN and infinities reach exactly the outputs whose windows hold them.
    check({2, B, 2 * B, 12, 12, 1, 1, 1, 1}, 6, {true, false, false, false, std::nanf("")}, block);
    check({2, 2 * B, B, 9, 10, 1, 1, 1, 1}, 7, {true, true, true, true, inf}, block);
    check({2, B, B, 8, 17, 1, 2, 1, 0}, 8, {false, false, true, false, -inf}, block);
    std::mt19937 rng(42);
    auto pick = [&](std::initializer_list<int64_t> v) { return *(v.begin() + rng() % v.size()); };
    for (int i = 0; i < 12; ++i) {
      const Case k{pick({1, 2, 3}), pick({1, 2, 3}) * B, pick({1, 2, 4}) * B, pick({1, 3, 4, 7, 8, 13, 16}),
                   pick({1, 3, 6, 9, 16, 17, 24, 33}), pick({0, 1, 2}), pick({0, 1, 2}), pick({0, 1, 2}),
                   pick({0, 1, 2})};
      const Options opt{rng() % 2 == 0, rng() % 2 == 0, rng() % 2 == 0, rng() % 4 == 0,
                        rng() % 3 == 0 ? inf : (rng() % 2 == 0 ? std::nanf("") : 0.0f)};
      check(k, 100 + static_cast<uint32_t>(i), opt, block);
    }
  }
}

// The backward-data pass as this kernel computes it: the output gradient convolved with the
// flipped weights (winograd::backward_data_shape), against the double sum of
// dx[c][ih][iw] = sum over k, taps of w[k][c][r][s] dy[k][ih - r + pt][iw - s + pl].
TEST(Direct3x3, BackwardDataIsTheFlippedConvolution) {
  for (int block : blocks()) {
    const int64_t B = block;
    for (const Case& k : {Case{2, B, 2 * B, 11, 21, 1, 1, 1, 1}, Case{1, 2 * B, B, 6, 5, 0, 2, 2, 1}}) {
      SCOPED_TRACE("nChw" + std::to_string(block) + "c, " + describe(k));
      const Conv2dShape s = shape_of(k), b = kernels::winograd::backward_data_shape(s);
      ASSERT_TRUE(direct::supported(b, block));
      const Operands forward = operands(s, 9);
      Operands o = operands(b, 10);  // o.x: the output gradient (N, C_out, H_out, W_out)
      std::vector<float> packed, dx(static_cast<size_t>(s.N * s.C_in * s.H * s.W));
      ASSERT_TRUE(direct::pack_weights(packed, forward.w.data(), s.C_out, s.C_in, block, /*flipped=*/true));
      direct::conv3x3(o.x.data(), packed.data(), nullptr, nullptr, false, dx.data(), b, block);
      // In b's terms: output channel c, input channel k, tap t: w[k][c][8 - t].
      const auto weight = [&](int64_t c, int64_t kk, int64_t tap) {
        return forward.w[static_cast<size_t>((kk * s.C_in + c) * 9 + 8 - tap)];
      };
      expect_convolution(dx, o.x, weight, o, b, {}, block);
    }
  }
}

// Each output summed by one thread in one order: the same bits at 1, 2 and 3 threads, with
// whole images a thread (6 images) and with rows split (1 image); both shapes large enough
// (over 8 MFLOP) to be shared between threads at all.
TEST(Direct3x3, SameBitsAtAnyThreadCount) {
  for (int block : blocks())
    for (int64_t N : {1, 6}) {
      const int64_t B = block, C = 4 * B, H = N == 1 ? 48 : 23, W = N == 1 ? 47 : 20;
      const Conv2dShape s = shape_of({N, C, B, H, W, 1, 1, 1, 1});
      ASSERT_GT(2.0 * static_cast<double>(s.N * s.C_out * s.H_out * s.W_out * s.C_in * 9), 8e6);
      const Operands o = operands(s, 11);
      std::vector<float> packed;
      direct::pack_weights(packed, o.w.data(), s.C_out, s.C_in, block);
      std::vector<std::vector<float>> results;
      with_threads({1, 2, 3}, [&] {
        std::vector<float> y(o.r.size());
        direct::conv3x3(o.x.data(), packed.data(), o.b.data(), nullptr, true, y.data(), s, block);
        results.push_back(y);
      });
      EXPECT_EQ(results[0], results[1]) << "nChw" << block << "c, N " << N;
      EXPECT_EQ(results[0], results[2]) << "nChw" << block << "c, N " << N;
    }
}

TEST(Direct3x3, RefusesWhatItDoesNotCompute) {
  const Conv2dShape s = shape_of({1, 16, 16, 8, 8, 1, 1, 1, 1});
  ASSERT_TRUE(direct::supported(s, 8));
  EXPECT_EQ(direct::supported(s, 16), kernels::simd::cpu_runs(16));
  auto refused = [&](auto change) {
    Conv2dShape t = s;
    change(t);
    return !direct::supported(t, 8) && !direct::supported(t, 16);
  };
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.stride_h = 2; }));
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.dil_w = 2; }));
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.groups = 2; }));
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.kH = t.kW = 5; }));
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.C_in = 12; }));
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.C_out = 4; }));
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.pad_r = 3; }));
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.W_out = 9; }));  // not the padded size
  Conv2dShape t = s;
  t.C_in = t.C_out = 24;
  EXPECT_FALSE(direct::supported(t, 16)) << "24 channels in blocks of 16";
  std::vector<float> w(16 * 8 * 9, 0.5f), packed;
  EXPECT_TRUE(direct::pack_weights(packed, w.data(), 16, 8, 8));
  w[100] = -std::numeric_limits<float>::infinity();
  EXPECT_FALSE(direct::pack_weights(packed, w.data(), 16, 8, 8)) << "an infinite weight";
  direct::set_enabled(false);
  EXPECT_FALSE(direct::supported(s, 8));
  direct::set_enabled(true);
}

// conv2d's forward and gradients with the kernel where conv2d sends it (nChw16c with the
// Winograd kernel off: forward and backward-data) and with oneDNN's direct convolution: the
// same sums, in another order.
struct Pass {
  Tensor y, gx, gw, gb;
  uint64_t calls;
};
Pass conv_pass(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& gy, bool kernel) {
  struct WinogradOff {  // conv2d sends 3x3 stride-1 convolutions there first
    bool was = kernels::winograd::enabled();
    WinogradOff() { kernels::winograd::set_enabled(false); }
    ~WinogradOff() { kernels::winograd::set_enabled(was); }
  } off;
  direct::set_enabled(kernel);
  Tensor xr = x.clone().requires_grad_(true), wr = w.clone().requires_grad_(true), br = b.clone().requires_grad_(true);
  const uint64_t before = direct::calls();
  Tensor y = conv2d(xr, wr, br, 1, 1);
  y.backward(gy);
  const uint64_t used = direct::calls() - before;
  direct::set_enabled(true);
  return {y.contiguous(), xr.grad().contiguous(), wr.grad().contiguous(), br.grad().contiguous(), used};
}

::testing::AssertionResult same(const Tensor& got, const Tensor& want, const char* what) {
  return test::close_to(got, want, 1e-5, what);
}

TEST(Direct3x3, Conv2dAutogradAgreesWithOneDnn) {
  Generator g(31);
  for (const auto& [C, K] : {std::pair<int64_t, int64_t>{16, 16}, {16, 48}, {32, 16}})
    for (float odd : {0.0f, std::nanf(""), std::numeric_limits<float>::infinity()}) {
      SCOPED_TRACE(std::to_string(C) + " -> " + std::to_string(K) + " channels, odd value " + std::to_string(odd));
      Tensor x = randn({3, C, 13, 21}, g);
      const Tensor w = randn({K, C, 3, 3}, g) * 0.2, b = randn({K}, g), gy = randn({3, K, 13, 21}, g);
      if (odd != 0.0f) x.data_ptr<float>()[C * 13 * 21 + 5 * 13 * 21 + 6 * 21 + 4] = odd;
      const Pass fast = conv_pass(x, w, b, gy, true);
      if (fast.calls == 0) GTEST_SKIP() << "oneDNN chose no nChw16c layout on this CPU: the kernel was not used";
      EXPECT_EQ(fast.calls, 2u) << "forward and backward-data";
      const Pass onednn = conv_pass(x, w, b, gy, false);
      EXPECT_EQ(onednn.calls, 0u);
      EXPECT_TRUE(same(fast.y, onednn.y, "y"));
      EXPECT_TRUE(same(fast.gx, onednn.gx, "grad input"));
      EXPECT_TRUE(same(fast.gw, onednn.gw, "grad weight"));
      EXPECT_TRUE(same(fast.gb, onednn.gb, "grad bias"));
      if (odd != 0.0f) {
        EXPECT_TRUE(fast.y.isfinite().logical_not().any().item<bool>());
      }
    }
}

// An infinite weight would meet the padding's zeros (0 x Inf = NaN where oneDNN skips the
// tap): such a convolution stays with oneDNN, with its values.
TEST(Direct3x3, NonFiniteWeightsStayWithOneDnn) {
  Generator g(32);
  const Tensor x = randn({2, 16, 9, 9}, g), b = randn({16}, g), gy = randn({2, 16, 9, 9}, g);
  Tensor w = randn({16, 16, 3, 3}, g);
  w.data_ptr<float>()[40] = std::numeric_limits<float>::infinity();
  const Pass fast = conv_pass(x, w, b, gy, true);
  const Pass onednn = conv_pass(x, w, b, gy, false);
  EXPECT_EQ(fast.calls, 0u);
  EXPECT_TRUE(same(fast.y, onednn.y, "y"));
  EXPECT_TRUE(same(fast.gx, onednn.gx, "grad input"));
}

}  // namespace
}  // namespace cnnkit
