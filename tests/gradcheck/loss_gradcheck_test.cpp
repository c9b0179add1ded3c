// Finite-difference check of every loss's analytic backward, one line per case (the table
// checker of gradcheck_test.cpp lives in that file's anonymous namespace, so a small copy of
// the idea is here): for L = sum(loss(inputs) * W) with a fixed random W, autograd's
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
#include "test_util.h"

using namespace cnnkit;

namespace {

using Inputs = std::vector<Tensor>;
using Fn = std::function<Tensor(const Inputs&)>;

struct In {
  std::vector<int64_t> shape;
  double lo = -2, hi = 2;
  bool grad = true;
  In(std::vector<int64_t> s) : shape(std::move(s)) {}  // NOLINT
  In& range(double l, double h) { lo = l, hi = h; return *this; }
  In& constant() { grad = false; return *this; }
};

struct Case {
  std::string name;
  std::vector<In> inputs;
  Fn f;
  std::function<bool(const Inputs&)> valid = nullptr;
  double eps = 1e-3, rtol = 1e-2, atol = 1e-3;
  Case& when(std::function<bool(const Inputs&)> v) { valid = std::move(v); return *this; }
};

uint64_t seed_of(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (char ch : s) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  return h;
}

Tensor sample(const In& in, Generator& gen) {
  Tensor t = cnnkit::empty(in.shape);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(in.lo + (in.hi - in.lo) * gen.uniform());
  return t;
}

double weighted_sum(const Tensor& out, const std::vector<double>& w) {
  std::vector<float> o = out.to_vector();
  double s = 0;
  for (size_t i = 0; i < o.size(); ++i) s += static_cast<double>(o[i]) * w[i];
  return s;
}

void run_case(const Case& c) {
  Generator gen(seed_of(c.name));
  Inputs x;
  for (int attempt = 0;; ++attempt) {
    ASSERT_LT(attempt, 500) << c.name << ": could not sample inputs away from the kinks";
    x.clear();
    for (const In& in : c.inputs) x.push_back(sample(in, gen));
    if (!c.valid || c.valid(x)) break;
  }
  for (size_t k = 0; k < x.size(); ++k)
    if (c.inputs[k].grad) x[k].set_requires_grad(true);
  Tensor out = c.f(x);
  ASSERT_TRUE(out.requires_grad()) << c.name;
  Tensor w = cnnkit::empty(out.sizes());
  std::vector<double> wd(static_cast<size_t>(out.numel()));
  for (size_t i = 0; i < wd.size(); ++i) {
    wd[i] = 2.0 * gen.uniform() - 1.0;
    w.data_ptr<float>()[i] = static_cast<float>(wd[i]);
  }
  out.backward(w);

  NoGradGuard no_grad;
  double worst = 0;
  for (size_t k = 0; k < x.size(); ++k) {
    if (!c.inputs[k].grad) continue;
    Tensor g = x[k].grad();
    ASSERT_TRUE(g.defined()) << c.name << ": no gradient for input " << k;
    ASSERT_EQ(g.sizes(), x[k].sizes()) << c.name;
    std::vector<float> analytic = g.to_vector();
    float* p = x[k].data_ptr<float>();
    int bad = 0;
    for (int64_t i = 0; i < x[k].numel(); ++i) {
      const float v = p[i];
      p[i] = static_cast<float>(v + c.eps);
      const double lp = weighted_sum(c.f(x), wd);
      p[i] = static_cast<float>(v - c.eps);
      const double lm = weighted_sum(c.f(x), wd);
      p[i] = v;
      const double h = static_cast<double>(static_cast<float>(v + c.eps)) - static_cast<float>(v - c.eps);
      const double numeric = (lp - lm) / h, d = std::fabs(analytic[i] - numeric);
      worst = std::max(worst, d);
      if (d > c.atol + c.rtol * std::fabs(numeric) && bad++ < 5)
        ADD_FAILURE() << c.name << ": input " << k << " element " << test::index_str(x[k].sizes(), i)
                      << ": autograd " << analytic[i] << ", finite difference " << numeric;
    }
  }
  std::cout << "[gradcheck] " << c.name << ": max abs diff " << worst << "\n";
}

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

class LossGradcheck : public ::testing::TestWithParam<size_t> {};

TEST_P(LossGradcheck, AnalyticMatchesFiniteDifference) {
  static const std::vector<Case> all = cases();
  run_case(all[GetParam()]);
}

INSTANTIATE_TEST_SUITE_P(Losses, LossGradcheck, ::testing::Range<size_t>(0, cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& p) {
                           std::string s = cases()[p.param].name;
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

}  // namespace
