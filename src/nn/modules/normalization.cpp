// BatchNorm1d/2d, InstanceNorm2d, LayerNorm, GroupNorm: parameters and buffers with
// PyTorch's names and defaults, the running-statistics bookkeeping (num_batches_tracked,
// cumulative momentum) and input checks naming the layer. The arithmetic is in ops/norm.
#include "cnnkit/nn/modules/normalization.h"

#include "nn/util.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/nn/init.h"
#include "cnnkit/nn/modules/container/sequential.h"
#include "cnnkit/ops/ops.h"
#include "nn/functional_internal.h"

namespace cnnkit {
namespace nn {
namespace {

// The int64 0-dim counter PyTorch keeps in `num_batches_tracked`.
Tensor counter_zero() {
  Tensor t = cnnkit::empty(IntArrayRef{}, kLong);
  *t.data_ptr<int64_t>() = 0;
  return t;
}

void check_channels(const Module& m, const Tensor& input, int64_t expected) {
  CNNKIT_CHECK_SHAPE(input.size(1) == expected, detail::describe(m), ": expected input", input.sizes(),
                     " to have ", expected, " channels (dim 1), but got ", input.size(1), " channels instead");
}

void print_norm(std::ostream& stream, const char* name, int64_t num_features, double eps,
                const std::optional<double>& momentum, bool affine, bool track_running_stats) {
  stream << "cnnkit::nn::" << name << "(" << num_features << ", eps=" << eps << ", momentum=";
  if (momentum.has_value())
    stream << *momentum;
  else
    stream << "None";
  stream << ", affine=" << detail::bool_str(affine)
         << ", track_running_stats=" << detail::bool_str(track_running_stats) << ")";
}

}  // namespace

// ---- BatchNorm ----------------------------------------------------------------------------

template <size_t D, typename Derived>
BatchNormImplBase<D, Derived>::BatchNormImplBase(const BatchNormOptions& options_) : options(options_) {
  reset();
}

template <size_t D, typename Derived>
void BatchNormImplBase<D, Derived>::reset() {
  const int64_t c = options.num_features();
  CNNKIT_CHECK(c > 0, "BatchNorm", D, "d: num_features must be positive, got ", c);
  if (options.affine()) {
    weight = this->register_parameter("weight", cnnkit::empty({c}));
    bias = this->register_parameter("bias", cnnkit::empty({c}));
  } else {
    weight = this->register_parameter("weight", Tensor(), /*requires_grad=*/false);
    bias = this->register_parameter("bias", Tensor(), /*requires_grad=*/false);
  }
  if (options.track_running_stats()) {
    running_mean = this->register_buffer("running_mean", zeros({c}));
    running_var = this->register_buffer("running_var", ones({c}));
    num_batches_tracked = this->register_buffer("num_batches_tracked", counter_zero());
  } else {
    running_mean = this->register_buffer("running_mean", Tensor());
    running_var = this->register_buffer("running_var", Tensor());
    num_batches_tracked = this->register_buffer("num_batches_tracked", Tensor());
  }
  reset_parameters();
}

template <size_t D, typename Derived>
void BatchNormImplBase<D, Derived>::reset_running_stats() {
  if (!options.track_running_stats()) return;
  NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1);
  *num_batches_tracked.data_ptr<int64_t>() = 0;
}

template <size_t D, typename Derived>
void BatchNormImplBase<D, Derived>::reset_parameters() {
  reset_running_stats();
  if (options.affine()) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

template <size_t D, typename Derived>
void BatchNormImplBase<D, Derived>::pretty_print(std::ostream& stream) const {
  const std::string name = sync ? std::string("SyncBatchNorm") : "BatchNorm" + std::to_string(D) + "d";
  print_norm(stream, name.c_str(), options.num_features(), options.eps(), options.momentum(), options.affine(),
             options.track_running_stats());
}

template <size_t D, typename Derived>
double BatchNormImplBase<D, Derived>::begin_forward(const Tensor& input) {
  _check_input_dim(input);
  check_channels(*this, input, options.num_features());
  double exponential_average_factor = options.momentum().value_or(0.0);
  if (this->is_training() && options.track_running_stats() && num_batches_tracked.defined()) {
    int64_t& batches = *num_batches_tracked.data_ptr<int64_t>();
    ++batches;
    // momentum=None: the running statistics are the plain average over all batches.
    if (!options.momentum().has_value()) exponential_average_factor = 1.0 / static_cast<double>(batches);
  }
  return exponential_average_factor;
}

template <size_t D, typename Derived>
Tensor BatchNormImplBase<D, Derived>::forward(const Tensor& input) {
  const double exponential_average_factor = begin_forward(input);
  if (sync && this->is_training())
    return sync->forward(input, weight, bias, running_mean, running_var, exponential_average_factor, options.eps());
  return functional::detail::batch_norm(input, running_mean, running_var, weight, bias,
                                        this->is_training() || !options.track_running_stats(),
                                        exponential_average_factor, options.eps());
}

template <size_t D, typename Derived>
Tensor BatchNormImplBase<D, Derived>::forward_relu(const Tensor& input, const Tensor& residual) {
  if ((sync && this->is_training()) || !sequential_rewrites()) {
    const Tensor y = forward(input);
    return functional::relu(residual.defined() ? y + residual : y);
  }
  const double exponential_average_factor = begin_forward(input);
  return batch_norm_relu(input, weight, bias, running_mean, running_var,
                         this->is_training() || !options.track_running_stats(), exponential_average_factor,
                         options.eps(), residual);
}

void BatchNorm1dImpl::_check_input_dim(const Tensor& input) {
  CNNKIT_CHECK_SHAPE(input.dim() == 2 || input.dim() == 3, detail::describe(*this),
                     ": expected 2D or 3D input (got ", input.dim(), "D input of size ", input.sizes(), ")");
}

void BatchNorm2dImpl::_check_input_dim(const Tensor& input) {
  CNNKIT_CHECK_SHAPE(input.dim() == 4, detail::describe(*this), ": expected 4D input (got ", input.dim(),
                     "D input of size ", input.sizes(), ")");
}

template class BatchNormImplBase<1, BatchNorm1dImpl>;
template class BatchNormImplBase<2, BatchNorm2dImpl>;

// ---- InstanceNorm2d -------------------------------------------------------------------------

InstanceNorm2dImpl::InstanceNorm2dImpl(const InstanceNorm2dOptions& options_) : options(options_) { reset(); }

void InstanceNorm2dImpl::reset() {
  const int64_t c = options.num_features();
  CNNKIT_CHECK(c > 0, "InstanceNorm2d: num_features must be positive, got ", c);
  if (options.affine()) {
    weight = register_parameter("weight", cnnkit::empty({c}));
    bias = register_parameter("bias", cnnkit::empty({c}));
  } else {
    weight = register_parameter("weight", Tensor(), /*requires_grad=*/false);
    bias = register_parameter("bias", Tensor(), /*requires_grad=*/false);
  }
  if (options.track_running_stats()) {
    running_mean = register_buffer("running_mean", zeros({c}));
    running_var = register_buffer("running_var", ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", counter_zero());
  } else {
    running_mean = register_buffer("running_mean", Tensor());
    running_var = register_buffer("running_var", Tensor());
    num_batches_tracked = register_buffer("num_batches_tracked", Tensor());
  }
  reset_parameters();
}

void InstanceNorm2dImpl::reset_running_stats() {
  if (!options.track_running_stats()) return;
  NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1);
  *num_batches_tracked.data_ptr<int64_t>() = 0;
}

void InstanceNorm2dImpl::reset_parameters() {
  reset_running_stats();
  if (options.affine()) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

void InstanceNorm2dImpl::pretty_print(std::ostream& stream) const {
  print_norm(stream, "InstanceNorm2d", options.num_features(), options.eps(), options.momentum(),
             options.affine(), options.track_running_stats());
}

Tensor InstanceNorm2dImpl::forward(const Tensor& input) {
  CNNKIT_CHECK_SHAPE(input.dim() == 3 || input.dim() == 4, detail::describe(*this),
                     ": expected 3D or 4D input (got ", input.dim(), "D input of size ", input.sizes(), ")");
  const bool batched = input.dim() == 4;
  const Tensor x = batched ? input : input.unsqueeze(0);
  // Without affine parameters or running statistics the channel count is free (PyTorch
  // only warns); with them it must match.
  if (options.affine() || options.track_running_stats()) check_channels(*this, x, options.num_features());
  Tensor y = functional::detail::instance_norm(x, running_mean, running_var, weight, bias,
                                               is_training() || !options.track_running_stats(), options.momentum(),
                                               options.eps());
  return batched ? y : y.squeeze(0);
}

// ---- LayerNorm ------------------------------------------------------------------------------

LayerNormImpl::LayerNormImpl(const LayerNormOptions& options_) : options(options_) { reset(); }

void LayerNormImpl::reset() {
  for (int64_t s : options.normalized_shape())
    CNNKIT_CHECK(s > 0, "LayerNorm: normalized_shape must be positive, got ", IntArrayRef(options.normalized_shape()));
  if (options.elementwise_affine()) {
    weight = register_parameter("weight", cnnkit::empty(options.normalized_shape()));
    bias = register_parameter("bias", cnnkit::empty(options.normalized_shape()));
  } else {
    weight = register_parameter("weight", Tensor(), /*requires_grad=*/false);
    bias = register_parameter("bias", Tensor(), /*requires_grad=*/false);
  }
  reset_parameters();
}

void LayerNormImpl::reset_parameters() {
  if (options.elementwise_affine()) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

void LayerNormImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::LayerNorm(" << IntArrayRef(options.normalized_shape()) << ", eps=" << options.eps()
         << ", elementwise_affine=" << detail::bool_str(options.elementwise_affine()) << ")";
}

Tensor LayerNormImpl::forward(const Tensor& input) {
  const IntArrayRef shape(options.normalized_shape());
  const auto k = static_cast<int64_t>(shape.size());
  const bool fits = input.dim() >= k && input.sizes().slice(static_cast<size_t>(input.dim() - k)).equals(shape);
  if (!fits) {
    std::ostringstream expected;
    expected << "[*";
    for (int64_t s : shape) expected << ", " << s;
    expected << "]";
    CNNKIT_CHECK_SHAPE(false, detail::describe(*this), ": Given normalized_shape=", shape,
                       ", expected input with shape ", expected.str(), ", but got input of size", input.sizes());
  }
  return layer_norm(input, shape, weight, bias, options.eps());
}

// ---- GroupNorm ------------------------------------------------------------------------------

GroupNormImpl::GroupNormImpl(const GroupNormOptions& options_) : options(options_) { reset(); }

void GroupNormImpl::reset() {
  CNNKIT_CHECK(options.num_groups() > 0 && options.num_channels() > 0,
               "GroupNorm: num_groups and num_channels must be positive, got num_groups=", options.num_groups(),
               ", num_channels=", options.num_channels());
  CNNKIT_CHECK(options.num_channels() % options.num_groups() == 0, "GroupNorm: num_channels (",
               options.num_channels(), ") must be divisible by num_groups (", options.num_groups(), ")");
  if (options.affine()) {
    weight = register_parameter("weight", cnnkit::empty({options.num_channels()}));
    bias = register_parameter("bias", cnnkit::empty({options.num_channels()}));
  } else {
    weight = register_parameter("weight", Tensor(), /*requires_grad=*/false);
    bias = register_parameter("bias", Tensor(), /*requires_grad=*/false);
  }
  reset_parameters();
}

void GroupNormImpl::reset_parameters() {
  if (options.affine()) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

void GroupNormImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::GroupNorm(" << options.num_groups() << ", " << options.num_channels()
         << ", eps=" << options.eps() << ", affine=" << detail::bool_str(options.affine()) << ")";
}

Tensor GroupNormImpl::forward(const Tensor& input) {
  CNNKIT_CHECK_SHAPE(input.dim() >= 2, detail::describe(*this),
                     ": expected input (N, C, *) with at least 2 dims, but got input of size ", input.sizes());
  check_channels(*this, input, options.num_channels());
  return group_norm(input, options.num_groups(), weight, bias, options.eps());
}

}  // namespace nn
}  // namespace cnnkit
