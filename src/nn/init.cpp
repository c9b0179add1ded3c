// nn::init: PyTorch's initialisers (torch/nn/init.py) on top of Tensor::uniform_ /
// normal_ / fill_, which draw from the global generator. eye_ and dirac_ write elements
// directly. orthogonal_ and sparse_ are not provided.
#include "cnnkit/nn/init.h"

#include <algorithm>
#include <cmath>

#include "cnnkit/autograd/grad_mode.h"

namespace cnnkit {
namespace nn {
namespace init {
namespace {

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

void check_defined(const Tensor& t, const char* fn) {
  CNNKIT_CHECK(t.defined(), "nn::init::", fn, ": the tensor is undefined");
}

double fan(const Tensor& tensor, FanModeType mode) {
  auto [fan_in, fan_out] = _calculate_fan_in_and_fan_out(tensor);
  return static_cast<double>(std::holds_alternative<enumtype::kFanIn>(mode) ? fan_in : fan_out);
}

}  // namespace

double calculate_gain(NonlinearityType nonlinearity, double param) {
  return std::visit(
      overloaded{[](enumtype::kTanh) { return 5.0 / 3; },
                 [](enumtype::kReLU) { return std::sqrt(2.0); },
                 [param](enumtype::kLeakyReLU) { return std::sqrt(2.0 / (1 + param * param)); },
                 [](enumtype::kSELU) { return 3.0 / 4; },
                 [](auto) { return 1.0; }},  // linear, conv*, sigmoid
      nonlinearity);
}

std::tuple<int64_t, int64_t> _calculate_fan_in_and_fan_out(const Tensor& tensor) {
  check_defined(tensor, "_calculate_fan_in_and_fan_out");
  CNNKIT_CHECK_SHAPE(tensor.dim() >= 2,
                     "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions (got ",
                     tensor.dim(), " dims, size ", tensor.sizes(), ")");
  int64_t receptive_field = 1;
  for (int64_t d = 2; d < tensor.dim(); ++d) receptive_field *= tensor.size(d);
  return {tensor.size(1) * receptive_field, tensor.size(0) * receptive_field};
}

Tensor constant_(Tensor tensor, double value) {
  check_defined(tensor, "constant_");
  NoGradGuard no_grad;
  tensor.fill_(value);
  return tensor;
}

Tensor zeros_(Tensor tensor) {
  check_defined(tensor, "zeros_");
  NoGradGuard no_grad;
  tensor.zero_();
  return tensor;
}

Tensor ones_(Tensor tensor) { return constant_(std::move(tensor), 1.0); }

Tensor uniform_(Tensor tensor, double low, double high) {
  check_defined(tensor, "uniform_");
  NoGradGuard no_grad;
  tensor.uniform_(low, high);
  return tensor;
}

Tensor normal_(Tensor tensor, double mean, double std) {
  check_defined(tensor, "normal_");
  NoGradGuard no_grad;
  tensor.normal_(mean, std);
  return tensor;
}

Tensor eye_(Tensor matrix) {
  check_defined(matrix, "eye_");
  CNNKIT_CHECK_SHAPE(matrix.dim() == 2, "Only tensors with 2 dimensions are supported by eye_, got ", matrix.dim(),
                     " dims ", matrix.sizes());
  NoGradGuard no_grad;
  matrix.zero_();
  const int64_t n = std::min(matrix.size(0), matrix.size(1));
  auto* p = static_cast<char*>(matrix.data_ptr());
  const auto step = static_cast<int64_t>(matrix.element_size()) * (matrix.stride(0) + matrix.stride(1));
  // One element per diagonal position, written in the tensor's own dtype.
  for (int64_t i = 0; i < n; ++i) {
    char* e = p + i * step;
    switch (matrix.dtype()) {
      case ScalarType::Float: *reinterpret_cast<float*>(e) = 1.f; break;
      case ScalarType::Double: *reinterpret_cast<double*>(e) = 1.0; break;
      case ScalarType::Long: *reinterpret_cast<int64_t*>(e) = 1; break;
      case ScalarType::Byte:
      case ScalarType::Bool: *reinterpret_cast<uint8_t*>(e) = 1; break;
    }
  }
  return matrix;
}

Tensor dirac_(Tensor tensor) {
  check_defined(tensor, "dirac_");
  const int64_t dims = tensor.dim();
  CNNKIT_CHECK_SHAPE(dims >= 3 && dims <= 5, "Only tensors with 3, 4, or 5 dimensions are supported by dirac_, got ",
                     dims, " dims ", tensor.sizes());
  CNNKIT_CHECK_TYPE(tensor.dtype() == kFloat, "dirac_: expected a float32 tensor, got ", tensor.dtype());
  NoGradGuard no_grad;
  tensor.zero_();
  const int64_t min_dim = std::min(tensor.size(0), tensor.size(1));
  auto* p = tensor.data_ptr<float>();
  for (int64_t d = 0; d < min_dim; ++d) {
    int64_t offset = d * tensor.stride(0) + d * tensor.stride(1);
    for (int64_t k = 2; k < dims; ++k) offset += (tensor.size(k) / 2) * tensor.stride(k);
    p[offset] = 1.f;
  }
  return tensor;
}

Tensor xavier_uniform_(Tensor tensor, double gain) {
  auto [fan_in, fan_out] = _calculate_fan_in_and_fan_out(tensor);
  const double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  const double a = std::sqrt(3.0) * std;
  return uniform_(std::move(tensor), -a, a);
}

Tensor xavier_normal_(Tensor tensor, double gain) {
  auto [fan_in, fan_out] = _calculate_fan_in_and_fan_out(tensor);
  const double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  return normal_(std::move(tensor), 0, std);
}

Tensor kaiming_uniform_(Tensor tensor, double a, FanModeType mode, NonlinearityType nonlinearity) {
  check_defined(tensor, "kaiming_uniform_");
  if (tensor.numel() == 0) return tensor;  // PyTorch warns and leaves it
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(fan(tensor, mode));
  const double bound = std::sqrt(3.0) * std;
  return uniform_(std::move(tensor), -bound, bound);
}

Tensor kaiming_normal_(Tensor tensor, double a, FanModeType mode, NonlinearityType nonlinearity) {
  check_defined(tensor, "kaiming_normal_");
  if (tensor.numel() == 0) return tensor;
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(fan(tensor, mode));
  return normal_(std::move(tensor), 0, std);
}

}  // namespace init
}  // namespace nn
}  // namespace cnnkit
