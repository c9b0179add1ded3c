// LinearWarmupLR against PyTorch: the per-step ramp is LinearLR over warmup_epochs *
// steps_per_epoch iterations, and at every epoch boundary the lr is the epoch-stepped
// SequentialLR([LinearLR(start_factor, total_iters=E), main], milestones=[E]) (cosine,
// StepLR and MultiStepLR staircases); plus its state dict, a warm-up without a main
// schedule under ReduceLROnPlateau, and its argument checks.
#include <gtest/gtest.h>

#include "cnnkit/optim/optim.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

constexpr int64_t kWarm = 2, kSteps = 5;  // E warm-up epochs, S steps per epoch

struct Net {
  Tensor p = cnnkit::empty({1}).set_requires_grad(true);
  optim::SGD sgd{std::vector<Tensor>{p}, optim::SGDOptions(0.1).momentum(0.9)};
  double lr() const { return sgd.param_groups()[0].options().get_lr(); }
};

// The lr before every optimisation step of `epochs` epochs: out[e * S + b].
std::vector<double> per_step_lrs(Net& net, optim::LRScheduler& sched, int64_t epochs) {
  std::vector<double> out;
  for (int64_t t = 0; t < epochs * kSteps; ++t) {
    out.push_back(net.lr());
    sched.step();
  }
  out.push_back(net.lr());  // after the last step: the epoch `epochs` boundary
  return out;
}

}  // namespace

TEST(LinearWarmupLR, RampsPerStepThenCosineMatchesSequentialLRAtEpochBoundaries) {
  // torch 1.13: o = SGD([p], lr=0.1, momentum=0.9)
  //   w = LinearLR(o, 0.1, 1.0, total_iters=2 * 5); lr before each of 11 steps (o.step(); w.step()):
  const std::vector<double> ramp = {0.010000000000000002, 0.019000000000000003, 0.028000000000000008,
                                    0.03700000000000001,  0.04600000000000001,  0.055000000000000014,
                                    0.06400000000000002,  0.07300000000000002,  0.08200000000000003,
                                    0.09100000000000004};
  //   w = LinearLR(o, 0.1, 1.0, total_iters=2); c = CosineAnnealingLR(o, T_max=4)
  //   s = SequentialLR(o, [w, c], milestones=[2]); lr before each of 7 epochs (o.step(); s.step()):
  const std::vector<double> epochs = {0.010000000000000002, 0.05500000000000001, 0.1, 0.08535533905932738,
                                      0.05, 0.014644660940672627, 0.0};
  Net net;
  auto cosine = std::make_shared<optim::CosineAnnealingLR>(net.sgd, /*T_max=*/6 - kWarm);
  optim::LinearWarmupLR sched(net.sgd, cosine, 0.1, kWarm, kSteps);
  EXPECT_EQ(sched.warmup_steps(), 10);
  const std::vector<double> lrs = per_step_lrs(net, sched, 6);
  for (size_t t = 0; t < ramp.size(); ++t) EXPECT_NEAR(lrs[t], ramp[t], 1e-15) << "step " << t;
  for (size_t e = 0; e < epochs.size(); ++e) {
    const size_t t = e * kSteps;
    if (e < kWarm) {
      EXPECT_NEAR(lrs[t], epochs[e], 1e-15) << "epoch " << e;
      continue;
    }
    EXPECT_EQ(lrs[t], epochs[e]) << "epoch " << e;  // bit for bit after the warm-up
    // The schedule keeps its epoch semantics: one lr for the whole epoch after the warm-up.
    for (size_t b = 1; b < kSteps && t + b < lrs.size(); ++b)
      EXPECT_EQ(lrs[t + b], lrs[t]) << "epoch " << e << " step " << b;
  }
  EXPECT_EQ(sched.get_last_lr(), std::vector<double>{0.0});
}

TEST(LinearWarmupLR, StaircasesMatchSequentialLRAtEpochBoundaries) {
  // torch 1.13, as above with c = StepLR(o, 2, 0.5), 9 epochs:
  const std::vector<double> step = {0.010000000000000002, 0.05500000000000001, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025,
                                    0.0125};
  // ... and c = MultiStepLR(o, [1, 3], 0.5), 8 epochs:
  const std::vector<double> multi = {0.010000000000000002, 0.05500000000000001, 0.1, 0.05, 0.05, 0.025, 0.025, 0.025};
  {
    Net net;
    optim::LinearWarmupLR sched(net.sgd, std::make_shared<optim::StepLR>(net.sgd, 2, 0.5), 0.1, kWarm, kSteps);
    const std::vector<double> lrs = per_step_lrs(net, sched, 8);
    for (size_t e = 0; e < step.size(); ++e) EXPECT_NEAR(lrs[e * kSteps], step[e], 1e-15) << "epoch " << e;
  }
  {
    Net net;
    optim::LinearWarmupLR sched(net.sgd, std::make_shared<optim::MultiStepLR>(net.sgd, std::vector<int64_t>{1, 3}, 0.5),
                                0.1, kWarm, kSteps);
    const std::vector<double> lrs = per_step_lrs(net, sched, 7);
    for (size_t e = 0; e < multi.size(); ++e) EXPECT_NEAR(lrs[e * kSteps], multi[e], 1e-15) << "epoch " << e;
  }
}

TEST(LinearWarmupLR, StateDictResumesMidWarmupAndMidSchedule) {
  for (int64_t stop : {7, 23}) {  // inside the warm-up; inside the cosine's 4th epoch
    Net a;
    optim::LinearWarmupLR sa(a.sgd, std::make_shared<optim::CosineAnnealingLR>(a.sgd, 4), 0.1, kWarm, kSteps);
    const std::vector<double> straight = per_step_lrs(a, sa, 6);

    Net b;
    optim::LinearWarmupLR sb(b.sgd, std::make_shared<optim::CosineAnnealingLR>(b.sgd, 4), 0.1, kWarm, kSteps);
    for (int64_t t = 0; t < stop; ++t) sb.step();
    const optim::StateDict opt_state = b.sgd.state_dict();
    const optim::StateDict state = sb.state_dict();
    EXPECT_EQ(state.scalars.at("steps_per_epoch"), kSteps);
    EXPECT_EQ(state.scalars.at("_schedulers.1.last_epoch"), stop < 10 ? -1 : (stop - 10) / kSteps);

    Net c;
    optim::LinearWarmupLR sc(c.sgd, std::make_shared<optim::CosineAnnealingLR>(c.sgd, 4), 0.1, kWarm, kSteps);
    c.sgd.load_state_dict(opt_state);
    sc.load_state_dict(state);
    for (int64_t t = stop; t < 6 * kSteps; ++t) {
      EXPECT_EQ(c.lr(), straight[static_cast<size_t>(t)]) << "stop " << stop << " step " << t;
      sc.step();
    }
  }
  // Another number of steps per epoch (batch size) would move every epoch boundary.
  Net a, b;
  optim::LinearWarmupLR sa(a.sgd, nullptr, 0.1, kWarm, kSteps), sb(b.sgd, nullptr, 0.1, kWarm, kSteps + 1);
  const std::string msg = error_of([&] { sb.load_state_dict(sa.state_dict()); });
  EXPECT_TRUE(contains(msg, "saved with 5 steps per epoch and 10 warm-up steps, this one has 6 and 12")) << msg;
}

TEST(LinearWarmupLR, WithoutAMainScheduleComposesWithReduceLROnPlateau) {
  Net net;
  optim::LinearWarmupLR warm(net.sgd, nullptr, 0.1, kWarm, kSteps);
  optim::ReduceLROnPlateauScheduler plateau(net.sgd, optim::ReduceLROnPlateauScheduler::min, 0.5f, /*patience=*/0);
  std::vector<double> lrs = per_step_lrs(net, warm, 1);
  EXPECT_NEAR(lrs[5], 0.055, 1e-15);
  plateau.step(1.0f);
  plateau.step(2.0f);  // no improvement, patience 0: halved in the middle of the warm-up
  EXPECT_NEAR(net.lr(), 0.0275, 1e-15);
  for (int64_t t = 0; t < kSteps; ++t) warm.step();
  EXPECT_NEAR(net.lr(), 0.05, 1e-15);  // the ramp ends at half the lr: the cut is kept
  for (int64_t t = 0; t < 3 * kSteps; ++t) warm.step();
  EXPECT_NEAR(net.lr(), 0.05, 1e-15);  // nothing moves it after the warm-up
}

TEST(LinearWarmupLR, BadArgumentsNameThemselves) {
  Net net;
  EXPECT_TRUE(contains(error_of([&] { optim::LinearWarmupLR(net.sgd, nullptr, 0.1, 0, 5); }),
                       "warmup_epochs must be >= 1, got 0"));
  EXPECT_TRUE(contains(error_of([&] { optim::LinearWarmupLR(net.sgd, nullptr, 0.1, 1, 0); }),
                       "steps_per_epoch must be >= 1, got 0"));
  EXPECT_TRUE(contains(error_of([&] { optim::LinearWarmupLR(net.sgd, nullptr, 0.0, 1, 5); }),
                       "start_factor must be in (0, 1], got 0"));
  Net other;
  auto foreign = std::make_shared<optim::StepLR>(other.sgd, 1);
  EXPECT_TRUE(contains(error_of([&] { optim::LinearWarmupLR(net.sgd, foreign, 0.1, 1, 5); }), "another optimizer"));
}
