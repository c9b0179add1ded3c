// The small model and data that the weight-averaging and batch-mixing tests train
// (tests/train/{ema,swa_train,mixup_train}_test.cpp): conv + BatchNorm + linear on 6x6
// inputs of 3 classes, 40 training and 16 validation examples, and a bit-exact comparison of
// two modules' state; DieAtStep stops a run as a kill would.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "cnnkit/cnnkit.h"
#include "cnnkit/train/train.h"

namespace cnnkit::test::small_run {

inline nn::Sequential make_net() {
  manual_seed(3);
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)), nn::BatchNorm2d(4), nn::ReLU(),
                        nn::Flatten(), nn::Linear(4 * 6 * 6, 3));
}

inline train::LossFn ce() {
  return [](const Tensor& out, const Tensor& y) { return nn::functional::cross_entropy(out, y); };
}

struct Data {
  Data() {
    manual_seed(11);
    x = randn({40, 1, 6, 6});
    y = randint(0, 3, {40});
    vx = randn({16, 1, 6, 6});
    vy = randint(0, 3, {16});
  }
  // Batches of 8; shuffled from `seed` when asked.
  std::unique_ptr<data::DataLoader> train(bool shuffle = false, uint64_t seed = 0) const {
    return std::make_unique<data::DataLoader>(std::make_shared<data::TensorDataset>(x, y),
                                              data::DataLoaderOptions().batch_size(8).shuffle(shuffle).seed(seed));
  }
  std::unique_ptr<data::DataLoader> val() const {
    return std::make_unique<data::DataLoader>(std::make_shared<data::TensorDataset>(vx, vy),
                                              data::DataLoaderOptions().batch_size(8));
  }
  Tensor x, y, vx, vy;
};

// Throws after global step `at`, as a killed process would stop (nothing after it is saved).
struct DieAtStep : train::Callback {
  explicit DieAtStep(int64_t at) : at_(at) {}
  std::string name() const override { return "die_at_step"; }
  void on_batch_end(train::Trainer& trainer, const train::BatchLogs&) override {
    if (trainer.global_step() == at_) throw std::runtime_error("killed");
  }
  int64_t at_;
};

inline bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

inline void expect_same_state(nn::Module& a, nn::Module& b) {
  auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& item : sa) EXPECT_TRUE(bit_equal(item.value(), sb[item.key()])) << item.key();
}

}  // namespace cnnkit::test::small_run
