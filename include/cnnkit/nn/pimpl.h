// ModuleHolder and CNNKIT_MODULE (torch::nn::ModuleHolder, TORCH_MODULE): the "pimpl"
// handle every layer is used through. `Linear` is a ModuleHolder<LinearImpl>: a shared
// pointer with `->`, `*`, `ptr()`, `is_empty()`, calls forward() on `holder(x)`, and is
// empty when built from nullptr (`Linear fc{nullptr};`, assigned later).
//
//   struct NetImpl : cnnkit::nn::Module {
//     NetImpl() { fc = register_module("fc", cnnkit::nn::Linear(4, 2)); }
//     cnnkit::Tensor forward(cnnkit::Tensor x) { return fc(x); }
//     cnnkit::nn::Linear fc{nullptr};
//   };
//   CNNKIT_MODULE(Net);   // class Net : public ModuleHolder<NetImpl>
#pragma once

#include <memory>
#include <ostream>
#include <type_traits>
#include <utility>

#include "cnnkit/core/error.h"

namespace cnnkit {
class Tensor;
namespace nn {

class Module;

namespace detail {
struct ModuleHolderIndicator {};

template <typename T>
using is_module_holder = std::is_base_of<ModuleHolderIndicator, std::decay_t<T>>;
template <typename T>
using disable_if_module_holder_t = std::enable_if_t<!is_module_holder<T>::value>;

template <typename T, typename C, bool = is_module_holder<T>::value>
struct is_module_holder_of : std::false_type {};
template <typename T, typename C>
struct is_module_holder_of<T, C, true>
    : std::is_same<typename std::decay_t<T>::ContainedType, std::decay_t<C>> {};

template <typename T>
using is_module = std::is_base_of<Module, std::decay_t<T>>;
template <typename M, typename T = void>
using enable_if_module_t = std::enable_if_t<is_module<M>::value, T>;

// Sees every module call made through a holder (`conv(x)`) or an AnyModule (a Sequential's
// children): what models::summary of a module of any type records. Null unless a summary
// runs on this thread, so a call pays one thread-local load. Calls written as
// `conv->forward(x)` bypass the holder and are not seen.
class ForwardObserver {
 public:
  virtual ~ForwardObserver() = default;
  // input: the call's first Tensor argument (null if none); output: its result when that is
  // one Tensor (null otherwise, and when the call threw).
  virtual void enter(const Module& module, const Tensor* input) = 0;
  virtual void leave(const Module& module, const Tensor* output) = 0;
};
// This thread's observer: an inline thread-local, so a holder call reads it without a call.
inline thread_local ForwardObserver* current_forward_observer = nullptr;
inline ForwardObserver*& forward_observer() { return current_forward_observer; }

inline const Tensor* first_tensor() { return nullptr; }
template <typename First, typename... Rest>
const Tensor* first_tensor(const First& first, const Rest&... rest) {
  if constexpr (std::is_same_v<std::decay_t<First>, Tensor>) {
    return &first;
  } else if constexpr (sizeof...(Rest) > 0) {
    return first_tensor(rest...);
  } else {
    return nullptr;
  }
}

// f() (a module's forward) between the observer's enter and leave (leave also when f throws).
template <typename F, typename... Args>
decltype(auto) observed_forward(ForwardObserver& observer, const Module& module, F&& f, const Args&... args) {
  using R = decltype(f());
  struct LeaveOnThrow {
    ForwardObserver& observer;
    const Module& module;
    bool done = false;
    ~LeaveOnThrow() {
      if (!done) observer.leave(module, nullptr);
    }
  };
  observer.enter(module, first_tensor(args...));
  LeaveOnThrow guard{observer, module};
  if constexpr (std::is_void_v<R>) {
    f();
    guard.done = true;
    observer.leave(module, nullptr);
  } else {
    R result = f();
    guard.done = true;
    if constexpr (std::is_same_v<std::decay_t<R>, Tensor>)
      observer.leave(module, &result);
    else
      observer.leave(module, nullptr);
    if constexpr (std::is_reference_v<R>)
      return static_cast<R>(result);
    else
      return result;
  }
}
}  // namespace detail

template <typename Contained>
class ModuleHolder : detail::ModuleHolderIndicator {
 protected:
  std::shared_ptr<Contained> impl_;

 public:
  using ContainedType = Contained;

  // Default-constructs the module; a module without a default constructor must be given
  // its arguments or nullptr (`Linear fc{nullptr};`).
  ModuleHolder() : impl_(default_construct()) {
    static_assert(std::is_default_constructible_v<Contained>,
                  "You are trying to default construct a module which has no default constructor. "
                  "Use = nullptr to give it the empty state (e.g. `Linear linear = nullptr;` "
                  "instead of `Linear linear;`).");
  }
  ModuleHolder(std::nullptr_t) : impl_(nullptr) {}  // NOLINT: implicit like LibTorch

  // Forwards the arguments to Contained's constructor: Linear(4, 2) builds LinearImpl(4, 2).
  template <typename Head, typename... Tail,
            typename = std::enable_if_t<!(detail::is_module_holder_of<Head, ContainedType>::value &&
                                          sizeof...(Tail) == 0)>>
  explicit ModuleHolder(Head&& head, Tail&&... tail)
      : impl_(new Contained(std::forward<Head>(head), std::forward<Tail>(tail)...)) {}

  ModuleHolder(std::shared_ptr<Contained> module) : impl_(std::move(module)) {}  // NOLINT

  explicit operator bool() const noexcept { return !is_empty(); }
  Contained* operator->() { return get(); }
  const Contained* operator->() const { return get(); }
  Contained& operator*() { return *get(); }
  const Contained& operator*() const { return *get(); }

  const std::shared_ptr<Contained>& ptr() const {
    check_not_empty();
    return impl_;
  }
  Contained* get() {
    check_not_empty();
    return impl_.get();
  }
  const Contained* get() const {
    check_not_empty();
    return impl_.get();
  }

  // holder(x, ...) is holder->forward(x, ...).
  template <typename... Args>
  decltype(auto) operator()(Args&&... args) {
    if (detail::ForwardObserver* observer = detail::forward_observer(); observer != nullptr) [[unlikely]]
      return detail::observed_forward(
          *observer, *get(), [&]() -> decltype(auto) { return get()->forward(std::forward<Args>(args)...); }, args...);
    return get()->forward(std::forward<Args>(args)...);
  }
  template <typename Arg>
  decltype(auto) operator[](Arg&& arg) {
    return (*get())[std::forward<Arg>(arg)];
  }

  bool is_empty() const noexcept { return impl_ == nullptr; }

 private:
  void check_not_empty() const { CNNKIT_CHECK(impl_ != nullptr, "Accessing empty ModuleHolder"); }
  static std::shared_ptr<Contained> default_construct() {
    if constexpr (std::is_default_constructible_v<Contained>)
      return std::make_shared<Contained>();
    else
      return nullptr;
  }
};

template <typename ModuleType>
std::ostream& operator<<(std::ostream& stream, const ModuleHolder<ModuleType>& module) {
  return stream << *module;
}

}  // namespace nn
}  // namespace cnnkit

// CNNKIT_MODULE(Name): `class Name : public ModuleHolder<NameImpl>` with NameImpl's
// constructors. The umbrella header maps TORCH_MODULE onto it.
#define CNNKIT_MODULE_IMPL(Name, ImplType)                          \
  class Name : public ::cnnkit::nn::ModuleHolder<ImplType> { /* NOLINT */ \
   public:                                                          \
    using ::cnnkit::nn::ModuleHolder<ImplType>::ModuleHolder;       \
    using Impl = ImplType;                                          \
  }

#define CNNKIT_MODULE(Name) CNNKIT_MODULE_IMPL(Name, Name##Impl)
