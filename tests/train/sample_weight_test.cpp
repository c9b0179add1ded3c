// Sample weights: data::Example::weight through the DataLoader into the Trainer's weighted loss
// (build_weighted_loss), as boosting trains its members.
#include <gtest/gtest.h>

#include <cmath>

#include "cnnkit/data/dataloader.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/ops/factory.h"
#include "cnnkit/ops/ops.h"
#include "cnnkit/train/config.h"
#include "test_util.h"

using namespace cnnkit;

namespace {

// n examples: data (2), target i % 3, weight i + 1 (or none past `weighted`).
class Weighted : public data::datasets::Dataset<Weighted> {
 public:
  Weighted(size_t n, size_t weighted) : n_(n), weighted_(weighted) {}
  data::Example<> get(size_t i) override {
    data::Example<> e(full({2}, static_cast<double>(i)), full({}, static_cast<int64_t>(i % 3), kLong));
    if (i < weighted_) e.weight = full({}, static_cast<double>(i + 1));
    return e;
  }
  std::optional<size_t> size() const override { return n_; }

 private:
  size_t n_, weighted_;
};

}  // namespace

TEST(SampleWeight, TheLoaderStacksTheWeightsOfABatch) {
  data::DataLoader loader(std::make_shared<Weighted>(6, 6), data::DataLoaderOptions(4));
  std::vector<float> seen;
  for (data::Example<>& batch : loader) {
    ASSERT_TRUE(batch.weight.defined());
    ASSERT_EQ(batch.weight.dim(), 1);
    EXPECT_EQ(batch.weight.size(0), batch.target.size(0));
    for (int64_t i = 0; i < batch.weight.size(0); ++i) seen.push_back(batch.weight[i].item<float>());
  }
  EXPECT_EQ(seen, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  // Some examples of a batch with a weight, some without: an error naming it, not a guess.
  data::DataLoader mixed(std::make_shared<Weighted>(4, 2), data::DataLoaderOptions(4));
  EXPECT_NE(test::error_of([&] {
              for (data::Example<>& b : mixed) (void)b;
            }).find("weight"),
            std::string::npos);
}

TEST(SampleWeight, WeightedLossIsTheWeightedMeanOfThePerExampleLosses) {
  const Tensor out = tensor({{2.0, 0.5, -1.0}, {0.1, 0.2, 0.3}, {-1.0, 3.0, 0.0}});
  const Tensor target = tensor({0, 2, 1});
  train::LossConfig ce;  // CrossEntropyLoss, reduction mean
  const auto weighted = train::build_weighted_loss(ce);
  const Tensor each = nn::functional::cross_entropy(out, target, nn::functional::CrossEntropyFuncOptions().reduction(kNone));
  // Equal weights: the plain mean, whatever their scale.
  EXPECT_NEAR(weighted(out, target, full({3}, 7.0)).item<double>(), train::build_loss(ce)(out, target).item<double>(),
              1e-6);
  // Weights 1, 0, 3: (l0 + 3 l2) / 4.
  const double want = (each[0].item<double>() + 3 * each[2].item<double>()) / 4;
  EXPECT_NEAR(weighted(out, target, tensor({1.0, 0.0, 3.0})).item<double>(), want, 1e-6);
  // Element-wise losses average over an example's elements first: MSE on (N, 2).
  train::LossConfig mse;
  mse.name = "MSELoss";
  mse.options = nn::MSELossOptions();
  const Tensor y = tensor({{1.0, 1.0}, {0.0, 2.0}}), p = tensor({{0.0, 1.0}, {0.0, 0.0}});
  // per example: (1 + 0) / 2 = 0.5 and (0 + 4) / 2 = 2; weights 3, 1 -> (1.5 + 2) / 4
  EXPECT_NEAR(train::build_weighted_loss(mse)(p, y, tensor({3.0, 1.0})).item<double>(), 3.5 / 4, 1e-6);
  // Gradients flow to the outputs, scaled by the weights.
  Tensor o = out.clone().requires_grad_(true);
  weighted(o, target, tensor({1.0, 0.0, 3.0})).backward();
  EXPECT_EQ(o.grad()[1].abs().sum().item<double>(), 0.0);  // weight 0: no gradient
}
