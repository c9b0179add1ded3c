// Padding and rearranging layers against PyTorch on every case of
// tests/golden/data/padding.safetensors (tools/golden/gen_padding.py): ZeroPad2d,
// ConstantPad2d, ReflectionPad2d, ReplicationPad2d, PixelShuffle, PixelUnshuffle and
// Unflatten, built from the layer table as a config builds them. Forward values are copies
// (exact); an input gradient sums the output gradients of the positions that read it (up to
// 10 x 10 of them at a replicated corner): rtol 1e-5, atol 1e-6.

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

const Golden& golden() {
  static Golden g("padding");
  return g;
}

class PaddingGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(PaddingGolden, MatchesTorch) {
  const std::string& c = GetParam();
  run_golden_case(golden(), c, build_layer(golden().options(c)), {1e-5, 1e-6});
}

INSTANTIATE_TEST_SUITE_P(Torch, PaddingGolden, ::testing::ValuesIn(golden_cases("padding")), case_test_name);

}  // namespace
