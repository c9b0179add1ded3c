// Evaluation options of train::evaluate: test-time augmentation (EvaluateOptions::tta) and
// the run config's `tta` key (the metrics equal those of log(mean of the views' softmax)
// computed by hand; a regression task, an unknown view or a non-list are refused with the
// key named), and the ranking metrics of a pass (EvaluateOptions::ranking).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cnnkit/cnnkit.h"
#include "cnnkit/train/config.h"
#include "cnnkit/train/ranking.h"
#include "cnnkit/train/train.h"
#include "test_util.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;
namespace TF = cnnkit::data::transforms::functional;
using cnnkit::test::contains;
using cnnkit::test::message_of;

namespace {
train::LossFn ce() {
  return [](const Tensor& out, const Tensor& y) { return F::cross_entropy(out, y); };
}
}  // namespace

TEST(TestTimeAugmentation, MetricsAreThoseOfTheAveragedProbabilities) {
  manual_seed(5);
  // Not flip-invariant: a linear layer over the pixels.
  nn::Sequential net(nn::Flatten(), nn::Linear(2 * 4 * 5, 3));
  const Tensor x = randn({12, 2, 4, 5}), y = randint(0, 3, {12});
  data::DataLoader loader(std::make_shared<data::TensorDataset>(x, y), data::DataLoaderOptions().batch_size(5));
  for (const std::vector<std::string>& views :
       {std::vector<std::string>{"hflip"}, std::vector<std::string>{"hflip", "vflip"}}) {
    const train::Metrics m = train::evaluate(nn::AnyModule(net), loader, ce(), train::EvaluateOptions().tta(views));
    NoGradGuard no_grad;
    Tensor probs = softmax(net->forward(x), 1);
    for (const std::string& v : views) probs = probs + softmax(net->forward(v == "hflip" ? TF::hflip(x) : TF::vflip(x)), 1);
    const Tensor logp = log(probs / static_cast<double>(views.size() + 1));
    const Tensor pred = logp.argmax(1);
    int64_t correct = 0;
    for (int64_t i = 0; i < 12; ++i) correct += pred[i].item<int64_t>() == y[i].item<int64_t>();
    EXPECT_DOUBLE_EQ(m.accuracy, static_cast<double>(correct) / 12) << views.size();
    // The loss is the mean over batches of 5, 5 and 2 weighted by size: the per-example mean.
    EXPECT_NEAR(m.loss, F::nll_loss(logp, y).item<double>(), 1e-5) << views.size();
    const train::Metrics plain = train::evaluate(nn::AnyModule(net), loader, ce());
    EXPECT_NE(plain.loss, m.loss);
  }
}

TEST(TestTimeAugmentation, RefusesRegressionAndUnknownViews) {
  nn::Sequential net(nn::Flatten(), nn::Linear(4, 1));
  data::DataLoader loader(std::make_shared<data::TensorDataset>(randn({4, 1, 2, 2}), randn({4, 1})),
                          data::DataLoaderOptions().batch_size(4));
  auto mse = [](const Tensor& o, const Tensor& t) { return F::mse_loss(o, t); };
  const std::string r = message_of([&] {
    train::evaluate(nn::AnyModule(net), loader, mse,
                    train::EvaluateOptions().task(train::Task::kRegression).tta({"hflip"}));
  });
  EXPECT_TRUE(contains(r, "regression")) << r;
  const std::string u = message_of([&] {
    train::evaluate(nn::AnyModule(net), loader, ce(), train::EvaluateOptions().tta({"rotate"}));
  });
  EXPECT_TRUE(contains(u, "'rotate'")) << u;
}

TEST(RunConfigTta, ParsesRoundTripsAndNamesTheKeyOnBadInput) {
  const std::string base = "data: {dataset: fashion-mnist}\nmodel: lenet5\noptimizer: {name: SGD, lr: 0.1}\n";
  const train::RunConfig a = train::parse_run_config(base + "tta: [hflip]\n", "a.yaml");
  EXPECT_EQ(a.tta, std::vector<std::string>{"hflip"});
  EXPECT_EQ(train::parse_run_config(train::to_yaml_string(a), "back.yaml").tta, std::vector<std::string>{"hflip"});
  EXPECT_TRUE(train::parse_run_config(base, "b.yaml").tta.empty());
  const std::string reg = message_of([&] {
    train::parse_run_config(base + "loss: {name: MSELoss}\ntta: [hflip]\n", "c.yaml");
  });
  EXPECT_TRUE(contains(reg, "c.yaml:5")) << reg;
  EXPECT_TRUE(contains(reg, "tta")) << reg;
  const std::string view = message_of([&] { train::parse_run_config(base + "tta: [hflip, spin]\n", "d.yaml"); });
  EXPECT_TRUE(contains(view, "'spin'")) << view;
  const std::string scalar = message_of([&] { train::parse_run_config(base + "tta: hflip\n", "e.yaml"); });
  EXPECT_TRUE(contains(scalar, "list")) << scalar;
}

TEST(EvaluateRanking, FillsAucAveragePrecisionAndEceOfThePassAndNamesThemInScalars) {
  manual_seed(6);
  nn::Sequential net(nn::Flatten(), nn::Linear(8, 4));
  const Tensor x = randn({30, 2, 2, 2}), y = randint(0, 4, {30});
  data::DataLoader loader(std::make_shared<data::TensorDataset>(x, y), data::DataLoaderOptions().batch_size(7));
  const train::Metrics plain = train::evaluate(nn::AnyModule(net), loader, ce());
  EXPECT_TRUE(std::isnan(plain.roc_auc_macro));
  EXPECT_EQ(plain.scalars().count("roc_auc"), 0u);
  const train::Metrics m = train::evaluate(nn::AnyModule(net), loader, ce(), train::EvaluateOptions().ranking(true));
  NoGradGuard no_grad;
  // The loader's batches of 7, as evaluate() computes them: a matrix product over 30 rows at
  // once may round differently (AVX-512 machines: ECE 4e-9 apart).
  std::vector<Tensor> batches;
  for (int64_t i = 0; i < 30; i += 7)
    batches.push_back(softmax(net->forward(x.narrow(0, i, std::min<int64_t>(7, 30 - i))), 1));
  const Tensor p = cat(batches, 0);
  const std::vector<double> auc = train::roc_auc_ovr(p, y), ap = train::average_precision_ovr(p, y);
  ASSERT_EQ(m.roc_auc.size(), 4u);
  for (size_t c = 0; c < 4; ++c) {
    EXPECT_NEAR(m.roc_auc[c], auc[c], 1e-12) << c;
    EXPECT_NEAR(m.average_precision[c], ap[c], 1e-12) << c;
  }
  EXPECT_NEAR(m.roc_auc_macro, train::nan_mean(auc), 1e-12);
  EXPECT_NEAR(m.ece, train::calibration(p, y).ece, 1e-12);
  EXPECT_EQ(m.scalars().count("roc_auc"), 1u);
  EXPECT_EQ(m.scalars().count("ece"), 1u);
}
