// PNG decoding against torchvision.io.decode_png 0.14 in every read mode (gray from colour is
// libpng's, with torchvision's coefficients; tRNS transparency in gray and RGB files and
// 16-bit files, which torchvision ignores or refuses, against Pillow), and JPEG decoding against
// torchvision.io.decode_jpeg 0.14 (libjpeg-turbo) in its modes
// UNCHANGED, GRAY and RGB, and Adobe CMYK against Pillow's convert("RGB")
// (tools/golden/gen_image_decode.py): chroma subsamplings, progressive and optimised files,
// restart intervals, partial blocks, gray, qualities 5 to 100, the fuzzer's seed JPEGs. The
// same library decodes both sides, so every pixel must be equal. GRAY_ALPHA and RGB_ALPHA
// (which torchvision refuses for JPEG) are GRAY and RGB with an opaque alpha plane.
#include <gtest/gtest.h>

#include <map>

#include "cnnkit/data/image.h"
#include "golden_runner.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::data::ImageReadMode;
using cnnkit::test::Golden;

namespace {

const Golden& golden() {
  static Golden g("image_decode");
  return g;
}

Tensor decode(const Tensor& file, const std::string& name, ImageReadMode mode) {
  return data::decode_image_from_memory(file.data_ptr<uint8_t>(), static_cast<size_t>(file.numel()), name, mode);
}

// Equal pixel for pixel, with the first difference named.
void expect_same(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const uint8_t* g = got.contiguous().data_ptr<uint8_t>();
  const uint8_t* w = want.contiguous().data_ptr<uint8_t>();
  int64_t differ = 0, first = -1;
  for (int64_t i = 0; i < want.numel(); ++i)
    if (g[i] != w[i] && differ++ == 0) first = i;
  EXPECT_EQ(differ, 0) << what << ": " << differ << " of " << want.numel() << " values differ, the first at "
                       << first << " (" << int(first >= 0 ? g[first] : 0) << " against "
                       << int(first >= 0 ? w[first] : 0) << ")";
}

class ImageDecodeGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ImageDecodeGolden, MatchesTorchvision) {
  const std::string& c = GetParam();
  ASSERT_NE(c, "__load_error__") << "could not load image_decode.safetensors";
  const Golden& g = golden();
  const Tensor file = g.get(c, "file");
  if (g.options(c).contains("png")) {  // every mode the case lists (the generator says why some are left out)
    const std::map<std::string, ImageReadMode> modes = {{"unchanged", ImageReadMode::UNCHANGED},
                                                        {"gray", ImageReadMode::GRAY},
                                                        {"gray_alpha", ImageReadMode::GRAY_ALPHA},
                                                        {"rgb", ImageReadMode::RGB},
                                                        {"rgb_alpha", ImageReadMode::RGB_ALPHA}};
    const auto listed = g.options(c).at("modes").get<std::vector<std::string>>();
    EXPECT_GE(listed.size(), 2u) << c;
    for (const std::string& key : listed) expect_same(decode(file, c, modes.at(key)), g.get(c, key), c + " " + key);
    return;
  }
  const Tensor rgb = g.get(c, "rgb");
  expect_same(decode(file, c, ImageReadMode::RGB), rgb, c + " RGB");
  if (g.options(c).at("cmyk").get<bool>()) {
    expect_same(decode(file, c, ImageReadMode::UNCHANGED), rgb, c + " UNCHANGED (CMYK as RGB)");
    EXPECT_EQ(decode(file, c, ImageReadMode::GRAY).sizes(), IntArrayRef({1, rgb.size(1), rgb.size(2)}));
    return;
  }
  const Tensor gray = g.get(c, "gray");
  expect_same(decode(file, c, ImageReadMode::UNCHANGED), g.get(c, "unchanged"), c + " UNCHANGED");
  expect_same(decode(file, c, ImageReadMode::GRAY), gray, c + " GRAY");
  const Tensor ga = decode(file, c, ImageReadMode::GRAY_ALPHA);
  ASSERT_EQ(ga.size(0), 2);
  expect_same(ga.narrow(0, 0, 1), gray, c + " GRAY_ALPHA's gray");
  EXPECT_TRUE(ga.narrow(0, 1, 1).eq(255).all().item<bool>()) << c << " GRAY_ALPHA's alpha";
  const Tensor ra = decode(file, c, ImageReadMode::RGB_ALPHA);
  ASSERT_EQ(ra.size(0), 4);
  expect_same(ra.narrow(0, 0, 3), rgb, c + " RGB_ALPHA's colour");
  EXPECT_TRUE(ra.narrow(0, 3, 1).eq(255).all().item<bool>()) << c << " RGB_ALPHA's alpha";
}

INSTANTIATE_TEST_SUITE_P(Cases, ImageDecodeGolden, ::testing::ValuesIn(cnnkit::test::golden_cases("image_decode")),
                         cnnkit::test::case_test_name);

}  // namespace
