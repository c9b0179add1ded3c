// Tensor creation: constant fills, ranges, copies of C++ values, borrowed memory and
// random tensors. Random values come from a Generator (the global one unless given),
// drawn in row-major order while holding its mutex, so a seed fixes every value.
// Nothing here records autograd history: factories make leaves.
#include "cnnkit/ops/factory.h"
#include "core/tensor_internal.h"

#include <cmath>
#include <cstring>
#include <mutex>
#include <numeric>

#include "kernels/elementwise.h"

namespace cnnkit {

namespace {

kernels::Loop flat_loop(int64_t n) {
  kernels::Loop L;
  L.ndim = 1;
  L.noperands = 1;
  L.sizes[0] = n;
  L.strides[0][0] = 1;
  return L;
}

void fill_contiguous(const Tensor& t, double value) {
  if (value == 0) {
    if (t.nbytes() != 0) std::memset(t.data_ptr(), 0, t.nbytes());  // 0.0f, 0 and false are all-zero bytes
    return;
  }
  kernels::fill(t.data_ptr(), flat_loop(t.numel()), t.dtype(), value);
}

// Writes n values produced by gen_value(i) (as double) into t, converted to t's dtype.
template <typename F>
void write_values(const Tensor& t, const F& gen_value) {
  const int64_t n = t.numel();
  switch (t.dtype()) {
    case kFloat: {
      float* p = t.data_ptr<float>();
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(gen_value(i));
      break;
    }
    case kLong: {
      int64_t* p = t.data_ptr<int64_t>();
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int64_t>(gen_value(i));
      break;
    }
    case kByte: {
      uint8_t* p = t.data_ptr<uint8_t>();
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(static_cast<int64_t>(gen_value(i)));
      break;
    }
    case kBool: {
      uint8_t* p = static_cast<uint8_t*>(t.data_ptr());
      for (int64_t i = 0; i < n; ++i) p[i] = gen_value(i) != 0;
      break;
    }
    default: CNNKIT_ASSERT(false, "write_values: dtype ", t.dtype());
  }
}

ScalarType dtype_or(const TensorOptions& o, ScalarType fallback) { return o.has_dtype() ? o.dtype() : fallback; }

TensorOptions like_options(const Tensor& t, const std::optional<TensorOptions>& options) {
  if (!options) return TensorOptions(t.dtype());
  return options->dtype(dtype_or(*options, t.dtype()));
}

void check_float(ScalarType t, const char* name) {
  CNNKIT_CHECK_TYPE(t == kFloat || t == kDouble, name, ": expected a floating-point dtype, got ", t);
}

// Copies `n` C++ values into a new tensor of `sizes`, converting to the options' dtype.
template <typename T>
Tensor from_values(const T* values, IntArrayRef sizes, const TensorOptions& options, ScalarType default_dtype) {
  const ScalarType dt = dtype_or(options, default_dtype);
  Tensor t = empty(sizes, TensorOptions(dt).requires_grad(options.requires_grad()));
  write_values(t, [values](int64_t i) { return static_cast<double>(values[i]); });
  return t;
}

template <typename T>
Tensor from_rows(std::initializer_list<std::initializer_list<T>> rows, const TensorOptions& options,
                 ScalarType default_dtype) {
  const int64_t r = static_cast<int64_t>(rows.size());
  if (r == 0) return from_values<T>(nullptr, {0}, options, default_dtype);
  const int64_t c = static_cast<int64_t>(rows.begin()->size());
  std::vector<T> flat;
  flat.reserve(static_cast<size_t>(r * c));
  for (const auto& row : rows) {
    CNNKIT_CHECK_SHAPE(static_cast<int64_t>(row.size()) == c, "tensor: expected every row to have ", c,
                       " values (as the first row), got a row of ", row.size());
    flat.insert(flat.end(), row.begin(), row.end());
  }
  return from_values(flat.data(), {r, c}, options, default_dtype);
}

}  // namespace

// ---- constant fills ---------------------------------------------------------------------------

Tensor zeros(IntArrayRef sizes, TensorOptions options) {
  Tensor t = empty(sizes, options);
  fill_contiguous(t, 0);
  return t;
}

Tensor ones(IntArrayRef sizes, TensorOptions options) { return full(sizes, 1.0, options); }

Tensor full(IntArrayRef sizes, double value, TensorOptions options) {
  Tensor t = empty(sizes, options);
  fill_contiguous(t, value);
  return t;
}

Tensor full_integral(IntArrayRef sizes, int64_t value, bool is_bool, TensorOptions options) {
  if (!options.has_dtype()) options = options.dtype(is_bool ? kBool : kLong);
  return full(sizes, static_cast<double>(value), options);
}

Tensor empty_like(const Tensor& t, std::optional<TensorOptions> options) {
  return empty(t.sizes(), like_options(t, options));
}
Tensor zeros_like(const Tensor& t, std::optional<TensorOptions> options) {
  return zeros(t.sizes(), like_options(t, options));
}
Tensor ones_like(const Tensor& t, std::optional<TensorOptions> options) {
  return ones(t.sizes(), like_options(t, options));
}
Tensor full_like(const Tensor& t, double value, std::optional<TensorOptions> options) {
  return full(t.sizes(), value, like_options(t, options));
}
Tensor rand_like(const Tensor& t, std::optional<TensorOptions> options) {
  return rand(t.sizes(), like_options(t, options));
}
Tensor randn_like(const Tensor& t, std::optional<TensorOptions> options) {
  return randn(t.sizes(), like_options(t, options));
}

Tensor eye(int64_t n, TensorOptions options) {
  CNNKIT_CHECK(n >= 0, "eye: n must be greater or equal to 0, got ", n);
  Tensor t = zeros({n, n}, options);
  write_values(t, [n](int64_t i) { return i / n == i % n ? 1.0 : 0.0; });
  return t;
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions options) {
  CNNKIT_CHECK(steps >= 0, "linspace: number of steps must be non-negative, got ", steps);
  Tensor t = empty({steps}, options);
  const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0;
  const int64_t half = steps / 2;
  // Both halves count from their own end, as PyTorch's kernel does, so end is exact.
  write_values(t, [=](int64_t i) {
    return i < half ? start + step * static_cast<double>(i) : end - step * static_cast<double>(steps - 1 - i);
  });
  return t;
}

Tensor arange_impl(double start, double end, double step, bool integral, TensorOptions options) {
  CNNKIT_CHECK(step != 0, "arange: step must be nonzero");
  CNNKIT_CHECK(std::isfinite(start) && std::isfinite(end), "arange: unsupported range: ", start, " -> ", end);
  CNNKIT_CHECK((step > 0 && end >= start) || (step < 0 && end <= start),
               "arange: upper bound and larger bound inconsistent with step sign (start ", start, ", end ", end,
               ", step ", step, ")");
  const int64_t n = static_cast<int64_t>(std::ceil((end - start) / step));
  Tensor t = empty({n}, options.dtype(dtype_or(options, integral ? kLong : kFloat)));
  write_values(t, [=](int64_t i) { return start + static_cast<double>(i) * step; });
  return t;
}

// ---- copies of C++ values -----------------------------------------------------------------------

Tensor tensor(const std::vector<float>& values, TensorOptions options) {
  return from_values(values.data(), {static_cast<int64_t>(values.size())}, options, kFloat);
}
Tensor tensor(const std::vector<double>& values, TensorOptions options) {
  return from_values(values.data(), {static_cast<int64_t>(values.size())}, options, kFloat);
}
Tensor tensor(const std::vector<int64_t>& values, TensorOptions options) {
  return from_values(values.data(), {static_cast<int64_t>(values.size())}, options, kLong);
}
Tensor tensor(std::initializer_list<float> values, TensorOptions options) {
  return from_values(values.begin(), {static_cast<int64_t>(values.size())}, options, kFloat);
}
Tensor tensor(std::initializer_list<double> values, TensorOptions options) {
  return from_values(values.begin(), {static_cast<int64_t>(values.size())}, options, kFloat);
}
Tensor tensor(std::initializer_list<int> values, TensorOptions options) {
  return from_values(values.begin(), {static_cast<int64_t>(values.size())}, options, kLong);
}
Tensor tensor(std::initializer_list<int64_t> values, TensorOptions options) {
  return from_values(values.begin(), {static_cast<int64_t>(values.size())}, options, kLong);
}
Tensor detail::tensor_rows(std::initializer_list<std::initializer_list<double>> rows, TensorOptions options) {
  return from_rows(rows, options, kFloat);
}
Tensor detail::tensor_rows(std::initializer_list<std::initializer_list<float>> rows, TensorOptions options) {
  return from_rows(rows, options, kFloat);
}
Tensor detail::tensor_rows(std::initializer_list<std::initializer_list<int>> rows, TensorOptions options) {
  return from_rows(rows, options, kLong);
}
Tensor detail::tensor_rows(std::initializer_list<std::initializer_list<int64_t>> rows, TensorOptions options) {
  return from_rows(rows, options, kLong);
}
Tensor tensor(double value, TensorOptions options) { return from_values(&value, {}, options, kFloat); }
Tensor tensor(float value, TensorOptions options) { return from_values(&value, {}, options, kFloat); }
Tensor tensor(int value, TensorOptions options) { return from_values(&value, {}, options, kLong); }
Tensor tensor(int64_t value, TensorOptions options) { return from_values(&value, {}, options, kLong); }
Tensor tensor(std::initializer_list<bool> values, TensorOptions options) {
  return from_values(values.begin(), {static_cast<int64_t>(values.size())}, options, kBool);
}
Tensor tensor(bool value, TensorOptions options) { return from_values(&value, {}, options, kBool); }
Tensor scalar_tensor(double value, TensorOptions options) { return from_values(&value, {}, options, kFloat); }

// ---- borrowed memory ----------------------------------------------------------------------------

Tensor from_blob(void* data, IntArrayRef sizes, TensorOptions options) {
  std::vector<int64_t> strides = detail::contiguous_strides(sizes);
  return from_blob(data, sizes, strides, options);
}

Tensor from_blob(void* data, IntArrayRef sizes, IntArrayRef strides, TensorOptions options) {
  CNNKIT_CHECK_SHAPE(strides.size() == sizes.size(), "from_blob: ", sizes.size(), " sizes ", sizes, " but ",
                     strides.size(), " strides ", strides);
  CNNKIT_CHECK_TYPE(options.dtype() != kDouble, "from_blob: float64 memory cannot be wrapped; cnnkit computes "
                    "in float32 (convert the data, or wrap it with a float32 copy via tensor())");
  CNNKIT_CHECK(options.device().is_cpu(), "from_blob: cnnkit runs on the CPU; a CUDA device was requested");
  const int64_t n = detail::checked_numel(sizes, "from_blob sizes");
  int64_t span = n == 0 ? 0 : 1;  // elements from the first to one past the last
  for (size_t d = 0; d < sizes.size() && n > 0; ++d) {
    CNNKIT_CHECK_SHAPE(strides[d] >= 0, "from_blob: negative stride ", strides[d], " in ", strides);
    span += (sizes[d] - 1) * strides[d];
  }
  CNNKIT_CHECK(data != nullptr || n == 0, "from_blob: null data pointer for ", n, " elements");
  const ScalarType dt = options.dtype();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(data, static_cast<size_t>(span) * element_size(dt));
  impl->sizes = sizes.vec();
  impl->strides = strides.vec();
  impl->dtype = dt;
  Tensor t(std::move(impl));
  if (options.requires_grad()) t.set_requires_grad(true);
  return t;
}

// ---- random -------------------------------------------------------------------------------------

Tensor rand(IntArrayRef sizes, Generator& gen, TensorOptions options) {
  check_float(options.dtype(), "rand");
  Tensor t = empty(sizes, options);
  float* p = t.data_ptr<float>();
  std::lock_guard<std::mutex> lock(gen.mutex());
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = gen.uniform();
  return t;
}

Tensor randn(IntArrayRef sizes, Generator& gen, TensorOptions options) {
  check_float(options.dtype(), "randn");
  Tensor t = empty(sizes, options);
  float* p = t.data_ptr<float>();
  std::lock_guard<std::mutex> lock(gen.mutex());
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = gen.normal();
  return t;
}

Tensor rand(IntArrayRef sizes, TensorOptions options) { return rand(sizes, default_generator(), options); }
Tensor randn(IntArrayRef sizes, TensorOptions options) { return randn(sizes, default_generator(), options); }

Tensor randint(int64_t high, IntArrayRef sizes, TensorOptions options) { return randint(0, high, sizes, options); }

Tensor randint(int64_t low, int64_t high, IntArrayRef sizes, TensorOptions options) {
  CNNKIT_CHECK(low < high, "randint: expected 'low' to be less than 'high', but got low=", low, " >= high=", high);
  Tensor t = empty(sizes, options.dtype(dtype_or(options, kLong)));
  Generator& gen = default_generator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  write_values(t, [&](int64_t) { return static_cast<double>(gen.randint(low, high)); });
  return t;
}

Tensor randperm(int64_t n, Generator& gen, TensorOptions options) {
  CNNKIT_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), int64_t{0});
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    for (int64_t i = 0; i + 1 < n; ++i) std::swap(perm[i], perm[gen.randint(i, n)]);  // Fisher-Yates
  }
  return from_values(perm.data(), {n}, options, kLong);
}

Tensor randperm(int64_t n, TensorOptions options) { return randperm(n, default_generator(), options); }

Tensor bernoulli(const Tensor& probabilities) {
  CNNKIT_CHECK_TYPE(probabilities.dtype() == kFloat, "bernoulli: expected float32 probabilities, got ",
                    probabilities.dtype());
  std::vector<float> p = probabilities.to_vector();  // row-major, whatever the strides
  for (float v : p) CNNKIT_CHECK(v >= 0 && v <= 1, "bernoulli: expected all probabilities in [0, 1], got ", v);
  Tensor t = empty(probabilities.sizes(), kFloat);
  float* out = t.data_ptr<float>();
  Generator& gen = default_generator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  for (size_t i = 0; i < p.size(); ++i) out[i] = gen.uniform() < p[i] ? 1.0f : 0.0f;
  return t;
}

}  // namespace cnnkit
