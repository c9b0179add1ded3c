// The Trainer's moving average of the weights (TrainerOptions::ema_decay) and the run
// config's `ema` key: the average equals an AveragedModel updated by hand every `ema_every`
// steps of the same loop (BatchNorm statistics included), validation logs the averaged
// weights as val_* and the raw ones as raw_val_*, resume restores the average bit for bit,
// and a checkpoint with or without an average refuses the other kind of trainer.
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

using namespace cnnkit::test::small_run;

TEST(TrainerEma, EqualsAnAveragedModelUpdatedByHandEveryNSteps) {
  const Data d;
  auto loader = d.train();
  nn::Sequential net = make_net();
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  train::Trainer trainer(nn::AnyModule(net), opt, ce(),
                         train::TrainerOptions().epochs(3).ema_decay(0.8).ema_warmup(true).ema_every(2).verbose(false));
  trainer.fit(*loader);
  ASSERT_NE(trainer.ema(), nullptr);
  EXPECT_EQ(trainer.ema()->n_averaged(), 15 / 2) << "15 steps, an update every 2";

  // The same loop by hand.
  nn::Sequential ref = make_net();
  optim::SGD ref_opt(ref->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  swa::AveragedModel avg(nn::AnyModule(ref), swa::ema_avg_fn(0.8, true), /*use_buffers=*/true);
  auto ref_loader = d.train();
  int64_t step = 0;
  ref->train();
  for (int epoch = 0; epoch < 3; ++epoch) {
    ref_loader->set_epoch(static_cast<size_t>(epoch));
    for (auto& batch : *ref_loader) {
      Tensor loss = F::cross_entropy(ref->forward(batch.data), batch.target);
      ref_opt.zero_grad();
      loss.backward();
      ref_opt.step();
      if (++step % 2 == 0) avg->update_parameters(*ref);
    }
  }
  expect_same_state(*net, *ref);
  expect_same_state(*trainer.ema()->module().ptr(), *avg->module().ptr());
  // The average differs from the raw weights (BatchNorm statistics included).
  EXPECT_FALSE(bit_equal(net->named_buffers()["1.running_mean"],
                         trainer.ema()->module().ptr()->named_buffers()["1.running_mean"]));
}

TEST(TrainerEma, ValidatesTheAverageAsValAndTheRawWeightsAsRawVal) {
  const Data d;
  auto loader = d.train();
  auto val = d.val();
  nn::Sequential net = make_net();
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
  train::Trainer trainer(nn::AnyModule(net), opt, ce(), train::TrainerOptions().epochs(2).ema_decay(0.9).verbose(false));
  train::History h = trainer.fit(*loader, val.get());
  const train::Metrics raw = trainer.evaluate(*val);
  const train::Metrics avg = train::evaluate(nn::AnyModule(trainer.ema()->module()), *val, ce());
  EXPECT_EQ(h.back().at("raw_val_loss"), raw.loss);
  EXPECT_EQ(h.back().at("val_loss"), avg.loss);
  EXPECT_NE(raw.loss, avg.loss);
  EXPECT_TRUE(h.back().count("raw_val_accuracy"));
}

TEST(TrainerEma, ResumeRestoresTheAverageBitForBit) {
  const Data d;
  const std::string dir_a = temp_path("ema_a"), dir_b = temp_path("ema_b");
  auto run = [&](int64_t epochs, const std::string& dir, const std::string& resume_from) {
    nn::Sequential net = make_net();
    optim::SGD opt(net->parameters(), optim::SGDOptions(0.1).momentum(0.9));
    train::Trainer trainer(nn::AnyModule(net), opt, ce(),
                           train::TrainerOptions().epochs(epochs).ema_decay(0.7).output_dir(dir).seed(1).verbose(false));
    if (!resume_from.empty()) trainer.resume(resume_from);
    auto loader = d.train();
    trainer.fit(*loader);
    return std::make_pair(net, trainer.ema()->module().clone());
  };
  auto [net_a, ema_a] = run(3, dir_a, "");
  run(1, dir_b, "");
  auto [net_b, ema_b] = run(3, dir_b, dir_b + "/checkpoint_last.safetensors");
  expect_same_state(*net_a, *net_b);
  expect_same_state(*ema_a.ptr(), *ema_b.ptr());
}

TEST(TrainerEma, ACheckpointAndATrainerThatDisagreeOnEmaAreRefused) {
  const Data d;
  const std::string dir = temp_path("ema_mismatch");
  {
    nn::Sequential net = make_net();
    optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
    train::Trainer t(nn::AnyModule(net), opt, ce(), train::TrainerOptions().epochs(1).ema_decay(0.9).output_dir(dir).verbose(false));
    auto loader = d.train();
    t.fit(*loader);
  }
  nn::Sequential net = make_net();
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
  train::Trainer plain(nn::AnyModule(net), opt, ce(), train::TrainerOptions().epochs(2).verbose(false));
  const std::string msg = message_of([&] { plain.resume(dir + "/checkpoint_last.safetensors"); });
  EXPECT_TRUE(contains(msg, "moving average")) << msg;
  EXPECT_TRUE(contains(msg, "ema_decay")) << msg;
}

TEST(RunConfigEma, ParsesTheShortAndLongFormsAndRejectsABadDecay) {
  const std::string base = "data: {dataset: fashion-mnist}\nmodel: lenet5\noptimizer: {name: SGD, lr: 0.1}\n";
  train::RunConfig a = train::parse_run_config(base + "ema: 0.99\n", "a.yaml");
  EXPECT_TRUE(a.ema.enabled);
  EXPECT_DOUBLE_EQ(a.ema.decay, 0.99);
  train::RunConfig b = train::parse_run_config(base + "ema: {decay: 0.9, warmup: true, every: 4}\n", "b.yaml");
  EXPECT_TRUE(b.ema.enabled && b.ema.warmup);
  EXPECT_EQ(b.ema.every, 4);
  // Written back into the run's config.yaml, so a resume averages the same way.
  const train::RunConfig back = train::parse_run_config(train::to_yaml_string(b), "back.yaml");
  EXPECT_TRUE(back.ema.enabled && back.ema.warmup);
  EXPECT_DOUBLE_EQ(back.ema.decay, 0.9);
  EXPECT_EQ(back.ema.every, 4);
  EXPECT_FALSE(train::parse_run_config(base, "c.yaml").ema.enabled);
  const std::string bad = message_of([&] { train::parse_run_config(base + "ema: {decay: 1.5}\n", "d.yaml"); });
  EXPECT_TRUE(contains(bad, "d.yaml:4")) << bad;
  EXPECT_TRUE(contains(bad, "ema.decay")) << bad;
  const std::string es = message_of([&] {
    train::parse_run_config(base + "ema: 0.99\nearly_stopping: {enabled: true}\n", "f.yaml");
  });
  EXPECT_TRUE(contains(es, "restore_best_weights: false")) << es;
  EXPECT_TRUE(train::parse_run_config(base + "ema: 0.99\nearly_stopping: {restore_best_weights: false}\n", "g.yaml")
                  .early_stopping.enabled);
  const std::string unknown = message_of([&] { train::parse_run_config(base + "ema: {decy: 0.9}\n", "e.yaml"); });
  EXPECT_TRUE(contains(unknown, "decy")) << unknown;
}
