// Element-wise CPU kernels over raw pointers: unary, binary (with broadcasting), ternary
// and activation loops, plus oneDNN eltwise primitives for the activations oneDNN has.
// No Tensor, no autograd, no dtype promotion: the ops layer (src/ops/elementwise.cpp,
// activation.cpp, dropout.cpp) checks shapes, converts dtypes and allocates.
//
// Every strided kernel walks a Loop: the iteration space of up to four operands after
// broadcasting, with adjacent dimensions merged wherever every operand allows it, so the
// common cases (same-shape contiguous, tensor op scalar, row + bias) become one long,
// vectorisable inner loop. Operand 0 is always the output.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>

#include "cnnkit/core/array_ref.h"
#include "cnnkit/core/dtype.h"
#include "kernels/onednn_fwd.h"

namespace cnnkit::kernels {

constexpr int kMaxLoopDims = 25;   // PyTorch's limit on tensor rank
constexpr int kMaxLoopOperands = 4;

struct Loop {
  int ndim = 0;                                       // >= 1 after make_loop
  int noperands = 0;
  int64_t sizes[kMaxLoopDims];
  int64_t strides[kMaxLoopOperands][kMaxLoopDims];    // in elements; 0 along broadcast dims
  int64_t numel() const;
};

// A loop over `sizes` for operands whose strides (in elements) are already expressed in
// that shape (see broadcast_strides). Size-1 dims are dropped and mergeable dims merged.
Loop make_loop(IntArrayRef sizes, std::initializer_list<const int64_t*> strides);

// Strides of a tensor (in_sizes, in_strides) viewed in the broadcast shape out_sizes
// (right-aligned; 0 where the tensor has size 1 or lacks the dim). out must hold
// out_sizes.size() values. The caller has checked that the shapes broadcast.
void broadcast_strides(int64_t* out, IntArrayRef in_sizes, IntArrayRef in_strides, IntArrayRef out_sizes);

enum class BinaryOp : uint8_t {
  kAdd,      // a + alpha * b
  kSub,      // a - alpha * b
  kMul,
  kDiv,      // float only
  kPow,      // float, or int64 with non-negative exponents
  kMaximum,  // NaN-propagating, as torch.maximum
  kMinimum,
  kEq, kNe, kLt, kLe, kGt, kGe,  // bool (uint8) output
  kLogicalAnd, kLogicalOr,       // on bool (uint8) operands
  kBitAnd, kBitOr,               // on int64 operands
};
inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::kEq && op <= BinaryOp::kGe; }

enum class UnaryOp : uint8_t {
  kCopy, kNeg, kAbs, kSign, kSquare,              // float or int64
  kExp, kLog, kLog1p, kErf, kSqrt, kRsqrt, kReciprocal,  // float only from here on
  kSin, kCos, kFloor, kCeil, kRound, kSigmoid, kTanh, kRelu,
  kIsnan, kIsinf, kIsfinite,                       // float -> bool (uint8)
  kLogicalNot,                                     // bool (uint8) -> bool
};

// out = op(a, b) over loop (3 operands: out, a, b). t is the operand type (kFloat or kLong;
// kBool for the logical ops); comparisons and logical ops write uint8.
void binary(void* out, const void* a, const void* b, const Loop& loop, ScalarType t, BinaryOp op,
            double alpha = 1);
// out = op(a, s), or op(s, a) when scalar_first (2 operands: out, a).
void binary_scalar(void* out, const void* a, double s, const Loop& loop, ScalarType t, BinaryOp op,
                   bool scalar_first = false);
// out = op(a) (2 operands). t is a's type; predicates write uint8.
void unary(void* out, const void* a, const Loop& loop, ScalarType t, UnaryOp op);
// out = min(max(a, lo), hi), NaN-propagating; has_lo/has_hi select the bounds used.
void clamp(void* out, const void* a, const Loop& loop, ScalarType t, bool has_lo, double lo,
           bool has_hi, double hi);
// out = value everywhere (1 operand).
void fill(void* out, const Loop& loop, ScalarType t, double value);
// out = cond ? a : b (4 operands: out, cond (uint8), a, b).
void where(void* out, const uint8_t* cond, const void* a, const void* b, const Loop& loop, ScalarType t);
// out = cond ? value : a (3 operands: out, cond, a); cond ? a : value if !value_if_true.
void where_scalar(void* out, const uint8_t* cond, const void* a, double value, const Loop& loop,
                  ScalarType t, bool value_if_true = true);
// Converting copy: out (dst_type) = a (src_type) over loop (2 operands).
void convert_strided(void* out, ScalarType dst_type, const void* a, ScalarType src_type, const Loop& loop);

// Float-only fused ternaries (4 operands: out, a, t1, t2 — or 3 for lerp).
void addcmul(float* out, const float* a, const float* t1, const float* t2, const Loop& loop, float value);
void addcdiv(float* out, const float* a, const float* t1, const float* t2, const Loop& loop, float value);
void lerp(float* out, const float* a, const float* end, const Loop& loop, float weight);

// Backward of broadcasting: out[j] += g[i] for every i that broadcast from j. The loop has
// 2 operands (out with stride 0 on reduced dims, g). out must be zeroed by the caller.
void sum_to(float* out, const float* g, const Loop& loop);

// out = a + alpha * b over n contiguous floats: the residual add of two tensors kept in the
// same oneDNN layout (their padded elements are zeros in both and stay zeros).
void add_contiguous(float* out, const float* a, const float* b, int64_t n, float alpha);

// ---- activations over n contiguous floats ---------------------------------------------

// The element-wise activations behind the eltwise_* entries below. NaN and +-Inf follow
// PyTorch 1.13's CPU kernels (their vectorised path, which every element of a contiguous
// tensor takes but a tail of fewer than 16): relu(NaN) = NaN with gradient g, leaky_relu
// and clip (relu6, hardtanh) keep NaN, clip's gradient at NaN is 0, elu's is NaN.
// oneDNN 2.6 gets some of these wrong (its relu and clip map NaN to 0, relu's backward from
// dst and elu's backward send g through at NaN, mish's gradient at +Inf is +-Inf instead of
// NaN, and its reference (ref:any) kernels on channel-padded layouts map NaN to 0 for
// logistic), so relu, leaky relu, clip and elu's backward run as plain vectorised loops,
// mish's gradient gets a NaN fix-up, and a kept layout whose primitive would be ref:any is
// not used (eltwise_layout_ok). Everything else runs on oneDNN's JIT kernels.
// X(enumerator, oneDNN algorithm, its *_use_dst_for_bwd form (or the same), name in logs):
// the one list of activation algorithms, from which the enum, the oneDNN mapping and the
// names are made. alpha / beta: leaky relu's negative slope, elu's alpha, swish's sigmoid
// scale (1 for SiLU), clip's [alpha, beta]; relu(-Inf) = 0; leaky relu is x > 0 ? x :
// alpha * x (so -Inf * 0 = NaN, as torch).
#define CNNKIT_ELTWISE_ALGORITHMS(X)                                                          \
  X(kRelu, eltwise_relu, eltwise_relu_use_dst_for_bwd, relu)                                  \
  X(kLeakyRelu, eltwise_relu, eltwise_relu_use_dst_for_bwd, leaky_relu)                       \
  X(kElu, eltwise_elu, eltwise_elu_use_dst_for_bwd, elu)                                      \
  X(kGeluErf, eltwise_gelu_erf, eltwise_gelu_erf, gelu_erf)                                   \
  X(kGeluTanh, eltwise_gelu_tanh, eltwise_gelu_tanh, gelu_tanh)                               \
  X(kLogistic, eltwise_logistic, eltwise_logistic_use_dst_for_bwd, logistic)                  \
  X(kTanh, eltwise_tanh, eltwise_tanh_use_dst_for_bwd, tanh)                                  \
  X(kSwish, eltwise_swish, eltwise_swish, swish)                                              \
  X(kHardswish, eltwise_hardswish, eltwise_hardswish, hardswish)                              \
  X(kSoftRelu, eltwise_soft_relu, eltwise_soft_relu, soft_relu)                               \
  X(kMish, eltwise_mish, eltwise_mish, mish)                                                  \
  X(kLogSigmoid, eltwise_logsigmoid, eltwise_logsigmoid, logsigmoid)                          \
  /* clip_v2 has the use_dst form; its gradient passes strictly inside (alpha, beta), as */  \
  /* PyTorch's hardtanh_backward does. */                                                    \
  X(kClip, eltwise_clip_v2, eltwise_clip_v2_use_dst_for_bwd, clip)

#define CNNKIT_ELTWISE_ENUMERATOR(name, ...) name,
enum class Eltwise : uint8_t { CNNKIT_ELTWISE_ALGORITHMS(CNNKIT_ELTWISE_ENUMERATOR) };
#undef CNNKIT_ELTWISE_ENUMERATOR
// dst = f(src). oneDNN algorithms: one primitive per (alg, n, alpha, beta), created on
// first use and cached; relu, leaky relu and clip: a loop (dst may be src).
void eltwise_forward(float* dst, const float* src, int64_t n, Eltwise alg, float alpha = 0, float beta = 0);
// diff_src = f'(data) * diff_dst. `data` is the forward's src, or its dst when use_dst
// (relu, leaky relu with alpha >= 0, elu with alpha >= 0, logistic, tanh, clip): then the
// input can be freed and the backward does not recompute exp/tanh.
void eltwise_backward(float* diff_src, const float* diff_dst, const float* data, int64_t n, Eltwise alg,
                      float alpha = 0, float beta = 0, bool use_dst = false);

// Whether the kept-layout forms below compute exactly what the plain ones do for values in
// layout `desc` (decided once per (alg, layout, alpha, beta, use_dst)): false where oneDNN
// would run a reference kernel (ref:any, slower and NaN-dropping), or where a loop would
// write f(0) != 0 into channel padding. The caller then converts to plain NCHW.
bool eltwise_layout_ok(const onednn::Layout& layout, Eltwise alg, float alpha, float beta, bool use_dst);
// The same on a kept oneDNN layout (kernels/onednn.h): *dst is a new layout like src's.
// Requires eltwise_layout_ok(src, ...).
void eltwise_forward(onednn::LayoutPtr* dst, const onednn::Layout& src, Eltwise alg,
                     float alpha = 0, float beta = 0);
// *diff_src is a new layout like data's; diff_dst is plain NCHW of data's dims or any layout
// (reordered to data's when it differs).
void eltwise_backward(onednn::LayoutPtr* diff_src, const onednn::Operand& diff_dst,
                      const onednn::Layout& data, Eltwise alg, float alpha = 0, float beta = 0,
                      bool use_dst = false);

// Plain loops for what oneDNN 2.6 lacks. *_backward write grad_in (not accumulate).
void selu_forward(float* y, const float* x, int64_t n);
void selu_backward(float* gx, const float* gy, const float* y, int64_t n);  // from the output
// PyTorch's hardswish gradient, including its one-sided values at the kinks (-0.5 at x = -3,
// 1.5 at x = 3: its scalar path; the vectorised one gives 1 at x = 3), where oneDNN's
// eltwise_hardswish backward takes the other side; NaN at NaN (the vectorised path's).
void hardswish_backward(float* gx, const float* gy, const float* x, int64_t n);
void hardsigmoid_forward(float* y, const float* x, int64_t n);
void hardsigmoid_backward(float* gx, const float* gy, const float* x, int64_t n);
void softplus_forward(float* y, const float* x, int64_t n, float beta, float threshold);
void softplus_backward(float* gx, const float* gy, const float* x, int64_t n, float beta, float threshold);
// PReLU over x (outer, C, inner) with weight (C) (C = 1 broadcasts over everything).
void prelu_forward(float* y, const float* x, const float* w, int64_t outer, int64_t C, int64_t inner);
// gx may be null (not needed); gw, if not null, is overwritten with the weight gradient (C).
void prelu_backward(float* gx, float* gw, const float* gy, const float* x, const float* w,
                    int64_t outer, int64_t C, int64_t inner);

}  // namespace cnnkit::kernels
