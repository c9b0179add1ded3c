// Tensor indexing with LibTorch's C++ spelling of Python's subscripts:
//
//   x.index({Slice(), 0})             // x[:, 0]
//   x.index({"...", Slice(None, 2)})  // x[..., :2]
//   x.index({None, mask})             // x[None, mask]   (bool mask: advanced indexing)
//   x.index({idx, Slice(1, None, 2)}) // x[idx, 1::2]    (int64 index tensor)
//   x.index_put_({mask}, 0.0)         // x[mask] = 0
//
// Integers select, slices view (step > 0, bounds clamped as in Python), None inserts a
// dimension, one Ellipsis stands for the dimensions not named, true/false insert a
// dimension of size 1/0, and int64/bool tensors are NumPy advanced indices: they broadcast
// together, their result dimensions replace theirs when they are adjacent and come first
// otherwise. Basic indices give views; advanced ones copy. Both are differentiable.
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>

#include "cnnkit/core/tensor.h"

namespace cnnkit::indexing {

struct EllipsisIndexType final {
  EllipsisIndexType() = default;
};
inline constexpr EllipsisIndexType Ellipsis;
inline constexpr std::nullopt_t None = std::nullopt;

// Python's start:stop:step; an empty field is std::nullopt (`None`).
class Slice final {
 public:
  Slice(std::optional<int64_t> start = std::nullopt, std::optional<int64_t> stop = std::nullopt,  // NOLINT
        std::optional<int64_t> step = std::nullopt)
      : start_(start), stop_(stop), step_(step) {}
  std::optional<int64_t> start() const { return start_; }
  std::optional<int64_t> stop() const { return stop_; }
  std::optional<int64_t> step() const { return step_; }

 private:
  std::optional<int64_t> start_, stop_, step_;
};

class TensorIndex final {
 public:
  enum class Kind { kNone, kEllipsis, kInteger, kBoolean, kSlice, kTensor };

  TensorIndex(std::nullopt_t) : kind_(Kind::kNone) {}  // NOLINT
  TensorIndex(EllipsisIndexType) : kind_(Kind::kEllipsis) {}  // NOLINT
  TensorIndex(const char* str);  // NOLINT: only "..." is accepted
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  TensorIndex(T integer) : kind_(Kind::kInteger), integer_(static_cast<int64_t>(integer)) {}  // NOLINT
  template <typename T, std::enable_if_t<std::is_same_v<T, bool>, int> = 0>
  TensorIndex(T boolean) : kind_(Kind::kBoolean), boolean_(boolean) {}  // NOLINT
  TensorIndex(Slice slice) : kind_(Kind::kSlice), slice_(slice) {}  // NOLINT
  TensorIndex(Tensor tensor) : kind_(Kind::kTensor), tensor_(std::move(tensor)) {}  // NOLINT

  Kind kind() const { return kind_; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_ellipsis() const { return kind_ == Kind::kEllipsis; }
  bool is_integer() const { return kind_ == Kind::kInteger; }
  bool is_boolean() const { return kind_ == Kind::kBoolean; }
  bool is_slice() const { return kind_ == Kind::kSlice; }
  bool is_tensor() const { return kind_ == Kind::kTensor; }
  int64_t integer() const { return integer_; }
  bool boolean() const { return boolean_; }
  const Slice& slice() const { return slice_; }
  const Tensor& tensor() const { return tensor_; }

 private:
  Kind kind_;
  int64_t integer_ = 0;
  bool boolean_ = false;
  Slice slice_;
  Tensor tensor_;
};

std::ostream& operator<<(std::ostream& os, const TensorIndex& index);

}  // namespace cnnkit::indexing

namespace cnnkit {

// Indices (int64, [N, dim]) of the non-zero elements, in row-major order.
Tensor nonzero(const Tensor& a);
// The elements of a where mask (broadcast together) is true, as a 1-d tensor.
Tensor masked_select(const Tensor& a, const Tensor& mask);

}  // namespace cnnkit
