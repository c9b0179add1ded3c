// Pooling modules against PyTorch on every case of tests/golden/data/pooling.safetensors
// (tools/golden/gen_pooling.py): MaxPool2d / AvgPool2d with kernel, stride, padding,
// dilation, ceil_mode, count_include_pad, divisor_override; AdaptiveAvg/MaxPool2d to sizes
// 1, divisible, non-divisible, larger than the input. Tolerance rtol 1e-5, atol 1e-6:
// max pooling is exact, averages sum at most 9 values.
#include "cnnkit/nn/modules/pooling.h"

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

GoldenModule build(const nlohmann::json& o) {
  std::string m = o.at("module").get<std::string>();
  if (m == "MaxPool2d") {
    nn::MaxPool2dOptions opt(ints2(o.at("kernel_size")));
    if (!o.at("stride").is_null()) opt.stride(ints2(o.at("stride")));
    opt.padding(ints2(o.at("padding"))).dilation(ints2(o.at("dilation"))).ceil_mode(o.at("ceil_mode").get<bool>());
    return wrap(nn::MaxPool2d(opt));
  }
  if (m == "AvgPool2d") {
    nn::AvgPool2dOptions opt(ints2(o.at("kernel_size")));
    if (!o.at("stride").is_null()) opt.stride(ints2(o.at("stride")));
    opt.padding(ints2(o.at("padding")))
        .ceil_mode(o.at("ceil_mode").get<bool>())
        .count_include_pad(o.at("count_include_pad").get<bool>());
    if (!o.at("divisor_override").is_null()) opt.divisor_override(o.at("divisor_override").get<int64_t>());
    return wrap(nn::AvgPool2d(opt));
  }
  if (m == "AdaptiveAvgPool2d")
    return wrap(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(ints2(o.at("output_size")))));
  if (m == "AdaptiveMaxPool2d")
    return wrap(nn::AdaptiveMaxPool2d(nn::AdaptiveMaxPool2dOptions(ints2(o.at("output_size")))));
  throw std::runtime_error("pooling golden: unknown module " + m);
}

const Golden& golden() {
  static Golden g("pooling");
  return g;
}

class PoolingGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(PoolingGolden, MatchesTorch) {
  const std::string& c = GetParam();
  run_golden_case(golden(), c, build(golden().options(c)), {1e-5, 1e-6});
}

INSTANTIATE_TEST_SUITE_P(Torch, PoolingGolden, ::testing::ValuesIn(golden_cases("pooling")), case_test_name);

}  // namespace
