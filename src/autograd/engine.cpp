// The backward engine and the autograd half of Tensor. Backward runs nodes in reverse
// creation order (a max-heap on sequence numbers), each once all of its consumers have
// delivered their gradients, accumulating per-node input buffers. It runs on the calling
// thread with grad mode off; the ops it calls may parallelise internally.
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
#include "core/tensor_internal.h"
#include "kernels/copy.h"
#include "kernels/onednn.h"

namespace cnnkit {
namespace autograd {

namespace {
thread_local bool grad_enabled = true;
std::atomic<uint64_t> next_sequence_nr{0};

Tensor contiguous_float_copy(const Tensor& g) {
  Tensor out = empty(g.sizes(), kFloat);
  kernels::copy_strided(out.data_ptr(), g.data_ptr(), sizeof(float), g.sizes(), g.strides());
  return out;
}

// a + b in their kept oneDNN layout when both are in the same one (the two gradients meeting
// at a residual block's input): the sum goes on to the next oneDNN backward as it is, where
// the plain sum below would reorder both operands to NCHW and the next op the sum back.
// Undefined when the layouts differ.
Tensor add_kept_layouts(const Tensor& a, const Tensor& b) {
  kernels::onednn::LayoutPtr sum = kernels::onednn::add_in_layout(*a.unsafeGetTensorImpl(), *b.unsafeGetTensorImpl(), 1.0f);
  if (!sum) return Tensor();
  Tensor out = detail::empty_deferred(a.sizes());
  detail::set_layout(*out.unsafeGetTensorImpl()->storage, std::move(sum));
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
         impl.offset == 0 && g.is_contiguous() && detail::owns_bytes(*impl.storage) &&
         impl.storage->nbytes() == static_cast<size_t>(g.numel()) * sizeof(float) &&
         detail::alias_kind(impl) == detail::AliasKind::kNotAnAlias;
}
}  // namespace

TensorList AccumulateGrad::apply(TensorList&& grads) {
  const Tensor& g = grads.at(0);
  if (!g.defined()) return {};
  Tensor& acc = leaf_->grad;
  if (!acc.defined()) {
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

void record(const char* name, const TensorList& inputs, const TensorList& outputs, BackwardFn fn) {
  auto node = std::make_shared<LambdaNode>(name, std::move(fn));
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

namespace {
// Runs the graph below `roots`. If `capture` is given, gradients reaching those edges are
// stored there instead of flowing into AccumulateGrad (autograd::grad).
void run_backward(const TensorList& roots, const TensorList& grads, bool retain_graph,
                  const std::vector<Edge>* capture, TensorList* captured) {
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
  std::vector<Node*> stack;
  std::unordered_set<Node*> seen;
  for (const Edge& e : root_edges)
    if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.valid()) continue;
      deps[e.fn.get()]++;
      if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
    }
  }

  auto cmp = [](const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) {
    return a->sequence_nr < b->sequence_nr;
  };
  std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>, decltype(cmp)> ready(cmp);
  std::unordered_map<Node*, Buffer> buffers;

  auto deliver = [&](const Edge& e, const Tensor& g) {
    if (capture) {
      for (size_t i = 0; i < capture->size(); ++i) {
        const Edge& c = (*capture)[i];
        if (c.fn == e.fn && c.input_nr == e.input_nr && g.defined()) {
          Tensor& slot = (*captured)[i];
          bool owned = false;
          accumulate(slot, owned, g);
        }
      }
    }
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

  NoGradGuard no_grad;
  std::vector<std::function<void()>> callbacks;
  auto* outer_callbacks = pass_callbacks;
  pass_callbacks = &callbacks;
  struct Restore {
    std::vector<std::function<void()>>* outer;
    ~Restore() { pass_callbacks = outer; }
  } restore{outer_callbacks};
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top();
    ready.pop();
    Buffer buf = std::move(buffers[node.get()]);
    buffers.erase(node.get());
    bool any_grad = false;
    for (const Tensor& g : buf.grads) any_grad = any_grad || g.defined();
    if (!any_grad) {
      // Nothing flowed here (every consumer's backward returned no gradient for it): do not
      // run it on made-up zeros, so leaves below keep an undefined .grad() as in PyTorch.
      if (!retain_graph) node->release_saved();
      for (const Edge& e : node->next_edges)
        if (e.valid() && --deps[e.fn.get()] == 0) ready.push(e.fn);
      continue;
    }
    for (size_t i = 0; i < buf.grads.size(); ++i) {
      if (!buf.grads[i].defined()) {
        buf.grads[i] = empty(node->output_sizes[i], kFloat);
        std::memset(buf.grads[i].data_ptr(), 0, buf.grads[i].nbytes());
      }
    }
    bool is_sink = dynamic_cast<AccumulateGrad*>(node.get()) != nullptr;
    TensorList in_grads;
    if (!(is_sink && capture)) in_grads = node->apply(std::move(buf.grads));
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

bool AnomalyMode::is_enabled() { return g_anomaly.load(std::memory_order_relaxed); }
void AnomalyMode::set_enabled(bool enabled) { g_anomaly.store(enabled, std::memory_order_relaxed); }
DetectAnomalyGuard::DetectAnomalyGuard() : prev_(AnomalyMode::is_enabled()) { AnomalyMode::set_enabled(true); }
DetectAnomalyGuard::~DetectAnomalyGuard() { AnomalyMode::set_enabled(prev_); }

void backward(const TensorList& roots, const TensorList& grads, bool retain_graph) {
  run_backward(roots, grads, retain_graph, nullptr, nullptr);
}

TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs,
                std::optional<bool> retain_graph, bool create_graph, bool allow_unused) {
  if (create_graph) throw NotImplementedError("autograd::grad: create_graph=true (higher-order "
                                              "gradients) is not supported");
  TensorList seeds = grad_outputs;
  if (seeds.empty()) {
    for (const Tensor& o : outputs) {
      CNNKIT_CHECK_SHAPE(o.numel() == 1, "grad can be implicitly created only for scalar outputs, "
                         "got shape ", o.sizes());
      Tensor one = empty(o.sizes(), kFloat);
      *one.data_ptr<float>() = 1.0f;
      seeds.push_back(one);
    }
  }
  std::vector<Edge> capture;
  for (const Tensor& in : inputs) {
    CNNKIT_CHECK(in.requires_grad(), "autograd::grad: an input does not require grad");
    capture.push_back(gradient_edge(in));
  }
  TensorList result(inputs.size());
  run_backward(outputs, seeds, retain_graph.value_or(create_graph), &capture, &result);
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

void Tensor::backward(const Tensor& gradient, std::optional<bool> retain_graph, bool create_graph) const {
  if (create_graph) throw NotImplementedError("backward: create_graph=true is not supported");
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
  autograd::backward({*this}, {seed}, retain_graph.value_or(false));
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
