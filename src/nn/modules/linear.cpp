// Linear, Flatten and Identity: parameters, PyTorch's default initialisation, printing
// and the input check naming the layer. The affine map is cnnkit::linear (ops/linalg).
#include "cnnkit/nn/modules/linear.h"

#include <cmath>

#include "nn/util.h"
#include "cnnkit/nn/init.h"
#include "cnnkit/ops/ops.h"

namespace cnnkit {
namespace nn {

void IdentityImpl::pretty_print(std::ostream& stream) const { stream << "cnnkit::nn::Identity()"; }

Tensor IdentityImpl::forward(const Tensor& input) { return input; }

LinearImpl::LinearImpl(const LinearOptions& options_) : options(options_) { reset(); }

void LinearImpl::reset() {
  CNNKIT_CHECK(options.in_features() >= 0 && options.out_features() >= 0,
               "Linear: in_features and out_features must be non-negative, got in_features=",
               options.in_features(), ", out_features=", options.out_features());
  weight = register_parameter("weight", cnnkit::empty({options.out_features(), options.in_features()}));
  if (options.bias())
    bias = register_parameter("bias", cnnkit::empty({options.out_features()}));
  else
    bias = register_parameter("bias", Tensor(), /*requires_grad=*/false);
  reset_parameters();
}

void LinearImpl::reset_parameters() {
  init::kaiming_uniform_(weight, /*a=*/std::sqrt(5.0));
  if (bias.defined()) {
    auto [fan_in, fan_out] = init::_calculate_fan_in_and_fan_out(weight);
    (void)fan_out;
    const double bound = fan_in > 0 ? 1 / std::sqrt(static_cast<double>(fan_in)) : 0;
    init::uniform_(bias, -bound, bound);
  }
}

void LinearImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::Linear(in_features=" << options.in_features()
         << ", out_features=" << options.out_features() << ", bias=" << detail::bool_str(options.bias()) << ")";
}

Tensor LinearImpl::forward(const Tensor& input) {
  CNNKIT_CHECK_SHAPE(input.dim() >= 1 && input.size(-1) == options.in_features(), detail::describe(*this),
                     ": expected input", input.sizes(), " to have ", options.in_features(),
                     " features in its last dimension, but got ", input.dim() >= 1 ? input.size(-1) : 0);
  return linear(input, weight, bias);
}

FlattenImpl::FlattenImpl(const FlattenOptions& options_) : options(options_) {}

void FlattenImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::Flatten(start_dim=" << options.start_dim() << ", end_dim=" << options.end_dim() << ")";
}

Tensor FlattenImpl::forward(const Tensor& input) { return input.flatten(options.start_dim(), options.end_dim()); }

}  // namespace nn
}  // namespace cnnkit
