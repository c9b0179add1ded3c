// The Trainer end to end on small synthetic data (a few seconds): exact resume (4 epochs
// straight == 2 + resume + 2, bit for bit, with momentum SGD, a scheduler, dropout,
// shuffling, 2 loader workers and random augmentation), EarlyStopping (Keras semantics,
// restore_best_weights, what it reports, resuming a stopped run), TerminateOnNaN (a NaN loss
// or a NaN parameter/buffer names the epoch and step; the checkpoint on disk is the pre-NaN
// one), checkpoint mismatch errors, output shape checks, the L1/L2 penalty, CSV rows on
// resume, evaluate(), the regression and multi-label logs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cnnkit/cnnkit.h"
#include "cnnkit/train/train.h"
#include "test_util.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;
using cnnkit::test::contains;
using cnnkit::test::message_of;
using cnnkit::test::temp_path;

namespace {

constexpr int64_t kClasses = 4;

// 96 images (1, 8, 8): noise plus a bright 4x4 quadrant whose index is the label.
std::pair<Tensor, Tensor> synthetic(int64_t n, uint64_t seed) {
  Generator g(seed);
  Tensor x = empty({n, 1, 8, 8});
  Tensor y = empty({n}, kLong);
  float* px = x.data_ptr<float>();
  int64_t* py = y.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t label = g.randint(0, kClasses);
    py[i] = label;
    for (int64_t h = 0; h < 8; ++h)
      for (int64_t w = 0; w < 8; ++w) {
        bool in = (h / 4) * 2 + (w / 4) == label;
        px[i * 64 + h * 8 + w] = 0.5f * g.normal() + (in ? 1.0f : 0.0f);
      }
  }
  return {x, y};
}

// torchvision's RandomHorizontalFlip, drawn from the per-example generator the loader
// reseeds: the augmentation of example i in epoch e is the same in every run.
class FlipDataset : public data::datasets::Dataset<FlipDataset> {
 public:
  FlipDataset(Tensor x, Tensor y) : x_(std::move(x)), y_(std::move(y)) {}
  data::Example<> get(size_t i) override {
    return {flip_(x_[static_cast<int64_t>(i)]), y_[static_cast<int64_t>(i)]};
  }
  std::optional<size_t> size() const override { return static_cast<size_t>(x_.size(0)); }
  std::vector<std::string> classes() const override { return {"a", "b", "c", "d"}; }

 private:
  Tensor x_, y_;
  data::transforms::RandomHorizontalFlip flip_;
};

nn::Sequential make_net(int64_t channels = 4, int64_t outputs = kClasses) {
  manual_seed(0);
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, channels, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2),
                        nn::Flatten(), nn::Dropout(0.25), nn::Linear(channels * 16, outputs));
}

train::LossFn ce() {
  return [](const Tensor& out, const Tensor& y) { return F::cross_entropy(out, y); };
}

// Everything one run needs, built the same way every time.
struct TrainRun {
  explicit TrainRun(int64_t epochs, const std::string& dir, int64_t channels = 4)
      : net(make_net(channels)),
        opt(net->parameters(), optim::SGDOptions(0.05).momentum(0.9)),
        sched(std::make_shared<optim::StepLR>(opt, 1, 0.8)) {
    auto [x, y] = synthetic(96, 7);
    auto [vx, vy] = synthetic(32, 8);
    train_loader = std::make_unique<data::DataLoader>(
        std::make_shared<FlipDataset>(x, y), data::DataLoaderOptions().batch_size(16).shuffle(true).workers(2).seed(5));
    val_loader = std::make_unique<data::DataLoader>(std::make_shared<data::TensorDataset>(vx, vy),
                                                    data::DataLoaderOptions().batch_size(16));
    trainer = std::make_unique<train::Trainer>(
        nn::AnyModule(net), opt, ce(),
        train::TrainerOptions().epochs(epochs).l1(1e-4).l2(1e-3).seed(1).output_dir(dir).verbose(false));
    trainer->set_scheduler(sched);
  }
  nn::Sequential net;
  optim::SGD opt;
  std::shared_ptr<optim::StepLR> sched;
  std::unique_ptr<data::DataLoader> train_loader, val_loader;
  std::unique_ptr<train::Trainer> trainer;
};

std::map<std::string, Tensor> weights(const nn::Module& m) {
  std::map<std::string, Tensor> out;
  for (const auto& item : m.state_dict()) out[item.key()] = item.value().clone();
  return out;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

}  // namespace

TEST(Trainer, ResumeContinuesBitForBit) {
  const std::string dir_a = temp_path("resume_a"), dir_b = temp_path("resume_b");
  TrainRun a(4, dir_a);
  auto es_a = std::make_shared<train::EarlyStopping>(train::EarlyStoppingOptions().patience(10).verbose(false));
  a.trainer->add_callback(es_a);
  train::History ha = a.trainer->fit(*a.train_loader, a.val_loader.get());
  ASSERT_EQ(ha.size(), 4u);
  // It learns: the quadrant task is easy.
  EXPECT_LT(ha[3].at("train_loss"), ha[0].at("train_loss"));

  {
    TrainRun b1(2, dir_b);
    b1.trainer->add_callback(std::make_shared<train::EarlyStopping>(train::EarlyStoppingOptions().patience(10).verbose(false)));
    b1.trainer->add_callback(std::make_shared<train::CSVLogger>(dir_b + "/metrics.csv"));
    b1.trainer->fit(*b1.train_loader, b1.val_loader.get());
    ASSERT_EQ(b1.trainer->epoch(), 2);
  }
  // A crash after the CSV row of epoch 3 was written but before its checkpoint: that row
  // must not be duplicated.
  std::ofstream(dir_b + "/metrics.csv", std::ios::app) << "3,0.1,9,9,9,9,9\n";

  TrainRun b2(4, dir_b);
  auto es_b = std::make_shared<train::EarlyStopping>(train::EarlyStoppingOptions().patience(10).verbose(false));
  b2.trainer->add_callback(es_b);
  b2.trainer->add_callback(std::make_shared<train::CSVLogger>(dir_b + "/metrics.csv"));
  // Different weights before resuming: everything must come from the checkpoint.
  for (auto& p : b2.net->parameters()) {
    NoGradGuard g;
    p.fill_(0.123);
  }
  b2.trainer->resume(dir_b + "/checkpoint_last.safetensors");
  EXPECT_EQ(b2.trainer->epoch(), 2);
  EXPECT_EQ(b2.trainer->global_step(), 12);
  train::History hb = b2.trainer->fit(*b2.train_loader, b2.val_loader.get());

  auto wa = weights(*a.net), wb = weights(*b2.net);
  ASSERT_EQ(wa.size(), wb.size());
  for (const auto& [k, t] : wa) EXPECT_TRUE(bit_equal(t, wb.at(k))) << k << " differs after resume";
  auto oa = a.opt.state_dict(), ob = b2.opt.state_dict();
  for (const auto& [k, t] : oa.tensors) EXPECT_TRUE(bit_equal(t, ob.tensors.at(k))) << k;
  EXPECT_EQ(oa.scalars, ob.scalars);
  EXPECT_EQ(a.sched->get_last_lr(), b2.sched->get_last_lr());
  ASSERT_EQ(hb.size(), 4u);
  for (size_t e = 0; e < 4; ++e) {
    EXPECT_EQ(ha[e].at("train_loss"), hb[e].at("train_loss")) << e;
    EXPECT_EQ(ha[e].at("val_loss"), hb[e].at("val_loss")) << e;
    EXPECT_EQ(ha[e].at("lr"), hb[e].at("lr")) << e;
  }
  EXPECT_EQ(es_a->best(), es_b->best());
  EXPECT_EQ(es_a->wait(), es_b->wait());

  auto lines = read_lines(dir_b + "/metrics.csv");
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].rfind("epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,seconds", 0), 0u) << lines[0];
  for (int e = 1; e <= 4; ++e) EXPECT_EQ(lines[static_cast<size_t>(e)].rfind(std::to_string(e) + ",", 0), 0u) << lines[e];
  EXPECT_FALSE(contains(lines[3], ",9,9,9,9")) << lines[3];
}

TEST(Trainer, ResumeFromAnotherModelNamesTheKey) {
  const std::string dir = temp_path("mismatch");
  {
    TrainRun r(1, dir, 4);
    r.trainer->fit(*r.train_loader);
  }
  TrainRun wide(1, dir + "_wide", 6);
  std::string path = dir + "/checkpoint_last.safetensors";
  std::string msg = message_of([&] { wide.trainer->resume(path); });
  EXPECT_TRUE(contains(msg, "checkpoint " + path + " was saved from another model: '0.weight' has shape [4, 1, 3, 3], "
                            "the model expects [6, 1, 3, 3]")) << msg;
  EXPECT_THROW(wide.trainer->resume(path), ValueError);

  // Scheduler state without a scheduler.
  auto net = make_net();
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  train::Trainer plain(nn::AnyModule(net), opt, ce(), train::TrainerOptions().verbose(false));
  EXPECT_TRUE(contains(message_of([&] { plain.resume(path); }), "set_scheduler()"));
  EXPECT_THROW(plain.resume(temp_path("nothing_here.safetensors")), IOError);
}

TEST(Trainer, WrongOutputWidthIsShapeErrorBeforeAnyStep) {
  auto net = make_net(4, 5);  // 5 outputs for a 4-class dataset
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
  auto before = weights(*net);
  auto [x, y] = synthetic(32, 1);
  data::DataLoader loader(std::make_shared<FlipDataset>(x, y), data::DataLoaderOptions().batch_size(8));
  train::Trainer trainer(nn::AnyModule(net), opt, ce(), train::TrainerOptions().verbose(false));
  std::string msg = message_of([&] { trainer.fit(loader); });
  EXPECT_TRUE(contains(msg, "[8, 5]") && contains(msg, "4 classes") && contains(msg, "(8, 4)")) << msg;
  EXPECT_THROW(trainer.fit(loader), ShapeError);
  for (const auto& [k, t] : before) EXPECT_TRUE(bit_equal(t, weights(*net).at(k))) << k;
  EXPECT_EQ(trainer.global_step(), 0);

  // Regression: output and target shapes must agree.
  auto reg = nn::Linear(3, 2);
  optim::SGD ropt(reg->parameters(), optim::SGDOptions(0.1));
  data::DataLoader rl(std::make_shared<data::TensorDataset>(randn({8, 3}), randn({8, 3})), data::DataLoaderOptions().batch_size(4));
  train::Trainer rt(nn::AnyModule(reg), ropt, [](const Tensor& o, const Tensor& t) { return F::mse_loss(o, t); },
                    train::TrainerOptions().task(train::Task::kRegression).verbose(false));
  EXPECT_THROW(rt.fit(rl), ShapeError);
}

TEST(Trainer, TerminateOnNaNNamesTheStepAndKeepsTheLastGoodCheckpoint) {
  const std::string dir = temp_path("nan_run");
  TrainRun r(3, dir);
  // The loss turns NaN at the 9th training call (epoch 2, batch 3; 6 batches an epoch).
  int64_t calls = 0;
  train::Trainer trainer(
      nn::AnyModule(r.net), r.opt,
      [&calls](const Tensor& out, const Tensor& y) {
        Tensor l = F::cross_entropy(out, y);
        if (autograd::GradMode::is_enabled() && ++calls == 9) l = l * std::nan("");
        return l;
      },
      train::TrainerOptions().epochs(3).verbose(false));
  trainer.set_scheduler(r.sched);
  trainer.add_callback(std::make_shared<train::ModelCheckpoint>(dir, "val_loss"));
  trainer.add_callback(std::make_shared<train::TerminateOnNaN>());
  struct Snap : train::Callback {
    std::map<std::string, Tensor> after_epoch1;
    void on_epoch_saved(train::Trainer& t, int64_t epoch, const train::Logs&) override {
      if (epoch == 0) after_epoch1 = weights(t.module());
    }
  };
  auto snap = std::make_shared<Snap>();
  trainer.add_callback(snap);

  std::string msg = message_of([&] { trainer.fit(*r.train_loader, r.val_loader.get()); });
  EXPECT_TRUE(contains(msg, "the training loss is nan at epoch 2 step 3 (global step 9)")) << msg;
  EXPECT_TRUE(contains(msg, dir + "/checkpoint_last.safetensors")) << msg;
  EXPECT_THROW(throw train::NonFiniteLossError("x"), ValueError);
  EXPECT_THROW(throw train::NonFiniteLossError("x"), train::NonFiniteError);
  EXPECT_THROW(throw train::NonFiniteParameterError("x", "w"), train::NonFiniteError);

  // The checkpoint on disk is epoch 1's, loads into a fresh run, and holds finite weights.
  io::Checkpoint ck = io::load_checkpoint(dir + "/checkpoint_last.safetensors");
  EXPECT_EQ(ck.extra.at("trainer.epoch"), "1");
  TrainRun fresh(3, temp_path("nan_fresh"));
  fresh.trainer->resume(dir + "/checkpoint_last.safetensors");
  for (const auto& [k, t] : snap->after_epoch1) EXPECT_TRUE(bit_equal(t, weights(*fresh.net).at(k))) << k;
  EXPECT_TRUE(std::filesystem::exists(dir + "/best.safetensors"));
}

TEST(EarlyStopping, KerasSemanticsAndRestoreBestWeights) {
  auto net = nn::Linear(2, 1);
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
  train::Trainer trainer(nn::AnyModule(net), opt, ce(), train::TrainerOptions().verbose(false));
  train::EarlyStopping es(train::EarlyStoppingOptions().monitor("val_loss").patience(2).restore_best_weights(true).verbose(false));
  const std::vector<double> losses = {1.0, 0.8, 0.9, 0.85, 0.7};
  es.on_train_begin(trainer);
  int64_t stopped = -1;
  for (int64_t e = 0; e < 5 && stopped < 0; ++e) {
    {
      NoGradGuard g;
      net->weight.fill_(static_cast<double>(e));
    }
    es.on_epoch_end(trainer, e, {{"val_loss", losses[static_cast<size_t>(e)]}});
    if (trainer.stop_requested()) stopped = e;
  }
  EXPECT_EQ(stopped, 3);  // epoch 1 best; epochs 2 and 3 without improvement
  EXPECT_EQ(es.best_epoch(), 1);
  EXPECT_DOUBLE_EQ(es.best(), 0.8);
  EXPECT_TRUE(es.stopped());
  EXPECT_EQ(es.stopped_epoch(), 3);
  EXPECT_EQ(es.stopped_wait(), 2);
  EXPECT_FALSE(es.restored());  // not before on_train_end
  es.on_train_end(trainer);
  EXPECT_EQ(net->weight.to_vector(), (std::vector<float>{1, 1}));  // epoch 1's weights back
  EXPECT_TRUE(es.restored());
  EXPECT_EQ(es.restored_epoch(), 1);
  EXPECT_EQ(es.summary(),
            "early stopping: stopped after epoch 4 (val_loss did not improve for 2 epochs); restored the weights of epoch 2");

  // Never stopped, no restoring: the best epoch.
  train::EarlyStopping quiet(train::EarlyStoppingOptions().patience(5).verbose(false));
  train::Trainer t1(nn::AnyModule(net), opt, ce(), train::TrainerOptions().verbose(false));
  quiet.on_train_begin(t1);
  for (int64_t e = 0; e < 5; ++e) quiet.on_epoch_end(t1, e, {{"val_loss", losses[static_cast<size_t>(e)]}});
  quiet.on_train_end(t1);
  EXPECT_FALSE(quiet.stopped());
  EXPECT_EQ(quiet.stopped_epoch(), -1);
  EXPECT_FALSE(quiet.restored());
  EXPECT_EQ(quiet.summary(), "early stopping: did not stop (best val_loss 0.7 at epoch 5)");

  // min_delta: 0.85 is not an improvement on 0.9 by more than 0.1.
  train::EarlyStopping md(train::EarlyStoppingOptions().patience(1).min_delta(0.1).verbose(false));
  train::Trainer t2(nn::AnyModule(net), opt, ce(), train::TrainerOptions().verbose(false));
  md.on_train_begin(t2);
  md.on_epoch_end(t2, 0, {{"val_loss", 0.9}});
  md.on_epoch_end(t2, 1, {{"val_loss", 0.85}});
  EXPECT_TRUE(t2.stop_requested());

  // Baseline: improvements that do not beat it keep counting.
  train::EarlyStopping bl(train::EarlyStoppingOptions().monitor("val_accuracy").patience(2).baseline(0.9).verbose(false));
  train::Trainer t3(nn::AnyModule(net), opt, ce(), train::TrainerOptions().verbose(false));
  bl.on_train_begin(t3);
  bl.on_epoch_end(t3, 0, {{"val_accuracy", 0.5}});  // the best so far, but below the baseline: wait 1
  bl.on_epoch_end(t3, 1, {{"val_accuracy", 0.4}});  // wait 2 (it would be 1 without a baseline)
  EXPECT_TRUE(t3.stop_requested());

  // A monitor that is not logged names the keys.
  std::string msg = message_of([&] { es.on_epoch_end(trainer, 0, {{"train_loss", 1.0}}); });
  EXPECT_TRUE(contains(msg, "monitor 'val_loss'") && contains(msg, "train_loss") && contains(msg, "validation loader")) << msg;
  EXPECT_THROW(train::EarlyStopping(train::EarlyStoppingOptions().patience(-1)), ValueError);
}

TEST(EarlyStopping, StopsFitAndRestoresBestWeights) {
  TrainRun r(10, "");
  auto es = std::make_shared<train::EarlyStopping>(
      train::EarlyStoppingOptions().monitor("val_accuracy").min_delta(2.0).patience(1).restore_best_weights(true).verbose(false));
  r.trainer->add_callback(es);
  struct Snap : train::Callback {
    std::map<std::string, Tensor> first;
    void on_epoch_end(train::Trainer& t, int64_t epoch, const train::Logs&) override {
      if (epoch == 0) first = weights(t.module());
    }
  };
  auto snap = std::make_shared<Snap>();
  r.trainer->add_callback(snap);
  train::History h = r.trainer->fit(*r.train_loader, r.val_loader.get());
  EXPECT_EQ(h.size(), 2u);  // nothing can improve by 2.0: stops after the second epoch
  EXPECT_EQ(es->stopped_epoch(), 1);
  for (const auto& [k, t] : snap->first) EXPECT_TRUE(bit_equal(t, weights(*r.net).at(k))) << k;
  EXPECT_EQ(es->best_epoch(), 0);
  EXPECT_EQ(es->restored_epoch(), 0);
  EXPECT_EQ(es->summary(), "early stopping: stopped after epoch 2 (val_accuracy did not improve for 1 epoch); "
                           "restored the weights of epoch 1");
}

TEST(EarlyStopping, AResumedRunThatHadStoppedStaysStopped) {
  // The checkpoint of the epoch it stopped at is written before training ends; resuming
  // from it (a crash before the run's summary was written) must not train on.
  const std::string dir = temp_path("es_resume");
  auto make_es = [] {
    return std::make_shared<train::EarlyStopping>(train::EarlyStoppingOptions()
                                                      .monitor("val_accuracy")
                                                      .min_delta(2.0)
                                                      .patience(1)
                                                      .restore_best_weights(true)
                                                      .verbose(false));
  };
  TrainRun a(10, dir);
  auto es_a = make_es();
  a.trainer->add_callback(es_a);
  a.trainer->fit(*a.train_loader, a.val_loader.get());
  ASSERT_TRUE(es_a->stopped());

  TrainRun b(10, temp_path("es_resume_b"));
  auto es_b = make_es();
  b.trainer->add_callback(es_b);
  b.trainer->resume(dir + "/checkpoint_last.safetensors");
  train::History h = b.trainer->fit(*b.train_loader, b.val_loader.get());
  EXPECT_EQ(h.size(), 2u);
  EXPECT_EQ(b.trainer->global_step(), 12);
  EXPECT_TRUE(es_b->stopped());
  EXPECT_EQ(es_b->summary(), es_a->summary());
  for (const auto& [k, t] : weights(*a.net)) EXPECT_TRUE(bit_equal(t, weights(*b.net).at(k))) << k;
}

TEST(Trainer, PenaltyIsL1PlusL2NormsOfWeights) {
  // With a zero data loss one SGD step moves w by -lr * (l1 sign(w) + l2 w / ||w||_2);
  // the bias (1-d) has no penalty.
  auto lin = nn::Linear(3, 2);
  Tensor w0 = lin->weight.clone(), b0 = lin->bias.clone();
  optim::SGD opt(lin->parameters(), optim::SGDOptions(0.5));
  data::DataLoader loader(std::make_shared<data::TensorDataset>(randn({4, 3}), randn({4, 2})),
                          data::DataLoaderOptions().batch_size(4));
  train::Trainer t(nn::AnyModule(lin), opt, [](const Tensor& o, const Tensor&) { return (o * 0.0).sum(); },
                   train::TrainerOptions().task(train::Task::kRegression).l1(0.1).l2(0.2).verbose(false));
  t.fit(loader);
  std::vector<float> w = w0.to_vector(), w1 = lin->weight.to_vector();
  double norm = 0;
  for (float v : w) norm += double(v) * v;
  norm = std::sqrt(norm);
  for (size_t i = 0; i < w.size(); ++i) {
    double expect = w[i] - 0.5 * (0.1 * (w[i] > 0 ? 1 : -1) + 0.2 * w[i] / norm);
    EXPECT_NEAR(w1[i], expect, 1e-6) << i;
  }
  EXPECT_TRUE(bit_equal(lin->bias, b0));

  EXPECT_THROW(train::Trainer(nn::AnyModule(lin), opt, ce(), train::TrainerOptions().penalty_params({"nope.*"})), ValueError);
  EXPECT_THROW(train::Trainer(nn::AnyModule(lin), opt, ce(), train::TrainerOptions().l1(-1)), ValueError);
}

TEST(Trainer, EvaluateMatchesAHandLoopAndRestoresMode) {
  TrainRun r(1, "");
  r.net->train();
  train::Metrics m = r.trainer->evaluate(*r.val_loader);
  EXPECT_TRUE(r.net->is_training());
  r.net->eval();
  NoGradGuard g;
  auto [vx, vy] = synthetic(32, 8);
  Tensor out = r.net->forward(vx);
  const float* p = out.data_ptr<float>();
  int64_t correct = 0;
  for (int64_t i = 0; i < 32; ++i) {
    int64_t best = 0;
    for (int64_t c = 1; c < kClasses; ++c)
      if (p[i * kClasses + c] > p[i * kClasses + best]) best = c;
    correct += best == vy.data_ptr<int64_t>()[i];
  }
  EXPECT_DOUBLE_EQ(m.accuracy, correct / 32.0);
  EXPECT_NEAR(m.loss, F::cross_entropy(out, vy).item<double>(), 1e-6);
  EXPECT_EQ(m.count, 32);
}

TEST(Trainer, RegressionLogsMseAndR2) {
  manual_seed(3);
  Tensor x = randn({64, 3});
  Tensor y = x.matmul(test::lit({1.0f, -2.0f, 0.5f}, {3, 1}));
  auto lin = nn::Linear(3, 1);
  optim::SGD opt(lin->parameters(), optim::SGDOptions(0.1));
  data::DataLoader loader(std::make_shared<data::TensorDataset>(x, y), data::DataLoaderOptions().batch_size(16));
  train::Trainer t(nn::AnyModule(lin), opt, [](const Tensor& o, const Tensor& tt) { return F::mse_loss(o, tt); },
                   train::TrainerOptions().epochs(20).task(train::Task::kRegression).verbose(false));
  train::History h = t.fit(loader, &loader);
  EXPECT_GT(h.back().at("val_r2"), 0.99);
  EXPECT_LT(h.back().at("val_mse"), h[0].at("val_mse"));
  EXPECT_EQ(h.back().count("train_accuracy"), 0u);
  for (const char* k : {"train_loss", "train_mse", "train_mae", "train_r2", "val_loss", "val_mse", "val_mae", "val_r2"})
    EXPECT_EQ(h.back().count(k), 1u) << k;
  // The val numbers are evaluate()'s, and the report prints them.
  train::Metrics m = t.evaluate(loader);
  EXPECT_EQ(m.task, train::Task::kRegression);
  EXPECT_DOUBLE_EQ(m.mse, h.back().at("val_mse"));
  EXPECT_DOUBLE_EQ(m.mae, h.back().at("val_mae"));
  EXPECT_DOUBLE_EQ(m.r2, h.back().at("val_r2"));
  const std::string r = m.report();
  EXPECT_TRUE(contains(r, "mse") && contains(r, "mae") && contains(r, "r2") && contains(r, "examples 64")) << r;
  EXPECT_TRUE(contains(train::epoch_summary(19, 20, 4, h.back()), "val_r2 ")) << train::epoch_summary(19, 20, 4, h.back());
}

TEST(Trainer, MultiLabelLogsMicroMacroSubsetAccuracyAndHammingLoss) {
  // 3 labels; label j is on when feature j > 0, which a Linear(4, 3) learns.
  auto make = [](int64_t n, uint64_t seed) {
    Generator g(seed);
    Tensor x = empty({n, 4}), y = empty({n, 3});
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < 4; ++j) x.data_ptr<float>()[i * 4 + j] = static_cast<float>(g.normal());
      for (int64_t j = 0; j < 3; ++j) y.data_ptr<float>()[i * 3 + j] = x.data_ptr<float>()[i * 4 + j] > 0 ? 1.0f : 0.0f;
    }
    return std::make_shared<data::TensorDataset>(x, y);
  };
  data::DataLoader train_loader(make(96, 1), data::DataLoaderOptions().batch_size(16).shuffle(true).seed(2));
  data::DataLoader val_loader(make(48, 3), data::DataLoaderOptions().batch_size(16));
  manual_seed(0);
  auto lin = nn::Linear(4, 3);
  optim::SGD opt(lin->parameters(), optim::SGDOptions(0.5));
  auto bce = [](const Tensor& o, const Tensor& t) { return F::binary_cross_entropy_with_logits(o, t); };
  train::Trainer t(nn::AnyModule(lin), opt, bce,
                   train::TrainerOptions().epochs(10).task(train::Task::kMultiLabel).verbose(false));
  train::History h = t.fit(train_loader, &val_loader);
  for (const char* split : {"train_", "val_"})
    for (const char* k : {"loss", "micro_precision", "micro_recall", "micro_f1", "macro_precision", "macro_recall",
                          "macro_f1", "subset_accuracy", "hamming_loss"})
      EXPECT_EQ(h.back().count(std::string(split) + k), 1u) << split << k;
  EXPECT_EQ(h.back().count("val_accuracy"), 0u);
  EXPECT_EQ(h.back().count("train_accuracy"), 0u);
  EXPECT_GT(h.back().at("val_micro_f1"), 0.9);
  EXPECT_LT(h.back().at("val_hamming_loss"), h[0].at("val_hamming_loss") + 1e-12);

  // evaluate() gives the last epoch's val numbers, equal to a hand-fed MultiLabelMetrics.
  train::Metrics m = t.evaluate(val_loader);
  EXPECT_DOUBLE_EQ(m.micro_f1, h.back().at("val_micro_f1"));
  EXPECT_DOUBLE_EQ(m.hamming_loss, h.back().at("val_hamming_loss"));
  train::MultiLabelMetrics ml;
  {
    NoGradGuard g;
    for (data::Example<>& b : val_loader) ml.update(lin->forward(b.data), b.target);
  }
  EXPECT_DOUBLE_EQ(ml.compute().macro_f1, m.macro_f1);
  EXPECT_DOUBLE_EQ(ml.compute().subset_accuracy, m.subset_accuracy);
  // What the progress display prints for it.
  const std::string line = train::epoch_summary(9, 10, 6, h.back());
  EXPECT_TRUE(contains(line, "  micro_f1 ") && contains(line, "  val_micro_f1 ") && contains(line, "  val_hamming_loss "))
      << line;
  train::Metrics shown = m;
  shown.micro_f1 = 0.8123;
  shown.macro_f1 = 0.7011;
  shown.subset_accuracy = 0.542;
  shown.hamming_loss = 0.0712;
  shown.loss = 0.183;
  EXPECT_EQ(train::summary_line("test", shown, 9.1),
            "test micro F1: 0.8123 (macro F1 0.7011, subset accuracy 54.20%, hamming loss 0.0712, loss 0.183) in 9.10s");

  // Shape checks: class-index targets, and a model with the wrong number of outputs.
  data::DataLoader ints(std::make_shared<data::TensorDataset>(randn({8, 4}), randint(0, 3, {8})),
                        data::DataLoaderOptions().batch_size(8));
  std::string msg = message_of([&] { t.evaluate(ints); });
  EXPECT_TRUE(contains(msg, "multi-label targets must be float (N, C) of 0/1")) << msg;
  auto narrow = nn::Linear(4, 2);
  optim::SGD nopt(narrow->parameters(), optim::SGDOptions(0.5));
  train::Trainer nt(nn::AnyModule(narrow), nopt, bce,
                    train::TrainerOptions().epochs(1).task(train::Task::kMultiLabel).verbose(false));
  msg = message_of([&] { nt.fit(train_loader); });
  EXPECT_TRUE(contains(msg, "[16, 2]") && contains(msg, "[16, 3]")) << msg;
  EXPECT_THROW(nt.fit(train_loader), ShapeError);
}

TEST(Trainer, BatchAndPlateauSchedulersAndClippingResumeExactly) {
  // OneCycleLR stepped per batch, ReduceLROnPlateau on train_loss, gradient clipping.
  auto build = [](int64_t epochs, const std::string& dir) {
    struct R {
      nn::Sequential net;
      std::unique_ptr<optim::SGD> opt;
      std::shared_ptr<optim::OneCycleLR> cycle;
      std::shared_ptr<optim::ReduceLROnPlateauScheduler> plateau;
      std::unique_ptr<data::DataLoader> loader;
      std::unique_ptr<train::Trainer> trainer;
    };
    auto r = std::make_shared<R>();
    r->net = make_net();
    r->opt = std::make_unique<optim::SGD>(r->net->parameters(), optim::SGDOptions(0.05).momentum(0.9));
    r->cycle = std::make_shared<optim::OneCycleLR>(*r->opt, 0.1, 18);
    r->plateau = std::make_shared<optim::ReduceLROnPlateauScheduler>(
        *r->opt, optim::ReduceLROnPlateauScheduler::SchedulerMode::min, 0.5f, 0);
    auto [x, y] = synthetic(96, 7);
    r->loader = std::make_unique<data::DataLoader>(std::make_shared<FlipDataset>(x, y),
                                                   data::DataLoaderOptions().batch_size(16).shuffle(true).seed(2));
    r->trainer = std::make_unique<train::Trainer>(
        nn::AnyModule(r->net), *r->opt, ce(),
        train::TrainerOptions().epochs(epochs).grad_clip_norm(0.5).seed(4).output_dir(dir).verbose(false));
    r->trainer->set_scheduler(r->cycle, train::SchedulerStep::kBatch);
    r->trainer->set_plateau_scheduler(r->plateau, "train_loss");
    return r;
  };
  const std::string dir_a = temp_path("sched_a"), dir_b = temp_path("sched_b");
  auto a = build(3, dir_a);
  train::History ha = a->trainer->fit(*a->loader);
  EXPECT_EQ(a->cycle->last_epoch(), 18);  // stepped once per batch
  {
    auto b1 = build(1, dir_b);
    b1->trainer->fit(*b1->loader);
  }
  auto b2 = build(3, dir_b);
  b2->trainer->resume(dir_b + "/checkpoint_last.safetensors");
  train::History hb = b2->trainer->fit(*b2->loader);
  for (const auto& [k, t] : weights(*a->net)) EXPECT_TRUE(bit_equal(t, weights(*b2->net).at(k))) << k;
  EXPECT_EQ(ha.get("lr"), hb.get("lr"));
  EXPECT_EQ(a->plateau->best(), b2->plateau->best());
  EXPECT_EQ(a->plateau->num_bad_epochs(), b2->plateau->num_bad_epochs());
}

TEST(Trainer, GradClipNormBoundsTheStep) {
  auto lin = nn::Linear(3, 2);
  std::vector<float> w0 = lin->weight.to_vector(), b0 = lin->bias.to_vector();
  optim::SGD opt(lin->parameters(), optim::SGDOptions(1.0));
  data::DataLoader loader(std::make_shared<data::TensorDataset>(randn({4, 3}) * 100.0, randn({4, 2})),
                          data::DataLoaderOptions().batch_size(4));
  train::Trainer t(nn::AnyModule(lin), opt, [](const Tensor& o, const Tensor& tt) { return F::mse_loss(o, tt); },
                   train::TrainerOptions().task(train::Task::kRegression).grad_clip_norm(1e-3).verbose(false));
  t.fit(loader);
  std::vector<float> w1 = lin->weight.to_vector(), b1 = lin->bias.to_vector();
  double sq = 0;
  for (size_t i = 0; i < w0.size(); ++i) sq += double(w1[i] - w0[i]) * (w1[i] - w0[i]);
  for (size_t i = 0; i < b0.size(); ++i) sq += double(b1[i] - b0[i]) * (b1[i] - b0[i]);
  EXPECT_LE(std::sqrt(sq), 1e-3 * 1.001);
  EXPECT_GT(std::sqrt(sq), 1e-3 * 0.9);  // the raw gradient is far larger: it was clipped, not zero
  EXPECT_THROW(train::Trainer(nn::AnyModule(lin), opt, ce(), train::TrainerOptions().grad_clip_norm(0.0)), ValueError);
}

TEST(Trainer, NaNWeightsAreNeverCheckpointed) {
  // Without TerminateOnNaN the run goes on with NaN weights; neither the Trainer's own
  // checkpoint nor ModelCheckpoint's files are overwritten with them.
  const std::string dir = temp_path("nan_no_terminate"), dir_mc = temp_path("nan_no_terminate_mc");
  TrainRun r(2, dir);
  int64_t calls = 0;
  std::ostringstream log;
  train::Trainer trainer(
      nn::AnyModule(r.net), r.opt,
      [&calls](const Tensor& out, const Tensor& y) {
        Tensor l = F::cross_entropy(out, y);
        if (autograd::GradMode::is_enabled() && ++calls == 9) l = l * std::nan("");
        return l;
      },
      train::TrainerOptions().epochs(2).output_dir(dir).verbose(false).log_stream(&log));
  trainer.add_callback(std::make_shared<train::ModelCheckpoint>(dir_mc, "train_loss"));
  train::History h = trainer.fit(*r.train_loader);
  EXPECT_TRUE(std::isnan(h.back().at("train_loss")));
  EXPECT_EQ(io::load_checkpoint(dir + "/checkpoint_last.safetensors").extra.at("trainer.epoch"), "1");
  EXPECT_EQ(io::load_checkpoint(dir_mc + "/checkpoint_last.safetensors").extra.at("trainer.epoch"), "1");
  EXPECT_TRUE(contains(log.str(), "keeps the previous epoch")) << log.str();
  EXPECT_FALSE(train::weights_finite(*r.net));
}

namespace {

// Writes a NaN into the first element of parameter or buffer `name` after global step `at`
// (the way a NaN reaches the weights without the loss seeing it first).
struct InjectNaN : train::Callback {
  InjectNaN(std::string n, int64_t step) : name(std::move(n)), at(step) {}
  std::string name;
  int64_t at;
  void on_batch_end(train::Trainer& t, const train::BatchLogs& l) override {
    if (l.step != at) return;
    NoGradGuard g;
    for (const auto& item : t.module().state_dict())
      if (item.key() == name) item.value().data_ptr<float>()[0] = std::nanf("");
  }
};

}  // namespace

TEST(TerminateOnNaN, NamesTheParameterAndTheStepAWeightTurnedNaN) {
  // The NaN enters '5.weight' at the last step of epoch 2 (global step 12): the loss could
  // only show it in epoch 3. The checkpoint on disk stays epoch 1's.
  const std::string dir = temp_path("nan_param");
  TrainRun r(3, dir);
  r.trainer->add_callback(std::make_shared<InjectNaN>("5.weight", 12));
  r.trainer->add_callback(std::make_shared<train::TerminateOnNaN>());
  try {
    r.trainer->fit(*r.train_loader, r.val_loader.get());
    ADD_FAILURE() << "no error";
  } catch (const train::NonFiniteParameterError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "parameter '5.weight' became non-finite after epoch 2 step 6 (global step 12)")) << msg;
    EXPECT_TRUE(contains(msg, "1 NaN and 0 inf of its 256 values")) << msg;
    EXPECT_TRUE(contains(msg, "The last good checkpoint is " + dir + "/checkpoint_last.safetensors")) << msg;
    EXPECT_EQ(e.parameter(), "5.weight");
  }
  EXPECT_EQ(r.trainer->global_step(), 12);
  EXPECT_EQ(io::load_checkpoint(dir + "/checkpoint_last.safetensors").extra.at("trainer.epoch"), "1");
}

TEST(TerminateOnNaN, ABufferTheLossNeverSeesIsCaughtAtTheEpochEndBeforeTheCheckpoint) {
  // BatchNorm's running mean turns NaN at epoch 2 step 2; in training mode the layer uses the
  // batch statistics, so the training loss stays finite. Checking at epoch ends only
  // (check_parameters_every 0), it is caught before epoch 2's checkpoint is written.
  const std::string dir = temp_path("nan_buffer");
  manual_seed(0);
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)), nn::BatchNorm2d(4), nn::ReLU(),
                     nn::MaxPool2d(2), nn::Flatten(), nn::Linear(64, kClasses));
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.05));
  auto [x, y] = synthetic(96, 7);
  data::DataLoader loader(std::make_shared<data::TensorDataset>(x, y), data::DataLoaderOptions().batch_size(16));
  train::Trainer t(nn::AnyModule(net), opt, ce(), train::TrainerOptions().epochs(3).output_dir(dir).verbose(false));
  struct Losses : train::Callback {
    std::vector<double> seen;
    void on_batch_end(train::Trainer&, const train::BatchLogs& l) override { seen.push_back(l.loss); }
  };
  auto losses = std::make_shared<Losses>();
  t.add_callback(losses);
  t.add_callback(std::make_shared<InjectNaN>("1.running_mean", 8));
  t.add_callback(std::make_shared<train::TerminateOnNaN>(train::TerminateOnNaNOptions().check_parameters_every(0)));
  std::string msg = message_of([&] { t.fit(loader); });
  EXPECT_TRUE(contains(msg, "buffer '1.running_mean' became non-finite after epoch 2 step 6 (global step 12)")) << msg;
  EXPECT_TRUE(contains(msg, "(every parameter was finite after global step 6)")) << msg;
  ASSERT_EQ(losses->seen.size(), 12u);
  for (double l : losses->seen) EXPECT_TRUE(std::isfinite(l));
  EXPECT_EQ(io::load_checkpoint(dir + "/checkpoint_last.safetensors").extra.at("trainer.epoch"), "1");
  EXPECT_THROW(t.fit(loader), train::NonFiniteParameterError);  // also before training starts
  EXPECT_TRUE(contains(message_of([&] { t.fit(loader); }), "is non-finite when training resumed after global step 12"));
  EXPECT_THROW(train::TerminateOnNaN(train::TerminateOnNaNOptions().check_parameters_every(-1)), ValueError);
}

TEST(Trainer, SaveCheckpointRefusesNonFiniteWeights) {
  const std::string dir = temp_path("nan_save");
  TrainRun r(1, "");
  r.trainer->save_checkpoint(dir + "_good.safetensors");
  {
    NoGradGuard g;
    r.net->parameters()[0].data_ptr<float>()[3] = std::numeric_limits<float>::infinity();
  }
  const std::string path = dir + ".safetensors";
  try {
    r.trainer->save_checkpoint(path);
    ADD_FAILURE() << "no error";
  } catch (const train::NonFiniteParameterError& e) {
    EXPECT_EQ(e.parameter(), "0.weight");
    EXPECT_TRUE(contains(e.what(), "(the last good one is " + dir + "_good.safetensors)")) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(r.trainer->last_checkpoint(), dir + "_good.safetensors");
}
