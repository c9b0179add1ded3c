// Strided gather and dtype conversion. The gather walks the innermost dimension with a
// tight loop and the outer ones with an odometer, so transposed copies stay cheap.
#include "kernels/copy.h"

#include <cstring>
#include <type_traits>
#include <vector>

#include "cnnkit/core/threads.h"

namespace cnnkit::kernels {

// Memory-bound loops pay for a second thread only far above kGrainSize (measured: one
// core moves 48k floats in ~6.5 us, an OpenMP fork/join costs more).
constexpr int64_t kCopyGrain = 8 * kGrainSize;

namespace {
template <typename T>
void gather(T* dst, const T* src, IntArrayRef sizes, IntArrayRef strides) {
  const int64_t nd = static_cast<int64_t>(sizes.size());
  if (nd == 0) {
    dst[0] = src[0];
    return;
  }
  const int64_t inner = sizes[nd - 1], inner_stride = strides[nd - 1];
  int64_t outer = 1;
  for (int64_t d = 0; d < nd - 1; ++d) outer *= sizes[d];
  if (inner == 0 || outer == 0) return;
  parallel_for(outer, std::max<int64_t>(1, kCopyGrain / std::max<int64_t>(inner, 1)),
               [&](int64_t b, int64_t e) {
    std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
    // position the odometer at row b
    int64_t rem = b, off = 0;
    for (int64_t d = nd - 2; d >= 0; --d) {
      idx[d] = rem % sizes[d];
      rem /= sizes[d];
      off += idx[d] * strides[d];
    }
    for (int64_t row = b; row < e; ++row) {
      T* out = dst + row * inner;
      const T* in = src + off;
      if (inner_stride == 1) {
        std::memcpy(out, in, static_cast<size_t>(inner) * sizeof(T));
      } else {
        for (int64_t i = 0; i < inner; ++i) out[i] = in[i * inner_stride];
      }
      for (int64_t d = nd - 2; d >= 0; --d) {
        off += strides[d];
        if (++idx[d] < sizes[d]) break;
        off -= strides[d] * sizes[d];
        idx[d] = 0;
      }
    }
  });
}
}  // namespace

void copy_strided(void* dst, const void* src, size_t elem_size, IntArrayRef sizes, IntArrayRef strides) {
  switch (elem_size) {
    case 1: gather(static_cast<uint8_t*>(dst), static_cast<const uint8_t*>(src), sizes, strides); break;
    case 4: gather(static_cast<uint32_t*>(dst), static_cast<const uint32_t*>(src), sizes, strides); break;
    case 8: gather(static_cast<uint64_t*>(dst), static_cast<const uint64_t*>(src), sizes, strides); break;
    default: CNNKIT_ASSERT(false, "copy_strided: element size ", elem_size);
  }
}

namespace {
template <typename D, typename S>
void convert_loop(D* dst, const S* src, int64_t n) {
  parallel_for(n, kCopyGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      if constexpr (std::is_same_v<D, uint8_t> && std::is_floating_point_v<S>) {
        // float -> uint8 wraps modulo 256 like PyTorch (a plain cast of a negative is UB)
        dst[i] = static_cast<uint8_t>(static_cast<int64_t>(src[i]));
      } else {
        dst[i] = static_cast<D>(src[i]);
      }
    }
  });
}
template <typename S>
void convert_from(void* dst, ScalarType dt, const S* src, int64_t n) {
  switch (dt) {
    case kFloat: convert_loop(static_cast<float*>(dst), src, n); break;
    case kLong: convert_loop(static_cast<int64_t*>(dst), src, n); break;
    case kByte: convert_loop(static_cast<uint8_t*>(dst), src, n); break;
    case kBool: {
      auto* d = static_cast<uint8_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = src[i] != S(0);
      break;
    }
    default: CNNKIT_ASSERT(false, "convert: dtype ", dt);
  }
}
}  // namespace

void convert(void* dst, ScalarType dst_type, const void* src, ScalarType src_type, int64_t n) {
  switch (src_type) {
    case kFloat: convert_from(dst, dst_type, static_cast<const float*>(src), n); break;
    case kLong: convert_from(dst, dst_type, static_cast<const int64_t*>(src), n); break;
    case kByte:
    case kBool: convert_from(dst, dst_type, static_cast<const uint8_t*>(src), n); break;
    default: CNNKIT_ASSERT(false, "convert: dtype ", src_type);
  }
}

void add_inplace(float* acc, const float* x, int64_t n) {
  parallel_for(n, kCopyGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) acc[i] += x[i];
  });
}

}  // namespace cnnkit::kernels
