// Mixup/CutMix against tests/golden/data/mixup.safetensors (tools/golden/gen_mixup.py, timm's
// arithmetic in torch 1.13 ops): the soft targets of batch and per-element lambdas with and
// without label smoothing, and batch mode's blend and paste, compared bit for bit.
#include <cstring>

#include "cnnkit/data/mixup.h"

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

const Golden& golden() {
  static Golden g("mixup");
  return g;
}

void expect_bit_equal(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const std::vector<float> a = got.to_vector(), b = want.to_vector();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << what << " element " << i;
}

class MixupGolden : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(MixupGolden, MatchesTimmArithmeticBitForBit) {
  const std::string c = GetParam();
  const nlohmann::json o = golden().options(c);
  const std::string kind = o.at("kind").get<std::string>();
  if (kind == "target") {
    const Tensor target = golden().get(c, "target"), lam = golden().get(c, "lam");
    const int64_t classes = o.at("num_classes").get<int64_t>();
    const double smoothing = o.at("smoothing").get<double>();
    if (o.contains("lam"))  // a batch's lambda, a double as timm's Python float
      expect_bit_equal(data::mixup_target(target, classes, o.at("lam").get<double>(), smoothing),
                       golden().get(c, "out"), c);
    else  // per-element float32 lambdas (N, 1)
      expect_bit_equal(data::mixup_target(target, classes, lam, smoothing), golden().get(c, "out"), c);
  } else if (kind == "blend") {
    expect_bit_equal(data::mixup_images(golden().get(c, "x"), o.at("lam").get<double>()), golden().get(c, "out"), c);
  } else {
    const auto b = o.at("box").get<std::vector<int64_t>>();
    expect_bit_equal(data::cutmix_images(golden().get(c, "x"), {b[0], b[1], b[2], b[3]}), golden().get(c, "out"), c);
  }
}

INSTANTIATE_TEST_SUITE_P(Timm, MixupGolden, ::testing::ValuesIn(cnnkit::test::golden_cases("mixup")));
