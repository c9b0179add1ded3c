// nn::Conv2d against PyTorch on every case of tests/golden/data/conv2d.safetensors
// (tools/golden/gen_conv2d.py): strides, paddings incl. 'same'/'valid', padding modes,
// dilations, groups, rectangular kernels, bias on/off, unbatched input.
// Tolerance rtol 1e-5, atol 1e-5: weight gradients sum up to 2*7*7 = 98 products of O(1)
// values and reach ~30; torch's own float32 result is within 8.1e-6 abs (3e-7 relative) of
// a float64 run (GOLDEN_PRECISION=1 tools/golden/gen_conv2d.py).

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

const Golden& golden() {
  static Golden g("conv2d");
  return g;
}

class Conv2dGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(Conv2dGolden, MatchesTorch) {
  const std::string& c = GetParam();
  run_golden_case(golden(), c, build_layer(golden().options(c)), {1e-5, 1e-5});
}

INSTANTIATE_TEST_SUITE_P(Torch, Conv2dGolden, ::testing::ValuesIn(golden_cases("conv2d")), case_test_name);

}  // namespace
