// LibTorch programs ported by replacing `torch::` with `cnnkit::` and <torch/torch.h> with
// <cnnkit/cnnkit.h>: the MNIST example's Net, a TORCH_MODULE / TORCH_ARG custom module,
// functional calls through `namespace F`, all under `using namespace cnnkit;`. This file
// checks that such code compiles and behaves; the layers' numbers are tested elsewhere.
#include <gtest/gtest.h>

#include <cnnkit/cnnkit.h>

#include <sstream>

using namespace cnnkit;
namespace F = cnnkit::nn::functional;

namespace {

// pytorch/examples cpp/mnist, with torch:: replaced.
struct Net : cnnkit::nn::Module {
  Net()
      : conv1(cnnkit::nn::Conv2dOptions(1, 10, /*kernel_size=*/5)),
        conv2(cnnkit::nn::Conv2dOptions(10, 20, /*kernel_size=*/5)),
        fc1(320, 50),
        fc2(50, 10) {
    register_module("conv1", conv1);
    register_module("conv2", conv2);
    register_module("conv2_drop", conv2_drop);
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }

  cnnkit::Tensor forward(cnnkit::Tensor x) {
    x = cnnkit::relu(cnnkit::max_pool2d(conv1->forward(x), 2));
    x = cnnkit::relu(cnnkit::max_pool2d(conv2_drop->forward(conv2->forward(x)), 2));
    x = x.view({-1, 320});
    x = cnnkit::relu(fc1->forward(x));
    x = cnnkit::dropout(x, /*p=*/0.5, /*training=*/is_training());
    x = fc2->forward(x);
    return cnnkit::log_softmax(x, /*dim=*/1);
  }

  cnnkit::nn::Conv2d conv1;
  cnnkit::nn::Conv2d conv2;
  cnnkit::nn::Dropout2d conv2_drop;
  cnnkit::nn::Linear fc1;
  cnnkit::nn::Linear fc2;
};

// A residual block with its own options struct, in the TORCH_ARG / TORCH_MODULE style.
struct BlockOptions {
  BlockOptions(int64_t channels) : channels_(channels) {}  // NOLINT
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(double, negative_slope) = 0.1;
  TORCH_ARG(bool, batch_norm) = true;
};

struct BlockImpl : nn::Module {
  explicit BlockImpl(const BlockOptions& o) : options(o) {
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(o.channels(), o.channels(), 3)
                                                  .padding(1)
                                                  .bias(!o.batch_norm())
                                                  .padding_mode(cnnkit::kReplicate)));
    if (o.batch_norm()) bn = register_module("bn", nn::BatchNorm2d(o.channels()));
    act = register_module("act", nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(o.negative_slope())));
  }
  Tensor forward(const Tensor& x) {
    Tensor h = conv(x);
    if (!bn.is_empty()) h = bn(h);
    return act(h) + x;
  }
  BlockOptions options;
  nn::Conv2d conv{nullptr};
  nn::BatchNorm2d bn{nullptr};
  nn::LeakyReLU act{nullptr};
};
TORCH_MODULE(Block);

struct ModelImpl : nn::Module {
  ModelImpl() {
    stem = register_module("stem", nn::Sequential(nn::Conv2d(3, 8, 3), nn::ReLU()));
    blocks = register_module("blocks", nn::ModuleList(Block(8), Block(BlockOptions(8).batch_norm(false))));
    head = register_module("head", nn::Sequential(nn::AdaptiveAvgPool2d(1), nn::Flatten(), nn::Linear(8, 4)));
    for (auto& m : modules(/*include_self=*/false))
      if (auto* conv = m->as<nn::Conv2d>()) nn::init::kaiming_normal_(conv->weight, 0.0, cnnkit::kFanOut, cnnkit::kReLU);
  }
  Tensor forward(Tensor x) {
    x = stem->forward(x);
    for (const auto& block : *blocks) x = block->as<Block>()->forward(x);
    return F::log_softmax(head->forward(x), F::LogSoftmaxFuncOptions(1));
  }
  nn::Sequential stem{nullptr};
  nn::ModuleList blocks{nullptr};
  nn::Sequential head{nullptr};
};
TORCH_MODULE(Model);

}  // namespace

TEST(LibTorchPort, MnistNetRunsAndSwitchesModes) {
  auto model = std::make_shared<Net>();
  EXPECT_EQ(model->parameters().size(), 8u);
  Tensor out = model->forward(cnnkit::randn({4, 1, 28, 28}));
  EXPECT_EQ(out.sizes(), IntArrayRef({4, 10}));
  // log-probabilities: each row's exp sums to 1
  Tensor sums = out.exp().sum(1);
  for (float s : sums.to_vector()) EXPECT_NEAR(s, 1.f, 1e-5f);
  model->eval();
  EXPECT_FALSE(model->conv2_drop->is_training());
  cnnkit::NoGradGuard no_grad;
  Tensor a = model->forward(cnnkit::ones({1, 1, 28, 28}));
  Tensor b = model->forward(cnnkit::ones({1, 1, 28, 28}));
  EXPECT_TRUE(a.equal(b));  // no dropout in eval
  EXPECT_FALSE(a.requires_grad());
}

TEST(LibTorchPort, CustomModulesOptionsAndContainers) {
  Model model;
  EXPECT_EQ(model->named_parameters().keys(),
            (std::vector<std::string>{"stem.0.weight", "stem.0.bias", "blocks.0.conv.weight", "blocks.0.bn.weight",
                                      "blocks.0.bn.bias", "blocks.1.conv.weight", "blocks.1.conv.bias",
                                      "head.2.weight", "head.2.bias"}));
  Tensor y = model->forward(cnnkit::randn({2, 3, 10, 10}));
  EXPECT_EQ(y.sizes(), IntArrayRef({2, 4}));
  y.sum().backward();
  for (const auto& p : model->parameters()) EXPECT_TRUE(p.grad().defined());
  std::ostringstream os;
  os << model;
  EXPECT_NE(os.str().find("(blocks): cnnkit::nn::ModuleList(\n    (0): (anonymous namespace)::BlockImpl(\n"),
            std::string::npos)
      << os.str();
  EXPECT_NE(os.str().find("padding_mode=kReplicate"), std::string::npos);
  // state dicts move between two instances.
  Model other;
  other->load_state_dict(model->state_dict());
  model->eval();
  other->eval();
  Tensor x = cnnkit::randn({1, 3, 10, 10});
  EXPECT_TRUE(model->forward(x).equal(other->forward(x)));
}
