// Every LR scheduler against PyTorch 1.13 on tests/golden/data/lr_scheduler.safetensors
// (tools/golden/gen_lr_scheduler.py): the lr of each parameter group after construction and
// after each of 100 steps (ReduceLROnPlateau driven by the stored float32 metrics), and for
// OneCycleLR the cycled momentum. The sequences are stored as JSON doubles (exact).
// Tolerance: 1e-10 relative (the formulas are PyTorch's, operation for operation, in double).
#include <cmath>

#include "cnnkit/optim/optim.h"

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

const Golden& golden() {
  static Golden g("lr_scheduler");
  return g;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& kind, const std::vector<double>& lrs,
                                                 std::vector<Tensor>& keep) {
  std::vector<optim::OptimizerParamGroup> groups;
  for (double lr : lrs) {
    keep.push_back(cnnkit::empty({1}).set_requires_grad(true));
    std::unique_ptr<optim::OptimizerOptions> o;
    if (kind == "SGD") o = std::make_unique<optim::SGDOptions>(optim::SGDOptions(lr).momentum(0.9));
    if (kind == "Adam") o = std::make_unique<optim::AdamOptions>(lr);
    if (kind == "Adagrad") o = std::make_unique<optim::AdagradOptions>(lr);
    groups.emplace_back(std::vector<Tensor>{keep.back()}, std::move(o));
  }
  if (kind == "SGD") return std::make_unique<optim::SGD>(groups, optim::SGDOptions(lrs[0]).momentum(0.9));
  if (kind == "Adam") return std::make_unique<optim::Adam>(groups, optim::AdamOptions(lrs[0]));
  return std::make_unique<optim::Adagrad>(groups, optim::AdagradOptions(lrs[0]));
}

template <typename T>
T arg(const nlohmann::json& a, const char* name, T fallback) {
  return a.contains(name) ? a[name].get<T>() : fallback;
}

std::shared_ptr<optim::LRScheduler> build(optim::Optimizer& opt, const nlohmann::json& spec) {
  std::string kind = spec["scheduler"];
  nlohmann::json a = spec.value("args", nlohmann::json::object());
  if (kind == "StepLR")
    return std::make_shared<optim::StepLR>(opt, a["step_size"].get<int64_t>(), arg(a, "gamma", 0.1));
  if (kind == "MultiStepLR")
    return std::make_shared<optim::MultiStepLR>(opt, a["milestones"].get<std::vector<int64_t>>(), arg(a, "gamma", 0.1));
  if (kind == "ExponentialLR") return std::make_shared<optim::ExponentialLR>(opt, a["gamma"].get<double>());
  if (kind == "ConstantLR")
    return std::make_shared<optim::ConstantLR>(opt, arg(a, "factor", 1.0 / 3), arg<int64_t>(a, "total_iters", 5));
  if (kind == "LinearLR")
    return std::make_shared<optim::LinearLR>(opt, arg(a, "start_factor", 1.0 / 3), arg(a, "end_factor", 1.0),
                                             arg<int64_t>(a, "total_iters", 5));
  if (kind == "CosineAnnealingLR")
    return std::make_shared<optim::CosineAnnealingLR>(opt, a["T_max"].get<int64_t>(), arg(a, "eta_min", 0.0));
  if (kind == "CosineAnnealingWarmRestarts")
    return std::make_shared<optim::CosineAnnealingWarmRestarts>(opt, a["T_0"].get<int64_t>(),
                                                                arg<int64_t>(a, "T_mult", 1), arg(a, "eta_min", 0.0));
  if (kind == "OneCycleLR")
    return std::make_shared<optim::OneCycleLR>(
        opt, a["max_lr"].get<double>(), a["total_steps"].get<int64_t>(), arg(a, "pct_start", 0.3),
        arg<std::string>(a, "anneal_strategy", "cos"), arg(a, "div_factor", 25.0), arg(a, "final_div_factor", 1e4),
        arg(a, "three_phase", false), arg(a, "cycle_momentum", true), arg(a, "base_momentum", 0.85),
        arg(a, "max_momentum", 0.95));
  if (kind == "SequentialLR") {
    std::vector<std::shared_ptr<optim::LRScheduler>> subs;
    for (const auto& s : spec["schedulers"]) subs.push_back(build(opt, s));
    return std::make_shared<optim::SequentialLR>(opt, subs, spec["milestones"].get<std::vector<int64_t>>());
  }
  throw std::runtime_error("lr_scheduler golden: unknown scheduler " + kind);
}

std::unique_ptr<optim::ReduceLROnPlateauScheduler> build_plateau(optim::Optimizer& opt, const nlohmann::json& spec) {
  using P = optim::ReduceLROnPlateauScheduler;
  nlohmann::json a = spec.value("args", nlohmann::json::object());
  std::vector<float> min_lr;
  if (a.contains("min_lr")) {
    if (a["min_lr"].is_array()) {
      for (double v : a["min_lr"].get<std::vector<double>>()) min_lr.push_back(static_cast<float>(v));
    } else {
      min_lr.push_back(static_cast<float>(a["min_lr"].get<double>()));
    }
  }
  return std::make_unique<P>(opt, arg<std::string>(a, "mode", "min") == "min" ? P::SchedulerMode::min : P::SchedulerMode::max,
                             static_cast<float>(arg(a, "factor", 0.1)), arg(a, "patience", 10), arg(a, "threshold", 1e-4),
                             arg<std::string>(a, "threshold_mode", "rel") == "rel" ? P::ThresholdMode::rel : P::ThresholdMode::abs,
                             arg(a, "cooldown", 0), min_lr);
}

void expect_row(const std::vector<double>& got, const std::vector<double>& want, const std::string& what,
                double& worst) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    double rel = std::fabs(got[i] - want[i]) / std::max(std::fabs(want[i]), 1e-300);
    if (want[i] == 0) rel = std::fabs(got[i]);
    worst = std::max(worst, rel);
    EXPECT_LE(rel, 1e-10) << what << " group " << i << ": got " << got[i] << ", torch " << want[i];
  }
}

std::vector<double> lrs_of(const optim::Optimizer& opt) {
  std::vector<double> out;
  for (const auto& g : opt.param_groups()) out.push_back(g.options().get_lr());
  return out;
}

std::vector<double> momentums_of(const optim::Optimizer& opt) {
  std::vector<double> out;
  for (const auto& g : opt.param_groups()) out.push_back(g.options().has_momentum() ? g.options().get_momentum() : 0.0);
  return out;
}

class LRSchedulerGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(LRSchedulerGolden, SequenceMatchesTorch) {
  const std::string& c = GetParam();
  nlohmann::json o = golden().options(c);
  auto want = o["lrs"].get<std::vector<std::vector<double>>>();
  std::vector<Tensor> keep;
  auto opt = make_optimizer(o["optimizer"], o["groups"].get<std::vector<double>>(), keep);
  double worst = 0;

  if (o["scheduler"] == "ReduceLROnPlateau") {
    auto sched = build_plateau(*opt, o);
    auto metrics = o["metrics"].get<std::vector<double>>();
    expect_row(lrs_of(*opt), want[0], c + " after construction", worst);
    for (size_t s = 1; s < want.size(); ++s) {
      sched->step(static_cast<float>(metrics[s - 1]));
      expect_row(lrs_of(*opt), want[s], c + " after step " + std::to_string(s), worst);
      expect_row(sched->get_last_lr(), want[s], c + " get_last_lr after step " + std::to_string(s), worst);
    }
  } else {
    auto sched = build(*opt, o);
    expect_row(lrs_of(*opt), want[0], c + " after construction", worst);
    expect_row(sched->get_last_lr(), want[0], c + " get_last_lr after construction", worst);
    std::vector<std::vector<double>> moms;
    if (o.contains("momentums")) moms = o["momentums"].get<std::vector<std::vector<double>>>();
    for (size_t s = 1; s < want.size(); ++s) {
      sched->step();
      expect_row(lrs_of(*opt), want[s], c + " after step " + std::to_string(s), worst);
      expect_row(sched->get_last_lr(), want[s], c + " get_last_lr after step " + std::to_string(s), worst);
      if (!moms.empty()) expect_row(momentums_of(*opt), moms[s], c + " momentum after step " + std::to_string(s), worst);
    }
  }
  std::cout << "[golden] " << c << ": max rel diff " << worst << "\n";
}

INSTANTIATE_TEST_SUITE_P(Torch, LRSchedulerGolden, ::testing::ValuesIn(golden_cases("lr_scheduler")),
                         case_test_name);

}  // namespace
