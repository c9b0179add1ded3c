// The distributed layer as one process (no mpirun): the autograd hooks DDP is built on, the
// reducer's buckets and gradient weights, and SyncBatchNorm's arithmetic, which with one rank
// must equal BatchNorm's. tests/mpi/ runs the same with two processes.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cnnkit/cnnkit.h"

namespace {

using namespace cnnkit;

void expect_close(const Tensor& a, const Tensor& b, double tol, const char* what) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  ASSERT_EQ(x.size(), y.size()) << what;
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], tol * std::max(1.0f, std::fabs(y[i]))) << what << " [" << i << "]";
}

TEST(AutogradHooks, PostAccumulateHookSeesTheSummedGradientOnce) {
  Tensor w = tensor({1.0f, 2.0f}).requires_grad_();
  Tensor unused = tensor({3.0f}).requires_grad_();
  std::vector<std::vector<float>> seen;
  int unused_calls = 0;
  auto h = autograd::register_post_accumulate_grad_hook(w, [&](const Tensor& p) { seen.push_back(p.grad().to_vector()); });
  autograd::register_post_accumulate_grad_hook(unused, [&](const Tensor&) { ++unused_calls; });
  ((w * 3.0).sum() + (w * w).sum()).backward();  // two uses of w: one call with 3 + 2w
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::vector<float>({5.0f, 7.0f}));
  EXPECT_EQ(unused_calls, 0);
  autograd::remove_hook(h);
  (w * 2.0).sum().backward();
  EXPECT_EQ(seen.size(), 1u);  // removed
}

TEST(AutogradHooks, QueuedCallbacksRunAfterTheGraphInOrder) {
  Tensor a = tensor({1.0f}).requires_grad_();
  Tensor b = tensor({2.0f}).requires_grad_();
  std::vector<std::string> events;
  for (Tensor* t : {&a, &b}) {
    const std::string name = t == &a ? "a" : "b";
    autograd::register_post_accumulate_grad_hook(*t, [&events, name](const Tensor&) {
      events.push_back("hook " + name);
      if (name == "a" || name == "b")
        autograd::queue_callback([&events, name] { events.push_back("callback " + name); });
    });
  }
  (a * b).sum().backward();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].substr(0, 4), "hook");
  EXPECT_EQ(events[1].substr(0, 4), "hook");
  EXPECT_EQ(events[2], "callback " + events[0].substr(5));  // callbacks in the order queued
  EXPECT_EQ(events[3], "callback " + events[1].substr(5));
  EXPECT_THROW(autograd::queue_callback([] {}), ValueError);  // no backward running
}

nn::Sequential small_net() {
  manual_seed(5);
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(2, 4, 3)), nn::ReLU(), nn::Flatten(), nn::Linear(4 * 4 * 4, 3));
}

TEST(DistributedDataParallel, OneProcessLeavesGradientsAsBackwardMadeThem) {
  ASSERT_FALSE(distributed::is_initialized());
  nn::Sequential ref = small_net(), net = small_net();
  distributed::DistributedDataParallel ddp(net, distributed::DistributedDataParallelOptions().bucket_cap_mb(0.0005));
  const Tensor x = randn({5, 2, 6, 6});
  ref->forward(x).pow(2).sum().backward();
  ddp.forward(x).pow(2).sum().backward();
  const auto pr = ref->parameters(), pn = net->parameters();
  for (size_t i = 0; i < pr.size(); ++i) expect_close(pn[i].grad(), pr[i].grad(), 1e-6, "gradient");
  EXPECT_EQ(ddp.stats().steps, 1);
  int64_t numel = 0;
  for (const Tensor& p : pn) numel += p.numel();
  EXPECT_EQ(ddp.stats().bytes_per_step, numel * 4);
}

TEST(DistributedDataParallel, BucketsInReverseOrderUnderTheCap) {
  nn::Sequential net = small_net();  // parameters: conv.w (72), conv.b (4), fc.w (192), fc.b (3)
  distributed::DistributedDataParallel ddp(net, distributed::DistributedDataParallelOptions().bucket_cap_mb(196.0 * 4 / (1024 * 1024)));
  const auto buckets = ddp.bucket_assignment();
  // Reverse order: fc.b (3) + fc.w (192) fit 196 floats, conv.b (4) does not: it and conv.w go next.
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0], std::vector<size_t>({3, 2}));
  EXPECT_EQ(buckets[1], std::vector<size_t>({1, 0}));
}

TEST(DistributedDataParallel, GradientWeightSkipStepAndNoSync) {
  nn::Sequential ref = small_net(), net = small_net();
  distributed::DistributedDataParallel ddp(net);
  const Tensor x = randn({4, 2, 6, 6});
  ref->forward(x).sum().backward();
  ddp.set_gradient_weight(0.25);
  net->forward(x).sum().backward();
  const auto pr = ref->parameters(), pn = net->parameters();
  for (size_t i = 0; i < pr.size(); ++i) expect_close(pn[i].grad(), pr[i].grad() * 0.25, 1e-6, "weighted gradient");

  for (Tensor& p : net->parameters()) p.mutable_grad() = Tensor();
  ddp.skip_step();  // a rank without examples: zeros of its own
  for (const Tensor& p : net->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    for (float v : p.grad().to_vector()) ASSERT_EQ(v, 0.0f);
  }

  ddp.set_gradient_weight(1.0);
  for (Tensor& p : net->parameters()) p.mutable_grad() = Tensor();
  {
    auto guard = ddp.no_sync();
    net->forward(x).sum().backward();  // accumulates locally
  }
  const int64_t steps = ddp.stats().steps;
  net->forward(x).sum().backward();    // reduces the sum of both
  EXPECT_EQ(ddp.stats().steps, steps + 1);
  for (size_t i = 0; i < pr.size(); ++i) expect_close(pn[i].grad(), pr[i].grad() * 2.0, 1e-5, "accumulated gradient");
  EXPECT_THROW(ddp.set_gradient_weight(1.5), ValueError);
}

TEST(SyncBatchNorm, OneRankEqualsBatchNorm) {
  manual_seed(9);
  nn::BatchNorm2d plain(nn::BatchNorm2dOptions(3).momentum(0.2));
  nn::BatchNorm2d synced(nn::BatchNorm2dOptions(3).momentum(0.2));
  plain->weight.data().copy_(tensor({0.5f, 1.5f, -1.0f}));
  synced->weight.data().copy_(tensor({0.5f, 1.5f, -1.0f}));
  plain->bias.data().copy_(tensor({0.1f, 0.0f, 2.0f}));
  synced->bias.data().copy_(tensor({0.1f, 0.0f, 2.0f}));
  EXPECT_EQ(distributed::convert_sync_batchnorm(*synced), 1);
  EXPECT_TRUE(distributed::uses_sync_batchnorm(*synced));
  EXPECT_FALSE(distributed::uses_sync_batchnorm(*plain));
  std::ostringstream os;
  os << *synced;
  EXPECT_NE(os.str().find("SyncBatchNorm"), std::string::npos);

  Tensor x1 = (randn({4, 3, 5, 5}) * 3.0 + 7.0).requires_grad_();  // a mean far from 0
  Tensor x2 = x1.detach().clone().requires_grad_();
  const Tensor g = randn({4, 3, 5, 5});
  Tensor y1 = plain->forward(x1), y2 = synced->forward(x2);
  expect_close(y2, y1, 1e-5, "output");
  (y1 * g).sum().backward();
  (y2 * g).sum().backward();
  expect_close(x2.grad(), x1.grad(), 1e-4, "input gradient");
  expect_close(synced->weight.grad(), plain->weight.grad(), 1e-4, "weight gradient");
  expect_close(synced->bias.grad(), plain->bias.grad(), 1e-4, "bias gradient");
  expect_close(synced->running_mean, plain->running_mean, 1e-5, "running_mean");
  expect_close(synced->running_var, plain->running_var, 1e-5, "running_var");
  synced->eval();
  plain->eval();
  expect_close(synced->forward(x2.detach()), plain->forward(x1.detach()), 1e-5, "eval output");
  EXPECT_EQ(distributed::revert_sync_batchnorm(*synced), 1);
  EXPECT_FALSE(distributed::uses_sync_batchnorm(*synced));
}

TEST(ProcessGroup, OneProcessWithoutInit) {
  EXPECT_EQ(distributed::get_rank(), 0);
  EXPECT_EQ(distributed::get_world_size(), 1);
  Tensor t = tensor({1.0f, 2.0f});
  distributed::all_reduce(t);
  EXPECT_EQ(t.to_vector(), std::vector<float>({1.0f, 2.0f}));
  EXPECT_EQ(distributed::all_gather_object("abc"), std::vector<std::string>({"abc"}));
  EXPECT_THROW(distributed::broadcast(t, 1), ValueError);
  Tensor strided = randn({3, 4}).t();
  EXPECT_THROW(distributed::all_reduce(strided), distributed::DistributedError);
  EXPECT_THROW(distributed::init_process_group("nccl"), ValueError);
}

}  // namespace
