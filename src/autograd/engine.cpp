// The backward engine and the autograd half of Tensor. Backward runs nodes in reverse
// creation order (a max-heap on sequence numbers), each once all of its consumers have
// delivered their gradients, accumulating per-node input buffers. It runs on the calling
// thread with grad mode off (on, in a create_graph pass); the ops it calls may parallelise
// internally.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "cnnkit/autograd/anomaly_mode.h"
#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/autograd/hooks.h"
#include "cnnkit/autograd/node.h"
#include "autograd/record.h"
#include "core/tensor_internal.h"
#include "kernels/copy.h"
#include "kernels/onednn.h"

namespace cnnkit {
namespace autograd {

namespace {
thread_local bool grad_enabled = true;
std::atomic<uint64_t> next_sequence_nr{0};
// The node whose apply() runs on this thread (saved_output's grad_fn).
thread_local Node* current_node = nullptr;

// A LambdaNode whose backward is written with differentiable ops (autograd/record.h).
struct DifferentiableNode final : LambdaNode {
  using LambdaNode::LambdaNode;
};

// Whether a create_graph pass may run `node` with grad mode on: custom functions and
// differentiable lambdas record their backward; plain lambdas' kernels would not.
bool supports_double_backward(Node* node) {
  return dynamic_cast<LambdaNode*>(node) == nullptr || dynamic_cast<DifferentiableNode*>(node) != nullptr;
}

Tensor contiguous_float_copy(const Tensor& g) {
  Tensor out = empty(g.sizes(), kFloat);
  kernels::copy_strided(out.data_ptr(), g.data_ptr(), sizeof(float), g.sizes(), g.strides());
  return out;
}

// a + b in their kept oneDNN layout when both are in the same one (the two gradients meeting
// at a residual block's input): the sum goes on to the next oneDNN backward as it is, where
// the plain sum below would reorder both operands to NCHW and the next op the sum back. When
// nothing but `a` can reach a's layout, the sum is written over it and a is the result.
// Undefined when the layouts differ.
Tensor add_kept_layouts(const Tensor& a, const Tensor& b) {
  if (kernels::onednn::add_into_exclusive_layout(a, b)) return a;
  kernels::onednn::LayoutPtr sum = kernels::onednn::add_in_layout(*a.unsafeGetTensorImpl(), *b.unsafeGetTensorImpl(), 1.0f);
  if (!sum) return Tensor();
  Tensor out = cnnkit::detail::empty_deferred(a.sizes());
  cnnkit::detail::set_layout(*out.unsafeGetTensorImpl()->storage, std::move(sum));
  return out;
}

// In a create_graph pass: a + b (same shape) as a recorded op, and a recorded copy, so that
// the sums and copies of gradients are part of the new graph. The engine's own: autograd sits
// below the ops layer.
Tensor recorded_sum(const Tensor& a, const Tensor& b) {
  Tensor out = contiguous_float_copy(a);
  const Tensor bc = b.is_contiguous() ? b : contiguous_float_copy(b);
  kernels::add_inplace(out.data_ptr<float>(), bc.data_ptr<float>(), out.numel());
  if (a.requires_grad() || b.requires_grad())
    detail::record_differentiable("AddBackward0", {a, b}, {out},
                                  [](const TensorList& g) { return TensorList{g[0], g[0]}; });
  return out;
}
Tensor recorded_copy(const Tensor& g) {
  Tensor out = contiguous_float_copy(g);
  if (g.requires_grad())
    detail::record_differentiable("CloneBackward0", {g}, {out}, [](const TensorList& gr) { return TensorList{gr[0]}; });
  return out;
}

// acc (owned by the engine) += g. The first gradient is kept as given (no copy); a second
// one makes acc a fresh buffer so that tensors owned by others are never written.
void accumulate(Tensor& acc, bool& acc_owned, const Tensor& g) {
  if (!g.defined()) return;
  if (!acc.defined()) {
    acc = g;
    acc_owned = false;
    return;
  }
  if (grad_enabled) {  // a create_graph pass: the sum is part of the new graph
    acc = recorded_sum(acc, g);
    acc_owned = true;
    return;
  }
  if (Tensor sum = add_kept_layouts(acc, g); sum.defined()) {
    acc = std::move(sum);
    acc_owned = true;
    return;
  }
  if (!acc_owned || !acc.is_contiguous()) {
    acc = contiguous_float_copy(acc);
    acc_owned = true;
  }
  Tensor gc = g.is_contiguous() ? g : contiguous_float_copy(g);
  kernels::add_inplace(acc.data_ptr<float>(), gc.data_ptr<float>(), acc.numel());
}

void check_grad_shape(const Node& node, size_t i, const Tensor& g, IntArrayRef expected) {
  CNNKIT_ASSERT(g.sizes() == expected, node.name(), " produced a gradient of shape ", g.sizes(),
                " for input ", i, " of shape ", expected);
}

std::atomic<bool> g_anomaly{false};

// Anomaly mode: the first node whose backward returns a NaN, named as PyTorch names it.
void check_nan(const Node& node, const TensorList& grads) {
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& g = grads[i];
    if (!g.defined() || g.scalar_type() != kFloat) continue;
    const Tensor c = g.is_contiguous() ? g : g.contiguous();
    const float* p = c.data_ptr<float>();
    for (int64_t k = 0; k < c.numel(); ++k)
      CNNKIT_CHECK(!std::isnan(p[k]), "Function '", node.name(), "' returned nan values in its ", i,
                   "th output (element ", k, " of a gradient of shape ", g.sizes(), "; anomaly mode)");
  }
}

struct Buffer {
  TensorList grads;
  std::vector<bool> owned;
};

// The input buffers of the pass whose node is running on this thread, when it offers their
// pending gradients (detail::pending_grad); null otherwise.
thread_local std::unordered_map<Node*, Buffer>* offered_buffers = nullptr;
std::atomic<bool> offer_pending{true};
std::atomic<uint64_t> pending_taken{0};

// The slot of input_nr's pending gradient for the running node, or null.
std::pair<Buffer*, size_t> pending_slot(size_t input_nr) {
  if (offered_buffers == nullptr || current_node == nullptr || input_nr >= current_node->next_edges.size())
    return {nullptr, 0};
  const Edge& e = current_node->next_edges[input_nr];
  if (!e.valid()) return {nullptr, 0};
  const auto it = offered_buffers->find(e.fn.get());
  if (it == offered_buffers->end() || e.input_nr >= it->second.grads.size()) return {nullptr, 0};
  return {&it->second, e.input_nr};
}

// Post-accumulate-grad hooks, beside the tensors rather than in TensorImpl: few leaves have
// one, and AccumulateGrad only takes the lock when some hook exists. The weak pointer tells a
// live leaf from a new one that reuses a dead leaf's address.
struct HookEntry {
  HookHandle id;
  std::weak_ptr<TensorImpl> leaf;
  std::function<void(const Tensor&)> fn;
};
std::mutex hooks_mu;
std::unordered_map<const TensorImpl*, std::vector<HookEntry>> hooks;
std::atomic<size_t> hook_count{0};
std::atomic<HookHandle> next_hook{1};

void run_post_accumulate_hooks(const std::shared_ptr<TensorImpl>& leaf) {
  std::vector<std::function<void(const Tensor&)>> fns;
  {
    std::lock_guard<std::mutex> lock(hooks_mu);
    auto it = hooks.find(leaf.get());
    if (it == hooks.end()) return;
    for (const HookEntry& e : it->second)
      if (e.leaf.lock() == leaf) fns.push_back(e.fn);
  }
  const Tensor t(leaf);
  for (const auto& fn : fns) fn(t);
}

// The callbacks of the backward pass running on this thread (null: none runs).
thread_local std::vector<std::function<void()>>* pass_callbacks = nullptr;
}  // namespace

HookHandle register_post_accumulate_grad_hook(const Tensor& leaf, std::function<void(const Tensor&)> hook) {
  CNNKIT_CHECK(leaf.defined() && leaf.is_leaf() && leaf.requires_grad(),
               "register_post_accumulate_grad_hook: the tensor must be a leaf that requires grad (a parameter)");
  CNNKIT_CHECK(static_cast<bool>(hook), "register_post_accumulate_grad_hook: empty hook");
  const HookHandle id = next_hook++;
  std::lock_guard<std::mutex> lock(hooks_mu);
  auto& list = hooks[leaf.unsafeGetTensorImpl()];
  std::erase_if(list, [](const HookEntry& e) { return e.leaf.expired(); });
  list.push_back(HookEntry{id, leaf.impl_ptr(), std::move(hook)});
  ++hook_count;
  return id;
}

void remove_hook(HookHandle handle) {
  std::lock_guard<std::mutex> lock(hooks_mu);
  for (auto it = hooks.begin(); it != hooks.end(); ++it) {
    const size_t before = it->second.size();
    std::erase_if(it->second, [&](const HookEntry& e) { return e.id == handle; });
    if (it->second.size() != before) {
      --hook_count;
      if (it->second.empty()) hooks.erase(it);
      return;
    }
  }
}

void queue_callback(std::function<void()> callback) {
  CNNKIT_CHECK(pass_callbacks != nullptr, "autograd::queue_callback: no backward pass is running on this thread");
  pass_callbacks->push_back(std::move(callback));
}

bool GradMode::is_enabled() { return grad_enabled; }
void GradMode::set_enabled(bool enabled) { grad_enabled = enabled; }

TensorList LambdaNode::apply(TensorList&& grads) {
  CNNKIT_CHECK(fn_ != nullptr, "Trying to backward through the graph a second time (or directly "
               "access saved tensors after they have already been freed) in ", name_,
               ". Specify retain_graph=true on the first backward call if you need to.");
  return fn_(grads);
}

namespace {
// Whether g is the only handle on a dense float buffer that cnnkit allocated: then .grad may
// take it over without a copy, and nobody else can write it afterwards.
bool can_take_over(const Tensor& g) {
  const TensorImpl& impl = *g.unsafeGetTensorImpl();
  return g.use_count() == 1 && impl.storage.use_count() == 1 && g.dtype() == kFloat && !g.requires_grad() &&
         impl.offset == 0 && g.is_contiguous() && cnnkit::detail::owns_bytes(*impl.storage) &&
         impl.storage->nbytes() == static_cast<size_t>(g.numel()) * sizeof(float) &&
         cnnkit::detail::alias_kind(impl) == cnnkit::detail::AliasKind::kNotAnAlias;
}
}  // namespace

TensorList AccumulateGrad::apply(TensorList&& grads) {
  const Tensor& g = grads.at(0);
  if (!g.defined()) return {};
  Tensor& acc = leaf_->grad;
  if (grad_enabled) {
    // backward(create_graph=true): .grad keeps the gradient's history (a copy, or the sum
    // with what was there), so it can be differentiated again.
    acc = acc.defined() ? recorded_sum(acc, g) : recorded_copy(g);
  } else if (!acc.defined()) {
    // A gradient nothing else holds becomes .grad as it is; one that may alias a buffer
    // another node, a hook or the caller still uses is copied.
    acc = can_take_over(g) ? std::move(grads[0]) : contiguous_float_copy(g);
  } else {
    Tensor gc = g.is_contiguous() ? g : contiguous_float_copy(g);
    CNNKIT_CHECK_SHAPE(acc.sizes() == gc.sizes(), "accumulated gradient has shape ", acc.sizes(),
                       " but the new gradient has shape ", gc.sizes());
    if (!acc.is_contiguous()) acc = contiguous_float_copy(acc);
    kernels::add_inplace(acc.data_ptr<float>(), gc.data_ptr<float>(), acc.numel());
  }
  if (hook_count.load(std::memory_order_relaxed) != 0) run_post_accumulate_hooks(leaf_);
  return {};
}

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}
bool needs_grad(const TensorList& inputs) {
  if (!grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Edge gradient_edge(const Tensor& t) {
  TensorImpl* impl = t.unsafeGetTensorImpl();
  if (impl->grad_fn) return Edge{impl->grad_fn, impl->output_nr};
  if (!impl->requires_grad) return Edge{};
  std::shared_ptr<Node> acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    // Highest priority (as PyTorch's): a leaf's gradient is stored as soon as all of it has
    // arrived, not after the rest of backward, so post-accumulate hooks (DDP's buckets) fire
    // while backward still runs.
    acc->sequence_nr = std::numeric_limits<uint64_t>::max();
    acc->output_sizes.push_back(impl->sizes);
    impl->grad_accumulator = acc;
  }
  return Edge{acc, 0};
}

void detail::connect(const std::shared_ptr<Node>& node, const TensorList& inputs, const TensorList& outputs) {
  node->sequence_nr = next_sequence_nr++;
  node->next_edges.reserve(inputs.size());
  for (const Tensor& in : inputs)
    node->next_edges.push_back(in.defined() && in.requires_grad() ? gradient_edge(in) : Edge{});
  node->output_sizes.reserve(outputs.size());
  for (uint32_t i = 0; i < outputs.size(); ++i) {
    TensorImpl* out = outputs[i].unsafeGetTensorImpl();
    out->grad_fn = node;
    out->output_nr = i;
    node->output_sizes.push_back(out->sizes);
  }
}

void record(const char* name, const TensorList& inputs, const TensorList& outputs, BackwardFn fn) {
  detail::connect(std::make_shared<LambdaNode>(name, std::move(fn)), inputs, outputs);
}

void detail::record_differentiable(const char* name, const TensorList& inputs, const TensorList& outputs,
                                   BackwardFn fn) {
  detail::connect(std::make_shared<DifferentiableNode>(name, std::move(fn)), inputs, outputs);
}

Tensor detail::save_input(const Tensor& input) {
  if (!input.defined()) return input;
  Tensor alias = input.detach();
  if (input.requires_grad()) {
    const Edge e = gradient_edge(input);  // a leaf's AccumulateGrad, or the grad_fn
    TensorImpl* impl = alias.unsafeGetTensorImpl();
    impl->grad_fn = e.fn;
    impl->output_nr = e.input_nr;
  }
  return alias;
}

Tensor detail::saved_output(const Tensor& detached, uint32_t output_nr) {
  if (!grad_enabled || current_node == nullptr || !detached.defined()) return detached;
  CNNKIT_ASSERT(output_nr < current_node->output_sizes.size(), "saved_output: output ", output_nr, " of ",
                current_node->name(), ", which has ", current_node->output_sizes.size());
  Tensor alias = detached.detach();
  TensorImpl* impl = alias.unsafeGetTensorImpl();
  impl->grad_fn = current_node->shared_from_this();
  impl->output_nr = output_nr;
  return alias;
}

TensorList detail::recompute_backward(const TensorList& inputs, const TensorList& grads,
                                      const std::function<TensorList(const TensorList&)>& forward) {
  AutoGradMode enable(true);
  // Each input that requires grad enters through an identity node of its own, so the
  // gradients are taken with respect to these proxies and the pass stops there; the
  // gradients' own graph still reaches the real inputs through them.
  TensorList proxies(inputs.size()), wrt;
  std::vector<size_t> wrt_index;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) {
      proxies[i] = x;
      continue;
    }
    proxies[i] = x.detach();
    record_differentiable("AliasBackward0", {x}, {proxies[i]}, [](const TensorList& g) { return TensorList{g[0]}; });
    wrt.push_back(proxies[i]);
    wrt_index.push_back(i);
  }
  TensorList result(inputs.size());
  if (wrt.empty()) return result;
  const TensorList outs = forward(proxies);
  CNNKIT_ASSERT(outs.size() == grads.size(), "recompute_backward: ", outs.size(), " outputs for ", grads.size(),
                " gradients");
  TensorList roots, seeds;
  for (size_t k = 0; k < outs.size(); ++k)
    if (outs[k].defined() && outs[k].requires_grad() && grads[k].defined()) {
      roots.push_back(outs[k]);
      seeds.push_back(grads[k]);
    }
  if (roots.empty()) return result;
  const TensorList g = grad(roots, wrt, seeds, /*retain_graph=*/true, /*create_graph=*/true, /*allow_unused=*/true);
  for (size_t k = 0; k < wrt_index.size(); ++k) result[wrt_index[k]] = g[k];
  return result;
}

namespace {
// A second-order gradient through `node` would be wrong (its backward is kernels, not
// recorded ops), so its gradient gets a grad_fn of its own that says so if a later backward
// ever reaches it. An alias carries it: the gradient tensor itself may be shared. Its edges
// are everything the true second-order gradient would flow to (the node's inputs, whose
// saved values it read, and the history of the gradients it was given), so that a pass
// that needs any of them runs it, and throws, rather than leaving its part out.
Tensor poison(const Tensor& g, const std::string& name, const std::vector<Edge>& edges) {
  Tensor alias = g.detach();
  auto node = std::make_shared<LambdaNode>(name + "Backward", [name](const TensorList&) -> TensorList {
    throw NotImplementedError("double backward through " + name + " is not supported: its backward is a kernel, not "
                              "differentiable ops, so the second-order gradient would be wrong. Differentiable "
                              "backwards: elementwise math, reductions, shape ops, matmul/linear, conv2d/conv1d, "
                              "conv_transpose2d, pooling, activations, softmax, normalisation, the losses and "
                              "custom autograd::Function (README, \"Higher-order gradients\")");
  });
  detail::connect(node, {}, {alias});
  node->next_edges = edges;
  return alias;
}

// Which edges a pass is for: autograd::grad captures the gradients arriving there (and runs
// no AccumulateGrad); backward(inputs=...) lets only those leaves accumulate. Either way only
// the nodes with a path to a target run.
struct Targets {
  std::vector<Edge> edges;
  bool capture = false;
  TensorList* captured = nullptr;
};

void run_backward(const TensorList& roots, const TensorList& grads, bool retain_graph, bool create_graph,
                  const Targets* targets) {
  CNNKIT_CHECK(roots.size() == grads.size(), "backward: ", roots.size(), " outputs but ",
               grads.size(), " gradients");
  std::vector<Edge> root_edges;
  for (const Tensor& r : roots) {
    CNNKIT_CHECK(r.requires_grad(), "element 0 of tensors does not require grad and does not have "
                 "a grad_fn (backward needs an output that depends on a tensor with requires_grad)");
    root_edges.push_back(gradient_edge(r));
  }

  // Dependency counts over the reachable graph.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack, reachable;
  std::unordered_set<Node*> seen;
  for (const Edge& e : root_edges)
    if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    reachable.push_back(n);
    for (const Edge& e : n->next_edges) {
      if (!e.valid()) continue;
      deps[e.fn.get()]++;
      if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
    }
  }

  // With targets, the nodes worth running: those with a path to a target edge. Sequence
  // numbers order the graph (a node's inputs were made before it), so one pass in creation
  // order decides each node after everything below it.
  std::unordered_set<Node*> target_fns, needed;
  if (targets) {
    for (const Edge& e : targets->edges) target_fns.insert(e.fn.get());
    std::sort(reachable.begin(), reachable.end(),
              [](const Node* a, const Node* b) { return a->sequence_nr < b->sequence_nr; });
    for (Node* n : reachable)
      for (const Edge& e : n->next_edges)
        if (e.valid() && (target_fns.count(e.fn.get()) || needed.count(e.fn.get()))) {
          needed.insert(n);
          break;
        }
  }
  auto should_run = [&](Node* n) {
    if (!targets) return true;
    if (needed.count(n)) return true;
    return !targets->capture && target_fns.count(n) != 0;  // a leaf named in backward(inputs=)
  };

  auto cmp = [](const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) {
    return a->sequence_nr < b->sequence_nr;
  };
  std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>, decltype(cmp)> ready(cmp);
  std::unordered_map<Node*, Buffer> buffers;

  // Grad mode is what create_graph says for the whole pass: the sums of gradients and every
  // backward that supports it are recorded when it is on.
  AutoGradMode mode(create_graph);
  auto deliver = [&](const Edge& e, const Tensor& g) {
    if (targets && targets->capture) {
      for (size_t i = 0; i < targets->edges.size(); ++i) {
        const Edge& c = targets->edges[i];
        if (c.fn == e.fn && c.input_nr == e.input_nr && g.defined()) {
          Tensor& slot = (*targets->captured)[i];
          bool owned = false;
          accumulate(slot, owned, g);
        }
      }
    }
    if (!should_run(e.fn.get())) return;  // off every path to the targets: nobody reads it
    Buffer& b = buffers[e.fn.get()];
    if (b.grads.empty()) {
      b.grads.resize(e.fn->output_sizes.size());
      b.owned.assign(e.fn->output_sizes.size(), false);
    }
    bool owned = b.owned[e.input_nr];
    accumulate(b.grads[e.input_nr], owned, g);
    b.owned[e.input_nr] = owned;
  };

  for (size_t i = 0; i < roots.size(); ++i) {
    deliver(root_edges[i], grads[i]);
  }
  for (const Edge& e : root_edges)
    if (deps[e.fn.get()] == 0) {
      deps[e.fn.get()] = -1;  // queued
      ready.push(e.fn);
    }

  std::vector<std::function<void()>> callbacks;
  auto* outer_callbacks = pass_callbacks;
  Node* outer_node = current_node;
  pass_callbacks = &callbacks;
  // Pending gradients are offered to the nodes of an ordinary pass only: with create_graph
  // their sums belong to the new graph, and a capture counts every delivery.
  auto* const outer_offer = offered_buffers;
  auto* const offer = create_graph || (targets && targets->capture) || !offer_pending ? nullptr : &buffers;
  struct Restore {
    std::vector<std::function<void()>>* outer;
    Node* node;
    std::unordered_map<Node*, Buffer>* offer;
    ~Restore() {
      pass_callbacks = outer;
      current_node = node;
      offered_buffers = offer;
    }
  } restore{outer_callbacks, outer_node, outer_offer};
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top();
    ready.pop();
    Buffer buf = std::move(buffers[node.get()]);
    buffers.erase(node.get());
    bool any_grad = false;
    for (const Tensor& g : buf.grads) any_grad = any_grad || g.defined();
    if (!any_grad || !should_run(node.get())) {
      // Nothing flowed here (every consumer's backward returned no gradient for it): do not
      // run it on made-up zeros, so leaves below keep an undefined .grad() as in PyTorch.
      // A node off every path to the targets is left as it is, saved tensors included.
      if (!retain_graph && should_run(node.get())) node->release_saved();
      for (const Edge& e : node->next_edges)
        if (e.valid() && --deps[e.fn.get()] == 0) ready.push(e.fn);
      continue;
    }
    if (node->materialize_grads())
      for (size_t i = 0; i < buf.grads.size(); ++i) {
        if (!buf.grads[i].defined()) {
          buf.grads[i] = empty(node->output_sizes[i], kFloat);
          std::memset(buf.grads[i].data_ptr(), 0, buf.grads[i].nbytes());
        }
      }
    TensorList in_grads;
    current_node = node.get();
    if (create_graph && !supports_double_backward(node.get())) {
      std::vector<Edge> reads = node->next_edges;
      for (const Tensor& g : buf.grads)
        if (g.defined() && g.requires_grad()) reads.push_back(gradient_edge(g));
      {
        NoGradGuard kernels_only;
        in_grads = node->apply(std::move(buf.grads));
      }
      for (Tensor& g : in_grads)
        if (g.defined()) g = poison(g, node->name(), reads);
    } else {
      offered_buffers = offer;
      in_grads = node->apply(std::move(buf.grads));
      offered_buffers = outer_offer;
    }
    current_node = outer_node;
    if (AnomalyMode::is_enabled()) check_nan(*node, in_grads);
    if (!retain_graph) node->release_saved();
    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.valid()) continue;
      if (i < in_grads.size() && in_grads[i].defined()) {
        check_grad_shape(*node, i, in_grads[i], e.fn->output_sizes[e.input_nr]);
        deliver(e, in_grads[i]);
      }
      if (--deps[e.fn.get()] == 0) ready.push(e.fn);
    }
  }
  for (size_t i = 0; i < callbacks.size(); ++i) {
    auto cb = std::move(callbacks[i]);  // a callback may queue another: index, not iterators
    cb();
  }
}

}  // namespace

namespace detail {
Tensor pending_grad(size_t input_nr) {
  const auto [buffer, slot] = pending_slot(input_nr);
  return buffer != nullptr ? buffer->grads[slot] : Tensor();
}
void drop_pending_grad(size_t input_nr) {
  const auto [buffer, slot] = pending_slot(input_nr);
  if (buffer == nullptr) return;
  buffer->grads[slot] = Tensor();
  buffer->owned[slot] = false;
  pending_taken.fetch_add(1, std::memory_order_relaxed);
}
void set_pending_grads_offered(bool on) { offer_pending = on; }
uint64_t pending_grads_taken() { return pending_taken.load(std::memory_order_relaxed); }
}  // namespace detail

namespace {

TensorList implicit_seeds(const TensorList& outputs, const TensorList& grad_outputs, const char* name) {
  if (!grad_outputs.empty()) return grad_outputs;
  TensorList seeds;
  for (const Tensor& o : outputs) {
    CNNKIT_CHECK_SHAPE(o.numel() == 1, name, ": grad can be implicitly created only for scalar outputs, got shape ",
                       o.sizes());
    Tensor one = empty(o.sizes(), kFloat);
    *one.data_ptr<float>() = 1.0f;
    seeds.push_back(one);
  }
  return seeds;
}
}  // namespace

bool AnomalyMode::is_enabled() { return g_anomaly.load(std::memory_order_relaxed); }
void AnomalyMode::set_enabled(bool enabled) { g_anomaly.store(enabled, std::memory_order_relaxed); }
DetectAnomalyGuard::DetectAnomalyGuard() : prev_(AnomalyMode::is_enabled()) { AnomalyMode::set_enabled(true); }
DetectAnomalyGuard::~DetectAnomalyGuard() { AnomalyMode::set_enabled(prev_); }

void backward(const TensorList& roots, const TensorList& grads, std::optional<bool> retain_graph, bool create_graph,
              const TensorList& inputs) {
  const TensorList seeds = implicit_seeds(roots, grads, "backward");
  if (inputs.empty()) {
    run_backward(roots, seeds, retain_graph.value_or(create_graph), create_graph, nullptr);
    return;
  }
  Targets targets;
  for (size_t i = 0; i < inputs.size(); ++i) {
    CNNKIT_CHECK(inputs[i].defined() && inputs[i].requires_grad(), "backward: inputs[", i,
                 "] does not require grad");
    CNNKIT_CHECK(inputs[i].is_leaf(), "backward: inputs[", i, "] is not a leaf; backward(inputs=...) accumulates "
                 "into leaves here (use autograd::grad for the gradient of an intermediate tensor)");
    targets.edges.push_back(gradient_edge(inputs[i]));
  }
  run_backward(roots, seeds, retain_graph.value_or(create_graph), create_graph, &targets);
}

TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs,
                std::optional<bool> retain_graph, bool create_graph, bool allow_unused) {
  const TensorList seeds = implicit_seeds(outputs, grad_outputs, "grad");
  Targets targets;
  targets.capture = true;
  for (size_t i = 0; i < inputs.size(); ++i) {
    CNNKIT_CHECK(inputs[i].defined() && inputs[i].requires_grad(), "autograd::grad: input ", i,
                 " does not require grad");
    targets.edges.push_back(gradient_edge(inputs[i]));
  }
  TensorList result(inputs.size());
  targets.captured = &result;
  run_backward(outputs, seeds, retain_graph.value_or(create_graph), create_graph, &targets);
  for (size_t i = 0; i < result.size(); ++i)
    CNNKIT_CHECK(result[i].defined() || allow_unused, "autograd::grad: input ", i,
                 " was not used in the graph (pass allow_unused=true)");
  return result;
}

}  // namespace autograd

// ---- Tensor's autograd methods ----------------------------------------------------------

bool Tensor::requires_grad() const { return impl().requires_grad || impl().grad_fn != nullptr; }

Tensor& Tensor::set_requires_grad(bool r) {
  CNNKIT_CHECK(is_leaf() || r, "you can only change requires_grad flags of leaf variables");
  if (r) CNNKIT_CHECK_TYPE(dtype() == kFloat, "only float tensors can require gradients, got ", dtype());
  impl().requires_grad = r;
  return *this;
}

Tensor Tensor::grad() const { return impl().grad; }
Tensor& Tensor::mutable_grad() { return impl().grad; }
void Tensor::set_grad(const Tensor& g) { impl().grad = g; }

void Tensor::backward(const Tensor& gradient, std::optional<bool> retain_graph, bool create_graph,
                      std::optional<std::vector<Tensor>> inputs) const {
  Tensor seed = gradient;
  if (!seed.defined()) {
    CNNKIT_CHECK_SHAPE(numel() == 1, "grad can be implicitly created only for scalar outputs, got "
                       "shape ", sizes(), "; pass a gradient to backward()");
    seed = empty(sizes(), kFloat);
    *seed.data_ptr<float>() = 1.0f;
  } else {
    CNNKIT_CHECK_SHAPE(seed.sizes() == sizes(), "backward: gradient has shape ", seed.sizes(),
                       " but the tensor has shape ", sizes());
  }
  autograd::backward({*this}, {seed}, retain_graph, create_graph, inputs.value_or(TensorList{}));
}

Tensor Tensor::detach() const {
  auto d = std::make_shared<TensorImpl>();
  d->storage = impl().storage;
  detail::mark_alias(*d, detail::AliasKind::kDetached);
  d->sizes = impl().sizes;
  d->strides = impl().strides;
  d->offset = impl().offset;
  d->dtype = impl().dtype;
  return Tensor(std::move(d));
}

Tensor& Tensor::detach_() {
  impl().grad_fn = nullptr;
  impl().requires_grad = false;
  return *this;
}

}  // namespace cnnkit
