// What TerminateOnNaN's per-step parameter scan (its default) costs: LeNet-5 on synthetic
// 28x28 batches of 64 through the Trainer with and without it (runs alternate, the best of
// each is kept), and the scan alone, timed over many repetitions. The end-to-end ratio is
// printed only (two runs of the same work differ by more than the scan on shared cores);
// the test fails if one scan costs more than 1% of a step (measured: ~12 us against ~20 ms).
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <sstream>

#include "cnnkit/cnnkit.h"
#include "cnnkit/train/train.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;

TEST(TerminateOnNaNOverhead, PerStepParameterScanIsNotMeasurableOnLeNet5) {
  constexpr int64_t kBatches = 20, kBatch = 64;
  manual_seed(0);
  Tensor x = randn({kBatches * kBatch, 1, 28, 28});
  Tensor y = randint(0, 10, {kBatches * kBatch});
  data::DataLoader loader(std::make_shared<data::TensorDataset>(x, y),
                          data::DataLoaderOptions().batch_size(kBatch).shuffle(true).seed(1));
  nn::Sequential net = models::lenet5(models::ZooOptions{.in_channels = 1, .num_classes = 10});
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.01).momentum(0.9));
  auto loss_fn = [](const Tensor& out, const Tensor& t) { return F::cross_entropy(out, t); };

  std::ostringstream sink;
  auto run = [&](bool watch) {
    train::Trainer t(nn::AnyModule(net), opt, loss_fn, train::TrainerOptions().epochs(1).verbose(false).log_stream(&sink));
    if (watch) t.add_callback(std::make_shared<train::TerminateOnNaN>());
    t.fit(loader);
  };
  using Clock = std::chrono::steady_clock;
  auto time_of = [](auto&& f) {
    auto t0 = Clock::now();
    f();
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  run(false);  // warm-up: primitives created, storages cached
  run(true);
  double best_plain = 1e9, best_watched = 1e9;
  for (int rep = 0; rep < 3; ++rep) {
    best_plain = std::min(best_plain, time_of([&] { run(false); }));
    best_watched = std::min(best_watched, time_of([&] { run(true); }));
  }
  const std::vector<Tensor> params = net->parameters();
  constexpr int kScans = 1000;
  const double scan = time_of([&] {
    bool ok = true;
    for (int i = 0; i < kScans; ++i)
      for (const Tensor& p : params) ok &= train::all_finite(p);
    ASSERT_TRUE(ok);
  }) / kScans;
  const double ratio = best_watched / best_plain;
  std::cout << "LeNet-5, " << kBatches << " steps of " << kBatch << ": " << best_plain * 1e3 / kBatches
            << " ms/step without TerminateOnNaN, " << best_watched * 1e3 / kBatches << " ms/step with, ratio " << ratio
            << "; one scan of the parameters " << scan * 1e6 << " us\n";
  EXPECT_LT(scan, 0.01 * best_plain / kBatches);
}
