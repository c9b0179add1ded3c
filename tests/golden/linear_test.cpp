// Linear, Flatten, Unflatten, Identity and Dropout/Dropout2d (eval, and train with p = 0
// and p = 1, both deterministic) against PyTorch on every case of
// tests/golden/data/linear.safetensors (tools/golden/gen_linear.py).
// Tolerance rtol 1e-5, atol 1e-6: dot products of at most 6 terms; the rest is exact.

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

GoldenModule build(const nlohmann::json& o) {
  if (o.at("module").get<std::string>() != "Unflatten") return build_layer(o);
  // No nn::Unflatten module yet: the Tensor method it would wrap, on a parameterless module.
  int64_t dim = o.at("dim").get<int64_t>();
  std::vector<int64_t> sizes = o.at("sizes").get<std::vector<int64_t>>();
  return GoldenModule{std::make_shared<nn::Module>(), [dim, sizes](const Tensor& x) { return x.unflatten(dim, sizes); }};
}

const Golden& golden() {
  static Golden g("linear");
  return g;
}

class LinearGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(LinearGolden, MatchesTorch) {
  const std::string& c = GetParam();
  run_golden_case(golden(), c, build(golden().options(c)), {1e-5, 1e-6});
}

INSTANTIATE_TEST_SUITE_P(Torch, LinearGolden, ::testing::ValuesIn(golden_cases("linear")), case_test_name);

}  // namespace
