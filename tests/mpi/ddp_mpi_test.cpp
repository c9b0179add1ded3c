// Data parallel equals one process: run by ctest as `mpirun -np 2 <this>` (label mpi). Every
// rank also trains the single-process reference itself (it holds the whole dataset), so each
// rank compares its data-parallel run with the run of one process on the same global batches
// and data order: the losses of the first 20 steps to 1e-5 relative, the weights after an
// epoch to 1e-4. The last global batch is uneven (one example short of a full share on one
// rank, or none at all), which the per-rank gradient weights must make exact.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <vector>

#include <unistd.h>

#include "cnnkit/cnnkit.h"
#include "train/small_run.h"

namespace {

using namespace cnnkit;
namespace F = nn::functional;

// N random 1x10x10 images with 4 classes that depend on the image (so the model learns).
struct Synthetic : data::datasets::Dataset<Synthetic> {
  explicit Synthetic(size_t n) {
    Generator g(1234);
    x = randn({static_cast<int64_t>(n), 1, 10, 10}, g);
    y = empty({static_cast<int64_t>(n)}, kLong);
    const float* px = x.data_ptr<float>();
    for (size_t i = 0; i < n; ++i) {
      double s = 0;
      for (int k = 0; k < 50; ++k) s += px[i * 100 + static_cast<size_t>(k)];
      y.data_ptr<int64_t>()[i] = (s > 0 ? 2 : 0) + (px[i * 100 + 99] > 0 ? 1 : 0);
    }
  }
  data::Example<> get(size_t i) override {
    return {x[static_cast<int64_t>(i)].clone(), y[static_cast<int64_t>(i)].clone()};
  }
  std::optional<size_t> size() const override { return static_cast<size_t>(x.size(0)); }
  Tensor x, y;
};

nn::Sequential make_model(bool batchnorm) {
  manual_seed(7);
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(1, 6, 3)));
  if (batchnorm) net->push_back(nn::BatchNorm2d(6));
  net->push_back(nn::ReLU());
  net->push_back(nn::MaxPool2d(2));
  net->push_back(nn::Flatten());
  net->push_back(nn::Linear(6 * 4 * 4, 16));
  net->push_back(nn::ReLU());
  net->push_back(nn::Linear(16, 4));
  return net;
}

// Per global step: this rank's sum of example losses and its example count.
struct StepLosses : train::Callback {
  std::map<int64_t, std::pair<double, double>> steps;
  void on_batch_end(train::Trainer&, const train::BatchLogs& b) override {
    steps[b.step - 1] = {b.loss * static_cast<double>(b.batch_size), static_cast<double>(b.batch_size)};
  }
  std::string name() const override { return "StepLosses"; }
};

struct Result {
  std::vector<double> losses;  // mean loss of each global step
  std::vector<float> weights;  // every parameter and buffer, flattened
  train::Metrics val;
};

Result train_once(size_t n, size_t global_batch, bool batchnorm, bool data_parallel, int64_t epochs = 1,
                  bool sync_batchnorm = true) {
  const int world = data_parallel ? distributed::get_world_size() : 1;
  const int rank = data_parallel ? distributed::get_rank() : 0;
  auto dataset = std::make_shared<Synthetic>(n);
  auto val = std::make_shared<Synthetic>(97);
  nn::Sequential net = make_model(batchnorm);
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.05).momentum(0.9).weight_decay(1e-4));
  train::Trainer trainer(nn::AnyModule(net), opt,
                         [](const Tensor& o, const Tensor& t) { return F::cross_entropy(o, t); },
                         train::TrainerOptions().epochs(epochs).verbose(false).seed(3));
  auto losses = std::make_shared<StepLosses>();
  trainer.add_callback(losses);
  if (data_parallel) {
    if (batchnorm && sync_batchnorm) distributed::convert_sync_batchnorm(*net);
    trainer.set_distributed(std::make_shared<distributed::DistributedDataParallel>(
        nn::AnyModule(net), distributed::DistributedDataParallelOptions().bucket_cap_mb(0.002)));  // several buckets
  }
  data::DataLoader loader(dataset, data::DataLoaderOptions(global_batch / static_cast<size_t>(world))
                                       .shuffle(true).seed(11)
                                       .num_replicas(static_cast<size_t>(world)).rank(static_cast<size_t>(rank)));
  data::DataLoader val_loader(val, data::DataLoaderOptions(10).num_replicas(static_cast<size_t>(world))
                                       .rank(static_cast<size_t>(rank)));
  trainer.fit(loader, &val_loader);

  Result r;
  const int64_t steps = static_cast<int64_t>(loader.global_size()) * epochs;
  // Every rank's (loss sum, count) per step, summed in double over the ranks.
  std::vector<double> sums(static_cast<size_t>(2 * steps), 0.0);
  for (const auto& [step, v] : losses->steps) {
    sums[static_cast<size_t>(2 * step)] = v.first;
    sums[static_cast<size_t>(2 * step + 1)] = v.second;
  }
  std::vector<double> total(sums.size(), 0.0);
  const std::string mine(reinterpret_cast<const char*>(sums.data()), sums.size() * sizeof(double));
  for (const std::string& b : data_parallel ? distributed::all_gather_object(mine) : std::vector<std::string>{mine}) {
    const auto* d = reinterpret_cast<const double*>(b.data());
    for (size_t i = 0; i < total.size(); ++i) total[i] += d[i];
  }
  for (int64_t s = 0; s < steps; ++s)
    r.losses.push_back(total[static_cast<size_t>(2 * s)] / total[static_cast<size_t>(2 * s + 1)]);
  for (const auto& item : net->named_parameters()) {
    std::vector<float> v = item.value().to_vector();
    r.weights.insert(r.weights.end(), v.begin(), v.end());
  }
  for (const auto& item : net->named_buffers()) {
    if (item.value().scalar_type() != kFloat) continue;
    std::vector<float> v = item.value().to_vector();
    r.weights.insert(r.weights.end(), v.begin(), v.end());
  }
  r.val = trainer.history().empty() ? train::Metrics{} : trainer.evaluate(val_loader);
  return r;
}

void expect_same_run(const Result& one, const Result& many) {
  ASSERT_EQ(one.losses.size(), many.losses.size());
  for (size_t s = 0; s < std::min<size_t>(20, one.losses.size()); ++s)
    EXPECT_NEAR(many.losses[s], one.losses[s], 1e-5 * std::fabs(one.losses[s])) << "step " << s;
  ASSERT_EQ(one.weights.size(), many.weights.size());
  double worst = 0;
  for (size_t i = 0; i < one.weights.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(one.weights[i]) - many.weights[i]) /
                                std::max(1.0, std::fabs(static_cast<double>(one.weights[i]))));
  EXPECT_LT(worst, 1e-4) << "largest weight difference after the epoch";
  // Validation merged over the ranks: every example once; with weights equal to 1e-5 at most
  // one borderline example may change its predicted class.
  EXPECT_EQ(one.val.count, many.val.count);
  EXPECT_NEAR(one.val.accuracy, many.val.accuracy, 1.01 / static_cast<double>(one.val.count));
}

TEST(DataParallel, EqualsOneProcessWithoutBatchNorm) {
  ASSERT_EQ(distributed::get_world_size(), 2);
  // 289 = 9 * 32 + 1: the last global batch has one example, so rank 1 has none in it.
  const Result one = train_once(289, 32, false, false);
  const Result many = train_once(289, 32, false, true);
  expect_same_run(one, many);
  EXPECT_GT(one.losses.front(), one.losses.back());  // it learned something
}

TEST(DataParallel, EqualsOneProcessWithUnevenLastBatch) {
  // 301 = 9 * 32 + 13: the ranks get 7 and 6 examples of the last step.
  expect_same_run(train_once(301, 32, false, false), train_once(301, 32, false, true));
}

TEST(DataParallel, SyncBatchNormEqualsOneProcessBatchNorm) {
  // 288 = 9 * 32: every rank has examples in every step (SyncBatchNorm needs it).
  const Result one = train_once(288, 32, true, false, 2);
  const Result many = train_once(288, 32, true, true, 2);
  expect_same_run(one, many);
}

TEST(DataParallel, PerRankBatchNormEndsWithRankZerosStatisticsEverywhere) {
  // Per-rank statistics differ during the epoch; the replicas must agree when evaluated/saved.
  const Result r = train_once(288, 32, true, true, 1, /*sync_batchnorm=*/false);
  const std::string mine(reinterpret_cast<const char*>(r.weights.data()), r.weights.size() * sizeof(float));
  const std::vector<std::string> all = distributed::all_gather_object(mine);
  EXPECT_EQ(all[0], all[1]);  // parameters (all-reduced) and buffers (broadcast from rank 0)
}

TEST(DataParallel, SyncBatchNormRefusesARankWithoutExamples) {
  EXPECT_THROW(train_once(289, 32, true, true), ValueError);
}

TEST(DataParallel, AllGatherAndBroadcast) {
  const int rank = distributed::get_rank();
  const std::vector<std::string> all = distributed::all_gather_object(std::string(static_cast<size_t>(rank + 1), 'x'));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], "x");
  EXPECT_EQ(all[1], "xx");
  Tensor t = full({3}, static_cast<double>(rank + 5));
  distributed::broadcast(t, 1);
  EXPECT_EQ(t.to_vector(), std::vector<float>({6, 6, 6}));
  Tensor m = tensor(std::vector<int64_t>{rank, 10 - rank});
  distributed::all_reduce(m, distributed::ReduceOp::MAX);
  EXPECT_EQ(m.data_ptr<int64_t>()[0], 1);
  EXPECT_EQ(m.data_ptr<int64_t>()[1], 10);
}

TEST(DataParallel, ReplicasStartFromRankZerosWeights) {
  manual_seed(100 + static_cast<uint64_t>(distributed::get_rank()));  // different weights per rank
  nn::Linear lin(3, 2);
  distributed::DistributedDataParallel ddp(lin);
  Tensor w = lin->weight.detach().clone();
  Tensor other = w.clone();
  distributed::broadcast(other, 0);
  EXPECT_EQ(w.to_vector(), other.to_vector());
}

namespace {


// 2 epochs of 7 global steps (100 examples, global batch 16: the last share uneven) with
// mid-epoch checkpoints written by rank 0 into `dir`; dies after step `die_at` when > 0,
// resumes from `dir` first when `resume`. Returns the weights and the epochs' train metrics.
std::pair<std::vector<float>, std::vector<double>> mid_epoch_run(const std::string& dir, int64_t every_steps,
                                                                 double every_seconds, int64_t die_at, bool resume) {
  const int world = distributed::get_world_size(), rank = distributed::get_rank();
  nn::Sequential net = make_model(false);
  net->push_back(nn::Dropout(0.2));
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  train::Trainer trainer(nn::AnyModule(net), opt, [](const Tensor& o, const Tensor& t) { return F::cross_entropy(o, t); },
                         train::TrainerOptions()
                             .epochs(2)
                             .verbose(false)
                             .seed(3)
                             .output_dir(rank == 0 ? dir : "")
                             .checkpoint_every_steps(every_steps)
                             .checkpoint_every_seconds(every_seconds));
  trainer.set_distributed(std::make_shared<distributed::DistributedDataParallel>(nn::AnyModule(net)));
  if (die_at > 0) trainer.add_callback(std::make_shared<cnnkit::test::small_run::DieAtStep>(die_at));
  data::DataLoader loader(std::make_shared<Synthetic>(100), data::DataLoaderOptions(16 / static_cast<size_t>(world))
                                                                .shuffle(true).seed(11)
                                                                .num_replicas(static_cast<size_t>(world))
                                                                .rank(static_cast<size_t>(rank)));
  if (resume) trainer.resume(dir + "/checkpoint_last.safetensors");
  try {
    trainer.fit(loader);
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()) != "killed") throw;
  }
  std::vector<float> weights;
  for (const auto& item : net->named_parameters()) {
    std::vector<float> v = item.value().to_vector();
    weights.insert(weights.end(), v.begin(), v.end());
  }
  std::vector<double> metrics;
  for (const auto& e : trainer.history().epochs) metrics.insert(metrics.end(), {e.at("train_loss"), e.at("train_accuracy")});
  return {weights, metrics};
}

}  // namespace

TEST(DataParallel, MidEpochCheckpointResumesBitForBit) {
  // Rank 0 writes; every rank reads it back. The resumed job continues inside epoch 2 with
  // each rank's loader position and its share of the epoch's train metrics, and ends equal,
  // bit for bit, to the job that never stopped (weights, train loss and accuracy).
  const std::string dir = distributed::all_gather_object(testing::TempDir() + "cnnkit_mpi_mid_epoch_" +
                                                         std::to_string(::getpid())).front();
  for (const auto& [steps, seconds] : {std::pair<int64_t, double>{3, 0}, {0, 1e-9}}) {
    const auto whole = mid_epoch_run(dir + "_ref", steps, seconds, 0, false);
    mid_epoch_run(dir, steps, seconds, 11, false);  // checkpoints at 9 (epoch 2, step 2), or 10 every step
    distributed::barrier();
    const auto resumed = mid_epoch_run(dir, steps, seconds, 0, true);
    EXPECT_EQ(resumed.first, whole.first) << "every " << steps << " steps / " << seconds << " s";
    EXPECT_EQ(resumed.second, whole.second) << "every " << steps << " steps / " << seconds << " s";
  }
}

class MpiEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { distributed::init_process_group(); }
  void TearDown() override { distributed::destroy_process_group(); }
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new MpiEnvironment);
  return RUN_ALL_TESTS();
}
