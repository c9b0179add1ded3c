// Tensor creation (torch::zeros, torch::arange, torch::from_blob, torch::tensor, ...).
// Float by default; integer arguments to arange/full/tensor give int64 as in PyTorch.
#pragma once

#include <initializer_list>
#include <type_traits>
#include <vector>

#include "cnnkit/core/rng.h"
#include "cnnkit/core/tensor.h"

namespace cnnkit {

Tensor zeros(IntArrayRef sizes, TensorOptions options = {});
Tensor ones(IntArrayRef sizes, TensorOptions options = {});
Tensor full(IntArrayRef sizes, double value, TensorOptions options = {});
// An integer or bool fill value sets the dtype when options do not, as at::full does:
// full({2}, 7) is int64, full({2}, true) bool, full({2}, 7.0) float.
Tensor full_integral(IntArrayRef sizes, int64_t value, bool is_bool, TensorOptions options);
template <typename V, std::enable_if_t<std::is_integral_v<V>, int> = 0>
Tensor full(IntArrayRef sizes, V value, TensorOptions options = {}) {
  return full_integral(sizes, static_cast<int64_t>(value), std::is_same_v<V, bool>, options);
}
Tensor empty_like(const Tensor& t, std::optional<TensorOptions> options = std::nullopt);
Tensor zeros_like(const Tensor& t, std::optional<TensorOptions> options = std::nullopt);
Tensor ones_like(const Tensor& t, std::optional<TensorOptions> options = std::nullopt);
Tensor full_like(const Tensor& t, double value, std::optional<TensorOptions> options = std::nullopt);
Tensor rand_like(const Tensor& t, std::optional<TensorOptions> options = std::nullopt);
Tensor randn_like(const Tensor& t, std::optional<TensorOptions> options = std::nullopt);
Tensor rand(IntArrayRef sizes, TensorOptions options = {});   // U[0, 1)
Tensor randn(IntArrayRef sizes, TensorOptions options = {});  // N(0, 1)
Tensor rand(IntArrayRef sizes, Generator& gen, TensorOptions options = {});
Tensor randn(IntArrayRef sizes, Generator& gen, TensorOptions options = {});
Tensor randint(int64_t high, IntArrayRef sizes, TensorOptions options = kLong);
Tensor randint(int64_t low, int64_t high, IntArrayRef sizes, TensorOptions options = kLong);
Tensor randperm(int64_t n, TensorOptions options = kLong);
Tensor randperm(int64_t n, Generator& gen, TensorOptions options = kLong);
Tensor eye(int64_t n, TensorOptions options = {});
Tensor linspace(double start, double end, int64_t steps, TensorOptions options = {});
Tensor bernoulli(const Tensor& probabilities);

// Wraps memory the caller owns (no copy, not freed). Contiguous unless strides are given.
Tensor from_blob(void* data, IntArrayRef sizes, TensorOptions options = {});
Tensor from_blob(void* data, IntArrayRef sizes, IntArrayRef strides, TensorOptions options = {});

// arange(end), arange(start, end), arange(start, end, step): int64 if every argument is an
// integer and no dtype is given, else float.
Tensor arange_impl(double start, double end, double step, bool integral, TensorOptions options);
template <typename E, std::enable_if_t<std::is_arithmetic_v<E>, int> = 0>
Tensor arange(E end, TensorOptions options = {}) {
  return arange_impl(0, static_cast<double>(end), 1, std::is_integral_v<E>, options);
}
template <typename S, typename E,
          std::enable_if_t<std::is_arithmetic_v<S> && std::is_arithmetic_v<E>, int> = 0>
Tensor arange(S start, E end, TensorOptions options = {}) {
  return arange_impl(static_cast<double>(start), static_cast<double>(end), 1,
                     std::is_integral_v<S> && std::is_integral_v<E>, options);
}
template <typename S, typename E, typename P,
          std::enable_if_t<std::is_arithmetic_v<S> && std::is_arithmetic_v<E> && std::is_arithmetic_v<P>, int> = 0>
Tensor arange(S start, E end, P step, TensorOptions options = {}) {
  return arange_impl(static_cast<double>(start), static_cast<double>(end), static_cast<double>(step),
                     std::is_integral_v<S> && std::is_integral_v<E> && std::is_integral_v<P>, options);
}

// torch::tensor: a copy of the values; nested lists give 2-d tensors.
Tensor tensor(const std::vector<float>& values, TensorOptions options = {});
Tensor tensor(const std::vector<double>& values, TensorOptions options = {});
Tensor tensor(const std::vector<int64_t>& values, TensorOptions options = kLong);
Tensor tensor(std::initializer_list<float> values, TensorOptions options = {});
Tensor tensor(std::initializer_list<double> values, TensorOptions options = {});
Tensor tensor(std::initializer_list<int> values, TensorOptions options = kLong);
Tensor tensor(std::initializer_list<int64_t> values, TensorOptions options = kLong);
namespace detail {
Tensor tensor_rows(std::initializer_list<std::initializer_list<double>> rows, TensorOptions options);
Tensor tensor_rows(std::initializer_list<std::initializer_list<float>> rows, TensorOptions options);
Tensor tensor_rows(std::initializer_list<std::initializer_list<int>> rows, TensorOptions options);      // int64
Tensor tensor_rows(std::initializer_list<std::initializer_list<int64_t>> rows, TensorOptions options);  // int64
}  // namespace detail
// Rows of doubles or floats (a float tensor), or of ints (an int64 tensor): one template, the
// element type deduced from the literals. Separate overloads made {{1, 2}} resolve differently
// in GCC (int rows) and clang (double rows); rows that mix ints and floating literals do not
// compile, as LibTorch refuses them ("Expected all elements of the tensor to have the same
// scalar type").
template <typename T, std::enable_if_t<std::is_same_v<T, double> || std::is_same_v<T, float> ||
                                           std::is_same_v<T, int> || std::is_same_v<T, int64_t>,
                                       int> = 0>
Tensor tensor(std::initializer_list<std::initializer_list<T>> rows, TensorOptions options = {}) {
  return detail::tensor_rows(rows, options);
}
Tensor tensor(double value, TensorOptions options = {});   // 0-dim
Tensor tensor(float value, TensorOptions options = {});    // 0-dim
Tensor tensor(int value, TensorOptions options = kLong);   // 0-dim
Tensor tensor(int64_t value, TensorOptions options = kLong);  // 0-dim
// Bools make bool tensors, as torch::tensor({true, false}) (not int64 through int).
Tensor tensor(std::initializer_list<bool> values, TensorOptions options = kBool);
Tensor tensor(bool value, TensorOptions options = kBool);  // 0-dim
Tensor scalar_tensor(double value, TensorOptions options = {});

}  // namespace cnnkit
