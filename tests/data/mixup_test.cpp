// data::Mixup's draws and mixes: each mode's images and soft targets equal the deterministic
// pieces (mixup_images, cutmix_images, mixup_target) applied with the lambda and box that a
// generator of the same seed yields; timm's boxes on hand-checked cases; the Beta sampler's
// moments; the switch and mixing probabilities; and errors that name the argument.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "cnnkit/cnnkit.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::contains;
using cnnkit::test::message_of;

namespace {

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

struct Batch {
  Batch() {
    manual_seed(5);
    x = randn({6, 2, 8, 10});
    y = tensor(std::vector<int64_t>{0, 3, 1, 4, 2, 3});
  }
  Tensor x, y;
};

}  // namespace

TEST(Mixup, BatchModeBlendsWithTheLambdaTheGeneratorDraws) {
  const Batch b;
  data::Mixup mix(data::MixupOptions().mixup_alpha(0.4).label_smoothing(0.1));
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Generator g(seed), ref(seed);
    auto [x, y] = mix(b.x, b.y, 5, &g);
    ASSERT_LT(ref.uniform_double(), 1.0);  // prob 1: always mixes
    const double lam = data::sample_beta(ref, 0.4, 0.4);
    EXPECT_TRUE(bit_equal(x, data::mixup_images(b.x, lam))) << seed;
    EXPECT_TRUE(bit_equal(y, data::mixup_target(b.y, 5, lam, 0.1))) << seed;
    // Each row is a distribution over the classes.
    for (int64_t i = 0; i < 6; ++i) EXPECT_NEAR(y[i].sum().item<double>(), 1.0, 1e-6);
  }
  EXPECT_FALSE(bit_equal(b.x, mix(b.x, b.y, 5).first)) << "the input is not written";
}

TEST(Mixup, CutmixPastesTheBoxAndCorrectsLambdaToItsArea) {
  const Batch b;
  data::Mixup mix(data::MixupOptions().mixup_alpha(0).cutmix_alpha(1.0).label_smoothing(0));
  int pasted = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Generator g(seed), ref(seed);
    auto [x, y] = mix(b.x, b.y, 5, &g);
    ref.uniform_double();
    const double lam = data::sample_beta(ref, 1.0, 1.0);
    auto [box, corrected] = data::cutmix_bbox_and_lam(8, 10, lam, std::nullopt, true, ref);
    const int64_t area = (box[1] - box[0]) * (box[3] - box[2]);
    EXPECT_DOUBLE_EQ(corrected, 1.0 - static_cast<double>(area) / 80.0);
    EXPECT_TRUE(bit_equal(x, data::cutmix_images(b.x, box))) << seed;
    EXPECT_TRUE(bit_equal(y, data::mixup_target(b.y, 5, corrected, 0.0))) << seed;
    pasted += area > 0;
  }
  EXPECT_GT(pasted, 10);
}

TEST(Mixup, TimmBoxesOnHandCheckedCases) {
  // lam 0.75: side ratio sqrt(0.25) = 0.5, so cut 14 x 14 on 28 x 28, half-sides 7 about a
  // uniform centre, clipped to the image.
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Generator g(seed), ref(seed);
    const int64_t cy = ref.randint(0, 28), cx = ref.randint(0, 28);
    auto [box, lam] = data::cutmix_bbox_and_lam(28, 28, 0.75, std::nullopt, true, g);
    const data::CutmixBox want{std::max<int64_t>(cy - 7, 0), std::min<int64_t>(cy + 7, 28),
                               std::max<int64_t>(cx - 7, 0), std::min<int64_t>(cx + 7, 28)};
    EXPECT_EQ(box, want) << seed;
    EXPECT_DOUBLE_EQ(lam, 1.0 - static_cast<double>((want[1] - want[0]) * (want[3] - want[2])) / 784.0);
  }
  // Odd cuts: int(9 * sqrt(0.5)) = 6, half-side 3 on each side (timm's cut // 2).
  Generator g(7), ref(7);
  const int64_t cy = ref.randint(0, 9), cx = ref.randint(0, 13);
  auto [box, lam] = data::cutmix_bbox_and_lam(9, 13, 0.5, std::nullopt, false, g);
  EXPECT_EQ(box, (data::CutmixBox{std::max<int64_t>(cy - 3, 0), std::min<int64_t>(cy + 3, 9),
                                  std::max<int64_t>(cx - 4, 0), std::min<int64_t>(cx + 4, 13)}));
  EXPECT_EQ(lam, 0.5) << "correct_lam false keeps the drawn lambda";
  // ratio_minmax: sides uniform in [int(h min), int(h max)), corner uniform so the box fits.
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Generator gm(seed);
    auto [b2, l2] = data::cutmix_bbox_and_lam(20, 30, 0.9, std::make_pair(0.2, 0.8), false, gm);
    const int64_t bh = b2[1] - b2[0], bw = b2[3] - b2[2];
    EXPECT_TRUE(bh >= 4 && bh < 16 && bw >= 6 && bw < 24) << bh << "x" << bw;
    EXPECT_TRUE(b2[0] >= 0 && b2[1] <= 20 && b2[2] >= 0 && b2[3] <= 30);
    EXPECT_DOUBLE_EQ(l2, 1.0 - static_cast<double>(bh * bw) / 600.0) << "minmax always corrects lambda";
  }
}

TEST(Mixup, ElemAndPairModesMixEachExampleWithItsMirror) {
  const Batch b;
  for (const std::string mode : {"elem", "pair"}) {
    data::Mixup mix(data::MixupOptions().mixup_alpha(1.0).mode(mode).label_smoothing(0));
    Generator g(3), ref(3);
    auto [x, y] = mix(b.x, b.y, 5, &g);
    const int64_t draws = mode == "pair" ? 3 : 6;
    std::vector<float> lam(6, 1.0f);
    for (int64_t i = 0; i < draws; ++i) {
      ref.uniform_double();
      lam[static_cast<size_t>(i)] = static_cast<float>(data::sample_beta(ref, 1.0, 1.0));
      if (mode == "pair") lam[static_cast<size_t>(5 - i)] = lam[static_cast<size_t>(i)];
    }
    for (int64_t i = 0; i < 6; ++i) {
      const float l = lam[static_cast<size_t>(i)];
      Tensor want = b.x[i] * l + b.x[5 - i] * (1.0f - l);
      EXPECT_TRUE(bit_equal(x[i], want)) << mode << " example " << i;
    }
    Tensor lam_t = tensor(lam).view({6, 1});
    EXPECT_TRUE(bit_equal(y, data::mixup_target(b.y, 5, lam_t, 0.0))) << mode;
  }
  data::Mixup pair(data::MixupOptions().mode("pair"));
  const std::string odd = message_of([&] { pair(b.x.narrow(0, 0, 5), b.y.narrow(0, 0, 5), 5); });
  EXPECT_TRUE(contains(odd, "even batch")) << odd;
}

TEST(Mixup, SwitchAndMixingProbabilitiesHoldOverManyBatches) {
  const Batch b;
  data::Mixup mix(data::MixupOptions().mixup_alpha(0.5).cutmix_alpha(1.0).prob(0.6).switch_prob(0.3).label_smoothing(0));
  Generator g(11);
  int unmixed = 0, cut = 0, blended = 0;
  const int trials = 4000;
  for (int t = 0; t < trials; ++t) {
    auto [x, y] = mix(b.x, b.y, 5, &g);
    if (bit_equal(x, b.x)) {
      ++unmixed;
      continue;
    }
    // Every pixel of a cutmix batch is exactly its own or its partner's; a blend's are
    // neither (the partner differs everywhere).
    const int64_t own = x[0].eq(b.x[0]).sum().item<int64_t>(), other = x[0].eq(b.x[5]).sum().item<int64_t>();
    (own + other == x[0].numel() ? cut : blended) += 1;
  }
  // prob 0.6 of mixing, switch 0.3 of cutmix among those (4-sigma bounds).
  EXPECT_NEAR(unmixed / double(trials), 0.4, 4 * std::sqrt(0.24 / trials));
  EXPECT_NEAR(cut / double(cut + blended), 0.3, 4 * std::sqrt(0.21 / (cut + blended)) + 0.01);
}

TEST(Mixup, BetaSamplerHasTheRightMoments) {
  for (auto [a, bb] : std::vector<std::pair<double, double>>{{0.2, 0.2}, {1.0, 1.0}, {2.0, 5.0}, {0.4, 0.4}}) {
    Generator g(1);
    const int n = 40000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; ++i) {
      const double v = data::sample_beta(g, a, bb);
      ASSERT_TRUE(v >= 0 && v <= 1) << v;
      s += v;
      s2 += v * v;
    }
    const double mean = s / n, var = s2 / n - mean * mean;
    const double want_mean = a / (a + bb), want_var = a * bb / ((a + bb) * (a + bb) * (a + bb + 1));
    EXPECT_NEAR(mean, want_mean, 5 * std::sqrt(want_var / n)) << a << "," << bb;
    EXPECT_NEAR(var, want_var, 0.05 * want_var) << a << "," << bb;
  }
}

TEST(Mixup, ProbabilityZeroLeavesImagesAndGivesSmoothedOneHots) {
  const Batch b;
  data::Mixup mix(data::MixupOptions().prob(0.0).label_smoothing(0.2));
  auto [x, y] = mix(b.x, b.y, 5);
  EXPECT_TRUE(bit_equal(x, b.x));
  EXPECT_FLOAT_EQ(y[1][3].item<float>(), 0.8f + 0.04f);
  EXPECT_FLOAT_EQ(y[1][0].item<float>(), 0.04f);
}

TEST(Mixup, BadArgumentsAndInputsAreNamed) {
  const Batch b;
  EXPECT_TRUE(contains(message_of([] { data::Mixup(data::MixupOptions().mixup_alpha(0)); }), "nothing to mix"));
  EXPECT_TRUE(contains(message_of([] { data::Mixup(data::MixupOptions().mixup_alpha(-1)); }), "mixup_alpha"));
  EXPECT_TRUE(contains(message_of([] { data::Mixup(data::MixupOptions().prob(1.5)); }), "prob"));
  EXPECT_TRUE(contains(message_of([] { data::Mixup(data::MixupOptions().mode("row")); }), "mode"));
  EXPECT_TRUE(contains(message_of([] { data::Mixup(data::MixupOptions().cutmix_minmax(std::make_pair(0.5, 0.2))); }),
                       "cutmix_minmax"));
  data::Mixup mix;
  EXPECT_TRUE(contains(message_of([&] { mix(b.x, b.y); }), "number of classes"));
  EXPECT_TRUE(contains(message_of([&] { mix(b.x, b.y, 4); }), "label 4 of example 3"));
  EXPECT_TRUE(contains(message_of([&] { mix(b.x, b.y.to(kFloat), 5); }), "int64 class indices"));
  EXPECT_TRUE(contains(message_of([&] { mix(b.x.narrow(0, 0, 4), b.y, 5); }), "batch size"));
  EXPECT_TRUE(contains(message_of([&] { mix(b.x.to(kByte), b.y, 5); }), "float32"));
  data::Mixup cut(data::MixupOptions().mixup_alpha(0).cutmix_alpha(1.0));
  EXPECT_TRUE(contains(message_of([&] { cut(b.x.view({6, 160}), b.y, 5); }), "cutmix needs images"));
}
