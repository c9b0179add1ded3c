// kernels/winograd.h: F(2x2, 3x3) and F(4x4, 3x3) between nChw8c tensors (and nChw16c where
// the CPU has AVX-512) against a direct
// convolution in double precision, on random shapes (odd sizes, every padding up to 2,
// channel counts that leave partial register blocks), with bias, a residual (apart or
// already in dst), the ReLU, and a NaN or an infinity (it must reach exactly the outputs
// whose window holds it, with the direct convolution's value, and a NaN stay NaN through the
// ReLU).
// The bound: 1e-5 of the sum of |w x| over the output's window, where a wrong transform
// coefficient or a misplaced tile errs by the size of the terms themselves.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/models/inference.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/ops/ops.h"
#include "kernels/conv.h"
#include "kernels/winograd.h"
#include "conv3x3_case.h"
#include "test_util.h"

namespace cnnkit {
namespace {

using kernels::Conv2dShape;

using test::at_block;

struct Case {
  int64_t N, C, K, H, W, pt, pl, pb, pr;
  bool bias, residual, relu;
  bool in_place = false;  // the residual in dst itself
  float odd = std::nanf("");  // put in image 1 (when N > 1): NaN, or an infinity
};

// k's channel counts are for nChw8c; for block 16 they are doubled.
void check(Case k, uint64_t seed, int tile, int block) {
  SCOPED_TRACE("nChw" + std::to_string(block) + "c, F(" + std::to_string(tile) + "x" + std::to_string(tile) + ", 3x3)");
  k.C = k.C / 8 * block;
  k.K = k.K / 8 * block;
  Conv2dShape s;
  s.N = k.N, s.C_in = k.C, s.H = k.H, s.W = k.W, s.C_out = k.K, s.kH = 3, s.kW = 3;
  s.pad_t = k.pt, s.pad_l = k.pl, s.pad_b = k.pb, s.pad_r = k.pr;
  s.H_out = kernels::conv_output_size(k.H, 3, 1, k.pt, k.pb, 1);
  s.W_out = kernels::conv_output_size(k.W, 3, 1, k.pl, k.pr, 1);
  s.has_bias = k.bias;
  ASSERT_TRUE(kernels::winograd::supported(s, block));
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(k.N * k.C * k.H * k.W)), w(static_cast<size_t>(k.K * k.C * 9)),
      b(static_cast<size_t>(k.K));
  for (float& v : x) v = normal(rng);
  for (float& v : w) v = normal(rng) * 0.2f;
  for (float& v : b) v = normal(rng);
  const int64_t Ho = s.H_out, Wo = s.W_out;
  std::vector<float> y(static_cast<size_t>(k.N * k.K * Ho * Wo)), r(y.size());
  for (float& v : r) v = normal(rng);
  if (k.residual && k.in_place) y = r;
  if (k.N > 1) x[at_block(1, k.C / 2, k.H / 2, k.W / 3, k.C, k.H, k.W, block)] = k.odd;

  const kernels::winograd::Weights U = kernels::winograd::transform_weights(w.data(), k.K, k.C, tile);
  const float* residual = !k.residual ? nullptr : k.in_place ? y.data() : r.data();
  kernels::winograd::conv3x3(x.data(), U, k.bias ? b.data() : nullptr, residual, k.relu, y.data(), s, block);

  int64_t bad = 0, odd = 0;
  for (int64_t n = 0; n < k.N; ++n)
    for (int64_t o = 0; o < k.K; ++o)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          double ref = k.bias ? b[static_cast<size_t>(o)] : 0.0, mag = std::abs(ref);
          for (int64_t c = 0; c < k.C; ++c)
            for (int64_t i = 0; i < 3; ++i)
              for (int64_t j = 0; j < 3; ++j) {
                const int64_t ih = oh + i - k.pt, iw = ow + j - k.pl;
                if (ih < 0 || ih >= k.H || iw < 0 || iw >= k.W) continue;
                const double p = static_cast<double>(w[static_cast<size_t>((o * k.C + c) * 9 + i * 3 + j)]) *
                                 x[at_block(n, c, ih, iw, k.C, k.H, k.W, block)];
                ref += p;
                mag += std::abs(p);
              }
          const size_t idx = at_block(n, o, oh, ow, k.K, Ho, Wo, block);
          if (k.residual) {
            ref += r[idx];
            mag += std::abs(r[idx]);
          }
          if (k.relu && !std::isnan(ref)) {
            ref = std::max(ref, 0.0);
          }
          const float got = y[idx];
          if (!std::isfinite(ref)) {
            ++odd;
            if (std::isnan(ref) ? !std::isnan(got) : got != ref) {
              if (bad++ < 5) ADD_FAILURE() << "n " << n << " o " << o << " (" << oh << ", " << ow << "): " << got
                                           << " vs " << ref;
            }
          } else if (!(std::abs(got - ref) <= 1e-5 * mag + 1e-30)) {
            if (bad++ < 5) {
              ADD_FAILURE() << "n " << n << " o " << o << " (" << oh << ", " << ow << "): " << got << " vs " << ref
                            << " (window magnitude " << mag << ")";
            }
          }
        }
  EXPECT_EQ(bad, 0) << "N " << k.N << " C " << k.C << " K " << k.K << " " << k.H << "x" << k.W << " pad " << k.pt
                    << "," << k.pl << "," << k.pb << "," << k.pr;
  if (k.N > 1) {
    EXPECT_GT(odd, 0) << "the " << k.odd << " reached no output";
  }

  // Again, taking the moments of what it writes: the same output, bit for bit, and each
  // channel's mean and biased variance of it as a double-precision two-pass sum gives them;
  // none where a tile was computed again directly (a NaN or an infinity in the input).
  std::vector<float> y2(y.size());
  if (k.residual && k.in_place) y2 = r;
  const float* residual2 = !k.residual ? nullptr : k.in_place ? y2.data() : r.data();
  kernels::ChannelMoments moments;
  kernels::winograd::conv3x3(x.data(), U, k.bias ? b.data() : nullptr, residual2, k.relu, y2.data(), s, block,
                             &moments);
  EXPECT_TRUE(std::equal(y.begin(), y.end(), y2.begin(), [](float a, float c) {
    return a == c || (std::isnan(a) && std::isnan(c));
  })) << "the output with its moments taken";
  if (k.N > 1 && odd > 0) {
    EXPECT_EQ(moments.data, nullptr) << "a tile computed again directly: no moments";
    return;
  }
  ASSERT_EQ(moments.data, y2.data());
  ASSERT_EQ(moments.C, k.K);
  ASSERT_EQ(moments.count, k.N * Ho * Wo);
  for (int64_t o = 0; o < k.K; ++o) {
    double sum = 0, dev = 0;
    for (int64_t n = 0; n < k.N; ++n)
      for (int64_t i = 0; i < Ho * Wo; ++i) sum += y2[at_block(n, o, i / Wo, i % Wo, k.K, Ho, Wo, block)];
    const double mean = sum / static_cast<double>(moments.count);
    for (int64_t n = 0; n < k.N; ++n)
      for (int64_t i = 0; i < Ho * Wo; ++i) {
        const double d = y2[at_block(n, o, i / Wo, i % Wo, k.K, Ho, Wo, block)] - mean;
        dev += d * d;
      }
    const double var = dev / static_cast<double>(moments.count);
    EXPECT_NEAR(moments.mean[static_cast<size_t>(o)], mean, 1e-6 * (std::abs(mean) + std::sqrt(var)) + 1e-30)
        << "channel " << o;
    EXPECT_NEAR(moments.var[static_cast<size_t>(o)], var, 1e-5 * var + 1e-30) << "channel " << o;
  }
}

void check(const Case& k, uint64_t seed) {
  for (int block : test::blocks())
    for (int tile : {2, 4}) check(k, seed, tile, block);
}

TEST(Winograd, MatchesTheDirectConvolutionOnRandomShapes) {
  check({2, 16, 16, 32, 32, 1, 1, 1, 1, false, false, true}, 1);  // ResNet-20's first stage
  check({3, 64, 64, 8, 8, 1, 1, 1, 1, true, true, true}, 2);      // its last, with a residual
  check({2, 32, 32, 9, 7, 1, 1, 1, 1, true, true, false, true}, 4);  // a residual already in dst
  check({1, 8, 8, 1, 1, 1, 1, 1, 1, true, false, false}, 3);       // one pixel
  // Infinities: the transforms turn one into NaN over its tile (Inf - Inf); the direct
  // convolution gives +-Inf over its window, and NaN only where both signs meet.
  const float inf = std::numeric_limits<float>::infinity();
  check({2, 16, 24, 12, 12, 1, 1, 1, 1, true, false, false, false, inf}, 5);
  check({2, 16, 16, 9, 10, 1, 1, 1, 1, true, true, true, true, -inf}, 6);  // in place, through the ReLU
  check({2, 8, 16, 8, 8, 1, 1, 1, 1, false, true, true, false, std::nanf("")}, 7);
  std::mt19937 rng(42);
  auto pick = [&](std::initializer_list<int64_t> v) { return *(v.begin() + rng() % v.size()); };
  for (int i = 0; i < 24; ++i) {
    Case k{pick({1, 2, 3}), pick({8, 16, 24, 32, 64}), pick({8, 16, 24, 40, 64}), pick({3, 4, 5, 7, 8, 13, 16}),
           pick({3, 4, 6, 9, 11, 16}), pick({0, 1, 2}), pick({0, 1, 2}), pick({0, 1, 2}), pick({0, 1, 2}),
           rng() % 2 == 0, rng() % 2 == 0, rng() % 2 == 0, rng() % 4 == 0,
           rng() % 3 == 0 ? std::numeric_limits<float>::infinity() : std::nanf("")};
    check(k, 100 + static_cast<uint64_t>(i));
  }
}

// The moments a convolution takes of its output (for the batch norm after it): the same bits
// on any thread count, its blocks merged in order whichever thread computed them.
TEST(Winograd, OutputMomentsDoNotDependOnTheThreadCount) {
  for (int block : test::blocks()) {
    Conv2dShape s;
    s.N = 16, s.C_in = 2 * block, s.H = 13, s.W = 11, s.C_out = 2 * block, s.kH = 3, s.kW = 3;
    s.pad_t = s.pad_l = s.pad_b = s.pad_r = 1;
    s.H_out = 13, s.W_out = 11;  // edge tiles
    std::mt19937 rng(9);
    std::normal_distribution<float> normal(0.5f, 2.0f);
    std::vector<float> x(static_cast<size_t>(s.N * s.C_in * s.H * s.W)), w(static_cast<size_t>(s.C_out * s.C_in * 9));
    for (float& v : x) v = normal(rng);
    for (float& v : w) v = normal(rng) * 0.2f;
    const kernels::winograd::Weights U = kernels::winograd::transform_weights(w.data(), s.C_out, s.C_in, 4);
    std::vector<float> y(static_cast<size_t>(s.N * s.C_out * s.H_out * s.W_out));
    std::vector<std::vector<float>> means, vars;
    test::with_threads({1, 2, 3}, [&] {
      kernels::ChannelMoments m;
      kernels::winograd::conv3x3(x.data(), U, nullptr, nullptr, false, y.data(), s, block, &m);
      ASSERT_EQ(m.data, y.data());
      means.push_back(m.mean);
      vars.push_back(m.var);
    });
    ASSERT_EQ(means.size(), 3u);
    for (size_t i = 1; i < means.size(); ++i) {
      EXPECT_EQ(means[i], means[0]) << "nChw" << block << "c, thread count " << i + 1;
      EXPECT_EQ(vars[i], vars[0]) << "nChw" << block << "c, thread count " << i + 1;
    }
  }
}

Conv2dShape shape_with_channels(Conv2dShape s, int64_t channels) {
  s.C_in = s.C_out = channels;
  return s;
}

TEST(Winograd, RefusesWhatItDoesNotCompute) {
  Conv2dShape s;
  s.N = 1, s.C_in = 16, s.H = 8, s.W = 8, s.C_out = 16, s.kH = 3, s.kW = 3, s.pad_t = s.pad_l = s.pad_b = s.pad_r = 1;
  s.H_out = s.W_out = 8;
  ASSERT_TRUE(kernels::winograd::supported(s, 8));
  auto refused = [&](auto change) {
    Conv2dShape t = s;
    change(t);
    return !kernels::winograd::supported(t, 8) && !kernels::winograd::supported(t, 16);
  };
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.stride_h = 2; }));
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.dil_w = 2; }));
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.groups = 2; }));
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.kH = t.kW = 5; }));
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.C_in = 12; }));
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.C_out = 3; }));
  EXPECT_TRUE(refused([](Conv2dShape& t) { t.pad_t = 3; }));
  EXPECT_FALSE(kernels::winograd::supported(shape_with_channels(s, 24), 16)) << "24 channels in blocks of 16";
  EXPECT_EQ(kernels::winograd::supported(s, 16), kernels::simd::cpu_runs(16));
  kernels::winograd::set_enabled(false);
  EXPECT_FALSE(kernels::winograd::supported(s, 8));
  EXPECT_FALSE(kernels::winograd::supported(s, 16));
  kernels::winograd::set_enabled(true);
}

// An eval-mode ResNet-20 initialised from `seed`, and a random CIFAR-shaped batch of n.
std::pair<nn::Sequential, Tensor> resnet20_and_batch(uint64_t seed, int64_t n) {
  manual_seed(seed);
  nn::Sequential net = models::resnet20();
  net->eval();
  Generator g(seed + 1);
  return {net, randn({n, 3, 32, 32}, g)};
}

// Through optimize_for_inference: a ResNet-20 at batch 4 with each tile and without
// Winograd, all against the eval-mode network. Where oneDNN chooses no blocked layout (as in
// inference on AVX-512 machines: channels-last) the kernel is not used and they agree exactly.
TEST(Winograd, ResNet20InferenceAgreesWithTheDirectPath) {
  auto [net, x] = resnet20_and_batch(3, 4);
  NoGradGuard no_grad;
  const Tensor expected = net->forward(x).contiguous();
  const double scale = expected.abs().max().item<double>();
  kernels::winograd::set_enabled(false);
  nn::Sequential direct_net = models::optimize_for_inference(net);
  const Tensor direct = direct_net->forward(x).contiguous();
  kernels::winograd::set_enabled(true);
  EXPECT_TRUE(test::allclose(direct, expected, 1e-5, 1e-5 * scale));
  for (int tile : {2, 4}) {
    SCOPED_TRACE("tile " + std::to_string(tile));
    kernels::winograd::set_tile(tile);
    nn::Sequential fast = models::optimize_for_inference(net);
    const uint64_t before = kernels::winograd::calls();
    const Tensor wino = fast->forward(x).contiguous();
    const uint64_t used = kernels::winograd::calls() - before;
    kernels::winograd::set_tile(0);
    EXPECT_TRUE(test::allclose(wino, expected, 1e-5, 1e-5 * scale));
    if (used == 0) GTEST_SKIP() << "oneDNN chose no blocked layout on this CPU: the Winograd kernel was not used";
    EXPECT_EQ(used, test::resnet20_winograd_convs()) << "ResNet-20's 3x3 stride-1 convolutions";
    EXPECT_FALSE(test::allclose(wino, direct, 0, 0)) << "the two paths round differently";
  }
}

// A NaN weight would make every tile non-finite, each computed twice: such a convolution is
// left to oneDNN (the other fifteen still run here), with the same NaNs as the eval network.
TEST(Winograd, NonFiniteWeightsGoToTheDirectPath) {
  std::vector<float> w(16 * 8 * 9, 0.5f);
  EXPECT_TRUE(kernels::winograd::transform_weights(w.data(), 16, 8, 4).finite);
  w[100] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(kernels::winograd::transform_weights(w.data(), 16, 8, 4).finite);

  auto [net, x] = resnet20_and_batch(5, 2);
  NoGradGuard no_grad;
  const Tensor clean = models::optimize_for_inference(net)->forward(x).contiguous();
  const uint64_t before = kernels::winograd::calls();
  models::optimize_for_inference(net)->forward(x);
  const uint64_t all = kernels::winograd::calls() - before;
  if (all == 0) GTEST_SKIP() << "oneDNN chose no blocked layout on this CPU: the Winograd kernel was not used";
  int64_t poisoned = 0;
  for (auto& item : net->named_parameters()) {  // the third 64-channel 3x3 weight: a stride-1 one
    Tensor p = item.value();
    if (p.dim() == 4 && p.size(0) == 64 && p.size(2) == 3 && poisoned++ == 2) p.data_ptr<float>()[7] = std::nanf("");
  }
  ASSERT_GT(poisoned, 2);
  const Tensor expected = net->forward(x).contiguous();
  const uint64_t start = kernels::winograd::calls();
  const Tensor got = models::optimize_for_inference(net)->forward(x).contiguous();
  EXPECT_EQ(kernels::winograd::calls() - start, all - 1);
  EXPECT_TRUE(test::allclose(got, expected, 1e-5, 1e-5));  // NaN where NaN
  EXPECT_TRUE(got.isnan().any().item<bool>());
  EXPECT_FALSE(clean.isnan().any().item<bool>());
}

TEST(Winograd, TileChoice) {
  Conv2dShape s;
  s.N = 1, s.C_in = 16, s.H = 8, s.W = 8, s.C_out = 16, s.kH = 3, s.kW = 3, s.pad_t = s.pad_l = s.pad_b = s.pad_r = 1;
  s.H_out = s.W_out = 8;
  EXPECT_EQ(kernels::winograd::tile_for(s), 4);  // 4 tiles of 36 products against 16 of 16
  for (int64_t side : {1, 2, 5, 6}) {
    Conv2dShape t = s;
    t.H_out = t.W_out = side;
    EXPECT_EQ(kernels::winograd::tile_for(t), 2) << side << "x" << side;
  }
  s.H_out = 14, s.W_out = 7;
  EXPECT_EQ(kernels::winograd::tile_for(s), 4);
  kernels::winograd::set_tile(2);
  EXPECT_EQ(kernels::winograd::tile_for(s), 2);
  kernels::winograd::set_tile(4);
  EXPECT_EQ(kernels::winograd::tile_for(s), 4);
  kernels::winograd::set_tile(0);
  EXPECT_THROW(kernels::winograd::set_tile(3), ValueError);
  EXPECT_THROW(kernels::winograd::transform_weights(nullptr, 8, 8, 6), ValueError);
}

}  // namespace
}  // namespace cnnkit
