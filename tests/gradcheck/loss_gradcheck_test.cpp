// Finite-difference check of every loss's analytic backward, one line per case, with the
// table checker of gradcheck.h: for L = sum(loss(inputs) * W) with a fixed random W, autograd's
// gradient must match (L(x + eps) - L(x - eps)) / (2 eps) for every element of every float
// input that requires grad (input and float targets). L is accumulated in double. Kinks
// (|x - y| = 0, beta, delta) are kept away from by rejecting samples.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/ops/loss.h"
#include "gradcheck.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::test::gradcheck;

namespace {

// |x - y| stays at least 0.05 away from every kink.
std::function<bool(const Inputs&)> away_from(std::vector<double> kinks) {
  return [kinks](const Inputs& x) {
    std::vector<float> a = x[0].to_vector(), b = x[1].to_vector();
    for (size_t i = 0; i < a.size(); ++i)
      for (double k : kinks)
        if (std::fabs(std::fabs(a[i] - b[i]) - k) < 0.05) return false;
    return true;
  };
}

Tensor longs(std::vector<int64_t> shape, std::vector<int64_t> v) {
  Tensor t = cnnkit::empty(shape, kLong);
  for (size_t i = 0; i < v.size(); ++i) t.data_ptr<int64_t>()[i] = v[i];
  return t;
}

std::vector<Case> cases() {
  using namespace cnnkit::Reduction;
  const Tensor w5 = test::lit({0.5f, 1.5f, 1.0f, 2.0f, 0.7f}, {5});
  const Tensor w4 = test::lit({0.5f, 1.5f, 1.0f, 2.0f}, {4});
  const Tensor t_n = longs({6}, {0, 4, 2, 2, 1, 3});
  const Tensor t_ign = longs({6}, {0, -100, 2, 4, -100, 3});
  const Tensor t_4d = longs({2, 3, 2}, {0, 3, 1, 1, 2, 3, 3, 0, -100, 2, 1, 0});  // (N, H, W) for (2, 4, 3, 2)
  std::vector<Case> c;
  for (int64_t r : {None, Mean, Sum}) {
    const std::string rs = r == None ? "_none" : r == Mean ? "_mean" : "_sum";
    c.push_back({"mse" + rs, {In({3, 4}), In({3, 4})}, [r](const Inputs& x) { return mse_loss(x[0], x[1], r); }});
    c.push_back(Case{"l1" + rs, {In({3, 4}), In({3, 4})}, [r](const Inputs& x) { return l1_loss(x[0], x[1], r); }}
                    .when(away_from({0})));
    c.push_back(Case{"smooth_l1_b0.7" + rs, {In({3, 4}), In({3, 4})},
                     [r](const Inputs& x) { return smooth_l1_loss(x[0], x[1], r, 0.7); }}
                    .when(away_from({0, 0.7})));
    c.push_back(Case{"huber_d0.6" + rs, {In({3, 4}), In({3, 4})},
                     [r](const Inputs& x) { return huber_loss(x[0], x[1], r, 0.6); }}
                    .when(away_from({0.6})));
    c.push_back({"bce_w" + rs, {In({3, 5}).range(0.05, 0.95), In({3, 5}).range(0, 1)},
                 [r, w5](const Inputs& x) { return binary_cross_entropy(x[0], x[1], w5, r); }});
    c.push_back({"bce_logits_w_pw" + rs, {In({3, 5}).range(-4, 4), In({3, 5}).range(0, 1)},
                 [r, w5](const Inputs& x) {
                   return binary_cross_entropy_with_logits(x[0], x[1], w5.reshape({1, 5}), w5 * 2.0, r);
                 }});
    c.push_back({"multilabel_soft_margin_w" + rs, {In({3, 5}), In({3, 5}).range(0, 1)},
                 [r, w5](const Inputs& x) { return multilabel_soft_margin_loss(x[0], x[1], w5, r); }});
    c.push_back({"nll_w_ignore" + rs, {In({6, 5})},
                 [r, w5, t_ign](const Inputs& x) { return nll_loss(x[0], t_ign, w5, r); }});
    c.push_back({"cross_entropy" + rs, {In({6, 5})},
                 [r, t_n](const Inputs& x) { return cross_entropy_loss(x[0], t_n, {}, r); }});
    c.push_back({"cross_entropy_w_ignore_ls" + rs, {In({6, 5})},
                 [r, w5, t_ign](const Inputs& x) { return cross_entropy_loss(x[0], t_ign, w5, r, -100, 0.2); }});
    c.push_back({"cross_entropy_4d_w_ls" + rs, {In({2, 4, 3, 2})},
                 [r, w4, t_4d](const Inputs& x) { return cross_entropy_loss(x[0], t_4d, w4, r, -100, 0.1); }});
    // Probability targets need not sum to 1 for the formula (PyTorch does not check either).
    c.push_back({"cross_entropy_probs_w_ls" + rs, {In({4, 5}), In({4, 5}).range(0, 1)},
                 [r, w5](const Inputs& x) { return cross_entropy_loss(x[0], x[1], w5, r, -100, 0.1); }});
    c.push_back({"cross_entropy_probs_4d" + rs, {In({2, 4, 3, 2}), In({2, 4, 3, 2}).range(0, 1)},
                 [r](const Inputs& x) { return cross_entropy_loss(x[0], x[1], {}, r); }});
  }
  return c;
}

std::string case_name(const ::testing::TestParamInfo<size_t>& p) {
  std::string s = cases()[p.param].name;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

class LossGradcheck : public ::testing::TestWithParam<size_t> {};

TEST_P(LossGradcheck, AnalyticMatchesFiniteDifference) {
  static const std::vector<Case> all = cases();
  run_case(all[GetParam()]);
}

INSTANTIATE_TEST_SUITE_P(Losses, LossGradcheck, ::testing::Range<size_t>(0, cases().size()),
                         case_name);

class LossGradGradcheck : public ::testing::TestWithParam<size_t> {};

// Double backward of every loss (create_graph=true), against finite differences of the
// first-order gradient (gradcheck.h, run_second_order).
TEST_P(LossGradGradcheck, DoubleBackwardMatchesFiniteDifference) {
  static const std::vector<Case> all = cases();
  run_second_order(all[GetParam()]);
}
INSTANTIATE_TEST_SUITE_P(Losses, LossGradGradcheck, ::testing::Range<size_t>(0, cases().size()),
                         case_name);

}  // namespace
