// nn::ConvTranspose2d against PyTorch on every case of
// tests/golden/data/conv_transpose.safetensors (tools/golden/gen_conv_transpose.py): kernel,
// stride, padding, output_padding, dilation, groups, bias, rectangular and unbatched, built
// from the layer table as a config builds them. Values, input, weight and bias gradients.
// Tolerance rtol 1e-5, atol 1e-5, as conv2d's goldens: a weight gradient sums up to
// N * H * W products of O(1) values.

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

const Golden& golden() {
  static Golden g("conv_transpose");
  return g;
}

class ConvTransposeGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ConvTransposeGolden, MatchesTorch) {
  const std::string& c = GetParam();
  run_golden_case(golden(), c, build_layer(golden().options(c)), {1e-5, 1e-5});
}

INSTANTIATE_TEST_SUITE_P(Torch, ConvTransposeGolden, ::testing::ValuesIn(golden_cases("conv_transpose")),
                         case_test_name);

}  // namespace
