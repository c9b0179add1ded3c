// Sequential (torch::nn::Sequential): modules applied in order, registered as children
// "0", "1", ... (or the names given), so state-dict keys are PyTorch's ("0.weight").
//   nn::Sequential net(nn::Conv2d(1, 6, 5), nn::ReLU(), nn::MaxPool2d(2),
//                      nn::Flatten(), nn::Linear(6 * 12 * 12, 10));
//   Tensor y = net->forward(x);           // or net(x)
//   net->push_back(nn::Softmax(1));
//   auto fc = net->ptr<nn::LinearImpl>(4);
//   nn::Sequential named({{"conv", nn::Conv2d(1, 6, 5)}, {"act", nn::ReLU()}});
// Each element is an AnyModule: forward is one indirect call per layer. Sequentials nest
// (LibTorch refuses that; here a Sequential's forward is an ordinary Tensor -> Tensor).
//
// Two rewrites. BatchNorm2d followed by ReLU runs as BatchNorm2d::forward_relu: one kernel in
// training on a convolution's blocked output (ops/norm.h's batch_norm_relu), the same values
// and gradients to rounding (within 1e-5). And, exact: ReLU followed by MaxPool2d runs as
// MaxPool2d then ReLU. Max commutes
// with a non-decreasing function, so the values are the same; so are the gradients (two
// window elements can tie after ReLU and not before only where ReLU's gradient is zero, and
// NaN propagates either way). The ReLU then reads and writes a quarter of the data for a 2x2
// pool, forward and backward. nn::set_sequential_rewrites(false) or CNNKIT_FUSE=0 runs every
// module as written (the tests compare both).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cnnkit/nn/cloneable.h"
#include "cnnkit/nn/modules/container/any.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit {
namespace nn {

// Whether Sequential applies the rewrites above, and BasicBlock its fused batch norm (default
// on; CNNKIT_FUSE=0 turns them off for the process, set_sequential_rewrites overrides both).
bool sequential_rewrites();
void set_sequential_rewrites(bool on);

class SequentialImpl : public Cloneable<SequentialImpl> {
 public:
  using Iterator = std::vector<AnyModule>::iterator;
  using ConstIterator = std::vector<AnyModule>::const_iterator;

  SequentialImpl() = default;
  template <typename... Modules>
  explicit SequentialImpl(Modules&&... modules) {
    modules_.reserve(sizeof...(Modules));
    (push_back(std::forward<Modules>(modules)), ...);
  }
  explicit SequentialImpl(OrderedDict<std::string, AnyModule>&& ordered_dict) {
    modules_.reserve(ordered_dict.size());
    for (auto& item : ordered_dict) push_back(item.key(), std::move(item.value()));
  }
  explicit SequentialImpl(std::initializer_list<NamedAnyModule> named_modules) {
    modules_.reserve(named_modules.size());
    for (const auto& named : named_modules) push_back(named.name(), named.module());
  }

  std::shared_ptr<Module> clone(const std::optional<Device>& device = std::nullopt) const override;
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;

  // Each module's forward on the previous one's output.
  template <typename ReturnType = Tensor>
  ReturnType forward(const Tensor& input) {
    static_assert(std::is_same_v<ReturnType, Tensor>, "cnnkit::nn::Sequential::forward returns a Tensor");
    return run(input);
  }

  template <typename ModuleType>
  void push_back(std::shared_ptr<ModuleType> module_ptr) {
    push_back(std::to_string(modules_.size()), std::move(module_ptr));
  }
  template <typename ModuleType>
  void push_back(std::string name, std::shared_ptr<ModuleType> module_ptr) {
    push_back(std::move(name), AnyModule(std::move(module_ptr)));
  }
  template <typename M, typename = detail::enable_if_module_t<M>>
  void push_back(M&& module) {
    push_back(std::to_string(modules_.size()), std::forward<M>(module));
  }
  template <typename M, typename = detail::enable_if_module_t<M>>
  void push_back(std::string name, M&& module) {
    push_back(std::move(name), std::make_shared<std::decay_t<M>>(std::forward<M>(module)));
  }
  template <typename M>
  void push_back(const ModuleHolder<M>& module_holder) {
    push_back(std::to_string(modules_.size()), module_holder);
  }
  template <typename M>
  void push_back(std::string name, const ModuleHolder<M>& module_holder) {
    push_back(std::move(name), module_holder.ptr());
  }
  void push_back(AnyModule any_module) { push_back(std::to_string(modules_.size()), std::move(any_module)); }
  void push_back(std::string name, AnyModule any_module);

  template <typename Container>
  void extend(const Container& container) {
    for (const auto& module : container) push_back(module);
  }

  Iterator begin() { return modules_.begin(); }
  ConstIterator begin() const { return modules_.begin(); }
  Iterator end() { return modules_.end(); }
  ConstIterator end() const { return modules_.end(); }

  template <typename T>
  T& at(size_t index) {
    static_assert(detail::is_module<T>::value, "Can only call Sequential::at with an nn::Module type");
    return modules_[checked_index(index)].get<T>();
  }
  template <typename T>
  const T& at(size_t index) const {
    static_assert(detail::is_module<T>::value, "Can only call Sequential::at with an nn::Module type");
    return modules_[checked_index(index)].get<T>();
  }
  std::shared_ptr<Module> ptr(size_t index) const { return modules_[checked_index(index)].ptr(); }
  template <typename T>
  std::shared_ptr<T> ptr(size_t index) const {
    static_assert(detail::is_module<T>::value, "Can only call Sequential::ptr with an nn::Module type");
    return modules_[checked_index(index)].ptr<T>();
  }
  std::shared_ptr<Module> operator[](size_t index) const { return ptr(index); }

  size_t size() const noexcept { return modules_.size(); }
  bool is_empty() const noexcept { return modules_.empty(); }

 private:
  Tensor run(const Tensor& input);
  size_t checked_index(size_t index) const;

  std::vector<AnyModule> modules_;
};

class Sequential : public ModuleHolder<SequentialImpl> {
 public:
  using ModuleHolder<SequentialImpl>::ModuleHolder;
  Sequential() : ModuleHolder() {}
  Sequential(std::initializer_list<NamedAnyModule> named_modules)
      : ModuleHolder(std::make_shared<SequentialImpl>(named_modules)) {}
};

}  // namespace nn
}  // namespace cnnkit
