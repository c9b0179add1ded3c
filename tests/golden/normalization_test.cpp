// Normalisation modules against PyTorch on every case of
// tests/golden/data/normalization.safetensors (tools/golden/gen_normalization.py):
// BatchNorm1d/2d train and eval (momentum incl. None, affine, track_running_stats),
// LayerNorm over 1-3 dims, InstanceNorm2d (affine, running stats), GroupNorm.
// Checks output, input and affine gradients, and the running statistics after the step.
// Tolerance rtol 1e-5, atol 1e-5: means and variances over at most 60 elements; torch's own
// float32 result is within 3.2e-6 abs of a float64 run (GOLDEN_PRECISION=1
// tools/golden/gen_normalization.py), on gradients of magnitude up to ~10.

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

const Golden& golden() {
  static Golden g("normalization");
  return g;
}

class NormalizationGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(NormalizationGolden, MatchesTorch) {
  const std::string& c = GetParam();
  run_golden_case(golden(), c, build_layer(golden().options(c)), {1e-5, 1e-5});
}

INSTANTIATE_TEST_SUITE_P(Torch, NormalizationGolden, ::testing::ValuesIn(golden_cases("normalization")),
                         case_test_name);

}  // namespace
