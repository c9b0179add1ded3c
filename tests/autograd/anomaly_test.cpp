// Anomaly mode (autograd/anomaly_mode.h): the backward node that first returns a NaN is
// named, as torch.autograd.detect_anomaly names it; without the mode the NaN reaches .grad()
// silently, as in PyTorch; the guard restores the previous setting.
#include <gtest/gtest.h>

#include <cmath>

#include "cnnkit/cnnkit.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::contains;
using cnnkit::test::message_of;

namespace {

// sqrt at 0 has an infinite derivative; multiplied by the 0 that flows back from `* 0`,
// SqrtBackward0 produces 0 * inf = NaN, which its Add and Mul consumers pass on.
Tensor nan_grad_graph(const Tensor& x) { return (cnnkit::sqrt(x) * 0.0 + x * 2.0).sum(); }

}  // namespace

TEST(AnomalyMode, NamesTheBackwardThatFirstReturnsNaN) {
  Tensor x = cnnkit::tensor(std::vector<float>{0.0f, 4.0f}).requires_grad_(true);
  nan_grad_graph(x).backward();
  EXPECT_TRUE(std::isnan(x.grad()[0].item<float>())) << "without anomaly mode the NaN reaches .grad() silently";

  x.mutable_grad() = Tensor();
  autograd::DetectAnomalyGuard guard;
  const std::string msg = message_of([&] { nan_grad_graph(x).backward(); });
  EXPECT_TRUE(contains(msg, "Function 'SqrtBackward0' returned nan values in its 0th output")) << msg;
}

TEST(AnomalyMode, GuardRestoresAndFiniteGraphsPass) {
  EXPECT_FALSE(autograd::AnomalyMode::is_enabled());
  {
    autograd::DetectAnomalyGuard guard;
    EXPECT_TRUE(autograd::AnomalyMode::is_enabled());
    Tensor x = cnnkit::tensor(std::vector<float>{1.0f, 4.0f}).requires_grad_(true);
    nan_grad_graph(x).backward();
    EXPECT_FLOAT_EQ(x.grad()[1].item<float>(), 2.0f + 0.0f);
    {
      autograd::DetectAnomalyGuard nested;
    }
    EXPECT_TRUE(autograd::AnomalyMode::is_enabled());
  }
  EXPECT_FALSE(autograd::AnomalyMode::is_enabled());
  autograd::AnomalyMode::set_enabled(true);
  EXPECT_TRUE(autograd::AnomalyMode::is_enabled());
  autograd::AnomalyMode::set_enabled(false);
}
