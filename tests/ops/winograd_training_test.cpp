// kernels/winograd.h in training: the backward-data pass (the flipped weights through the
// forward kernel) and the weight gradient, each against a double-precision direct sum on
// random shapes with both tiles; then conv2d's autograd and a ResNet-20 training step with
// the kernel against the same with oneDNN's direct convolution, finite and not.
// The kernel bound is the forward test's: 1e-5 of the sum of |terms| of each output (for the
// weight gradient, of the nine taps of a pair of channels).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cnnkit/core/rng.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/ops/ops.h"
#include "kernels/conv.h"
#include "kernels/wgrad3x3.h"
#include "kernels/winograd.h"
#include "conv3x3_case.h"
#include "test_util.h"

namespace cnnkit {
namespace {

using kernels::Conv2dShape;
namespace wino = kernels::winograd;

using test::at_block;
using test::blocks;
using test::Case;
using test::random_cases;
using test::shape_of;
using test::with_threads;

std::vector<float> normal_values(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng) * scale;
  return v;
}

// Counts the values outside 1e-5 of their window's sum of |terms|, reporting the first few.
struct Tally {
  int64_t bad = 0;
  void check(double got, double ref, double mag, const std::string& where) {
    if (std::abs(got - ref) <= 1e-5 * mag + 1e-30) return;
    if (bad++ < 5) ADD_FAILURE() << where << ": " << got << " vs " << ref << " (magnitude " << mag << ")";
  }
};

std::string describe(const Case& k, int tile, int block) {
  return "nChw" + std::to_string(block) + "c, F(" + std::to_string(tile) + "x" + std::to_string(tile) + ", 3x3), N " + std::to_string(k.N) + " C " +
         std::to_string(k.C) + " K " + std::to_string(k.K) + " " + std::to_string(k.H) + "x" + std::to_string(k.W) +
         " pad " + std::to_string(k.pt) + "," + std::to_string(k.pl) + "," + std::to_string(k.pb) + "," +
         std::to_string(k.pr);
}

void check_backward_data(const Case& k, uint64_t seed, int tile, int block) {
  SCOPED_TRACE(describe(k, tile, block));
  const Conv2dShape s = shape_of(k);
  ASSERT_TRUE(wino::supported(s, block));
  const Conv2dShape b = wino::backward_data_shape(s);
  ASSERT_TRUE(wino::supported(b, block));
  ASSERT_EQ(b.H_out, s.H);
  ASSERT_EQ(b.W_out, s.W);
  std::mt19937 rng(static_cast<uint32_t>(seed));
  const std::vector<float> gy = normal_values(static_cast<size_t>(s.N * s.C_out * s.H_out * s.W_out), rng);
  const std::vector<float> w = normal_values(static_cast<size_t>(s.C_out * s.C_in * 9), rng, 0.2f);
  wino::Weights flipped;
  wino::transform_weights_into(flipped, w.data(), s.C_out, s.C_in, tile, /*flipped=*/true);
  ASSERT_EQ(flipped.C_in, s.C_out);
  ASSERT_EQ(flipped.C_out, s.C_in);
  std::vector<float> gx(static_cast<size_t>(s.N * s.C_in * s.H * s.W), -7.0f);
  wino::conv3x3(gy.data(), flipped, nullptr, nullptr, false, gx.data(), b, block);

  Tally t;
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t c = 0; c < s.C_in; ++c)
      for (int64_t ih = 0; ih < s.H; ++ih)
        for (int64_t iw = 0; iw < s.W; ++iw) {
          double ref = 0, mag = 0;
          for (int64_t o = 0; o < s.C_out; ++o)
            for (int64_t i = 0; i < 3; ++i)
              for (int64_t j = 0; j < 3; ++j) {
                const int64_t oh = ih + s.pad_t - i, ow = iw + s.pad_l - j;
                if (oh < 0 || oh >= s.H_out || ow < 0 || ow >= s.W_out) continue;
                const double p = static_cast<double>(w[static_cast<size_t>((o * s.C_in + c) * 9 + i * 3 + j)]) *
                                 gy[at_block(n, o, oh, ow, s.C_out, s.H_out, s.W_out, block)];
                ref += p;
                mag += std::abs(p);
              }
          t.check(gx[at_block(n, c, ih, iw, s.C_in, s.H, s.W, block)], ref, mag,
                  "dx n " + std::to_string(n) + " c " + std::to_string(c) + " (" + std::to_string(ih) + ", " +
                      std::to_string(iw) + ")");
        }
  EXPECT_EQ(t.bad, 0);
}

void check_weight_grad(const Case& k, uint64_t seed, int tile, int block, bool with_bias) {
  SCOPED_TRACE(describe(k, tile, block) + (with_bias ? ", bias" : ""));
  const Conv2dShape s = shape_of(k);
  ASSERT_TRUE(wino::supported(s, block));
  std::mt19937 rng(static_cast<uint32_t>(seed));
  const std::vector<float> x = normal_values(static_cast<size_t>(s.N * s.C_in * s.H * s.W), rng);
  const std::vector<float> gy = normal_values(static_cast<size_t>(s.N * s.C_out * s.H_out * s.W_out), rng);
  std::vector<float> gw(static_cast<size_t>(s.C_out * s.C_in * 9), -7.0f), gb(static_cast<size_t>(s.C_out), -7.0f);
  ASSERT_TRUE(wino::weight_grad(x.data(), gy.data(), gw.data(), with_bias ? gb.data() : nullptr, s, block, tile));

  // A tap's bound is 1e-5 of the magnitude of all nine taps of its (o, c): the transforms mix
  // them, so a tap that meets only padding (an exact 0 directly) gets their rounding.
  Tally t;
  for (int64_t o = 0; o < s.C_out; ++o) {
    for (int64_t c = 0; c < s.C_in; ++c) {
      double ref[9] = {}, mag = 0;
      for (int64_t tap = 0; tap < 9; ++tap)
        for (int64_t n = 0; n < s.N; ++n)
          for (int64_t oh = 0; oh < s.H_out; ++oh)
            for (int64_t ow = 0; ow < s.W_out; ++ow) {
              const int64_t ih = oh + tap / 3 - s.pad_t, iw = ow + tap % 3 - s.pad_l;
              if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
              const double p = static_cast<double>(gy[at_block(n, o, oh, ow, s.C_out, s.H_out, s.W_out, block)]) *
                               x[at_block(n, c, ih, iw, s.C_in, s.H, s.W, block)];
              ref[tap] += p;
              mag += std::abs(p);
            }
      for (int64_t tap = 0; tap < 9; ++tap)
        t.check(gw[static_cast<size_t>((o * s.C_in + c) * 9 + tap)], ref[tap], mag,
                "dw o " + std::to_string(o) + " c " + std::to_string(c) + " tap " + std::to_string(tap));
    }
    if (with_bias) {
      double ref = 0, mag = 0;
      for (int64_t n = 0; n < s.N; ++n)
        for (int64_t oh = 0; oh < s.H_out; ++oh)
          for (int64_t ow = 0; ow < s.W_out; ++ow) {
            const double v = gy[at_block(n, o, oh, ow, s.C_out, s.H_out, s.W_out, block)];
            ref += v;
            mag += std::abs(v);
          }
      t.check(gb[static_cast<size_t>(o)], ref, mag, "db " + std::to_string(o));
    }
  }
  EXPECT_EQ(t.bad, 0);
}

TEST(WinogradTraining, BackwardDataIsTheFlippedConvolution) {
  for (int block : blocks()) {
    uint64_t seed = 1;
    for (const Case& k : random_cases(16, 7, block))
      for (int tile : {2, 4}) check_backward_data(k, seed++, tile, block);
  }
}

TEST(WinogradTraining, WeightGradientMatchesTheDirectSum) {
  for (int block : blocks()) {
    uint64_t seed = 1;
    for (const Case& k : random_cases(16, 8, block))
      for (int tile : {2, 4}) {
        check_weight_grad(k, seed, tile, block, seed % 2 == 0);
        ++seed;
      }
  }
}

// Several blocks of tiles over several threads: each thread sums its share apart, in float
// runs of at most 256 tiles (800 tiles with F(2x2, 3x3) here).
TEST(WinogradTraining, WeightGradientOverThreads) {
  for (int block : blocks())
    for (int tile : {2, 4})
      with_threads({1, 2, 3},
                   [block, tile] { check_weight_grad({8, 16, 32, 20, 20, 1, 1, 1, 1}, 11, tile, block, true); });
}

TEST(WinogradTraining, NonFiniteWeightGradientIsRefused) {
  for (int block : blocks()) {
    const Case k{2, 16, 16, 8, 8, 1, 1, 1, 1};
    const Conv2dShape s = shape_of(k);
    std::mt19937 rng(3);
    for (float odd : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
      std::vector<float> x = normal_values(static_cast<size_t>(s.N * s.C_in * s.H * s.W), rng);
      const std::vector<float> gy = normal_values(static_cast<size_t>(s.N * s.C_out * s.H_out * s.W_out), rng);
      std::vector<float> gw(static_cast<size_t>(s.C_out * s.C_in * 9)), gb(static_cast<size_t>(s.C_out));
      for (int tile : {2, 4}) EXPECT_TRUE(wino::weight_grad(x.data(), gy.data(), gw.data(), gb.data(), s, block, tile));
      x[at_block(1, 3, 4, 5, s.C_in, s.H, s.W, block)] = odd;
      for (int tile : {2, 4})
        EXPECT_FALSE(wino::weight_grad(x.data(), gy.data(), gw.data(), gb.data(), s, block, tile)) << odd;
    }
  }
}

// Where the weight gradient runs here, and by which tile, under each setting.
TEST(WinogradTraining, WeightGradientTile) {
  for (int block : blocks()) {
    SCOPED_TRACE("nChw" + std::to_string(block) + "c");
    const int64_t c = block;  // one vector of channels
    const Conv2dShape narrow = shape_of({2, c, c, 8, 8, 1, 1, 1, 1}), wide = shape_of({2, c, 2 * c, 8, 8, 1, 1, 1, 1}),
                      large = shape_of({2, c, 2 * c, 40, 40, 1, 1, 1, 1});
    // By default: F(2x2, 3x3) on nChw8c where C_out fills two vectors; never on nChw16c.
    EXPECT_EQ(wino::weight_grad_tile(narrow, block), 0);
    EXPECT_EQ(wino::weight_grad_tile(wide, block), block == 8 ? 2 : 0);
    EXPECT_EQ(wino::weight_grad_tile(large, block), block == 8 ? 2 : 0) << "F(2x2) even where F(4x4) is the forward's";
    wino::set_weight_grad_use(wino::WeightGrad::always);  // every supported shape, tile_for's tile
    EXPECT_EQ(wino::weight_grad_tile(narrow, block), wino::tile_for(narrow));
    EXPECT_EQ(wino::weight_grad_tile(large, block), 4);
    wino::set_weight_grad_use(wino::WeightGrad::never);
    EXPECT_EQ(wino::weight_grad_tile(wide, block), 0);
    wino::set_weight_grad_use(wino::WeightGrad::automatic);
    Conv2dShape strided = wide;
    strided.stride_h = strided.stride_w = 2;
    EXPECT_EQ(wino::weight_grad_tile(strided, block), 0) << "a shape the kernel does not compute";
  }
}

// The weight gradient by F(2x2, 3x3) on ResNet-20's three shapes, post-ReLU inputs, on the
// layout oneDNN picks here: each tap at least as close to the exact sum, relative to that
// tap's sum of |terms|, as oneDNN's direct sums (which it replaces by default on nChw8c).
TEST(WinogradTraining, WeightGradientByF2NoLessAccurateThanOneDnn) {
  struct Shape {
    int64_t C, H;
  };
  for (const Shape& sh : {Shape{16, 32}, Shape{32, 16}, Shape{64, 8}}) {
    SCOPED_TRACE(std::to_string(sh.C) + " channels, " + std::to_string(sh.H) + "x" + std::to_string(sh.H));
    Generator g(static_cast<uint64_t>(sh.C));
    const int64_t N = 16, C = sh.C, H = sh.H;
    const Tensor x = relu(randn({N, C, H, H}, g)), w = randn({C, C, 3, 3}, g) * 0.1, b = randn({C}, g);
    const Tensor gy = randn({N, C, H, H}, g);
    auto weight_grad = [&](bool kernel) {
      wino::set_weight_grad_use(kernel ? wino::WeightGrad::always : wino::WeightGrad::never);
      wino::set_tile(2);
      kernels::wgrad3x3::set_use(kernels::wgrad3x3::Use::never);
      Tensor wr = w.clone().requires_grad_(true);
      const uint64_t before = wino::calls();
      conv2d(x, wr, b, 1, 1).backward(gy);
      const uint64_t used = wino::calls() - before;
      wino::set_tile(0);
      wino::set_weight_grad_use(wino::WeightGrad::automatic);
      kernels::wgrad3x3::set_use(kernels::wgrad3x3::Use::automatic);
      return std::pair{wr.grad().contiguous().to_vector(), used};
    };
    const auto [mine, mine_calls] = weight_grad(true);
    const auto [onednn, onednn_calls] = weight_grad(false);
    if (mine_calls == 0) GTEST_SKIP() << "oneDNN chose no blocked layout on this CPU: the Winograd kernel was not used";
    ASSERT_EQ(mine_calls, onednn_calls + 1) << "the weight gradient ran here";
    const std::vector<float> xv = x.to_vector(), gv = gy.to_vector();
    double worst[2] = {0, 0};
    for (int64_t o = 0; o < C; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t tap = 0; tap < 9; ++tap) {
          double ref = 0, mag = 0;
          for (int64_t n = 0; n < N; ++n)
            for (int64_t oh = 0; oh < H; ++oh)
              for (int64_t ow = 0; ow < H; ++ow) {
                const int64_t ih = oh + tap / 3 - 1, iw = ow + tap % 3 - 1;
                if (ih < 0 || ih >= H || iw < 0 || iw >= H) continue;
                const double p = static_cast<double>(gv[static_cast<size_t>(((n * C + o) * H + oh) * H + ow)]) *
                                 xv[static_cast<size_t>(((n * C + c) * H + ih) * H + iw)];
                ref += p;
                mag += std::abs(p);
              }
          const size_t at = static_cast<size_t>((o * C + c) * 9 + tap);
          if (mag == 0) continue;
          worst[0] = std::max(worst[0], std::abs(mine[at] - ref) / mag);
          worst[1] = std::max(worst[1], std::abs(onednn[at] - ref) / mag);
        }
    char line[96];
    std::snprintf(line, sizeof line, "%.3g (oneDNN %.3g)", worst[0], worst[1]);
    RecordProperty("worst_relative_error_" + std::to_string(C), line);
    EXPECT_LE(worst[0], worst[1]) << "relative to each sum of |terms|";
  }
}

// conv2d's output and three gradients with the kernel and with oneDNN alone (values within
// 1e-4 of each tensor's largest, non-finite values in the same places with the same values).
struct Pass {
  Tensor y, gx, gw, gb;
};
// Which passes run in the kernel: none; the default (forward, backward-data, and the weight
// gradient by F(2x2, 3x3) where the output channels fill two vectors); or all three on every
// shape, the weight gradient by tile_for's tile.
enum class Mode { off, default_passes, all_passes };
void set_mode(Mode m) {
  wino::set_enabled(m != Mode::off);
  wino::set_weight_grad_use(m == Mode::all_passes ? wino::WeightGrad::always : wino::WeightGrad::automatic);
}
const char* name(Mode m) { return m == Mode::off ? "off" : m == Mode::default_passes ? "default" : "all passes"; }

Pass conv_pass(const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& gy, Mode mode) {
  set_mode(mode);
  Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true);
  Tensor y = conv2d(x, w, b, 1, 1);
  y.backward(gy);
  set_mode(Mode::default_passes);
  return {y.detach().contiguous(), x.grad().contiguous(), w.grad().contiguous(), b.grad().contiguous()};
}

::testing::AssertionResult same(const Tensor& got, const Tensor& want, const char* what) {
  return test::close_to(got, want, 1e-4, what);
}

TEST(WinogradTraining, Conv2dAutogradAgreesWithOneDnn) {
  for (const auto& [odd, x, w, b, gy] : test::odd_convs()) {
    SCOPED_TRACE("odd value " + std::to_string(odd));
    const Pass direct = conv_pass(x, w, b, gy, Mode::off);
    for (Mode mode : {Mode::default_passes, Mode::all_passes}) {
      SCOPED_TRACE(name(mode));
      const uint64_t before = wino::calls();
      const Pass fast = conv_pass(x, w, b, gy, mode);
      const uint64_t used = wino::calls() - before;
      if (used == 0) GTEST_SKIP() << "oneDNN chose no blocked layout on this CPU: the Winograd kernel was not used";
      // Forward and backward-data; by default also the weight gradient on nChw8c (32 output
      // channels fill two vectors of 8), not on nChw16c; with all passes on both.
      if (mode == Mode::all_passes) {
        EXPECT_EQ(used, 3u) << "forward, backward-data and weight gradient";
      } else {
        EXPECT_TRUE(used == 2u || used == 3u) << used << " calls";
      }
      EXPECT_TRUE(same(fast.y, direct.y, "y"));
      EXPECT_TRUE(same(fast.gx, direct.gx, "grad input"));
      EXPECT_TRUE(same(fast.gw, direct.gw, "grad weight"));
      EXPECT_TRUE(same(fast.gb, direct.gb, "grad bias"));
    }
    if (odd != 0.0f) {
      EXPECT_TRUE(direct.y.isfinite().logical_not().any().item<bool>());
      EXPECT_TRUE(direct.gw.isfinite().logical_not().any().item<bool>());
    }
  }
}

// A training-mode ResNet-20 step with the kernel in its 16 stride-1 3x3 convolutions, against
// oneDNN's direct convolution. The forward (logits, loss) runs once in each mode. The gradients
// are compared on one forward graph run backward in each mode, not on two forwards: a ReLU
// whose input lies within rounding of zero passes its gradient in one run and not in the
// other, and on five of the first eight input seeds such a flip moved gradients by up to 4%.
TEST(WinogradTraining, ResNet20StepAgreesWithTheDirectPath) {
  manual_seed(5);
  nn::Sequential net = models::resnet20();
  net->train();
  Generator g(6);
  const Tensor x = randn({8, 3, 32, 32}, g);
  const Tensor target = (rand({8}, g) * 10).floor().to(kLong);
  std::vector<Tensor> out[2];  // logits and loss, direct then Winograd
  Tensor loss;
  for (Mode mode : {Mode::off, Mode::default_passes}) {
    set_mode(mode);
    const uint64_t before = wino::calls();
    const Tensor logits = net->forward(x);
    loss = cross_entropy_loss(logits, target);
    const uint64_t used = wino::calls() - before;
    set_mode(Mode::default_passes);
    if (mode == Mode::off) {
      EXPECT_EQ(used, 0u);
    } else if (used == 0) {
      GTEST_SKIP() << "oneDNN chose no blocked layout on this CPU: the Winograd kernel was not used";
    } else {
      EXPECT_EQ(used, test::resnet20_winograd_convs()) << "the forwards of ResNet-20's 3x3 stride-1 convolutions";
    }
    out[mode == Mode::off ? 0 : 1] = {logits.detach().contiguous(), loss.detach()};
  }
  EXPECT_TRUE(same(out[1][0], out[0][0], "logits"));
  EXPECT_TRUE(same(out[1][1], out[0][1], "loss"));

  // The Winograd forward's graph, backward in each mode.
  // calls: the kernel's calls expected, or either of two.
  auto gradients = [&](Mode mode, std::initializer_list<uint64_t> calls) {
    set_mode(mode);
    net->zero_grad(/*set_to_none=*/true);
    const uint64_t before = wino::calls();
    loss.backward(Tensor(), /*retain_graph=*/true);
    const uint64_t used = wino::calls() - before;
    EXPECT_NE(std::find(calls.begin(), calls.end(), used), calls.end()) << name(mode) << ": " << used << " calls";
    set_mode(Mode::default_passes);
    std::vector<Tensor> grads;
    for (const Tensor& p : net->parameters()) grads.push_back(p.grad().contiguous());
    return grads;
  };
  const std::vector<Tensor> direct = gradients(Mode::off, {0});
  for (Mode mode : {Mode::default_passes, Mode::all_passes}) {
    SCOPED_TRACE(name(mode));
    // Backward-data where the forward ran here, and weight gradients: with all passes those of
    // all 16; by default those on nChw8c (all 16: 16, 32 and 64 output channels fill two
    // vectors of 8), none on nChw16c.
    const uint64_t passes = test::resnet20_winograd_convs();
    const std::vector<Tensor> fast = mode == Mode::all_passes ? gradients(mode, {passes + 16})
                                                              : gradients(mode, {passes + 16, passes});
    ASSERT_EQ(fast.size(), direct.size());
    for (size_t i = 0; i < fast.size(); ++i) {
      SCOPED_TRACE("gradient of parameter " + std::to_string(i));
      EXPECT_TRUE(same(fast[i], direct[i], "value"));
    }
  }
}

}  // namespace
}  // namespace cnnkit
