// nn::Conv2d against PyTorch on every case of tests/golden/data/conv2d.safetensors
// (tools/golden/gen_conv2d.py): strides, paddings incl. 'same'/'valid', padding modes,
// dilations, groups, rectangular kernels, bias on/off, unbatched input, and 3x3 stride-1
// convolutions of 8 to 24 channels (wino_*: the Winograd kernels' shapes on AVX2).
// Tolerance rtol 1e-5, atol 1e-5: weight gradients sum up to 2*10*7 = 140 products of O(1)
// values and reach ~30; torch's own float32 result is within 8.1e-6 abs (3e-7 relative) of
// a float64 run (GOLDEN_PRECISION=1 tools/golden/gen_conv2d.py).

#include "golden_runner.h"
#include "kernels/winograd.h"

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

// The opt-in Winograd weight gradient (CNNKIT_WINOGRAD_WGRAD=1) on the wino_* cases, which its
// kernel computes on AVX2 machines: F(4x4, 3x3) rounds each transformed product, so its weight
// gradients sit up to 2.5e-5 from PyTorch's here (6.1e-5 on cases of up to 40 channels and 170
// products a sum; the direct sum: 8.1e-6), inside 1e-4. The
// default passes are held to 1e-5 above.
TEST(Conv2dGoldenWinograd, WeightGradientWithinItsBound) {
  kernels::winograd::set_weight_grad_use(kernels::winograd::WeightGrad::always);
  const uint64_t before = kernels::winograd::calls();
  for (const std::string& c : golden_cases("conv2d")) {
    if (c.rfind("wino_", 0) != 0) continue;
    SCOPED_TRACE(c);
    run_golden_case(golden(), c, build_layer(golden().options(c)), {1e-4, 1e-4});
  }
  kernels::winograd::set_weight_grad_use(kernels::winograd::WeightGrad::automatic);
  if (kernels::winograd::calls() == before)
    GTEST_SKIP() << "oneDNN did not choose nChw8c on this CPU: the Winograd kernel was not used";
}

}  // namespace
