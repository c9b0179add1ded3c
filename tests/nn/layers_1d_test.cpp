// The 1-d layers over (N, C, L) as LibTorch code writes them: Conv1d, MaxPool1d, AvgPool1d,
// AdaptiveAvgPool1d, AdaptiveMaxPool1d and their F:: forms: construction, printing, small
// values from PyTorch 1.13 (snippets beside them), errors in 1-d terms, configs that build
// them and the summary's FLOPs. tests/golden/layers1d_test.cpp checks values and gradients on
// many more configurations.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "cnnkit/cnnkit.h"
#include "cnnkit/models/builder.h"
#include "cnnkit/models/summary.h"
#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"
#include "test_util.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;
using cnnkit::test::contains;
using cnnkit::test::error_of;

namespace {

template <typename M>
std::string str(const M& module) {
  std::ostringstream os;
  os << module;
  return os.str();
}

std::vector<float> values(const Tensor& t) { return t.contiguous().to_vector(); }

// torch.arange(8.).reshape(1, 1, 8)
Tensor ramp() { return arange(8, kFloat).reshape({1, 1, 8}); }

}  // namespace

TEST(Layers1d, PrintLikeLibTorch) {
  EXPECT_EQ(str(nn::Conv1d(3, 8, 5)), "cnnkit::nn::Conv1d(3, 8, kernel_size=5, stride=1)");
  EXPECT_EQ(str(nn::Conv1d(nn::Conv1dOptions(4, 4, 3).stride(2).padding(1).dilation(2).groups(2).bias(false)
                               .padding_mode(kReflect))),
            "cnnkit::nn::Conv1d(4, 4, kernel_size=3, stride=2, padding=1, dilation=2, groups=2, bias=false, "
            "padding_mode=kReflect)");
  EXPECT_EQ(str(nn::Conv1d(nn::Conv1dOptions(2, 2, 4).padding(kSame))),
            "cnnkit::nn::Conv1d(2, 2, kernel_size=4, stride=1, padding='same')");
  EXPECT_EQ(str(nn::MaxPool1d(nn::MaxPool1dOptions(3).stride(2))),
            "cnnkit::nn::MaxPool1d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=false)");
  EXPECT_EQ(str(nn::AvgPool1d(2)), "cnnkit::nn::AvgPool1d(kernel_size=2, stride=2, padding=0)");
  EXPECT_EQ(str(nn::AdaptiveAvgPool1d(5)), "cnnkit::nn::AdaptiveAvgPool1d(output_size=5)");
  EXPECT_EQ(str(nn::AdaptiveMaxPool1d(1)), "cnnkit::nn::AdaptiveMaxPool1d(output_size=1)");
}

TEST(Layers1d, ConvHasTorchShapesAndInitialisation) {
  manual_seed(0);
  nn::Conv1d conv(nn::Conv1dOptions(6, 4, 3).groups(2));
  EXPECT_EQ(conv->weight.sizes(), std::vector<int64_t>({4, 3, 3}));
  EXPECT_EQ(conv->bias.sizes(), std::vector<int64_t>({4}));
  // kaiming_uniform_(a=sqrt(5)): bound 1/sqrt(fan_in), fan_in = 3 * 3; the bias the same.
  const double bound = 1 / std::sqrt(9.0);
  EXPECT_LE(conv->weight.abs().max().item<double>(), bound);
  EXPECT_LE(conv->bias.abs().max().item<double>(), bound);
  EXPECT_GT(conv->weight.abs().max().item<double>(), 0.5 * bound);
  const auto names = conv->named_parameters().keys();
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(conv(randn({2, 6, 10})).sizes(), std::vector<int64_t>({2, 4, 8}));
  EXPECT_EQ(conv(randn({6, 10})).sizes(), std::vector<int64_t>({4, 8}));  // unbatched
}

TEST(Layers1d, ValuesMatchTorch) {
  // w = torch.tensor([[[1., 0., -1.]]]); F.conv1d(x, w, padding=1):
  // [-1, -2, -2, -2, -2, -2, -2, 6]
  Tensor w = tensor({1.0f, 0.0f, -1.0f}).reshape({1, 1, 3});
  EXPECT_EQ(values(F::conv1d(ramp(), w, F::Conv1dFuncOptions().padding(1))),
            (std::vector<float>{-1, -2, -2, -2, -2, -2, -2, 6}));
  // padding_mode='circular': [6, -2, -2, -2, -2, -2, -2, 6]
  nn::Conv1d circ(nn::Conv1dOptions(1, 1, 3).padding(1).padding_mode(kCircular).bias(false));
  {
    NoGradGuard g;
    circ->weight.copy_(w);
  }
  EXPECT_EQ(values(circ(ramp())), (std::vector<float>{6, -2, -2, -2, -2, -2, -2, 6}));
  // F.conv1d(x, w, stride=2, dilation=2): [-4, -4]
  EXPECT_EQ(values(F::conv1d(ramp(), w, F::Conv1dFuncOptions().stride(2).dilation(2))), (std::vector<float>{-4, -4}));
  // nn.MaxPool1d(3, 2, padding=1)(x): [1, 3, 5, 7]
  EXPECT_EQ(values(nn::MaxPool1d(nn::MaxPool1dOptions(3).stride(2).padding(1))(ramp())),
            (std::vector<float>{1, 3, 5, 7}));
  auto [m, idx] = F::max_pool1d_with_indices(ramp(), F::MaxPool1dFuncOptions(3).stride(2).padding(1));
  EXPECT_EQ(values(idx.to(kFloat)), (std::vector<float>{1, 3, 5, 7}));  // positions along L
  // nn.AvgPool1d(3, 2, padding=1, count_include_pad=False)(x): [0.5, 2, 4, 6]
  EXPECT_EQ(values(nn::AvgPool1d(nn::AvgPool1dOptions(3).stride(2).padding(1).count_include_pad(false))(ramp())),
            (std::vector<float>{0.5, 2, 4, 6}));
  // nn.AvgPool1d(3, 3, ceil_mode=True)(x): [1, 4, 6.5]
  EXPECT_EQ(values(nn::AvgPool1d(nn::AvgPool1dOptions(3).ceil_mode(true))(ramp())), (std::vector<float>{1, 4, 6.5}));
  // nn.AdaptiveAvgPool1d(3)(x): windows [0, 3), [2, 6), [5, 8): [1, 3.5, 6]
  EXPECT_EQ(values(nn::AdaptiveAvgPool1d(3)(ramp())), (std::vector<float>{1, 3.5, 6}));
  EXPECT_EQ(values(nn::AdaptiveMaxPool1d(3)(ramp())), (std::vector<float>{2, 5, 7}));
  EXPECT_EQ(values(F::adaptive_avg_pool1d(ramp(), F::AdaptiveAvgPool1dFuncOptions(1))), (std::vector<float>{3.5}));
}

TEST(Layers1d, GradientsReachInputWeightAndBias) {
  manual_seed(3);
  nn::Conv1d conv(nn::Conv1dOptions(2, 3, 3).padding(1));
  Tensor x = randn({2, 2, 7}).set_requires_grad(true);
  nn::MaxPool1d pool(2);
  pool(conv(x)).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  ASSERT_TRUE(conv->weight.grad().defined());
  EXPECT_EQ(conv->weight.grad().sizes(), std::vector<int64_t>({3, 2, 3}));
  // Every output of the pool takes one position, so each bias gets one 1 per pooled output.
  EXPECT_EQ(values(conv->bias.grad()), (std::vector<float>{6, 6, 6}));  // N * L_out = 2 * 3
}

TEST(Layers1d, BadArgumentsAreNamedIn1dTerms) {
  nn::Conv1d conv(3, 4, 3);
  EXPECT_TRUE(contains(error_of([&] { conv(randn({2, 3, 4, 4})); }),
                       "expected 2D (unbatched) or 3D (batched) input, but got input of size: [2, 3, 4, 4]"));
  EXPECT_TRUE(contains(error_of([&] { conv(randn({2, 5, 9})); }), "to have 3 channels, but got 5 channels instead"));
  EXPECT_TRUE(contains(error_of([&] { conv(randn({2, 3, 2})); }),
                       "conv1d: calculated padded input size per channel: (2). Kernel size: (3)"));
  EXPECT_TRUE(contains(error_of([] { nn::Conv1d(nn::Conv1dOptions(3, 4, 0)); }),
                       "kernel_size, stride and dilation must be positive, got kernel_size=0"));
  EXPECT_TRUE(contains(error_of([] { nn::Conv1d(nn::Conv1dOptions(3, 4, 3).stride(2).padding(kSame)); }),
                       "padding='same' is not supported for strided convolutions"));
  EXPECT_TRUE(contains(error_of([] { F::conv1d(randn({1, 2, 8}), randn({2, 2, 3, 3})); }),
                       "conv1d: expected weight with 3 dims"));
  EXPECT_TRUE(contains(error_of([] { conv1d(randn({1, 2, 8}), randn({2, 2, 3}), {}, {1, 1}); }),
                       "conv1d: expected stride to be a single integer value"));
  EXPECT_TRUE(contains(error_of([] { F::max_pool1d(ramp(), F::MaxPool1dFuncOptions(2).padding(2)); }),
                       "max_pool1d: padding should be at most half of kernel size, but got padding=2 and kernel_size=2"));
  EXPECT_TRUE(contains(error_of([] { F::max_pool1d(ramp(), F::MaxPool1dFuncOptions(9)); }),
                       "max_pool1d: given input length 8"));
  EXPECT_TRUE(contains(error_of([] { nn::AvgPool1d(2)(randn({1, 1, 2, 8})); }),
                       "avg_pool1d: expected 2D (C, L) or 3D (N, C, L) input"));
  EXPECT_TRUE(contains(error_of([] { nn::AvgPool1d(nn::AvgPool1dOptions(2).divisor_override(3)); }),
                       "AvgPool1d: divisor_override is not an option of a 1-d average pool"));
}

TEST(Layers1d, AConfigBuildsThemWithChannelsInferred) {
  nn::Sequential net = models::build_from_yaml(R"(
model:
  input_shape: [1, 40]
  layers:
    - Conv1d: {out_channels: 8, kernel_size: 5, padding: same}
    - ReLU
    - MaxPool1d: {kernel_size: 2}
    - Conv1d: {out_channels: 16, kernel_size: 3, stride: 2, padding: 1, padding_mode: reflect}
    - AvgPool1d: {kernel_size: 2, ceil_mode: true}
    - AdaptiveMaxPool1d: {output_size: 2}
    - AdaptiveAvgPool1d: {output_size: 1}
    - Flatten
    - Linear: {out_features: 3}
)",
                                               "x.yaml");
  EXPECT_EQ(net->forward(randn({4, 1, 40})).sizes(), IntArrayRef({4, 3}));
  const models::ModelSummary s = models::summary(*net, {4, 1, 40});
  EXPECT_EQ(s.rows.at(0).type, "Conv1d");
  EXPECT_EQ(s.rows.at(0).flops, 2 * 4 * 8 * 40 * 5);  // 2 * N * C_out * L_out * C_in * k
  EXPECT_EQ(s.rows.at(2).flops, 4 * 8 * 20 * 2);      // MaxPool1d(2): k per output element
  EXPECT_EQ(s.rows.at(3).flops, 2 * 4 * 16 * 10 * 8 * 3);
  EXPECT_TRUE(s.flops_complete);
  EXPECT_TRUE(contains(error_of([] { models::build_from_yaml("model: {input_shape: [1, 9], layers: [Conv1d: {out_channels: 2, kernel_size: [3, 3]}]}", "y.yaml"); }),
                       "kernel_size"));
  EXPECT_TRUE(contains(error_of([] { models::build_from_yaml("model: {input_shape: [1, 9], layers: [Conv1d: {out_channels: 2, kernel_size: 3, padding: full}]}", "y.yaml"); }),
                       "key 'padding': expected an integer, 'same' or 'valid', got 'full'"));
}
