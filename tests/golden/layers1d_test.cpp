// The 1-d layers against PyTorch on every case of tests/golden/data/layers1d.safetensors
// (tools/golden/gen_layers1d.py): Conv1d (stride, padding incl. 'same'/'valid', dilation,
// groups, bias, padding modes, unbatched), MaxPool1d, AvgPool1d, AdaptiveAvgPool1d and
// AdaptiveMaxPool1d, built from the layer table as a config builds them. Values, input,
// weight and bias gradients. Tolerance rtol 1e-5, atol 1e-5, as conv2d's goldens.

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

const Golden& golden() {
  static Golden g("layers1d");
  return g;
}

class Layers1dGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(Layers1dGolden, MatchesTorch) {
  const std::string& c = GetParam();
  run_golden_case(golden(), c, build_layer(golden().options(c)), {1e-5, 1e-5});
}

INSTANTIATE_TEST_SUITE_P(Torch, Layers1dGolden, ::testing::ValuesIn(golden_cases("layers1d")), case_test_name);

TEST(Layers1dGoldenFile, CoversEveryLayer) {
  std::set<std::string> modules;
  for (const std::string& c : golden().cases()) modules.insert(golden().options(c).at("module").get<std::string>());
  EXPECT_EQ(modules, (std::set<std::string>{"AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AvgPool1d", "Conv1d",
                                            "MaxPool1d"}));
  EXPECT_EQ(golden().metadata().at("generator"), "tools/golden/gen_layers1d.py");
}

}  // namespace
