// train::lr_find, the learning-rate range test: the sweep is exponential and exact, the
// smoothing matches a hand computation, divergence (by the smoothed loss or a NaN) stops it
// early, both suggestion rules read the curve before its minimum, and on a small linear
// classifier the suggested lr trains faster than the sweep's start while the model and the
// optimiser come back as they were. The CLI (files, figure, errors) is tests/cli/lr_find_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cnnkit/cnnkit.h"
#include "test_util.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;
using cnnkit::test::contains;
using cnnkit::test::message_of;

namespace {

// A loss curve as a function of the lr alone: flat at 2 up to 1e-4, falling linearly in
// log10(lr) to 0.5 at 1e-1 (slope -0.5 a decade), then rising steeply.
double valley(double lr) {
  const double x = std::log10(lr);
  if (x <= -4) return 2.0;
  if (x <= -1) return 2.0 - 0.5 * (x + 4);
  return 0.5 + 5.0 * (x + 1);
}

TEST(LrFind, SweepIsExponentialAndExact) {
  const auto o = train::LrFindOptions().start_lr(1e-6).end_lr(1.0).steps(25).diverge(1e9);
  std::vector<double> seen;
  const train::LrFindResult r = train::lr_find([&](double lr) { seen.push_back(lr); return 1.0; }, o);
  ASSERT_EQ(r.lr.size(), 25u);
  EXPECT_EQ(seen, r.lr);  // the lr each step trained at is the lr recorded
  EXPECT_FALSE(r.diverged);
  EXPECT_EQ(r.stop_reason, "all 25 steps done");
  for (size_t i = 0; i < r.lr.size(); ++i) {
    // start * (end / start)^(i / (steps - 1)), i.e. a constant ratio of 10^(6/24) a step.
    EXPECT_DOUBLE_EQ(r.lr[i], 1e-6 * std::pow(1e6, static_cast<double>(i) / 24.0)) << i;
    EXPECT_DOUBLE_EQ(r.lr[i], train::lr_at(o, static_cast<int64_t>(i)));
    if (i > 0) {
      EXPECT_NEAR(r.lr[i] / r.lr[i - 1], std::pow(10.0, 0.25), 1e-12) << i;
    }
  }
  EXPECT_DOUBLE_EQ(r.lr.front(), 1e-6);
  EXPECT_NEAR(r.lr.back(), 1.0, 1e-15);
}

TEST(LrFind, SmoothingIsTheBiasCorrectedMovingAverage) {
  const std::vector<double> losses{3, 1, 2, 4, 0.5, 2, 2, 2, 2, 2, 2, 2};
  size_t k = 0;
  auto o = train::LrFindOptions().steps(12).beta(0.9).diverge(100);
  const train::LrFindResult r = train::lr_find([&](double) { return losses[k++]; }, o);
  ASSERT_EQ(r.smoothed.size(), 12u);
  EXPECT_EQ(r.loss, losses);
  // By hand: avg_0 = 0.1 * 3 = 0.3, smoothed_0 = 0.3 / (1 - 0.9) = 3;
  // avg_1 = 0.9 * 0.3 + 0.1 * 1 = 0.37, / (1 - 0.81) = 1.9473684...;
  // avg_2 = 0.9 * 0.37 + 0.1 * 2 = 0.533, / (1 - 0.729) = 1.9667896...;
  // avg_3 = 0.9 * 0.533 + 0.1 * 4 = 0.8797, / (1 - 0.6561) = 2.5580110...
  EXPECT_NEAR(r.smoothed[0], 3.0, 1e-12);
  EXPECT_NEAR(r.smoothed[1], 0.37 / 0.19, 1e-12);
  EXPECT_NEAR(r.smoothed[2], 0.533 / 0.271, 1e-12);
  EXPECT_NEAR(r.smoothed[3], 0.8797 / 0.3439, 1e-12);
  // And the recurrence all the way.
  double avg = 0;
  for (size_t i = 0; i < losses.size(); ++i) {
    avg = 0.9 * avg + 0.1 * losses[i];
    EXPECT_NEAR(r.smoothed[i], avg / (1 - std::pow(0.9, static_cast<double>(i + 1))), 1e-12) << i;
  }
  // beta 0: no smoothing at all.
  k = 0;
  const train::LrFindResult raw = train::lr_find([&](double) { return losses[k++]; }, o.beta(0));
  EXPECT_EQ(raw.smoothed, losses);
}

TEST(LrFind, DivergenceStopsTheSweepEarly) {
  // The valley's rising side: the smoothed loss passes 4 x its best, well before end_lr.
  const auto o = train::LrFindOptions().start_lr(1e-6).end_lr(1e3).steps(100).beta(0.5);
  const train::LrFindResult r = train::lr_find(valley, o);
  EXPECT_TRUE(r.diverged);
  EXPECT_LT(r.lr.size(), 100u);
  EXPECT_TRUE(contains(r.stop_reason, "diverged at step " + std::to_string(r.lr.size()))) << r.stop_reason;
  double best = INFINITY;
  for (size_t i = 0; i + 1 < r.smoothed.size(); ++i) best = std::min(best, r.smoothed[i]);
  EXPECT_GT(r.smoothed.back(), 4 * best);                   // the step that stopped it
  EXPECT_LE(r.smoothed[r.smoothed.size() - 2], 4 * best);   // and not one before

  // A NaN or inf loss stops it at once (recorded, its smoothed value NaN); no error.
  for (double bad : {NAN, INFINITY}) {
    int64_t calls = 0;
    const train::LrFindResult n = train::lr_find(
        [&](double lr) { ++calls; return lr > 1e-3 ? bad : 1.0; }, train::LrFindOptions().steps(50));
    EXPECT_TRUE(n.diverged);
    EXPECT_EQ(static_cast<size_t>(calls), n.lr.size());
    EXPECT_GT(n.lr.back(), 1e-3);
    EXPECT_LE(n.lr[n.lr.size() - 2], 1e-3);
    EXPECT_TRUE(std::isnan(n.smoothed.back()));
    EXPECT_TRUE(contains(n.stop_reason, "the loss is")) << n.stop_reason;
    EXPECT_TRUE(n.has_suggestion() || !n.no_suggestion.empty());
  }
}

TEST(LrFind, BothRulesReadTheCurveBeforeItsMinimum) {
  auto o = train::LrFindOptions().start_lr(1e-6).end_lr(1e2).steps(81).beta(0);  // 10 steps a decade
  const train::LrFindResult r = train::lr_find(valley, o.suggest("minimum"));
  ASSERT_TRUE(r.has_suggestion()) << r.no_suggestion;
  // Without smoothing the lowest loss is at lr 1e-1 (step 50); minimum suggests a decade below.
  EXPECT_EQ(r.min_step, 50u);
  EXPECT_EQ(r.suggested_step, r.min_step);
  EXPECT_NEAR(r.suggested_lr, 1e-2, 1e-12);
  EXPECT_TRUE(contains(r.suggestion_reason(), "lowest smoothed loss, at step 51 of")) << r.suggestion_reason();
  // The steepest descent: the falling stretch has slope -0.5 a decade everywhere, so the first
  // step of it read by a central difference wholly inside it (the end with the kink at 1e-4
  // reads half the slope); always before the minimum.
  ASSERT_NE(r.steepest_step, train::LrFindResult::npos);
  EXPECT_LT(r.steepest_step, r.min_step);
  EXPECT_NEAR(r.steepest_gradient, -0.5, 1e-9);
  EXPECT_GT(r.lr[r.steepest_step], 1e-4);

  const train::LrFindResult s = train::lr_find(valley, o.suggest("steepest"));
  ASSERT_TRUE(s.has_suggestion());
  EXPECT_EQ(s.suggested_step, s.steepest_step);
  EXPECT_DOUBLE_EQ(s.suggested_lr, s.lr[s.steepest_step]);
  EXPECT_LT(s.suggested_lr, s.lr[s.min_step]);
  EXPECT_TRUE(contains(s.suggestion_reason(), "steepest descent")) << s.suggestion_reason();

  // Smoothed (beta 0.98) the curve lags, but both readings stay before its lowest point.
  const train::LrFindResult sm = train::lr_find(valley, o.beta(0.98).suggest("steepest"));
  ASSERT_TRUE(sm.has_suggestion()) << sm.no_suggestion;
  EXPECT_LT(sm.steepest_step, sm.min_step);
  EXPECT_LT(sm.suggested_lr, sm.lr[sm.min_step]);
}

TEST(LrFind, NoSuggestionWhenTheLossNeverFalls) {
  // Rising from the first step: the lowest smoothed loss is in the skipped start.
  const train::LrFindResult r =
      train::lr_find([](double lr) { return 1.0 + lr; }, train::LrFindOptions().start_lr(1e-2).end_lr(10).steps(20));
  EXPECT_FALSE(r.has_suggestion());
  EXPECT_TRUE(std::isnan(r.suggested_lr));
  EXPECT_TRUE(contains(r.no_suggestion, "never fell")) << r.no_suggestion;
  EXPECT_TRUE(contains(r.no_suggestion, "--start-lr")) << r.no_suggestion;
}

TEST(LrFind, OptionsAreCheckedWithTheirNames) {
  auto step = [](double) { return 1.0; };
  using O = train::LrFindOptions;
  EXPECT_TRUE(contains(message_of([&] { train::lr_find(step, O().start_lr(-1)); }), "start_lr (--start-lr)"));
  EXPECT_TRUE(contains(message_of([&] { train::lr_find(step, O().start_lr(0)); }), "must be a positive lr"));
  EXPECT_TRUE(contains(message_of([&] { train::lr_find(step, O().start_lr(1).end_lr(1)); }),
                       "start_lr (--start-lr) 1 must be below end_lr (--end-lr) 1"));
  EXPECT_TRUE(contains(message_of([&] { train::lr_find(step, O().steps(9)); }),
                       "steps (--steps) must be at least 10, got 9"));
  EXPECT_TRUE(contains(message_of([&] { train::lr_find(step, O().beta(1)); }), "beta (--beta)"));
  EXPECT_TRUE(contains(message_of([&] { train::lr_find(step, O().diverge(1)); }), "diverge (--diverge)"));
  EXPECT_TRUE(contains(message_of([&] { train::lr_find(step, O().suggest("valley")); }),
                       "must be minimum or steepest, got 'valley'"));
  EXPECT_THROW(train::lr_find(step, O().end_lr(NAN)), ValueError);
}

// Two Gaussian blobs in 2-D, one a class: a linear classifier separates them.
std::shared_ptr<data::TensorDataset> blobs(int64_t n) {
  Generator g(3);
  Tensor x = empty({n, 2});
  Tensor y = empty({n}, kLong);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % 2;
    y.data_ptr<int64_t>()[i] = c;
    for (int64_t d = 0; d < 2; ++d) x.data_ptr<float>()[2 * i + d] = static_cast<float>((c ? 1.5 : -1.5) + g.normal());
  }
  return std::make_shared<data::TensorDataset>(x, y);
}

// Mean loss of `net` over the whole dataset.
double full_loss(nn::Linear& net, const data::TensorDataset& ds) {
  NoGradGuard no_grad;
  return F::cross_entropy(net(ds.data()), ds.targets()).item<double>();
}

// `steps` plain SGD steps at `lr` from the net's current weights (a copy is trained).
double loss_after(const nn::Linear& start, const data::TensorDataset& ds, double lr, int steps) {
  nn::Linear net(2, 2);
  {
    NoGradGuard no_grad;
    net->weight.copy_(start->weight);
    net->bias.copy_(start->bias);
  }
  optim::SGD opt(net->parameters(), optim::SGDOptions(lr));
  data::DataLoader loader(std::make_shared<data::TensorDataset>(ds), data::DataLoaderOptions(32).shuffle(true).seed(1));
  int done = 0;
  for (int64_t e = 0; done < steps; ++e) {
    loader.set_epoch(e);
    for (auto& b : loader) {
      opt.zero_grad();
      F::cross_entropy(net(b.data), b.target).backward();
      opt.step();
      if (++done == steps) break;
    }
  }
  return full_loss(net, ds);
}

TEST(LrFind, SuggestionTrainsALinearClassifierFasterThanTheStartLr) {
  auto ds = blobs(256);  // 8 batches of 32: the 100-step sweep cycles the loader over 13 epochs
  manual_seed(0);
  nn::Linear net(2, 2);
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.5).momentum(0.9));
  data::DataLoader loader(ds, data::DataLoaderOptions(32).shuffle(true).seed(0));
  const Tensor w0 = net->weight.clone(), b0 = net->bias.clone();
  const double before = full_loss(net, *ds);

  for (const std::string rule : {"minimum", "steepest"}) {
    const train::LrFindResult r = train::lr_find(nn::AnyModule(net), opt, [](const Tensor& out, const Tensor& y) {
      return F::cross_entropy(out, y);
    }, loader, train::LrFindOptions().start_lr(1e-5).end_lr(1e3).suggest(rule));
    ASSERT_TRUE(r.has_suggestion()) << rule << ": " << r.no_suggestion;
    EXPECT_LT(r.suggested_lr, r.lr[r.min_step]) << rule;
    EXPECT_GT(r.suggested_lr, 1e-5) << rule;
    // Restored: the weights, the optimiser's lr and state, the train flag.
    EXPECT_TRUE(net->weight.equal(w0)) << rule;
    EXPECT_TRUE(net->bias.equal(b0)) << rule;
    EXPECT_EQ(opt.param_groups()[0].options().get_lr(), 0.5) << rule;
    EXPECT_TRUE(opt.state().empty()) << rule;
    EXPECT_DOUBLE_EQ(full_loss(net, *ds), before) << rule;
    // Twenty steps at the suggestion lower the loss more than twenty at the sweep's start.
    const double at_start = loss_after(net, *ds, 1e-5, 20), at_suggested = loss_after(net, *ds, r.suggested_lr, 20);
    EXPECT_LT(at_suggested, at_start - 0.1) << rule << ": suggested " << r.suggested_lr;
    EXPECT_LT(at_suggested, before) << rule;
  }
}

TEST(LrFind, RestoreFalseLeavesTheTrainedModel) {
  auto ds = blobs(64);
  manual_seed(0);
  nn::Linear net(2, 2);
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.5));
  data::DataLoader loader(ds, data::DataLoaderOptions(16));
  const Tensor w0 = net->weight.clone();
  train::lr_find(nn::AnyModule(net), opt, [](const Tensor& o, const Tensor& y) { return F::cross_entropy(o, y); },
                 loader, train::LrFindOptions().steps(10).end_lr(1e-2).restore(false));
  EXPECT_FALSE(net->weight.equal(w0));
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].options().get_lr(), 1e-2);  // the last step's
}

TEST(LrFind, SaveWritesTheCsvAndTheYaml) {
  const train::LrFindResult r = train::lr_find(valley, train::LrFindOptions().start_lr(1e-6).end_lr(1e2).steps(81).beta(0));
  const std::string dir = test::temp_path("lr_find_save");
  const std::vector<std::string> files = train::save_lr_find(r, dir, "configs/x.yaml --set epochs=3");
  ASSERT_EQ(files.size(), 2u);
  std::ifstream csv(dir + "/lr_find.csv");
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "step,lr,loss,smoothed_loss");
  std::getline(csv, line);
  EXPECT_EQ(line, "1,1e-06,2,2");
  size_t rows = 1;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, r.lr.size());
  std::stringstream yaml;
  yaml << std::ifstream(dir + "/lr_find.yaml").rdbuf();
  EXPECT_TRUE(contains(yaml.str(), "optimizer:\n  lr: 0.01\n")) << yaml.str();
  EXPECT_TRUE(contains(yaml.str(), "#   cnnkit train configs/x.yaml --set epochs=3 --set optimizer.lr=0.01\n"))
      << yaml.str();
  EXPECT_EQ(train::format_lr(0.0123456), "0.0123");
  EXPECT_EQ(train::format_lr(2.5e-5), "2.5e-05");
}

}  // namespace
