// Loader throughput on Fashion-MNIST-shaped data (60k x 1x28x28 uint8 in a TensorDataset)
// with the usual augmentation, batch 64, workers 0 / 1 / 2: prints images/s. The LeNet
// training step runs at ~5,000-10,000 img/s, so one worker must comfortably beat that.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "cnnkit/data/data.h"

using namespace cnnkit;
namespace T = cnnkit::data::transforms;

namespace {

std::shared_ptr<data::TensorDataset> fashion_shaped() {
  Tensor x = cnnkit::empty({60000, 1, 28, 28}, kByte);
  uint8_t* p = x.data_ptr<uint8_t>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  Tensor y = cnnkit::empty({60000}, kLong);
  for (int64_t i = 0; i < 60000; ++i) y.data_ptr<int64_t>()[i] = i % 10;
  return std::make_shared<data::TensorDataset>(x, y);
}

double images_per_second(std::shared_ptr<data::DatasetBase> ds, size_t workers, int64_t max_images) {
  data::DataLoader loader(ds, data::DataLoaderOptions(64).shuffle(true).workers(workers));
  auto start = std::chrono::steady_clock::now();
  int64_t n = 0;
  for (auto& batch : loader) {
    n += batch.data.size(0);
    if (n >= max_images) break;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(n) / s;
}

}  // namespace

TEST(DataLoaderThroughput, FashionMnistShapedWithAugmentation) {
  auto base = fashion_shaped();
  struct Pipeline {
    const char* name;
    T::Compose tf;
  };
  std::vector<Pipeline> pipelines = {
      {"ToTensor, Normalize, RandomCrop(28, 2), RandomHorizontalFlip",
       T::Compose({T::ToTensor(), T::Normalize({0.2860}, {0.3530}), T::RandomCrop(28, 2), T::RandomHorizontalFlip()})},
      {"RandomCrop(28, 2), RandomHorizontalFlip, ToTensor, Normalize (uint8 first)",
       T::Compose({T::RandomCrop(28, 2), T::RandomHorizontalFlip(), T::ToTensor(), T::Normalize({0.2860}, {0.3530})})},
      {"ToTensor only", T::Compose({T::ToTensor()})},
  };
  for (auto& p : pipelines) {
    auto ds = std::make_shared<data::MapDataset>(base, p.tf);
    for (size_t workers : {0, 1, 2}) {
      double ips = images_per_second(ds, workers, 30000);
      std::cout << "[throughput] " << p.name << ", batch 64, workers " << workers << ": " << static_cast<int64_t>(ips)
                << " img/s (" << static_cast<int64_t>(ips / 64) << " batches/s)\n";
      if (workers == 1) {
        EXPECT_GT(ips, 10000.0) << p.name;  // braces: gtest's macro is an if/else (-Wdangling-else)
      }
    }
  }
}
