// torchvision 0.14's geometric and AutoAugment-family transforms: RandomAffine,
// RandomPerspective, RandAugment, TrivialAugmentWide, AutoAugment. torch's RNG stream cannot be
// matched, so each transform is replayed: the same seed and torchvision's order of draws give
// the parameters, and the output must equal the functional op with them; over many seeds the
// replayed parameters stay in torchvision's ranges, cover them, and ops and bins come out
// uniform (chi-square below the 0.1% point, fixed seeds). The functional ops' numbers are
// tests/golden/transforms_test.cpp's; their argument errors are here.
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
using T::InterpolationMode;

namespace {

Tensor image_u8(int64_t c, int64_t h, int64_t w) {
  Tensor x = cnnkit::empty({c, h, w}, kByte);
  for (int64_t i = 0; i < x.numel(); ++i) x.data_ptr<uint8_t>()[i] = static_cast<uint8_t>((i * 53 + 7) % 256);
  return x;
}

bool same(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()) == 0;
}

// sum (observed - expected)^2 / expected over equally likely categories
double chi_square(const std::vector<int>& counts) {
  double n = 0;
  for (int c : counts) n += c;
  const double e = n / static_cast<double>(counts.size());
  double chi = 0;
  for (int c : counts) chi += (c - e) * (c - e) / e;
  return chi;
}

// The 0.1% points of chi-square with k - 1 degrees of freedom, for the k used here.
double chi_square_limit(size_t k) {
  switch (k) {
    case 2: return 10.83;
    case 14: return 34.53;   // 13 dof
    case 25: return 51.18;   // 24 dof
    case 31: return 59.70;   // 30 dof
    case 9: return 26.12;    // 8 dof
    default: return 1e9;
  }
}

}  // namespace

// ---- functional ------------------------------------------------------------------------------

TEST(Affine, RotateIsAffineWithTheOppositeAngleAndIdentityCopies) {
  const Tensor x = image_u8(3, 9, 13);
  for (double a : {17.0, -90.0, 33.3})
    for (auto m : {InterpolationMode::NEAREST, InterpolationMode::BILINEAR})
      EXPECT_TRUE(same(F::rotate(x, a, m), F::affine(x, -a, {0, 0}, 1.0, {0, 0}, m))) << a;
  EXPECT_TRUE(same(F::affine(x, 0.0, {0, 0}, 1.0, {0, 0}), x));
  // an integer translation moves the pixels and fills with zeros (or fill)
  const Tensor y = F::affine(x, 0.0, {2, 1}, 1.0, {0, 0}, InterpolationMode::NEAREST, std::vector<double>{9});
  EXPECT_EQ(y.data_ptr<uint8_t>()[0], 9);
  EXPECT_EQ(y.data_ptr<uint8_t>()[1 * 13 + 2], x.data_ptr<uint8_t>()[0]);
}

TEST(Functional, AugmentationOpsThrowTorchvisionsErrorsNamingTheArgument) {
  const Tensor u8 = image_u8(3, 6, 7), f = F::to_tensor(u8);
  auto type_error = [](auto fn) {
    try {
      fn();
    } catch (const TypeError& e) {
      return std::string(e.what());
    } catch (...) {
      return std::string("other exception");
    }
    return std::string("no exception");
  };
  EXPECT_TRUE(contains(type_error([&] { F::posterize(f, 4); }), "Only torch.uint8"));
  EXPECT_TRUE(contains(type_error([&] { F::equalize(f); }), "Only torch.uint8"));
  EXPECT_TRUE(contains(type_error([&] { F::equalize(u8.reshape({1, 1, 3, 6, 7})); }), "3 or 4 dimensions"));
  EXPECT_TRUE(contains(type_error([&] { F::solarize(f, 2.0); }), "Threshold"));
  EXPECT_TRUE(contains(type_error([&] { F::invert(u8.select(0, 0)); }), "at least 3 dimensions"));
  EXPECT_TRUE(contains(type_error([&] { F::autocontrast(image_u8(2, 4, 4)); }), "[1, 3]"));
  EXPECT_TRUE(contains(error_of([&] { F::posterize(u8, 9); }), "between 0 and 8. Got 9"));
  EXPECT_TRUE(contains(error_of([&] { F::adjust_sharpness(u8, -1.0); }), "sharpness_factor (-1)"));
  EXPECT_TRUE(contains(error_of([&] { F::affine(u8, 0, {0, 0}, 0.0, {0, 0}); }), "scale"));
  EXPECT_TRUE(contains(error_of([&] { F::affine(u8, 0, {0, 0}, 1.0, {0, 0}, InterpolationMode::NEAREST,
                                                std::vector<double>{1, 2}); }),
                       "'fill'"));
  EXPECT_TRUE(contains(error_of([&] { F::perspective(u8, {{0, 0}, {6, 0}, {6, 5}}, {{0, 0}, {6, 0}, {6, 5}}); }),
                       "four"));
  EXPECT_TRUE(contains(error_of([&] {
                         F::perspective(u8, {{0, 0}, {6, 0}, {6, 5}, {0, 5}}, {{0, 0}, {0, 0}, {0, 0}, {0, 0}});
                       }),
                       "degenerate"));
  EXPECT_TRUE(contains(error_of([&] { F::apply_op(u8, "Blur", 1.0); }), "Blur is not recognized"));
  // what torchvision supports on float32 works on float32
  EXPECT_NO_THROW(F::solarize(f, 0.5));
  EXPECT_NO_THROW(F::autocontrast(f));
  EXPECT_NO_THROW(F::adjust_sharpness(f, 2.0));
  EXPECT_NO_THROW(F::invert(f));
  // tiny images: sharpness leaves them as they are, as torchvision
  EXPECT_TRUE(same(F::adjust_sharpness(image_u8(1, 2, 5), 3.0), image_u8(1, 2, 5)));
}

TEST(TorchLinspace, EndpointsExactAndMonotone) {
  for (int64_t n : {2, 7, 10, 31, 51}) {
    const auto v = T::torch_linspace(0.0, 0.99, n);
    ASSERT_EQ(v.size(), static_cast<size_t>(n));
    EXPECT_EQ(v.front(), 0.0f);
    EXPECT_EQ(v.back(), 0.99f);
    for (size_t i = 1; i < v.size(); ++i) EXPECT_GT(v[i], v[i - 1]);
  }
  EXPECT_EQ(T::torch_linspace(3.0, 5.0, 1), std::vector<float>({3.0f}));
}

// ---- RandomAffine ----------------------------------------------------------------------------

TEST(RandomAffine, ParamsStayInTorchvisionsRangesAndCoverThem) {
  data::seed_example_generator(7);
  Generator& g = data::example_generator();
  std::set<double> tx, ty;
  double amin = 1e9, amax = -1e9, smin = 1e9, smax = -1e9, sxmin = 1e9, sxmax = -1e9, symin = 1e9, symax = -1e9;
  for (int i = 0; i < 4000; ++i) {
    // img_size (width 40, height 20): |tx| <= 0.1 * 40, |ty| <= 0.3 * 20, rounded to integers
    const auto p = T::RandomAffine::get_params({-20.0, 30.0}, std::make_pair(0.1, 0.3), std::make_pair(0.8, 1.2),
                                               {-5.0, 5.0, 10.0, 15.0}, {40, 20}, g);
    amin = std::min(amin, p.angle);
    amax = std::max(amax, p.angle);
    smin = std::min(smin, p.scale);
    smax = std::max(smax, p.scale);
    sxmin = std::min(sxmin, p.shear[0]);
    sxmax = std::max(sxmax, p.shear[0]);
    symin = std::min(symin, p.shear[1]);
    symax = std::max(symax, p.shear[1]);
    EXPECT_EQ(p.translate[0], std::round(p.translate[0]));
    tx.insert(p.translate[0]);
    ty.insert(p.translate[1]);
  }
  EXPECT_GE(amin, -20.0);
  EXPECT_LT(amax, 30.0);
  EXPECT_LT(amin, -19.5);
  EXPECT_GT(amax, 29.5);
  EXPECT_GE(smin, 0.8);
  EXPECT_LE(smax, 1.2);
  EXPECT_LT(smin, 0.81);
  EXPECT_GT(smax, 1.19);
  EXPECT_GE(sxmin, -5.0);
  EXPECT_LE(sxmax, 5.0);
  EXPECT_GE(symin, 10.0);
  EXPECT_LE(symax, 15.0);
  EXPECT_GT(symax - symin, 4.9);
  EXPECT_EQ(tx, (std::set<double>{-4, -3, -2, -1, 0, 1, 2, 3, 4}));
  EXPECT_EQ(ty, (std::set<double>{-6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6}));
  // no translate / scale / shear: (0, 0), 1, (0, 0); a single shear number is an x-shear only
  const auto p = T::RandomAffine::get_params({0.0, 0.0}, std::nullopt, std::nullopt, {}, {40, 20}, g);
  EXPECT_EQ(p.angle, 0.0);
  EXPECT_EQ(p.translate, (std::array<double, 2>{0, 0}));
  EXPECT_EQ(p.scale, 1.0);
  EXPECT_EQ(p.shear, (std::array<double, 2>{0, 0}));
}

TEST(RandomAffine, EqualsFunctionalAffineWithTheReplayedParams) {
  const Tensor x = image_u8(3, 12, 16);
  const T::RandomAffine t(25.0, std::make_pair(0.2, 0.1), std::make_pair(0.7, 1.3), T::DoubleList{10.0},
                          InterpolationMode::BILINEAR, {5.0, 6.0, 7.0}, std::vector<double>{2.0, 3.0});
  for (uint64_t seed = 0; seed < 30; ++seed) {
    data::seed_example_generator(seed);
    const Tensor got = t(x);
    data::seed_example_generator(seed);
    const auto p = T::RandomAffine::get_params({-25.0, 25.0}, std::make_pair(0.2, 0.1), std::make_pair(0.7, 1.3),
                                               {-10.0, 10.0}, {16, 12}, data::example_generator());
    EXPECT_EQ(p.shear[1], 0.0);
    const Tensor want = F::affine(x, p.angle, p.translate, p.scale, p.shear, InterpolationMode::BILINEAR,
                                  std::vector<double>{5, 6, 7}, std::vector<double>{2, 3});
    EXPECT_TRUE(same(got, want)) << seed;
  }
  // fill defaults to 0, through the mask as torchvision's fill=[0.0] * channels
  const T::RandomAffine plain(30.0);
  data::seed_example_generator(3);
  const Tensor got = plain(x);
  data::seed_example_generator(3);
  const auto p = T::RandomAffine::get_params({-30.0, 30.0}, std::nullopt, std::nullopt, {}, {16, 12},
                                             data::example_generator());
  EXPECT_TRUE(same(got, F::affine(x, p.angle, {0, 0}, 1.0, {0, 0}, InterpolationMode::NEAREST, std::vector<double>{0})));
}

TEST(RandomAffine, ArgumentErrorsNameTheArgument) {
  EXPECT_TRUE(contains(error_of([] { T::RandomAffine(-1.0); }), "degrees is a single number, it must be positive"));
  EXPECT_TRUE(contains(error_of([] { T::RandomAffine(1.0, std::make_pair(1.5, 0.0)); }), "translate (1.5, 0)"));
  EXPECT_TRUE(contains(error_of([] { T::RandomAffine(1.0, std::nullopt, std::make_pair(0.0, 1.0)); }), "scale (0, 1)"));
  EXPECT_TRUE(contains(error_of([] { T::RandomAffine(1.0, std::nullopt, std::nullopt, T::DoubleList{1.0, 2.0, 3.0}); }),
                       "shear should be a number or a sequence of length 2 or 4"));
  EXPECT_TRUE(contains(error_of([] {
                         T::RandomAffine(1.0, std::nullopt, std::nullopt, std::nullopt, InterpolationMode::NEAREST, 0.0,
                                         std::vector<double>{1.0});
                       }),
                       "center"));
}

// ---- RandomPerspective -----------------------------------------------------------------------

TEST(RandomPerspective, CornersMoveInwardWithinTheDistortionAndCoverIt) {
  data::seed_example_generator(11);
  Generator& g = data::example_generator();
  // width 21, height 10, distortion 0.6: dx = int(0.6 * 10) = 6, dy = int(0.6 * 5) = 3
  std::map<int, std::set<double>> seen;
  for (int i = 0; i < 2000; ++i) {
    const auto [start, end] = T::RandomPerspective::get_params(21, 10, 0.6, g);
    ASSERT_EQ(start, (std::vector<std::array<double, 2>>{{0, 0}, {20, 0}, {20, 9}, {0, 9}}));
    ASSERT_EQ(end.size(), 4u);
    for (int k = 0; k < 4; ++k) {
      seen[2 * k].insert(end[static_cast<size_t>(k)][0]);
      seen[2 * k + 1].insert(end[static_cast<size_t>(k)][1]);
    }
  }
  const std::set<double> left = {0, 1, 2, 3, 4, 5, 6}, right = {14, 15, 16, 17, 18, 19, 20};
  const std::set<double> top = {0, 1, 2, 3}, bottom = {6, 7, 8, 9};
  EXPECT_EQ(seen[0], left);
  EXPECT_EQ(seen[1], top);
  EXPECT_EQ(seen[2], right);
  EXPECT_EQ(seen[3], top);
  EXPECT_EQ(seen[4], right);
  EXPECT_EQ(seen[5], bottom);
  EXPECT_EQ(seen[6], left);
  EXPECT_EQ(seen[7], bottom);
  // distortion 0: the corners stay
  const auto [s0, e0] = T::RandomPerspective::get_params(21, 10, 0.0, g);
  EXPECT_EQ(s0, e0);
}

TEST(RandomPerspective, AppliesWithProbabilityPAndEqualsFunctionalPerspective) {
  const Tensor x = image_u8(3, 10, 12);
  const T::RandomPerspective t(0.5, 0.3, InterpolationMode::NEAREST, 4.0);
  int applied = 0;
  const int n = 2000;
  for (uint64_t seed = 0; seed < static_cast<uint64_t>(n); ++seed) {
    data::seed_example_generator(seed);
    const Tensor got = t(x);
    data::seed_example_generator(seed);
    Generator& g = data::example_generator();
    if (!(g.uniform_double() < 0.3)) {
      EXPECT_TRUE(same(got, x));
      continue;
    }
    ++applied;
    if (seed < 100) {
      const auto [s, e] = T::RandomPerspective::get_params(12, 10, 0.5, g);
      EXPECT_TRUE(same(got, F::perspective(x, s, e, InterpolationMode::NEAREST, std::vector<double>{4.0}))) << seed;
    }
  }
  EXPECT_NEAR(applied / static_cast<double>(n), 0.3, 0.035);
  EXPECT_TRUE(contains(error_of([] { T::RandomPerspective(1.5); }), "distortion_scale should be between 0 and 1, got 1.5"));
  EXPECT_TRUE(contains(error_of([] { T::RandomPerspective(0.5, -0.1); }), "p must be in [0, 1]"));
}

// ---- the AutoAugment family ------------------------------------------------------------------

TEST(AugmentationSpace, OpsInTorchvisionsOrderWithTheirSigns) {
  auto names = [](const std::vector<T::AugmentationOp>& s) {
    std::vector<std::string> out;
    for (const auto& o : s) out.push_back(o.name);
    return out;
  };
  const std::vector<std::string> rand = {"Identity", "ShearX",    "ShearY",     "TranslateX", "TranslateY",
                                         "Rotate",   "Brightness", "Color",     "Contrast",   "Sharpness",
                                         "Posterize", "Solarize",  "AutoContrast", "Equalize"};
  EXPECT_EQ(names(T::RandAugment::augmentation_space(31, {32, 32})), rand);
  EXPECT_EQ(names(T::TrivialAugmentWide::augmentation_space(31)), rand);
  std::vector<std::string> autoaug(rand.begin() + 1, rand.end());
  autoaug.push_back("Invert");
  EXPECT_EQ(names(T::AutoAugment::augmentation_space(10, {32, 32})), autoaug);
  for (const auto& o : T::RandAugment::augmentation_space(31, {32, 32})) {
    const bool geometric_or_factor = o.name != "Identity" && o.name != "Posterize" && o.name != "Solarize" &&
                                     o.name != "AutoContrast" && o.name != "Equalize";
    EXPECT_EQ(o.is_signed, geometric_or_factor) << o.name;
    EXPECT_EQ(o.magnitudes.empty(), o.name == "Identity" || o.name == "AutoContrast" || o.name == "Equalize")
        << o.name;
  }
  // RandAugment's translations: up to 150/331 of the size (x: width, y: height)
  const auto s = T::RandAugment::augmentation_space(31, {20, 40});
  EXPECT_FLOAT_EQ(s[3].magnitudes.back(), static_cast<float>(150.0 / 331.0 * 40));
  EXPECT_FLOAT_EQ(s[4].magnitudes.back(), static_cast<float>(150.0 / 331.0 * 20));
  EXPECT_EQ(T::TrivialAugmentWide::augmentation_space(31)[3].magnitudes.back(), 32.0f);
}

// Replays RandAugment(num_ops=1): the op index, then (signed ops only) the coin.
TEST(RandAugment, OpsAreUniformSignsFairAndOutputsEqualApplyOp) {
  const Tensor x = image_u8(3, 14, 15);
  const int64_t magnitude = 12;
  const T::RandAugment t(1, magnitude, 31, InterpolationMode::NEAREST, std::vector<double>{128.0});
  const auto space = T::RandAugment::augmentation_space(31, {14, 15});
  std::vector<int> ops(space.size(), 0), signs(2, 0);
  for (uint64_t seed = 0; seed < 1400; ++seed) {
    data::seed_example_generator(seed);
    const Tensor got = t(x);
    data::seed_example_generator(seed);
    Generator& g = data::example_generator();
    const int64_t k = g.randint(0, static_cast<int64_t>(space.size()));
    const auto& o = space[static_cast<size_t>(k)];
    double m = o.magnitudes.empty() ? 0.0 : o.magnitudes[magnitude];
    if (o.is_signed) {
      const bool flip = g.randint(0, 2) == 1;
      ++signs[flip];
      if (flip) m = -m;
    }
    ++ops[static_cast<size_t>(k)];
    if (seed < 300) {
      EXPECT_TRUE(same(got, F::apply_op(x, o.name, m, InterpolationMode::NEAREST, std::vector<double>{128})))
          << seed << " " << o.name;
    }
  }
  EXPECT_LT(chi_square(ops), chi_square_limit(14));
  EXPECT_LT(chi_square(signs), chi_square_limit(2));
  // two ops a call: the same seed gives the same image; gray images work with every op
  const T::RandAugment two;
  const Tensor gray = image_u8(1, 16, 16);
  for (uint64_t seed = 0; seed < 200; ++seed) {
    data::seed_example_generator(seed);
    const Tensor a = two(gray);
    data::seed_example_generator(seed);
    EXPECT_TRUE(same(a, two(gray)));
    EXPECT_EQ(a.sizes(), gray.sizes());
  }
  EXPECT_TRUE(same(T::RandAugment(0)(x), x));
}

TEST(RandAugment, ArgumentErrorsAndFloatImagesAsDocumented) {
  EXPECT_TRUE(contains(error_of([] { T::RandAugment(2, 31); }), "magnitude should be in [0, num_magnitude_bins = 31), got 31"));
  EXPECT_TRUE(contains(error_of([] { T::RandAugment(2, -1); }), "got -1"));
  EXPECT_TRUE(contains(error_of([] { T::RandAugment(-1); }), "num_ops should be non-negative, got -1"));
  EXPECT_TRUE(contains(error_of([] { T::TrivialAugmentWide(1); }), "num_magnitude_bins should be at least 2, got 1"));
  const Tensor f = F::to_tensor(image_u8(3, 8, 8));
  for (const std::string& msg : {error_of([&] { T::RandAugment()(f); }), error_of([&] { T::AutoAugment()(f); }),
                                 error_of([&] { T::TrivialAugmentWide()(f); })})
    EXPECT_TRUE(contains(msg, "before ToTensor")) << msg;
  EXPECT_THROW(T::RandAugment()(f), TypeError);
  EXPECT_TRUE(contains(error_of([] { T::parse_auto_augment_policy("cifar100"); }), "got 'cifar100'"));
}

// Replays TrivialAugmentWide: the op, then its bin (ops with bins), then the coin (signed ops).
TEST(TrivialAugmentWide, OpsAndBinsAreUniformAndOutputsEqualApplyOp) {
  const Tensor x = image_u8(3, 12, 12);
  const T::TrivialAugmentWide t;
  const auto space = T::TrivialAugmentWide::augmentation_space(31);
  std::vector<int> ops(space.size(), 0), bins(31, 0), signs(2, 0);
  for (uint64_t seed = 0; seed < 3100; ++seed) {
    data::seed_example_generator(seed);
    const Tensor got = t(x);
    data::seed_example_generator(seed);
    Generator& g = data::example_generator();
    const int64_t k = g.randint(0, static_cast<int64_t>(space.size()));
    const auto& o = space[static_cast<size_t>(k)];
    double m = 0.0;
    if (!o.magnitudes.empty()) {
      const int64_t b = g.randint(0, 31);
      ++bins[static_cast<size_t>(b)];
      m = o.magnitudes[static_cast<size_t>(b)];
    }
    if (o.is_signed) {
      const bool flip = g.randint(0, 2) == 1;
      ++signs[flip];
      if (flip) m = -m;
    }
    ++ops[static_cast<size_t>(k)];
    if (seed < 300) {
      EXPECT_TRUE(same(got, F::apply_op(x, o.name, m))) << seed << " " << o.name << " " << m;
    }
  }
  EXPECT_LT(chi_square(ops), chi_square_limit(14));
  EXPECT_LT(chi_square(bins), chi_square_limit(31));
  EXPECT_LT(chi_square(signs), chi_square_limit(2));
}

// Replays AutoAugment: the sub-policy, two probabilities, two signs (always all five draws).
TEST(AutoAugment, SubPoliciesUniformOpsAppliedWithTheirProbabilityOutputsEqualApplyOp) {
  const Tensor x = image_u8(3, 12, 14);
  for (auto policy : {T::AutoAugmentPolicy::IMAGENET, T::AutoAugmentPolicy::CIFAR10, T::AutoAugmentPolicy::SVHN}) {
    const auto& table = T::AutoAugment::policies(policy);
    ASSERT_EQ(table.size(), 25u);
    const T::AutoAugment t(policy);
    const auto space = T::AutoAugment::augmentation_space(10, {12, 14});
    std::vector<int> subs(25, 0);
    double expected_applied = 0;
    int applied = 0;
    for (uint64_t seed = 0; seed < 2500; ++seed) {
      data::seed_example_generator(seed);
      const Tensor got = t(x);
      data::seed_example_generator(seed);
      Generator& g = data::example_generator();
      const auto& sub = table[static_cast<size_t>(g.randint(0, 25))];
      ++subs[static_cast<size_t>(&sub - table.data())];
      const float probs[2] = {static_cast<float>(g.uniform_double()), static_cast<float>(g.uniform_double())};
      const int64_t signs[2] = {g.randint(0, 2), g.randint(0, 2)};
      Tensor want = x;
      for (int i = 0; i < 2; ++i) {
        expected_applied += sub[static_cast<size_t>(i)].p;
        if (!(probs[i] <= static_cast<float>(sub[static_cast<size_t>(i)].p))) continue;
        ++applied;
        const std::string name = sub[static_cast<size_t>(i)].op;
        const auto& o = *std::find_if(space.begin(), space.end(), [&](const auto& a) { return a.name == name; });
        double m = sub[static_cast<size_t>(i)].magnitude_bin >= 0
                       ? o.magnitudes[static_cast<size_t>(sub[static_cast<size_t>(i)].magnitude_bin)]
                       : 0.0;
        if (o.is_signed && signs[i] == 0) m = -m;
        want = F::apply_op(want, name, m);
      }
      if (seed < 200) {
        EXPECT_TRUE(same(got, want)) << seed;
      }
    }
    EXPECT_LT(chi_square(subs), chi_square_limit(25));
    // 5000 Bernoulli draws: within 4 standard deviations (< 0.5 * sqrt(5000) = 35)
    EXPECT_NEAR(applied, expected_applied, 4 * 35.4);
  }
  // the tables are torchvision's: spot checks at both ends of each
  EXPECT_STREQ(T::AutoAugment::policies(T::AutoAugmentPolicy::IMAGENET)[0][0].op, "Posterize");
  EXPECT_EQ(T::AutoAugment::policies(T::AutoAugmentPolicy::IMAGENET)[0][0].magnitude_bin, 8);
  EXPECT_STREQ(T::AutoAugment::policies(T::AutoAugmentPolicy::CIFAR10)[24][1].op, "AutoContrast");
  EXPECT_DOUBLE_EQ(T::AutoAugment::policies(T::AutoAugmentPolicy::SVHN)[24][0].p, 0.7);
  EXPECT_EQ(T::AutoAugment::policies(T::AutoAugmentPolicy::SVHN)[15][1].magnitude_bin, 2);
}
