// Models built from YAML: zoo names, layer lists with inferred channels, every layer's
// arguments, nesting (Residual, Sequential, BasicBlock), and errors that name file:line.
#include "cnnkit/models/builder.h"

#include <gtest/gtest.h>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::models;
using cnnkit::test::contains;

namespace {

nn::Sequential build_text(const std::string& text, const std::vector<int64_t>& shape = {}) {
  return build_from_yaml(text, "configs/x.yaml", shape);
}

template <class E>
std::string thrown(const std::string& text, const std::vector<int64_t>& shape = {}) {
  try {
    build_text(text, shape);
  } catch (const E& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

int64_t count_params(nn::Module& m) {
  int64_t n = 0;
  for (const Tensor& p : m.parameters()) n += p.numel();
  return n;
}

std::vector<std::string> keys(nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& item : m.state_dict()) out.push_back(item.key());
  return out;
}

const char* kLeNet = R"(
model:
  input_shape: [1, 28, 28]
  layers:
    - Conv2d: {out_channels: 6, kernel_size: 5, padding: 2}
    - ReLU
    - MaxPool2d: {kernel_size: 2}
    - Conv2d: {out_channels: 16, kernel_size: 5}
    - ReLU
    - MaxPool2d: {kernel_size: 2}
    - Flatten
    - Linear: {out_features: 120}
    - ReLU
    - Linear: {out_features: 84}
    - ReLU
    - Linear: {out_features: 10}
)";

}  // namespace

TEST(Builder, LeNet5FromLayersInfersChannelsAndEqualsZooModel) {
  nn::Sequential net = build_text(kLeNet);
  nn::Sequential zoo = lenet5();
  EXPECT_EQ(count_params(*net), 61706);
  EXPECT_EQ(keys(*net), keys(*zoo));
  EXPECT_EQ(net->ptr<nn::LinearImpl>(7)->options.in_features(), 400);
  EXPECT_TRUE(net->is_training());
  // Same weights, same numbers.
  net->load_state_dict(zoo->state_dict());
  NoGradGuard no_grad;
  Tensor x = test::seq({2, 1, 28, 28});
  EXPECT_TRUE(test::allclose(net->forward(x), zoo->forward(x), 0, 0));
}

TEST(Builder, InputShapeFromCallerWhenSectionHasNone) {
  std::string text = kLeNet;
  text.erase(text.find("  input_shape: [1, 28, 28]\n"), 27);
  nn::Sequential net = build_text(text, {1, 28, 28});
  EXPECT_EQ(count_params(*net), 61706);
  // Without any input shape, the first conv's in_channels cannot be inferred.
  std::string msg = thrown<ValueError>(text);
  EXPECT_TRUE(contains(msg, "configs/x.yaml:4: layer 0 (Conv2d): cannot infer 'in_channels'")) << msg;
}

TEST(Builder, WithoutInputShapeChannelsFollowTheLastLayerThatFixesThem) {
  nn::Sequential net = build_text(R"(
model:
  layers:
    - Conv2d: {in_channels: 3, out_channels: 8, kernel_size: 3}
    - BatchNorm2d
    - ReLU
    - BasicBlock: {planes: 16, stride: 2}
    - GroupNorm: {num_groups: 4}
    - AdaptiveAvgPool2d: {output_size: 1}
    - Flatten
    - Linear: {in_features: 16, out_features: 5}
    - BatchNorm1d
)");
  EXPECT_EQ(net->ptr<nn::BatchNorm2dImpl>(1)->options.num_features(), 8);
  EXPECT_EQ(net->ptr<BasicBlockImpl>(3)->in_planes, 8);
  EXPECT_EQ(net->ptr<nn::GroupNormImpl>(4)->options.num_channels(), 16);
  EXPECT_EQ(net->ptr<nn::BatchNorm1dImpl>(8)->options.num_features(), 5);
  // After Flatten the feature count is unknown without a shape.
  std::string msg = thrown<ValueError>(R"(
model:
  layers:
    - Conv2d: {in_channels: 3, out_channels: 8, kernel_size: 3}
    - Flatten
    - Linear: {out_features: 5}
)");
  EXPECT_TRUE(contains(msg, "configs/x.yaml:6: layer 2 (Linear): cannot infer 'in_features'")) << msg;
}

TEST(Builder, ZooModelsWithOptions) {
  nn::Sequential r20 = build_text("model:\n  zoo: resnet20\n  num_classes: 10\n");
  EXPECT_EQ(count_params(*r20), 272474);
  nn::Sequential r8 = build_text("model:\n  zoo: resnet20\n  blocks: [1, 1, 1]\n  width: 8\n", {3, 32, 32});
  EXPECT_EQ(r8->ptr<nn::SequentialImpl>(3)->size(), 1u);
  // lenet5 takes its input channels and flatten size from the input shape.
  nn::Sequential lenet = build_text("model: {zoo: lenet5}", {3, 32, 32});
  EXPECT_EQ(lenet->ptr<nn::Conv2dImpl>(0)->options.in_channels(), 3);
  EXPECT_EQ(lenet->ptr<nn::LinearImpl>(7)->options.in_features(), 576);
  EXPECT_EQ(thrown<ValueError>("model:\n  zoo: resnet19\n").rfind("configs/x.yaml:2: models::make: unknown model 'resnet19'", 0), 0u);
  std::string msg = thrown<ShapeError>("model:\n  zoo: resnet20\n  in_channels: 1\n", {3, 32, 32});
  EXPECT_TRUE(contains(msg, "configs/x.yaml:2: zoo model 'resnet20' does not accept the input shape [1, 3, 32, 32]"))
      << msg;
}

TEST(Builder, SectionErrors) {
  EXPECT_EQ(thrown<ValueError>("model:\n  zoo: lenet5\n  layers: [ReLU]\n"),
            "configs/x.yaml:2: model: give either 'zoo' or 'layers', not both");
  EXPECT_EQ(thrown<ValueError>("model:\n  input_shape: [1, 2, 2]\n"),
            "configs/x.yaml:2: model: missing 'zoo' (a zoo model name) or 'layers' (a list of layers)");
  EXPECT_TRUE(contains(thrown<ValueError>("model:\n  layers: [ReLU]\n  num_classes: 3\n"),
                       "configs/x.yaml:3: model: 'num_classes' is an option of zoo models"));
  EXPECT_TRUE(contains(thrown<ValueError>("model:\n  zooo: lenet5\n"), "did you mean 'zoo'?"));
  EXPECT_TRUE(contains(thrown<ValueError>("model:\n  layers: []\n"), "expected a non-empty list of layers"));
  EXPECT_TRUE(contains(thrown<ValueError>("model:\n  layers: [ReLU]\n  input_shape: [1, 0]\n"),
                       "input_shape must hold positive sizes"));
  EXPECT_THROW(build(io::ConfigNode()), ValueError);
}

TEST(Builder, UnknownLayerArgumentAndTypeNameFileAndLine) {
  std::string msg = thrown<ValueError>(R"(
model:
  layers:
    - Comv2d: {in_channels: 1, out_channels: 6, kernel_size: 5}
)");
  EXPECT_EQ(msg.rfind("configs/x.yaml:4: unknown layer 'Comv2d' (known: Conv1d, Conv2d, ConvTranspose2d, Linear,", 0), 0u)
      << msg;
  EXPECT_TRUE(contains(msg, "did you mean 'Conv2d'?")) << msg;

  msg = thrown<ValueError>(R"(
model:
  layers:
    - ReLU
    - Conv2d: {in_channels: 1, out_channel: 6, kernel_size: 5}
)");
  EXPECT_EQ(msg.rfind("configs/x.yaml:5: unknown key 'out_channel' in layer 1 (Conv2d) (allowed: in_channels, "
                      "out_channels, kernel_size,", 0), 0u) << msg;
  EXPECT_TRUE(contains(msg, "did you mean 'out_channels'?")) << msg;

  EXPECT_EQ(thrown<ValueError>(R"(
model:
  layers:
    - Conv2d: {in_channels: 1, out_channels: 6, kernel_size: five}
)"), "configs/x.yaml:4: key 'kernel_size': expected an integer or a list of 2 integers, got 'five'");
  EXPECT_EQ(thrown<ValueError>("model:\n  layers:\n    - Linear: {in_features: 3}\n"),
            "configs/x.yaml:3: missing required key 'out_features' in layer 0 (Linear)");
  EXPECT_TRUE(contains(thrown<ValueError>("model:\n  layers:\n    - Conv2d: {in_channels: 1, out_channels: 2, "
                                          "kernel_size: 3, padding: full}\n"),
                       "key 'padding': expected an integer, a list of 2 integers, 'same' or 'valid', got 'full'"));
  EXPECT_TRUE(contains(thrown<ValueError>("model:\n  layers:\n    - Conv2d: {in_channels: 1, out_channels: 2, "
                                          "kernel_size: 3, padding_mode: mirror}\n"),
                       "key 'padding_mode': expected one of zeros, reflect, replicate, circular, got 'mirror'"));
  EXPECT_TRUE(contains(thrown<ValueError>("model:\n  layers:\n    - [ReLU, Tanh]\n"),
                       "configs/x.yaml:3: layer 0: expected a layer name"));
  EXPECT_TRUE(contains(thrown<ValueError>("model:\n  layers:\n    - ReLU: [1]\n"),
                       "layer 0 (ReLU): expected a mapping of arguments"));
  EXPECT_TRUE(contains(thrown<ValueError>("model:\n  layers:\n    - MaxPool2d: {kernel_size: 2, return_indices: true}\n"),
                       "return_indices: true is not supported"));
  // The layer's own option checks (groups must divide the channels) come with file:line.
  msg = thrown<ValueError>("model:\n  layers:\n    - Conv2d: {in_channels: 3, out_channels: 4, kernel_size: 3, groups: 2}\n");
  EXPECT_EQ(msg.rfind("configs/x.yaml:3: layer 0 (Conv2d): ", 0), 0u) << msg;
}

TEST(Builder, ShapeMismatchFoundByTheDryForward) {
  std::string text = kLeNet;
  text.replace(text.find("- Linear: {out_features: 120}"), 29, "- Linear: {in_features: 400, out_features: 120}");
  EXPECT_NO_THROW(build_text(text, {1, 32, 32}));  // the section's own input_shape wins: 28x28 fits
  // A 32x32 input gives 16 x 6 x 6 = 576 features.
  text.erase(text.find("  input_shape: [1, 28, 28]\n"), 27);
  EXPECT_EQ(thrown<ShapeError>(text, {1, 32, 32}),
            "configs/x.yaml:11: layer 7 (Linear): expects 400 input features, the previous layer gives 576 "
            "(shape [1, 576] with batch 1)");
  EXPECT_EQ(thrown<ShapeError>("model:\n  layers:\n    - Conv2d: {in_channels: 3, out_channels: 4, kernel_size: 3}\n",
                               {1, 8, 8}),
            "configs/x.yaml:3: layer 0 (Conv2d): expects 3 input channels, the previous layer gives 1 "
            "(shape [1, 1, 8, 8] with batch 1)");
  EXPECT_TRUE(contains(thrown<ShapeError>("model:\n  layers:\n    - BatchNorm2d: {num_features: 4}\n", {3, 8, 8}),
                       "layer 0 (BatchNorm2d): expects 4 channels (num_features), the previous layer gives 3"));
  // Anything else the forward rejects: the layer's own message with the input shape.
  std::string msg = thrown<ShapeError>("model:\n  layers:\n    - MaxPool2d: {kernel_size: 5}\n", {1, 3, 3});
  EXPECT_EQ(msg.rfind("configs/x.yaml:3: layer 0 (MaxPool2d): fails on the input [1, 1, 3, 3] (batch 1): ", 0), 0u)
      << msg;
}

TEST(Builder, ResidualAndNestedSequential) {
  nn::Sequential net = build_text(R"(
model:
  input_shape: [3, 8, 8]
  layers:
    - Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
    - Residual:
        body: [{Conv2d: {out_channels: 4, kernel_size: 3, padding: 1, bias: false}}, BatchNorm2d, ReLU]
        activation: ReLU
    - Residual:
        body:
          - Conv2d: {out_channels: 8, kernel_size: 3, stride: 2, padding: 1}
        shortcut:
          - Conv2d: {out_channels: 8, kernel_size: 1, stride: 2}
    - Sequential: [AdaptiveAvgPool2d: {output_size: 1}, Flatten]
    - Linear: {out_features: 2}
)");
  auto k = keys(*net);
  EXPECT_EQ(k, (std::vector<std::string>{"0.weight", "0.bias", "1.body.0.weight", "1.body.1.weight", "1.body.1.bias",
                                          "1.body.1.running_mean", "1.body.1.running_var",
                                          "1.body.1.num_batches_tracked", "2.body.0.weight", "2.body.0.bias",
                                          "2.shortcut.0.weight", "2.shortcut.0.bias", "4.weight", "4.bias"}));
  NoGradGuard no_grad;
  EXPECT_EQ(net->forward(zeros({2, 3, 8, 8})).sizes().vec(), (std::vector<int64_t>{2, 2}));
  // y = relu(body(x) + x) on known weights: body = conv 1x1 with weight 1 -> relu(2x).
  nn::Sequential res = build_text(R"(
model:
  layers:
    - Residual: {body: [{Conv2d: {in_channels: 1, out_channels: 1, kernel_size: 1, bias: false}}], activation: ReLU}
)");
  res->ptr<ResidualImpl>(0)->body->ptr<nn::Conv2dImpl>(0)->weight.data().fill_(1.0);
  EXPECT_TRUE(test::allclose(res->forward(test::lit({-1.0f, 3.0f}, {1, 1, 1, 2})), std::vector<float>{0.0f, 6.0f}, 0, 0));

  std::string msg = thrown<ShapeError>(R"(
model:
  input_shape: [3, 8, 8]
  layers:
    - Residual:
        body: [{Conv2d: {out_channels: 8, kernel_size: 3, stride: 2, padding: 1}}]
)");
  EXPECT_EQ(msg.rfind("configs/x.yaml:5: layer 0 (Residual): the body gives [1, 8, 4, 4], the shortcut gives "
                      "[1, 3, 8, 8]", 0), 0u) << msg;
  EXPECT_TRUE(contains(thrown<ValueError>("model:\n  layers:\n    - Residual: {shortcut: [ReLU]}\n"),
                       "missing required key 'body' in layer 0 (Residual)"));
  // Errors inside nested lists name the nested path.
  msg = thrown<ValueError>("model:\n  layers:\n    - Residual:\n        body: [ReLU, Conv4d]\n");
  EXPECT_TRUE(contains(msg, "configs/x.yaml:4: unknown layer 'Conv4d'")) << msg;
  msg = thrown<ValueError>("model:\n  layers:\n    - Sequential: [ReLU, {Linear: {out_features: 2}}]\n");
  EXPECT_TRUE(contains(msg, "layer 0.1 (Linear): cannot infer 'in_features'")) << msg;
}

TEST(Builder, ConvAndPoolArgumentsUsePyTorchNamesAndDefaults) {
  nn::Sequential net = build_text(R"(
model:
  layers:
    - Conv2d: {in_channels: 4, out_channels: 8, kernel_size: [3, 5], padding: same,
               dilation: 2, groups: 2, bias: false, padding_mode: reflect}
    - Conv2d: {in_channels: 8, out_channels: 8, kernel_size: 3, padding: valid}
    - Conv2d: {in_channels: 8, out_channels: 8, kernel_size: 3, stride: [1, 2], padding: [1, 2]}
    - Conv2d: {in_channels: 8, out_channels: 8, kernel_size: 3}
    - MaxPool2d: {kernel_size: 3, padding: 1, dilation: 1, ceil_mode: true}
    - MaxPool2d: {kernel_size: 2, stride: 1}
    - AvgPool2d: {kernel_size: [2, 3], count_include_pad: false, divisor_override: 4}
    - AdaptiveMaxPool2d: {output_size: [2, null]}
    - AdaptiveAvgPool2d: {output_size: [3, 4]}
)");
  auto c0 = net->ptr<nn::Conv2dImpl>(0);
  EXPECT_EQ(*c0->options.kernel_size(), (std::array<int64_t, 2>{3, 5}));
  EXPECT_TRUE(std::holds_alternative<enumtype::kSame>(c0->options.padding()));
  EXPECT_EQ(*c0->options.dilation(), (std::array<int64_t, 2>{2, 2}));
  EXPECT_EQ(c0->options.groups(), 2);
  EXPECT_FALSE(c0->bias.defined());
  EXPECT_TRUE(std::holds_alternative<enumtype::kReflect>(c0->options.padding_mode()));
  EXPECT_EQ(c0->weight.sizes().vec(), (std::vector<int64_t>{8, 2, 3, 5}));
  EXPECT_TRUE(std::holds_alternative<enumtype::kValid>(net->ptr<nn::Conv2dImpl>(1)->options.padding()));
  EXPECT_EQ(*std::get<ExpandingArray<2>>(net->ptr<nn::Conv2dImpl>(2)->options.padding()),
            (std::array<int64_t, 2>{1, 2}));
  EXPECT_EQ(*net->ptr<nn::Conv2dImpl>(2)->options.stride(), (std::array<int64_t, 2>{1, 2}));
  auto c3 = net->ptr<nn::Conv2dImpl>(3);  // PyTorch's defaults
  EXPECT_EQ(*c3->options.stride(), (std::array<int64_t, 2>{1, 1}));
  EXPECT_EQ(*std::get<ExpandingArray<2>>(c3->options.padding()), (std::array<int64_t, 2>{0, 0}));
  EXPECT_TRUE(c3->bias.defined());
  EXPECT_TRUE(std::holds_alternative<enumtype::kZeros>(c3->options.padding_mode()));
  auto p4 = net->ptr<nn::MaxPool2dImpl>(4);
  EXPECT_EQ(*p4->options.stride(), (std::array<int64_t, 2>{3, 3}));  // stride defaults to kernel_size
  EXPECT_TRUE(p4->options.ceil_mode());
  EXPECT_EQ(*net->ptr<nn::MaxPool2dImpl>(5)->options.stride(), (std::array<int64_t, 2>{1, 1}));
  auto a6 = net->ptr<nn::AvgPool2dImpl>(6);
  EXPECT_EQ(*a6->options.stride(), (std::array<int64_t, 2>{2, 3}));
  EXPECT_FALSE(a6->options.count_include_pad());
  EXPECT_EQ(a6->options.divisor_override(), std::optional<int64_t>(4));
  NoGradGuard no_grad;
  EXPECT_EQ(net->ptr<nn::AdaptiveMaxPool2dImpl>(7)->forward(zeros({1, 2, 5, 7})).sizes().vec(),
            (std::vector<int64_t>{1, 2, 2, 7}));
}

TEST(Builder, NormActivationAndOtherArguments) {
  nn::Sequential net = build_text(R"(
model:
  input_shape: [4, 6, 6]
  layers:
    - BatchNorm2d: {eps: 0.001, momentum: null, affine: false, track_running_stats: true}
    - InstanceNorm2d: {affine: true}
    - GroupNorm: {num_groups: 2, eps: 0.01}
    - LeakyReLU: {negative_slope: 0.2}
    - ELU: {alpha: 0.5}
    - PReLU: {num_parameters: 4, init: 0.1}
    - GELU: {approximate: tanh}
    - Hardtanh: {min_val: -2, max_val: 2}
    - Softplus: {beta: 2}
    - SiLU
    - Mish: {inplace: true}
    - Hardswish
    - Hardsigmoid
    - ReLU6
    - SELU
    - Sigmoid
    - Tanh
    - Dropout2d: {p: 0.1}
    - Identity
    - LayerNorm: {normalized_shape: [6, 6], elementwise_affine: false}
    - Flatten: {start_dim: 1, end_dim: -1}
    - Dropout
    - Linear: {out_features: 3, bias: false}
    - BatchNorm1d
    - Softmax
    - LogSoftmax: {dim: -1}
)");
  auto bn = net->ptr<nn::BatchNorm2dImpl>(0);
  EXPECT_EQ(bn->options.num_features(), 4);
  EXPECT_DOUBLE_EQ(bn->options.eps(), 1e-3);
  EXPECT_FALSE(bn->options.momentum().has_value());
  EXPECT_FALSE(bn->options.affine());
  auto in = net->ptr<nn::InstanceNorm2dImpl>(1);
  EXPECT_TRUE(in->options.affine());
  EXPECT_FALSE(in->options.track_running_stats());
  EXPECT_EQ(net->ptr<nn::GroupNormImpl>(2)->options.num_channels(), 4);
  EXPECT_DOUBLE_EQ(net->ptr<nn::LeakyReLUImpl>(3)->options.negative_slope(), 0.2);
  EXPECT_DOUBLE_EQ(net->ptr<nn::ELUImpl>(4)->options.alpha(), 0.5);
  EXPECT_EQ(net->ptr<nn::PReLUImpl>(5)->options.num_parameters(), 4);
  EXPECT_EQ(net->ptr<nn::GELUImpl>(6)->options.approximate(), "tanh");
  EXPECT_DOUBLE_EQ(net->ptr<nn::HardtanhImpl>(7)->options.min_val(), -2.0);
  EXPECT_DOUBLE_EQ(net->ptr<nn::SoftplusImpl>(8)->options.beta(), 2.0);
  EXPECT_DOUBLE_EQ(net->ptr<nn::Dropout2dImpl>(17)->options.p(), 0.1);
  EXPECT_EQ(net->ptr<nn::LayerNormImpl>(19)->options.normalized_shape(), (std::vector<int64_t>{6, 6}));
  EXPECT_DOUBLE_EQ(net->ptr<nn::DropoutImpl>(21)->options.p(), 0.5);
  EXPECT_EQ(net->ptr<nn::LinearImpl>(22)->options.in_features(), 144);
  EXPECT_FALSE(net->ptr<nn::LinearImpl>(22)->bias.defined());
  EXPECT_EQ(net->ptr<nn::BatchNorm1dImpl>(23)->options.num_features(), 3);
  EXPECT_EQ(net->ptr<nn::SoftmaxImpl>(24)->options.dim(), 1);
  EXPECT_EQ(net->ptr<nn::LogSoftmaxImpl>(25)->options.dim(), -1);
  EXPECT_TRUE(contains(thrown<ValueError>("model:\n  layers:\n    - GELU: {approximate: fast}\n"),
                       "layer 0 (GELU): gelu: approximate: expected 'none' or 'tanh', got 'fast'"));
  EXPECT_TRUE(contains(thrown<ValueError>("model:\n  layers:\n    - Dropout: {p: high}\n"),
                       "key 'p': expected a number, got 'high'"));
}

