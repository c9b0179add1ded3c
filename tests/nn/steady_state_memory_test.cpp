// A training step in a steady state takes every tensor buffer it needs from the caching
// allocator: over ten steps after warm-up, no block comes from the system allocator and
// nothing is left behind (LeNet-5 with SGD + momentum, a ResNet with batch norm and Adam,
// each with and without kept oneDNN layouts).
#include <gtest/gtest.h>

#include <functional>
#include <cmath>
#include <memory>

#include "cnnkit/core/memory.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"
#include "cnnkit/optim/optim.h"
#include "kernels/onednn.h"

namespace cnnkit {
namespace {

struct StepCounts {
  uint64_t system_allocations = 0;
  uint64_t allocations = 0;
  int64_t held_bytes_change = 0;
};

StepCounts steady_state(nn::Sequential net, optim::Optimizer& opt, IntArrayRef input) {
  Generator g(3);
  const Tensor x = randn(input, g);
  const Tensor y = randint(10, {input[0]});  // manual_seed by the caller
  nn::CrossEntropyLoss loss_fn;
  auto step = [&] {
    opt.zero_grad();
    Tensor loss = loss_fn(net->forward(x), y);
    loss.backward();
    opt.step();
    return loss.item<float>();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: optimizer state, primitives, free lists
  const MemoryStats before = memory_stats();
  float last = 0;
  for (int i = 0; i < 10; ++i) last = step();
  const MemoryStats after = memory_stats();
  EXPECT_TRUE(std::isfinite(last));
  return {after.system_allocations - before.system_allocations, after.allocations - before.allocations,
          static_cast<int64_t>(after.allocated_bytes) - static_cast<int64_t>(before.allocated_bytes)};
}

class SteadyState : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
#if defined(CNNKIT_ASAN)
    GTEST_SKIP() << "AddressSanitizer builds bypass the cache";
#endif
    kernels::onednn::set_keep_layouts(GetParam());
  }
  void TearDown() override { kernels::onednn::set_keep_layouts(true); }
};

TEST_P(SteadyState, LeNetWithSgdMomentumAllocatesNothingFromTheSystem) {
  manual_seed(1);
  nn::Sequential net = models::lenet5(models::ZooOptions{.in_channels = 1});
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.01).momentum(0.9).weight_decay(5e-4));
  const StepCounts c = steady_state(net, opt, {32, 1, 28, 28});
  EXPECT_EQ(c.system_allocations, 0u) << "of " << c.allocations << " blocks over 10 steps";
  EXPECT_EQ(c.held_bytes_change, 0);
  // The counter sees system allocations when there is no cache to serve them.
  set_memory_cache_limit(0);
  const StepCounts uncached = steady_state(net, opt, {32, 1, 28, 28});
  set_memory_cache_limit(size_t{1} << 30);
  EXPECT_GE(uncached.system_allocations, uncached.allocations / 2);
}

TEST_P(SteadyState, ResNetWithBatchNormAndAdamAllocatesNothingFromTheSystem) {
  manual_seed(2);
  nn::Sequential net = models::resnet20(models::ZooOptions{.in_channels = 1, .width = 8, .blocks = {1, 1, 1}});
  optim::Adam opt(net->parameters(), optim::AdamOptions(1e-3));
  const StepCounts c = steady_state(net, opt, {16, 1, 28, 28});
  EXPECT_EQ(c.system_allocations, 0u) << "of " << c.allocations << " blocks over 10 steps";
  EXPECT_EQ(c.held_bytes_change, 0);
}

INSTANTIATE_TEST_SUITE_P(Layouts, SteadyState, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Kept" : "Plain"; });

}  // namespace
}  // namespace cnnkit
