// compute_mean_std and class_counts against numpy on small in-memory datasets.
#include <gtest/gtest.h>

#include "cnnkit/core/threads.h"
#include "cnnkit/data/datasets/npy.h"
#include "cnnkit/data/stats.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::data;

namespace {
// x = np.array([[(i*37 + j*11) % 256 for j in range(8)] for i in range(3)], np.uint8).reshape(3, 2, 2, 2)
std::shared_ptr<datasets::NpyDataset> uint8_images() {
  Tensor x = empty({3, 2, 2, 2}, TensorOptions(kByte));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 8; ++j) x.data_ptr<uint8_t>()[i * 8 + j] = static_cast<uint8_t>((i * 37 + j * 11) % 256);
  Tensor y = empty({3}, TensorOptions(kLong));
  for (int i = 0; i < 3; ++i) y.data_ptr<int64_t>()[i] = i % 2;
  return std::make_shared<datasets::NpyDataset>(x, y);
}
}  // namespace

TEST(ComputeMeanStd, Uint8ImagesScaledAsToTensorPerChannel) {
  // xf = x / 255; a = xf.transpose(1, 0, 2, 3).reshape(2, -1); a.mean(1), a.std(1)
  auto [mean, std] = compute_mean_std(uint8_images());
  ASSERT_EQ(mean.size(), 2u);
  EXPECT_NEAR(mean[0], 0.20980392156862746, 1e-12);
  EXPECT_NEAR(mean[1], 0.38235294117647056, 1e-12);
  EXPECT_NEAR(std[0], 0.1279126880861335, 1e-12);
  EXPECT_NEAR(std[1], 0.1279126880861335, 1e-12);
}

TEST(ComputeMeanStd, MaxExamplesTakesEvenlySpacedExamples) {
  // indices k * 3 // 2 for k < 2 -> 0, 1: xf[[0, 1]]
  auto [mean, std] = compute_mean_std(uint8_images(), 2);
  EXPECT_NEAR(mean[0], 0.13725490196078433, 1e-12);
  EXPECT_NEAR(mean[1], 0.30980392156862746, 1e-12);
  EXPECT_NEAR(std[0], 0.08711709761381593, 1e-12);
}

TEST(ComputeMeanStd, FloatFeaturesWithALargeMeanStayAccurate) {
  // f = np.array([[1000.5, -2, 3], [1001.5, 4, 3], [999.25, 0.5, 3], [1000, 1, 3]]); f.mean(0), f.std(0)
  Tensor f = test::lit({1000.5f, -2, 3, 1001.5f, 4, 3, 999.25f, 0.5f, 3, 1000, 1, 3}, {4, 3});
  auto ds = std::make_shared<datasets::NpyDataset>(f, test::lit({0, 1, 2, 3}, {4}));
  auto [mean, std] = compute_mean_std(ds);
  ASSERT_EQ(mean.size(), 3u);
  EXPECT_NEAR(mean[0], 1000.3125, 1e-9);
  EXPECT_NEAR(mean[1], 0.875, 1e-12);
  EXPECT_NEAR(std[0], 0.8172935519138763, 1e-9);
  EXPECT_NEAR(std[1], 2.1323402636539974, 1e-12);
  EXPECT_EQ(std[2], 0.0);
}

TEST(ComputeMeanStd, ManyExamplesOnAllThreadsMatchASingleThread) {
  Tensor x = empty({3000, 3, 4, 4}, TensorOptions(kByte));
  for (int64_t i = 0; i < x.numel(); ++i) x.data_ptr<uint8_t>()[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  auto ds = std::make_shared<datasets::NpyDataset>(x, empty({3000}, TensorOptions(kLong)).fill_(0));
  int saved = get_num_threads();
  set_num_threads(1);
  auto one = compute_mean_std(ds);
  set_num_threads(std::max(2, saved));
  auto many = compute_mean_std(ds);
  set_num_threads(saved);
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(one.first[c], many.first[c], 1e-14);
    EXPECT_NEAR(one.second[c], many.second[c], 1e-14);
  }
}

namespace {
struct Ragged : datasets::Dataset<Ragged> {
  Example<> get(size_t i) override {
    return {empty({i == 2 ? 1 : 3, 2, 2}, TensorOptions(kByte)).fill_(1), Tensor()};
  }
  std::optional<size_t> size() const override { return 4; }
};
}  // namespace

TEST(ComputeMeanStd, InconsistentChannelsAndEmptyDatasetsAreErrors) {
  std::string msg = test::error_of([] { compute_mean_std(std::make_shared<Ragged>()); });
  EXPECT_TRUE(test::contains(msg, "example 2 has 1 channels") || test::contains(msg, "channels")) << msg;
  EXPECT_THROW(compute_mean_std(std::make_shared<Ragged>()), ShapeError);
  auto empty_ds = std::make_shared<datasets::NpyDataset>(empty({0, 2}), empty({0}, TensorOptions(kLong)));
  EXPECT_THROW(compute_mean_std(empty_ds), ValueError);
  EXPECT_THROW(compute_mean_std(nullptr), ValueError);
}

TEST(ClassCounts, CountsLabels) {
  auto counts = class_counts(uint8_images());
  EXPECT_EQ(counts, (std::map<int64_t, size_t>{{0, 2}, {1, 1}}));
}
