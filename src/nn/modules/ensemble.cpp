// EnsembleImpl: members' outputs combined by soft voting, (weighted) hard voting or a stacking
// meta-learner, always as log-probabilities. Not here: training the members (each is its own
// run) or choosing them (search, bagging, boosting in select/ and the CLI).
// M = members, N = batch, K = classes.
#include "cnnkit/nn/modules/container/ensemble.h"

#include <cmath>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/ops/ops.h"

namespace cnnkit::nn {

namespace {

constexpr double kTieBonus = 1e-3;  // of the total vote weight, to the winner of a row
constexpr double kFloor = 1e-6;     // additive floor on every vote probability

// Each member's output on x, checked to be (N, K) and alike. Runs under NoGradGuard.
std::vector<Tensor> member_outputs(std::vector<nn::AnyModule>& members, const Tensor& x) {
  NoGradGuard no_grad;
  std::vector<Tensor> out;
  for (size_t m = 0; m < members.size(); ++m) {
    out.push_back(members[m].forward(x));
    CNNKIT_CHECK_SHAPE(out[m].dim() == 2 && out[m].sizes() == out[0].sizes(), "Ensemble: member ", m, " returned ",
                       out[m].sizes(), ", member 0 ", out[0].sizes(),
                       "; members must all return (N, K) class scores for the same N and K");
  }
  return out;
}

}  // namespace

Tensor vote_log_probabilities(const Tensor& member_probs, const std::vector<double>& weights) {
  CNNKIT_CHECK_SHAPE(member_probs.dim() == 3, "vote_log_probabilities: member_probs must be (M, N, K), got ",
                     member_probs.sizes());
  CNNKIT_CHECK_TYPE(member_probs.scalar_type() == kFloat, "vote_log_probabilities: member_probs must be float32");
  const int64_t M = member_probs.size(0), N = member_probs.size(1), K = member_probs.size(2);
  CNNKIT_CHECK(weights.empty() || static_cast<int64_t>(weights.size()) == M, "vote_log_probabilities: ",
               weights.size(), " weights for ", M, " members");
  NoGradGuard no_grad;
  Tensor probs = member_probs.contiguous();
  const float* p = probs.data_ptr<float>();  // (M, N, K)
  Tensor out = empty({N, K});
  float* o = out.data_ptr<float>();  // (N, K)
  std::vector<double> score(static_cast<size_t>(K)), mean(static_cast<size_t>(K));
  for (int64_t n = 0; n < N; ++n) {
    std::fill(score.begin(), score.end(), 0.0);
    std::fill(mean.begin(), mean.end(), 0.0);
    double total = 0;
    for (int64_t m = 0; m < M; ++m) {
      const float* row = p + (m * N + n) * K;
      int64_t best = 0;  // the member's argmax (first of equal maxima, as torch.argmax)
      for (int64_t k = 0; k < K; ++k) {
        if (row[k] > row[best]) best = k;
        mean[k] += row[k];
      }
      double w = weights.empty() ? 1.0 : weights[m];
      score[best] += w;
      total += w;
    }
    int64_t winner = 0;  // highest score; ties (to rounding) by mean probability, then lower index
    for (int64_t k = 1; k < K; ++k) {
      double d = score[k] - score[winner];
      if (d > 1e-12 * total || (std::fabs(d) <= 1e-12 * total && mean[k] > mean[winner])) winner = k;
    }
    score[winner] += kTieBonus * total;
    const double sum = total * (1 + kTieBonus);
    for (int64_t k = 0; k < K; ++k)
      o[n * K + k] = static_cast<float>(std::log((score[k] / sum + kFloor) / (1 + K * kFloor)));
  }
  return out;
}

EnsembleImpl::EnsembleImpl(std::vector<nn::AnyModule> members, const EnsembleOptions& options_)
    : options(options_), members_(std::move(members)) {
  const std::string& method = options.method();
  const size_t M = members_.size();
  CNNKIT_CHECK(M > 0, "Ensemble: no members");
  CNNKIT_CHECK(method == "mean" || method == "vote" || method == "weighted" || method == "stacking",
               "Ensemble: unknown method '", method, "' (mean, vote, weighted, stacking)");
  for (size_t m = 0; m < M; ++m) {
    CNNKIT_CHECK(!members_[m].is_empty(), "Ensemble: member ", m, " is empty");
    register_module("member" + std::to_string(m), members_[m].ptr());
  }
  if (method == "weighted") {
    const auto& w = options.weights();
    CNNKIT_CHECK(w.size() == M, "Ensemble: method \"weighted\" needs one weight per member: ", w.size(),
                 " weights for ", M, " members");
    double total = 0;
    for (size_t m = 0; m < M; ++m) {
      CNNKIT_CHECK(std::isfinite(w[m]) && w[m] >= 0, "Ensemble: weights[", m, "] = ", w[m],
                   "; weights must be finite and non-negative");
      total += w[m];
    }
    CNNKIT_CHECK(total > 0, "Ensemble: all ", M, " weights are 0");
    member_weights = register_buffer("member_weights", tensor(w));
  } else {
    CNNKIT_CHECK(options.weights().empty(), "Ensemble: weights are for method \"weighted\", not \"", method, "\"");
  }
  if (method == "stacking") {
    const int64_t K = options.num_classes();
    CNNKIT_CHECK(K >= 2, "Ensemble: method \"stacking\" needs num_classes >= 2 (the meta-learner is ",
                 "Linear(M*K, K)), got ", K);
    meta = register_module("meta", nn::Linear(static_cast<int64_t>(M) * K, K));
    NoGradGuard no_grad;
    meta->weight.zero_();
    meta->bias.zero_();
    float* w = meta->weight.data_ptr<float>();  // (K, M K)
    for (int64_t k = 0; k < K; ++k)
      for (size_t m = 0; m < M; ++m) w[k * static_cast<int64_t>(M) * K + static_cast<int64_t>(m) * K + k] = 1.0f / M;
  }
  train(is_training());
}

Tensor EnsembleImpl::member_probabilities(const Tensor& x) {
  std::vector<Tensor> outs = member_outputs(members_, x);
  NoGradGuard no_grad;
  for (auto& o : outs) o = softmax(o, 1);
  return stack(outs, 0);
}

Tensor EnsembleImpl::forward(const Tensor& x) {
  const std::string& method = options.method();
  if (method == "mean") {  // log(mean_m p_m) = logsumexp_m(log p_m) - log M, stable where p_m underflows
    std::vector<Tensor> outs = member_outputs(members_, x);
    NoGradGuard no_grad;
    for (auto& o : outs) o = log_softmax(o, 1);
    return stack(outs, 0).logsumexp({0}).sub(std::log(static_cast<double>(outs.size())));
  }
  if (method == "stacking") {
    Tensor p = member_probabilities(x);  // (M, N, K), no grad: members are frozen
    const int64_t M = p.size(0), N = p.size(1), K = p.size(2);
    CNNKIT_CHECK_SHAPE(K == options.num_classes(), "Ensemble: the members return ", K,
                       " class scores but the stacking meta-learner was built for num_classes = ",
                       options.num_classes());
    Tensor features = p.permute({1, 0, 2}).reshape({N, M * K});  // (N, M K): member 0's K, member 1's K, ...
    return log_softmax(meta->forward(features), 1);
  }
  std::vector<double> w;
  if (method == "weighted")
    for (float v : member_weights.to_vector()) w.push_back(v);
  return vote_log_probabilities(member_probabilities(x), w);
}

void EnsembleImpl::train(bool on) {
  nn::Module::train(on);
  for (auto& m : members_) m.ptr()->eval();
}

std::shared_ptr<nn::Module> EnsembleImpl::clone(const std::optional<Device>& device) const {
  std::vector<nn::AnyModule> copies;
  for (const auto& m : members_) copies.push_back(m.clone(device));
  auto copy = std::make_shared<EnsembleImpl>(std::move(copies), options);
  NoGradGuard no_grad;
  if (meta) {
    copy->meta->weight.copy_(meta->weight);
    copy->meta->bias.copy_(meta->bias);
  }
  if (member_weights.defined()) copy->member_weights.copy_(member_weights);
  copy->train(is_training());
  return copy;
}

void EnsembleImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::Ensemble(method=" << options.method() << ", members=" << members_.size() << ")";
}

nn::AnyModule& EnsembleImpl::member(size_t i) {
  CNNKIT_CHECK(i < members_.size(), "Ensemble: member ", i, " out of range for ", members_.size(), " members");
  return members_[i];
}

}  // namespace cnnkit::nn
