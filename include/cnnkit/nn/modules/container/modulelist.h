// ModuleList (torch::nn::ModuleList): a list of modules registered as children "0", "1",
// ..., with no forward of its own; the owner decides how to call them.
//   nn::ModuleList blocks(nn::Linear(4, 4), nn::Linear(4, 4));
//   for (const auto& m : *blocks) x = m->as<nn::Linear>()->forward(x);
#pragma once

#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "cnnkit/nn/cloneable.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit {
namespace nn {

class ModuleListImpl : public Cloneable<ModuleListImpl> {
 public:
  using Iterator = std::vector<std::shared_ptr<Module>>::iterator;
  using ConstIterator = std::vector<std::shared_ptr<Module>>::const_iterator;

  ModuleListImpl() = default;
  template <typename... Modules>
  explicit ModuleListImpl(Modules&&... modules) {
    modules_.reserve(sizeof...(Modules));
    (push_back(std::forward<Modules>(modules)), ...);
  }

  std::shared_ptr<Module> clone(const std::optional<Device>& device = std::nullopt) const override;
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;

  void push_back(std::shared_ptr<Module> module);
  template <typename M, typename = detail::enable_if_module_t<M>>
  void push_back(M&& module) {
    push_back(std::static_pointer_cast<Module>(std::make_shared<std::decay_t<M>>(std::forward<M>(module))));
  }
  template <typename M>
  void push_back(const ModuleHolder<M>& module_holder) {
    push_back(std::static_pointer_cast<Module>(module_holder.ptr()));
  }
  template <typename Container>
  void extend(const Container& container) {
    for (const auto& module : container) push_back(module);
  }

  // Inserts before `index` (index == size() appends); later modules are renumbered.
  void insert(size_t index, std::shared_ptr<Module> module);
  template <typename M>
  void insert(size_t index, const ModuleHolder<M>& module_holder) {
    insert(index, std::static_pointer_cast<Module>(module_holder.ptr()));
  }
  template <typename M, typename = detail::enable_if_module_t<M>>
  void insert(size_t index, M&& module) {
    insert(index, std::static_pointer_cast<Module>(std::make_shared<std::decay_t<M>>(std::forward<M>(module))));
  }

  Iterator begin() { return modules_.begin(); }
  ConstIterator begin() const { return modules_.begin(); }
  Iterator end() { return modules_.end(); }
  ConstIterator end() const { return modules_.end(); }

  template <typename T>
  T& at(size_t index) {
    static_assert(detail::is_module<T>::value, "Can only call ModuleList::at with an nn::Module type");
    return *ptr<T>(index);
  }
  template <typename T>
  const T& at(size_t index) const {
    static_assert(detail::is_module<T>::value, "Can only call ModuleList::at with an nn::Module type");
    return *ptr<T>(index);
  }
  std::shared_ptr<Module> ptr(size_t index) const { return modules_[checked_index(index)]; }
  template <typename T>
  std::shared_ptr<T> ptr(size_t index) const {
    static_assert(detail::is_module<T>::value, "Can only call ModuleList::ptr with an nn::Module type");
    auto p = std::dynamic_pointer_cast<T>(ptr(index));
    CNNKIT_CHECK_TYPE(p != nullptr, "ModuleList: module ", index, " is a ", modules_[index]->name(),
                      ", not a ", typeid(T).name());
    return p;
  }
  std::shared_ptr<Module> operator[](size_t index) const { return ptr(index); }

  size_t size() const noexcept { return modules_.size(); }
  bool is_empty() const noexcept { return modules_.empty(); }

 private:
  size_t checked_index(size_t index) const;

  std::vector<std::shared_ptr<Module>> modules_;
};
CNNKIT_MODULE(ModuleList);

}  // namespace nn
}  // namespace cnnkit
