// Loss modules and functionals (nn/modules/loss.h, nn/functional.h): LibTorch-style code
// compiles and runs unchanged, options and defaults are LibTorch's, modules print as
// LibTorch's do, weights are buffers (state_dict keys "weight", "pos_weight"), and module,
// functional and op forms give the same numbers.
#include "cnnkit/nn/modules/loss.h"

#include <gtest/gtest.h>

#include <sstream>

#include "cnnkit/nn/functional.h"
#include "cnnkit/ops/ops.h"
#include "test_util.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;
using test::seq;

namespace {

Tensor labels(std::vector<int64_t> v) {
  Tensor t = cnnkit::empty({static_cast<int64_t>(v.size())}, kLong);
  for (size_t i = 0; i < v.size(); ++i) t.data_ptr<int64_t>()[i] = v[i];
  return t;
}

float value(const Tensor& t) { return t.data_ptr<float>()[0]; }

template <typename M>
std::string printed(const M& m) {
  std::ostringstream os;
  os << m;
  return os.str();
}

TEST(LossModules, LibTorchSnippetRuns) {
  // As written for LibTorch, with torch:: -> cnnkit::
  auto crit = nn::CrossEntropyLoss();
  Tensor logits = seq({4, 5});
  logits.set_requires_grad(true);
  Tensor labels_ = labels({1, 0, 4, 2});
  auto loss = crit(logits, labels_);
  loss.backward();
  // F.cross_entropy(seq((4, 5)), torch.tensor([1, 0, 4, 2]))
  EXPECT_NEAR(loss.item<float>(), 2.002558708190918, 1e-6);
  EXPECT_TRUE(logits.grad().defined());
  EXPECT_NEAR(value(crit->forward(logits, labels_)), 2.002558708190918, 1e-6);
}

TEST(LossModules, OptionsHaveLibTorchDefaults) {
  nn::CrossEntropyLossOptions ce;
  EXPECT_EQ(ce.ignore_index(), -100);
  EXPECT_EQ(ce.label_smoothing(), 0.0);
  EXPECT_TRUE(std::holds_alternative<enumtype::kMean>(ce.reduction()));
  EXPECT_FALSE(ce.weight().defined());
  EXPECT_EQ(nn::NLLLossOptions().ignore_index(), -100);
  EXPECT_EQ(nn::HuberLossOptions().delta(), 1.0);
  EXPECT_FALSE(nn::SmoothL1LossOptions().beta().has_value());
  EXPECT_FALSE(nn::BCEWithLogitsLossOptions().pos_weight().defined());
  EXPECT_TRUE(std::holds_alternative<enumtype::kSum>(nn::MSELossOptions(kSum).reduction()));
  EXPECT_TRUE(std::holds_alternative<enumtype::kNone>(nn::L1LossOptions(kNone).reduction()));
  EXPECT_TRUE(std::holds_alternative<enumtype::kNone>(F::HuberLossFuncOptions(kNone).reduction()));
}

TEST(LossModules, PrintLikeLibTorch) {
  EXPECT_EQ(printed(nn::CrossEntropyLoss()), "cnnkit::nn::CrossEntropyLoss()");
  EXPECT_EQ(printed(nn::NLLLoss()), "cnnkit::nn::NLLLoss()");
  EXPECT_EQ(printed(nn::MSELoss()), "cnnkit::nn::MSELoss()");
  EXPECT_EQ(printed(nn::L1Loss()), "cnnkit::nn::L1Loss()");
  EXPECT_EQ(printed(nn::BCELoss()), "cnnkit::nn::BCELoss()");
  EXPECT_EQ(printed(nn::BCEWithLogitsLoss()), "cnnkit::nn::BCEWithLogitsLoss()");
  EXPECT_EQ(printed(nn::MultiLabelSoftMarginLoss()), "cnnkit::nn::MultiLabelSoftMarginLoss()");
  EXPECT_EQ(printed(nn::SmoothL1Loss()), "cnnkit::nn::SmoothL1Loss");  // LibTorch prints no "()" here
  EXPECT_EQ(printed(nn::HuberLoss()), "cnnkit::nn::HuberLoss");
}

TEST(LossModules, WeightsAreBuffersInTheStateDict) {
  auto crit = nn::BCEWithLogitsLoss(
      nn::BCEWithLogitsLossOptions().weight(cnnkit::ones({5})).pos_weight(cnnkit::full({5}, 2.0)));
  auto sd = crit->state_dict();
  EXPECT_TRUE(sd.contains("weight"));
  EXPECT_TRUE(sd.contains("pos_weight"));
  EXPECT_EQ(crit->parameters().size(), 0u);
  EXPECT_TRUE(nn::CrossEntropyLoss()->state_dict().is_empty());  // undefined weight: no key
  EXPECT_TRUE(nn::CrossEntropyLoss(nn::CrossEntropyLossOptions().weight(cnnkit::ones({3})))
                  ->named_buffers()
                  .contains("weight"));
}

TEST(LossModules, LoadedWeightIsUsed) {
  // A state dict with another class weight changes the loss: forward reads the buffer.
  auto crit = nn::CrossEntropyLoss(nn::CrossEntropyLossOptions().weight(cnnkit::ones({5})));
  const Tensor w = test::lit({0.5f, 1.5f, 1.0f, 2.0f, 0.7f}, {5});
  std::map<std::string, Tensor> sd{{"weight", w}};
  crit->load_state_dict(sd);
  const Tensor x = seq({4, 5}), t = labels({1, 0, 4, 2});
  EXPECT_FLOAT_EQ(value(crit(x, t)), value(F::cross_entropy(x, t, F::CrossEntropyFuncOptions().weight(w))));
}

TEST(LossFunctional, FormsAgreeWithOps) {
  const Tensor x = seq({4, 5}), y = seq({4, 5}, 0.3, 0.1), t = labels({1, 0, 4, 2});
  EXPECT_FLOAT_EQ(value(F::mse_loss(x, y, F::MSELossFuncOptions(kSum))), value(mse_loss(x, y, Reduction::Sum)));
  EXPECT_FLOAT_EQ(value(F::l1_loss(x, y)), value(l1_loss(x, y)));
  EXPECT_FLOAT_EQ(value(F::smooth_l1_loss(x, y, F::SmoothL1LossFuncOptions().beta(0.3))),
                  value(smooth_l1_loss(x, y, Reduction::Mean, 0.3)));
  // LibTorch's deprecated overload with a separate beta
  EXPECT_FLOAT_EQ(value(F::smooth_l1_loss(x, y, F::SmoothL1LossFuncOptions(), 0.3)),
                  value(smooth_l1_loss(x, y, Reduction::Mean, 0.3)));
  EXPECT_THROW(F::smooth_l1_loss(x, y, F::SmoothL1LossFuncOptions().beta(0.3), 0.3), ValueError);
  EXPECT_FLOAT_EQ(value(F::huber_loss(x, y, F::HuberLossFuncOptions().delta(0.4))),
                  value(huber_loss(x, y, Reduction::Mean, 0.4)));
  EXPECT_FLOAT_EQ(value(F::cross_entropy(x, t, F::CrossEntropyFuncOptions().ignore_index(0))),
                  value(cross_entropy_loss(x, t, {}, Reduction::Mean, 0)));
  EXPECT_FLOAT_EQ(value(F::nll_loss(x, t, F::NLLLossFuncOptions().reduction(kSum))),
                  value(nll_loss(x, t, {}, Reduction::Sum)));
  const Tensor p = cnnkit::sigmoid(x), q = (y + 1.0) / 2.0;
  EXPECT_FLOAT_EQ(value(F::binary_cross_entropy(p, q, F::BinaryCrossEntropyFuncOptions().weight(cnnkit::ones({5})))),
                  value(binary_cross_entropy(p, q)));
  EXPECT_FLOAT_EQ(value(F::binary_cross_entropy_with_logits(
                      x, q, F::BinaryCrossEntropyWithLogitsFuncOptions().pos_weight(cnnkit::full({5}, 2.0)))),
                  value(binary_cross_entropy_with_logits(x, q, {}, cnnkit::full({5}, 2.0))));
  EXPECT_FLOAT_EQ(value(F::multilabel_soft_margin_loss(x, q, F::MultilabelSoftMarginLossFuncOptions().reduction(kSum))),
                  value(multilabel_soft_margin_loss(x, q, {}, Reduction::Sum)));
}

TEST(LossModules, ReductionNoneAndSumThroughModules) {
  const Tensor x = seq({4, 5}), t = labels({1, 0, 4, 2});
  auto none = nn::CrossEntropyLoss(nn::CrossEntropyLossOptions().reduction(kNone));
  auto sum = nn::CrossEntropyLoss(nn::CrossEntropyLossOptions().reduction(kSum));
  Tensor per = none(x, t);
  EXPECT_EQ(per.sizes(), IntArrayRef({4}));
  double s = 0;
  for (float v : per.to_vector()) s += v;
  EXPECT_NEAR(value(sum(x, t)), s, 1e-5);
}

TEST(LossModules, ClonedModuleKeepsItsOptions) {
  auto crit = nn::CrossEntropyLoss(nn::CrossEntropyLossOptions().label_smoothing(0.1).weight(cnnkit::ones({5})));
  auto copy = std::dynamic_pointer_cast<nn::CrossEntropyLossImpl>(crit->clone());
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->options.label_smoothing(), 0.1);
  EXPECT_TRUE(copy->weight.defined());
}

TEST(LossModules, ErrorsReachTheUser) {
  auto crit = nn::CrossEntropyLoss();
  EXPECT_THROW(crit(cnnkit::zeros({64, 10}), cnnkit::zeros({64, 3}, kLong)), ShapeError);
  auto bce = nn::BCELoss();
  EXPECT_THROW(bce(cnnkit::full({2}, 2.0), cnnkit::zeros({2})), ValueError);
}

}  // namespace
