// 2-d convolution kernels over plain NCHW / OIHW float buffers: forward, backward-data and
// backward-weights, each by one of two algorithms (oneDNN primitives, or im2col + sgemm for
// the degenerate shapes where oneDNN is slow), chosen per shape by conv2d_plan(). No shape
// checks and no Tensor here: ops/conv.cpp validates and allocates.
//
// N = batch, C = channels, H, W = height, width, G = groups, K = kernel size.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/onednn.h"

namespace cnnkit::kernels {

namespace winograd {
struct Weights;  // kernels/winograd.h
}

// Every number that shapes a convolution. Padding is PyTorch's zero padding per side;
// H_out, W_out are PyTorch's output sizes (conv_output_size).
struct Conv2dShape {
  int64_t N = 0, C_in = 0, H = 0, W = 0;  // input (N, C_in, H, W)
  int64_t C_out = 0, kH = 0, kW = 0;      // weight (C_out, C_in / G, kH, kW)
  int64_t groups = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dil_h = 1, dil_w = 1;           // PyTorch's dilation: 1 = dense kernel
  int64_t pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;
  int64_t H_out = 0, W_out = 0;           // output (N, C_out, H_out, W_out)
  bool has_bias = false;
};

// PyTorch's output size: floor((in + pad_lo + pad_hi - d*(k-1) - 1) / s) + 1.
inline int64_t conv_output_size(int64_t in, int64_t k, int64_t s, int64_t pad_lo, int64_t pad_hi,
                                int64_t d) {
  const int64_t span = in + pad_lo + pad_hi - d * (k - 1) - 1;
  return span < 0 ? 0 : span / s + 1;
}

enum class ConvAlgo : uint8_t {
  onednn,       // oneDNN convolution primitives (jit:avx2 and friends), blocked layouts
  im2col_gemm,  // im2col / col2im + sgemm (oneDNN's dnnl_sgemm), per image, plain layouts
  direct,       // backward-weights only: an AVX2/FMA loop over output rows, for few input
                // channels (conv2d_direct_supported); im2col_gemm where it does not apply
};
const char* to_string(ConvAlgo a);

// Which algorithm runs each pass of one shape. Decided once per shape (and thread count)
// by a rule table measured on the target machines, cached, and logged under CNNKIT_VERBOSE.
struct Conv2dPlan {
  ConvAlgo forward = ConvAlgo::onednn;
  ConvAlgo backward_data = ConvAlgo::onednn;
  ConvAlgo backward_weights = ConvAlgo::onednn;
};
const Conv2dPlan& conv2d_plan(const Conv2dShape& s);
// Whether ConvAlgo::direct can run this shape's backward-weights on this CPU: groups 1,
// stride_w 1, an x86-64 CPU with AVX2 and FMA.
bool conv2d_direct_supported(const Conv2dShape& s);

// The per-channel mean and biased variance of a convolution's output, taken as a kernel
// writes it, for the batch norm that follows (ops/norm.h's detail::ConvBatchNormScope): the
// batch norm then need not read the output once more for its statistics.
struct ChannelMoments {
  const float* data = nullptr;  // the output buffer they describe; null: none taken
  int64_t C = 0, count = 0;     // channels; values a channel (N H_out W_out)
  std::vector<float> mean, var;
};
// Where the calling thread's convolutions put their output's moments, or null (the default):
// a forward run by the Winograd kernel into a kept layout fills it (data = that layout's
// buffer; in eval mode too, where nothing reads it: it costs the kernel next to nothing); any
// other forward clears it (data = null).
ChannelMoments*& channel_moments_sink();

// What a training forward leaves for its backward (e.g. the input already reordered into
// the layout oneDNN's backward-weights wants), so backward does not redo that work.
// Opaque; may be null, and backward works without it.
struct Conv2dSaved;

// out (N, C_out, H_out, W_out) = conv(in (N, C_in, H, W), weight) + bias (C_out, or null).
// `training` selects oneDNN's forward_training; `save`, if non-null, receives state that
// makes conv2d_backward's weight gradient cheaper.
void conv2d_forward(float* out, const float* in, const float* weight, const float* bias,
                    const Conv2dShape& s, ConvAlgo algo, bool training,
                    std::shared_ptr<Conv2dSaved>* save = nullptr);
// The same with kept layouts: `in` may be a oneDNN layout, and when out_layout is non-null and
// onednn::keep_layouts() is on, a oneDNN forward leaves its result in the primitive's own
// layout in *out_layout (and does not write `out`); otherwise *out_layout is null and `out`
// holds the result.
void conv2d_forward(onednn::PlainOut out, onednn::LayoutPtr* out_layout, const onednn::Operand& in,
                    const float* weight, const float* bias, const Conv2dShape& s, ConvAlgo algo,
                    bool training, std::shared_ptr<Conv2dSaved>* save = nullptr);

// What an inference convolution does to its result inside the same oneDNN primitive (post-ops
// sum and eltwise ReLU): out = relu?(conv(in) + residual?). The residual has the output's shape,
// plain NCHW or a kept layout. Only for ConvAlgo::onednn, without autograd.
// Weights reordered once into each layout an inference primitive asks for, for a caller whose
// weights never change while it holds this (models::optimize_for_inference's folded copies).
// Thread-safe; a handful of layouts at most (one per batch size / thread count that changes
// the primitive's choice).
class PackedWeights {
 public:
  PackedWeights();
  ~PackedWeights();
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;
  // The weights (plain_d, at `plain`) in layout `want`: reordered on the first request.
  dnnl::memory get(const dnnl::memory::desc& want, const dnnl::memory::desc& plain_d, const float* plain);
  size_t layouts() const;
  // The weights (C_out, C_in, 3, 3) transformed for kernels/winograd.h's tile m (2 or 4):
  // made on the first request for that tile.
  const winograd::Weights& winograd(const float* plain, int64_t C_out, int64_t C_in, int m);

 private:
  mutable std::mutex mutex_;
  std::vector<onednn::LayoutPtr> packed_;
  std::unique_ptr<winograd::Weights> winograd_[2];  // tiles 2 and 4
};

struct ConvEpilogue {
  bool relu = false;
  bool has_residual = false;
  onednn::Operand residual;
  PackedWeights* packed_weights = nullptr;  // null: reorder the weights at every call
};
void conv2d_forward_fused(onednn::PlainOut out, onednn::LayoutPtr* out_layout, const onednn::Operand& in,
                          const float* weight, const float* bias, const Conv2dShape& s,
                          const ConvEpilogue& epilogue);

// Gradients of conv2d_forward. Outputs are written, not accumulated (the autograd engine sums
// gradients; grad_in_acc below is the one exception); pass null for a gradient nobody needs
// and its pass is skipped entirely.
//   grad_in (N, C_in, H, W)       needs grad_out and weight
//   grad_weight (C_out, C_in/G, kH, kW), grad_bias (C_out)   need grad_out and in
// `saved` is what conv2d_forward stored, or null.
void conv2d_backward(float* grad_in, float* grad_weight, float* grad_bias, const float* grad_out,
                     const float* in, const float* weight, const Conv2dShape& s,
                     ConvAlgo data_algo, ConvAlgo weights_algo, const Conv2dSaved* saved);
// The same with kept layouts: grad_out and in may be oneDNN layouts; grad_in_layout, when
// non-null, receives grad_in in oneDNN's layout as conv2d_forward's out_layout does.
// grad_in_acc, when given: a gradient already summed for this convolution's input (a kept
// layout; autograd::detail::pending_grad), to be added into grad_in as it is written. Where
// the kernel that computes grad_in can (the Winograd and direct kernels' epilogue, grad_in
// kept in the same layout) it does, and this returns true: grad_in is then the sum. Else it
// returns false and grad_in is the convolution's alone.
bool conv2d_backward(onednn::PlainOut grad_in, onednn::LayoutPtr* grad_in_layout, float* grad_weight,
                     float* grad_bias, const onednn::Operand& grad_out, const onednn::Operand& in,
                     const float* weight, const Conv2dShape& s, ConvAlgo data_algo,
                     ConvAlgo weights_algo, const Conv2dSaved* saved,
                     const onednn::LayoutPtr& grad_in_acc = nullptr);


}  // namespace cnnkit::kernels
