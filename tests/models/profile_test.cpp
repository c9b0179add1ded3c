// models::profile_layers (`cnnkit info --profile`): one row per child of the Sequential (a
// BasicBlock is one), positive times whose shares sum to 100%, the heavy layer on top, and
// the model left as it was (gradients, running statistics, train/eval flags, the generator).
#include <gtest/gtest.h>

#include "cnnkit/cnnkit.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::contains;
using cnnkit::test::message_of;

namespace {

TEST(Profile, SharesSumToHundredAndTimesArePositive) {
  manual_seed(0);
  nn::Sequential net = models::lenet5();
  const models::LayerProfile p = models::profile_layers(*net, randn({8, 1, 28, 28}), /*steps=*/3);
  ASSERT_EQ(p.layers.size(), net->size());
  const models::ModelSummary s = models::summary(*net, {8, 1, 28, 28});
  double shares = 0, fwd = 0, bwd = 0;
  for (size_t i = 0; i < p.layers.size(); ++i) {
    const models::LayerTiming& t = p.layers[i];
    EXPECT_GT(t.forward_ms, 0) << t.name;
    EXPECT_GT(t.backward_ms, 0) << t.name;  // child 0 too: its weights want gradients
    EXPECT_GT(t.share, 0) << t.name;
    shares += t.share;
    fwd += t.forward_ms;
    bwd += t.backward_ms;
    // The summary's columns for the same child.
    EXPECT_EQ(t.name, s.rows[i].name);
    EXPECT_EQ(t.output_shape, s.rows[i].output_shape);
    EXPECT_EQ(t.params, s.rows[i].params);
    EXPECT_EQ(t.flops, s.rows[i].flops);
  }
  EXPECT_NEAR(shares, 100.0, 0.5);
  EXPECT_NEAR(p.forward_ms, fwd, 1e-9);
  EXPECT_NEAR(p.backward_ms, bwd, 1e-9);
  EXPECT_EQ(p.steps, 3);
  EXPECT_EQ(p.warmup, 2);
  EXPECT_EQ(p.input_shape, (std::vector<int64_t>{8, 1, 28, 28}));
}

TEST(Profile, AWideConvTakesTheLargestShare) {
#if defined(CNNKIT_ASAN)
  // AddressSanitizer slows the instrumented element-wise loops many times over, and not
  // oneDNN's JIT-generated convolutions: shares measured there say nothing.
  GTEST_SKIP() << "timing shares are meaningless under AddressSanitizer";
#endif
  // One thread: with two, a core taken by another process (ctest -j2, a build) stalls
  // OpenMP's barriers and can inflate any layer's time many times over.
  const int threads = get_num_threads();
  set_num_threads(1);
  manual_seed(0);
  // ~0.34 GFLOP of convolution forward (twice that backward) against element-wise layers.
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(32, 128, 3).padding(1)), nn::ReLU(), nn::Flatten());
  const models::LayerProfile p = models::profile_layers(*net, randn({8, 32, 24, 24}), 5);
  set_num_threads(threads);
  ASSERT_EQ(p.layers.size(), 3u);
  EXPECT_EQ(p.layers[0].type, "Conv2d");
  EXPECT_EQ(p.layers[1].type, "ReLU");
  EXPECT_GT(p.layers[0].share, p.layers[1].share) << p.table();
  EXPECT_GT(p.layers[0].share, p.layers[2].share) << p.table();
}

TEST(Profile, ANestedBlockIsOneRow) {
  manual_seed(0);
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(3, 8, 3).padding(1)), models::BasicBlock(8, 8), nn::Flatten(),
                     nn::Linear(8 * 8 * 8, 4));
  const models::LayerProfile p = models::profile_layers(*net, randn({2, 3, 8, 8}), 2, 1);
  ASSERT_EQ(p.layers.size(), 4u);
  EXPECT_EQ(p.layers[1].type, "BasicBlock");
  EXPECT_EQ(p.layers[1].name, "1");
  EXPECT_EQ(p.layers[1].params, 2 * 8 * 8 * 9 + 4 * 8);  // two 3x3 convolutions without bias, two batch norms
  EXPECT_GT(p.layers[1].backward_ms, 0);
}

TEST(Profile, TheModelIsLeftAsItWas) {
  manual_seed(0);
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(1, 4, 3)), nn::BatchNorm2d(4), nn::ReLU(), nn::Dropout(0.5),
                     nn::Flatten(), nn::Linear(4 * 6 * 6, 3));
  // Gradients from a step of the user's own, the model in eval mode, the generator somewhere.
  nn::functional::cross_entropy(net->forward(randn({2, 1, 8, 8})), tensor(std::vector<int64_t>{0, 2})).backward();
  net->eval();
  std::vector<Tensor> grads;
  for (const Tensor& q : net->parameters()) grads.push_back(q.grad().clone());
  std::vector<Tensor> buffers;
  for (const auto& item : net->named_buffers()) buffers.push_back(item.value().clone());
  std::vector<Tensor> weights;
  for (const Tensor& q : net->parameters()) weights.push_back(q.clone());
  const std::string rng = default_generator().state();

  Generator gen(5);
  models::profile_layers(*net, randn({16, 1, 8, 8}, gen), 2);

  size_t i = 0;
  for (const Tensor& q : net->parameters()) {
    EXPECT_TRUE(q.grad().equal(grads[i])) << "gradient " << i;
    EXPECT_TRUE(q.equal(weights[i])) << "parameter " << i;
    ++i;
  }
  i = 0;
  for (const auto& item : net->named_buffers()) EXPECT_TRUE(item.value().equal(buffers[i++])) << item.key();
  net->apply([](nn::Module& m) { EXPECT_FALSE(m.is_training()) << m.name(); });
  EXPECT_EQ(default_generator().state(), rng);

  // Parameters without gradients stay without.
  net->zero_grad(/*set_to_none=*/true);
  models::profile_layers(*net, randn({4, 1, 8, 8}), 1, 0);
  for (const Tensor& q : net->parameters()) EXPECT_FALSE(q.grad().defined());
}

TEST(Profile, TableHasTheColumnsAndATotal) {
  manual_seed(0);
  nn::Sequential net = models::lenet5();
  const std::string t = models::profile_layers(*net, randn({4, 1, 28, 28}), 1).table();
  for (const char* column : {"Layer (type)", "Output shape", "Params", "FLOPs", "Forward ms", "Backward ms", "Share"})
    EXPECT_TRUE(contains(t, column)) << column << "\n" << t;
  EXPECT_TRUE(contains(t, "Total")) << t;
  EXPECT_TRUE(contains(t, "61,706")) << t;  // LeNet-5's parameters, on the total row
  EXPECT_TRUE(contains(t, "100.0%")) << t;
  EXPECT_TRUE(contains(t, "medians of 1 steps after 2 warm-up steps")) << t;
}

TEST(Profile, BadArgumentsAreNamed) {
  nn::Linear lin(2, 2);
  EXPECT_TRUE(contains(message_of([&] { models::profile_layers(*lin, randn({1, 2})); }), "pass an nn::Sequential"));
  nn::Sequential net(nn::Linear(2, 2));
  EXPECT_TRUE(contains(message_of([&] { models::profile_layers(*net, randn({1, 2}), 0); }), "steps must be at least 1"));
  EXPECT_TRUE(contains(message_of([&] { models::profile_layers(*net, randn({1, 3})); }), "0 (Linear)"));
}

}  // namespace
