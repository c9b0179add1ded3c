// models::optimize_for_inference: batch norm folded into convolutions, ReLU and residual sums
// as oneDNN post-ops. The optimised copy must give the eval-mode network's outputs (1e-5
// relative, float rounding of the folded weights), NaN where it gives NaN, leave the network
// alone, and fall back to the modules as written wherever a rewrite does not apply.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/models/inference.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"
#include "kernels/conv.h"
#include "kernels/onednn.h"
#include "kernels/winograd.h"
#include "test_util.h"

namespace cnnkit {
namespace {

// Gives every batch norm statistics and affine parameters far from the identity, so that a
// fold that forgot one of them shows.
void randomise_batch_norms(nn::Module& net, uint64_t seed) {
  Generator g(seed);
  NoGradGuard no_grad;
  for (const auto& m : net.modules()) {
    auto* bn = m->as<nn::BatchNorm2dImpl>();
    if (!bn) continue;
    const int64_t C = bn->options.num_features();
    if (bn->running_mean.defined()) bn->running_mean.copy_(randn({C}, g) * 0.5);
    if (bn->running_var.defined()) bn->running_var.copy_(rand({C}, g) * 2.0 + 0.2);
    if (bn->weight.defined()) bn->weight.copy_(randn({C}, g) * 0.5 + 1.0);
    if (bn->bias.defined()) bn->bias.copy_(randn({C}, g) * 0.3);
  }
}

std::string printed(const nn::Module& m) {
  std::ostringstream s;
  s << m;
  return s.str();
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// The eval-mode outputs of net and of its optimised copy on x, without autograd.
std::pair<Tensor, Tensor> both(nn::Sequential& net, const Tensor& x) {
  nn::Sequential fast = models::optimize_for_inference(net);
  NoGradGuard no_grad;
  const bool was_training = net->is_training();
  net->eval();
  Tensor expected = net->forward(x).contiguous();
  net->train(was_training);
  return {fast->forward(x).contiguous(), expected};
}

::testing::AssertionResult close(const Tensor& actual, const Tensor& expected) {
  const double scale = expected.abs().max().item<double>();
  return test::allclose(actual, expected, 1e-5, 1e-5 * scale);
}

TEST(OptimizeForInference, ResNet20GivesTheEvalModeOutputsWithEveryBlockFused) {
  manual_seed(0);
  nn::Sequential net = models::resnet20();
  randomise_batch_norms(*net, 1);
  nn::Sequential fast = models::optimize_for_inference(net);
  const std::string s = printed(*fast);
  EXPECT_EQ(count(s, "FusedResidual"), 9u) << s;          // every BasicBlock
  EXPECT_EQ(count(s, "BatchNorm2d folded"), 19u + 2u) << s;  // 19 convs + 2 downsample convs
  EXPECT_EQ(count(s, "cnnkit::nn::BatchNorm2d"), 0u) << s;
  EXPECT_FALSE(fast->is_training());
  EXPECT_TRUE(net->is_training()) << "the original's mode is left alone";
  for (int64_t batch : {1, 5}) {
    Generator g(7 + batch);
    const auto [actual, expected] = both(net, randn({batch, 3, 32, 32}, g));
    EXPECT_TRUE(close(actual, expected)) << "batch " << batch;
  }
}

TEST(OptimizeForInference, SequentialPatternsAndWhatIsLeftAsWritten) {
  manual_seed(2);
  nn::Sequential inner(nn::Conv2d(nn::Conv2dOptions(8, 8, 3).padding(1)), nn::ReLU());  // conv + ReLU
  nn::Sequential net(
      nn::Conv2d(nn::Conv2dOptions(3, 8, 3).padding(1)),                      // with bias
      nn::BatchNorm2d(nn::BatchNorm2dOptions(8).affine(false)), nn::ReLU(),    // BN without affine
      inner,
      nn::Conv2d(nn::Conv2dOptions(8, 8, 3).padding(1).padding_mode(kReflect)),  // not fused
      nn::BatchNorm2d(8),
      nn::Conv2d(nn::Conv2dOptions(8, 6, 3).stride(2).dilation(2).padding(2).bias(false)),
      nn::BatchNorm2d(nn::BatchNorm2dOptions(6).track_running_stats(false)),  // batch statistics: kept
      nn::ReLU(), nn::MaxPool2d(2),
      nn::Conv2d(nn::Conv2dOptions(6, 4, 1).groups(2)), nn::BatchNorm2d(4),    // grouped 1x1 + BN, no ReLU
      nn::Flatten(), nn::Linear(4 * 4 * 4, 3));
  randomise_batch_norms(*net, 3);
  const std::string s = printed(*models::optimize_for_inference(net));
  EXPECT_EQ(count(s, "FusedConv2d"), 3u) << s;
  EXPECT_EQ(count(s, "cnnkit::nn::BatchNorm2d"), 2u) << s;  // after the reflect conv; batch statistics
  Generator g(4);
  const auto [actual, expected] = both(net, randn({3, 3, 16, 16}, g));
  EXPECT_TRUE(close(actual, expected));
}

TEST(OptimizeForInference, ResidualBlocksFromTheConfigBuilderFuseTheirSum) {
  manual_seed(5);
  models::Residual block(nn::Sequential(nn::Conv2d(nn::Conv2dOptions(4, 4, 3).padding(1).bias(false)),
                                        nn::BatchNorm2d(4), nn::ReLU(),
                                        nn::Conv2d(nn::Conv2dOptions(4, 4, 3).padding(1)), nn::BatchNorm2d(4)),
                         nn::Sequential(nn::Conv2d(nn::Conv2dOptions(4, 4, 1)), nn::BatchNorm2d(4)),
                         nn::AnyModule(nn::ReLU()));
  models::Residual no_activation(nn::Sequential(nn::Conv2d(nn::Conv2dOptions(4, 4, 3).padding(1))));
  models::Residual tanh_after(nn::Sequential(nn::Conv2d(nn::Conv2dOptions(4, 4, 3).padding(1))), nullptr,
                              nn::AnyModule(nn::Tanh()));  // not fusable: kept as written
  nn::Sequential net(block, no_activation, tanh_after);
  randomise_batch_norms(*net, 6);
  const std::string s = printed(*models::optimize_for_inference(net));
  EXPECT_EQ(count(s, "FusedResidual"), 2u) << s;
  EXPECT_EQ(count(s, "cnnkit::models::Residual"), 1u) << s;
  Generator g(8);
  const auto [actual, expected] = both(net, randn({2, 4, 9, 7}, g));
  EXPECT_TRUE(close(actual, expected));
}

TEST(OptimizeForInference, NaNStaysNaNAndGradModeAndTheSwitchGiveTheSameValues) {
  manual_seed(9);
  nn::Sequential net = models::resnet20({.width = 8, .blocks = {1, 1, 1}});
  randomise_batch_norms(*net, 10);
  Generator g(11);
  Tensor x = randn({2, 3, 32, 32}, g);
  x.index_put_({1, 0, 5, 5}, std::nanf(""));
  const auto [actual, expected] = both(net, x);
  EXPECT_TRUE(isnan(actual).equal(isnan(expected)));
  EXPECT_TRUE(isnan(actual[1]).all().item<bool>()) << "the NaN reaches every logit of its image";
  EXPECT_FALSE(isnan(actual[0]).any().item<bool>());
  EXPECT_TRUE(close(actual[0], expected[0]));

  // When a gradient is wanted (an input that requires grad: saliency, adversarial examples)
  // the fused modules run their ops as written: the same values, and a gradient flows.
  nn::Sequential fast = models::optimize_for_inference(net);
  Tensor in = x[0].unsqueeze(0).clone().set_requires_grad(true);
  Tensor with_grad = fast->forward(in);
  ASSERT_TRUE(with_grad.requires_grad());
  EXPECT_TRUE(close(with_grad.detach().squeeze(0), expected[0]));
  with_grad.sum().backward();
  ASSERT_TRUE(in.grad().defined());
  EXPECT_GT(in.grad().abs().sum().item<double>(), 0.0);

  // CNNKIT_FUSE=0's switch: an unfused eval-mode copy.
  nn::set_sequential_rewrites(false);
  const std::string s = printed(*models::optimize_for_inference(net));
  nn::set_sequential_rewrites(true);
  EXPECT_EQ(count(s, "Fused"), 0u) << s;
  EXPECT_EQ(count(s, "cnnkit::models::BasicBlock"), 3u) << s;
}

TEST(OptimizeForInference, WeightsArePackedIntoThePrimitivesLayoutOnce) {
  // The folded convolutions reorder their constant weights into the primitive's layout on
  // the first forward and keep them: later forwards run no weight reorders, with the values
  // of the reordering path. (Winograd off: on AVX2 it would take this 3x3 convolution, with
  // weights of its own; tests/ops/winograd_test.cpp.)
  kernels::winograd::set_enabled(false);
  struct On {
    ~On() { kernels::winograd::set_enabled(true); }
  } on;
  Generator g(5);
  NoGradGuard no_grad;
  const Tensor x = randn({2, 16, 10, 10}, g), w = randn({32, 16, 3, 3}, g) * 0.1, b = randn({32}, g);
  const Tensor ref = conv2d_fused(x, w, b, 1, 1, 1, 1, Tensor(), true);
  kernels::PackedWeights packed;
  const Tensor first = detail::conv2d_fused_packed(x, w, b, 1, 1, 1, 1, Tensor(), true, &packed);
  const size_t layouts = packed.layouts();
  EXPECT_EQ(layouts, 1u);  // x86 jit convolutions take their weights blocked (OIhw16o, ...)
  kernels::onednn::reset_reorder_count();
  const Tensor again = detail::conv2d_fused_packed(x, w, b, 1, 1, 1, 1, Tensor(), true, &packed);
  const uint64_t packed_reorders = kernels::onednn::reorder_count();
  kernels::onednn::reset_reorder_count();
  const Tensor unpacked = conv2d_fused(x, w, b, 1, 1, 1, 1, Tensor(), true);
  const uint64_t unpacked_reorders = kernels::onednn::reorder_count();
  EXPECT_EQ(packed.layouts(), layouts);
  EXPECT_EQ(unpacked_reorders - packed_reorders, layouts);  // the weight reorder, once per call
  EXPECT_TRUE(test::allclose(first, ref, 0, 0));
  EXPECT_TRUE(test::allclose(again, ref, 0, 0));
  EXPECT_TRUE(test::allclose(unpacked, ref, 0, 0));
}

}  // namespace
}  // namespace cnnkit
