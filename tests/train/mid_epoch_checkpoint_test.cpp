// Mid-epoch checkpoints (TrainerOptions::checkpoint_every_steps / _seconds): a run that dies
// inside an epoch and is resumed from its last checkpoint ends with the weights, the weight
// average, the optimiser state, the step log and the epoch's train metrics of a run that was
// never stopped, bit for bit, with shuffling, random augmentation (on worker threads),
// dropout, mixup, EMA and a per-step scheduler all in play. DataLoader::skip_batches is the
// tail of a full pass, for map-style and streamed datasets.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cnnkit/cnnkit.h"
#include "cnnkit/data/iterable.h"
#include "cnnkit/train/config.h"
#include "cnnkit/train/train.h"
#include "test_util.h"
#include "train/small_run.h"

using namespace cnnkit;
using cnnkit::test::contains;
using cnnkit::test::message_of;
using cnnkit::test::temp_path;
using namespace cnnkit::test::small_run;

namespace {

// Random augmentation drawn from the per-example generator the loader reseeds.
class NoisyFlips : public data::datasets::Dataset<NoisyFlips> {
 public:
  NoisyFlips(Tensor x, Tensor y) : x_(std::move(x)), y_(std::move(y)) {}
  data::Example<> get(size_t i) override {
    Tensor img = flip_(x_[static_cast<int64_t>(i)]);
    return {img + randn(img.sizes(), data::example_generator()) * 0.1, y_[static_cast<int64_t>(i)]};
  }
  std::optional<size_t> size() const override { return static_cast<size_t>(x_.size(0)); }
  std::vector<std::string> classes() const override { return {"a", "b", "c"}; }

 private:
  Tensor x_, y_;
  data::transforms::RandomHorizontalFlip flip_;
};

nn::Sequential dropout_net() {
  manual_seed(3);
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)), nn::BatchNorm2d(4), nn::ReLU(),
                        nn::Flatten(), nn::Dropout(0.3), nn::Linear(4 * 6 * 6, 3));
}


struct Setup {
  size_t workers = 0;
  int64_t every_steps = 0;
  double every_seconds = 0;
};

// One training run of 3 epochs of 5 batches over NoisyFlips in `dir`; dies after step `die_at`
// when it is > 0, resumes from `dir`'s checkpoint when `resume` is set.
struct TrainingRun {
  TrainingRun(const Data& d, const Setup& s, const std::string& dir)
      : net(dropout_net()),
        opt(net->parameters(), optim::SGDOptions(0.05).momentum(0.9)),
        loader(std::make_shared<NoisyFlips>(d.x, d.y),
               data::DataLoaderOptions().batch_size(8).shuffle(true).seed(5).workers(s.workers)),
        trainer(nn::AnyModule(net), opt, ce(),
                train::TrainerOptions()
                    .epochs(3)
                    .seed(7)
                    .output_dir(dir)
                    .ema_decay(0.9)
                    .mixup(data::MixupOptions().mixup_alpha(0.4).cutmix_alpha(1.0).num_classes(3))
                    .checkpoint_every_steps(s.every_steps)
                    .checkpoint_every_seconds(s.every_seconds)
                    .verbose(false)) {
    trainer.set_scheduler(std::make_shared<optim::OneCycleLR>(opt, optim::OneCycleLROptions(0.1, 15)),
                          train::SchedulerStep::kBatch);
    trainer.add_callback(std::make_shared<train::StepLogger>(dir + "/steps.csv"));
  }
  nn::Sequential net;
  optim::SGD opt;
  data::DataLoader loader;
  train::Trainer trainer;
};

// A run with checkpoints every `every` steps that dies after step `die_at` in `dir`.
void die_after(const Data& d, int64_t every, int64_t die_at, const std::string& dir) {
  TrainingRun r(d, {.every_steps = every}, dir);
  r.trainer.add_callback(std::make_shared<DieAtStep>(die_at));
  EXPECT_THROW(r.trainer.fit(r.loader), std::runtime_error);
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void expect_resumed_equals_uninterrupted(const Setup& s, int64_t die_at, int64_t expect_batch) {
  const Data d;
  const std::string ref_dir = temp_path("mid_epoch_ref"), dir = temp_path("mid_epoch_run");
  TrainingRun ref(d, s, ref_dir);
  const train::History ref_history = ref.trainer.fit(ref.loader);

  {
    TrainingRun crashed(d, s, dir);
    crashed.trainer.add_callback(std::make_shared<DieAtStep>(die_at));
    EXPECT_THROW(crashed.trainer.fit(crashed.loader), std::runtime_error);
  }
  TrainingRun resumed(d, s, dir);
  resumed.trainer.resume(dir + "/checkpoint_last.safetensors");
  EXPECT_EQ(resumed.trainer.batches_into_epoch(), expect_batch);
  EXPECT_EQ(resumed.trainer.epoch() * 5 + expect_batch, resumed.trainer.global_step());
  const train::History history = resumed.trainer.fit(resumed.loader);

  expect_same_state(*resumed.net, *ref.net);
  ASSERT_NE(resumed.trainer.ema(), nullptr);
  expect_same_state(*resumed.trainer.ema(), *ref.trainer.ema());
  EXPECT_EQ(resumed.trainer.global_step(), 15);
  const auto& ref_state = ref.opt.state_dict(), &state = resumed.opt.state_dict();
  ASSERT_EQ(ref_state.tensors.size(), state.tensors.size());
  for (const auto& [k, t] : ref_state.tensors) EXPECT_TRUE(bit_equal(t, state.tensors.at(k))) << k;
  // The interrupted epoch's train metrics cover all of its batches, before and after the stop.
  ASSERT_EQ(history.size(), 3u);
  for (size_t e = 0; e < 3; ++e)
    for (const char* k : {"train_loss", "train_accuracy", "lr"}) EXPECT_EQ(history[e].at(k), ref_history[e].at(k)) << e << k;
  EXPECT_EQ(read(dir + "/steps.csv"), read(ref_dir + "/steps.csv")) << "each step logged once, in order";
  std::filesystem::remove_all(ref_dir);
  std::filesystem::remove_all(dir);
}

}  // namespace

TEST(MidEpochCheckpoint, EveryStepsResumesBitForBit) {
  // Checkpoints after steps 3, 6, 9 and 12 (5 batches an epoch; 5, 10, 15 are epoch ends):
  // dying after step 8 resumes from step 6, batch 1 of epoch 2.
  expect_resumed_equals_uninterrupted({.workers = 0, .every_steps = 3}, 8, 1);
}

TEST(MidEpochCheckpoint, WorkerThreadsResumeBitForBit) {
  expect_resumed_equals_uninterrupted({.workers = 2, .every_steps = 4}, 14, 2);  // from step 12
}

TEST(MidEpochCheckpoint, EverySecondsResumesBitForBit) {
  // A due time that has always passed: a checkpoint after every step inside an epoch.
  expect_resumed_equals_uninterrupted({.workers = 0, .every_seconds = 1e-9}, 7, 1);  // from step 6
}

TEST(MidEpochCheckpoint, EpochEndCheckpointStillResumesAtTheBoundary) {
  expect_resumed_equals_uninterrupted({.workers = 0, .every_steps = 7}, 11, 0);  // step 10 is an epoch end
}

TEST(MidEpochCheckpoint, CheckpointHoldsPositionAndMetrics) {
  const Data d;
  const std::string dir = temp_path("mid_epoch_keys");
  die_after(d, 3, 4, dir);
  const io::Checkpoint ck = io::load_checkpoint(dir + "/checkpoint_last.safetensors");
  EXPECT_EQ(ck.extra.at("trainer.batch"), "3");
  EXPECT_EQ(ck.extra.at("trainer.batches"), "5");
  EXPECT_EQ(ck.extra.at("trainer.epoch"), "0");
  EXPECT_EQ(ck.extra.at("trainer.step"), "3");
  const Tensor m = ck.extra_tensors.at("trainer.train_metrics.0");
  EXPECT_EQ(m.scalar_type(), kLong);  // the doubles' bits
  EXPECT_FALSE(ck.extra_tensors.count("trainer.train_metrics.1"));
  std::filesystem::remove_all(dir);
}

TEST(MidEpochCheckpoint, NeedsAPlaceToWrite) {
  const Data d;
  nn::Sequential net = make_net();
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
  auto loader = d.train();
  train::Trainer trainer(nn::AnyModule(net), opt, ce(),
                         train::TrainerOptions().checkpoint_every_steps(2).verbose(false));
  const std::string msg = message_of([&] { trainer.fit(*loader); });
  EXPECT_TRUE(contains(msg, "checkpoint_every_steps/_seconds need somewhere to write")) << msg;
  train::Trainer negative(nn::AnyModule(net), opt, ce(),
                          train::TrainerOptions().output_dir(temp_path("mid_epoch_neg")).checkpoint_every_seconds(-1).verbose(false));
  EXPECT_TRUE(contains(message_of([&] { negative.fit(*loader); }), "must be >= 0"));
}

TEST(MidEpochCheckpoint, ResumeOnAnotherLoaderIsRefused) {
  const Data d;
  const std::string dir = temp_path("mid_epoch_other");
  die_after(d, 2, 3, dir);
  TrainingRun r(d, {.every_steps = 2}, dir);
  r.trainer.resume(dir + "/checkpoint_last.safetensors");
  data::DataLoader other(std::make_shared<NoisyFlips>(d.x, d.y), data::DataLoaderOptions().batch_size(16));
  const std::string msg = message_of([&] { r.trainer.fit(other); });
  EXPECT_TRUE(contains(msg, "after batch 2 of an epoch of 5 batches, but the training loader has 3")) << msg;
  std::filesystem::remove_all(dir);
}

TEST(MidEpochCheckpoint, CorruptPositionIsAnIOError) {
  const Data d;
  const std::string dir = temp_path("mid_epoch_corrupt");
  die_after(d, 2, 3, dir);
  const std::string path = dir + "/checkpoint_last.safetensors";
  io::Checkpoint ck = io::load_checkpoint(path);
  ck.extra["trainer.batch"] = "9";
  io::save_checkpoint(path, ck);
  TrainingRun r(d, {.every_steps = 2}, dir);
  EXPECT_TRUE(contains(message_of([&] { r.trainer.resume(path); }), "position 9 of 5 batches is not inside an epoch"));
  ck.extra["trainer.batch"] = "2";
  ck.extra_tensors.erase("trainer.train_metrics.0");
  io::save_checkpoint(path, ck);
  EXPECT_TRUE(contains(message_of([&] { r.trainer.resume(path); }), "lacks the epoch's train metrics"));
  std::filesystem::remove_all(dir);
}

// ---- DataLoader::skip_batches ------------------------------------------------------------------

namespace {

std::vector<Tensor> pass(data::DataLoader& loader, int64_t epoch, size_t skip) {
  loader.set_epoch(epoch);
  if (skip) loader.skip_batches(skip);
  std::vector<Tensor> out;
  for (auto& b : loader) out.push_back(b.data.clone());
  return out;
}

// A stream of `n` numbered examples per worker, with a random draw from the loader's
// per-example generator.
class Counting : public data::IterableDataset {
 public:
  explicit Counting(size_t n) : n_(n) {}
  std::unique_ptr<data::ExampleStream> stream(const data::WorkerInfo& w) const override {
    struct S : data::ExampleStream {
      size_t i = 0, n = 0, id = 0;
      bool next(data::Example<>& out) override {
        if (i == n) return false;
        out = {full({1}, static_cast<float>(id * 1000 + i++)) + rand({1}, data::example_generator()), zeros({}, kLong)};
        return true;
      }
    };
    auto s = std::make_unique<S>();
    s->n = n_;
    s->id = w.id;
    return s;
  }
  std::optional<size_t> stream_size(const data::WorkerInfo&) const override { return n_; }

 private:
  size_t n_;
};

}  // namespace

TEST(DataLoaderSkip, IsTheTailOfAFullPass) {
  const Data d;
  for (size_t workers : {0u, 1u, 3u}) {
    data::DataLoader loader(std::make_shared<NoisyFlips>(d.x, d.y),
                            data::DataLoaderOptions().batch_size(8).shuffle(true).seed(9).workers(workers));
    const std::vector<Tensor> full_pass = pass(loader, 2, 0);
    ASSERT_EQ(full_pass.size(), 5u);
    for (size_t k : {1u, 3u, 4u, 5u, 7u}) {
      const std::vector<Tensor> tail = pass(loader, 2, k);
      ASSERT_EQ(tail.size(), full_pass.size() - std::min<size_t>(k, 5)) << workers << " " << k;
      for (size_t i = 0; i < tail.size(); ++i) EXPECT_TRUE(bit_equal(tail[i], full_pass[k + i])) << workers << " " << k;
    }
    EXPECT_EQ(pass(loader, 2, 0).size(), 5u) << "the skip applies to one pass";
  }
}

TEST(DataLoaderSkip, StreamsReadAndDropTheSkippedBatches) {
  for (size_t workers : {0u, 2u}) {
    data::DataLoader loader(std::make_shared<Counting>(7), data::DataLoaderOptions().batch_size(3).workers(workers));
    const std::vector<Tensor> full_pass = pass(loader, 1, 0);
    ASSERT_EQ(full_pass.size(), std::max<size_t>(1, workers) * 3);  // 7 examples a stream, batches of 3
    for (size_t k : {1u, 2u, 5u, 9u}) {
      const std::vector<Tensor> tail = pass(loader, 1, k);
      ASSERT_EQ(tail.size(), full_pass.size() - std::min(k, full_pass.size())) << workers << " " << k;
      for (size_t i = 0; i < tail.size(); ++i) EXPECT_TRUE(bit_equal(tail[i], full_pass[k + i])) << workers << " " << k;
    }
  }
}

TEST(MidEpochCheckpoint, ConfigKey) {
  auto parse = [](const std::string& text) { return train::parse_run_config(text, "c.yaml"); };
  const std::string base = "data: {dataset: fashion-mnist}\nmodel: lenet5\n";
  train::RunConfig c = parse(base + "checkpoint_every: 500\n");
  EXPECT_EQ(c.checkpoint_every_steps, 500);
  EXPECT_EQ(c.checkpoint_every_minutes, 0);
  c = parse(base + "checkpoint_every: {steps: 20, minutes: 2.5}\n");
  EXPECT_EQ(c.checkpoint_every_steps, 20);
  EXPECT_EQ(c.checkpoint_every_minutes, 2.5);
  EXPECT_TRUE(contains(message_of([&] { parse(base + "checkpoint_every: {hours: 1}\n"); }), "unknown key 'hours'"));
  EXPECT_TRUE(contains(message_of([&] { parse(base + "checkpoint_every: -3\n"); }), "checkpoint_every"));
  EXPECT_TRUE(contains(message_of([&] { parse(base + "checkpoint_every: {minutes: -1}\n"); }), "minutes"));
}
