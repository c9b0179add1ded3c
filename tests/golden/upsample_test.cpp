// nn::Upsample (F::interpolate) against PyTorch on every case of
// tests/golden/data/upsample.safetensors (tools/golden/gen_upsample.py): nearest, linear
// and bilinear (align_corners both ways), by scale factors and by sizes, built from the layer
// table as a config builds them. A value is at most two products per interpolated dim, an
// input gradient the sum of the output gradients that read it (in another order than
// PyTorch's backward kernel): rtol 1e-5, atol 1e-6.

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

const Golden& golden() {
  static Golden g("upsample");
  return g;
}

class UpsampleGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(UpsampleGolden, MatchesTorch) {
  const std::string& c = GetParam();
  run_golden_case(golden(), c, build_layer(golden().options(c)), {1e-5, 1e-6});
}

INSTANTIATE_TEST_SUITE_P(Torch, UpsampleGolden, ::testing::ValuesIn(golden_cases("upsample")), case_test_name);

}  // namespace
