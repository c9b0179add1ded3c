// Where a residual connection's branches meet in the backward, the engine offers the gradient
// already summed for an input (autograd::detail::pending_grad) to the node that runs last, and
// a convolution computing its input gradient with the Winograd or direct kernel adds it in the
// kernel's epilogue instead of a separate add. The sums are the same floats added in the same
// pairs (a + b = b + a exactly), so the gradients must be the same bits with and without.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "autograd/record.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/ops/ops.h"
#include "kernels/winograd.h"

namespace cnnkit {
namespace {

namespace ad = autograd::detail;

// Bit-for-bit equality (NaN equal to the same NaN).
::testing::AssertionResult same_bits(const Tensor& got, const Tensor& want, const std::string& what) {
  const Tensor g = got.contiguous(), w = want.contiguous();
  if (g.sizes() != w.sizes()) return ::testing::AssertionFailure() << what << ": shapes differ";
  if (std::memcmp(g.data_ptr<float>(), w.data_ptr<float>(), static_cast<size_t>(g.numel()) * sizeof(float)) != 0) {
    const float* a = g.data_ptr<float>();
    const float* b = w.data_ptr<float>();
    for (int64_t i = 0; i < g.numel(); ++i)
      if (std::memcmp(a + i, b + i, sizeof(float)) != 0)
        return ::testing::AssertionFailure() << what << ": element " << i << " is " << a[i] << ", want " << b[i];
  }
  return ::testing::AssertionSuccess();
}

struct Offer {  // the engine's offer, on or off for one scope
  explicit Offer(bool on) { ad::set_pending_grads_offered(on); }
  ~Offer() { ad::set_pending_grads_offered(true); }
};

// x0 -> conv_a -> x (a kept layout) -> conv_b(x) + conv_c(x): conv_b's backward runs last and
// finds conv_c's input gradient waiting for x.
struct Diamond {
  Tensor x0, wa, wb, wc, gy;
  explicit Diamond(int64_t C, uint64_t seed, float odd = 0.0f) {
    Generator g(seed);
    x0 = randn({2, C, 12, 10}, g).requires_grad_(true);
    wa = (randn({C, C, 3, 3}, g) * 0.2).requires_grad_(true);
    wb = (randn({C, C, 3, 3}, g) * 0.2).requires_grad_(true);
    wc = (randn({C, C, 3, 3}, g) * 0.2).requires_grad_(true);
    gy = randn({2, C, 12, 10}, g);
    if (odd != 0.0f) gy.data_ptr<float>()[7 * 10 + 3] = odd;
  }
  // The leaves' gradients after one backward, and the pending gradients the pass took.
  std::vector<Tensor> run(bool offer, uint64_t* taken) {
    Offer scope(offer);
    for (Tensor* t : {&x0, &wa, &wb, &wc}) t->mutable_grad() = Tensor();
    const Tensor x = conv2d(x0, wa, Tensor(), 1, 1);
    const Tensor y = conv2d(x, wb, Tensor(), 1, 1) + conv2d(x, wc, Tensor(), 1, 1);
    const uint64_t before = ad::pending_grads_taken();
    y.backward(gy);
    *taken = ad::pending_grads_taken() - before;
    return {x0.grad().contiguous(), wa.grad().contiguous(), wb.grad().contiguous(), wc.grad().contiguous()};
  }
};

TEST(GradSum, ConvolutionAddsTheWaitingGradientInItsEpilogue) {
  for (int64_t C : {16, 32}) {
    for (float odd : {0.0f, std::nanf(""), -std::numeric_limits<float>::infinity()}) {
      SCOPED_TRACE(std::to_string(C) + " channels, odd value " + std::to_string(odd));
      Diamond d(C, 40 + static_cast<uint64_t>(C), odd);
      const uint64_t wino_before = kernels::winograd::calls();
      uint64_t taken_on = 0, taken_off = 0;
      const std::vector<Tensor> fused = d.run(true, &taken_on);
      if (kernels::winograd::calls() == wino_before)
        GTEST_SKIP() << "oneDNN chose no blocked layout on this CPU: the Winograd kernel was not used";
      EXPECT_EQ(taken_on, 1u) << "conv_b's input gradient summed with conv_c's";
      const std::vector<Tensor> apart = d.run(false, &taken_off);
      EXPECT_EQ(taken_off, 0u);
      const char* names[] = {"x0", "conv_a weight", "conv_b weight", "conv_c weight"};
      for (size_t i = 0; i < fused.size(); ++i) EXPECT_TRUE(same_bits(fused[i], apart[i], names[i]));
      if (odd != 0.0f) {
        EXPECT_TRUE(fused[0].isfinite().logical_not().any().item<bool>());
      }
    }
  }
}

// y = conv_c(conv_b(x) + x): the waiting gradient is the very tensor conv_b's backward reads
// as its output gradient (the add passes one gradient, conv_c's kept input gradient, to both
// of its inputs).
TEST(GradSum, TheWaitingGradientMayBeTheOutputGradientItself) {
  Diamond d(16, 60);
  std::vector<Tensor> got[2];
  uint64_t taken[2] = {0, 0};
  for (int offer : {1, 0}) {
    Offer scope(offer == 1);
    for (Tensor* t : {&d.x0, &d.wa, &d.wb, &d.wc}) t->mutable_grad() = Tensor();
    const Tensor x = conv2d(d.x0, d.wa, Tensor(), 1, 1);
    const Tensor y = conv2d(conv2d(x, d.wb, Tensor(), 1, 1) + x, d.wc, Tensor(), 1, 1);
    const uint64_t before = ad::pending_grads_taken();
    y.backward(d.gy);
    taken[offer] = ad::pending_grads_taken() - before;
    got[offer] = {d.x0.grad().contiguous(), d.wa.grad().contiguous(), d.wb.grad().contiguous(),
                  d.wc.grad().contiguous()};
  }
  if (taken[1] == 0) GTEST_SKIP() << "no kept layouts on this CPU: no gradient was summed in a kernel";
  EXPECT_EQ(taken[1], 1u);
  for (size_t i = 0; i < got[0].size(); ++i)
    EXPECT_TRUE(same_bits(got[1][i], got[0][i], "gradient " + std::to_string(i)));
}

// A create_graph pass records the sums in the new graph: nothing is offered there.
TEST(GradSum, NothingIsOfferedWhenTheBackwardIsRecorded) {
  Diamond d(16, 50);
  const Tensor x = conv2d(d.x0, d.wa, Tensor(), 1, 1);
  const Tensor y = conv2d(x, d.wb, Tensor(), 1, 1) + conv2d(x, d.wc, Tensor(), 1, 1);
  const uint64_t before = ad::pending_grads_taken();
  const TensorList g = autograd::grad({(y * d.gy).sum()}, {d.x0}, {}, /*retain_graph=*/true, /*create_graph=*/true);
  EXPECT_EQ(ad::pending_grads_taken(), before);
  ASSERT_EQ(g.size(), 1u);
  uint64_t taken = 0;
  const std::vector<Tensor> plain = d.run(false, &taken);
  EXPECT_TRUE(same_bits(g[0].detach(), plain[0], "x0"));
}

// ResNet-20 in training mode: the residual gradients meet at each block's input, where the
// block's first convolution (the Winograd kernel) now sums them. The same bits either way.
TEST(GradSum, ResNet20GradientsAreTheSameBits) {
  manual_seed(7);
  nn::Sequential net = models::resnet20();
  net->train();
  Generator g(8);
  const Tensor x = randn({4, 3, 32, 32}, g);
  const Tensor target = (rand({4}, g) * 10).floor().to(kLong);
  const Tensor loss = cross_entropy_loss(net->forward(x), target);
  std::vector<Tensor> grads[2];
  uint64_t taken[2] = {0, 0};
  for (int offer : {1, 0}) {
    Offer scope(offer == 1);
    net->zero_grad(/*set_to_none=*/true);
    const uint64_t before = ad::pending_grads_taken();
    loss.backward(Tensor(), /*retain_graph=*/true);
    taken[offer] = ad::pending_grads_taken() - before;
    for (const Tensor& p : net->parameters()) grads[offer].push_back(p.grad().contiguous());
  }
  if (taken[1] == 0) GTEST_SKIP() << "no kept layouts on this CPU: no gradient was summed in a kernel";
  // 9 blocks; the first of stages 2 and 3 begins with a stride-2 convolution (oneDNN's).
  EXPECT_EQ(taken[1], 7u);
  EXPECT_EQ(taken[0], 0u);
  ASSERT_EQ(grads[0].size(), grads[1].size());
  for (size_t i = 0; i < grads[0].size(); ++i)
    EXPECT_TRUE(same_bits(grads[1][i], grads[0][i], "gradient of parameter " + std::to_string(i)));
}

}  // namespace
}  // namespace cnnkit
