// IntArrayRef (c10::IntArrayRef): a non-owning view of int64 sizes, built from a braced
// list, a vector or a single integer; ExpandingArray<D> (torch::ExpandingArray): D values
// given as one integer (repeated) or D integers, as LibTorch's options take them.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <vector>

#include "cnnkit/core/error.h"

namespace cnnkit {

class IntArrayRef {
 public:
  IntArrayRef() = default;
  IntArrayRef(const int64_t& one) : data_(&one), size_(1) {}  // NOLINT: implicit like c10
  IntArrayRef(const int64_t* data, size_t size) : data_(data), size_(size) {}
  IntArrayRef(const std::vector<int64_t>& v) : data_(v.data()), size_(v.size()) {}  // NOLINT
  // Like c10: the list outlives the call it is passed to, which is all a view needs. (GCC's
  // -Winit-list-lifetime says otherwise; clang has no such warning and would warn on the name.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
#endif
  IntArrayRef(std::initializer_list<int64_t> l)  // NOLINT
      : data_(l.begin() == l.end() ? nullptr : l.begin()), size_(l.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  template <size_t N>
  IntArrayRef(const std::array<int64_t, N>& a) : data_(a.data()), size_(N) {}  // NOLINT

  const int64_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const int64_t* begin() const { return data_; }
  const int64_t* end() const { return data_ + size_; }
  const int64_t& operator[](size_t i) const { return data_[i]; }
  const int64_t& at(size_t i) const {
    CNNKIT_CHECK_T(ShapeError, i < size_, "IntArrayRef index ", i, " out of range for size ", size_);
    return data_[i];
  }
  const int64_t& front() const { return data_[0]; }
  const int64_t& back() const { return data_[size_ - 1]; }
  std::vector<int64_t> vec() const { return std::vector<int64_t>(begin(), end()); }
  bool equals(IntArrayRef other) const {
    return size_ == other.size_ && std::equal(begin(), end(), other.begin());
  }
  IntArrayRef slice(size_t start, size_t n) const { return IntArrayRef(data_ + start, n); }
  IntArrayRef slice(size_t start) const { return IntArrayRef(data_ + start, size_ - start); }

 private:
  const int64_t* data_ = nullptr;
  size_t size_ = 0;
};

inline bool operator==(IntArrayRef a, IntArrayRef b) { return a.equals(b); }
inline bool operator!=(IntArrayRef a, IntArrayRef b) { return !a.equals(b); }
inline bool operator==(IntArrayRef a, const std::vector<int64_t>& b) { return a.equals(b); }
inline bool operator==(const std::vector<int64_t>& a, IntArrayRef b) { return b.equals(a); }

inline std::ostream& operator<<(std::ostream& os, IntArrayRef a) {
  os << "[";
  for (size_t i = 0; i < a.size(); ++i) os << (i ? ", " : "") << a[i];
  return os << "]";
}

template <size_t D, typename T = int64_t>
class ExpandingArray {
 public:
  ExpandingArray(T single) { values_.fill(single); }  // NOLINT: 3 means {3, 3}
  ExpandingArray(std::initializer_list<T> list) { assign(list.begin(), list.size()); }  // NOLINT
  ExpandingArray(const std::vector<T>& v) { assign(v.data(), v.size()); }  // NOLINT
  ExpandingArray(const std::array<T, D>& a) : values_(a) {}  // NOLINT
  ExpandingArray(IntArrayRef v) { assign(v.data(), v.size()); }  // NOLINT

  T& operator[](size_t i) { return values_[i]; }
  const T& operator[](size_t i) const { return values_[i]; }
  T* operator->() { return &values_; }
  std::array<T, D>& operator*() { return values_; }
  const std::array<T, D>& operator*() const { return values_; }
  const T* data() const { return values_.data(); }
  constexpr size_t size() const { return D; }
  std::vector<T> vec() const { return std::vector<T>(values_.begin(), values_.end()); }
  operator IntArrayRef() const { return IntArrayRef(values_.data(), D); }  // NOLINT
  bool operator==(const ExpandingArray& o) const { return values_ == o.values_; }

 private:
  void assign(const T* p, size_t n) {
    CNNKIT_CHECK_T(ShapeError, n == D, "expected ", D, " values, got ", n);
    std::copy(p, p + n, values_.begin());
  }
  std::array<T, D> values_{};
};

// One value prints bare, as LibTorch prints a 1-d layer's kernel_size=3; more print [3, 3].
template <size_t D, typename T>
std::ostream& operator<<(std::ostream& os, const ExpandingArray<D, T>& a) {
  if constexpr (D == 1) return os << a[0];
  os << "[";
  for (size_t i = 0; i < D; ++i) os << (i ? ", " : "") << a[i];
  return os << "]";
}

template <size_t D>
using ExpandingArrayWithOptionalElem = ExpandingArray<D>;

}  // namespace cnnkit
