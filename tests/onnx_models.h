// The models the ONNX tests export: the zoo's LeNet-5, ResNet-20 and MobileNet-style net,
// and one model per layer family with non-default options (stride, padding modes,
// dilation, groups, ceil_mode, count_include_pad, ...). Weights are seeded and batch-norm
// running statistics made non-trivial, so that an exporter that dropped one would show.
#pragma once

#include <string>
#include <vector>

#include "cnnkit/cnnkit.h"

namespace cnnkit::test {

struct OnnxCase {
  std::string name;
  nn::Sequential model;
  std::vector<int64_t> input;  // (N, C, H, W), or (N, C, L) for 1-d models
};

// A few training-mode forwards on random data, so running means and variances are not 0 / 1,
// and non-default affine parameters.
inline void perturb(nn::Module& m, const std::vector<int64_t>& input) {
  manual_seed(7);
  NoGradGuard no_grad;
  for (auto& p : m.named_parameters())
    if (p.key().find("weight") == std::string::npos || p.value().dim() == 1) p.value().add_(randn(p.value().sizes()) * 0.1);
  m.train();
  for (int i = 0; i < 3; ++i) {
    auto* seq = dynamic_cast<nn::SequentialImpl*>(&m);
    if (seq) seq->forward(randn(input) * 2.0 + 0.5);
  }
  m.eval();
}

inline std::vector<OnnxCase> onnx_cases() {
  using namespace nn;
  manual_seed(0);
  std::vector<OnnxCase> cases;
  cases.push_back({"lenet5", models::lenet5({.in_channels = 1}), {3, 1, 28, 28}});
  cases.push_back({"resnet20", models::resnet20({.num_classes = 10}), {2, 3, 32, 32}});
  cases.push_back({"mobilenet", models::make("mobilenet_small", models::ZooOptions{.num_classes = 10}), {2, 3, 32, 32}});
  cases.push_back({"vgg_small", models::vgg_small({.num_classes = 5, .width = 8}), {2, 3, 32, 32}});
  cases.push_back({"resnet18", models::resnet18({.num_classes = 5, .width = 8}), {2, 3, 64, 64}});
  {
    nn::Sequential a = models::resnet20({.num_classes = 4, .width = 4, .blocks = {1, 1, 1}});
    nn::Sequential b = models::lenet5({.in_channels = 3, .num_classes = 4, .input_size = {32, 32}});
    perturb(*a, {2, 3, 32, 32});
    nn::Ensemble mean(std::vector<AnyModule>{AnyModule(a), AnyModule(b)}, EnsembleOptions("mean"));
    nn::Ensemble stack(std::vector<AnyModule>{AnyModule(a), AnyModule(b)}, EnsembleOptions("stacking").num_classes(4));
    cases.push_back({"ensemble_mean", Sequential(mean), {2, 3, 32, 32}});
    cases.push_back({"ensemble_stacking", Sequential(stack), {2, 3, 32, 32}});
  }
  cases.push_back({"conv",
                   Sequential(Conv2d(Conv2dOptions(4, 6, {3, 2}).stride({2, 1}).padding({1, 2}).dilation({2, 1}).groups(2)),
                              Conv2d(Conv2dOptions(6, 6, 3).padding(1).padding_mode(kReflect).bias(false)),
                              Conv2d(Conv2dOptions(6, 4, 3).padding(kSame).padding_mode(kReplicate)),
                              Conv2d(Conv2dOptions(4, 4, {4, 3}).padding(kSame).dilation(2)),
                              Conv2d(Conv2dOptions(4, 4, 3).groups(4).padding(kValid))),
                   {2, 4, 11, 12}});
  cases.push_back({"conv1d",  // input (N, C, L)
                   Sequential(Conv1d(Conv1dOptions(4, 6, 3).stride(2).padding(1).dilation(2).groups(2)),
                              MaxPool1d(MaxPool1dOptions(3).stride(2).padding(1).ceil_mode(true)),
                              Conv1d(Conv1dOptions(6, 6, 3).padding(1).padding_mode(kReflect).bias(false)),
                              AvgPool1d(AvgPool1dOptions(3).stride(1).padding(1).count_include_pad(false)),
                              Conv1d(Conv1dOptions(6, 4, 4).padding(kSame).padding_mode(kReplicate)),
                              AdaptiveAvgPool1d(4), AdaptiveMaxPool1d(1), Flatten(), Linear(4, 3)),
                   {2, 4, 31}});
  cases.push_back({"padding",
                   Sequential(ReflectionPad2d(ReflectionPad2dOptions({1, 2, 0, 1})), Conv2d(Conv2dOptions(4, 8, 3)),
                              PixelUnshuffle(2), ConstantPad2d(ConstantPad2dOptions({1, 0, 0, 1}, 0.5)), ZeroPad2d(1),
                              ReplicationPad2d(ReplicationPad2dOptions({0, 1, 1, 0})), PixelShuffle(2), Flatten(),
                              Unflatten(1, std::vector<int64_t>{8, -1})),
                   {2, 4, 9, 9}});
  cases.push_back({"conv_transpose",
                   Sequential(ConvTranspose2d(ConvTranspose2dOptions(4, 6, 3).stride(2).padding(1).output_padding(1)),
                              ConvTranspose2d(ConvTranspose2dOptions(6, 4, {2, 3}).stride({1, 2}).groups(2).dilation({2, 1})),
                              ConvTranspose2d(ConvTranspose2dOptions(4, 3, 1).bias(false))),
                   {2, 4, 5, 6}});
  cases.push_back({"upsample",
                   Sequential(Conv2d(Conv2dOptions(3, 4, 3)), Upsample(UpsampleOptions().scale_factor(std::vector<double>{2})),
                              Conv2d(Conv2dOptions(4, 4, 3)),
                              Upsample(UpsampleOptions().size(std::vector<int64_t>{13, 9}).mode(kBilinear)),
                              Upsample(UpsampleOptions().scale_factor(std::vector<double>{1.5, 2}).mode(kBilinear)
                                           .align_corners(true)),
                              Upsample(UpsampleOptions().size(std::vector<int64_t>{20, 20}))),
                   {2, 3, 8, 8}});
  cases.push_back({"activations",
                   Sequential(ReLU(), LeakyReLU(LeakyReLUOptions().negative_slope(0.2)), PReLU(PReLUOptions().num_parameters(3)),
                              ELU(ELUOptions().alpha(0.5)), SELU(), Sigmoid(), Hardsigmoid(), Tanh(), Hardswish(),
                              Softplus(SoftplusOptions().beta(2)), ReLU6(), Hardtanh(HardtanhOptions().min_val(-2).max_val(3)),
                              GELU(), GELU(GELUOptions().approximate("tanh")), Mish(), SiLU(), LogSigmoid(),
                              Softmax(1), LogSoftmax(1)),
                   {2, 3, 5, 6}});
  cases.push_back({"pooling",
                   Sequential(MaxPool2d(MaxPool2dOptions(3).stride(2).padding(1).ceil_mode(true)),
                              AvgPool2d(AvgPool2dOptions(3).stride(1).padding(1).count_include_pad(false)),
                              AvgPool2d(AvgPool2dOptions({2, 3}).stride({1, 2}).padding({1, 1})),
                              MaxPool2d(MaxPool2dOptions(2).stride(1).dilation(2)),
                              AdaptiveAvgPool2d(AdaptiveAvgPool2dOptions({2, 1}))),
                   {2, 3, 13, 14}});
  cases.push_back({"global_pool",
                   Sequential(AdaptiveMaxPool2d(AdaptiveMaxPool2dOptions(1)), Flatten(), Linear(3, 5)),
                   {2, 3, 7, 5}});
  cases.push_back({"norms",
                   Sequential(BatchNorm2d(4), InstanceNorm2d(InstanceNorm2dOptions(4).affine(true)),
                              GroupNorm(2, 4), LayerNorm(LayerNormOptions({4, 5, 6})),
                              LayerNorm(LayerNormOptions({6}).elementwise_affine(false)), Flatten(),
                              Linear(120, 8), BatchNorm1d(8)),
                   {3, 4, 5, 6}});
  cases.push_back({"linear",
                   Sequential(Dropout(0.3), Dropout2d(0.2), Identity(), Flatten(FlattenOptions().start_dim(2)),
                              Linear(20, 7), Flatten(), Linear(LinearOptions(21, 4).bias(false))),
                   {2, 3, 4, 5}});
  for (auto& c : cases) perturb(*c.model, c.input);
  return cases;
}

}  // namespace cnnkit::test
