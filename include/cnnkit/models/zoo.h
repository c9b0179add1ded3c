// The model zoo: LeNet-5, a VGG-style net, CIFAR ResNets (ResNet-20 and smaller), the
// ImageNet ResNet-18, and a MobileNet-v1-style depthwise-separable net. Each is an
// nn::Sequential of named children, so state-dict keys are PyTorch's (resnet18's equal
// torchvision's: conv1.weight, bn1.running_mean, layer1.0.conv1.weight, ..., fc.bias) and
// the forward is just the layers' own forwards. Weights use PyTorch's default init.
//
//   auto net = models::resnet20({.num_classes = 10});           // CIFAR, input (N, 3, 32, 32)
//   auto small = models::resnet20({.width = 8, .blocks = {1, 1, 1}});   // a "resnet8"
//   auto lenet = models::make("lenet5", models::ZooOptions{.in_channels = 1});
//   Tensor logits = net->forward(x);
//
// Intended usage: make(name, options) for configs and the CLI (names in zoo_names());
// the typed functions from C++. Zero-valued options mean "the model's own default".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/cloneable.h"
#include "cnnkit/nn/modules/activation.h"
#include "cnnkit/nn/modules/container/sequential.h"
#include "cnnkit/nn/modules/conv.h"
#include "cnnkit/nn/modules/normalization.h"

namespace cnnkit::models {

// Options of every zoo model; 0 / empty means the model's default (listed per model).
struct ZooOptions {
  int64_t in_channels = 0;           // lenet5: 1; others: 3
  int64_t num_classes = 0;           // resnet18: 1000; others: 10
  std::vector<int64_t> input_size{}; // (H, W); only lenet5 needs it (flatten size): 28x28
  int64_t width = 0;                 // base channels: vgg 32, resnet20 16, resnet18 64, mobilenet 32
  std::vector<int64_t> blocks{};     // BasicBlocks per stage: resnet20 {3, 3, 3}, resnet18 {2, 2, 2, 2}
};

// torchvision's BasicBlock: conv3x3(stride)-BN-ReLU-conv3x3-BN, plus the shortcut (identity,
// or `downsample` = 1x1 conv(stride, no bias) + BN when stride != 1 or the channels
// change), then ReLU. Children conv1, bn1, relu, conv2, bn2[, downsample], as torchvision.
// x (N, in_planes, H, W) -> (N, planes, H / stride, W / stride). forward runs bn1 + relu and
// bn2 + residual sum + relu each as BatchNorm2d::forward_relu (one kernel in training where
// the layout allows; nn::sequential_rewrites() off, or a summary observing: the ops as written).
class BasicBlockImpl : public nn::Cloneable<BasicBlockImpl> {
 public:
  BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride = 1);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& x);

  int64_t in_planes;
  int64_t planes;
  int64_t stride;
  nn::Conv2d conv1{nullptr};
  nn::BatchNorm2d bn1{nullptr};
  nn::ReLU relu{nullptr};
  nn::Conv2d conv2{nullptr};
  nn::BatchNorm2d bn2{nullptr};
  nn::Sequential downsample{nullptr};  // empty when the shortcut is the identity
};
CNNKIT_MODULE(BasicBlock);

// A residual block from any layers: y = activation(body(x) + shortcut(x)); an empty
// shortcut is the identity, an empty activation is none. Children body[, shortcut][,
// activation]. The config builder makes these from `Residual: {body, shortcut, activation}`.
class ResidualImpl : public nn::Cloneable<ResidualImpl> {
 public:
  explicit ResidualImpl(nn::Sequential body, nn::Sequential shortcut = nullptr,
                        nn::AnyModule activation = {});
  void reset() override;
  std::shared_ptr<nn::Module> clone(const std::optional<Device>& device = std::nullopt) const override;
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& x);

  nn::Sequential body{nullptr};
  nn::Sequential shortcut{nullptr};
  nn::AnyModule activation;
};
CNNKIT_MODULE(Residual);

// BENCH.md's LeNet-5: Conv2d(C, 6, 5, padding=2), ReLU, MaxPool2d(2), Conv2d(6, 16, 5), ReLU,
// MaxPool2d(2), Flatten, Linear(16*h*w, 120), ReLU, Linear(120, 84), ReLU, Linear(84, classes);
// children "0".."11" as PyTorch's nn.Sequential. h, w follow input_size (5x5 for 28x28).
nn::Sequential lenet5(const ZooOptions& options = {});

// VGG-style: three stages of two (conv3x3 + BN + ReLU) and a 2x2 max pool, widths w, 2w, 4w;
// then AdaptiveAvgPool2d(1), Flatten, Linear(4w, classes). Children features.*, avgpool,
// flatten, classifier. Any input size >= 8x8.
nn::Sequential vgg_small(const ZooOptions& options = {});

// CIFAR ResNet (He et al. 2016, section 4.2): conv3x3(C -> w) + BN + ReLU, stages of
// BasicBlocks with widths w, 2w, 4w, ... (stride 2 at the start of every stage but the
// first), AdaptiveAvgPool2d(1), Linear. Default w = 16, blocks {3, 3, 3} = ResNet-20;
// {1, 1, 1} = ResNet-8, {2, 2, 2} = ResNet-14. Children conv1, bn1, relu, layer1.., avgpool,
// flatten, fc.
nn::Sequential resnet20(const ZooOptions& options = {});

// torchvision's resnet18: conv 7x7 stride 2 (no bias) + BN + ReLU, MaxPool2d(3, 2, 1), four
// stages of two BasicBlocks (64, 128, 256, 512), AdaptiveAvgPool2d(1), Flatten, fc. Same
// state-dict keys and shapes as torchvision.models.resnet18().
nn::Sequential resnet18(const ZooOptions& options = {});

// MobileNet-v1-style: conv3x3(C -> w) + BN + ReLU, then depthwise-separable blocks (depthwise
// 3x3 conv with groups = channels, no bias, + BN + ReLU; pointwise 1x1 conv, no bias, + BN +
// ReLU): w->2w, 2w->4w (s2), 4w->4w, 4w->8w (s2), 8w->8w, 8w->16w (s2); AdaptiveAvgPool2d(1),
// Flatten, Linear(16w, classes). Children features.*, avgpool, flatten, classifier.
nn::Sequential mobilenet_small(const ZooOptions& options = {});

// A zoo model by name: "lenet5" (or "lenet", "lenet-5"), "vgg_small" ("vgg-style", "vgg"),
// "resnet20" ("resnet-20"; "resnet8", "resnet14", "resnet32", "resnet44", "resnet56" set
// blocks), "resnet18", "mobilenet_small" ("mobilenet-style", "mobilenet"). Unknown name ->
// ValueError naming the known ones.
nn::Sequential make(const std::string& name, const ZooOptions& options = {});

// The canonical names accepted by make().
std::vector<std::string> zoo_names();

}  // namespace cnnkit::models
