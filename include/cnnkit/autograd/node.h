// The define-by-run graph. Every recorded op creates a Node whose apply() maps the
// gradients of its outputs to the gradients of its inputs; edges point to the nodes
// that produced those inputs (or to a leaf's AccumulateGrad).
//
// Ops record themselves with autograd::record(), the backward lambda written right under
// the forward (see src/ops/*.cpp):
//
//   Tensor y = ...forward...;
//   if (autograd::needs_grad({x}))
//     autograd::record("ExpBackward", {x}, {y}, [yd = y.detach()](const TensorList& g) {
//       return TensorList{g[0] * yd};
//     });
//
// Contract: backward lambdas receive one gradient per output (zeros are materialised for
// outputs that got none) and return one per input (undefined for inputs that do not need
// it). They run with grad mode off, except in a backward with create_graph=true, where grad
// mode is on: then a node recorded with detail::record_differentiable (src/autograd/record.h)
// computes its gradients with differentiable ops from saved inputs that keep their history,
// and any other node's gradients get a grad_fn that raises when a second backward reaches it,
// so no higher-order gradient is ever silently wrong. Saved outputs must be detach()ed (and
// unpacked with detail::saved_output) so that the graph does not keep itself alive.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cnnkit/core/tensor.h"

namespace cnnkit {
namespace autograd {

struct Node;
struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;
  bool valid() const { return fn != nullptr; }
};

struct Node : std::enable_shared_from_this<Node> {
  virtual ~Node() = default;
  virtual TensorList apply(TensorList&& grad_outputs) = 0;
  virtual std::string name() const = 0;
  virtual void release_saved() {}
  // false: outputs that got no gradient reach apply() undefined instead of as zeros.
  virtual bool materialize_grads() const { return true; }

  std::vector<Edge> next_edges;        // one per input
  std::vector<std::vector<int64_t>> output_sizes;  // to materialise missing grads
  uint64_t sequence_nr = 0;            // creation order: later nodes run first
};

using BackwardFn = std::function<TensorList(const TensorList& grad_outputs)>;

struct LambdaNode : Node {
  LambdaNode(std::string name, BackwardFn fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  TensorList apply(TensorList&& grads) override;
  std::string name() const override { return name_; }
  void release_saved() override { fn_ = nullptr; }

 private:
  std::string name_;
  BackwardFn fn_;
};

// Leaf sink: adds the incoming gradient into the leaf's .grad().
struct AccumulateGrad : Node {
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  TensorList apply(TensorList&& grads) override;
  std::string name() const override { return "AccumulateGrad"; }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// True when grad mode is on and any input requires grad.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const TensorList& inputs);

// Connects outputs to a new LambdaNode over inputs. Outputs become non-leaves.
void record(const char* name, const TensorList& inputs, const TensorList& outputs, BackwardFn fn);

namespace detail {
// Gives `node` the next sequence number, an edge per input (none for inputs that do not
// require grad) and makes it the grad_fn of each output (which become non-leaves).
void connect(const std::shared_ptr<Node>& node, const TensorList& inputs, const TensorList& outputs);
}  // namespace detail

// The edge a gradient for `t` flows along (its grad_fn, or its AccumulateGrad).
Edge gradient_edge(const Tensor& t);

// Runs backward from roots with the given seed gradients (torch::autograd::backward). Empty
// grads: ones for scalar roots. retain_graph defaults to create_graph; create_graph=true
// records the backward pass itself, so the .grad()s it leaves can be differentiated again.
// Non-empty `inputs`: only those leaves accumulate .grad(), and only the part of the graph
// that leads to them runs.
void backward(const TensorList& roots, const TensorList& grads = {}, std::optional<bool> retain_graph = std::nullopt,
              bool create_graph = false, const TensorList& inputs = {});

// d(outputs)/d(inputs) without touching .grad() (torch::autograd::grad). Only the part of the
// graph between outputs and inputs runs. create_graph=true returns gradients that have a
// graph of their own (double backward: gradient penalties, Hessian-vector products).
TensorList grad(const TensorList& outputs, const TensorList& inputs,
                const TensorList& grad_outputs = {}, std::optional<bool> retain_graph = std::nullopt,
                bool create_graph = false, bool allow_unused = false);

}  // namespace autograd
}  // namespace cnnkit
