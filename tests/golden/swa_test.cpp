// torch.optim.swa_utils against PyTorch 1.13 on tests/golden/data/swa.safetensors
// (tools/golden/gen_swa.py): AveragedModel's averaged state after each of 6 updates (SWA
// without and with buffers, an EMA with buffers, an EMA whose decay warms up), update_bn's
// recomputed BatchNorm statistics, and SWALR's lr sequences.
// Tolerances: averaged weights 1e-6 relative (the same float32 operations as torch's
// avg_fn); BatchNorm statistics 1e-5 (a mean over batches); lrs 1e-12 (double formulas).
#include <cmath>

#include "cnnkit/data/data.h"
#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"
#include "cnnkit/optim/optim.h"
#include "cnnkit/train/swa_utils.h"

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;
namespace swa = cnnkit::optim::swa_utils;

namespace {

const Golden& golden() {
  static Golden g("swa");
  return g;
}

nn::Sequential model() {
  return nn::Sequential(nn::Conv2d(1, 3, 3), nn::BatchNorm2d(3), nn::ReLU(), nn::Flatten(), nn::Linear(48, 2));
}

void load(nn::Module& m, const std::string& c, const std::string& prefix) {
  NoGradGuard no_grad;
  for (auto& item : m.named_parameters()) item.value().copy_(golden().get(c, prefix + item.key()));
  for (auto& item : m.named_buffers()) item.value().copy_(golden().get(c, prefix + item.key()));
}

void expect_close(const Tensor& got, const Tensor& want, double rtol, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  ASSERT_EQ(got.scalar_type(), want.scalar_type()) << what;
  const std::vector<float> gv = got.to(kFloat).to_vector(), wv = want.to(kFloat).to_vector();
  for (size_t i = 0; i < gv.size(); ++i)
    ASSERT_NEAR(gv[i], wv[i], rtol * std::max(1.0, std::abs(double(wv[i])))) << what << " element " << i;
}

class AveragedModelGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(AveragedModelGolden, MatchesTorchAfterEveryUpdate) {
  const std::string c = GetParam();
  const nlohmann::json o = golden().options(c);
  nn::Sequential net = model();
  load(*net, c, "init.");  // without use_buffers the buffers keep these values
  swa::AvgFn fn = o["avg"] == "swa" ? swa::swa_avg_fn()
                                    : swa::ema_avg_fn(o["decay"].get<double>(), o.value("warmup", false));
  swa::AveragedModel avg(nn::AnyModule(net), fn, o["use_buffers"].get<bool>());
  for (int k = 0; k < o["updates"].get<int>(); ++k) {
    load(*net, c, "state" + std::to_string(k) + ".");
    avg->update_parameters(*net);
    const auto sd = avg->state_dict();
    ASSERT_EQ(sd.size(), 10u) << "module.<9 keys> and n_averaged, as torch's state_dict";
    for (const auto& item : sd)
      expect_close(item.value(), golden().get(c, "avg" + std::to_string(k) + "." + item.key()), 1e-6,
                   c + " update " + std::to_string(k) + " " + item.key());
  }
  EXPECT_EQ(avg->n_averaged(), o["updates"].get<int64_t>());
}

INSTANTIATE_TEST_SUITE_P(Swa, AveragedModelGolden, ::testing::Values("swa", "swa_buffers", "ema", "ema_warmup"));

TEST(UpdateBnGolden, RecomputesRunningStatisticsAndRestoresMomentumAndMode) {
  nn::Sequential net = model();
  load(*net, "update_bn", "");
  net[1]->as<nn::BatchNorm2dImpl>()->options.momentum(0.3);
  std::vector<Tensor> xs;
  for (int i = 0; i < 3; ++i) xs.push_back(golden().get("update_bn", "batch" + std::to_string(i)));
  auto ds = std::make_shared<data::TensorDataset>(cat(xs, 0), cnnkit::zeros({11}, TensorOptions(kLong)));
  data::DataLoader loader(ds, data::DataLoaderOptions().batch_size(4));
  net->eval();
  swa::update_bn(loader, net);
  EXPECT_FALSE(net->is_training());
  EXPECT_EQ(net[1]->as<nn::BatchNorm2dImpl>()->options.momentum(), std::optional<double>(0.3));
  for (const auto& item : net->state_dict())
    expect_close(item.value(), golden().get("update_bn", "after." + item.key()), 1e-5, item.key());
}

class SwalrGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(SwalrGolden, LrSequenceMatchesTorch) {
  const nlohmann::json o = golden().options(GetParam());
  const auto groups = o["groups"].get<std::vector<double>>();
  std::vector<Tensor> keep;
  std::vector<optim::OptimizerParamGroup> pg;
  for (double lr : groups) {
    keep.push_back(cnnkit::zeros({1}).set_requires_grad(true));
    pg.emplace_back(std::vector<Tensor>{keep.back()}, std::make_unique<optim::SGDOptions>(lr));
  }
  optim::SGD opt(pg, optim::SGDOptions(groups[0]));
  std::unique_ptr<swa::SWALR> s;
  const int64_t anneal = o["anneal_epochs"].get<int64_t>();
  const std::string strategy = o["anneal_strategy"];
  if (o["swa_lr"].is_array())
    s = std::make_unique<swa::SWALR>(opt, o["swa_lr"].get<std::vector<double>>(), anneal, strategy);
  else
    s = std::make_unique<swa::SWALR>(opt, o["swa_lr"].get<double>(), anneal, strategy);
  const auto lrs = o["lrs"].get<std::vector<std::vector<double>>>();
  for (size_t step = 0; step < lrs.size(); ++step) {
    if (step > 0) s->step();
    for (size_t g = 0; g < groups.size(); ++g)
      ASSERT_NEAR(opt.param_groups()[g].options().get_lr(), lrs[step][g], 1e-12 * std::abs(lrs[step][g]))
          << "step " << step << " group " << g;
  }
}

INSTANTIATE_TEST_SUITE_P(Swa, SwalrGolden,
                         ::testing::Values("swalr_cos", "swalr_default_anneal", "swalr_linear_groups", "swalr_no_anneal"));

}  // namespace
