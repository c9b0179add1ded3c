// nn::Conv2d against PyTorch on every case of tests/golden/data/conv2d.safetensors
// (tools/golden/gen_conv2d.py): strides, paddings incl. 'same'/'valid', padding modes,
// dilations, groups, rectangular kernels, bias on/off, unbatched input.
// Tolerance rtol 1e-5, atol 1e-5: weight gradients sum up to 2*7*7 = 98 products of O(1)
// values and reach ~30; torch's own float32 result is within 8.1e-6 abs (3e-7 relative) of
// a float64 run (GOLDEN_PRECISION=1 tools/golden/gen_conv2d.py).
#include "cnnkit/nn/modules/conv.h"

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

nn::Conv2dOptions conv_options(const nlohmann::json& o) {
  nn::Conv2dOptions opt(o.at("in_channels").get<int64_t>(), o.at("out_channels").get<int64_t>(),
                        ints2(o.at("kernel_size")));
  opt.stride(ints2(o.at("stride")))
      .dilation(ints2(o.at("dilation")))
      .groups(o.at("groups").get<int64_t>())
      .bias(o.at("bias").get<bool>());
  const auto& p = o.at("padding");
  if (p.is_string()) {
    if (p.get<std::string>() == "same") opt.padding(kSame);
    else opt.padding(kValid);
  } else {
    opt.padding(ExpandingArray<2>(ints2(p)));
  }
  std::string mode = o.at("padding_mode").get<std::string>();
  if (mode == "zeros") opt.padding_mode(kZeros);
  else if (mode == "reflect") opt.padding_mode(kReflect);
  else if (mode == "replicate") opt.padding_mode(kReplicate);
  else if (mode == "circular") opt.padding_mode(kCircular);
  else throw std::runtime_error("unknown padding_mode " + mode);
  return opt;
}

const Golden& golden() {
  static Golden g("conv2d");
  return g;
}

class Conv2dGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(Conv2dGolden, MatchesTorch) {
  const std::string& c = GetParam();
  nlohmann::json o = golden().options(c);
  run_golden_case(golden(), c, wrap(nn::Conv2d(conv_options(o))), {1e-5, 1e-5});
}

INSTANTIATE_TEST_SUITE_P(Torch, Conv2dGolden, ::testing::ValuesIn(golden_cases("conv2d")), case_test_name);

}  // namespace
