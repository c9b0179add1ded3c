// Mixup in training (TrainerOptions::mixup) and the run config's `mixup` key: the Trainer's
// steps equal, bit for bit, a hand loop that mixes each batch with the same data::Mixup from
// the same seed; train accuracy is measured against the unmixed labels; resume continues the
// mixing stream exactly; validation never mixes; config errors name the key.
#include <gtest/gtest.h>

#include "cnnkit/cnnkit.h"
#include "cnnkit/train/config.h"
#include "cnnkit/train/train.h"
#include "test_util.h"
#include "train/small_run.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;
using cnnkit::test::contains;
using cnnkit::test::message_of;
using cnnkit::test::temp_path;

namespace {

using namespace cnnkit::test::small_run;

const data::MixupOptions kMix =
    data::MixupOptions().mixup_alpha(0.4).cutmix_alpha(1.0).switch_prob(0.5).label_smoothing(0.1);

}  // namespace

TEST(TrainerMixup, EqualsAHandLoopMixingWithTheSameSeed) {
  const Data d;
  auto loader = d.train(true, 4);
  nn::Sequential net = make_net();
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  train::Trainer trainer(nn::AnyModule(net), opt, ce(),
                         train::TrainerOptions().epochs(2).seed(9).mixup(kMix).verbose(false));
  train::History h = trainer.fit(*loader);

  nn::Sequential ref = make_net();
  optim::SGD ref_opt(ref->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  data::Mixup mix(kMix);
  auto ref_loader = d.train(true, 4);
  manual_seed(9);
  ref->train();
  int64_t correct = 0, seen = 0;
  for (int epoch = 0; epoch < 2; ++epoch) {
    ref_loader->set_epoch(static_cast<size_t>(epoch));
    correct = seen = 0;
    for (auto& batch : *ref_loader) {
      auto [x, y] = mix(batch.data, batch.target, 3);
      Tensor out = ref->forward(x);
      Tensor loss = F::cross_entropy(out, y);
      ref_opt.zero_grad();
      loss.backward();
      ref_opt.step();
      correct += out.argmax(1).eq(batch.target).sum().item<int64_t>();
      seen += batch.target.size(0);
    }
  }
  expect_same_state(*net, *ref);
  // Accuracy against the unmixed labels of the batch.
  EXPECT_DOUBLE_EQ(h.back().at("train_accuracy"), static_cast<double>(correct) / static_cast<double>(seen));
}

TEST(TrainerMixup, ResumeContinuesTheMixingStreamBitForBit) {
  const Data d;
  const std::string dir_a = temp_path("mixup_a"), dir_b = temp_path("mixup_b");
  auto run = [&](int64_t epochs, const std::string& dir, const std::string& resume_from) {
    nn::Sequential net = make_net();
    optim::SGD opt(net->parameters(), optim::SGDOptions(0.1).momentum(0.9));
    train::Trainer trainer(nn::AnyModule(net), opt, ce(),
                           train::TrainerOptions().epochs(epochs).mixup(kMix).output_dir(dir).seed(1).verbose(false));
    if (!resume_from.empty()) trainer.resume(resume_from);
    auto loader = d.train(true, 4);
    trainer.fit(*loader);
    return net;
  };
  nn::Sequential a = run(3, dir_a, "");
  run(1, dir_b, "");
  nn::Sequential b = run(3, dir_b, dir_b + "/checkpoint_last.safetensors");
  expect_same_state(*a, *b);
}

TEST(TrainerMixup, ValidationIsNeverMixed) {
  const Data d;
  auto loader = d.train(true, 4);
  auto val = d.val();
  nn::Sequential net = make_net();
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
  train::Trainer trainer(nn::AnyModule(net), opt, ce(), train::TrainerOptions().epochs(1).mixup(kMix).verbose(false));
  train::History h = trainer.fit(*loader, val.get());
  const train::Metrics m = train::evaluate(nn::AnyModule(net), *val, ce());
  EXPECT_EQ(h.back().at("val_loss"), m.loss);
  EXPECT_EQ(h.back().at("val_accuracy"), m.accuracy);
}

TEST(TrainerMixup, RefusesRegressionAndSampleWeights) {
  nn::Sequential net = make_net();
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
  const std::string reg = message_of([&] {
    train::Trainer t(nn::AnyModule(net), opt, ce(), train::TrainerOptions().task(train::Task::kRegression).mixup(kMix));
  });
  EXPECT_TRUE(contains(reg, "classification")) << reg;

  const Data d;
  auto ds = std::make_shared<data::TensorDataset>(d.x, d.y);
  struct Weighted : data::DatasetBase {
    std::shared_ptr<data::TensorDataset> base;
    data::Example<> get(size_t i) override {
      data::Example<> e = base->get(i);
      e.weight = scalar_tensor(2.0);
      return e;
    }
    std::optional<size_t> size() const override { return base->size(); }
  };
  auto w = std::make_shared<Weighted>();
  w->base = ds;
  data::DataLoader loader(w, data::DataLoaderOptions().batch_size(8));
  train::Trainer t(nn::AnyModule(net), opt, ce(), train::TrainerOptions().mixup(kMix).verbose(false));
  t.set_weighted_loss([](const Tensor& o, const Tensor& y, const Tensor&) { return F::cross_entropy(o, y); });
  const std::string msg = message_of([&] { t.fit(loader); });
  EXPECT_TRUE(contains(msg, "sample weights")) << msg;
}

TEST(RunConfigMixup, ParsesWritesBackAndRejectsWhatCannotMix) {
  const std::string base = "data: {dataset: fashion-mnist}\nmodel: lenet5\noptimizer: {name: SGD, lr: 0.1}\n";
  train::RunConfig a = train::parse_run_config(
      base + "mixup: {mixup_alpha: 0.2, cutmix_alpha: 1.0, cutmix_minmax: [0.2, 0.8], switch_prob: 0.4, mode: elem}\n",
      "a.yaml");
  ASSERT_TRUE(a.mixup.has_value());
  EXPECT_DOUBLE_EQ(a.mixup->mixup_alpha(), 0.2);
  EXPECT_DOUBLE_EQ(a.mixup->switch_prob(), 0.4);
  EXPECT_DOUBLE_EQ(a.mixup->label_smoothing(), 0.1) << "timm's default";
  EXPECT_EQ(a.mixup->mode(), "elem");
  const train::RunConfig back = train::parse_run_config(train::to_yaml_string(a), "back.yaml");
  ASSERT_TRUE(back.mixup.has_value());
  EXPECT_DOUBLE_EQ(back.mixup->cutmix_minmax()->second, 0.8);
  EXPECT_EQ(back.mixup->mode(), "elem");
  EXPECT_FALSE(train::parse_run_config(base, "b.yaml").mixup.has_value());
  EXPECT_FALSE(train::parse_run_config(base + "mixup: {enabled: false}\n", "c.yaml").mixup.has_value());

  auto error = [&](const std::string& extra) {
    return message_of([&] { train::parse_run_config(base + extra, "bad.yaml"); });
  };
  const std::string none = error("mixup: {mixup_alpha: 0}\n");
  EXPECT_TRUE(contains(none, "nothing to mix")) << none;
  const std::string prob = error("mixup: {prob: 2}\n");
  EXPECT_TRUE(contains(prob, "mixup.prob")) << prob;
  EXPECT_TRUE(contains(prob, "bad.yaml:4")) << prob;
  const std::string mode = error("mixup: {mode: rows}\n");
  EXPECT_TRUE(contains(mode, "mode")) << mode;
  const std::string minmax = error("mixup: {cutmix_minmax: [0.8, 0.2]}\n");
  EXPECT_TRUE(contains(minmax, "cutmix_minmax")) << minmax;
  const std::string twice = error("loss: {name: CrossEntropyLoss, label_smoothing: 0.1}\nmixup: {mixup_alpha: 0.2}\n");
  EXPECT_TRUE(contains(twice, "applied twice")) << twice;
  EXPECT_TRUE(contains(twice, "(its default)")) << twice;
  EXPECT_TRUE(train::parse_run_config(
                  base + "loss: {name: CrossEntropyLoss, label_smoothing: 0.1}\nmixup: {label_smoothing: 0}\n", "ok.yaml")
                  .mixup.has_value());
  const std::string nll = error("loss: {name: NLLLoss}\nmixup: {mixup_alpha: 0.2}\n");
  EXPECT_TRUE(contains(nll, "needs loss CrossEntropyLoss")) << nll;
  const std::string reg = error("loss: {name: MSELoss}\nmixup: {mixup_alpha: 0.2}\n");
  EXPECT_TRUE(contains(reg, "mixup: mixes class labels")) << reg;
  const std::string key = error("mixup: {alpha: 0.2}\n");
  EXPECT_TRUE(contains(key, "alpha")) << key;
}
