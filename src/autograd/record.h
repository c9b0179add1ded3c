// What ops need to support double backward (create_graph=true); see autograd/node.h's contract.
//
// A node recorded with record_differentiable promises that, when its backward runs with grad
// mode on, it computes its gradients with differentiable ops from saved tensors that keep
// their history: inputs saved as they are (not detach()ed), outputs through saved_output().
// Its fast path (grad mode off, every ordinary backward) stays a kernel call:
//
//   autograd::detail::record_differentiable("ExpBackward0", {a}, {out},
//       [od = out.detach()](const TensorList& g) {
//         return TensorList{mul(g[0], autograd::detail::saved_output(od))};
//       });
//
// Nodes recorded with plain autograd::record have no such promise: in a create_graph pass their
// gradients get a grad_fn that raises NotImplementedError when a second backward reaches it.
#pragma once

#include <cstdint>
#include <functional>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/autograd/node.h"

namespace cnnkit::autograd::detail {

void record_differentiable(const char* name, const TensorList& inputs, const TensorList& outputs, BackwardFn fn);

// An input saved for backward: an alias of its values (the storage as it is now: a later
// in-place op rebases the input, not this) that keeps the input's history, so that a backward
// run with grad mode on differentiates through it. For inputs that do not require grad, a
// plain detach().
Tensor save_input(const Tensor& input);

// An output of the node whose backward is running, saved detached: with grad mode on, an alias
// whose grad_fn is that node (output_nr as given), so a second backward flows through the
// node's own backward to its inputs; with grad mode off, the tensor as saved.
Tensor saved_output(const Tensor& detached, uint32_t output_nr = 0);

// The gradients of `forward(inputs)` for the seeds `grads`, by running forward again with
// differentiable ops and differentiating that with create_graph=true. For the create_graph
// path of ops whose fast forward and backward are fused kernels (norms, losses, softmax):
// forward must compute the same function as the op, from the tensors it is given. Returns one
// gradient per input (undefined for inputs that do not require grad).
TensorList recompute_backward(const TensorList& inputs, const TensorList& grads,
                              const std::function<TensorList(const TensorList&)>& forward);

// Gradient accumulation into a backward's own output. While the engine runs a node's backward
// in an ordinary pass (no create_graph, no autograd::grad capture), pending_grad(i) is the
// gradient already delivered to input i of that node by its other consumers (their sum so
// far), or an undefined tensor. A backward that adds it into its own gradient for input i as
// it writes that gradient (a convolution's input gradient, in its kernel's epilogue) calls
// drop_pending_grad(i) and returns the sum; the engine then takes that sum as the first
// gradient of input i. This spares the separate add of two activation-sized gradients where
// a residual connection's branches meet (docs/performance.md). The pending tensor is only
// read: other nodes' gradients may alias it.
Tensor pending_grad(size_t input_nr);
void drop_pending_grad(size_t input_nr);
// For tests: whether passes offer pending gradients (on by default), and how many were taken.
void set_pending_grads_offered(bool on);
uint64_t pending_grads_taken();

}  // namespace cnnkit::autograd::detail
