// Activation modules against PyTorch on every case of
// tests/golden/data/activation.safetensors (tools/golden/gen_activation.py): inputs
// N(0, 3^2) (some x20 or x50) so every branch of the piecewise functions is taken.
// Tolerance rtol 1e-5, atol 1e-6: element-wise float32 math, no accumulation except the
// softmax sums over at most 10 elements.
#include "cnnkit/nn/modules/activation.h"

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

GoldenModule build(const nlohmann::json& o) {
  std::string m = o.at("module").get<std::string>();
  if (m == "ReLU") return wrap(nn::ReLU());
  if (m == "ReLU6") return wrap(nn::ReLU6());
  if (m == "SELU") return wrap(nn::SELU());
  if (m == "LeakyReLU")
    return wrap(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(o.at("negative_slope").get<double>())));
  if (m == "ELU") return wrap(nn::ELU(nn::ELUOptions().alpha(o.at("alpha").get<double>())));
  if (m == "GELU") return wrap(nn::GELU(nn::GELUOptions().approximate(o.at("approximate").get<std::string>())));
  if (m == "Sigmoid") return wrap(nn::Sigmoid());
  if (m == "Tanh") return wrap(nn::Tanh());
  if (m == "SiLU") return wrap(nn::SiLU());
  if (m == "Mish") return wrap(nn::Mish());
  if (m == "Hardswish") return wrap(nn::Hardswish());
  if (m == "Hardsigmoid") return wrap(nn::Hardsigmoid());
  if (m == "Hardtanh")
    return wrap(nn::Hardtanh(
        nn::HardtanhOptions().min_val(o.at("min_val").get<double>()).max_val(o.at("max_val").get<double>())));
  if (m == "Softplus")
    return wrap(nn::Softplus(
        nn::SoftplusOptions().beta(o.at("beta").get<double>()).threshold(o.at("threshold").get<double>())));
  if (m == "PReLU")
    return wrap(nn::PReLU(nn::PReLUOptions()
                              .num_parameters(o.at("num_parameters").get<int64_t>())
                              .init(o.at("init").get<double>())));
  if (m == "Softmax") return wrap(nn::Softmax(o.at("dim").get<int64_t>()));
  if (m == "LogSoftmax") return wrap(nn::LogSoftmax(o.at("dim").get<int64_t>()));
  throw std::runtime_error("activation golden: unknown module " + m);
}

const Golden& golden() {
  static Golden g("activation");
  return g;
}

class ActivationGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ActivationGolden, MatchesTorch) {
  const std::string& c = GetParam();
  run_golden_case(golden(), c, build(golden().options(c)), {1e-5, 1e-6});
}

INSTANTIATE_TEST_SUITE_P(Torch, ActivationGolden, ::testing::ValuesIn(golden_cases("activation")),
                         case_test_name);

}  // namespace
