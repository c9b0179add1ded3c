// Activation modules against PyTorch on every case of
// tests/golden/data/activation.safetensors (tools/golden/gen_activation.py): inputs
// N(0, 3^2) (some x20 or x50) so every branch of the piecewise functions is taken.
// Tolerance rtol 1e-5, atol 1e-6: element-wise float32 math, no accumulation except the
// softmax sums over at most 10 elements. Modules come from the layer table by name
// (golden_runner.h build_layer), so a new activation needs only its generator line.
#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

const Golden& golden() {
  static Golden g("activation");
  return g;
}

class ActivationGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ActivationGolden, MatchesTorch) {
  const std::string& c = GetParam();
  run_golden_case(golden(), c, build_layer(golden().options(c)), {1e-5, 1e-6});
}

INSTANTIATE_TEST_SUITE_P(Torch, ActivationGolden, ::testing::ValuesIn(golden_cases("activation")),
                         case_test_name);

}  // namespace
