// Module: registration, tree walks (apply, named_*), train/eval, zero_grad, printing and
// PyTorch-compatible state dicts. Layers live in modules/*.cpp; files on disk in io/.
#include "cnnkit/nn/module.h"

#include <cxxabi.h>

#include <cstdlib>
#include <sstream>
#include <unordered_map>

#include "cnnkit/autograd/grad_mode.h"

namespace cnnkit {
namespace nn {

namespace {

std::string join_name(const std::string& prefix, const std::string& name) {
  if (prefix.empty()) return name;
  std::string out;
  out.reserve(prefix.size() + 1 + name.size());
  out += prefix;
  out += '.';
  out += name;
  return out;
}

std::string demangle(const char* mangled) {
  int status = 0;
  char* text = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  if (status != 0 || text == nullptr) return mangled;
  std::string out(text);
  std::free(text);
  return out;
}

// "cnnkit::nn::SequentialImpl" -> "Sequential", as PyTorch names a class in messages.
std::string short_type_name(const std::string& full) {
  auto pos = full.rfind("::");
  std::string s = pos == std::string::npos ? full : full.substr(pos + 2);
  if (s.size() > 4 && s.compare(s.size() - 4, 4, "Impl") == 0) s.resize(s.size() - 4);
  return s;
}

void check_tensor_name(const std::string& name, const char* what) {
  CNNKIT_CHECK(!name.empty(), what, " name must not be empty");
  CNNKIT_CHECK(name.find('.') == std::string::npos, what, " name must not contain a dot (got '", name, "')");
}

}  // namespace

Module::Module(std::string name) : name_(std::move(name)) {}
Module::Module() = default;

std::string type_name(const Module& module) { return short_type_name(module.name()); }

const std::string& Module::name() const noexcept {
  if (!name_.has_value()) name_ = demangle(typeid(*this).name());
  return *name_;
}

std::shared_ptr<Module> Module::clone(const std::optional<Device>&) const {
  throw NotImplementedError("clone() has not been implemented for " + name() +
                            ". Subclass cnnkit::nn::Cloneable<" + name() +
                            "> instead of cnnkit::nn::Module to inherit the ability to clone.");
}

void Module::clone_(Module&, const std::optional<Device>&) {
  throw NotImplementedError("clone() has not been implemented for " + name() +
                            ". Subclass cnnkit::nn::Cloneable<" + name() +
                            "> instead of cnnkit::nn::Module to inherit the ability to clone.");
}

// ---- tree walks -------------------------------------------------------------------------

void Module::apply(const ModuleApplyFunction& function) {
  function(*this);
  for (auto& child : children_) child.value()->apply(function);
}

void Module::apply(const ConstModuleApplyFunction& function) const {
  function(*this);
  for (const auto& child : children_) static_cast<const Module&>(*child.value()).apply(function);
}

void Module::apply(const NamedModuleApplyFunction& function, const std::string& name_prefix) {
  function(name_prefix, *this);
  for (auto& child : children_) child.value()->apply(function, join_name(name_prefix, child.key()));
}

void Module::apply(const ConstNamedModuleApplyFunction& function, const std::string& name_prefix) const {
  function(name_prefix, *this);
  for (const auto& child : children_)
    static_cast<const Module&>(*child.value()).apply(function, join_name(name_prefix, child.key()));
}

void Module::apply(const ModulePointerApplyFunction& function) const {
  function(shared_from_this_checked());
  apply_to_submodules([&function](const std::string&, const std::shared_ptr<Module>& m) { function(m); });
}

void Module::apply(const NamedModulePointerApplyFunction& function, const std::string& name_prefix) const {
  function(name_prefix, shared_from_this_checked());
  apply_to_submodules(function, name_prefix);
}

void Module::apply_to_submodules(const NamedModulePointerApplyFunction& function,
                                 const std::string& name_prefix) const {
  for (const auto& child : children_) {
    std::string qualified = join_name(name_prefix, child.key());
    function(qualified, child.value());
    child.value()->apply_to_submodules(function, qualified);
  }
}

std::shared_ptr<Module> Module::shared_from_this_checked() const {
  auto self = weak_from_this().lock();
  CNNKIT_CHECK(self != nullptr,
               "It looks like you attempted to retrieve your top-level module as a shared_ptr, but it is "
               "not stored in a shared_ptr. Use std::make_shared<", name(), ">() instead of creating your "
               "module on the stack, or alternatively do not call this method on the top-level module.");
  return std::const_pointer_cast<Module>(self);
}

std::vector<Tensor> Module::parameters(bool recurse) const { return named_parameters(recurse).values(); }

OrderedDict<std::string, Tensor> Module::named_parameters(bool recurse) const {
  OrderedDict<std::string, Tensor> result;
  auto collect = [&result](const std::string& prefix, const Module& m) {
    for (const auto& p : m.parameters_)
      if (p.value().defined()) result.insert(join_name(prefix, p.key()), p.value());
  };
  if (recurse)
    apply(ConstNamedModuleApplyFunction(collect));
  else
    collect(std::string(), *this);
  return result;
}

std::vector<Tensor> Module::buffers(bool recurse) const { return named_buffers(recurse).values(); }

OrderedDict<std::string, Tensor> Module::named_buffers(bool recurse) const {
  OrderedDict<std::string, Tensor> result;
  auto collect = [&result](const std::string& prefix, const Module& m) {
    for (const auto& b : m.buffers_)
      if (b.value().defined()) result.insert(join_name(prefix, b.key()), b.value());
  };
  if (recurse)
    apply(ConstNamedModuleApplyFunction(collect));
  else
    collect(std::string(), *this);
  return result;
}

std::vector<std::shared_ptr<Module>> Module::modules(bool include_self) const {
  return named_modules(std::string(), include_self).values();
}

OrderedDict<std::string, std::shared_ptr<Module>> Module::named_modules(const std::string& name_prefix,
                                                                         bool include_self) const {
  OrderedDict<std::string, std::shared_ptr<Module>> result;
  auto insert = [&result](const std::string& key, const std::shared_ptr<Module>& m) { result.insert(key, m); };
  if (include_self)
    apply(NamedModulePointerApplyFunction(insert), name_prefix);
  else
    apply_to_submodules(insert, name_prefix);
  return result;
}

std::vector<std::shared_ptr<Module>> Module::children() const { return children_.values(); }

OrderedDict<std::string, std::shared_ptr<Module>> Module::named_children() const { return children_; }

// ---- modes, devices, gradients ------------------------------------------------------------

void Module::train(bool on) {
  for (auto& child : children_) child.value()->train(on);
  is_training_ = on;
}

void Module::eval() { train(false); }

bool Module::is_training() const noexcept { return is_training_; }

void Module::to(Device device, ScalarType dtype, bool non_blocking) {
  to(device, non_blocking);
  to(dtype, non_blocking);
}

void Module::to(ScalarType dtype, bool) {
  CNNKIT_CHECK_TYPE(is_floating_point(dtype), name(), ".to(", dtype,
                    "): modules hold floating-point parameters; cnnkit computes in float32");
}

void Module::to(Device device, bool) {
  if (device.is_cuda())
    throw NotImplementedError(name() + ".to(cuda): cnnkit runs on the CPU only (use cnnkit::kCPU)");
}

void Module::zero_grad(bool set_to_none) {
  for (auto& child : children_) child.value()->zero_grad(set_to_none);
  for (auto& p : parameters_) {
    if (!p.value().defined()) continue;
    Tensor& grad = p.value().mutable_grad();
    if (!grad.defined()) continue;
    if (set_to_none) {
      grad = Tensor();
    } else {
      grad = grad.detach();
      grad.zero_();
    }
  }
}

// ---- printing -----------------------------------------------------------------------------

void Module::pretty_print(std::ostream& stream) const { stream << name(); }

void Module::pretty_print_recursive(std::ostream& stream, const std::string& indentation) const {
  pretty_print(stream);
  if (children_.is_empty()) return;
  stream << "(\n";
  const std::string next = indentation + "  ";
  for (const auto& child : children_) {
    stream << next << "(" << child.key() << "): ";
    child.value()->pretty_print_recursive(stream, next);
    stream << '\n';
  }
  stream << indentation << ")";
}

std::ostream& operator<<(std::ostream& stream, const Module& module) {
  module.pretty_print_recursive(stream, "");
  return stream;
}

// ---- registration -------------------------------------------------------------------------

Tensor& Module::register_parameter(std::string name, Tensor tensor, bool requires_grad) {
  check_tensor_name(name, "Parameter");
  CNNKIT_CHECK(!buffers_.contains(name) && !children_.contains(name), "register_parameter: '", name,
               "' is already a buffer or submodule of ", this->name());
  if (tensor.defined()) tensor.set_requires_grad(requires_grad);
  return parameters_.insert(std::move(name), std::move(tensor));
}

Tensor& Module::register_buffer(std::string name, Tensor tensor, bool persistent) {
  check_tensor_name(name, "Buffer");
  CNNKIT_CHECK(!parameters_.contains(name) && !children_.contains(name), "register_buffer: '", name,
               "' is already a parameter or submodule of ", this->name());
  if (!persistent) non_persistent_buffers_.insert(name);
  return buffers_.insert(std::move(name), std::move(tensor));
}

void Module::check_child_name(const std::string& name) const {
  CNNKIT_CHECK(!name.empty(), "Submodule name must not be empty");
  CNNKIT_CHECK(name.find('.') == std::string::npos, "Submodule name must not contain a dot (got '", name, "')");
  CNNKIT_CHECK(!parameters_.contains(name) && !buffers_.contains(name), "register_module: '", name,
               "' is already a parameter or buffer of ", this->name());
}

void Module::unregister_module(const std::string& name) {
  CNNKIT_CHECK(children_.contains(name), "No Module with name `", name, "` is registered");
  children_.erase(name);
}

// ---- state dicts --------------------------------------------------------------------------

void Module::collect_state(OrderedDict<std::string, Tensor>& out, const std::string& prefix,
                           bool keep_vars) const {
  for (const auto& p : parameters_)
    if (p.value().defined()) out.insert(prefix + p.key(), keep_vars ? p.value() : p.value().detach());
  for (const auto& b : buffers_)
    if (b.value().defined() && non_persistent_buffers_.count(b.key()) == 0)
      out.insert(prefix + b.key(), keep_vars ? b.value() : b.value().detach());
  for (const auto& child : children_) child.value()->collect_state(out, prefix + child.key() + ".", keep_vars);
}

OrderedDict<std::string, Tensor> Module::state_dict(const std::string& prefix, bool keep_vars) const {
  OrderedDict<std::string, Tensor> out("State dict key");
  collect_state(out, prefix.empty() || prefix.back() == '.' ? prefix : prefix + ".", keep_vars);
  return out;
}

IncompatibleKeys Module::load_state_dict(const OrderedDict<std::string, Tensor>& state_dict, bool strict) {
  return load_state_dict_impl(state_dict.pairs(), strict);
}

IncompatibleKeys Module::load_state_dict(const std::map<std::string, Tensor>& state_dict, bool strict) {
  return load_state_dict_impl({state_dict.begin(), state_dict.end()}, strict);
}

IncompatibleKeys Module::load_state_dict_impl(const std::vector<std::pair<std::string, Tensor>>& items,
                                              bool strict) {
  auto own = this->state_dict(std::string(), /*keep_vars=*/true);
  std::unordered_map<std::string, const Tensor*> given;
  given.reserve(items.size());
  for (const auto& [key, value] : items) given.emplace(key, &value);

  IncompatibleKeys result;
  std::vector<std::string> mismatch_messages;
  std::vector<std::pair<Tensor, const Tensor*>> to_copy;
  for (const auto& item : own) {
    auto it = given.find(item.key());
    if (it == given.end()) {
      result.missing_keys.push_back(item.key());
      continue;
    }
    const Tensor& src = *it->second;
    std::ostringstream msg;
    if (!src.defined()) {
      msg << "undefined tensor for " << item.key() << ", the shape in current model is " << item.value().sizes()
          << ".";
    } else if (!src.sizes().equals(item.value().sizes())) {
      msg << "size mismatch for " << item.key() << ": copying a param with shape " << src.sizes()
          << " from checkpoint, the shape in current model is " << item.value().sizes() << ".";
    } else {
      to_copy.emplace_back(item.value(), &src);
      continue;
    }
    result.mismatched_keys.push_back(item.key());
    mismatch_messages.push_back(msg.str());
  }
  for (const auto& [key, value] : items)
    if (!own.contains(key)) result.unexpected_keys.push_back(key);

  if (strict && !result.empty()) {
    // PyTorch's message: missing keys, then unexpected keys, then each size mismatch.
    std::ostringstream msg;
    msg << "Error(s) in loading state_dict for " << type_name(*this) << ":";
    auto quoted_list = [&msg](const char* what, const std::vector<std::string>& keys) {
      if (keys.empty()) return;
      msg << "\n\t" << what << " key(s) in state_dict: ";
      for (size_t i = 0; i < keys.size(); ++i) msg << (i ? ", " : "") << '"' << keys[i] << '"';
      msg << ". ";
    };
    quoted_list("Missing", result.missing_keys);
    quoted_list("Unexpected", result.unexpected_keys);
    for (const auto& m : mismatch_messages) msg << "\n\t" << m;
    if (!result.mismatched_keys.empty()) throw ShapeError(msg.str());
    throw ValueError(msg.str());
  }

  NoGradGuard no_grad;
  for (auto& [dst, src] : to_copy) dst.copy_(*src);
  return result;
}

}  // namespace nn
}  // namespace cnnkit
