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

#include <concepts>
#include <cstddef>
#include <functional>
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
  // The example's weight in the loss (sklearn's sample_weight; a 0-dim float tensor), or
  // undefined: weight 1. The DataLoader stacks it into the batch's (N) `weight` when every
  // example of the batch has one; the Trainer then takes the weighted mean of the
  // per-example losses (Trainer::set_weighted_loss).
  Tensor weight;
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
template <typename Source, typename AppliedTransform>
class MapDataset;

// LibTorch's CRTP spelling, so `struct D : datasets::Dataset<D>` compiles unchanged.
// map(t) returns a MapDataset holding a copy of this dataset (moved when called on an
// rvalue) and t: `MNIST(root).map(transforms::Normalize<>(0.1307, 0.3081)).map(transforms::Stack<>())`.
template <typename Self, typename SingleExample = Example<>>
class Dataset : public DatasetBase {
 public:
  using ExampleType = SingleExample;
  template <typename TransformType>
  MapDataset<Self, TransformType> map(TransformType transform) & {
    return MapDataset<Self, TransformType>(static_cast<Self&>(*this), std::move(transform));
  }
  template <typename TransformType>
  MapDataset<Self, TransformType> map(TransformType transform) && {
    return MapDataset<Self, TransformType>(std::move(static_cast<Self&>(*this)), std::move(transform));
  }
};
}  // namespace datasets

namespace detail {
// How a transform applies to one example, decided at compile time:
//   a batch transform (transforms::Stack<>: the loader always stacks) -> the example unchanged;
//   callable on an Example<> (returning one)                          -> the whole example;
//   callable on a Tensor (every transforms::Transform)                -> the example's data.
template <typename T>
concept BatchTransform = requires { T::kIsBatchTransform; };
template <typename T>
concept ExampleCallable = requires(const T& t, Example<> e) {
  { t(std::move(e)) } -> std::convertible_to<Example<>>;
};
template <typename T>
concept TensorCallable = requires(const T& t, Tensor x) {
  { t(std::move(x)) } -> std::convertible_to<Tensor>;
};
template <typename T>
Example<> apply_transform(const T& transform, Example<> e) {
  if constexpr (BatchTransform<T>) {
    return e;
  } else if constexpr (ExampleCallable<T>) {
    return transform(std::move(e));
  } else {
    static_assert(TensorCallable<T>,
                  "map(): the transform must be callable on a Tensor (the example's data) or on "
                  "an Example<>, or be a batch transform such as transforms::Stack<>");
    e.data = transform(std::move(e.data));
    return e;
  }
}
}  // namespace detail

namespace datasets {
// torch::data::datasets::MapDataset: the source dataset (held by value) with a transform
// applied to each example in get(), on the loader's worker thread.
template <typename Source, typename AppliedTransform>
class MapDataset : public Dataset<MapDataset<Source, AppliedTransform>> {
 public:
  using DatasetType = Source;
  using TransformType = AppliedTransform;
  MapDataset(Source dataset, AppliedTransform transform)
      : dataset_(std::move(dataset)), transform_(std::move(transform)) {}
  Example<> get(size_t index) override {
    return detail::apply_transform(transform_, dataset_.get(index));
  }
  std::optional<size_t> size() const override { return dataset_.size(); }
  std::vector<std::string> classes() const override { return dataset_.classes(); }
  const Source& dataset() const noexcept { return dataset_; }
  Source& dataset() noexcept { return dataset_; }
  const AppliedTransform& transform() const noexcept { return transform_; }

 private:
  Source dataset_;
  AppliedTransform transform_;
};
}  // namespace datasets

// The runtime counterpart, for datasets only known as a DatasetBase (a reader's factory,
// a split): `auto train = std::make_shared<data::MapDataset>(base, transforms::Compose({...}))`.
// The transform maps the example's data; use the Example overload to touch targets.
class MapDataset : public datasets::Dataset<MapDataset> {
 public:
  template <typename T>
    requires detail::TensorCallable<T> && (!detail::ExampleCallable<T>)
  MapDataset(std::shared_ptr<DatasetBase> dataset, T transform)
      : dataset_(std::move(dataset)),
        transform_([t = std::move(transform)](Example<> e) {
          e.data = t(std::move(e.data));
          return e;
        }) {
    CNNKIT_CHECK(dataset_ != nullptr, "MapDataset: the source dataset is null");
  }
  MapDataset(std::shared_ptr<DatasetBase> dataset, std::function<Example<>(Example<>)> transform)
      : dataset_(std::move(dataset)), transform_(std::move(transform)) {
    CNNKIT_CHECK(dataset_ != nullptr, "MapDataset: the source dataset is null");
    CNNKIT_CHECK(static_cast<bool>(transform_), "MapDataset: the transform is empty");
  }
  Example<> get(size_t index) override { return transform_(dataset_->get(index)); }
  std::optional<size_t> size() const override { return dataset_->size(); }
  std::vector<std::string> classes() const override { return dataset_->classes(); }
  const std::shared_ptr<DatasetBase>& dataset() const { return dataset_; }

 private:
  std::shared_ptr<DatasetBase> dataset_;
  std::function<Example<>(Example<>)> transform_;
};

}  // namespace data
}  // namespace cnnkit
