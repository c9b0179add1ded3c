// Scalar (c10::Scalar): one number, floating, integral or boolean, as Tensor::item() returns
// it without a type argument: `loss.item().toFloat()`, `n.item().toLong()`, `.to<double>()`.
#pragma once

#include <cstdint>
#include <ostream>
#include <type_traits>

namespace cnnkit {

class Scalar {
 public:
  enum class Tag : uint8_t { kFloating, kIntegral, kBoolean };

  Scalar() : Scalar(int64_t{0}) {}
  Scalar(double v) : tag_(Tag::kFloating), d_(v) {}  // NOLINT(google-explicit-constructor)
  Scalar(float v) : Scalar(static_cast<double>(v)) {}  // NOLINT
  Scalar(bool v) : tag_(Tag::kBoolean), i_(v ? 1 : 0) {}  // NOLINT
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Scalar(T v) : tag_(Tag::kIntegral), i_(static_cast<int64_t>(v)) {}  // NOLINT

  template <typename T>
  T to() const {
    return tag_ == Tag::kFloating ? static_cast<T>(d_) : static_cast<T>(i_);
  }
  double toDouble() const { return to<double>(); }
  float toFloat() const { return to<float>(); }
  int64_t toLong() const { return to<int64_t>(); }
  int toInt() const { return to<int>(); }
  bool toBool() const { return tag_ == Tag::kFloating ? d_ != 0 : i_ != 0; }

  bool isFloatingPoint() const { return tag_ == Tag::kFloating; }
  bool isIntegral(bool include_bool) const { return tag_ == Tag::kIntegral || (include_bool && tag_ == Tag::kBoolean); }
  bool isBoolean() const { return tag_ == Tag::kBoolean; }

 private:
  Tag tag_;
  double d_ = 0;
  int64_t i_ = 0;
};

inline std::ostream& operator<<(std::ostream& os, const Scalar& s) {
  if (s.isFloatingPoint()) return os << s.toDouble();
  if (s.isBoolean()) return os << (s.toBool() ? "true" : "false");
  return os << s.toLong();
}

}  // namespace cnnkit
