// nn::Upsample (torch/nn/modules/upsampling.h): F::interpolate with the module's options.
//   nn::Upsample up(nn::UpsampleOptions().scale_factor(std::vector<double>{2, 2}).mode(cnnkit::kNearest));
//   up(x);   // (N, C, H, W) -> (N, C, 2H, 2W)
#pragma once

#include <ostream>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/cloneable.h"
#include "cnnkit/nn/options/upsampling.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit {
namespace nn {

class UpsampleImpl : public Cloneable<UpsampleImpl> {
 public:
  explicit UpsampleImpl(const UpsampleOptions& options_ = {});
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);

  UpsampleOptions options;
};
CNNKIT_MODULE(Upsample);

}  // namespace nn
}  // namespace cnnkit
