// Element types (c10::ScalarType subset): float32 for all compute, int64 for labels and
// indices, uint8 for raw images, bool for comparison results. Plus the CPU-only Device
// so that LibTorch code calling `.to(torch::kCPU)` compiles unchanged.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "cnnkit/core/error.h"

namespace cnnkit {

enum class ScalarType : int8_t { Byte = 0, Long = 4, Float = 6, Double = 7, Bool = 11 };

constexpr ScalarType kByte = ScalarType::Byte;
constexpr ScalarType kUInt8 = ScalarType::Byte;
constexpr ScalarType kLong = ScalarType::Long;
constexpr ScalarType kInt64 = ScalarType::Long;
constexpr ScalarType kFloat = ScalarType::Float;
constexpr ScalarType kFloat32 = ScalarType::Float;
constexpr ScalarType kBool = ScalarType::Bool;
// Double is accepted where a dtype is named for compatibility, but tensors are created as
// float32: cnnkit computes in float32 throughout (see README, "dtypes").
constexpr ScalarType kDouble = ScalarType::Double;
constexpr ScalarType kFloat64 = ScalarType::Double;

using Dtype = ScalarType;

inline size_t element_size(ScalarType t) {
  switch (t) {
    case ScalarType::Byte: return 1;
    case ScalarType::Bool: return 1;
    case ScalarType::Long: return 8;
    case ScalarType::Float: return 4;
    case ScalarType::Double: return 8;
  }
  return 0;
}

inline const char* dtype_name(ScalarType t) {
  switch (t) {
    case ScalarType::Byte: return "uint8";
    case ScalarType::Bool: return "bool";
    case ScalarType::Long: return "int64";
    case ScalarType::Float: return "float32";
    case ScalarType::Double: return "float64";
  }
  return "unknown";
}

inline bool is_floating_point(ScalarType t) {
  return t == ScalarType::Float || t == ScalarType::Double;
}

inline std::ostream& operator<<(std::ostream& os, ScalarType t) { return os << dtype_name(t); }

template <typename T> struct CppTypeToScalarType;
template <> struct CppTypeToScalarType<float> { static constexpr ScalarType value = kFloat; };
template <> struct CppTypeToScalarType<int64_t> { static constexpr ScalarType value = kLong; };
template <> struct CppTypeToScalarType<uint8_t> { static constexpr ScalarType value = kByte; };
template <> struct CppTypeToScalarType<bool> { static constexpr ScalarType value = kBool; };
template <> struct CppTypeToScalarType<double> { static constexpr ScalarType value = kDouble; };

enum class DeviceType : int8_t { CPU = 0, CUDA = 1 };
constexpr DeviceType kCPU = DeviceType::CPU;
constexpr DeviceType kCUDA = DeviceType::CUDA;

// cnnkit runs on the CPU; a CUDA device can be named (so code compiles) but not used.
struct Device {
  Device(DeviceType t = kCPU, int index = -1) : type_(t), index_(index) {}  // NOLINT
  explicit Device(const std::string& s) : type_(s.rfind("cuda", 0) == 0 ? kCUDA : kCPU) {}
  DeviceType type() const { return type_; }
  int index() const { return index_; }
  bool is_cpu() const { return type_ == kCPU; }
  bool is_cuda() const { return type_ == kCUDA; }
  bool operator==(const Device& o) const { return type_ == o.type_; }
  bool operator!=(const Device& o) const { return type_ != o.type_; }

 private:
  DeviceType type_;
  int index_ = -1;
};

inline std::ostream& operator<<(std::ostream& os, const Device& d) {
  return os << (d.is_cpu() ? "cpu" : "cuda");
}

namespace cuda {
inline bool is_available() { return false; }
inline int device_count() { return 0; }
}  // namespace cuda

}  // namespace cnnkit
