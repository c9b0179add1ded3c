// Dropout and Dropout2d (torch/nn/modules/dropout.h): active in training mode only
// (module->train() / eval()); masks come from the global generator.
//   nn::Dropout drop(0.5);   nn::Dropout2d drop2d(nn::Dropout2dOptions().p(0.1));
#pragma once

#include <ostream>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/cloneable.h"
#include "cnnkit/nn/options/dropout.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit {
namespace nn {

class DropoutImpl : public Cloneable<DropoutImpl> {
 public:
  DropoutImpl(double p) : DropoutImpl(DropoutOptions().p(p)) {}  // NOLINT
  explicit DropoutImpl(const DropoutOptions& options_ = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(Tensor input);

  DropoutOptions options;
};
CNNKIT_MODULE(Dropout);

// Zeroes whole channels: input (N, C, H, W), or (C, H, W) unbatched.
class Dropout2dImpl : public Cloneable<Dropout2dImpl> {
 public:
  Dropout2dImpl(double p) : Dropout2dImpl(Dropout2dOptions().p(p)) {}  // NOLINT
  explicit Dropout2dImpl(const Dropout2dOptions& options_ = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(Tensor input);

  Dropout2dOptions options;
};
CNNKIT_MODULE(Dropout2d);

}  // namespace nn
}  // namespace cnnkit
