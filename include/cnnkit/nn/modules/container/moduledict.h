// ModuleDict (torch::nn::ModuleDict): modules registered as children under their keys, in
// insertion order, with no forward of its own.
//   std::vector<std::pair<std::string, std::shared_ptr<nn::Module>>> m = {{"cls", nn::Linear(16, 10).ptr()},
//                                                                         {"box", nn::Linear(16, 4).ptr()}};
//   nn::ModuleDict heads(m);
//   Tensor logits = heads["cls"]->as<nn::Linear>()->forward(x);
//   for (const auto& item : *heads) std::cout << item.key();
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "cnnkit/nn/cloneable.h"
#include "cnnkit/nn/ordered_dict.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit {
namespace nn {

class ModuleDictImpl : public Cloneable<ModuleDictImpl> {
 public:
  using Dict = OrderedDict<std::string, std::shared_ptr<Module>>;
  using Iterator = Dict::Iterator;
  using ConstIterator = Dict::ConstIterator;

  ModuleDictImpl() = default;
  explicit ModuleDictImpl(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& modules) {
    update(modules);
  }
  // Any container of items with key() and value(): an OrderedDict, another ModuleDict.
  template <typename Container, typename = decltype(std::declval<const Container&>().begin()->key())>
  explicit ModuleDictImpl(const Container& modules) {
    update(modules);
  }

  std::shared_ptr<Module> clone(const std::optional<Device>& device = std::nullopt) const override;
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;

  std::vector<std::pair<std::string, std::shared_ptr<Module>>> items() const { return modules_.pairs(); }
  std::vector<std::string> keys() const { return modules_.keys(); }
  std::vector<std::shared_ptr<Module>> values() const { return modules_.values(); }

  Iterator begin() { return modules_.begin(); }
  ConstIterator begin() const { return modules_.begin(); }
  Iterator end() { return modules_.end(); }
  ConstIterator end() const { return modules_.end(); }

  size_t size() const noexcept { return modules_.size(); }
  bool empty() const noexcept { return modules_.is_empty(); }
  bool contains(const std::string& key) const noexcept { return modules_.contains(key); }

  void clear();
  // Removes `key` and returns its module.
  std::shared_ptr<Module> pop(const std::string& key);

  // Adds or replaces (an existing key keeps its place, as in PyTorch).
  std::shared_ptr<Module> insert(const std::string& key, std::shared_ptr<Module> module);
  template <typename M>
  std::shared_ptr<Module> insert(const std::string& key, const ModuleHolder<M>& module) {
    return insert(key, std::static_pointer_cast<Module>(module.ptr()));
  }
  void update(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& modules) {
    for (const auto& [k, m] : modules) insert(k, m);
  }
  template <typename Container, typename = decltype(std::declval<const Container&>().begin()->key())>
  void update(const Container& modules) {
    for (const auto& item : modules) insert(item.key(), item.value());
  }
  void update(const ModuleHolder<ModuleDictImpl>& other);

  std::shared_ptr<Module> operator[](const std::string& key) const;
  template <typename T>
  T& at(const std::string& key) {
    static_assert(detail::is_module<T>::value, "Can only call ModuleDict::at with an nn::Module type");
    auto p = std::dynamic_pointer_cast<T>((*this)[key]);
    CNNKIT_CHECK_TYPE(p != nullptr, "ModuleDict: module '", key, "' is a ", (*this)[key]->name(), ", not a ",
                      typeid(T).name());
    return *p;
  }
  template <typename T>
  const T& at(const std::string& key) const {
    return const_cast<ModuleDictImpl*>(this)->at<T>(key);
  }

 private:
  Dict modules_{"Module"};
};
CNNKIT_MODULE(ModuleDict);

inline void ModuleDictImpl::update(const ModuleHolder<ModuleDictImpl>& other) { update(*other); }

}  // namespace nn
}  // namespace cnnkit
