// The run config's scheduler.warmup through build_scheduler and the Trainer: a LinearWarmupLR
// stepped per batch (SchedulerConfig::per_batch()), ramping per optimisation step and then
// giving PyTorch's SequentialLR numbers at epoch boundaries; its checks in fit(); exact
// resume of a warmed-up run; OneCycleLR and the warm-up-less schedules unchanged.
#include <gtest/gtest.h>

#include <cstring>

#include "cnnkit/cnnkit.h"
#include "cnnkit/train/config.h"
#include "cnnkit/train/train.h"
#include "test_util.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;
using cnnkit::test::contains;
using cnnkit::test::error_of;
using cnnkit::test::temp_path;
using train::parse_run_config;

namespace {

constexpr int64_t kBatches = 4;  // steps per epoch below: 32 examples, batches of 8

double lr_of(const optim::Optimizer& opt) { return opt.param_groups()[0].options().get_lr(); }

bool bit_equal(const Tensor& a, const Tensor& b) {
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return a.sizes() == b.sizes() && std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

// A linear model on fixed data, built the same way every time, trained with the config's scheduler.
struct WarmRun {
  // fit_epochs < 0: the config's epochs (a run that crashes earlier trains fewer).
  WarmRun(const std::string& yaml, const std::string& dir, int64_t fit_epochs = -1)
      : cfg(parse_run_config(yaml, "c.yaml")) {
    manual_seed(0);
    net = nn::Linear(3, 2);
    opt = train::build_optimizer(cfg, net->parameters());
    Generator g(1);
    Tensor x = empty({32, 3}), y = empty({32}, kLong);
    for (int64_t i = 0; i < 32; ++i) {
      for (int64_t j = 0; j < 3; ++j) x.data_ptr<float>()[i * 3 + j] = static_cast<float>(g.normal());
      y.data_ptr<int64_t>()[i] = x.data_ptr<float>()[i * 3] > 0 ? 1 : 0;
    }
    loader = std::make_unique<data::DataLoader>(std::make_shared<data::TensorDataset>(x, y),
                                                data::DataLoaderOptions().batch_size(8).shuffle(true).seed(3));
    trainer = std::make_unique<train::Trainer>(
        nn::AnyModule(net), *opt, [](const Tensor& o, const Tensor& t) { return F::cross_entropy(o, t); },
        train::TrainerOptions().epochs(fit_epochs < 0 ? cfg.epochs : fit_epochs).output_dir(dir).verbose(false));
    sched = train::build_scheduler(cfg, *opt, static_cast<int64_t>(loader->size()));
    trainer->set_scheduler(sched, cfg.scheduler.per_batch() ? train::SchedulerStep::kBatch : train::SchedulerStep::kEpoch);
  }
  train::RunConfig cfg;
  nn::Linear net{nullptr};
  std::unique_ptr<optim::Optimizer> opt;
  std::unique_ptr<data::DataLoader> loader;
  std::unique_ptr<train::Trainer> trainer;
  std::shared_ptr<optim::LRScheduler> sched;
};

const char* kCosine = "model: lenet5\noptimizer: {name: SGD, lr: 0.1, momentum: 0.9}\n"
                      "scheduler: {name: CosineAnnealingLR, warmup: {epochs: 2, start_factor: 0.1}}\nepochs: 6\n";

// Records the lr every optimisation step used.
struct LrLog : train::Callback {
  std::vector<double> lrs;
  void on_batch_end(train::Trainer&, const train::BatchLogs& l) override { lrs.push_back(l.lr); }
};

}  // namespace

TEST(SchedulerWarmup, RampsPerStepThenFollowsSequentialLRAtEpochBoundaries) {
  WarmRun r(kCosine, "");
  ASSERT_TRUE(r.cfg.scheduler.per_batch());
  auto* warm = dynamic_cast<optim::LinearWarmupLR*>(r.sched.get());
  ASSERT_NE(warm, nullptr);
  EXPECT_EQ(warm->warmup_steps(), 2 * kBatches);
  auto log = std::make_shared<LrLog>();
  r.trainer->add_callback(log);
  train::History h = r.trainer->fit(*r.loader);
  ASSERT_EQ(log->lrs.size(), 6u * kBatches);

  // torch 1.13: o = SGD([p], lr=0.1, momentum=0.9); w = LinearLR(o, 0.1, 1.0, total_iters=2 * 4)
  //   the lr before each of the 8 warm-up steps (o.step(); w.step()):
  const std::vector<double> ramp = {0.010000000000000002, 0.021250000000000005, 0.03250000000000001,
                                    0.04375000000000001,  0.055000000000000014, 0.06625000000000002,
                                    0.07750000000000001,  0.08875000000000002};
  for (size_t t = 0; t < ramp.size(); ++t) EXPECT_NEAR(log->lrs[t], ramp[t], 1e-15) << "step " << t;
  // torch 1.13: w = LinearLR(o, 0.1, 1.0, total_iters=2); c = CosineAnnealingLR(o, T_max=6 - 2)
  //   s = SequentialLR(o, [w, c], milestones=[2]); the lr of epochs 2..5 (o.step(); s.step() per epoch):
  const std::vector<double> after = {0.1, 0.08535533905932738, 0.05, 0.014644660940672627};
  for (size_t e = 2; e < 6; ++e)
    for (size_t b = 0; b < kBatches; ++b)
      EXPECT_EQ(log->lrs[e * kBatches + b], after[e - 2]) << "epoch " << e << " step " << b;
  EXPECT_EQ(h[5].at("lr"), after[3]);  // an epoch logs the lr of its last step
  EXPECT_EQ(lr_of(*r.opt), 0.0);       // what epoch 6 would start with: the end of the cosine
}

TEST(SchedulerWarmup, FitChecksHowTheWarmupIsStepped) {
  WarmRun r(kCosine, "");
  r.trainer->set_scheduler(r.sched, train::SchedulerStep::kEpoch);
  EXPECT_TRUE(contains(error_of([&] { r.trainer->fit(*r.loader); }), "set it with SchedulerStep::kBatch"));
  WarmRun other(kCosine, "");
  data::DataLoader big(std::make_shared<data::TensorDataset>(randn({40, 3}), randint(0, 2, {40})),
                       data::DataLoaderOptions().batch_size(8));
  const std::string msg = error_of([&] { other.trainer->fit(big); });
  EXPECT_TRUE(contains(msg, "built for 4 steps per epoch but the training loader has 5 batches")) << msg;
}

TEST(SchedulerWarmup, WarmedUpRunResumesBitForBit) {
  const std::string dir_a = temp_path("warmup_a"), dir_b = temp_path("warmup_b");
  WarmRun a(kCosine, dir_a);
  train::History ha = a.trainer->fit(*a.loader);
  {
    // Stopped after epoch 1, inside the warm-up.
    WarmRun b1(kCosine, dir_b, /*fit_epochs=*/1);
    b1.trainer->fit(*b1.loader);
  }
  WarmRun b2(kCosine, dir_b);
  b2.trainer->resume(dir_b + "/checkpoint_last.safetensors");
  EXPECT_EQ(b2.trainer->global_step(), kBatches);
  train::History hb = b2.trainer->fit(*b2.loader);
  EXPECT_EQ(ha.get("lr"), hb.get("lr"));
  EXPECT_EQ(ha.get("train_loss"), hb.get("train_loss"));
  EXPECT_TRUE(bit_equal(a.net->weight, b2.net->weight));
  EXPECT_EQ(a.sched->get_last_lr(), b2.sched->get_last_lr());
}

TEST(SchedulerWarmup, OneCycleAndPlateauAndNoWarmup) {
  // Without a warm-up the schedule is the plain epoch scheduler, stepped per epoch.
  auto cfg = parse_run_config("model: lenet5\noptimizer: {name: SGD, lr: 0.1}\nscheduler: {name: StepLR, step_size: 2}\n"
                              "epochs: 4\n", "c.yaml");
  EXPECT_FALSE(cfg.scheduler.per_batch());
  std::vector<Tensor> params{randn({1})};
  auto opt = train::build_optimizer(cfg, params);
  EXPECT_NE(std::dynamic_pointer_cast<optim::StepLR>(train::build_scheduler(cfg, *opt, 10)), nullptr);

  // OneCycleLR: per batch, and a warm-up before it is refused (it has its own).
  cfg = parse_run_config("model: lenet5\noptimizer: {name: SGD, lr: 0.1, momentum: 0.9}\nscheduler: {name: OneCycleLR}\n"
                         "epochs: 4\n", "c.yaml");
  EXPECT_TRUE(cfg.scheduler.per_batch());
  opt = train::build_optimizer(cfg, params);
  EXPECT_NE(std::dynamic_pointer_cast<optim::OneCycleLR>(train::build_scheduler(cfg, *opt, 10)), nullptr);
  cfg.scheduler.warmup_epochs = 1;
  EXPECT_TRUE(contains(error_of([&] { train::build_scheduler(cfg, *opt, 10); }), "has its own warm-up"));

  // ReduceLROnPlateau: no LR scheduler unless a warm-up is set (in code; the config file
  // refuses the combination today): then a warm-up alone, per batch.
  cfg = parse_run_config("model: lenet5\noptimizer: {name: SGD, lr: 0.1}\nscheduler: {name: ReduceLROnPlateau}\n"
                         "epochs: 4\n", "c.yaml");
  opt = train::build_optimizer(cfg, params);
  EXPECT_EQ(train::build_scheduler(cfg, *opt, 10), nullptr);
  EXPECT_NE(train::build_plateau_scheduler(cfg, *opt), nullptr);
  cfg.scheduler.warmup_epochs = 1;
  EXPECT_TRUE(cfg.scheduler.per_batch());
  auto warm = std::dynamic_pointer_cast<optim::LinearWarmupLR>(train::build_scheduler(cfg, *opt, 10));
  ASSERT_NE(warm, nullptr);
  EXPECT_EQ(warm->main_scheduler(), nullptr);
  EXPECT_TRUE(contains(error_of([&] { train::build_scheduler(cfg, *opt, 0); }), "needs the number of batches"));
}
