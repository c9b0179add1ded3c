// AnyModule (torch::nn::AnyModule): holds any module whose forward takes one Tensor and
// returns a Tensor, behind one type-erased call, so that containers (Sequential) can
// store layers of different types. The module's concrete type is recovered with get<T>()
// or ptr<T>(). NamedAnyModule pairs one with a name for Sequential({{"conv", ...}, ...}).
//   nn::AnyModule any(nn::Linear(3, 4));
//   Tensor y = any.forward(x);                 // LinearImpl::forward(x)
//   nn::LinearImpl& fc = any.get<nn::LinearImpl>();
// Unlike LibTorch's AnyModule there is no AnyValue: inputs and outputs are Tensors, which
// is every layer here; a module with another forward signature fails at compile time.
#pragma once

#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/module.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit {
namespace nn {

namespace detail {
// forward() callable with one Tensor (by value, reference or const reference), giving a Tensor.
template <typename M>
concept TensorForward = requires(M& m, Tensor& x) {
  { m.forward(x) } -> std::convertible_to<Tensor>;
};
}  // namespace detail

class AnyModule {
 public:
  AnyModule() = default;

  template <typename ModuleType>
  explicit AnyModule(std::shared_ptr<ModuleType> module)
      : content_(std::make_unique<Holder<ModuleType>>(std::move(module))) {}

  template <typename ModuleType, typename = detail::enable_if_module_t<ModuleType>>
  explicit AnyModule(ModuleType&& module)
      : AnyModule(std::make_shared<std::decay_t<ModuleType>>(std::forward<ModuleType>(module))) {}

  template <typename ModuleType>
  explicit AnyModule(const ModuleHolder<ModuleType>& module_holder) : AnyModule(module_holder.ptr()) {}

  AnyModule(AnyModule&&) = default;
  AnyModule& operator=(AnyModule&&) = default;
  // Copies share the module (as LibTorch's do); clone() deep-copies it.
  AnyModule(const AnyModule& other) : content_(other.content_ ? other.content_->copy() : nullptr) {}
  AnyModule& operator=(const AnyModule& other) {
    if (this != &other) content_ = other.content_ ? other.content_->copy() : nullptr;
    return *this;
  }

  template <typename ModuleType>
  AnyModule& operator=(std::shared_ptr<ModuleType> module) {
    return (*this = AnyModule(std::move(module)));
  }

  AnyModule clone(std::optional<Device> device = std::nullopt) const {
    AnyModule out;
    if (content_) out.content_ = content_->clone_module(device);
    return out;
  }

  // The held module's forward(input). ReturnType is Tensor (the only one held here).
  template <typename ReturnType = Tensor>
  ReturnType forward(const Tensor& input) {
    static_assert(std::is_same_v<ReturnType, Tensor>, "cnnkit::nn::AnyModule::forward returns a Tensor");
    if (detail::ForwardObserver* observer = detail::forward_observer(); observer != nullptr) [[unlikely]]
      return detail::observed_forward(*observer, *checked().ptr(), [&] { return checked().forward(input); }, input);
    return checked().forward(input);
  }

  // The module as its concrete type (LinearImpl&), or a holder of it (Linear).
  template <typename T, typename = detail::enable_if_module_t<T>>
  T& get() {
    return *checked_ptr<T>();
  }
  template <typename T, typename = detail::enable_if_module_t<T>>
  const T& get() const {
    return *checked_ptr<T>();
  }
  template <typename T, typename ContainedType = typename T::ContainedType>
  T get() const {
    return T(checked_ptr<ContainedType>());
  }

  std::shared_ptr<Module> ptr() const { return checked().ptr(); }
  template <typename T, typename = detail::enable_if_module_t<T>>
  std::shared_ptr<T> ptr() const {
    return checked_ptr<T>();
  }

  const std::type_info& type_info() const { return checked().type_info(); }
  bool is_empty() const noexcept { return content_ == nullptr; }

 private:
  struct Placeholder {
    virtual ~Placeholder() = default;
    virtual Tensor forward(Tensor input) = 0;
    virtual std::shared_ptr<Module> ptr() const = 0;
    virtual const std::type_info& type_info() const = 0;
    virtual std::unique_ptr<Placeholder> copy() const = 0;
    virtual std::unique_ptr<Placeholder> clone_module(const std::optional<Device>& device) const = 0;
  };

  template <typename M>
  struct Holder final : Placeholder {
    static_assert(std::is_base_of_v<Module, M>, "AnyModule holds cnnkit::nn::Module subclasses");
    static_assert(detail::TensorForward<M>,
                  "cnnkit::nn::AnyModule and Sequential hold modules whose forward() takes one Tensor and "
                  "returns a Tensor");
    explicit Holder(std::shared_ptr<M> m) : module(std::move(m)) {
      CNNKIT_CHECK(module != nullptr, "AnyModule: cannot hold an empty (nullptr) module");
    }
    Tensor forward(Tensor input) override { return module->forward(input); }
    std::shared_ptr<Module> ptr() const override { return module; }
    const std::type_info& type_info() const override { return typeid(M); }
    std::unique_ptr<Placeholder> copy() const override { return std::make_unique<Holder>(module); }
    std::unique_ptr<Placeholder> clone_module(const std::optional<Device>& device) const override {
      auto cloned = std::dynamic_pointer_cast<M>(module->clone(device));
      CNNKIT_CHECK_T(InternalError, cloned != nullptr, "AnyModule::clone: clone() returned another type");
      return std::make_unique<Holder>(std::move(cloned));
    }
    std::shared_ptr<M> module;
  };

  Placeholder& checked() const {
    CNNKIT_CHECK(content_ != nullptr, "Cannot call forward() / ptr() / get() on an empty AnyModule");
    return *content_;
  }
  template <typename T>
  std::shared_ptr<T> checked_ptr() const {
    auto p = std::dynamic_pointer_cast<T>(checked().ptr());
    CNNKIT_CHECK_TYPE(p != nullptr, "Attempted to cast module of type ", checked().ptr()->name(), " to type ",
                      typeid(T).name());
    return p;
  }

  std::unique_ptr<Placeholder> content_;
};

// A name and a module, for Sequential({{"conv1", nn::Conv2d(1, 6, 5)}, {"relu", nn::ReLU()}}).
class NamedAnyModule {
 public:
  template <typename ModuleType>
  NamedAnyModule(std::string name, std::shared_ptr<ModuleType> module_ptr)
      : NamedAnyModule(std::move(name), AnyModule(std::move(module_ptr))) {}
  template <typename M, typename = detail::enable_if_module_t<M>>
  NamedAnyModule(std::string name, M&& module)
      : NamedAnyModule(std::move(name), std::make_shared<std::decay_t<M>>(std::forward<M>(module))) {}
  template <typename M>
  NamedAnyModule(std::string name, const ModuleHolder<M>& module_holder)
      : NamedAnyModule(std::move(name), module_holder.ptr()) {}
  NamedAnyModule(std::string name, AnyModule any_module) : name_(std::move(name)), module_(std::move(any_module)) {}

  const std::string& name() const noexcept { return name_; }
  AnyModule& module() noexcept { return module_; }
  const AnyModule& module() const noexcept { return module_; }

 private:
  std::string name_;
  AnyModule module_;
};

}  // namespace nn
}  // namespace cnnkit
