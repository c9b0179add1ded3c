// The run layer over `dataset: shards`: build_datasets splits the training stream over the
// ranks it is given (DataConfig::rank / world_size) and over each rank's loader workers so
// that every sample is trained on exactly once per epoch, reads validation and test whole on
// every rank, and takes classes and normalize: auto from the index.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "cnnkit/data/data.h"
#include "cnnkit/ops/factory.h"
#include "cnnkit/train/config.h"
#include "test_util.h"

using namespace cnnkit;

namespace {

// n samples whose class index is their key: data (1, 4, 4) uint8.
std::string write_keyed_shards(const std::string& dir, const std::string& prefix, int64_t n, size_t per_shard) {
  data::ShardWriter w(dir, data::ShardWriterOptions().prefix(prefix).max_count(per_shard));
  for (int64_t i = 0; i < n; ++i) w.write(data::Example<>(full({1, 4, 4}, static_cast<double>(i % 200), kByte), full({}, i, kLong)));
  const auto index = w.close();
  char last[16];
  std::snprintf(last, sizeof last, "%06zu", index.shards.size() - 1);
  return dir + "/" + prefix + "-{000000.." + last + "}.tar";
}

}  // namespace

TEST(ShardsRun, TwoRanksOfBuildDatasetsTrainOnEverySampleOncePerEpoch) {
  const std::string dir = test::fresh_dir("shards_run");
  const std::string train = write_keyed_shards(dir, "train", 90, 8);  // 12 shards
  const std::string test = write_keyed_shards(dir, "test", 10, 10);
  const train::RunConfig cfg = train::parse_run_config(
      "data:\n"
      "  dataset: shards\n"
      "  paths: {train: \"" + train + "\", test: \"" + test + "\"}\n"
      "  shuffle_buffer: 16\n"
      "  workers: 2\n"
      "model: {layers: [Flatten, Linear: {out_features: 90}]}\n",
      "shards.yaml", {});
  EXPECT_EQ(cfg.data.val_fraction, 0.0);  // a stream is not split at random
  for (int64_t epoch : {0, 1}) {
    std::multiset<int64_t> seen;
    for (int64_t rank : {0, 1}) {
      train::RunConfig c = cfg;
      c.data.rank = rank;
      c.data.world_size = 2;
      const train::RunData d = train::build_datasets(c);
      EXPECT_EQ(d.train->size(), 90u);  // the whole set's length, whatever the rank
      EXPECT_EQ(d.test->size(), 10u);
      EXPECT_EQ(d.val, nullptr);
      ASSERT_EQ(d.mean.size(), 1u);  // normalize: auto from the index
      data::DataLoader loader(d.train, data::DataLoaderOptions(5).workers(2).seed(c.seed));
      loader.set_epoch(epoch);
      for (auto& b : loader)
        for (int64_t k = 0; k < b.target.numel(); ++k) seen.insert(b.target.data_ptr<int64_t>()[k]);
    }
    ASSERT_EQ(seen.size(), 90u) << "epoch " << epoch;
    for (int64_t k = 0; k < 90; ++k) EXPECT_EQ(seen.count(k), 1u) << "key " << k << ", epoch " << epoch;
  }
}
