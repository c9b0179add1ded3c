// Datasets (torch::data::datasets): random access to examples by index. Every reader in
// data/datasets/ (MNIST/IDX, CIFAR, ImageFolder, NpyDataset, CsvDataset) is one, and so is a
// user's class written as in LibTorch:
//
//   struct MyData : data::datasets::Dataset<MyData> {
//     data::Example<> get(size_t i) override { return {images[i], labels[i]}; }
//     std::optional<size_t> size() const override { return images.size(); }
//   };
//
// Contract: get() is called concurrently from DataLoader worker threads, so it must not
// mutate shared state. An image example is data (C, H, W) uint8 or float32 and target a
// 0-dim int64 class index (classification) or a float32 tensor (regression). Randomness in
// transforms comes from the Generator the loader passes per example, never a global one.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cnnkit/core/rng.h"
#include "cnnkit/core/tensor.h"

namespace cnnkit {
namespace data {

template <typename Data = Tensor, typename Target = Tensor>
struct Example {
  using DataType = Data;
  using TargetType = Target;
  Example() = default;
  Example(Data d, Target t) : data(std::move(d)), target(std::move(t)) {}
  Data data;
  Target target;
};

// The runtime interface the DataLoader and the Trainer consume.
class DatasetBase {
 public:
  virtual ~DatasetBase() = default;
  virtual Example<> get(size_t index) = 0;
  virtual std::optional<size_t> size() const = 0;
  // Class labels for classification datasets (e.g. Fashion-MNIST's "T-shirt/top", ...);
  // empty when unknown or for regression.
  virtual std::vector<std::string> classes() const { return {}; }
};

// The generator random transforms draw from, one per thread. The DataLoader reseeds it
// from (seed, epoch, index) before each get(), so an example's augmentation does not depend
// on which worker produced it; outside a loader it is seeded from default_generator().
Generator& example_generator();
void seed_example_generator(uint64_t seed);

namespace datasets {
// LibTorch's CRTP spelling, so `struct D : datasets::Dataset<D>` compiles unchanged.
template <typename Self, typename SingleExample = Example<>>
class Dataset : public DatasetBase {};
}  // namespace datasets

}  // namespace data
}  // namespace cnnkit
