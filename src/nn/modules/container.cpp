// Containers: Sequential (ordered forward through AnyModules), ModuleList and
// Functional. Naming children "0", "1", ... gives PyTorch's state-dict keys.
#include "cnnkit/nn/modules/container/functional.h"
#include "cnnkit/nn/modules/container/moduledict.h"
#include "cnnkit/nn/modules/container/modulelist.h"
#include "cnnkit/nn/modules/container/sequential.h"

#include <atomic>
#include <cstdlib>
#include <typeinfo>

#include "cnnkit/nn/functional.h"
#include "cnnkit/nn/modules/activation.h"
#include "cnnkit/nn/modules/conv.h"
#include "cnnkit/nn/modules/normalization.h"
#include "cnnkit/nn/modules/pooling.h"
#include "cnnkit/ops/norm.h"

namespace cnnkit {
namespace nn {

// ---- Sequential ---------------------------------------------------------------------------

std::shared_ptr<Module> SequentialImpl::clone(const std::optional<Device>& device) const {
  auto copy = std::make_shared<SequentialImpl>();
  // Keep the children's names (they may have been given) and each module's concrete type.
  const auto names = named_children();
  for (size_t i = 0; i < modules_.size(); ++i) copy->push_back(names[i].key(), modules_[i].clone(device));
  return copy;
}

void SequentialImpl::pretty_print(std::ostream& stream) const { stream << "cnnkit::nn::Sequential"; }

void SequentialImpl::push_back(std::string name, AnyModule any_module) {
  CNNKIT_CHECK(!any_module.is_empty(), "Sequential::push_back: the module '", name, "' is empty");
  modules_.push_back(std::move(any_module));
  register_module(std::move(name), modules_.back().ptr());
}

namespace {
std::atomic<int> rewrites_override{-1};  // -1: follow the environment
bool rewrites_from_env() {
  static const bool on = [] {
    const char* e = std::getenv("CNNKIT_FUSE");
    return e == nullptr || e[0] == '\0' || e[0] != '0';
  }();
  return on;
}

// modules[i] is a ReLU and modules[i + 1] a MaxPool2d that can run first. An in-place ReLU at
// the front would have changed the caller's tensor: that one runs as written.
bool relu_then_max_pool(const std::vector<AnyModule>& modules, size_t i) {
  if (i + 1 >= modules.size() || modules[i].type_info() != typeid(ReLUImpl) ||
      modules[i + 1].type_info() != typeid(MaxPool2dImpl))
    return false;
  return i > 0 || !modules[i].get<ReLUImpl>().options.inplace();
}

// modules[i] is a BatchNorm2d and modules[i + 1] a ReLU: BatchNorm2d::forward_relu runs both.
bool batch_norm_then_relu(const std::vector<AnyModule>& modules, size_t i) {
  return i + 1 < modules.size() && modules[i].type_info() == typeid(BatchNorm2dImpl) &&
         modules[i + 1].type_info() == typeid(ReLUImpl);
}
}  // namespace

bool sequential_rewrites() {
  const int o = rewrites_override.load(std::memory_order_relaxed);
  return o < 0 ? rewrites_from_env() : o != 0;
}
void set_sequential_rewrites(bool on) { rewrites_override.store(on ? 1 : 0, std::memory_order_relaxed); }

Tensor SequentialImpl::run(const Tensor& input) {
  CNNKIT_CHECK(!modules_.empty(), "Cannot call forward() on an empty Sequential");
  // Not while a summary observes the calls: it must see the ReLU as its own row.
  const bool rewrite = sequential_rewrites() && detail::forward_observer() == nullptr;
  Tensor x = input;
  size_t i = 0;
  try {
    for (; i < modules_.size(); ++i) {
      if (rewrite && relu_then_max_pool(modules_, i)) {
        // relu(max_pool(x)) == max_pool(relu(x)), values and gradients (see sequential.h).
        ++i;
        x = functional::relu(modules_[i].forward(x), functional::ReLUFuncOptions().inplace(true));
        continue;
      }
      if (rewrite && i + 1 < modules_.size() && modules_[i].type_info() == typeid(Conv2dImpl) &&
          batch_norm_then_relu(modules_, i + 1)) {
        // The same, the batch norm's statistics taken by the convolution as it writes its output
        // where it can (detail::ConvBatchNormScope).
        cnnkit::detail::ConvBatchNormScope scope;
        x = modules_[i].forward(x);
        ++i;
        x = modules_[i].get<BatchNorm2dImpl>().forward_relu(x);
        ++i;
        continue;
      }
      if (rewrite && batch_norm_then_relu(modules_, i)) {
        // relu(bn(x)) in one kernel where it can (BatchNorm2d::forward_relu); an error names
        // the BatchNorm2d.
        x = modules_[i].get<BatchNorm2dImpl>().forward_relu(x);
        ++i;
        continue;
      }
      x = modules_[i].forward(x);
    }
  } catch (const Error&) {
    // The layer that failed, by its name in the model: "layer '3' (BatchNorm2d): batch_norm: ..."
    // (nested Sequentials name each level).
    const auto children = named_children();
    rethrow_with_prefix("layer '" + children[i].key() + "' (" + type_name(*children[i].value()) + "): ");
  }
  return x;
}

size_t SequentialImpl::checked_index(size_t index) const {
  CNNKIT_CHECK(index < modules_.size(), "Sequential: index ", index, " out of range for a Sequential of size ",
               modules_.size());
  return index;
}

// ---- ModuleList ---------------------------------------------------------------------------

std::shared_ptr<Module> ModuleListImpl::clone(const std::optional<Device>& device) const {
  auto copy = std::make_shared<ModuleListImpl>();
  for (const auto& module : modules_) copy->push_back(module->clone(device));
  return copy;
}

void ModuleListImpl::pretty_print(std::ostream& stream) const { stream << "cnnkit::nn::ModuleList"; }

void ModuleListImpl::push_back(std::shared_ptr<Module> module) {
  CNNKIT_CHECK(module != nullptr, "ModuleList::push_back: the module is empty (nullptr)");
  modules_.push_back(std::move(module));
  register_module(std::to_string(modules_.size() - 1), modules_.back());
}

void ModuleListImpl::insert(size_t index, std::shared_ptr<Module> module) {
  CNNKIT_CHECK(index <= modules_.size(), "ModuleList::insert: index ", index, " out of range for a list of size ",
               modules_.size());
  if (index == modules_.size()) {
    push_back(std::move(module));
    return;
  }
  CNNKIT_CHECK(module != nullptr, "ModuleList::insert: the module is empty (nullptr)");
  modules_.insert(modules_.begin() + static_cast<std::ptrdiff_t>(index), std::move(module));
  // Children "index".."size-2" now name the next module; the last name is new.
  for (size_t i = index; i + 1 < modules_.size(); ++i) replace_module(std::to_string(i), modules_[i]);
  register_module(std::to_string(modules_.size() - 1), modules_.back());
}

size_t ModuleListImpl::checked_index(size_t index) const {
  CNNKIT_CHECK(index < modules_.size(), "ModuleList: index ", index, " out of range for a list of size ",
               modules_.size());
  return index;
}

// ---- ModuleDict ---------------------------------------------------------------------------

std::shared_ptr<Module> ModuleDictImpl::clone(const std::optional<Device>& device) const {
  auto copy = std::make_shared<ModuleDictImpl>();
  for (const auto& item : modules_) copy->insert(item.key(), item.value()->clone(device));
  return copy;
}

void ModuleDictImpl::pretty_print(std::ostream& stream) const { stream << "cnnkit::nn::ModuleDict"; }

std::shared_ptr<Module> ModuleDictImpl::insert(const std::string& key, std::shared_ptr<Module> module) {
  CNNKIT_CHECK(module != nullptr, "ModuleDict::insert: the module for key '", key, "' is empty (nullptr)");
  if (std::shared_ptr<Module>* existing = modules_.find(key)) {
    *existing = module;
    replace_module(key, module);
  } else {
    modules_.insert(key, module);
    register_module(key, module);
  }
  return module;
}

std::shared_ptr<Module> ModuleDictImpl::operator[](const std::string& key) const {
  const std::shared_ptr<Module>* m = modules_.find(key);
  CNNKIT_CHECK(m != nullptr, "ModuleDict: no module under key '", key, "'");
  return *m;
}

std::shared_ptr<Module> ModuleDictImpl::pop(const std::string& key) {
  std::shared_ptr<Module> m = (*this)[key];
  modules_.erase(key);
  unregister_module(key);
  return m;
}

void ModuleDictImpl::clear() {
  for (const std::string& key : modules_.keys()) unregister_module(key);
  modules_.clear();
}

// ---- Functional ---------------------------------------------------------------------------

FunctionalImpl::FunctionalImpl(Function function) : function_(std::move(function)) {
  CNNKIT_CHECK(function_ != nullptr, "Functional: the function is empty");
}

void FunctionalImpl::pretty_print(std::ostream& stream) const { stream << "cnnkit::nn::Functional()"; }

Tensor FunctionalImpl::forward(Tensor input) { return function_(std::move(input)); }

}  // namespace nn
}  // namespace cnnkit
