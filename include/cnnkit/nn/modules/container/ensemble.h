// An ensemble of trained classifiers as one module (sklearn's VotingClassifier and
// StackingClassifier, AdaBoost's weighted vote), so that evaluation, prediction, summaries and
// model files treat it like any model.
//
//   std::vector<nn::AnyModule> members = {nn::AnyModule(net_a), nn::AnyModule(net_b), nn::AnyModule(net_c)};
//   nn::Ensemble soft(members);                                         // "mean": soft voting
//   nn::Ensemble boost(members, nn::EnsembleOptions("weighted").weights({1.2, 0.8, 0.4}));
//   nn::Ensemble stack(members, nn::EnsembleOptions("stacking").num_classes(10));
//   optim::Adam opt(stack->meta->parameters(), optim::AdamOptions(1e-2));  // only the meta-learner trains
//   Tensor logp = soft->forward(x);                     // (N, K) log-probabilities
//   Tensor loss = nn::functional::nll_loss(logp, y);    // or cross_entropy: log_softmax(logp) == logp
//   cnnkit::save(soft, "ensemble.safetensors");         // member0.*, member1.*, ..., meta.*
//
// Output convention: forward returns LOG-probabilities (N, K), whatever the method, so argmax
// predicts, NLLLoss and CrossEntropyLoss score (log_softmax of log-probabilities is the
// identity), and softmax gives the probabilities back. Members are classifiers whose forward
// gives (N, K) logits; a member that returns log-probabilities works the same, since
// softmax(log_softmax(z)) == softmax(z).
//
// Members are frozen: they always run in eval mode (dropout off, batch-norm running
// statistics) under NoGradGuard, whatever train() says; they are trained on their own (each
// its own run: bagging, boosting, the folds of cross-validation) before being combined. Only
// the stacking meta-learner trains, and only when the ensemble is in training mode.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "cnnkit/core/arg.h"
#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/modules/container/any.h"
#include "cnnkit/nn/modules/linear.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit::nn {

struct EnsembleOptions {
  // method: how the members' outputs are combined (p_m = softmax of member m's output, (N, K)):
  //   "mean"      soft voting: p = mean_m p_m (sklearn VotingClassifier(voting="soft"))
  //   "vote"      majority vote of the members' argmax (voting="hard"); p = vote fractions
  //   "weighted"  SAMME's vote: class k scores sum_m alpha_m [argmax p_m = k]; p = scores / sum(alpha)
  //   "stacking"  a meta-learner Linear(M K, K) on the concatenated p_m: p = softmax(meta(...))
  //               (sklearn StackingClassifier on predict_proba)
  /* implicit */ EnsembleOptions(std::string method = "mean") : method_(std::move(method)) {}  // NOLINT
  CNNKIT_ARG(std::string, method);
  CNNKIT_ARG(std::vector<double>, weights) = {};  // "weighted": alpha_m per member (>= 0, one at least > 0)
  CNNKIT_ARG(int64_t, num_classes) = 0;           // "stacking": K, needed to build the meta-learner
};

// The vote methods' probabilities from member probabilities (M, N, K), as log-probabilities
// (N, K). Each member votes for its argmax with weight alpha_m (all 1 when `weights` is empty:
// "vote"). Ties between classes are broken by the mean probability mean_m p_m, then by the
// lower class index; the winner's score is raised by 1e-3 sum(alpha) so that argmax of the
// output is the winner (1e-3 of one vote: no vote count is overturned). Then
//   p_k = (s_k / sum_k s_k + eps) / (1 + K eps),  eps = 1e-6,
// a floor that keeps log p finite (log 1e-6 = -13.8) so that losses of wrong votes stay finite;
// rows of exp(output) sum to 1. No gradient flows (votes are argmaxes).
Tensor vote_log_probabilities(const Tensor& member_probs, const std::vector<double>& weights = {});

class EnsembleImpl : public nn::Module {
 public:
  // ValueError for no members, an unknown method, "weighted" without one weight per member (or
  // a negative, non-finite or all-zero weight), "stacking" without num_classes >= 2.
  explicit EnsembleImpl(std::vector<nn::AnyModule> members, const EnsembleOptions& options = {});

  // x -> (N, K) log-probabilities (see the output convention above). ShapeError if the members'
  // outputs are not all (N, K) with the same N and K (and K = num_classes for stacking).
  Tensor forward(const Tensor& x);
  // Every member's softmax probabilities, (M, N, K), without gradients.
  Tensor member_probabilities(const Tensor& x);

  // Sets the mode of the ensemble and its meta-learner; members stay in eval mode.
  void train(bool on = true) override;
  std::shared_ptr<nn::Module> clone(const std::optional<Device>& device = std::nullopt) const override;
  void pretty_print(std::ostream& stream) const override;

  size_t size() const { return members_.size(); }
  nn::AnyModule& member(size_t i);

  // "stacking": the meta-learner (registered as "meta"; its initial weight [I/M ... I/M] and zero
  // bias make an untrained stacking ensemble predict as soft voting). Empty otherwise.
  nn::Linear meta{nullptr};
  // "weighted": alpha_m as a float32 buffer (M) "member_weights", so state_dict() and model
  // files carry it. Undefined otherwise.
  Tensor member_weights;
  EnsembleOptions options;

 private:
  std::vector<nn::AnyModule> members_;  // registered as "member0", "member1", ...
};
CNNKIT_MODULE(Ensemble);

}  // namespace cnnkit::nn
