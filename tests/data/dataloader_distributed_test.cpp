// The DataLoader's distributed shares (num_replicas / rank): disjoint, covering, and dealt so
// that step k over all ranks is exactly the single process's batch k of the global batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "cnnkit/data/dataloader.h"
#include "cnnkit/ops/ops.h"

namespace {

using namespace cnnkit;

struct Indices : data::datasets::Dataset<Indices> {
  explicit Indices(size_t n_) : n(n_) {}
  data::Example<> get(size_t i) override {
    return {full({1}, static_cast<double>(i)), tensor(std::vector<int64_t>{static_cast<int64_t>(i)}).reshape({})};
  }
  std::optional<size_t> size() const override { return n; }
  size_t n;
};

std::vector<std::vector<int64_t>> batches(data::DataLoader& loader, int64_t epoch) {
  loader.set_epoch(epoch);
  std::vector<std::vector<int64_t>> out;
  for (auto& b : loader) {
    const int64_t* p = b.target.data_ptr<int64_t>();
    out.emplace_back(p, p + b.target.numel());
  }
  return out;
}

TEST(DistributedDataLoader, StepsOverRanksAreTheSingleProcessBatches) {
  for (size_t n : {1u, 7u, 64u, 97u, 100u, 101u}) {
    for (size_t world : {2u, 3u}) {
      for (bool drop_last : {false, true}) {
        const size_t local = 4, global = local * world;
        auto ds = std::make_shared<Indices>(n);
        data::DataLoader one(ds, data::DataLoaderOptions(global).shuffle(true).seed(3).drop_last(drop_last));
        const auto expected = batches(one, 2);
        std::vector<std::vector<std::vector<int64_t>>> per_rank;
        for (size_t r = 0; r < world; ++r) {
          data::DataLoader share(ds, data::DataLoaderOptions(local).shuffle(true).seed(3).drop_last(drop_last)
                                         .num_replicas(world).rank(r).workers(r % 2));
          EXPECT_EQ(share.global_size(), one.size()) << n << " " << world;
          per_rank.push_back(batches(share, 2));
          EXPECT_EQ(share.size(), per_rank.back().size());
          EXPECT_TRUE(share.size() == share.global_size() || share.size() + 1 == share.global_size());
        }
        for (size_t k = 0; k < expected.size(); ++k) {
          std::vector<int64_t> step;
          for (size_t r = 0; r < world; ++r)
            if (k < per_rank[r].size()) step.insert(step.end(), per_rank[r][k].begin(), per_rank[r][k].end());
          std::vector<int64_t> want = expected[k];
          std::sort(step.begin(), step.end());
          std::sort(want.begin(), want.end());
          EXPECT_EQ(step, want) << "n " << n << " world " << world << " drop_last " << drop_last << " step " << k;
        }
        for (size_t r = 0; r < world; ++r) EXPECT_LE(per_rank[r].size(), expected.size());
      }
    }
  }
}

TEST(DistributedDataLoader, SharesAreDisjointAndDealtRoundRobin) {
  auto ds = std::make_shared<Indices>(10);
  data::DataLoader r1(ds, data::DataLoaderOptions(2).num_replicas(3).rank(1));  // no shuffle: 1, 4, 7
  const auto b = batches(r1, 0);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0], std::vector<int64_t>({1, 4}));
  EXPECT_EQ(b[1], std::vector<int64_t>({7}));
  EXPECT_THROW(data::DataLoader(ds, data::DataLoaderOptions(2).num_replicas(2).rank(2)), ValueError);
  EXPECT_THROW(data::DataLoader(ds, data::DataLoaderOptions(2).num_replicas(0)), ValueError);
}

TEST(DistributedDataLoader, LibTorchAndPyTorchSamplerSpellings) {
  auto a = data::make_data_loader(Indices(10), data::samplers::DistributedSequentialSampler(10, 2, 1),
                                  data::DataLoaderOptions(3));
  EXPECT_EQ(a->options().num_replicas(), 2u);
  EXPECT_EQ(a->options().rank(), 1u);
  EXPECT_FALSE(a->options().shuffle());
  auto b = data::make_data_loader(Indices(10), data::DistributedSampler(4, 3, /*shuffle=*/false));
  EXPECT_EQ(b->options().num_replicas(), 4u);
  EXPECT_EQ(b->options().rank(), 3u);
  EXPECT_FALSE(b->options().shuffle());
  auto c = data::make_data_loader(Indices(10), data::samplers::DistributedRandomSampler(10, 2, 0));
  EXPECT_TRUE(c->options().shuffle());
}

}  // namespace
