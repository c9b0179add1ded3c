// Activation layers: option checks, LibTorch's printing, and the ops of ops/activation
// and ops/softmax (through nn::functional where options apply). PReLU owns its slope.
#include "cnnkit/nn/modules/activation.h"

#include "nn/util.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/ops/ops.h"

namespace cnnkit {
namespace nn {

namespace F = functional;

ReLUImpl::ReLUImpl(const ReLUOptions& options_) : options(options_) {}
void ReLUImpl::reset() {}
void ReLUImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::ReLU(" << (options.inplace() ? "inplace=true" : "") << ")";
}
Tensor ReLUImpl::forward(Tensor input) { return F::relu(std::move(input), options); }

ReLU6Impl::ReLU6Impl(const ReLU6Options& options_) : options(options_) {}
void ReLU6Impl::reset() {}
void ReLU6Impl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::ReLU6(" << (options.inplace() ? "inplace=true" : "") << ")";
}
Tensor ReLU6Impl::forward(Tensor input) { return F::relu6(std::move(input), options); }

SELUImpl::SELUImpl(const SELUOptions& options_) : options(options_) {}
void SELUImpl::reset() {}
void SELUImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::SELU(" << (options.inplace() ? "inplace=true" : "") << ")";
}
Tensor SELUImpl::forward(Tensor input) { return F::selu(std::move(input), options); }

LeakyReLUImpl::LeakyReLUImpl(const LeakyReLUOptions& options_) : options(options_) {}
void LeakyReLUImpl::reset() {}
void LeakyReLUImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::LeakyReLU(negative_slope=" << options.negative_slope()
         << (options.inplace() ? ", inplace=true" : "") << ")";
}
Tensor LeakyReLUImpl::forward(Tensor input) { return F::leaky_relu(std::move(input), options); }

ELUImpl::ELUImpl(const ELUOptions& options_) : options(options_) {}
void ELUImpl::reset() {}
void ELUImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::ELU(alpha=" << options.alpha() << (options.inplace() ? ", inplace=true" : "") << ")";
}
Tensor ELUImpl::forward(Tensor input) { return F::elu(std::move(input), options); }

GELUImpl::GELUImpl(const GELUOptions& options_) : options(options_) { reset(); }
void GELUImpl::reset() { check_gelu_approximate(options.approximate()); }
void GELUImpl::pretty_print(std::ostream& stream) const { stream << "cnnkit::nn::GELU()"; }
Tensor GELUImpl::forward(const Tensor& input) { return F::gelu(input, options); }

HardtanhImpl::HardtanhImpl(const HardtanhOptions& options_) : options(options_) { reset(); }
void HardtanhImpl::reset() { check_hardtanh_range(options.min_val(), options.max_val()); }
void HardtanhImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::Hardtanh(min_val=" << options.min_val() << ", max_val=" << options.max_val()
         << (options.inplace() ? ", inplace=true" : "") << ")";
}
Tensor HardtanhImpl::forward(Tensor input) { return F::hardtanh(std::move(input), options); }

SoftplusImpl::SoftplusImpl(const SoftplusOptions& options_) : options(options_) {}
void SoftplusImpl::reset() {}
void SoftplusImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::Softplus(beta=" << options.beta() << ", threshold=" << options.threshold() << ")";
}
Tensor SoftplusImpl::forward(const Tensor& input) { return F::softplus(input, options); }

#define CNNKIT_DEFINE_ACTIVATION_MODULE(Module, function, ...)                                    \
  void Module##Impl::pretty_print(std::ostream& stream) const { stream << "cnnkit::nn::" #Module "()"; } \
  Tensor Module##Impl::forward(const Tensor& input) { return ::cnnkit::function(input); }
CNNKIT_PLAIN_ACTIVATIONS(CNNKIT_DEFINE_ACTIVATION_MODULE)
#undef CNNKIT_DEFINE_ACTIVATION_MODULE

SoftmaxImpl::SoftmaxImpl(const SoftmaxOptions& options_) : options(options_) {}
void SoftmaxImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::Softmax(dim=" << options.dim() << ")";
}
Tensor SoftmaxImpl::forward(const Tensor& input) { return softmax(input, options.dim()); }

LogSoftmaxImpl::LogSoftmaxImpl(const LogSoftmaxOptions& options_) : options(options_) {}
void LogSoftmaxImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::LogSoftmax(dim=" << options.dim() << ")";
}
Tensor LogSoftmaxImpl::forward(const Tensor& input) { return log_softmax(input, options.dim()); }

PReLUImpl::PReLUImpl(const PReLUOptions& options_) : options(options_) { reset(); }

void PReLUImpl::reset() {
  CNNKIT_CHECK(options.num_parameters() > 0, "PReLU: num_parameters must be positive, got ",
               options.num_parameters());
  weight = register_parameter("weight", cnnkit::empty({options.num_parameters()}));
  reset_parameters();
}

void PReLUImpl::reset_parameters() {
  NoGradGuard no_grad;
  weight.fill_(options.init());
}

void PReLUImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::PReLU(num_parameters=" << options.num_parameters() << ")";
}

Tensor PReLUImpl::forward(const Tensor& input) {
  if (options.num_parameters() != 1) {
    CNNKIT_CHECK_SHAPE(input.dim() >= 2 && input.size(1) == options.num_parameters(), detail::describe(*this),
                       ": expected input", input.sizes(), " to have ", options.num_parameters(),
                       " channels (dim 1), one per parameter");
  }
  return prelu(input, weight);
}

}  // namespace nn
}  // namespace cnnkit
