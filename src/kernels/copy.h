// Layout and dtype copies over raw pointers: a strided gather into contiguous memory and
// an element type conversion. Every other layer's contiguous()/to() ends here.
#pragma once

#include <cstdint>

#include "cnnkit/core/array_ref.h"
#include "cnnkit/core/dtype.h"

namespace cnnkit::kernels {

// dst (contiguous, prod(sizes) elements) <- src viewed with `strides` (elements), same dtype.
void copy_strided(void* dst, const void* src, size_t elem_size, IntArrayRef sizes, IntArrayRef strides);

// dst (src_type -> dst_type), n contiguous elements. Float -> integer truncates toward zero.
void convert(void* dst, ScalarType dst_type, const void* src, ScalarType src_type, int64_t n);

// acc[i] += x[i]
void add_inplace(float* acc, const float* x, int64_t n);

}  // namespace cnnkit::kernels
