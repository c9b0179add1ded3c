// Pooling modules against PyTorch on every case of tests/golden/data/pooling.safetensors
// (tools/golden/gen_pooling.py): MaxPool2d / AvgPool2d with kernel, stride, padding,
// dilation, ceil_mode, count_include_pad, divisor_override; AdaptiveAvg/MaxPool2d to sizes
// 1, divisible, non-divisible, larger than the input. Tolerance rtol 1e-5, atol 1e-6:
// max pooling is exact, averages sum at most 9 values.

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

const Golden& golden() {
  static Golden g("pooling");
  return g;
}

class PoolingGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(PoolingGolden, MatchesTorch) {
  const std::string& c = GetParam();
  run_golden_case(golden(), c, build_layer(golden().options(c)), {1e-5, 1e-6});
}

INSTANTIATE_TEST_SUITE_P(Torch, PoolingGolden, ::testing::ValuesIn(golden_cases("pooling")), case_test_name);

}  // namespace
