// A training loop written exactly as a LibTorch user writes it (torch:: replaced by cnnkit::),
// compiled against cnnkit: model, SGD, StepLR, zero_grad / backward / step, scheduler step.
#include <gtest/gtest.h>

#include "cnnkit/cnnkit.h"

TEST(LibTorchStyle, SgdStepLRLoopTrains) {
  cnnkit::manual_seed(0);
  auto model = cnnkit::nn::Sequential(cnnkit::nn::Linear(4, 16), cnnkit::nn::ReLU(), cnnkit::nn::Linear(16, 1));
  cnnkit::optim::SGD optimizer(model->parameters(), cnnkit::optim::SGDOptions(0.05).momentum(0.9));
  cnnkit::optim::StepLR scheduler(optimizer, /*step_size=*/10, /*gamma=*/0.5);

  auto x = cnnkit::randn({32, 4});
  auto y = x.sum({1}, /*keepdim=*/true) * 0.5;
  float first = 0, last = 0;
  for (int epoch = 0; epoch < 30; ++epoch) {
    optimizer.zero_grad();
    auto loss = (model->forward(x) - y).pow(2).mean();
    loss.backward();
    cnnkit::nn::utils::clip_grad_norm_(model->parameters(), 10.0);
    optimizer.step();
    scheduler.step();
    if (epoch == 0) first = loss.item<float>();
    last = loss.item<float>();
  }
  EXPECT_LT(last, 0.2f * first);
  EXPECT_DOUBLE_EQ(static_cast<cnnkit::optim::SGDOptions&>(optimizer.param_groups()[0].options()).lr(), 0.05 / 8);
}
