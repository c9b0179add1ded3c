// Linear, Flatten, Unflatten, Identity and Dropout/Dropout2d (eval, and train with p = 0
// and p = 1, both deterministic) against PyTorch on every case of
// tests/golden/data/linear.safetensors (tools/golden/gen_linear.py).
// Tolerance rtol 1e-5, atol 1e-6: dot products of at most 6 terms; the rest is exact.
#include "cnnkit/nn/modules/dropout.h"
#include "cnnkit/nn/modules/linear.h"

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

GoldenModule build(const nlohmann::json& o) {
  std::string m = o.at("module").get<std::string>();
  if (m == "Linear")
    return wrap(nn::Linear(nn::LinearOptions(o.at("in_features").get<int64_t>(), o.at("out_features").get<int64_t>())
                               .bias(o.at("bias").get<bool>())));
  if (m == "Flatten")
    return wrap(nn::Flatten(
        nn::FlattenOptions().start_dim(o.at("start_dim").get<int64_t>()).end_dim(o.at("end_dim").get<int64_t>())));
  if (m == "Unflatten") {
    // No nn::Unflatten module yet: the Tensor method it would wrap, on a parameterless module.
    int64_t dim = o.at("dim").get<int64_t>();
    std::vector<int64_t> sizes = o.at("sizes").get<std::vector<int64_t>>();
    return GoldenModule{std::make_shared<nn::Module>(),
                        [dim, sizes](const Tensor& x) { return x.unflatten(dim, sizes); }};
  }
  if (m == "Identity") return wrap(nn::Identity());
  if (m == "Dropout") return wrap(nn::Dropout(nn::DropoutOptions(o.at("p").get<double>())));
  if (m == "Dropout2d") return wrap(nn::Dropout2d(nn::Dropout2dOptions(o.at("p").get<double>())));
  throw std::runtime_error("linear golden: unknown module " + m);
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
