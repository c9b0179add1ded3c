// Linear (y = x W^T + b), Flatten and Identity (torch/nn/modules/linear.h). Linear's
// weight is (out_features, in_features), initialised as PyTorch does (kaiming_uniform_
// with a = sqrt(5), bias uniform in +-1/sqrt(in_features)).
//   nn::Linear fc(nn::LinearOptions(512, 10).bias(false));
//   nn::Flatten flat;              // (N, C, H, W) -> (N, C*H*W)
#pragma once

#include <ostream>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/cloneable.h"
#include "cnnkit/nn/options/linear.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit {
namespace nn {

class IdentityImpl : public Cloneable<IdentityImpl> {
 public:
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);
};
CNNKIT_MODULE(Identity);

class LinearImpl : public Cloneable<LinearImpl> {
 public:
  LinearImpl(int64_t in_features, int64_t out_features)
      : LinearImpl(LinearOptions(in_features, out_features)) {}
  explicit LinearImpl(const LinearOptions& options_);

  void reset() override;
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  // input (*, in_features) -> (*, out_features)
  Tensor forward(const Tensor& input);

  LinearOptions options;
  Tensor weight;  // (out_features, in_features)
  Tensor bias;    // (out_features) or undefined
};
CNNKIT_MODULE(Linear);

class FlattenImpl : public Cloneable<FlattenImpl> {
 public:
  explicit FlattenImpl(const FlattenOptions& options_ = {});
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);

  FlattenOptions options;
};
CNNKIT_MODULE(Flatten);

}  // namespace nn
}  // namespace cnnkit
