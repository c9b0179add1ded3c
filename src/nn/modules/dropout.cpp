// Dropout and Dropout2d layers: option checks, printing, and F::dropout / F::dropout2d
// with the module's training flag.
#include "cnnkit/nn/modules/dropout.h"

#include "nn/util.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/ops/dropout.h"
#include "nn/functional_internal.h"

namespace cnnkit {
namespace nn {
DropoutImpl::DropoutImpl(const DropoutOptions& options_) : options(options_) { reset(); }

void DropoutImpl::reset() { check_dropout_p(options.p(), "Dropout"); }

void DropoutImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::Dropout(p=" << options.p() << ", inplace=" << detail::bool_str(options.inplace()) << ")";
}

Tensor DropoutImpl::forward(Tensor input) {
  return functional::detail::dropout(std::move(input), options.p(), is_training(), options.inplace());
}

Dropout2dImpl::Dropout2dImpl(const Dropout2dOptions& options_) : options(options_) { reset(); }

void Dropout2dImpl::reset() { check_dropout_p(options.p(), "Dropout2d"); }

void Dropout2dImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::Dropout2d(p=" << options.p() << ", inplace=" << detail::bool_str(options.inplace())
         << ")";
}

Tensor Dropout2dImpl::forward(Tensor input) {
  return functional::detail::dropout2d(std::move(input), options.p(), is_training(), options.inplace());
}

}  // namespace nn
}  // namespace cnnkit
