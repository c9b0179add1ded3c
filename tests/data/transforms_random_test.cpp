// Random transforms: reproducible from data::example_generator()'s seed, parameters in their
// ranges with the expected frequencies, each result equal to the functional op with the drawn
// parameters; Compose / Lambda / Normalize<> spellings; every argument check.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "cnnkit/data/data.h"
#include "cnnkit/ops/factory.h"
#include "test_util.h"

using namespace cnnkit;
namespace T = cnnkit::data::transforms;
namespace F = cnnkit::data::transforms::functional;
using cnnkit::test::contains;
using cnnkit::test::error_of;

namespace {

Tensor image_u8(int64_t c, int64_t h, int64_t w) {
  Tensor x = cnnkit::empty({c, h, w}, kByte);
  for (int64_t i = 0; i < x.numel(); ++i) x.data_ptr<uint8_t>()[i] = static_cast<uint8_t>((i * 53 + 7) % 256);
  return x;
}
Tensor image_f(int64_t c, int64_t h, int64_t w) { return F::to_tensor(image_u8(c, h, w)); }

bool same(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()) == 0;
}

template <typename Tf>
std::pair<Tensor, Tensor> twice_with_seed(const Tf& t, const Tensor& x, uint64_t seed) {
  data::seed_example_generator(seed);
  Tensor a = t(x);
  data::seed_example_generator(seed);
  return {a, t(x)};
}

}  // namespace

TEST(RandomTransforms, SameSeedSameResultDifferentSeedsDiffer) {
  Tensor x = image_u8(3, 16, 16);
  auto tf = T::Compose({T::RandomResizedCrop(12), T::RandomHorizontalFlip(), T::ColorJitter(0.4, 0.4, 0.4, 0.1),
                        T::RandomRotation(20.0), T::ToTensor(), T::GaussianNoise()});
  auto [a, b] = twice_with_seed(tf, x, 123);
  EXPECT_TRUE(same(a, b));
  EXPECT_EQ(a.sizes(), IntArrayRef({3, 12, 12}));
  int differ = 0;
  for (uint64_t s = 0; s < 5; ++s) {
    data::seed_example_generator(s);
    differ += !same(tf(x), a);
  }
  EXPECT_EQ(differ, 5);
}

TEST(RandomHorizontalFlip, FlipsWithProbabilityP) {
  Tensor x = image_u8(1, 3, 4), flipped = F::hflip(x);
  data::seed_example_generator(7);
  int n = 0;
  T::RandomHorizontalFlip flip(0.3);
  for (int i = 0; i < 4000; ++i) {
    Tensor y = flip(x);
    if (same(y, flipped)) {
      ++n;
    } else {
      ASSERT_TRUE(same(y, x));
    }
  }
  EXPECT_NEAR(n / 4000.0, 0.3, 0.03);  // 4 sigma
  EXPECT_TRUE(same(T::RandomHorizontalFlip(1.0)(x), flipped));
  EXPECT_TRUE(same(T::RandomHorizontalFlip(0.0)(x), x));
  EXPECT_TRUE(same(T::RandomVerticalFlip(1.0)(x), F::vflip(x)));
}

TEST(RandomCrop, PaddedCropVisitsEveryOffsetAndEqualsPadThenCrop) {
  Tensor x = image_u8(1, 28, 28);
  for (std::string mode : {"constant", "edge", "reflect", "symmetric"}) {
    SCOPED_TRACE(mode);
    T::RandomCrop crop(28, 2, false, 5, mode);
    Tensor padded = F::pad(x, 2, 5, mode);
    data::seed_example_generator(3);
    std::set<std::pair<int64_t, int64_t>> offsets;
    for (int i = 0; i < 400; ++i) {
      Tensor y = crop(x);
      ASSERT_EQ(y.sizes(), IntArrayRef({1, 28, 28}));
      bool found = false;
      for (int64_t t = 0; t <= 4 && !found; ++t)
        for (int64_t l = 0; l <= 4 && !found; ++l)
          if (same(y, F::crop(padded, t, l, 28, 28))) {
            offsets.insert({t, l});
            found = true;
          }
      ASSERT_TRUE(found) << "not a crop of the padded image";
    }
    EXPECT_EQ(offsets.size(), 25u);
  }
}

TEST(RandomCrop, PadIfNeededPadsSmallImagesAndOtherwiseFailsWithAShapeError) {
  Tensor x = image_f(3, 5, 6);
  T::RandomCrop crop({8, 9}, std::nullopt, true);
  Tensor y = crop(x);
  EXPECT_EQ(y.sizes(), IntArrayRef({3, 8, 9}));
  std::string msg = error_of([&] { T::RandomCrop({8, 9})(x); });
  EXPECT_TRUE(contains(msg, "larger than the input image size")) << msg;
  EXPECT_THROW(T::RandomCrop({8, 9})(x), ShapeError);
  EXPECT_THROW(T::RandomCrop(4, 6, false, 0, "reflect")(x), ValueError);  // reflect pad >= size
  EXPECT_THROW(T::RandomCrop(4, 1, false, 0, "wrap"), ValueError);
  EXPECT_THROW(T::RandomCrop({1, 2, 3}), ValueError);
  EXPECT_THROW(T::RandomCrop(0), ValueError);
}

TEST(RandomResizedCrop, ParamsStayInsideTheImageAndFallBackToACentralCrop) {
  Generator g(5);
  std::set<int64_t> heights;
  for (int i = 0; i < 500; ++i) {
    auto [top, left, h, w] = T::RandomResizedCrop::get_params(20, 30, {0.08, 1.0}, {3.0 / 4, 4.0 / 3}, g);
    ASSERT_TRUE(h > 0 && w > 0 && top >= 0 && left >= 0 && top + h <= 20 && left + w <= 30);
    double ratio = static_cast<double>(w) / h;
    ASSERT_TRUE(ratio > 0.6 && ratio < 1.5) << ratio;
    heights.insert(h);
  }
  EXPECT_GT(heights.size(), 10u);
  // scale > 1 can never fit: torchvision's fallback (whole image, ratio clamped, centred)
  auto p = T::RandomResizedCrop::get_params(10, 40, {2.0, 3.0}, {0.5, 2.0}, g);
  EXPECT_EQ(p, (std::array<int64_t, 4>{0, 10, 10, 20}));  // w = round(10 * 2)
  p = T::RandomResizedCrop::get_params(12, 10, {2.0, 3.0}, {0.5, 2.0}, g);
  EXPECT_EQ(p, (std::array<int64_t, 4>{0, 0, 12, 10}));
  Tensor y = T::RandomResizedCrop({6, 7})(image_u8(3, 20, 30));
  EXPECT_EQ(y.sizes(), IntArrayRef({3, 6, 7}));
  EXPECT_EQ(y.scalar_type(), kByte);
}

TEST(RandomRotation, AFixedRangeEqualsFunctionalRotateWithFillZero) {
  Tensor x = image_f(3, 9, 9);
  Tensor y = T::RandomRotation({30.0, 30.0})(x);
  EXPECT_TRUE(same(y, F::rotate(x, 30.0, T::InterpolationMode::NEAREST, false, std::nullopt, std::vector<double>{0.0})));
  // angles spread over (-d, d): a 90-degree-symmetric image is unchanged only for tiny angles
  data::seed_example_generator(11);
  T::RandomRotation rot(45.0, T::InterpolationMode::BILINEAR);
  std::set<std::vector<float>> outs;
  for (int i = 0; i < 20; ++i) outs.insert(rot(x).to_vector());
  EXPECT_GT(outs.size(), 15u);
  EXPECT_THROW(T::RandomRotation(-3.0), ValueError);
  EXPECT_THROW(T::RandomRotation(3.0, T::InterpolationMode::NEAREST, true), NotImplementedError);
}

TEST(ColorJitter, BrightnessOnlyEqualsAdjustBrightnessWithAFactorInRange) {
  Tensor x = image_f(3, 4, 5);
  T::ColorJitter jitter(0.5);
  data::seed_example_generator(2);
  for (int i = 0; i < 20; ++i) {
    Tensor y = jitter(x);
    bool found = false;
    // recover the factor from a pixel that is not clipped, then compare everything
    float xv = x.data_ptr<float>()[1], yv = y.data_ptr<float>()[1];
    double f = yv / xv;
    ASSERT_TRUE(f >= 0.5 - 1e-5 && f <= 1.5 + 1e-5) << f;
    found = cnnkit::test::allclose(y, F::adjust_brightness(x, f), 1e-5, 1e-5);
    EXPECT_TRUE(found);
  }
}

TEST(ColorJitter, AllFourOnRgbAndGrayImagesKeepRangeAndShape) {
  T::ColorJitter jitter(0.4, 0.4, 0.4, 0.2);
  for (Tensor x : {image_u8(3, 6, 6), image_f(3, 6, 6), image_u8(1, 6, 6), image_f(1, 6, 6)}) {
    Tensor y = jitter(x);
    EXPECT_EQ(y.sizes(), x.sizes());
    EXPECT_EQ(y.scalar_type(), x.scalar_type());
    if (x.scalar_type() == kFloat) {
      for (float v : y.to_vector()) ASSERT_TRUE(v >= 0.0f && v <= 1.0f) << v;
    }
  }
  EXPECT_TRUE(same(T::ColorJitter()(image_f(3, 2, 2)), image_f(3, 2, 2)));  // all identity ranges
  EXPECT_THROW(T::ColorJitter(-0.1), ValueError);
  EXPECT_THROW(T::ColorJitter(0, 0, 0, 0.6), ValueError);
  EXPECT_THROW(T::ColorJitter({1.5, 0.5}), ValueError);
}

TEST(GaussianNoise, AddsNoiseWithTheRequestedMeanAndSigmaAndClips) {
  Tensor x = cnnkit::empty({1, 100, 100});
  for (int64_t i = 0; i < x.numel(); ++i) x.data_ptr<float>()[i] = 0.5f;
  data::seed_example_generator(9);
  Tensor y = T::GaussianNoise(0.05, 0.1)(x);
  double sum = 0, sq = 0;
  for (float v : y.to_vector()) {
    sum += v - 0.5;
    sq += (v - 0.5) * (v - 0.5);
  }
  double mean = sum / 1e4, sd = std::sqrt(sq / 1e4 - mean * mean);
  EXPECT_NEAR(mean, 0.05, 0.004);
  EXPECT_NEAR(sd, 0.1, 0.004);
  Tensor big = T::GaussianNoise(0.0, 2.0)(x);
  for (float v : big.to_vector()) ASSERT_TRUE(v >= 0.0f && v <= 1.0f);
  Tensor unclipped = T::GaussianNoise(0.0, 2.0, false)(x);
  float mx = 0;
  for (float v : unclipped.to_vector()) mx = std::max(mx, v);
  EXPECT_GT(mx, 1.0f);
  EXPECT_THROW(T::GaussianNoise()(image_u8(1, 2, 2)), TypeError);
  EXPECT_THROW(T::GaussianNoise(0, -1), ValueError);
}

TEST(Compose, AppliesInOrderAndTakesLambdasAndSharedTransforms) {
  Tensor x = image_u8(1, 2, 2);
  auto twice = [](Tensor t) { return t.mul(2.0); };
  std::shared_ptr<const T::Transform> shared = std::make_shared<T::ToTensor>();
  T::Compose c({shared, T::Normalize({0.5}, {0.5}), twice, T::Lambda([](Tensor t) { return t.add(1.0); })});
  Tensor y = c(x);
  float v0 = static_cast<float>(x.data_ptr<uint8_t>()[0]) / 255.0f;
  EXPECT_FLOAT_EQ(y.data_ptr<float>()[0], (v0 - 0.5f) / 0.5f * 2.0f + 1.0f);
  EXPECT_EQ(c.transforms().size(), 4u);
  EXPECT_TRUE(same(c.apply(x), y));
  // LibTorch's spelling: Normalize<>(mean, std) with scalars
  T::Normalize<> n(0.1307, 0.3081);
  EXPECT_EQ(n.mean(), std::vector<double>{0.1307});
  T::Normalize three({0.485, 0.456, 0.406}, {0.229, 0.224, 0.225});
  EXPECT_EQ(three.stddev().size(), 3u);
  EXPECT_THROW(T::Lambda(nullptr), ValueError);
}

TEST(Transforms, BadInputsThrowTypedErrorsNamingTheOp) {
  Tensor u8 = image_u8(3, 4, 4), f = image_f(3, 4, 4);
  EXPECT_THROW(F::normalize(u8, {0.5}, {0.5}), TypeError);
  std::string msg = error_of([&] { F::normalize(f, {0.5, 0.5}, {0.5}); });
  EXPECT_TRUE(contains(msg, "normalize: mean has 2 values")) << msg;
  EXPECT_THROW(F::normalize(f, {0.5}, {0.0}), ValueError);
  EXPECT_THROW(F::hflip(cnnkit::empty({4})), ShapeError);
  EXPECT_THROW(F::hflip(cnnkit::empty({2, 2}, kLong)), TypeError);
  EXPECT_THROW(F::hflip(Tensor()), ValueError);
  EXPECT_THROW(F::pad(u8, {1, 2, 3}), ValueError);
  EXPECT_THROW(F::pad(u8, 4, 0, "reflect"), ValueError);
  EXPECT_NO_THROW(F::pad(u8, 4, 0, "symmetric"));
  EXPECT_THROW(F::pad(u8, 5, 0, "symmetric"), ValueError);
  EXPECT_THROW(F::pad(u8, -1, 0, "edge"), ValueError);
  EXPECT_EQ(F::pad(u8, -1).sizes(), IntArrayRef({3, 2, 2}));  // negative constant padding crops
  EXPECT_THROW(F::crop(u8, 0, 0, 0, 2), ValueError);
  EXPECT_THROW(F::resize(u8, {2, 2}, T::InterpolationMode::BILINEAR, std::nullopt, true), NotImplementedError);
  EXPECT_THROW(F::resize(u8, {2, 2}, T::InterpolationMode::BILINEAR, 5), ValueError);
  EXPECT_THROW(F::resize(u8, 6, T::InterpolationMode::BILINEAR, 5), ValueError);
  EXPECT_THROW(F::resize(u8, {0, 2}), ValueError);
  EXPECT_THROW(F::adjust_hue(f, 0.6), ValueError);
  EXPECT_THROW(F::adjust_brightness(f, -1), ValueError);
  EXPECT_THROW(F::adjust_contrast(image_f(2, 3, 3), 0.5), ShapeError);
  EXPECT_THROW(F::rgb_to_grayscale(f, 2), ValueError);
  EXPECT_THROW(F::rotate(f, 10, T::InterpolationMode::NEAREST, false, std::nullopt, std::vector<double>{1, 2}),
               ValueError);
  EXPECT_THROW(F::to_tensor(cnnkit::empty({2}, kLong)), TypeError);
}

TEST(Transforms, ResizeSmallerEdgeKeepsAspectAndMaxSizeCaps) {
  Tensor x = image_u8(1, 10, 20);
  EXPECT_EQ(F::resize(x, 5).sizes(), IntArrayRef({1, 5, 10}));
  EXPECT_EQ(F::resize(x, 6, T::InterpolationMode::BILINEAR, 8).sizes(), IntArrayRef({1, 4, 8}));
  EXPECT_EQ(T::Resize({3, 4})(x).sizes(), IntArrayRef({1, 3, 4}));
  EXPECT_TRUE(same(F::resize(x, 10), x));  // already that size: an equal copy
  EXPECT_EQ(T::CenterCrop(4)(x).sizes(), IntArrayRef({1, 4, 4}));
  EXPECT_EQ(T::Grayscale(3)(image_u8(3, 2, 2)).sizes(), IntArrayRef({3, 2, 2}));
}

TEST(Transforms, ImagesWithALeadingBatchAreTransformedPerImage) {
  Tensor one = image_f(3, 5, 6);
  Tensor two = cnnkit::empty({2, 3, 5, 6});
  std::memcpy(two.data_ptr(), one.data_ptr(), one.nbytes());
  std::memcpy(two.data_ptr<float>() + one.numel(), one.data_ptr(), one.nbytes());
  Tensor y = F::adjust_contrast(two, 0.5), r = F::rotate(two, 20.0);
  Tensor y1 = F::adjust_contrast(one, 0.5), r1 = F::rotate(one, 20.0);
  EXPECT_EQ(std::memcmp(y.data_ptr<float>() + one.numel(), y1.data_ptr(), one.nbytes()), 0);
  EXPECT_EQ(std::memcmp(r.data_ptr<float>() + one.numel(), r1.data_ptr(), one.nbytes()), 0);
}

// ---- RandomErasing (torchvision) ----------------------------------------------------------

TEST(Erase, SetsTheRectangleInEveryChannelAndCopies) {
  const Tensor x = image_f(3, 6, 7);
  Tensor v = cnnkit::empty({3, 1, 1});
  for (int c = 0; c < 3; ++c) v.data_ptr<float>()[c] = -1.0f - static_cast<float>(c);
  const Tensor y = F::erase(x, 1, 2, 3, 4, v);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t r = 0; r < 6; ++r)
      for (int64_t q = 0; q < 7; ++q) {
        const bool inside = r >= 1 && r < 4 && q >= 2 && q < 6;
        const float want = inside ? -1.0f - static_cast<float>(c) : x[c][r][q].item<float>();
        ASSERT_EQ(y[c][r][q].item<float>(), want) << c << " " << r << " " << q;
      }
  EXPECT_NE(x[0][1][2].item<float>(), -1.0f);  // the input is left alone
  const Tensor u = F::erase(image_u8(1, 4, 4), 0, 0, 2, 2, cnnkit::full({1}, 7.0));  // uint8 too
  EXPECT_EQ(u[0][1][1].item<int64_t>(), 7);
  EXPECT_TRUE(contains(error_of([&] { F::erase(x, 4, 0, 3, 2, v); }), "does not lie inside the 6x7 image"));
}

TEST(RandomErasing, RectanglesFollowTorchvisionsSampler) {
  // get_params: area fraction uniform in scale, h / w log-uniform in ratio, h < H and w < W,
  // top-left uniform over the positions that fit; nullopt after ten misses.
  Generator g(11);
  const int n = 20000;
  double area_sum = 0, log_ratio_sum = 0;
  int fits = 0;
  for (int k = 0; k < n; ++k) {
    const auto box = T::RandomErasing::get_params(28, 28, {0.02, 0.33}, {0.3, 3.3}, g);
    ASSERT_TRUE(box.has_value());  // on 28x28 a miss is rare enough that ten in a row never happen
    const auto [i, j, h, w] = *box;
    ASSERT_TRUE(h >= 1 && h < 28 && w >= 1 && w < 28 && i >= 0 && j >= 0 && i + h <= 28 && j + w <= 28);
    area_sum += static_cast<double>(h * w) / (28.0 * 28.0);
    log_ratio_sum += std::log(static_cast<double>(h) / static_cast<double>(w));
    ++fits;
  }
  // torchvision 0.14's own get_params, 20,000 draws on a 28x28 image (python3-torchvision):
  // mean area fraction 0.1740 (sd 0.0887, so a standard error of 0.0006), mean log(h / w)
  // -0.007. Rounding and the rejection of boxes that do not fit move both off the untrimmed
  // 0.175 and log-ratio centre, the same way here.
  const double mean_area = area_sum / fits;
  RecordProperty("mean_area", std::to_string(mean_area));
  EXPECT_NEAR(mean_area, 0.1740, 0.003);
  EXPECT_NEAR(log_ratio_sum / fits, -0.007, 0.03);
  // A box that can never fit: a 1-pixel-high image.
  EXPECT_FALSE(T::RandomErasing::get_params(1, 28, {0.02, 0.33}, {0.3, 3.3}, g).has_value());
}

TEST(RandomErasing, ErasesWithProbabilityPWithTheGivenValues) {
  const Tensor x = cnnkit::full({3, 20, 20}, 5.0);
  auto erased_count = [&](const T::RandomErasing& t, std::vector<float>* seen) {
    int erased = 0;
    data::seed_example_generator(21);
    for (int k = 0; k < 2000; ++k) {
      const Tensor y = t(x);
      bool any = false;
      for (float v : y.to_vector())
        if (v != 5.0f) {
          any = true;
          if (seen && seen->size() < 200000) seen->push_back(v);
        }
      erased += any;
    }
    return erased;
  };
  EXPECT_NEAR(erased_count(T::RandomErasing(0.3), nullptr), 600, 75);
  EXPECT_EQ(erased_count(T::RandomErasing(0.0), nullptr), 0);
  std::vector<float> per_channel;
  erased_count(T::RandomErasing(1.0, {0.02, 0.33}, {0.3, 3.3}, {1.0, 2.0, 3.0}), &per_channel);
  for (float v : per_channel) ASSERT_TRUE(v == 1.0f || v == 2.0f || v == 3.0f);
  std::vector<float> noise;
  erased_count(T::RandomErasing(1.0, {0.02, 0.33}, {0.3, 3.3}, "random"), &noise);
  double sum = 0, sq = 0;
  for (float v : noise) {
    sum += v;
    sq += static_cast<double>(v) * v;
  }
  const double mean = sum / static_cast<double>(noise.size());
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(sq / static_cast<double>(noise.size()) - mean * mean), 1.0, 0.02);
  auto [a, b] = twice_with_seed(T::RandomErasing(1.0, {0.02, 0.33}, {0.3, 3.3}, "random"), x, 5);
  EXPECT_TRUE(same(a, b));  // reproducible from the example generator's seed
}

TEST(RandomErasing, ArgumentErrorsAsTorchvision) {
  EXPECT_TRUE(contains(error_of([] { T::RandomErasing(1.5); }), "probability should be between 0 and 1"));
  EXPECT_TRUE(contains(error_of([] { T::RandomErasing(0.5, {0.2, 1.5}); }), "scale should be (min, max) between 0 and 1"));
  EXPECT_TRUE(contains(error_of([] { T::RandomErasing(0.5, {0.02, 0.33}, {0.0, 3.3}); }), "ratio should be"));
  EXPECT_TRUE(contains(error_of([] { T::RandomErasing(0.5, {0.02, 0.33}, {0.3, 3.3}, "noise"); }),
                       "if value is str, it should be 'random'"));
  const T::RandomErasing two(1.0, {0.02, 0.33}, {0.3, 3.3}, {1.0, 2.0});
  EXPECT_TRUE(contains(error_of([&] { two(cnnkit::zeros({3, 8, 8})); }),
                       "should have either a single value or 3 (number of input channels), got 2"));
}

TEST(GaussianBlurTransform, DrawsSigmaUniformlyInRangeAndBlursWithIt) {
  // sigma ~ U(0.5, 1.5) per image: the blurred centre of a unit impulse is the 2-D kernel's
  // peak, 1 / (sum of the 1-D pdf)^2, which decreases with sigma; inverting it recovers sigma.
  T::GaussianBlur blur(5, {0.5, 1.5});
  Tensor impulse = cnnkit::zeros({1, 9, 9});
  impulse.data_ptr<float>()[4 * 9 + 4] = 1.0f;
  auto peak = [](double s) {
    double sum = 0;
    for (int x = -2; x <= 2; ++x) sum += std::exp(-0.5 * (x / s) * (x / s));
    return 1.0 / (sum * sum);
  };
  double mean = 0;
  const int n = 400;
  for (int i = 0; i < n; ++i) {
    data::seed_example_generator(static_cast<uint64_t>(i));
    const float centre = blur(impulse).data_ptr<float>()[4 * 9 + 4];
    double lo = 0.5, hi = 1.5;  // bisect peak(s) = centre
    for (int it = 0; it < 60; ++it) {
      const double mid = (lo + hi) / 2;
      (peak(mid) > centre ? lo : hi) = mid;
    }
    const double s = (lo + hi) / 2;
    ASSERT_GE(s, 0.5 - 1e-4);
    ASSERT_LE(s, 1.5 + 1e-4);
    mean += s / n;
  }
  EXPECT_NEAR(mean, 1.0, 0.03) << "U(0.5, 1.5) has mean 1 (standard error ~0.014)";
  EXPECT_THROW(T::GaussianBlur(4), ValueError);
  EXPECT_THROW(T::GaussianBlur(3, {2.0, 1.0}), ValueError);
  EXPECT_THROW(T::functional::gaussian_blur(cnnkit::zeros({1, 2, 9}), {5, 5}, {1.0, 1.0}), ValueError);
}
