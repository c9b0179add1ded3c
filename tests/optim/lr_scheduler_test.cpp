// The schedulers beyond the golden sequences: PyTorch's argument errors, the shared
// initial_lr, state dicts that resume a schedule exactly, ReduceLROnPlateau's LibTorch
// spelling and float arguments, and OneCycleLR's end of schedule.
#include <gtest/gtest.h>

#include "cnnkit/optim/optim.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::test;
using optim::OptimizerParamGroup;
using Plateau = optim::ReduceLROnPlateauScheduler;

namespace {

struct Opt {
  Tensor a = cnnkit::empty({1}).set_requires_grad(true);
  Tensor b = cnnkit::empty({1}).set_requires_grad(true);
  optim::SGD sgd{std::vector<OptimizerParamGroup>{OptimizerParamGroup({a}),
                                                  OptimizerParamGroup({b}, std::make_unique<optim::SGDOptions>(
                                                                               optim::SGDOptions(0.02).momentum(0.9)))},
                 optim::SGDOptions(0.1).momentum(0.9)};
};

std::vector<double> lrs(const optim::Optimizer& opt) {
  std::vector<double> out;
  for (const auto& g : opt.param_groups()) out.push_back(g.options().get_lr());
  return out;
}

TEST(LRScheduler, BadArgumentsThrowPyTorchsErrors) {
  Opt s;
  EXPECT_THROW(optim::StepLR(s.sgd, 0), ValueError);
  EXPECT_EQ(error_of([&] { optim::ConstantLR(s.sgd, 1.5); }),
            "Constant multiplicative factor expected to be between 0 and 1.");
  EXPECT_EQ(error_of([&] { optim::LinearLR(s.sgd, -0.1); }),
            "Starting multiplicative factor expected to be between 0 and 1.");
  EXPECT_EQ(error_of([&] { optim::LinearLR(s.sgd, 0.5, 2.0); }),
            "Ending multiplicative factor expected to be between 0 and 1.");
  EXPECT_EQ(error_of([&] { optim::CosineAnnealingWarmRestarts(s.sgd, 0); }), "Expected positive integer T_0, but got 0");
  EXPECT_EQ(error_of([&] { optim::CosineAnnealingWarmRestarts(s.sgd, 5, 0); }),
            "Expected integer T_mult >= 1, but got 0");
  EXPECT_THROW(optim::CosineAnnealingLR(s.sgd, 0), ValueError);
  EXPECT_EQ(error_of([&] { optim::OneCycleLR(s.sgd, 0.1, 0); }), "Expected positive integer total_steps, but got 0");
  EXPECT_EQ(error_of([&] { optim::OneCycleLR(s.sgd, 0.1, 10, 1.5); }),
            "Expected float between 0 and 1 pct_start, but got 1.5");
  EXPECT_EQ(error_of([&] { optim::OneCycleLR(s.sgd, 0.1, 10, 0.3, "exp"); }),
            "anneal_strategy must by one of 'cos' or 'linear', instead got exp");
  EXPECT_EQ(error_of([&] { optim::OneCycleLR(s.sgd, std::vector<double>{0.1}, 10); }),
            "expected 2 values for max_lr, got 1");
  Tensor p = cnnkit::empty({1}).set_requires_grad(true);
  optim::Adagrad adagrad(std::vector<Tensor>{p});
  EXPECT_EQ(error_of([&] { optim::OneCycleLR(adagrad, 0.1, 10); }),
            "optimizer must support momentum with `cycle_momentum` option enabled");
  optim::OneCycleLR ok(adagrad, 0.1, 10, 0.3, "cos", 25.0, 1e4, false, /*cycle_momentum=*/false);
  EXPECT_THROW(Plateau(s.sgd, Plateau::min, 1.0f), ValueError);
  EXPECT_THROW(Plateau(s.sgd, Plateau::min, 0.1f, 10, 1e-4, Plateau::rel, 0, {0.1f, 0.2f, 0.3f}), ValueError);
}

TEST(SequentialLR, RejectsMismatchedMilestonesAndOptimizers) {
  Opt s, other;
  auto a = std::make_shared<optim::LinearLR>(s.sgd);
  auto b = std::make_shared<optim::ExponentialLR>(s.sgd, 0.9);
  EXPECT_TRUE(contains(error_of([&] { optim::SequentialLR(s.sgd, {a, b}, {}); }),
                       "number of schedulers provided to be one more than the number of milestone points"));
  auto c = std::make_shared<optim::ExponentialLR>(other.sgd, 0.9);
  EXPECT_TRUE(contains(error_of([&] { optim::SequentialLR(s.sgd, {a, c}, {3}); }),
                       "schedulers at index 1 to be different than the optimizer passed in"));
}

// torch: SGD(lr=0.1); LinearLR(opt, 0.5); CosineAnnealingLR(opt, 10).base_lrs == [0.1]:
// the second scheduler starts from group['initial_lr'], not from the lr LinearLR set.
TEST(LRScheduler, LaterSchedulersStartFromTheInitialLr) {
  Opt s;
  optim::LinearLR warm(s.sgd, 0.5);
  EXPECT_EQ(lrs(s.sgd), (std::vector<double>{0.05, 0.01}));
  optim::CosineAnnealingLR cos(s.sgd, 10);
  EXPECT_EQ(cos.base_lrs(), (std::vector<double>{0.1, 0.02}));
  EXPECT_EQ(s.sgd.param_groups()[0].initial_lr(), 0.1);
  EXPECT_EQ(s.sgd.state_dict().scalars.at("param_groups.1.initial_lr"), 0.02);
}

// torch: SGD(lr=0.1); StepLR(opt, 2, 0.5) -> lrs after construction and 5 steps:
// 0.1, 0.1, 0.05, 0.05, 0.025, 0.025 (construction performs the initial step).
TEST(StepLR, ConstructionIsPyTorchsInitialStep) {
  Opt s;
  optim::StepLR sched(s.sgd, 2, 0.5);
  EXPECT_EQ(sched.last_epoch(), 0);
  std::vector<double> got{sched.get_last_lr()[0]};
  for (int i = 0; i < 5; ++i) {
    sched.step();
    got.push_back(sched.get_last_lr()[0]);
  }
  EXPECT_EQ(got, (std::vector<double>{0.1, 0.1, 0.05, 0.05, 0.025, 0.025}));
}

// ---- resume: 20 steps, save optimiser + scheduler, 30 more == fresh pair loaded, 30 more ----

using Make = std::function<std::shared_ptr<optim::LRScheduler>(optim::Optimizer&)>;

void expect_resume(const Make& make) {
  Opt s1;
  auto sched1 = make(s1.sgd);
  for (int i = 0; i < 20; ++i) sched1->step();
  optim::StateDict opt_state = s1.sgd.state_dict(), sched_state = sched1->state_dict();
  std::vector<std::vector<double>> want, want_mom;
  for (int i = 0; i < 30; ++i) {
    sched1->step();
    want.push_back(lrs(s1.sgd));
    want_mom.push_back({s1.sgd.param_groups()[0].options().get_momentum()});
  }
  Opt s2;
  auto sched2 = make(s2.sgd);
  s2.sgd.load_state_dict(opt_state);
  sched2->load_state_dict(sched_state);
  EXPECT_EQ(sched2->last_epoch(), 20);
  for (int i = 0; i < 30; ++i) {
    sched2->step();
    EXPECT_EQ(lrs(s2.sgd), want[i]) << "step " << 21 + i;
    EXPECT_EQ(s2.sgd.param_groups()[0].options().get_momentum(), want_mom[i][0]) << "step " << 21 + i;
    EXPECT_EQ(sched2->get_last_lr(), want[i]);
  }
}

TEST(LRSchedulerStateDict, StepLRResumes) {
  expect_resume([](optim::Optimizer& o) { return std::make_shared<optim::StepLR>(o, 7, 0.5); });
}
TEST(LRSchedulerStateDict, MultiStepLRResumes) {
  expect_resume([](optim::Optimizer& o) { return std::make_shared<optim::MultiStepLR>(o, std::vector<int64_t>{5, 25, 40}); });
}
TEST(LRSchedulerStateDict, CosineAnnealingLRResumes) {
  expect_resume([](optim::Optimizer& o) { return std::make_shared<optim::CosineAnnealingLR>(o, 17, 1e-3); });
}
TEST(LRSchedulerStateDict, WarmRestartsResumes) {
  expect_resume([](optim::Optimizer& o) { return std::make_shared<optim::CosineAnnealingWarmRestarts>(o, 3, 2); });
}
TEST(LRSchedulerStateDict, LinearLRResumes) {
  expect_resume([](optim::Optimizer& o) { return std::make_shared<optim::LinearLR>(o, 0.1, 1.0, 30); });
}
TEST(LRSchedulerStateDict, SequentialLRResumes) {
  expect_resume([](optim::Optimizer& o) {
    auto warm = std::make_shared<optim::LinearLR>(o, 0.1, 1.0, 5);
    auto cos = std::make_shared<optim::CosineAnnealingLR>(o, 40);
    auto step = std::make_shared<optim::StepLR>(o, 3);
    return std::make_shared<optim::SequentialLR>(o, std::vector<std::shared_ptr<optim::LRScheduler>>{warm, cos, step},
                                                 std::vector<int64_t>{5, 30});
  });
}
TEST(LRSchedulerStateDict, OneCycleLRResumesLrAndMomentum) {
  expect_resume([](optim::Optimizer& o) { return std::make_shared<optim::OneCycleLR>(o, 0.5, 60, 0.25, "linear"); });
}

TEST(LRSchedulerStateDict, LoadChecksKeysAndGroupCount) {
  Opt s;
  optim::StepLR sched(s.sgd, 3);
  optim::StateDict d = sched.state_dict();
  EXPECT_EQ(d.scalars.at("last_epoch"), 0);
  EXPECT_TRUE(d.scalars.count("base_lrs.1") && d.scalars.count("_last_lr.1") && d.scalars.count("_step_count"));
  optim::StateDict missing = d;
  missing.scalars.erase("last_epoch");
  EXPECT_TRUE(contains(error_of([&] { sched.load_state_dict(missing); }), "'last_epoch'"));
  optim::StateDict extra = d;
  extra.scalars["base_lrs.2"] = 0.5;
  EXPECT_THROW(sched.load_state_dict(extra), ValueError);
  EXPECT_EQ(sched.base_lrs(), (std::vector<double>{0.1, 0.02}));  // unchanged by the failures
}

TEST(OneCycleLR, SteppingPastTotalStepsThrowsAndChangesNothing) {
  Opt s;
  optim::OneCycleLR sched(s.sgd, 1.0, 4);
  for (int i = 0; i < 4; ++i) sched.step();  // last_epoch == total_steps is allowed, as in PyTorch
  auto before = lrs(s.sgd);
  EXPECT_EQ(error_of([&] { sched.step(); }), "Tried to step 6 times. The specified number of total steps is 4");
  EXPECT_EQ(sched.last_epoch(), 4);
  EXPECT_EQ(lrs(s.sgd), before);
}

// torch: OneCycleLR(SGD(momentum=0.9), max_lr=1.0, total_steps=10) sets momentum to
// max_momentum 0.95 and lr to 0.040000000000000036 (the cos anneal at pct 0 from max_lr / 25).
TEST(OneCycleLR, ConstructionSetsInitialLrAndMaxMomentum) {
  Opt s;
  optim::OneCycleLR sched(s.sgd, 1.0, 10);
  EXPECT_EQ(s.sgd.param_groups()[0].options().get_lr(), 0.040000000000000036);
  EXPECT_EQ(static_cast<optim::SGDOptions&>(s.sgd.param_groups()[1].options()).momentum(), 0.95);
}

TEST(ReduceLROnPlateauScheduler, LibTorchSpellingAndPythonNumbers) {
  Opt s;
  // Both spellings of LibTorch's nested enums compile.
  Plateau sched(s.sgd, Plateau::SchedulerMode::max, /*factor=*/0.1f, /*patience=*/1, 1e-4,
                Plateau::ThresholdMode::abs, /*cooldown=*/0, {0.0f}, 1e-8, false);
  Plateau other(s.sgd, Plateau::min);
  sched.step(1.0f);
  sched.step(1.0f);
  EXPECT_EQ(lrs(s.sgd), (std::vector<double>{0.1, 0.02}));
  sched.step(1.0f);  // two bad epochs > patience 1: reduce
  // 0.1f is widened to the double 0.1, so the lr is Python's 0.1 * 0.1, not 0.1 * 0.1f.
  EXPECT_EQ(lrs(s.sgd), (std::vector<double>{0.1 * 0.1, 0.02 * 0.1}));
  EXPECT_EQ(sched.get_last_lr(), lrs(s.sgd));
  optim::StateDict d = sched.state_dict();
  EXPECT_EQ(d.scalars.at("best"), 1.0);
  EXPECT_EQ(d.scalars.at("num_bad_epochs"), 0);

  Opt s2;
  Plateau resumed(s2.sgd, Plateau::max, 0.1f, 1, 1e-4, Plateau::abs);
  resumed.load_state_dict(d);
  EXPECT_EQ(resumed.best(), 1.0);
  EXPECT_EQ(resumed.last_epoch(), 3);
  optim::StateDict bad = d;
  bad.scalars.erase("best");
  EXPECT_TRUE(contains(error_of([&] { resumed.load_state_dict(bad); }), "'best'"));
}

}  // namespace
