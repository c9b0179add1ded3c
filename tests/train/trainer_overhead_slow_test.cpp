// What the Trainer costs per step over a hand-written loop: LeNet-5 on synthetic 28x28
// batches of 64, same loader, same optimiser; the Trainer also updates metrics, calls
// callbacks and draws a (throttled) progress bar. Runs alternate and the best of each is
// compared, so a busy machine slows both alike. Prints the ratio; fails above 1.10.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <sstream>

#include "cnnkit/cnnkit.h"
#include "cnnkit/train/train.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;

TEST(TrainerOverhead, LeNet5StepCostsTheSameAsAHandWrittenLoop) {
  constexpr int64_t kBatches = 40, kBatch = 64;
  manual_seed(0);
  Tensor x = randn({kBatches * kBatch, 1, 28, 28});
  Tensor y = randint(0, 10, {kBatches * kBatch});
  data::DataLoader loader(std::make_shared<data::TensorDataset>(x, y),
                          data::DataLoaderOptions().batch_size(kBatch).shuffle(true).seed(1));
  nn::Sequential net = models::lenet5(models::ZooOptions{.in_channels = 1, .num_classes = 10});
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.01).momentum(0.9));
  auto loss_fn = [](const Tensor& out, const Tensor& t) { return F::cross_entropy(out, t); };

  auto hand = [&] {
    net->train();
    loader.set_epoch(0);
    for (data::Example<>& b : loader) {
      Tensor out = net->forward(b.data);
      Tensor loss = loss_fn(out, b.target);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
  };
  std::ostringstream sink;
  auto trainer_run = [&] {
    train::Trainer t(nn::AnyModule(net), opt, loss_fn,
                     train::TrainerOptions().epochs(1).log_stream(&sink));
    t.set_progress_bar(std::make_shared<train::ProgressBar>(train::ProgressBarOptions().stream(&sink).tty(true)));
    t.fit(loader);
  };
  using Clock = std::chrono::steady_clock;
  auto time_of = [](auto&& f) {
    auto t0 = Clock::now();
    f();
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  hand();  // warm-up: primitives created, storages cached
  trainer_run();
  double best_hand = 1e9, best_trainer = 1e9;
  for (int rep = 0; rep < 5; ++rep) {
    best_hand = std::min(best_hand, time_of(hand));
    best_trainer = std::min(best_trainer, time_of(trainer_run));
  }
  const double ratio = best_trainer / best_hand;
  std::cout << "LeNet-5, " << kBatches << " steps of " << kBatch << ": hand-written loop " << best_hand * 1e3 / kBatches
            << " ms/step, Trainer " << best_trainer * 1e3 / kBatches << " ms/step, ratio " << ratio << "\n";
  EXPECT_LT(ratio, 1.10);
}
