// The real Fashion-MNIST (Debian's dataset-fashion-mnist, gzipped IDX files) through
// FashionMNIST, compute_mean_std and clean, against numbers numpy computed from the same
// files. Skipped where the package is not installed.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "cnnkit/data/clean.h"
#include "cnnkit/data/datasets/mnist.h"
#include "cnnkit/data/split.h"
#include "cnnkit/data/stats.h"

using namespace cnnkit;
using namespace cnnkit::data;

namespace {
const char* kRoot = "/usr/share/datasets/fashion-mnist";
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

class FashionMNISTReal : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(std::string(kRoot) + "/train-images-idx3-ubyte.gz"))
      GTEST_SKIP() << kRoot << " not installed (Debian package dataset-fashion-mnist)";
  }
};

TEST_F(FashionMNISTReal, SizesLabelsAndPixelsMatchNumpy) {
  auto t0 = std::chrono::steady_clock::now();
  datasets::FashionMNIST train(kRoot);
  double load_s = seconds_since(t0);
  std::cout << "FashionMNIST train: loaded 60000 images in " << load_s << " s\n";
  EXPECT_LT(load_s, 5.0);  // ~0.3 s here; generous for loaded machines
  datasets::FashionMNIST test(kRoot, datasets::MNIST::Mode::kTest);
  ASSERT_EQ(train.size().value(), 60000u);
  ASSERT_EQ(test.size().value(), 10000u);

  // labels = np.frombuffer(gzip.open(root + 'train-labels-idx1-ubyte.gz').read(), np.uint8, offset=8)
  // labels[:8] = [9 0 0 3 0 2 7 2]; test labels[:4] = [9 2 1 1]; np.bincount(labels) = 6000 each
  std::vector<int64_t> first;
  for (size_t i = 0; i < 8; ++i) first.push_back(train.get(i).target.item<int64_t>());
  EXPECT_EQ(first, (std::vector<int64_t>{9, 0, 0, 3, 0, 2, 7, 2}));
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(test.get(i).target.item<int64_t>(), (std::vector<int64_t>{9, 2, 1, 1})[i]);
  EXPECT_EQ(train.classes()[9], "Ankle boot");

  // x[0].sum() = 76247, x[59999].sum() = 16684, x[0, 14, 10:20] = [0 0 237 226 217 223 222 219 222 221]
  auto sum = [](const Tensor& t) {
    int64_t s = 0;
    for (int64_t i = 0; i < t.numel(); ++i) s += t.data_ptr<uint8_t>()[i];
    return s;
  };
  Tensor x0 = train.get(0).data;
  EXPECT_EQ(x0.sizes(), IntArrayRef({1, 28, 28}));
  EXPECT_EQ(sum(x0), 76247);
  EXPECT_EQ(sum(train.get(59999).data), 16684);
  std::vector<int> row;
  for (int c = 10; c < 20; ++c) row.push_back(x0.data_ptr<uint8_t>()[14 * 28 + c]);
  EXPECT_EQ(row, (std::vector<int>{0, 0, 237, 226, 217, 223, 222, 219, 222, 221}));
}

TEST_F(FashionMNISTReal, MeanStdCleanAndStratifiedSplit) {
  auto train = std::make_shared<datasets::FashionMNIST>(kRoot);

  // xf = x.astype(np.float64) / 255; xf.mean() = 0.2860405969887955, xf.std() = 0.35302424451492237
  auto t0 = std::chrono::steady_clock::now();
  auto [mean, std] = compute_mean_std(train);
  std::cout << "compute_mean_std over 60000 images: " << seconds_since(t0) << " s\n";
  ASSERT_EQ(mean.size(), 1u);
  EXPECT_NEAR(mean[0], 0.2860405969887955, 1e-9);
  EXPECT_NEAR(std[0], 0.35302424451492237, 1e-9);

  // No example of the training set is undecodable, out of range, non-finite or a duplicate
  // (hashlib.md5 of image bytes + label over all 60000: no repeats).
  t0 = std::chrono::steady_clock::now();
  CleanResult r = clean(train);
  double clean_s = seconds_since(t0);
  std::cout << "clean over 60000 images: " << clean_s << " s\n" << r.summary();
  EXPECT_LT(clean_s, 10.0);  // ~0.1 s here
  EXPECT_EQ(r.report.kept, 60000u);
  EXPECT_EQ(r.report.num_classes, 10);

  auto parts = stratified_split(train, {0.9, 0.1}, 7);
  EXPECT_EQ(parts[0]->size().value(), 54000u);
  EXPECT_EQ(parts[1]->size().value(), 6000u);
  std::vector<size_t> per_class(10, 0);
  for (int64_t l : parts[1]->labels()) ++per_class[static_cast<size_t>(l)];
  EXPECT_EQ(per_class, std::vector<size_t>(10, 600));
}
