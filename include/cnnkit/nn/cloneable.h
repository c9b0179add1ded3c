// Cloneable<Derived> (torch::nn::Cloneable): the base of every built-in layer. It adds a
// pure virtual reset() that (re)creates the parameters, buffers and children from the
// options, and a clone() that deep-copies: copy the object, reset() the copy so that it
// owns fresh tensors and submodules, then copy the values across.
#pragma once

#include <memory>
#include <optional>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/nn/module.h"

namespace cnnkit {
namespace nn {

template <typename Derived>
class Cloneable : public Module {
 public:
  using Module::Module;

  // Creates parameters, buffers and submodules from the options. Constructors call it;
  // calling it again re-initialises the module.
  virtual void reset() = 0;

  std::shared_ptr<Module> clone(const std::optional<Device>& device = std::nullopt) const override {
    NoGradGuard no_grad;
    const auto& self = static_cast<const Derived&>(*this);
    auto copy = std::make_shared<Derived>(self);
    copy->parameters_.clear();
    copy->buffers_.clear();
    copy->children_.clear();
    copy->reset();
    CNNKIT_CHECK_T(InternalError, copy->parameters_.size() == parameters_.size(),
                   "clone() of ", name(), ": reset() registered ", copy->parameters_.size(),
                   " parameters, the original has ", parameters_.size());
    for (const auto& item : parameters_) copy_values(copy->parameters_[item.key()], item.value());
    CNNKIT_CHECK_T(InternalError, copy->buffers_.size() == buffers_.size(), "clone() of ", name(),
                   ": reset() registered ", copy->buffers_.size(), " buffers, the original has ",
                   buffers_.size());
    for (const auto& item : buffers_) copy_values(copy->buffers_[item.key()], item.value());
    CNNKIT_CHECK_T(InternalError, copy->children_.size() == children_.size(), "clone() of ", name(),
                   ": reset() registered ", copy->children_.size(), " submodules, the original has ",
                   children_.size());
    for (const auto& item : children_) copy->children_[item.key()]->clone_(*item.value(), device);
    return copy;
  }

 private:
  // reset() made `dst` with the right shape; the copy shares nothing with `src`.
  static void copy_values(Tensor& dst, const Tensor& src) {
    if (!src.defined() || !dst.defined()) return;
    dst.copy_(src);
  }
  void clone_(Module& other, const std::optional<Device>& device) final {
    auto cloned = std::dynamic_pointer_cast<Derived>(other.clone(device));
    CNNKIT_CHECK_T(InternalError, cloned != nullptr,
                   "Attempted to clone submodule, but it is of a different type than the submodule "
                   "it was to be cloned into");
    static_cast<Derived&>(*this) = *cloned;
  }
};

}  // namespace nn
}  // namespace cnnkit
