// Stochastic weight averaging in training (TrainerOptions::swa_start) and the run config's
// `swa` key: the Trainer equals, bit for bit, PyTorch's documented recipe written by hand with
// AveragedModel, SWALR and update_bn; validation switches to the average once it holds an
// epoch; resume before and after SWALR takes over continues exactly; mismatches are refused.
#include <gtest/gtest.h>

#include "cnnkit/cnnkit.h"
#include "cnnkit/train/config.h"
#include "cnnkit/train/train.h"
#include "test_util.h"
#include "train/small_run.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;
namespace swa = cnnkit::optim::swa_utils;
using cnnkit::test::contains;
using cnnkit::test::message_of;
using cnnkit::test::temp_path;

namespace {

using namespace cnnkit::test::small_run;

train::TrainerOptions swa_options(int64_t epochs) {
  return train::TrainerOptions().epochs(epochs).swa_start(2).swa_lr(0.02).swa_anneal_epochs(2).verbose(false);
}

}  // namespace

TEST(TrainerSwa, EqualsPyTorchsRecipeByHand) {
  const Data d;
  auto loader = d.train(true, 2);
  nn::Sequential net = make_net();
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  train::Trainer trainer(nn::AnyModule(net), opt, ce(), swa_options(5));
  trainer.set_scheduler(std::make_shared<optim::StepLR>(opt, 1, 0.5));
  trainer.fit(*loader);
  ASSERT_NE(trainer.swa(), nullptr);
  EXPECT_EQ(trainer.swa()->n_averaged(), 3) << "the ends of epochs 2, 3 and 4";

  // torch.optim.swa_utils' documented loop (epoch > swa_start there is epoch >= swa_start here).
  nn::Sequential ref = make_net();
  optim::SGD ref_opt(ref->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  optim::StepLR sched(ref_opt, 1, 0.5);
  swa::AveragedModel avg(nn::AnyModule(ref), nullptr, /*use_buffers=*/true);
  std::unique_ptr<swa::SWALR> swa_sched;
  auto ref_loader = d.train(true, 2);
  std::vector<double> lrs;
  ref->train();
  for (int epoch = 0; epoch < 5; ++epoch) {
    ref_loader->set_epoch(static_cast<size_t>(epoch));
    lrs.push_back(ref_opt.param_groups()[0].options().get_lr());
    for (auto& batch : *ref_loader) {
      Tensor loss = F::cross_entropy(ref->forward(batch.data), batch.target);
      ref_opt.zero_grad();
      loss.backward();
      ref_opt.step();
    }
    if (epoch >= 2) {
      avg->update_parameters(*ref);
      if (!swa_sched) swa_sched = std::make_unique<swa::SWALR>(ref_opt, 0.02, 2);
      swa_sched->step();
    } else {
      sched.step();
    }
  }
  swa::update_bn(*ref_loader, avg);
  expect_same_state(*net, *ref);
  expect_same_state(*trainer.swa()->module().ptr(), *avg->module().ptr());
  // The lr: 0.1, 0.05, 0.025 (StepLR), then SWALR's cosine from there: 0.0225, 0.02.
  const std::vector<double> logged = trainer.history().get("lr");
  ASSERT_EQ(logged.size(), 5u);
  for (size_t e = 0; e < 5; ++e) EXPECT_DOUBLE_EQ(logged[e], lrs[e]) << e;
  EXPECT_DOUBLE_EQ(lrs[4], 0.02);
}

TEST(TrainerSwa, ValidatesTheAverageOnceItHoldsAnEpoch) {
  const Data d;
  auto loader = d.train(true, 2);
  auto val = d.val();
  nn::Sequential net = make_net();
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
  train::Trainer trainer(nn::AnyModule(net), opt, ce(), swa_options(4).swa_update_bn(false));
  train::History h = trainer.fit(*loader, val.get());
  // Epochs 0 and 1 validate the raw weights; epoch 2's average holds only epoch 2's weights
  // (the first update copies), epoch 3's the mean of two.
  for (size_t e = 0; e < 3; ++e) EXPECT_EQ(h[e].at("val_loss"), h[e].at("raw_val_loss")) << e;
  EXPECT_NE(h[3].at("val_loss"), h[3].at("raw_val_loss"));
  // Without update_bn the average is left as validated at the last epoch.
  const train::Metrics avg = train::evaluate(nn::AnyModule(trainer.swa()->module()), *val, ce());
  EXPECT_EQ(h.back().at("val_loss"), avg.loss);
  EXPECT_EQ(h.back().at("raw_val_loss"), trainer.evaluate(*val).loss);
}

TEST(TrainerSwa, ResumeBeforeAndAfterSwalrTakesOverIsBitForBit) {
  const Data d;
  auto run = [&](int64_t epochs, const std::string& dir, const std::string& resume_from) {
    nn::Sequential net = make_net();
    optim::SGD opt(net->parameters(), optim::SGDOptions(0.1).momentum(0.9));
    train::Trainer trainer(nn::AnyModule(net), opt, ce(), swa_options(epochs).output_dir(dir).seed(1));
    trainer.set_scheduler(std::make_shared<optim::StepLR>(opt, 1, 0.5));
    if (!resume_from.empty()) trainer.resume(resume_from);
    auto loader = d.train(true, 2);
    trainer.fit(*loader);
    return std::make_pair(net, trainer.swa()->module().clone());
  };
  auto [net_a, swa_a] = run(5, temp_path("swa_a"), "");
  for (int64_t stop : {1, 3}) {  // before the first average; after SWALR's first step
    const std::string dir = temp_path("swa_b" + std::to_string(stop));
    run(stop, dir, "");
    auto [net_b, swa_b] = run(5, dir, dir + "/checkpoint_last.safetensors");
    expect_same_state(*net_a, *net_b);
    expect_same_state(*swa_a.ptr(), *swa_b.ptr());
  }
}

TEST(TrainerSwa, MismatchedCheckpointsAndOptionsAreRefused) {
  const Data d;
  const std::string dir = temp_path("swa_mismatch");
  {
    nn::Sequential net = make_net();
    optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
    train::Trainer t(nn::AnyModule(net), opt, ce(), swa_options(3).output_dir(dir));
    auto loader = d.train(true, 2);
    t.fit(*loader);
  }
  {
    nn::Sequential net = make_net();
    optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
    train::Trainer plain(nn::AnyModule(net), opt, ce(), train::TrainerOptions().epochs(4).verbose(false));
    const std::string msg = message_of([&] { plain.resume(dir + "/checkpoint_last.safetensors"); });
    EXPECT_TRUE(contains(msg, "stochastic weight average")) << msg;
    EXPECT_TRUE(contains(msg, "swa_start")) << msg;
  }
  {
    nn::Sequential net = make_net();
    optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
    train::Trainer late(nn::AnyModule(net), opt, ce(), swa_options(4).swa_start(3).output_dir(temp_path("swa_late")));
    const std::string msg = message_of([&] { late.resume(dir + "/checkpoint_last.safetensors"); });
    EXPECT_TRUE(contains(msg, "SWALR")) << msg;
  }
  nn::Sequential net = make_net();
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
  const std::string both = message_of([&] {
    train::Trainer t(nn::AnyModule(net), opt, ce(), swa_options(3).ema_decay(0.9));
  });
  EXPECT_TRUE(contains(both, "choose one")) << both;
  const std::string strategy = message_of([&] {
    train::Trainer t(nn::AnyModule(net), opt, ce(), swa_options(3).swa_anneal_strategy("step"));
  });
  EXPECT_TRUE(contains(strategy, "swa_anneal_strategy")) << strategy;
}

TEST(RunConfigSwa, ParsesWritesBackAndNamesTheKeyOnBadInput) {
  const std::string base =
      "data: {dataset: fashion-mnist}\nmodel: lenet5\noptimizer: {name: SGD, lr: 0.1}\nepochs: 10\n";
  const train::RunConfig a = train::parse_run_config(base + "swa: {swa_start: 7, swa_lr: 0.01, anneal_epochs: 2}\n",
                                                     "a.yaml");
  EXPECT_TRUE(a.swa.enabled);
  EXPECT_EQ(a.swa.swa_start, 7);
  EXPECT_DOUBLE_EQ(*a.swa.swa_lr, 0.01);
  EXPECT_EQ(a.swa.anneal_epochs, 2);
  EXPECT_EQ(a.swa.anneal_strategy, "cos");
  EXPECT_TRUE(a.swa.update_bn);
  const train::RunConfig back = train::parse_run_config(train::to_yaml_string(a), "back.yaml");
  EXPECT_TRUE(back.swa.enabled);
  EXPECT_EQ(back.swa.swa_start, 7);
  EXPECT_DOUBLE_EQ(*back.swa.swa_lr, 0.01);
  EXPECT_FALSE(train::parse_run_config(base, "b.yaml").swa.enabled);

  auto error = [&](const std::string& extra) {
    return message_of([&] { train::parse_run_config(base + extra, "bad.yaml"); });
  };
  const std::string late = error("swa: {swa_start: 10}\n");
  EXPECT_TRUE(contains(late, "swa.swa_start")) << late;
  EXPECT_TRUE(contains(late, "nothing would be averaged")) << late;
  const std::string missing = error("swa: {swa_lr: 0.01}\n");
  EXPECT_TRUE(contains(missing, "swa_start")) << missing;
  const std::string both = error("ema: 0.99\nswa: {swa_start: 3}\n");
  EXPECT_TRUE(contains(both, "keep one")) << both;
  const std::string es = error("swa: {swa_start: 3}\nearly_stopping: {enabled: true}\n");
  EXPECT_TRUE(contains(es, "restore_best_weights: false")) << es;
  const std::string lr = error("swa: {swa_start: 3, swa_lr: -1}\n");
  EXPECT_TRUE(contains(lr, "swa_lr")) << lr;
  const std::string strategy = error("swa: {swa_start: 3, anneal_strategy: step}\n");
  EXPECT_TRUE(contains(strategy, "anneal_strategy")) << strategy;
}
