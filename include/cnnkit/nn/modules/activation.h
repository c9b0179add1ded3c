// Activation layers (torch/nn/modules/activation.h). Each wraps the op of the same name;
// PReLU owns a learnable slope (num_parameters values, initialised to `init`).
//   nn::Sequential(nn::Conv2d(3, 16, 3), nn::ReLU(nn::ReLUOptions().inplace(true)),
//                  nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)));
#pragma once

#include <ostream>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/cloneable.h"
#include "cnnkit/nn/options/activation.h"
#include "cnnkit/nn/pimpl.h"
#include "cnnkit/ops/activation.h"

namespace cnnkit {
namespace nn {

// Activations with options: constructor from options, forward, printing.
#define CNNKIT_ACTIVATION_WITH_OPTIONS(Name, Options, InputType)           \
  class Name##Impl : public Cloneable<Name##Impl> {                         \
   public:                                                                  \
    explicit Name##Impl(const Options& options_ = {});                      \
    void reset() override;                                                  \
    void pretty_print(std::ostream& stream) const override;                \
    Tensor forward(InputType input);                                        \
    Options options;                                                        \
  };                                                                        \
  CNNKIT_MODULE(Name)

// Activations without options.
#define CNNKIT_ACTIVATION(Name)                                             \
  class Name##Impl : public Cloneable<Name##Impl> {                         \
   public:                                                                  \
    void reset() override {}                                                \
    void pretty_print(std::ostream& stream) const override;                \
    Tensor forward(const Tensor& input);                                    \
  };                                                                        \
  CNNKIT_MODULE(Name)

CNNKIT_ACTIVATION_WITH_OPTIONS(ReLU, ReLUOptions, Tensor);
CNNKIT_ACTIVATION_WITH_OPTIONS(ReLU6, ReLU6Options, Tensor);
CNNKIT_ACTIVATION_WITH_OPTIONS(SELU, SELUOptions, Tensor);
CNNKIT_ACTIVATION_WITH_OPTIONS(LeakyReLU, LeakyReLUOptions, Tensor);
CNNKIT_ACTIVATION_WITH_OPTIONS(ELU, ELUOptions, Tensor);
CNNKIT_ACTIVATION_WITH_OPTIONS(GELU, GELUOptions, const Tensor&);
CNNKIT_ACTIVATION_WITH_OPTIONS(Hardtanh, HardtanhOptions, Tensor);
CNNKIT_ACTIVATION_WITH_OPTIONS(Softplus, SoftplusOptions, const Tensor&);
// Sigmoid, Tanh, SiLU, Mish, Hardswish, Hardsigmoid, ...: the list in ops/activation.h.
#define CNNKIT_DECLARE_ACTIVATION_MODULE(Module, ...) CNNKIT_ACTIVATION(Module);
CNNKIT_PLAIN_ACTIVATIONS(CNNKIT_DECLARE_ACTIVATION_MODULE)
#undef CNNKIT_DECLARE_ACTIVATION_MODULE

#undef CNNKIT_ACTIVATION_WITH_OPTIONS
#undef CNNKIT_ACTIVATION

class SoftmaxImpl : public Cloneable<SoftmaxImpl> {
 public:
  explicit SoftmaxImpl(int64_t dim) : SoftmaxImpl(SoftmaxOptions(dim)) {}
  explicit SoftmaxImpl(const SoftmaxOptions& options_);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);
  SoftmaxOptions options;
};
CNNKIT_MODULE(Softmax);

class LogSoftmaxImpl : public Cloneable<LogSoftmaxImpl> {
 public:
  explicit LogSoftmaxImpl(int64_t dim) : LogSoftmaxImpl(LogSoftmaxOptions(dim)) {}
  explicit LogSoftmaxImpl(const LogSoftmaxOptions& options_);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);
  LogSoftmaxOptions options;
};
CNNKIT_MODULE(LogSoftmax);

// y = max(0, x) + weight * min(0, x), one weight or one per channel (dim 1).
class PReLUImpl : public Cloneable<PReLUImpl> {
 public:
  explicit PReLUImpl(const PReLUOptions& options_ = {});
  void reset() override;
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);

  PReLUOptions options;
  Tensor weight;  // (num_parameters)
};
CNNKIT_MODULE(PReLU);

}  // namespace nn
}  // namespace cnnkit
