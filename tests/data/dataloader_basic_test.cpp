// DataLoader: stacking, order, shuffling per epoch, determinism for any number of workers,
// errors from workers, clean shutdown mid-epoch, bounded prefetch, make_data_loader.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "cnnkit/data/data.h"
#include "test_util.h"

using namespace cnnkit;
namespace T = cnnkit::data::transforms;
using cnnkit::test::contains;
using cnnkit::test::error_of;

namespace {

// n examples; example i: data (2, 3) filled with i, target i (int64).
data::TensorDataset indexed(int64_t n) {
  Tensor x = cnnkit::empty({n, 2, 3});
  Tensor y = cnnkit::empty({n}, kLong);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < 6; ++k) x.data_ptr<float>()[i * 6 + k] = static_cast<float>(i);
    y.data_ptr<int64_t>()[i] = i;
  }
  return data::TensorDataset(x, y);
}

std::vector<int64_t> targets_of(const Tensor& t) {
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

// All batches of one pass, as (data, target) copies.
std::vector<data::Example<>> collect(data::DataLoader& loader) {
  std::vector<data::Example<>> out;
  for (data::Example<>& b : loader) out.push_back(b);
  return out;
}

std::shared_ptr<data::DatasetBase> augmented_images(int64_t n) {
  Tensor x = cnnkit::empty({n, 1, 8, 8}, kByte);
  for (int64_t i = 0; i < x.numel(); ++i) x.data_ptr<uint8_t>()[i] = static_cast<uint8_t>((i * 37) % 251);
  Tensor y = cnnkit::empty({n}, kLong);
  for (int64_t i = 0; i < n; ++i) y.data_ptr<int64_t>()[i] = i % 10;
  auto tf = T::Compose({T::ToTensor(), T::RandomCrop(8, 2), T::RandomHorizontalFlip(), T::RandomRotation(10.0),
                        T::GaussianNoise(0.0, 0.05)});
  return std::make_shared<data::MapDataset>(std::make_shared<data::TensorDataset>(x, y), tf);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()) == 0;
}

size_t thread_count() {
  size_t n = 0;
  for (auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)e;
    ++n;
  }
  return n;
}

}  // namespace

TEST(DataLoader, StacksExamplesInOrderWithAPartialLastBatch) {
  auto ds = std::make_shared<data::TensorDataset>(indexed(10));
  data::DataLoader loader(ds, data::DataLoaderOptions().batch_size(4));
  EXPECT_EQ(loader.size(), 3u);
  auto batches = collect(loader);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].data.sizes(), IntArrayRef({4, 2, 3}));
  EXPECT_EQ(batches[0].target.sizes(), IntArrayRef({4}));
  EXPECT_EQ(batches[0].target.scalar_type(), kLong);
  EXPECT_EQ(batches[2].data.sizes(), IntArrayRef({2, 2, 3}));
  EXPECT_EQ(targets_of(batches[1].target), (std::vector<int64_t>{4, 5, 6, 7}));
  EXPECT_EQ(batches[1].data.data_ptr<float>()[6 * 2 + 5], 6.0f);  // example 6, last element
  EXPECT_EQ(targets_of(batches[2].target), (std::vector<int64_t>{8, 9}));
}

TEST(DataLoader, DropLastDropsThePartialBatch) {
  auto ds = std::make_shared<data::TensorDataset>(indexed(10));
  data::DataLoader loader(ds, data::DataLoaderOptions(4).drop_last(true));
  EXPECT_EQ(loader.size(), 2u);
  EXPECT_EQ(collect(loader).size(), 2u);
  data::DataLoader big(ds, data::DataLoaderOptions(11).drop_last(true));
  EXPECT_EQ(big.size(), 0u);
  EXPECT_EQ(big.begin(), big.end());
}

TEST(DataLoader, ShufflesAPermutationPerEpochFromTheSeed) {
  auto ds = std::make_shared<data::TensorDataset>(indexed(50));
  auto order = [&](uint64_t seed, int64_t epoch) {
    data::DataLoader loader(ds, data::DataLoaderOptions(8).shuffle(true).seed(seed));
    loader.set_epoch(epoch);
    std::vector<int64_t> all;
    for (auto& b : loader)
      for (int64_t t : targets_of(b.target)) all.push_back(t);
    return all;
  };
  auto e0 = order(1, 0), e1 = order(1, 1);
  std::set<int64_t> s(e0.begin(), e0.end());
  EXPECT_EQ(s.size(), 50u);
  EXPECT_EQ(*s.begin(), 0);
  EXPECT_EQ(*s.rbegin(), 49);
  EXPECT_NE(e0, e1);
  EXPECT_EQ(e0, order(1, 0));
  EXPECT_NE(e0, order(2, 0));
  std::vector<int64_t> sorted(50);
  for (int64_t i = 0; i < 50; ++i) sorted[i] = i;
  EXPECT_NE(e0, sorted);
}

TEST(DataLoader, NextPassIsTheNextEpochUnlessSetEpochWasCalled) {
  auto ds = std::make_shared<data::TensorDataset>(indexed(20));
  data::DataLoader loader(ds, data::DataLoaderOptions(20).shuffle(true));
  auto first = targets_of(collect(loader)[0].target);
  EXPECT_EQ(loader.epoch(), 0);
  auto second = targets_of(collect(loader)[0].target);
  EXPECT_EQ(loader.epoch(), 1);
  EXPECT_NE(first, second);
  loader.set_epoch(0);
  EXPECT_EQ(targets_of(collect(loader)[0].target), first);
  EXPECT_EQ(loader.epoch(), 0);
}

TEST(DataLoader, WorkersZeroOneThreeGiveBitIdenticalAugmentedBatches) {
  auto ds = augmented_images(45);
  std::vector<std::vector<data::Example<>>> runs;
  for (size_t workers : {0, 1, 3}) {
    data::DataLoader loader(ds, data::DataLoaderOptions(7).shuffle(true).workers(workers).seed(42));
    auto e0 = collect(loader);
    auto e1 = collect(loader);  // epoch 1: new order, new augmentation
    e0.insert(e0.end(), e1.begin(), e1.end());
    runs.push_back(std::move(e0));
  }
  ASSERT_EQ(runs[0].size(), 14u);
  for (size_t r = 1; r < runs.size(); ++r) {
    ASSERT_EQ(runs[r].size(), runs[0].size());
    for (size_t b = 0; b < runs[0].size(); ++b) {
      EXPECT_TRUE(same_bits(runs[r][b].data, runs[0][b].data)) << "run " << r << " batch " << b;
      EXPECT_TRUE(same_bits(runs[r][b].target, runs[0][b].target)) << "run " << r << " batch " << b;
    }
  }
  EXPECT_EQ(runs[0][0].data.sizes(), IntArrayRef({7, 1, 8, 8}));
  EXPECT_EQ(runs[0][0].data.scalar_type(), kFloat);
  // epochs 0 and 1 augment differently even where they visit the same example
  EXPECT_FALSE(same_bits(runs[0][0].data, runs[0][7].data));
}

TEST(DataLoader, AugmentationDependsOnTheSeed) {
  auto ds = augmented_images(7);
  data::DataLoader a(ds, data::DataLoaderOptions(7).seed(1)), b(ds, data::DataLoaderOptions(7).seed(2));
  EXPECT_FALSE(same_bits(collect(a)[0].data, collect(b)[0].data));
}

namespace {
struct Failing : data::datasets::Dataset<Failing> {
  int64_t bad;
  explicit Failing(int64_t b) : bad(b) {}
  data::Example<> get(size_t i) override {
    CNNKIT_CHECK(static_cast<int64_t>(i) != bad, "broken record");
    return {cnnkit::empty({2}), Tensor()};
  }
  std::optional<size_t> size() const override { return 30; }
};
struct Ragged : data::datasets::Dataset<Ragged> {
  data::Example<> get(size_t i) override { return {cnnkit::empty({i == 5 ? 3 : 2}), cnnkit::empty({}, kLong)}; }
  std::optional<size_t> size() const override { return 10; }
};
struct Unsized : data::datasets::Dataset<Unsized> {
  data::Example<> get(size_t) override { return {}; }
  std::optional<size_t> size() const override { return std::nullopt; }
};
}  // namespace

TEST(DataLoader, ErrorsInWorkersAreRethrownWithTheExampleIndex) {
  for (size_t workers : {0, 2}) {
    SCOPED_TRACE(workers);
    data::DataLoader loader(std::make_shared<Failing>(13), data::DataLoaderOptions(4).workers(workers));
    size_t seen = 0;
    std::string msg = error_of([&] {
      for (auto& b : loader) {
        (void)b;
        ++seen;
      }
    });
    EXPECT_EQ(seen, 3u);  // batches 0..2 arrive in order, batch 3 holds example 13
    EXPECT_TRUE(contains(msg, "example 13")) << msg;
    EXPECT_TRUE(contains(msg, "broken record")) << msg;
    EXPECT_THROW(for (auto& b : loader) (void)b, ValueError);  // a new pass fails the same way
  }
}

TEST(DataLoader, ExamplesOfUnequalShapeGiveAShapeError) {
  data::DataLoader loader(std::make_shared<Ragged>(), data::DataLoaderOptions(4).workers(1));
  std::string msg;
  try {
    for (auto& b : loader) (void)b;
  } catch (const ShapeError& e) {
    msg = e.what();
  }
  EXPECT_TRUE(contains(msg, "example 5")) << msg;
  EXPECT_TRUE(contains(msg, "[3]")) << msg;
}

TEST(DataLoader, RejectsBadOptionsAndUnsizedDatasets) {
  auto ds = std::make_shared<data::TensorDataset>(indexed(3));
  EXPECT_THROW(data::DataLoader(ds, data::DataLoaderOptions(0)), ValueError);
  EXPECT_THROW(data::DataLoader(ds, data::DataLoaderOptions(2).prefetch_factor(0)), ValueError);
  EXPECT_THROW(data::DataLoader(nullptr, data::DataLoaderOptions(2)), ValueError);
  EXPECT_THROW(data::DataLoader(std::make_shared<Unsized>(), data::DataLoaderOptions(2)), ValueError);
}

namespace {
// Slow examples that count how many were fetched.
struct Slow : data::datasets::Dataset<Slow> {
  std::shared_ptr<std::atomic<int>> fetched = std::make_shared<std::atomic<int>>(0);
  int sleep_us = 0;
  data::Example<> get(size_t i) override {
    if (sleep_us) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
    ++*fetched;
    Tensor x = cnnkit::empty({1});
    x.data_ptr<float>()[0] = static_cast<float>(i);
    return {x, Tensor()};
  }
  std::optional<size_t> size() const override { return 400; }
};
}  // namespace

TEST(DataLoader, PrefetchIsBoundedByWorkersTimesPrefetchFactor) {
  Slow slow;
  auto counter = slow.fetched;
  data::DataLoader loader(std::make_shared<Slow>(slow), data::DataLoaderOptions(4).workers(2).prefetch_factor(2));
  auto it = loader.begin();  // the first batch has arrived
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // at most 2 * 2 batches built ahead of the one consumed
  EXPECT_LE(counter->load(), 4 * (1 + 4));
  EXPECT_GE(counter->load(), 4 * 2);
}

TEST(DataLoader, DestroyingMidEpochStopsAndJoinsItsThreads) {
  // A first thread of the process may start a runtime's own helper (ThreadSanitizer's
  // background thread): start and join one before counting, so that only ours are counted.
  std::thread([] {}).join();
  size_t before = thread_count();
  Slow slow;
  slow.sleep_us = 25000;
  auto start = std::chrono::steady_clock::now();
  {
    data::DataLoader loader(std::make_shared<Slow>(slow), data::DataLoaderOptions(2).workers(3));
    int n = 0;
    for (auto& b : loader) {
      (void)b;
      if (++n == 3) break;
    }
    EXPECT_EQ(thread_count(), before + 3);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 1.5);  // a full pass would take 400 * 25 ms / 3 = 3.3 s
  EXPECT_EQ(thread_count(), before);
}

TEST(DataLoader, ANewPassAfterABreakStartsCleanly) {
  auto ds = std::make_shared<data::TensorDataset>(indexed(12));
  data::DataLoader loader(ds, data::DataLoaderOptions(3).workers(2));
  for (auto& b : loader) {
    (void)b;
    break;
  }
  auto all = collect(loader);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(targets_of(all[3].target), (std::vector<int64_t>{9, 10, 11}));
  EXPECT_EQ(loader.epoch(), 1);
}

TEST(DataLoader, BatchesAreIndependentOfTheDatasetStorage) {
  auto ds = std::make_shared<data::TensorDataset>(indexed(4));
  data::DataLoader loader(ds, data::DataLoaderOptions(4));
  auto b = collect(loader)[0];
  b.data.data_ptr<float>()[0] = 99.0f;
  EXPECT_EQ(ds->data().data_ptr<float>()[0], 0.0f);
}

TEST(MakeDataLoader, SamplerTemplateArgumentDecidesTheOrderAsLibTorch) {
  auto seq = data::make_data_loader<data::samplers::SequentialSampler>(indexed(9), 3);
  std::vector<int64_t> got;
  for (auto& b : *seq)
    for (int64_t t : targets_of(b.target)) got.push_back(t);
  EXPECT_EQ(got, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(seq->size(), 3u);

  auto rnd = data::make_data_loader(indexed(30), data::DataLoaderOptions(30));  // RandomSampler
  EXPECT_TRUE(rnd->options().shuffle());
  auto shuffled = targets_of(collect(*rnd)[0].target);
  std::vector<int64_t> sorted = shuffled;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(shuffled, sorted);

  auto with_object = data::make_data_loader(indexed(5), data::samplers::SequentialSampler(5), data::DataLoaderOptions(5));
  EXPECT_FALSE(with_object->options().shuffle());
}

TEST(MakeDataLoader, LibTorchMnistStyleChainCompilesAndNormalizes) {
  // torch::data::make_data_loader<SequentialSampler>(MNIST(...).map(Normalize<>(0.1307, 0.3081)).map(Stack<>()), 64)
  Tensor x = cnnkit::empty({6, 1, 2, 2});
  for (int64_t i = 0; i < x.numel(); ++i) x.data_ptr<float>()[i] = 0.5f;
  auto ds = data::TensorDataset(x, cnnkit::empty({6}, kLong))
                .map(T::Normalize<>(0.1307, 0.3081))
                .map(T::Stack<>());
  auto loader = data::make_data_loader<data::samplers::SequentialSampler>(std::move(ds), 4);
  int batches = 0;
  for (auto& batch : *loader) {
    ++batches;
    EXPECT_FLOAT_EQ(batch.data.data_ptr<float>()[0], (0.5f - 0.1307f) / 0.3081f);
  }
  EXPECT_EQ(batches, 2);
}
