// Custom autograd functions: LibTorch's torch::autograd::Function, AutogradContext and
// variable_list, with its names and rules.
//
//   struct MulConst : autograd::Function<MulConst> {
//     static Tensor forward(autograd::AutogradContext* ctx, Tensor x, double k) {
//       ctx->saved_data["k"] = k;
//       ctx->save_for_backward({x});
//       return x * k;                                  // runs with grad mode off
//     }
//     static autograd::variable_list backward(autograd::AutogradContext* ctx, autograd::variable_list g) {
//       return {g[0] * ctx->saved_data["k"].toDouble(), Tensor()};  // one per forward argument
//     }
//   };
//   Tensor y = MulConst::apply(x, 2.0);
//
// Tensor arguments (and the elements of variable_list arguments) are the function's inputs;
// others pass through. backward returns one gradient per forward argument, an undefined
// Tensor() for the non-tensor ones. It runs with grad mode on in a backward with
// create_graph=true, so a backward written with differentiable ops supports double backward,
// as in PyTorch. Saved outputs do not keep the graph alive (they are unpacked with this node
// as their grad_fn, PyTorch's SavedVariable rule).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/autograd/node.h"

namespace cnnkit {
namespace autograd {

using Variable = Tensor;
using variable_list = std::vector<Tensor>;

// What AutogradContext::saved_data holds: the c10::IValue kinds a custom function stores
// (None, bool, int, double, string, Tensor, int and double lists). The to*() accessors throw
// a TypeError naming the kind held.
class IValue {
 public:
  IValue() = default;
  IValue(bool v) : v_(v) {}                                  // NOLINT: implicit, as c10's
  IValue(int v) : v_(static_cast<int64_t>(v)) {}             // NOLINT
  IValue(int64_t v) : v_(v) {}                               // NOLINT
  IValue(double v) : v_(v) {}                                // NOLINT
  IValue(const char* v) : v_(std::string(v)) {}              // NOLINT
  IValue(std::string v) : v_(std::move(v)) {}                // NOLINT
  IValue(Tensor v) : v_(std::move(v)) {}                     // NOLINT
  IValue(std::vector<int64_t> v) : v_(std::move(v)) {}       // NOLINT
  IValue(std::vector<double> v) : v_(std::move(v)) {}        // NOLINT

  bool isNone() const { return v_.index() == 0; }
  bool isBool() const { return std::holds_alternative<bool>(v_); }
  bool isInt() const { return std::holds_alternative<int64_t>(v_); }
  bool isDouble() const { return std::holds_alternative<double>(v_); }
  bool isString() const { return std::holds_alternative<std::string>(v_); }
  bool isTensor() const { return std::holds_alternative<Tensor>(v_); }
  bool isIntList() const { return std::holds_alternative<std::vector<int64_t>>(v_); }
  bool isDoubleList() const { return std::holds_alternative<std::vector<double>>(v_); }

  bool toBool() const { return get<bool>("Bool"); }
  int64_t toInt() const { return get<int64_t>("Int"); }
  double toDouble() const { return get<double>("Double"); }
  const std::string& toStringRef() const { return get<std::string>("String"); }
  Tensor toTensor() const { return get<Tensor>("Tensor"); }
  std::vector<int64_t> toIntVector() const { return get<std::vector<int64_t>>("IntList"); }
  std::vector<double> toDoubleVector() const { return get<std::vector<double>>("DoubleList"); }
  std::string tagKind() const;

 private:
  template <class T>
  const T& get(const char* kind) const {
    if (const T* p = std::get_if<T>(&v_)) return *p;
    throw_wrong_kind(kind);
  }
  [[noreturn]] void throw_wrong_kind(const char* wanted) const;

  std::variant<std::monostate, bool, int64_t, double, std::string, Tensor, std::vector<int64_t>,
               std::vector<double>>
      v_;
};

namespace detail {
class FunctionNode;
}

class AutogradContext {
 public:
  AutogradContext() = default;
  AutogradContext(const AutogradContext&) = delete;
  AutogradContext& operator=(const AutogradContext&) = delete;

  // Tensors for backward: inputs keep their history (double backward differentiates
  // through them), outputs are stored without it. Call once, in forward.
  void save_for_backward(variable_list to_save);
  // The saved tensors; throws once the graph has been freed (a second backward without
  // retain_graph=true).
  variable_list get_saved_variables() const;
  // Outputs that get no grad_fn (indices, masks): requires_grad() is false on them.
  void mark_non_differentiable(const variable_list& outputs);
  // Inputs that forward modified in place and returns: they take this function as their
  // grad_fn (their history is rebased, as an in-place op's), rather than an alias. A leaf
  // that requires grad is refused, as in LibTorch.
  void mark_dirty(const variable_list& inputs);
  // false: backward receives undefined tensors (not zeros) for outputs that got no gradient.
  void set_materialize_grads(bool value) { materialize_grads_ = value; }
  // Whether the i-th tensor input needs a gradient (LibTorch indexes the tensor inputs).
  bool needs_input_grad(size_t output_edge_index) const;

  std::unordered_map<std::string, IValue> saved_data;

 private:
  friend class detail::FunctionNode;
  struct Saved {
    Tensor tensor;               // an input as given, or an output detached
    int64_t output_nr = -1;      // >= 0: unpacked with the node as its grad_fn
  };
  std::vector<Saved> saved_;
  variable_list to_save_;
  std::vector<const TensorImpl*> non_differentiable_, dirty_;
  std::vector<bool> needs_input_grad_;
  bool materialize_grads_ = true;
  bool released_ = false;
  bool saved_called_ = false;
  detail::FunctionNode* node_ = nullptr;
};

namespace detail {

// The node a Function::apply records; T::backward runs through call_backward.
class FunctionNode : public Node {
 public:
  explicit FunctionNode(std::string name) : name_(std::move(name)) { ctx_.node_ = this; }
  TensorList apply(TensorList&& grads) override;
  std::string name() const override { return name_; }
  void release_saved() override;
  bool materialize_grads() const override { return ctx_.materialize_grads_; }

  AutogradContext* ctx() { return &ctx_; }
  // Before forward: which arguments are tensors, the tensor inputs.
  void begin(std::vector<bool> arg_is_tensor, TensorList inputs);
  // After forward: aliases outputs that are inputs, connects the node when an input
  // requires grad, and sorts saved tensors into inputs and outputs.
  variable_list finish(variable_list outputs);

 protected:
  virtual variable_list call_backward(AutogradContext* ctx, variable_list grads) = 0;

 private:
  std::string name_;
  AutogradContext ctx_;
  std::vector<bool> arg_is_tensor_;
  TensorList inputs_;                            // between begin() and finish()
  std::vector<std::vector<int64_t>> input_sizes_;
};

std::string demangle(const char* mangled);

template <class T>
class CppNode final : public FunctionNode {
 public:
  CppNode() : FunctionNode(demangle(typeid(T).name()) + "Backward") {}

 protected:
  variable_list call_backward(AutogradContext* ctx, variable_list grads) override {
    return T::backward(ctx, std::move(grads));
  }
};

template <class A>
void collect_arg(const A& a, std::vector<bool>& is_tensor, TensorList& inputs) {
  using D = std::decay_t<A>;
  if constexpr (std::is_same_v<D, Tensor>) {
    is_tensor.push_back(true);
    inputs.push_back(a);
  } else if constexpr (std::is_same_v<D, variable_list>) {
    for (const Tensor& t : a) {
      is_tensor.push_back(true);
      inputs.push_back(t);
    }
  } else {
    is_tensor.push_back(false);
  }
}

inline variable_list to_list(Tensor t) { return {std::move(t)}; }
inline variable_list to_list(variable_list v) { return v; }

}  // namespace detail

template <class T>
struct Function {
  template <class... Args>
  static auto apply(Args&&... args) {
    auto node = std::make_shared<detail::CppNode<T>>();
    std::vector<bool> is_tensor;
    TensorList inputs;
    (detail::collect_arg(args, is_tensor, inputs), ...);
    node->begin(std::move(is_tensor), std::move(inputs));
    using Out = decltype(T::forward(node->ctx(), std::forward<Args>(args)...));
    static_assert(std::is_same_v<std::decay_t<Out>, Tensor> || std::is_same_v<std::decay_t<Out>, variable_list>,
                  "autograd::Function: forward must return a Tensor or a variable_list");
    variable_list outs;
    {
      AutoGradMode no_grad(false);
      outs = detail::to_list(T::forward(node->ctx(), std::forward<Args>(args)...));
    }
    outs = node->finish(std::move(outs));
    if constexpr (std::is_same_v<std::decay_t<Out>, Tensor>)
      return outs.at(0);
    else
      return outs;
  }
};

}  // namespace autograd
}  // namespace cnnkit
