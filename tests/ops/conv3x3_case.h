// Shapes of 3x3 stride-1 convolutions between channel-blocked tensors (nChw8c, nChw16c),
// shared by the tests of the kernels that compute them (winograd_test.cpp,
// winograd_training_test.cpp, wgrad3x3_test.cpp, direct3x3_test.cpp).
#pragma once

#include <cstddef>
#include <cmath>
#include <cstdint>
#include <limits>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cnnkit/core/rng.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/ops/ops.h"

#include "kernels/conv.h"
#include "kernels/simd.h"
#include "test_util.h"

namespace cnnkit::test {

// The channel blocks the kernels run with on this CPU: 8 (nChw8c, AVX2), and 16 (nChw16c)
// where it has AVX-512.
inline std::vector<int> blocks() {
  std::vector<int> b;
  for (int block : {8, 16})
    if (kernels::simd::cpu_runs(block)) b.push_back(block);
  return b;
}

// ResNet-20's 3x3 stride-1 convolutions the Winograd kernel takes: all 16, in nChw8c (AVX2)
// and nChw16c (AVX-512) alike (kernels/conv.cpp's winograd_preferred).
inline uint64_t resnet20_winograd_convs() { return 16; }

// Index of (n, c, h, w) in a tensor blocked by B channels (nChw8c: B = 8).
inline size_t at_block(int64_t n, int64_t c, int64_t h, int64_t w, int64_t C, int64_t H, int64_t W, int64_t B) {
  return static_cast<size_t>((((n * (C / B) + c / B) * H + h) * W + w) * B + c % B);
}

// N images, C -> K channels, H x W, padding top, left, bottom, right.
struct Case {
  int64_t N, C, K, H, W, pt, pl, pb, pr;
};

inline std::string describe(const Case& k) {
  return "N " + std::to_string(k.N) + " C " + std::to_string(k.C) + " K " + std::to_string(k.K) + " " +
         std::to_string(k.H) + "x" + std::to_string(k.W) + " pad " + std::to_string(k.pt) + "," +
         std::to_string(k.pl) + "," + std::to_string(k.pb) + "," + std::to_string(k.pr);
}

inline kernels::Conv2dShape shape_of(const Case& k) {
  kernels::Conv2dShape s;
  s.N = k.N, s.C_in = k.C, s.H = k.H, s.W = k.W, s.C_out = k.K, s.kH = 3, s.kW = 3;
  s.pad_t = k.pt, s.pad_l = k.pl, s.pad_b = k.pb, s.pad_r = k.pr;
  s.H_out = kernels::conv_output_size(k.H, 3, 1, k.pt, k.pb, 1);
  s.W_out = kernels::conv_output_size(k.W, 3, 1, k.pl, k.pr, 1);
  return s;
}

// ResNet-20's first and last stages, one pixel, then `count` random shapes (channels in
// multiples of 8, padding 0-2 on each side); for block 16, every channel count doubled.
inline std::vector<Case> random_cases(int count, uint32_t seed, int block = 8) {
  std::mt19937 rng(seed);
  auto pick = [&](std::initializer_list<int64_t> v) { return *(v.begin() + rng() % v.size()); };
  std::vector<Case> cases{{2, 16, 16, 32, 32, 1, 1, 1, 1},  // ResNet-20's first stage
                          {3, 64, 64, 8, 8, 1, 1, 1, 1},    // its last
                          {1, 8, 8, 1, 1, 1, 1, 1, 1}};     // one pixel
  for (int i = 0; i < count; ++i)
    cases.push_back({pick({1, 2, 3}), pick({8, 16, 24, 32, 64}), pick({8, 16, 24, 40, 64}),
                     pick({3, 4, 5, 7, 8, 13, 16}), pick({3, 4, 6, 9, 11, 16}), pick({0, 1, 2}), pick({0, 1, 2}),
                     pick({0, 1, 2}), pick({0, 1, 2})});
  if (block != 8)
    for (Case& k : cases) {
      k.C = k.C / 8 * block;
      k.K = k.K / 8 * block;
    }
  return cases;
}

// conv2d's operands, 3 images of 32 -> 32 channels (whole blocks of 8 and of 16, and enough
// for the Winograd kernel in nChw16c), 13 x 10, padding 1: finite, then with a NaN,
// then with an infinity in image 1, channel 5 of the input (`odd`: 0, NaN, Inf).
struct OddConv {
  float odd;
  Tensor x, w, b, gy;
};
inline std::vector<OddConv> odd_convs() {
  Generator g(21);
  const Tensor w = randn({32, 32, 3, 3}, g) * 0.2, b = randn({32}, g);
  std::vector<OddConv> out;
  for (float odd : {0.0f, std::nanf(""), std::numeric_limits<float>::infinity()}) {
    Tensor x = randn({3, 32, 13, 10}, g);
    const Tensor gy = randn({3, 32, 13, 10}, g);
    if (odd != 0.0f) x.data_ptr<float>()[32 * 130 + 5 * 130 + 6 * 10 + 4] = odd;
    out.push_back({odd, x, w, b, gy});
  }
  return out;
}

// allclose(got, want) within tol relative to want's largest finite value; NaN and +-Inf where
// want has them (allclose matches those exactly).
inline ::testing::AssertionResult close_to(const Tensor& got, const Tensor& want, double tol, const char* what) {
  const Tensor finite = want.isfinite();
  const double scale = want.masked_fill(finite.logical_not(), 0.0).abs().max().item<double>();
  return allclose(got, want, tol, tol * scale, what);
}

// f() on each of these thread counts, then the count as it was.
template <class F>
void with_threads(std::initializer_list<int> counts, const F& f) {
  const int before = get_num_threads();
  for (int threads : counts) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    set_num_threads(threads);
    f();
  }
  set_num_threads(before);
}

}  // namespace cnnkit::test
