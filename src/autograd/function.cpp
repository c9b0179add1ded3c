// Custom autograd functions (cnnkit/autograd/function.h): the context, the node and IValue.
#include "cnnkit/autograd/function.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>

#include "autograd/record.h"
#include "cnnkit/core/error.h"

namespace cnnkit {
namespace autograd {

std::string IValue::tagKind() const {
  static const char* const kinds[] = {"None", "Bool", "Int", "Double", "String", "Tensor", "IntList", "DoubleList"};
  return kinds[v_.index()];
}

void IValue::throw_wrong_kind(const char* wanted) const {
  throw TypeError(std::string("Expected ") + wanted + " but got " + tagKind());
}

void AutogradContext::save_for_backward(variable_list to_save) {
  CNNKIT_CHECK(!saved_called_, "save_for_backward: called twice; save every tensor in one call");
  saved_called_ = true;
  to_save_ = std::move(to_save);
}

variable_list AutogradContext::get_saved_variables() const {
  CNNKIT_CHECK(!released_, "Trying to backward through the graph a second time (or directly access saved tensors "
               "after they have already been freed) in ", node_->name(),
               ". Specify retain_graph=true on the first backward call if you need to.");
  if (saved_.empty()) return to_save_;  // still in forward, or the function did not record
  variable_list out;
  out.reserve(saved_.size());
  for (const Saved& s : saved_) {
    if (s.output_nr < 0) {
      out.push_back(s.tensor);
      continue;
    }
    // An output: with grad mode on (a create_graph backward), an alias whose grad_fn is this
    // node, so that a second backward differentiates through it.
    Tensor t = s.tensor.detach();
    if (GradMode::is_enabled()) {
      TensorImpl* impl = t.unsafeGetTensorImpl();
      impl->grad_fn = node_->shared_from_this();
      impl->output_nr = static_cast<uint32_t>(s.output_nr);
    }
    out.push_back(t);
  }
  return out;
}

void AutogradContext::mark_non_differentiable(const variable_list& outputs) {
  for (const Tensor& t : outputs)
    if (t.defined()) non_differentiable_.push_back(t.unsafeGetTensorImpl());
}

void AutogradContext::mark_dirty(const variable_list& inputs) {
  for (const Tensor& t : inputs)
    if (t.defined()) dirty_.push_back(t.unsafeGetTensorImpl());
}

bool AutogradContext::needs_input_grad(size_t output_edge_index) const {
  CNNKIT_CHECK(output_edge_index < needs_input_grad_.size(), "needs_input_grad: index ", output_edge_index,
                     " out of range for a function with ", needs_input_grad_.size(), " tensor inputs");
  return needs_input_grad_[output_edge_index];
}

namespace detail {

std::string demangle(const char* mangled) {
  int status = 0;
  char* d = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string name = status == 0 && d ? d : mangled;
  std::free(d);
  const size_t colon = name.rfind("::");  // PyTorch names the node after the class alone
  return colon == std::string::npos ? name : name.substr(colon + 2);
}

void FunctionNode::begin(std::vector<bool> arg_is_tensor, TensorList inputs) {
  arg_is_tensor_ = std::move(arg_is_tensor);
  inputs_ = std::move(inputs);
  ctx_.needs_input_grad_.clear();
  for (const Tensor& t : inputs_) ctx_.needs_input_grad_.push_back(t.defined() && t.requires_grad());
}

variable_list FunctionNode::finish(variable_list outputs) {
  const bool record = needs_grad(inputs_);
  std::vector<const TensorImpl*> produced;  // the outputs as forward returned them
  for (const Tensor& o : outputs) produced.push_back(o.defined() ? o.unsafeGetTensorImpl() : nullptr);
  if (record) {
    TensorList differentiable;
    std::vector<uint32_t> slot;
    for (size_t i = 0; i < outputs.size(); ++i) {
      Tensor& o = outputs[i];
      if (!o.defined()) continue;
      const TensorImpl* impl = o.unsafeGetTensorImpl();
      const bool non_diff = std::find(ctx_.non_differentiable_.begin(), ctx_.non_differentiable_.end(), impl) !=
                            ctx_.non_differentiable_.end();
      if (non_diff || !o.is_floating_point()) continue;
      // An input returned as it is, or a tensor that already has a history, gets an alias:
      // its own grad_fn stays as it was. An input marked dirty is rebased instead.
      const bool is_input = std::any_of(inputs_.begin(), inputs_.end(), [&](const Tensor& in) {
        return in.defined() && in.unsafeGetTensorImpl() == impl;
      });
      const bool dirty = is_input && std::find(ctx_.dirty_.begin(), ctx_.dirty_.end(), impl) != ctx_.dirty_.end();
      if (dirty) {
        CNNKIT_CHECK(!(o.is_leaf() && o.requires_grad()), "function ", name_, ": a leaf Variable that requires grad "
                     "is being used in an in-place operation (mark_dirty)");
      } else if (is_input || o.requires_grad()) {
        o = o.detach();
      }
      slot.push_back(static_cast<uint32_t>(i));
      differentiable.push_back(o);
    }
    // Edges and sequence number; the outputs are this node's in the order forward returned
    // them (undefined and non-differentiable ones keep their slot, unconnected).
    connect(shared_from_this(), inputs_, {});
    output_sizes.resize(outputs.size());
    for (size_t i = 0; i < outputs.size(); ++i)
      if (outputs[i].defined()) output_sizes[i] = outputs[i].sizes().vec();
    for (size_t k = 0; k < differentiable.size(); ++k) {
      TensorImpl* impl = differentiable[k].unsafeGetTensorImpl();
      impl->grad_fn = shared_from_this();  // a dirty input's history is rebased here
      impl->output_nr = slot[k];
    }
  }
  // Saved tensors: outputs are kept without their history (no cycle through this node) and
  // unpacked with it; inputs and anything else as given.
  for (const Tensor& t : ctx_.to_save_) {
    AutogradContext::Saved s;
    const auto it = t.defined() ? std::find(produced.begin(), produced.end(), t.unsafeGetTensorImpl()) : produced.end();
    if (it != produced.end()) {
      s.tensor = t.detach();
      s.output_nr = it - produced.begin();
    } else {
      s.tensor = t;
    }
    ctx_.saved_.push_back(std::move(s));
  }
  ctx_.to_save_.clear();
  for (const Tensor& in : inputs_) input_sizes_.push_back(in.defined() ? in.sizes().vec() : std::vector<int64_t>{});
  inputs_.clear();  // the edges reach them; the node keeps only their shapes
  return outputs;
}

TensorList FunctionNode::apply(TensorList&& grads) {
  CNNKIT_CHECK(!ctx_.released_, "Trying to backward through the graph a second time (or directly access saved "
               "tensors after they have already been freed) in ", name_,
               ". Specify retain_graph=true on the first backward call if you need to.");
  variable_list result = call_backward(&ctx_, std::move(grads));
  const size_t n_args = arg_is_tensor_.size();
  // Trailing undefined gradients beyond the argument count are allowed, as in LibTorch.
  while (result.size() > n_args && !result.back().defined()) result.pop_back();
  CNNKIT_CHECK(result.size() == n_args, "function ", name_, " returned an incorrect number of gradients (expected ",
               n_args, ", got ", result.size(), ")");
  TensorList input_grads;
  input_grads.reserve(input_sizes_.size());
  for (size_t i = 0; i < n_args; ++i) {
    if (arg_is_tensor_[i]) {
      input_grads.push_back(result[i]);
      continue;
    }
    CNNKIT_CHECK(!result[i].defined(), "function ", name_, " returned a gradient different than an undefined tensor "
                 "at position ", i + 1, ", but the corresponding forward input was not a Variable");
  }
  for (size_t i = 0; i < input_grads.size(); ++i) {
    const Tensor& g = input_grads[i];
    if (!g.defined()) continue;
    CNNKIT_CHECK_SHAPE(g.sizes() == IntArrayRef(input_sizes_[i]), "function ", name_, " returned an invalid gradient "
                       "at index ", i, " - got ", g.sizes(), " but expected shape compatible with ",
                       IntArrayRef(input_sizes_[i]));
    if (!ctx_.needs_input_grad_[i]) input_grads[i] = Tensor();
  }
  return input_grads;
}

void FunctionNode::release_saved() {
  ctx_.released_ = true;
  ctx_.saved_.clear();
  ctx_.saved_data.clear();
}

}  // namespace detail
}  // namespace autograd
}  // namespace cnnkit
