// Module (torch::nn::Module): the base of every layer and of users' networks. A module
// owns named parameters, buffers and child modules, in registration order; everything
// else (naming, train/eval, zero_grad, printing, state dicts) walks that tree.
//
//   struct NetImpl : cnnkit::nn::Module {
//     NetImpl() {
//       conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(1, 8, 3).padding(1)));
//       fc = register_module("fc", nn::Linear(8 * 28 * 28, 10));
//       scale = register_parameter("scale", cnnkit::ones({1}));
//     }
//     Tensor forward(Tensor x) { return fc(conv(x).relu().flatten(1)) * scale; }
//     nn::Conv2d conv{nullptr}; nn::Linear fc{nullptr}; Tensor scale;
//   };
//   CNNKIT_MODULE(Net);
//   Net net; net->named_parameters();   // conv.weight, conv.bias, fc.weight, fc.bias, scale
//   auto sd = net->state_dict();         // PyTorch's keys; net->load_state_dict(sd) restores
//
// Intended usage: parameters()/named_parameters() feed optimisers; train()/eval() switch
// dropout and batch norm; state_dict()/load_state_dict() move weights to and from files
// (io/) with PyTorch's key names. There is no virtual forward: a module's forward takes
// whatever it needs (one Tensor or several), as in LibTorch; Sequential and AnyModule
// erase the type once, when a module is added, so calling them is one indirect call.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "cnnkit/core/dtype.h"
#include "cnnkit/core/error.h"
#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/ordered_dict.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit {
namespace serialize {
class OutputArchive;
class InputArchive;
}  // namespace serialize
namespace nn {

// What load_state_dict() did not load (PyTorch's _IncompatibleKeys), plus the keys whose
// shapes differ (which strict loading reports as errors and non-strict loading skips).
struct IncompatibleKeys {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
  std::vector<std::string> mismatched_keys;
  bool empty() const { return missing_keys.empty() && unexpected_keys.empty() && mismatched_keys.empty(); }
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  using ModuleApplyFunction = std::function<void(Module&)>;
  using ConstModuleApplyFunction = std::function<void(const Module&)>;
  using NamedModuleApplyFunction = std::function<void(const std::string&, Module&)>;
  using ConstNamedModuleApplyFunction = std::function<void(const std::string&, const Module&)>;
  using ModulePointerApplyFunction = std::function<void(const std::shared_ptr<Module>&)>;
  using NamedModulePointerApplyFunction =
      std::function<void(const std::string&, const std::shared_ptr<Module>&)>;

  explicit Module(std::string name);
  Module();
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;
  virtual ~Module() = default;

  // The demangled type name ("cnnkit::nn::LinearImpl", "NetImpl") unless one was given.
  const std::string& name() const noexcept;

  // A deep copy. Modules deriving from Cloneable<T> (every built-in layer) implement it;
  // a plain Module subclass throws NotImplementedError, as in LibTorch.
  virtual std::shared_ptr<Module> clone(const std::optional<Device>& device = std::nullopt) const;

  // Calls `function` on this module and then on every descendant, depth first.
  void apply(const ModuleApplyFunction& function);
  void apply(const ConstModuleApplyFunction& function) const;
  void apply(const NamedModuleApplyFunction& function, const std::string& name_prefix = std::string());
  void apply(const ConstNamedModuleApplyFunction& function,
             const std::string& name_prefix = std::string()) const;
  void apply(const ModulePointerApplyFunction& function) const;
  void apply(const NamedModulePointerApplyFunction& function,
             const std::string& name_prefix = std::string()) const;

  // Defined parameters and buffers, this module's first, then each child's, with dotted
  // names ("features.0.weight"). Undefined ones (Linear without bias) are skipped.
  std::vector<Tensor> parameters(bool recurse = true) const;
  OrderedDict<std::string, Tensor> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  OrderedDict<std::string, Tensor> named_buffers(bool recurse = true) const;

  // Modules need to be owned by a shared_ptr for these two when include_self is true.
  std::vector<std::shared_ptr<Module>> modules(bool include_self = true) const;
  OrderedDict<std::string, std::shared_ptr<Module>> named_modules(
      const std::string& name_prefix = std::string(), bool include_self = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  OrderedDict<std::string, std::shared_ptr<Module>> named_children() const;

  // Training mode for this module and every descendant (dropout, batch norm use it).
  virtual void train(bool on = true);
  void eval();
  virtual bool is_training() const noexcept;

  // cnnkit runs on the CPU in float32: moving to the CPU or to a floating dtype is a no-op;
  // a CUDA device or an integer dtype is an error.
  virtual void to(Device device, ScalarType dtype, bool non_blocking = false);
  virtual void to(ScalarType dtype, bool non_blocking = false);
  virtual void to(Device device, bool non_blocking = false);

  // Zeroes every parameter's gradient (or drops it when set_to_none), recursively.
  virtual void zero_grad(bool set_to_none = false);

  // The module as its concrete type, or nullptr: net->as<nn::Linear>() or as<LinearImpl>().
  template <typename ModuleType>
  typename ModuleType::ContainedType* as() noexcept {
    return as<typename ModuleType::ContainedType>();
  }
  template <typename ModuleType>
  const typename ModuleType::ContainedType* as() const noexcept {
    return as<typename ModuleType::ContainedType>();
  }
  template <typename ModuleType, typename = detail::disable_if_module_holder_t<ModuleType>>
  ModuleType* as() noexcept {
    return dynamic_cast<ModuleType*>(this);
  }
  template <typename ModuleType, typename = detail::disable_if_module_holder_t<ModuleType>>
  const ModuleType* as() const noexcept {
    return dynamic_cast<const ModuleType*>(this);
  }

  // One line describing this module alone, e.g. "cnnkit::nn::Linear(in_features=4, ...)".
  // `stream << module` prints the whole tree with LibTorch's layout.
  virtual void pretty_print(std::ostream& stream) const;
  virtual bool is_serializable() const { return true; }

  // ---- state dicts (PyTorch's Module.state_dict / load_state_dict) --------------------
  // Parameters and persistent buffers of every module, detached, keyed by dotted path, in
  // PyTorch's order (each module's parameters, then its buffers, then its children).
  OrderedDict<std::string, Tensor> state_dict(const std::string& prefix = std::string(),
                                              bool keep_vars = false) const;
  // Copies values into the existing tensors (no reallocation, so optimisers keep their
  // references). strict: any missing, unexpected or mis-shaped key is an error that names
  // them all (ShapeError when a shape differs, else ValueError) and nothing is loaded.
  // Not strict: loads the keys that match in name and shape, returns the others.
  IncompatibleKeys load_state_dict(const OrderedDict<std::string, Tensor>& state_dict, bool strict = true);
  IncompatibleKeys load_state_dict(const std::map<std::string, Tensor>& state_dict, bool strict = true);

  // ---- archives (LibTorch's Module::save / load; io/archive.h) ----------------------------
  // Writes this module's parameters and buffers under their names, each child as a nested
  // archive; load reads them back into the existing tensors (a missing key is an error).
  virtual void save(serialize::OutputArchive& archive) const;
  virtual void load(serialize::InputArchive& archive);

  // ---- registration ----------------------------------------------------------------------
  // Stores `tensor` as a parameter (setting requires_grad) and returns a reference to the
  // stored handle. An undefined tensor registers an absent parameter (Linear's bias=false).
  Tensor& register_parameter(std::string name, Tensor tensor, bool requires_grad = true);
  // persistent=false keeps the buffer out of state_dict() (PyTorch's register_buffer flag).
  Tensor& register_buffer(std::string name, Tensor tensor, bool persistent = true);

  template <typename ModuleType>
  std::shared_ptr<ModuleType> register_module(std::string name, std::shared_ptr<ModuleType> module) {
    check_child_name(name);
    CNNKIT_CHECK(module != nullptr, "register_module: submodule '", name, "' is empty (nullptr)");
    auto& stored = children_.insert(std::move(name), std::shared_ptr<Module>(std::move(module)));
    return std::dynamic_pointer_cast<ModuleType>(stored);
  }
  template <typename ModuleType>
  std::shared_ptr<ModuleType> register_module(std::string name, ModuleHolder<ModuleType> module_holder) {
    return register_module(std::move(name), module_holder.ptr());
  }
  template <typename ModuleType>
  std::shared_ptr<ModuleType> replace_module(const std::string& name, std::shared_ptr<ModuleType> module) {
    auto& stored = (children_[name] = std::move(module));
    return std::dynamic_pointer_cast<ModuleType>(stored);
  }
  template <typename ModuleType>
  std::shared_ptr<ModuleType> replace_module(const std::string& name, ModuleHolder<ModuleType> module_holder) {
    return replace_module(name, module_holder.ptr());
  }
  void unregister_module(const std::string& name);

 protected:
  OrderedDict<std::string, Tensor> parameters_{"Parameter"};

 private:
  template <typename Derived>
  friend class Cloneable;
  friend std::ostream& operator<<(std::ostream& stream, const Module& module);

  // Cloneable<T>::clone() of a child: makes `*this` a deep copy of `other`.
  virtual void clone_(Module& other, const std::optional<Device>& device);
  void pretty_print_recursive(std::ostream& stream, const std::string& indentation) const;
  void apply_to_submodules(const NamedModulePointerApplyFunction& function,
                           const std::string& name_prefix = std::string()) const;
  std::shared_ptr<Module> shared_from_this_checked() const;
  void check_child_name(const std::string& name) const;
  void collect_state(OrderedDict<std::string, Tensor>& out, const std::string& prefix, bool keep_vars) const;
  IncompatibleKeys load_state_dict_impl(const std::vector<std::pair<std::string, Tensor>>& items, bool strict);

  OrderedDict<std::string, Tensor> buffers_{"Buffer"};
  std::set<std::string> non_persistent_buffers_;
  OrderedDict<std::string, std::shared_ptr<Module>> children_{"Submodule"};
  mutable std::optional<std::string> name_;
  bool is_training_ = true;
};

std::ostream& operator<<(std::ostream& stream, const Module& module);

// The class name as PyTorch prints it in messages: "Conv2d" for cnnkit::nn::Conv2dImpl,
// "Net" for a user's NetImpl.
std::string type_name(const Module& module);

}  // namespace nn
}  // namespace cnnkit
