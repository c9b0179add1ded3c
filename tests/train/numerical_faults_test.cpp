// Numerical faults in training, each stopped with the step and what went wrong named:
// NaN/inf in a batch's input or target, a layer whose output overflows (an exploding
// model), a loss function that returns NaN on a finite output, a batch of empty examples, a
// BatchNorm layer with one value per channel; the diagnosis replay leaves a run that goes
// on unchanged.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "cnnkit/cnnkit.h"
#include "cnnkit/train/train.h"
#include "test_util.h"
#include "train/small_run.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;
using cnnkit::test::contains;
using cnnkit::test::message_of;
using namespace cnnkit::test::small_run;

namespace {

// Fits `net` for one epoch of (x, y) in batches of 8 with TerminateOnNaN; the error's message.
std::string fit_message(nn::Sequential net, const Tensor& x, const Tensor& y, train::LossFn loss = ce()) {
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.01));
  data::DataLoader loader(std::make_shared<data::TensorDataset>(x, y), data::DataLoaderOptions().batch_size(8));
  train::Trainer trainer(nn::AnyModule(net), opt, std::move(loss), train::TrainerOptions().verbose(false));
  trainer.add_callback(std::make_shared<train::TerminateOnNaN>());
  return message_of([&] { trainer.fit(loader); });
}

}  // namespace

TEST(NumericalFaults, NaNInTheInputNamesTheBatchAndTheExample) {
  const Data d;
  Tensor x = d.x.clone();
  x.data_ptr<float>()[11 * 36 + 7] = std::nanf("");  // example 11: batch 2, its example 3
  x.data_ptr<float>()[12 * 36] = std::numeric_limits<float>::infinity();
  const std::string msg = fit_message(make_net(), x, d.y);
  EXPECT_TRUE(contains(msg, "the training loss is nan at epoch 1 step 2 (global step 2)")) << msg;
  EXPECT_TRUE(contains(msg, "the batch's input is bad: 1 NaN and 1 inf of its 288 values (the first in example 3 of "
                            "the batch)")) << msg;
}

TEST(NumericalFaults, NonFiniteRegressionTargetIsNamed) {
  const Data d;
  Tensor y = randn({40, 3});
  y.data_ptr<float>()[5] = std::nanf("");  // example 1
  auto mse = [](const Tensor& out, const Tensor& t) { return F::mse_loss(out, t); };
  nn::Sequential net = make_net();
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.01));
  data::DataLoader loader(std::make_shared<data::TensorDataset>(d.x, y), data::DataLoaderOptions().batch_size(8));
  train::Trainer trainer(nn::AnyModule(net), opt, mse,
                         train::TrainerOptions().task(train::Task::kRegression).verbose(false));
  trainer.add_callback(std::make_shared<train::TerminateOnNaN>());
  const std::string msg = message_of([&] { trainer.fit(loader); });
  EXPECT_TRUE(contains(msg, "at epoch 1 step 1 (global step 1): the batch's target is bad: 1 NaN and 0 inf of its 24 "
                            "values (the first in example 1 of the batch)")) << msg;
}

TEST(NumericalFaults, AnOverflowingLayerIsNamedWithItsLargestWeight) {
  // Weights near float's largest value: the conv's output overflows to inf and BatchNorm
  // turns that into NaN; the first layer out of range is the conv, from a finite input.
  const Data d;
  nn::Sequential net = make_net();
  {
    NoGradGuard no_grad;
    net->named_parameters()["0.weight"].fill_(3e38);
  }
  const std::string msg = fit_message(net, d.x, d.y);
  EXPECT_TRUE(contains(msg, "the training loss is nan at epoch 1 step 1")) << msg;
  EXPECT_TRUE(contains(msg, "layer '0' (Conv2d) is the first whose output is not finite, from a finite input:")) << msg;
  EXPECT_TRUE(contains(msg, "its largest |parameter| is 3e+38")) << msg;
}

TEST(NumericalFaults, ALossThatReturnsNaNOnAFiniteOutput) {
  const Data d;
  auto bad_loss = [](const Tensor& out, const Tensor&) { return (out.sum() * 0 - 1).sqrt(); };
  const std::string msg = fit_message(make_net(), d.x, d.y, bad_loss);
  EXPECT_TRUE(contains(msg, "the model's output is finite, so the loss function produced it")) << msg;
}

TEST(NumericalFaults, DiagnosisLeavesTheRunUnchanged) {
  // Without TerminateOnNaN a run goes on: the replay that looks for the layer must not move
  // the generator (dropout draws) or the buffers (BatchNorm's running statistics and its
  // count of batches). Two runs, one of which meets a NaN in its last batch (and so replays
  // its layers), end with the same generator state and the same batch count.
  const Data d;
  auto run = [&](bool poison) {
    manual_seed(3);
    nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)), nn::BatchNorm2d(4), nn::ReLU(),
                       nn::Flatten(), nn::Dropout(0.5), nn::Linear(4 * 6 * 6, 3));
    Tensor x = d.x.clone();
    if (poison) x.data_ptr<float>()[39 * 36] = std::nanf("");
    optim::SGD opt(net->parameters(), optim::SGDOptions(0.01));
    data::DataLoader loader(std::make_shared<data::TensorDataset>(x, d.y), data::DataLoaderOptions().batch_size(8));
    train::Trainer trainer(nn::AnyModule(net), opt, ce(), train::TrainerOptions().verbose(false));
    trainer.fit(loader);
    std::lock_guard<std::mutex> lock(default_generator().mutex());
    return std::pair{default_generator().state(), net->named_buffers()["1.num_batches_tracked"].item<int64_t>()};
  };
  const auto poisoned = run(true), clean = run(false);
  EXPECT_TRUE(poisoned.first == clean.first) << "the diagnosis drew from the global generator";
  EXPECT_EQ(poisoned.second, 5);
  EXPECT_EQ(clean.second, 5);
}

TEST(NumericalFaults, EmptyExamplesAreRefusedWithTheStep) {
  const Tensor x = zeros({16, 0}), y = zeros({16}, kLong);
  const std::string msg = fit_message(nn::Sequential(nn::Flatten(), nn::Linear(1, 3)), x, y);
  EXPECT_TRUE(contains(msg, "batch 1 of epoch 1 (global step 1) holds no values (data of shape [8, 0])")) << msg;
}

TEST(NumericalFaults, BatchNormWithOneValuePerChannelNamesTheLayer) {
  // PyTorch's check (a batch variance of one value is 0/0), with the layer it happened in.
  manual_seed(0);
  nn::Sequential net(nn::Linear(5, 4), nn::BatchNorm1d(4), nn::ReLU());
  const std::string msg = message_of([&] { net->forward(randn({1, 5})); });
  EXPECT_TRUE(contains(msg, "layer '1' (BatchNorm1d): ")) << msg;
  EXPECT_TRUE(contains(msg, "Expected more than 1 value per channel when training")) << msg;
  // Nested Sequentials name each level.
  nn::Sequential outer(nn::Linear(5, 5), net);
  const std::string nested = message_of([&] { outer->forward(randn({1, 5})); });
  EXPECT_TRUE(contains(nested, "layer '1' (Sequential): layer '1' (BatchNorm1d): ")) << nested;
  // A channel whose values are all equal (variance 0 over the batch) is finite, as in PyTorch:
  // eps keeps the division finite and the output is the layer's bias.
  net->forward(zeros({4, 5}));
  Tensor out = net->forward(ones({4, 5}));
  EXPECT_TRUE(isfinite(out).all().item<bool>());
}
