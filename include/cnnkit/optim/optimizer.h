// The optimiser base (torch::optim::Optimizer): parameter groups, each with its own options,
// per-parameter state, zero_grad, and a flat state dict with PyTorch's names so a training
// run can be checkpointed and resumed bit for bit.
//
//   auto opt = optim::SGD(net->parameters(), optim::SGDOptions(0.01).momentum(0.9));
//   opt.zero_grad(); loss.backward(); opt.step();
//   static_cast<optim::SGDOptions&>(opt.param_groups()[0].options()).lr(0.001);
//   opt.param_groups()[0].options().set_lr(0.001);          // the same, for any optimiser
//
// Intended usage: SGD, Adam, AdamW, Adagrad, RMSprop derive from Optimizer and implement
// step(); schedulers (lr_scheduler.h) drive options().get_lr()/set_lr() of every group.
// Not here: sparse gradients, `maximize`, foreach/fused multi-tensor paths (cnnkit's
// single loop per parameter is already one pass over memory).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/core/arg.h"

namespace cnnkit {
namespace optim {

// A flat state dict: tensors under PyTorch's names ("state.3.exp_avg") and scalars
// ("param_groups.0.lr", "state.3.step") kept in double so a restore is exact.
struct StateDict {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, double> scalars;
};

// Per-parameter state (momentum buffers, Adam moments, step counts).
class OptimizerParamState {
 public:
  virtual ~OptimizerParamState() = default;
  virtual std::unique_ptr<OptimizerParamState> clone() const = 0;
  // Writes/reads this state under `prefix` ("state.3."). Reading names the missing key.
  virtual void save(StateDict& dict, const std::string& prefix) const = 0;
  virtual void load(const StateDict& dict, const std::string& prefix) = 0;
};

template <typename Derived>
class OptimizerCloneableParamState : public OptimizerParamState {
 public:
  std::unique_ptr<OptimizerParamState> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

// Hyper-parameters of one parameter group (lr, momentum, betas, ...).
class OptimizerOptions {
 public:
  virtual ~OptimizerOptions() = default;
  virtual std::unique_ptr<OptimizerOptions> clone() const = 0;
  virtual double get_lr() const = 0;
  virtual void set_lr(double lr) = 0;
  // Every option as PyTorch names it in param_groups ("lr", "momentum", "betas.0", ...).
  virtual void save(StateDict& dict, const std::string& prefix) const = 0;
  virtual void load(const StateDict& dict, const std::string& prefix) = 0;

  // The momentum a scheduler may cycle (OneCycleLR): SGD's and RMSprop's `momentum`,
  // Adam's and AdamW's `betas.0` (PyTorch's use_beta1). Optimisers without one say false.
  virtual bool has_momentum() const { return false; }
  virtual double get_momentum() const;
  virtual void set_momentum(double momentum);
};

template <typename Derived>
class OptimizerCloneableOptions : public OptimizerOptions {
 public:
  std::unique_ptr<OptimizerOptions> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

class OptimizerParamGroup {
 public:
  OptimizerParamGroup(std::vector<Tensor> params);  // NOLINT: implicit as LibTorch
  OptimizerParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options);
  OptimizerParamGroup(const OptimizerParamGroup& other);
  OptimizerParamGroup& operator=(const OptimizerParamGroup& other);
  OptimizerParamGroup(OptimizerParamGroup&&) = default;
  OptimizerParamGroup& operator=(OptimizerParamGroup&&) = default;

  bool has_options() const { return options_ != nullptr; }
  OptimizerOptions& options();
  const OptimizerOptions& options() const;
  void set_options(std::unique_ptr<OptimizerOptions> options);
  std::vector<Tensor>& params() { return params_; }
  const std::vector<Tensor>& params() const { return params_; }

  // PyTorch's group['initial_lr']: the lr a scheduler started from, set by the first
  // scheduler attached (or OneCycleLR) and shared by every later one; saved with the group.
  bool has_initial_lr() const { return initial_lr_.has_value(); }
  double initial_lr() const;
  void set_initial_lr(std::optional<double> lr) { initial_lr_ = lr; }

 private:
  std::vector<Tensor> params_;
  std::unique_ptr<OptimizerOptions> options_;
  std::optional<double> initial_lr_;
};

class Optimizer {
 public:
  using LossClosure = std::function<Tensor()>;

  Optimizer(std::vector<OptimizerParamGroup> param_groups, std::unique_ptr<OptimizerOptions> defaults);
  Optimizer(std::vector<Tensor> parameters, std::unique_ptr<OptimizerOptions> defaults);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient; with a closure, re-evaluates the
  // loss first and returns it (PyTorch's contract), else returns an undefined Tensor.
  virtual Tensor step(LossClosure closure = nullptr) = 0;

  // Groups without options get a copy of the defaults. A parameter may be in one group only
  // and must be a leaf (PyTorch's checks, ValueError).
  void add_param_group(const OptimizerParamGroup& param_group);
  void add_parameters(const std::vector<Tensor>& parameters);  // to the first group
  // set_to_none = true (PyTorch >= 2.0 and LibTorch's default) resets grads to undefined;
  // false zeroes them in place (detached from any graph).
  void zero_grad(bool set_to_none = true);

  std::vector<Tensor> parameters() const;  // every group's, in order
  size_t size() const;                     // number of parameters
  OptimizerOptions& defaults() { return *defaults_; }
  const OptimizerOptions& defaults() const { return *defaults_; }
  std::vector<OptimizerParamGroup>& param_groups() { return param_groups_; }
  const std::vector<OptimizerParamGroup>& param_groups() const { return param_groups_; }
  // Keyed by the parameter's TensorImpl address (LibTorch keys by it too).
  std::map<const void*, std::unique_ptr<OptimizerParamState>>& state() { return state_; }

  // PyTorch's layout: parameters are numbered 0.. across groups in order;
  // "param_groups.<g>.<option>", "param_groups.<g>.params" (count), "state.<i>.<name>".
  // Tensors are copies: later steps do not change a dict already taken.
  StateDict state_dict() const;
  // Checks that the group and parameter counts and every shape match; throws ValueError
  // naming the key otherwise and leaves the optimiser unchanged.
  void load_state_dict(const StateDict& dict);

 protected:
  // Fresh state for a parameter, used by load_state_dict before reading it back.
  virtual std::unique_ptr<OptimizerParamState> make_state() const = 0;
  static const void* key_of(const Tensor& p) { return p.unsafeGetTensorImpl(); }
  // Runs the closure with grad mode on (PyTorch's enable_grad around it).
  static Tensor evaluate_closure(const LossClosure& closure);

  std::vector<OptimizerParamGroup> param_groups_;
  std::map<const void*, std::unique_ptr<OptimizerParamState>> state_;
  std::unique_ptr<OptimizerOptions> defaults_;
};

}  // namespace optim
}  // namespace cnnkit
