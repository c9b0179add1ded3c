// Ensemble: each method's arithmetic on hand-built members (Linear layers whose weight is 0
// and whose bias is the logits they return), the vote's tie-break, SAMME weights, stacking
// (starts as soft voting; only the meta-learner gets gradients), frozen members, clone,
// state-dict round trip through io, and every error.
#include <gtest/gtest.h>

#include <cmath>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/io/serialize.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/nn/modules/dropout.h"
#include "cnnkit/nn/modules/container/sequential.h"
#include "cnnkit/ops/ops.h"
#include "cnnkit/nn/modules/container/ensemble.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::nn;

namespace {

// A member that returns `logits` for every row of a (N, 2) input.
nn::AnyModule fixed(const std::vector<float>& logits) {
  nn::Linear lin(2, static_cast<int64_t>(logits.size()));
  NoGradGuard no_grad;
  lin->weight.zero_();
  lin->bias.copy_(tensor(logits));
  return nn::AnyModule(lin);
}

std::vector<double> softmax_of(const std::vector<float>& z) {
  double m = *std::max_element(z.begin(), z.end()), s = 0;
  std::vector<double> p;
  for (float v : z) s += std::exp(v - m);
  for (float v : z) p.push_back(std::exp(v - m) / s);
  return p;
}

// Row n of a (N, K) tensor.
std::vector<float> row(const Tensor& t, int64_t n) {
  std::vector<float> all = t.to_vector();
  const int64_t K = t.size(1);
  return std::vector<float>(all.begin() + n * K, all.begin() + (n + 1) * K);
}

int64_t argmax_row(const Tensor& t, int64_t n) {
  auto r = row(t, n);
  return std::max_element(r.begin(), r.end()) - r.begin();
}

// The documented vote formula: winner +1e-3 of the total, then (s / sum + 1e-6) / (1 + K 1e-6).
std::vector<double> vote_probs(std::vector<double> s, size_t winner) {
  double total = 0;
  for (double v : s) total += v;
  s[winner] += 1e-3 * total;
  for (double& v : s) v = (v / (total * 1.001) + 1e-6) / (1 + static_cast<double>(s.size()) * 1e-6);
  return s;
}

void expect_log_probs(const std::vector<float>& got, const std::vector<double>& p, double tol = 1e-5) {
  ASSERT_EQ(got.size(), p.size());
  for (size_t k = 0; k < p.size(); ++k) EXPECT_NEAR(got[k], std::log(p[k]), tol) << "class " << k;
}

const Tensor kX = zeros({2, 2});

TEST(Ensemble, MeanIsTheLogOfTheAveragedSoftmax) {
  std::vector<float> a = {0, 1, 2}, b = {2, 0, 0};
  Ensemble ens(std::vector<nn::AnyModule>{fixed(a), fixed(b)});
  Tensor out = ens(kX);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{2, 3}));
  auto pa = softmax_of(a), pb = softmax_of(b);
  for (int64_t n = 0; n < 2; ++n)
    expect_log_probs(row(out, n), {(pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2, (pa[2] + pb[2]) / 2});
  EXPECT_FALSE(out.requires_grad());
}

TEST(Ensemble, MeanStaysFiniteWhereEveryMemberUnderflows) {
  // Class 2's probability is exp(-200) in both members: below float's range, yet its log is
  // about -200 (logsumexp), not -inf.
  Ensemble ens(std::vector<nn::AnyModule>{fixed({0, 0, -200}), fixed({0, 0, -200})});
  float lp = row(ens(kX), 0)[2];
  EXPECT_NEAR(lp, -200 - std::log(2.0), 1e-3);
}

TEST(Ensemble, VoteCountsEachMembersArgmax) {
  // Argmaxes 0, 0, 1: scores (2, 1, 0), class 0 wins.
  Ensemble ens(std::vector<nn::AnyModule>{fixed({2, 0, 0}), fixed({1, 0, 0}), fixed({0, 5, 0})},
               EnsembleOptions("vote"));
  Tensor out = ens(kX);
  expect_log_probs(row(out, 0), vote_probs({2, 1, 0}, 0));
  EXPECT_EQ(argmax_row(out, 1), 0);
  EXPECT_TRUE(std::isfinite(row(out, 0)[2]));  // no vote: log(1e-6 / (1 + 3e-6))
  // NLL of the voted-against class is finite.
  Tensor loss = nn::functional::nll_loss(out, tensor({2, 2}));
  EXPECT_NEAR(loss.item<float>(), -std::log(1e-6 / (1 + 3e-6)), 1e-3);
}

TEST(Ensemble, VoteTiesAreBrokenByTheAveragedProbabilities) {
  // One vote each for classes 0 and 1. Member A is barely sure of 0, member B very sure of 1:
  // the mean probability favours 1, so 1 wins although 0 has the lower index.
  Ensemble ens(std::vector<nn::AnyModule>{fixed({1, 0, 0}), fixed({0, 4, 0})}, EnsembleOptions("vote"));
  Tensor out = ens(kX);
  EXPECT_EQ(argmax_row(out, 0), 1);
  expect_log_probs(row(out, 0), vote_probs({1, 1, 0}, 1));
  // And the other way round.
  Ensemble ens2(std::vector<nn::AnyModule>{fixed({4, 0, 0}), fixed({0, 1, 0})}, EnsembleOptions("vote"));
  EXPECT_EQ(argmax_row(ens2(kX), 0), 0);
}

TEST(Ensemble, WeightedVotesWithTheMembersAlphas) {
  // Argmaxes 0, 1, 1 with alphas 2.5, 1, 1: class 0 scores 2.5 against class 1's 2, so the
  // heavier member outvotes the majority that "vote" follows.
  std::vector<nn::AnyModule> members = {fixed({3, 0}), fixed({0, 3}), fixed({0, 3})};
  Ensemble weighted(members, EnsembleOptions("weighted").weights({2.5, 1, 1}));
  Tensor out = weighted(kX);
  expect_log_probs(row(out, 0), vote_probs({2.5, 2}, 0));
  Ensemble vote(members, EnsembleOptions("vote"));
  EXPECT_EQ(argmax_row(vote(kX), 0), 1);
  // vote_log_probabilities on stored member probabilities gives the same.
  EXPECT_TRUE(test::allclose(vote_log_probabilities(weighted->member_probabilities(kX), {2.5, 1, 1}), out, 0, 0));
}

TEST(Ensemble, MemberProbabilitiesAreTheSoftmaxOfEachMember) {
  Ensemble ens(std::vector<nn::AnyModule>{fixed({0, 1, 2}), fixed({2, 0, 0})});
  Tensor p = ens->member_probabilities(kX);
  ASSERT_EQ(p.sizes(), (std::vector<int64_t>{2, 2, 3}));
  auto pa = softmax_of({0, 1, 2});
  std::vector<float> v = p.to_vector();
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(v[k], pa[k], 1e-6);
}

TEST(Ensemble, StackingStartsAsSoftVotingAndOnlyTheMetaLearnerGetsGradients) {
  manual_seed(0);
  std::vector<nn::AnyModule> members = {nn::AnyModule(nn::Linear(4, 3)), nn::AnyModule(nn::Linear(4, 3))};
  Ensemble stack(members, EnsembleOptions("stacking").num_classes(3));
  Ensemble mean(members);
  Tensor x = randn({8, 4});
  Tensor out = stack(x);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{8, 3}));
  for (int64_t n = 0; n < 8; ++n) EXPECT_EQ(argmax_row(out, n), argmax_row(mean(x), n));
  // Rows are log-probabilities.
  Tensor sums = out.exp().sum(1);
  EXPECT_TRUE(test::allclose(sums, ones({8}), 1e-5, 1e-5));

  stack->train();
  Tensor loss = nn::functional::nll_loss(out, tensor(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1}));
  loss.backward();
  ASSERT_TRUE(stack->meta->weight.grad().defined());
  EXPECT_GT(stack->meta->weight.grad().abs().sum().item<float>(), 0);
  EXPECT_TRUE(stack->meta->bias.grad().defined());
  for (auto& m : members)
    for (const Tensor& p : m.ptr()->parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(Ensemble, MembersStayInEvalModeWhenTheEnsembleTrains) {
  manual_seed(1);
  nn::Sequential member(nn::Linear(4, 3), nn::Dropout(0.5));
  Ensemble ens(std::vector<nn::AnyModule>{nn::AnyModule(member)}, EnsembleOptions("stacking").num_classes(3));
  ens->train();
  EXPECT_TRUE(ens->is_training());
  EXPECT_TRUE(ens->meta->is_training());
  EXPECT_FALSE(member->is_training());
  Tensor x = randn({5, 4});
  EXPECT_TRUE(test::allclose(ens->member_probabilities(x), ens->member_probabilities(x), 0, 0));  // no dropout
}

TEST(Ensemble, StateDictRoundTripsThroughSaveAndLoad) {
  manual_seed(2);
  auto make = [](const std::string& method) {
    std::vector<nn::AnyModule> m = {nn::AnyModule(nn::Linear(4, 3)), nn::AnyModule(nn::Linear(4, 3))};
    EnsembleOptions o(method);
    if (method == "weighted") o.weights({0.7, 1.9});
    if (method == "stacking") o.num_classes(3);
    return Ensemble(m, o);
  };
  Tensor x = randn({6, 4});
  for (std::string method : {"mean", "weighted", "stacking"}) {
    SCOPED_TRACE(method);
    Ensemble a = make(method);
    if (method == "stacking") {
      NoGradGuard no_grad;
      a->meta->weight.copy_(randn({3, 6}));
    }
    auto keys = a->state_dict();
    EXPECT_TRUE(keys.contains("member0.weight"));
    EXPECT_TRUE(keys.contains("member1.bias"));
    EXPECT_EQ(keys.contains("meta.weight"), method == "stacking");
    EXPECT_EQ(keys.contains("member_weights"), method == "weighted");
    std::string path = test::temp_path("ensemble_" + method + ".safetensors");
    cnnkit::save(a, path);
    Ensemble b = make(method);  // other members' weights (the generator moved on)
    if (method == "weighted") b->member_weights.fill_(1);
    cnnkit::load(b, path);
    EXPECT_TRUE(test::allclose(b(x), a(x), 0, 0));
  }
}

TEST(Ensemble, CloneIsADeepCopy) {
  manual_seed(3);
  Ensemble a(std::vector<nn::AnyModule>{nn::AnyModule(nn::Linear(4, 3)), nn::AnyModule(nn::Linear(4, 3))},
             EnsembleOptions("weighted").weights({1, 2}));
  auto b = std::dynamic_pointer_cast<EnsembleImpl>(a->clone());
  ASSERT_TRUE(b);
  Tensor x = randn({3, 4});
  EXPECT_TRUE(test::allclose(b->forward(x), a(x), 0, 0));
  {
    NoGradGuard no_grad;
    a->member(0).get<nn::LinearImpl>().weight.fill_(0);
  }
  EXPECT_FALSE(test::allclose(b->member(0).get<nn::LinearImpl>().weight, a->member(0).get<nn::LinearImpl>().weight, 0, 0));
}

TEST(Ensemble, ErrorsNameTheProblem) {
  auto two = [] { return std::vector<nn::AnyModule>{fixed({0, 1}), fixed({1, 0})}; };
  EXPECT_EQ(test::error_of([] { Ensemble(std::vector<nn::AnyModule>{}); }), "Ensemble: no members");
  EXPECT_EQ(test::error_of([&] { Ensemble(two(), EnsembleOptions("max")); }),
            "Ensemble: unknown method 'max' (mean, vote, weighted, stacking)");
  EXPECT_EQ(test::error_of([&] { Ensemble(two(), EnsembleOptions("weighted").weights({1})); }),
            "Ensemble: method \"weighted\" needs one weight per member: 1 weights for 2 members");
  EXPECT_EQ(test::error_of([&] { Ensemble(two(), EnsembleOptions("weighted").weights({0, 0})); }),
            "Ensemble: all 2 weights are 0");
  EXPECT_EQ(test::error_of([&] { Ensemble(two(), EnsembleOptions("vote").weights({1, 1})); }),
            "Ensemble: weights are for method \"weighted\", not \"vote\"");
  EXPECT_EQ(test::error_of([&] { Ensemble(two(), EnsembleOptions("stacking")); }),
            "Ensemble: method \"stacking\" needs num_classes >= 2 (the meta-learner is Linear(M*K, K)), got 0");
  Ensemble mixed(std::vector<nn::AnyModule>{fixed({0, 1}), fixed({1, 0, 0})});
  EXPECT_THROW(mixed(kX), ShapeError);
  Ensemble wrong_k(two(), EnsembleOptions("stacking").num_classes(3));
  EXPECT_THROW(wrong_k(kX), ShapeError);
}

}  // namespace
