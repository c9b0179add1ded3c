// Normalisation modules against PyTorch on every case of
// tests/golden/data/normalization.safetensors (tools/golden/gen_normalization.py):
// BatchNorm1d/2d train and eval (momentum incl. None, affine, track_running_stats),
// LayerNorm over 1-3 dims, InstanceNorm2d (affine, running stats), GroupNorm.
// Checks output, input and affine gradients, and the running statistics after the step.
// Tolerance rtol 1e-5, atol 1e-5: means and variances over at most 60 elements; torch's own
// float32 result is within 3.2e-6 abs of a float64 run (GOLDEN_PRECISION=1
// tools/golden/gen_normalization.py), on gradients of magnitude up to ~10.
#include "cnnkit/nn/modules/normalization.h"

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

std::optional<double> momentum(const nlohmann::json& o) {
  if (o.at("momentum").is_null()) return std::nullopt;
  return o.at("momentum").get<double>();
}

GoldenModule build(const nlohmann::json& o) {
  std::string m = o.at("module").get<std::string>();
  if (m == "BatchNorm1d" || m == "BatchNorm2d") {
    nn::BatchNormOptions opt(o.at("num_features").get<int64_t>());
    opt.eps(o.at("eps").get<double>())
        .momentum(momentum(o))
        .affine(o.at("affine").get<bool>())
        .track_running_stats(o.at("track_running_stats").get<bool>());
    return m == "BatchNorm1d" ? wrap(nn::BatchNorm1d(opt)) : wrap(nn::BatchNorm2d(opt));
  }
  if (m == "InstanceNorm2d") {
    nn::InstanceNorm2dOptions opt(o.at("num_features").get<int64_t>());
    opt.eps(o.at("eps").get<double>())
        .momentum(o.at("momentum").get<double>())
        .affine(o.at("affine").get<bool>())
        .track_running_stats(o.at("track_running_stats").get<bool>());
    return wrap(nn::InstanceNorm2d(opt));
  }
  if (m == "LayerNorm") {
    nn::LayerNormOptions opt(o.at("normalized_shape").get<std::vector<int64_t>>());
    opt.eps(o.at("eps").get<double>()).elementwise_affine(o.at("elementwise_affine").get<bool>());
    return wrap(nn::LayerNorm(opt));
  }
  if (m == "GroupNorm") {
    nn::GroupNormOptions opt(o.at("num_groups").get<int64_t>(), o.at("num_channels").get<int64_t>());
    opt.eps(o.at("eps").get<double>()).affine(o.at("affine").get<bool>());
    return wrap(nn::GroupNorm(opt));
  }
  throw std::runtime_error("normalization golden: unknown module " + m);
}

const Golden& golden() {
  static Golden g("normalization");
  return g;
}

class NormalizationGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(NormalizationGolden, MatchesTorch) {
  const std::string& c = GetParam();
  run_golden_case(golden(), c, build(golden().options(c)), {1e-5, 1e-5});
}

INSTANTIATE_TEST_SUITE_P(Torch, NormalizationGolden, ::testing::ValuesIn(golden_cases("normalization")),
                         case_test_name);

}  // namespace
