// Every deterministic transform against torchvision.transforms.functional 0.14
// (tools/golden/gen_transforms.py): one test per case, on uint8 and float32 images.
// uint8 results must match exactly; float32 within a few ulps of torch's float math.
#include <gtest/gtest.h>

#include <iostream>

#include "cnnkit/data/transforms.h"
#include "golden_runner.h"
#include "test_util.h"

using namespace cnnkit;
namespace F = cnnkit::data::transforms::functional;
using cnnkit::data::transforms::InterpolationMode;
using cnnkit::test::Golden;

namespace {

const Golden& golden() {
  static Golden g("transforms");
  return g;
}

std::vector<int64_t> ints(const nlohmann::json& v) { return v.get<std::vector<int64_t>>(); }

InterpolationMode mode_of(const nlohmann::json& o) {
  return o.at("interpolation").get<std::string>() == "nearest" ? InterpolationMode::NEAREST : InterpolationMode::BILINEAR;
}

Tensor run(const std::string& op, const nlohmann::json& o, const Tensor& x) {
  if (op == "to_tensor") return F::to_tensor(x);
  if (op == "normalize") return F::normalize(x, o.at("mean").get<std::vector<double>>(), o.at("std").get<std::vector<double>>());
  if (op == "hflip") return F::hflip(x);
  if (op == "vflip") return F::vflip(x);
  if (op == "rgb_to_grayscale") return F::rgb_to_grayscale(x, o.at("num_output_channels").get<int64_t>());
  if (op == "crop")
    return F::crop(x, o.at("top").get<int64_t>(), o.at("left").get<int64_t>(), o.at("height").get<int64_t>(),
                   o.at("width").get<int64_t>());
  if (op == "pad") return F::pad(x, ints(o.at("padding")), o.at("fill").get<double>(), o.at("padding_mode").get<std::string>());
  if (op == "resize") return F::resize(x, ints(o.at("size")), mode_of(o));
  if (op == "center_crop") return F::center_crop(x, ints(o.at("size")));
  if (op == "resized_crop")
    return F::resized_crop(x, o.at("top").get<int64_t>(), o.at("left").get<int64_t>(), o.at("height").get<int64_t>(),
                           o.at("width").get<int64_t>(), ints(o.at("size")));
  if (op == "rotate") {
    std::optional<std::vector<double>> fill, center;
    if (o.contains("fill")) fill = o.at("fill").get<std::vector<double>>();
    if (o.contains("center")) center = o.at("center").get<std::vector<double>>();
    return F::rotate(x, o.at("angle").get<double>(), mode_of(o), false, center, fill);
  }
  if (op == "adjust_brightness") return F::adjust_brightness(x, o.at("factor").get<double>());
  if (op == "adjust_contrast") return F::adjust_contrast(x, o.at("factor").get<double>());
  if (op == "adjust_saturation") return F::adjust_saturation(x, o.at("factor").get<double>());
  if (op == "adjust_hue") return F::adjust_hue(x, o.at("factor").get<double>());
  if (op == "gaussian_blur") {
    const auto k = o.at("kernel_size").get<std::vector<int64_t>>();
    const auto s = o.at("sigma").get<std::vector<double>>();
    return F::gaussian_blur(x, {k[0], k[1]}, {s[0], s[1]});
  }
  ADD_FAILURE() << "unknown op " << op;
  return Tensor();
}

class TransformsGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(TransformsGolden, MatchesTorchvision) {
  const std::string& c = GetParam();
  ASSERT_NE(c, "__load_error__") << "could not load transforms.safetensors";
  const Golden& g = golden();
  nlohmann::json o = g.options(c);
  const std::string op = o.at("op").get<std::string>();
  Tensor x = g.get("images", o.at("image").get<std::string>());
  Tensor before = x.clone();
  Tensor want = g.get(c, "out");
  Tensor got = run(op, o, x);
  ASSERT_TRUE(got.defined());
  EXPECT_EQ(got.scalar_type(), want.scalar_type()) << c;
  EXPECT_TRUE(x.equal(before)) << c << ": the op wrote into its input";
  // Float results agree within a few ulps (torch's rotation grid is a float GEMM, its
  // bilinear weights come out of a different float formula). uint8 results are those
  // floats rounded (resize) or truncated (hue), so a value an ulp from x.5 (or from an
  // integer) may land one step apart: allowed for those ops on at most 3% of elements.
  const bool float_out = want.is_floating_point();
  const bool ulp_sensitive = !float_out && (op == "resize" || op == "resized_crop" || op == "adjust_hue");
  double atol = float_out ? (op == "rotate" ? 2e-6 : 1e-6) : (ulp_sensitive ? 1.0 : 0.0);
  EXPECT_TRUE(cnnkit::test::allclose(got, want, float_out ? 1e-6 : 0.0, atol, c));
  if (ulp_sensitive && got.sizes() == want.sizes()) {
    auto a = got.to_vector(), b = want.to_vector();
    size_t off = 0;
    for (size_t i = 0; i < a.size(); ++i) off += a[i] != b[i];
    EXPECT_LE(off, a.size() * 3 / 100) << c << ": " << off << " of " << a.size() << " elements off by one";
  }
  std::cout << "[golden] " << c << ": max abs diff "
            << (got.sizes() == want.sizes() ? cnnkit::test::max_abs_diff(got, want) : INFINITY) << "\n";
}

INSTANTIATE_TEST_SUITE_P(Functional, TransformsGolden, ::testing::ValuesIn(cnnkit::test::golden_cases("transforms")),
                         cnnkit::test::case_test_name);

TEST(TransformsGoldenFile, RecordsGeneratorAndVersions) {
  const Golden& g = golden();
  EXPECT_EQ(g.metadata().at("generator"), "tools/golden/gen_transforms.py");
  EXPECT_EQ(g.metadata().at("torch_version").rfind("1.13", 0), 0u);
  EXPECT_EQ(g.metadata().at("torchvision_version").rfind("0.14", 0), 0u);
  EXPECT_GT(g.cases().size(), 100u);
}

}  // namespace
