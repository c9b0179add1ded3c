// 2-d pooling kernels over plain NCHW float buffers, with PyTorch's window and divisor rules:
// max (with flat h*W+w indices), average (ceil_mode, count_include_pad, divisor_override),
// adaptive average and adaptive max. Two implementations: OpenMP loops over the N*C planes,
// and oneDNN pooling primitives for the cases whose semantics oneDNN expresses exactly;
// pool2d_plan() picks one per shape. No shape checks and no Tensor here: see ops/pool.cpp.
//
// N = batch, C = channels, H, W = height, width; a plane is one (n, c) image of H*W.
#pragma once

#include <cstdint>
#include <memory>
#include "kernels/onednn_fwd.h"

namespace cnnkit::kernels {

struct Pool2dShape {
  int64_t N = 0, C = 0, H = 0, W = 0;  // input (N, C, H, W)
  int64_t kH = 1, kW = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;        // symmetric, as PyTorch (the ceil_mode overhang is extra)
  int64_t dil_h = 1, dil_w = 1;
  int64_t H_out = 0, W_out = 0;        // output (N, C, H_out, W_out)
};

// PyTorch's pooling_output_shape: floor (or ceil) of (in + 2*pad - d*(k-1) - 1) / stride + 1,
// where in ceil mode the last window must start inside the input or the left padding.
int64_t pool_output_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dilation,
                         bool ceil_mode);

enum class PoolKind : uint8_t { max, avg };
enum class PoolAlgo : uint8_t {
  loops,   // OpenMP over planes, plain layout; every variant
  onednn,  // oneDNN's blocked layout (reorders in and out): pooling_v2 primitives for average,
           // a loop over the layout for max (oneDNN's pooling_max drops NaN)
};
const char* to_string(PoolAlgo a);

// Average pooling's divisor options (PyTorch's names); divisor_override 0 means none.
struct AvgOptions {
  bool count_include_pad = true;
  int64_t divisor_override = 0;
};

// Whether the oneDNN path computes exactly PyTorch's result for this pooling: max for kernels
// of at most 256 taps (without indices; NaN propagating as PyTorch's, the tap number of each
// maximum kept in one byte), average when the divisor is
// oneDNN's (no override, and for count_include_pad no ceil_mode window hanging past the
// padding), provided oneDNN accepts the padding (narrower than the kernel, ceil_mode overhang
// included). Windows lying wholly in the padding are refused by the op layer.
bool onednn_pool_exact(const Pool2dShape& s, PoolKind kind, AvgOptions avg);
// The implementation for a pooling of this shape, decided once per shape and logged under
// CNNKIT_VERBOSE. Max pooling that must return indices always runs the loops. kept_input: the
// input holds a kept oneDNN layout (kernels/onednn.h), which oneDNN pools without a reorder.
PoolAlgo pool2d_plan(const Pool2dShape& s, PoolKind kind, AvgOptions avg, bool need_indices,
                     bool kept_input = false);

// ---- loops ----------------------------------------------------------------------------------
// out (N, C, H_out, W_out); indices (same shape, flat h*W+w in the plane) or null when no
// backward will need them. NaN propagates and ties keep the first maximum, as PyTorch.
void max_pool2d_forward(float* out, int64_t* indices, const float* in, const Pool2dShape& s);
// grad_in (planes, in_plane) = grad_out (planes, out_plane) scattered to `indices` (written,
// zero elsewhere). Serves max_pool2d and adaptive_max_pool2d.
void max_pool2d_backward(float* grad_in, const float* grad_out, const int64_t* indices,
                         int64_t planes, int64_t in_plane, int64_t out_plane);

void avg_pool2d_forward(float* out, const float* in, const Pool2dShape& s, AvgOptions avg);
// grad_in (N, C, H, W), written.
void avg_pool2d_backward(float* grad_in, const float* grad_out, const Pool2dShape& s,
                         AvgOptions avg);

// Adaptive windows: rows [floor(i*H/H_out), ceil((i+1)*H/H_out)), columns alike.
// Only N, C, H, W, H_out, W_out of the shape are used.
void adaptive_avg_pool2d_forward(float* out, const float* in, const Pool2dShape& s);
void adaptive_avg_pool2d_backward(float* grad_in, const float* grad_out, const Pool2dShape& s);
void adaptive_max_pool2d_forward(float* out, int64_t* indices, const float* in,
                                 const Pool2dShape& s);

// ---- oneDNN ---------------------------------------------------------------------------------
// What a training forward leaves for backward (the input's layout; max pooling's workspace).
// Opaque.
struct Pool2dSaved;
// Requires onednn_pool_exact(). `save` non-null means training (max keeps its workspace).
void pool2d_forward_onednn(float* out, const float* in, const Pool2dShape& s, PoolKind kind,
                           AvgOptions avg, std::shared_ptr<Pool2dSaved>* save);
// Where each maximum of a max pooling came from, read from its forward's `saved` (the tap numbers
// the blocked loop keeps): indices (N, C, H_out, W_out) into each H x W plane, as
// max_pool2d_forward's. False when the forward kept oneDNN's own workspace instead.
bool max_pool2d_saved_indices(int64_t* indices, const Pool2dShape& s, const Pool2dSaved& saved);
// grad_in written. Max pooling needs the forward's `saved`.
void pool2d_backward_onednn(float* grad_in, const float* grad_out, const Pool2dShape& s,
                            PoolKind kind, AvgOptions avg, const Pool2dSaved* saved);
// The same with kept layouts: `in` (and grad_out) may be oneDNN layouts, pooled in their own
// layout; when out_layout (grad_in_layout) is non-null and onednn::keep_layouts() is on, the
// result stays in oneDNN's layout there and `out` (`grad_in`) is not written.
void pool2d_forward_onednn(onednn::PlainOut out, onednn::LayoutPtr* out_layout, const onednn::Operand& in,
                           const Pool2dShape& s, PoolKind kind, AvgOptions avg,
                           std::shared_ptr<Pool2dSaved>* save);
void pool2d_backward_onednn(onednn::PlainOut grad_in, onednn::LayoutPtr* grad_in_layout,
                            const onednn::Operand& grad_out, const Pool2dShape& s, PoolKind kind,
                            AvgOptions avg, const Pool2dSaved* saved);

}  // namespace cnnkit::kernels
