// Convolution kernels: oneDNN forward / backward-data / backward-weights primitives (cached
// per shape and thread count, on the blocked layouts oneDNN picks: activations arrive and
// leave in them when the caller keeps layouts, else plain data is reordered in and out), and
// an im2col + sgemm path for the shapes where the primitives are slow. conv2d_plan() is the
// one place that chooses between them. No shape checks here.
//
// N = batch, C = channels, H, W = height, width, G = groups, P = H_out * W_out,
// Cig = C_in / G, Cog = C_out / G, Kg = Cig * kH * kW (one group's column height).
#include "kernels/conv.h"
#include "kernels/direct3x3.h"
#include "kernels/wgrad3x3.h"
#include "kernels/winograd.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cnnkit/core/error.h"
#include "cnnkit/core/tensor.h"
#include "cnnkit/core/threads.h"
#include "core/tensor_internal.h"
#include "kernels/elementwise.h"
#include "kernels/onednn.h"

namespace cnnkit::kernels {

using dnnl::memory;
using onednn::Key;
using onednn::tag;

const char* to_string(ConvAlgo a) {
  switch (a) {
    case ConvAlgo::onednn: return "onednn";
    case ConvAlgo::im2col_gemm: return "im2col_gemm";
    case ConvAlgo::direct: return "direct";
  }
  return "?";
}

namespace {

// ---- buffers -----------------------------------------------------------------------------

// Per-thread grow-only scratch for data that lives only during one kernel call (blocked
// copies, im2col columns), so a steady-state step allocates none of it. Slots keep the
// buffers of one call apart.
enum Slot {
  kSrc, kWei, kDst, kDiffDst, kDiffDstW, kDiffSrc, kDiffWei, kCol, kScratchpad,
  kPlainSrc, kPlainDiffDst,  // plain copies of kept-layout operands for the sgemm path
  kNumSlots
};
float* scratch(Slot slot, size_t bytes) {
  thread_local std::unique_ptr<Storage> buf[kNumSlots];
  return static_cast<float*>(onednn::grow_scratch(buf[slot], bytes));
}

// ---- oneDNN -------------------------------------------------------------------------------

Key& shape_into(Key& k, const Conv2dShape& s) {
  k << s.N << s.C_in << s.H << s.W << s.C_out << s.kH << s.kW << s.groups << s.stride_h
    << s.stride_w << s.dil_h << s.dil_w << s.pad_t << s.pad_l << s.pad_b << s.pad_r
    << int64_t{s.has_bias} << int64_t{onednn::threads_now()};
  return k;
}

// Forward multiply-adds x 2 of a convolution: below kSerialFlops (about 80 us on one core)
// its primitives run on the calling thread alone (onednn::SerialScope). ResNet-20's
// convolutions at batch 1 are 4.7 MFLOP at most; LeNet-5's at batch 64 are 15 and 31.
constexpr double kSerialFlops = 8e6;
bool serial_conv(const Conv2dShape& s) {
  const double flops = 2.0 * static_cast<double>(s.N * s.C_out * s.H_out * s.W_out) *
                       static_cast<double>(s.C_in / std::max<int64_t>(s.groups, 1) * s.kH * s.kW);
  return flops < kSerialFlops;
}

std::string describe(const Conv2dShape& s) {
  char b[256];
  std::snprintf(b, sizeof b,
                "N=%ld C_in=%ld %ldx%ld -> C_out=%ld %ldx%ld, k=%ldx%ld s=%ldx%ld d=%ldx%ld "
                "pad=%ld,%ld,%ld,%ld G=%ld threads=%d",
                long(s.N), long(s.C_in), long(s.H), long(s.W), long(s.C_out), long(s.H_out),
                long(s.W_out), long(s.kH), long(s.kW), long(s.stride_h), long(s.stride_w),
                long(s.dil_h), long(s.dil_w), long(s.pad_t), long(s.pad_l), long(s.pad_b),
                long(s.pad_r), long(s.groups), get_num_threads());
  return b;
}

// The geometry oneDNN wants. Its dilation counts the gaps (PyTorch's d - 1), and its right
// padding must make its own output-size formula land on PyTorch's H_out: the rows PyTorch's
// floor() drops at the bottom/right are simply not part of oneDNN's problem.
struct Geometry {
  memory::dims src, wei, dst, bias, strides, dilates, pad_l, pad_r;
  tag wei_tag;
};
Geometry geometry(const Conv2dShape& s) {
  Geometry g;
  g.src = {s.N, s.C_in, s.H, s.W};
  g.dst = {s.N, s.C_out, s.H_out, s.W_out};
  if (s.groups > 1) {
    g.wei = {s.groups, s.C_out / s.groups, s.C_in / s.groups, s.kH, s.kW};
    g.wei_tag = tag::goihw;
  } else {
    g.wei = {s.C_out, s.C_in, s.kH, s.kW};
    g.wei_tag = tag::oihw;
  }
  g.bias = {s.C_out};
  g.strides = {s.stride_h, s.stride_w};
  g.dilates = {s.dil_h - 1, s.dil_w - 1};
  g.pad_l = {s.pad_t, s.pad_l};
  g.pad_r = {(s.H_out - 1) * s.stride_h + s.dil_h * (s.kH - 1) + 1 - s.H - s.pad_t,
             (s.W_out - 1) * s.stride_w + s.dil_w * (s.kW - 1) + 1 - s.W - s.pad_l};
  return g;
}

memory::desc any(const memory::dims& d) { return onednn::plain_desc(d, tag::any); }

// Primitives take their scratchpad from the calling thread's scratch (as PyTorch does):
// one buffer per thread instead of one per cached primitive, and the same primitive can
// run on two threads at once without sharing a scratchpad.
dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}
memory scratchpad(const memory::desc& d) {
  return memory(d, onednn::engine(), scratch(kScratchpad, d.get_size()));
}

dnnl::convolution_forward::desc forward_desc(const Conv2dShape& s, dnnl::prop_kind prop) {
  const Geometry g = geometry(s);
  if (s.has_bias)
    return {prop, dnnl::algorithm::convolution_direct, any(g.src), any(g.wei),
            onednn::plain_desc(g.bias, tag::x), any(g.dst), g.strides, g.dilates, g.pad_l, g.pad_r};
  return {prop, dnnl::algorithm::convolution_direct, any(g.src), any(g.wei), any(g.dst),
          g.strides, g.dilates, g.pad_l, g.pad_r};
}

struct ConvForward {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  memory::desc src_plain, wei_plain, dst_plain, bias_plain;
};

// post_ops: 0, or kPostSum (conv2d_forward_fused: dst += conv, dst holding the residual).
constexpr int64_t kPostSum = 1;
dnnl::primitive_attr forward_attr(int64_t post_ops) {
  dnnl::primitive_attr attr = user_scratchpad();
  if (post_ops & kPostSum) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  return attr;
}

bool winograd_preferred(const Conv2dShape& s, int block);  // below, with the Winograd CHOICE

// channels_last_ok: a no-grad forward may take oneDNN's channels-last inference kernel (see
// the CHOICE below): layouts are kept and the input already comes from a oneDNN op.
ConvForward& forward_primitive(const Conv2dShape& s, bool training, int64_t post_ops = 0,
                               bool channels_last_ok = false) {
  const bool keep = channels_last_ok;
  // A no-grad forward the Winograd kernel computes in nChw16c takes the training primitive's
  // layout (the CHOICE below).
  const bool wino16 = !training && winograd_preferred(s, 16);
  Key key("conv2d_fwd");
  shape_into(key, s) << int64_t{training} << post_ops << int64_t{keep} << int64_t{wino16};
  return onednn::cached<ConvForward>(key, [&] {
    const Geometry g = geometry(s);
    auto prop = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    dnnl::convolution_forward::primitive_desc pd(forward_desc(s, prop), forward_attr(post_ops),
                                                 onednn::engine());
    // CHOICE: on AVX-512, forward_inference picks brgconv with channels-last (NHWC) data.
    // For a convolution between plain NCHW tensors (a single op, the first of a chain, or
    // CNNKIT_KEEP_LAYOUTS=0) the transposing reorders cost more than brgconv saves: measured
    // 1.2-1.8x slower end to end than forward_training's channel-blocked jit kernel on every
    // W4 config (bench/compare's conv section, 0.58-0.90x of PyTorch instead of 1.2-1.3x), so
    // such a forward takes the training primitive, as PyTorch does for every forward. Inside a
    // chain of kept layouts it stays NHWC and brgconv wins: ResNet-20 eval at batch 64 spent
    // 43.7 ms a forward in brgconv against 49.6 in jit:avx512_core, and its 9 activation-sized
    // copies a forward went away (ONEDNN_VERBOSE, 1 thread). AVX2 machines pick the same
    // kernel either way. Except where the Winograd kernel computes the convolution in nChw16c
    // (wino16): there the training primitive's layout lets it run, at the cost of a reorder
    // where the chain changes layout (4 each way a ResNet-20 forward). ResNet-20 eval at batch
    // 64 went from 28.3 to 22.3 ms at 1 thread and from 15.3 to 11.4 at 2 (`cnnkit bench
    // --model resnet20 --eval --batch 64`, 3 alternating pairs each); giving its stride-2 and
    // 1x1 convolutions nChw16c as well, to spare those reorders, measured no faster.
    const memory::desc nhwc_src = onednn::plain_desc(g.src, tag::nhwc);
    const memory::desc nhwc_dst = onednn::plain_desc(g.dst, tag::nhwc);
    // (one channel: NHWC and NCHW are the same bytes, and no reorder is needed)
    if (wino16 || (!keep && !training && ((s.C_in > 1 && pd.src_desc() == nhwc_src) ||
                                          (s.C_out > 1 && pd.dst_desc() == nhwc_dst))))
      pd = dnnl::convolution_forward::primitive_desc(
          forward_desc(s, dnnl::prop_kind::forward_training), forward_attr(post_ops), onednn::engine());
    onednn::log_impl(("conv2d forward " + describe(s)).c_str(), pd.impl_info_str());
    return ConvForward{pd, dnnl::convolution_forward(pd), onednn::plain_desc(g.src, tag::nchw),
                       onednn::plain_desc(g.wei, g.wei_tag), onednn::plain_desc(g.dst, tag::nchw),
                       onednn::plain_desc(g.bias, tag::x)};
  });
}

struct ConvBackwardData {
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data prim;
};
ConvBackwardData& backward_data_primitive(const Conv2dShape& s) {
  Key key("conv2d_bwd_data");
  shape_into(key, s);
  return onednn::cached<ConvBackwardData>(key, [&] {
    const Geometry g = geometry(s);
    dnnl::convolution_forward::primitive_desc hint(
        forward_desc(s, dnnl::prop_kind::forward_training), onednn::engine());
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, any(g.src),
                                            any(g.wei), any(g.dst), g.strides, g.dilates, g.pad_l,
                                            g.pad_r);
    dnnl::convolution_backward_data::primitive_desc pd(d, user_scratchpad(), onednn::engine(), hint);
    onednn::log_impl(("conv2d backward_data " + describe(s)).c_str(), pd.impl_info_str());
    return ConvBackwardData{pd, dnnl::convolution_backward_data(pd)};
  });
}

struct ConvBackwardWeights {
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
};
// with_bias: whether the bias gradient is fused into this primitive.
ConvBackwardWeights& backward_weights_primitive(const Conv2dShape& s, bool with_bias) {
  Key key("conv2d_bwd_weights");
  shape_into(key, s) << int64_t{with_bias};
  return onednn::cached<ConvBackwardWeights>(key, [&] {
    const Geometry g = geometry(s);
    dnnl::convolution_forward::primitive_desc hint(
        forward_desc(s, dnnl::prop_kind::forward_training), onednn::engine());
    auto d = with_bias
                 ? dnnl::convolution_backward_weights::desc(
                       dnnl::algorithm::convolution_direct, any(g.src), any(g.wei),
                       onednn::plain_desc(g.bias, tag::x), any(g.dst), g.strides, g.dilates,
                       g.pad_l, g.pad_r)
                 : dnnl::convolution_backward_weights::desc(
                       dnnl::algorithm::convolution_direct, any(g.src), any(g.wei), any(g.dst),
                       g.strides, g.dilates, g.pad_l, g.pad_r);
    dnnl::convolution_backward_weights::primitive_desc pd(d, user_scratchpad(), onednn::engine(),
                                                          hint);
    onednn::log_impl(("conv2d backward_weights " + describe(s)).c_str(), pd.impl_info_str());
    return ConvBackwardWeights{pd, dnnl::convolution_backward_weights(pd)};
  });
}

// A memory in `want`'s layout holding plain data `plain`: the plain memory itself when the
// layouts agree, else a reorder into scratch `slot`.
memory to_layout(const memory::desc& want, const memory::desc& plain_d, const float* plain,
                 Slot slot) {
  memory user = onednn::wrap(plain_d, plain);
  if (want == plain_d) return user;
  memory m(want, onednn::engine(), scratch(slot, want.get_size()));
  onednn::reorder(user, m);
  return m;
}
// A memory in `have`'s layout whose content is to end up in plain buffer `plain`:
// the plain buffer itself when layouts agree, else scratch `slot` (call from_layout after).
memory out_layout(const memory::desc& have, const memory::desc& plain_d, const onednn::PlainOut& plain, Slot slot) {
  if (have == plain_d) return onednn::wrap(plain_d, plain.get());  // only then are plain bytes needed
  return memory(have, onednn::engine(), scratch(slot, have.get_size()));
}
void from_layout(const memory& m, const memory::desc& plain_d, float* plain) {
  if (m.get_desc() == plain_d) return;
  memory user = onednn::wrap(plain_d, plain);
  onednn::reorder(m, user);
}
// Plain NCHW values of an operand for the sgemm path: its own, or its layout reordered into
// scratch `slot` (the tensor's storage is left as it is).
const float* plain_of(const onednn::Operand& x, Slot slot) {
  if (!x.layout) return x.plain;
  float* p = scratch(slot, x.layout->desc().get_size());
  x.layout->to_plain(p);
  return p;
}
// A memory in oneDNN's chosen layout `have` for a result: a new Layout (kept, handed to the
// caller) when `keep`, else what out_layout() gives.
memory result_memory(const memory::desc& have, const memory::desc& plain_d, const onednn::PlainOut& plain,
                     Slot slot, onednn::LayoutPtr* keep) {
  if (keep) {
    *keep = std::make_shared<onednn::Layout>(have);
    return (*keep)->memory();
  }
  return out_layout(have, plain_d, plain, slot);
}

// ---- Winograd -------------------------------------------------------------------------------

// CHOICE: where oneDNN runs a 3x3 stride-1 convolution between nChw8c tensors (its AVX2
// kernels; it has no Winograd for AVX2) or nChw16c tensors (its AVX-512 direct kernels),
// kernels/winograd.h runs its forward and its backward-data pass (a convolution of the output
// gradient with the flipped weights) instead: F(4x4, 3x3), 4x fewer multiplications, the
// weights transformed at each call. Both stay within the conv2d goldens' 1e-5 of PyTorch.
// The weight gradient goes by F(2x2, 3x3) tiles on nChw8c where the output channels fill two
// vectors (winograd::weight_grad_tile: transforms of 0, +-1 and 1/2, float over at most 256
// tiles then double, closer to exact than oneDNN's direct sums; a ResNet-20 step 1.06-1.08x
// faster than with the direct sums, capped at AVX2). By F(4x4, 3x3) it is opt-in
// (CNNKIT_WINOGRAD_WGRAD=1): its transformed products err by up to 6e-5 where the direct sum
// errs by 8e-6 (docs/performance.md). Elsewhere it is a direct sum: kernels/wgrad3x3.h on
// nChw8c (1.2-1.3x oneDNN's on ResNet-20's shapes on a Zen 3 core; its sums run over at most
// 1024 products in float, then in double) and on nChw16c with 16 input channels (where
// oneDNN's kernel runs at ~70% of the core's peak and this one, fetching the next image into
// L2, takes ~22% less time in a ResNet-20 step), oneDNN's on wider nChw16c convolutions (10-15%
// faster than this kernel there, `bench_conv --benchmark_filter=Wgrad3x3`). ResNet-20
// training on a 2-core AMD EPYC and an AVX-512 Xeon: docs/performance.md. CNNKIT_WINOGRAD=0
// turns the kernel off, =2 picks F(2x2, 3x3). oneDNN's own Winograd (jit_wino_4x3, AVX-512
// only) measured no faster than its direct kernel on ResNet-20's forward (24.5 against
// 23.5 ms a step at 1 thread) and is not used. Non-finite weights or bias stay with oneDNN
// (the kernel would compute every tile a second time), and so does a non-finite weight
// gradient (computed again: winograd.h).
// The channel block (8 or 16) of in_d and out_d when both are nChw8c or both nChw16c, else 0.
int blocked_layout(const memory::desc& in_d, const memory::dims& in, const memory::desc& out_d,
                   const memory::dims& out) {
  const int block = onednn::channel_block(in_d, in);
  return block == onednn::channel_block(out_d, out) ? block : 0;
}
// Whether the Winograd kernel takes shape s between tensors blocked by `block` channels: all
// it supports. Its 16-channel nChw16c convolutions (ResNet-20's first stage) went to
// kernels/direct3x3.h until the input transform wrote its tiles contiguously (winograd_impl.h,
// phase 1): since then they take 1.15 ms a call warm against the direct kernel's 1.5, a
// ResNet-20 training step ~1.8% less time at 1 thread (perf samples of the step against its
// unchanged weight gradients, 3 runs each) and eval at batch 64 22.6-23.0 -> 18.8-19.9 ms
// (docs/performance.md).
bool winograd_preferred(const Conv2dShape& s, int block) { return winograd::supported(s, block); }
// The channel block the Winograd kernel runs this convolution with, or 0 where it leaves it to
// oneDNN.
int winograd_runs(const Conv2dShape& s, const memory::desc& in_d, const memory::dims& in,
                  const memory::desc& out_d, const memory::dims& out) {
  const int block = blocked_layout(in_d, in, out_d, out);
  return block != 0 && winograd_preferred(s, block) ? block : 0;
}
bool all_finite(const float* v, int64_t n) {
  return v == nullptr || std::all_of(v, v + n, [](float x) { return std::isfinite(x); });
}
// The weights of this call, transformed for shape s (flipped: for its backward-data pass) into
// the calling thread's buffer; null when a weight or the bias (may be null) is not finite.
const winograd::Weights* winograd_weights(const float* weight, const float* bias, const Conv2dShape& s,
                                          bool flipped) {
  thread_local winograd::Weights w;
  const int m = winograd::tile_for(flipped ? winograd::backward_data_shape(s) : s);
  winograd::transform_weights_into(w, weight, s.C_out, s.C_in, m, flipped);
  return w.finite && all_finite(bias, s.C_out) ? &w : nullptr;
}
float* data_of(const memory& m) { return static_cast<float*>(m.get_data_handle()); }

// CHOICE: where neither the Winograd kernel nor the im2col path takes a 3x3 stride-1
// convolution between nChw16c tensors (the Winograd kernel turned off: CNNKIT_WINOGRAD=0),
// kernels/direct3x3.h runs its forward and backward-data passes instead of oneDNN's AVX-512
// direct kernel: the same sums (each product by a fused multiply-add into a float sum, channel
// blocks and taps in order). Level with oneDNN's on warm operands, faster inside a training
// step (1.5-1.65 against 1.8-1.9 ms a call on ResNet-20's 16-channel stage: it copies each
// image's input into L2 first, fetched there ahead). nChw8c stays with oneDNN there. Inference
// keeps oneDNN's channels-last kernel (forward_primitive's CHOICE), where this one does not
// run. CNNKIT_DIRECT3X3=0 turns it off.
// The channel block the direct kernel runs this convolution with, or 0.
int direct_runs(const Conv2dShape& s, const memory::desc& in_d, const memory::dims& in, const memory::desc& out_d,
                const memory::dims& out) {
  const int block = blocked_layout(in_d, in, out_d, out);
  return block == 16 && !winograd_preferred(s, block) && direct3x3::supported(s, block) ? block : 0;
}
// The weights of this call laid out for the direct kernel (flipped: for its backward-data
// pass) in the calling thread's buffer; null when a weight is not finite (0 x Inf at a padded
// tap, which oneDNN skips).
const float* direct_weights(const float* weight, const Conv2dShape& s, int block, bool flipped) {
  thread_local std::vector<float> w;
  return direct3x3::pack_weights(w, weight, s.C_out, s.C_in, block, flipped) ? w.data() : nullptr;
}

// ---- im2col + sgemm -----------------------------------------------------------------------

// C (M, N) = alpha * op(A) * op(B) + beta * C, row-major. oneDNN's sgemm rather than
// OpenBLAS's: on these small, skinny products it measured 1.2-4x faster (both on AVX2 and
// AVX-512), and it threads on cnnkit's OpenMP pool (one thread inside a parallel region),
// where OpenBLAS's own pthread pool would oversubscribe the cores.
void sgemm(char ta, char tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const dnnl_status_t st = dnnl_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  CNNKIT_ASSERT(st == dnnl_success, "dnnl_sgemm failed with status ", int(st));
}

// For one kernel offset (k along an axis with stride s, dilation d, left pad p), the output
// positions [lo, hi) whose input position o*s - p + k*d lies inside [0, in).
void valid_range(int64_t k, int64_t s, int64_t d, int64_t p, int64_t in, int64_t out,
                 int64_t& lo, int64_t& hi) {
  const int64_t off = k * d - p;  // input position of output 0
  // o*s + off >= 0  <=>  o >= ceil(-off / s);  o*s + off < in  <=>  o < ceil((in - off) / s)
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = in - off <= 0 ? 0 : (in - off + s - 1) / s;
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
}

// col (Cig * kH * kW, P) <- one image's group of channels in (Cig, H, W), zero-padded.
void im2col(float* col, const float* in, int64_t Cig, const Conv2dShape& s) {
  const int64_t P = s.H_out * s.W_out;
  for (int64_t c = 0; c < Cig; ++c) {
    const float* plane = in + c * s.H * s.W;
    for (int64_t kh = 0; kh < s.kH; ++kh) {
      int64_t oh_lo, oh_hi;
      valid_range(kh, s.stride_h, s.dil_h, s.pad_t, s.H, s.H_out, oh_lo, oh_hi);
      for (int64_t kw = 0; kw < s.kW; ++kw) {
        int64_t ow_lo, ow_hi;
        valid_range(kw, s.stride_w, s.dil_w, s.pad_l, s.W, s.W_out, ow_lo, ow_hi);
        float* row = col + ((c * s.kH + kh) * s.kW + kw) * P;
        std::fill(row, row + oh_lo * s.W_out, 0.0f);
        for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
          float* r = row + oh * s.W_out;
          const float* src = plane + (oh * s.stride_h - s.pad_t + kh * s.dil_h) * s.W +
                             (kw * s.dil_w - s.pad_l);
          std::fill(r, r + ow_lo, 0.0f);
          if (s.stride_w == 1) {
            std::memcpy(r + ow_lo, src + ow_lo, static_cast<size_t>(ow_hi - ow_lo) * sizeof(float));
          } else {
            for (int64_t ow = ow_lo; ow < ow_hi; ++ow) r[ow] = src[ow * s.stride_w];
          }
          std::fill(r + ow_hi, r + s.W_out, 0.0f);
        }
        std::fill(row + oh_hi * s.W_out, row + P, 0.0f);
      }
    }
  }
}

// in (Cig, H, W) += col (Cig * kH * kW, P) scattered back (the adjoint of im2col).
void col2im_add(float* in, const float* col, int64_t Cig, const Conv2dShape& s) {
  const int64_t P = s.H_out * s.W_out;
  for (int64_t c = 0; c < Cig; ++c) {
    float* plane = in + c * s.H * s.W;
    for (int64_t kh = 0; kh < s.kH; ++kh) {
      int64_t oh_lo, oh_hi;
      valid_range(kh, s.stride_h, s.dil_h, s.pad_t, s.H, s.H_out, oh_lo, oh_hi);
      for (int64_t kw = 0; kw < s.kW; ++kw) {
        int64_t ow_lo, ow_hi;
        valid_range(kw, s.stride_w, s.dil_w, s.pad_l, s.W, s.W_out, ow_lo, ow_hi);
        const float* row = col + ((c * s.kH + kh) * s.kW + kw) * P;
        for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
          const float* r = row + oh * s.W_out;
          float* dst = plane + (oh * s.stride_h - s.pad_t + kh * s.dil_h) * s.W +
                       (kw * s.dil_w - s.pad_l);
          for (int64_t ow = ow_lo; ow < ow_hi; ++ow) dst[ow * s.stride_w] += r[ow];
        }
      }
    }
  }
}

// A 1x1, stride-1, unpadded convolution's column matrix is the input itself.
bool col_is_input(const Conv2dShape& s) {
  return s.kH == 1 && s.kW == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_t == 0 &&
         s.pad_l == 0 && s.H_out == s.H && s.W_out == s.W;
}

// Images per parallel chunk: split the batch across threads only when each image carries
// enough multiply-adds to pay for the fork/join (see core/threads.h).
int64_t image_chunks(const Conv2dShape& s) {
  const int64_t per_image = s.C_out * s.H_out * s.W_out * (s.C_in / s.groups) * s.kH * s.kW;
  const int64_t total = per_image * s.N;
  if (total < 64 * kGrainSize) return 1;
  return std::min<int64_t>(get_num_threads(), s.N);
}

void forward_gemm(float* out, const float* in, const float* weight, const float* bias,
                  const Conv2dShape& s) {
  const int64_t G = s.groups, Cig = s.C_in / G, Cog = s.C_out / G;
  const int64_t P = s.H_out * s.W_out, Kg = Cig * s.kH * s.kW;
  const int64_t chunks = image_chunks(s);
  parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t chunk = cb; chunk < ce; ++chunk) {
      float* col = col_is_input(s) ? nullptr : scratch(kCol, sizeof(float) * Kg * P);
      for (int64_t n = s.N * chunk / chunks; n < s.N * (chunk + 1) / chunks; ++n) {
        for (int64_t g = 0; g < G; ++g) {
          const float* x = in + (n * s.C_in + g * Cig) * s.H * s.W;  // (Cig, H, W)
          float* y = out + (n * s.C_out + g * Cog) * P;               // (Cog, P)
          const float* b = x;
          if (col) {
            im2col(col, x, Cig, s);
            b = col;
          }
          sgemm('N', 'N', Cog, P, Kg, 1.0f, weight + g * Cog * Kg, Kg, b, P, 0.0f, y, P);
          if (bias) {
            for (int64_t o = 0; o < Cog; ++o) {
              const float bo = bias[g * Cog + o];
              float* yo = y + o * P;
              for (int64_t p = 0; p < P; ++p) yo[p] += bo;
            }
          }
        }
      }
    }
  });
}

void backward_data_gemm(float* grad_in, const float* grad_out, const float* weight,
                        const Conv2dShape& s) {
  const int64_t G = s.groups, Cig = s.C_in / G, Cog = s.C_out / G;
  const int64_t P = s.H_out * s.W_out, Kg = Cig * s.kH * s.kW;
  const int64_t chunks = image_chunks(s);
  const bool direct = col_is_input(s);
  parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t chunk = cb; chunk < ce; ++chunk) {
      float* col = direct ? nullptr : scratch(kCol, sizeof(float) * Kg * P);
      for (int64_t n = s.N * chunk / chunks; n < s.N * (chunk + 1) / chunks; ++n) {
        for (int64_t g = 0; g < G; ++g) {
          float* dx = grad_in + (n * s.C_in + g * Cig) * s.H * s.W;  // (Cig, H, W)
          const float* dy = grad_out + (n * s.C_out + g * Cog) * P;  // (Cog, P)
          // col (Kg, P) = W_g^T (Kg, Cog) * dy (Cog, P)
          float* c = direct ? dx : col;
          sgemm('T', 'N', Kg, P, Cog, 1.0f, weight + g * Cog * Kg, Kg, dy, P, 0.0f, c, P);
          if (!direct) {
            std::fill(dx, dx + Cig * s.H * s.W, 0.0f);
            col2im_add(dx, col, Cig, s);
          }
        }
      }
    }
  });
}

// Sums a weight (and bias) gradient over the batch in image chunks, threaded when the work pays
// for it. chunk(gw, gb, n_begin, n_end) adds images [n_begin, n_end) into gw (C_out * Kg) and gb
// (C_out), both zeroed first. Chunk 0 writes straight into the outputs, the others into
// partial buffers added in chunk order, so results do not depend on timing.
template <class Chunk>
void sum_weight_grad_over_images(float* grad_weight, float* grad_bias, const Conv2dShape& s,
                                 const Chunk& chunk_fn) {
  const int64_t Kg = s.C_in / s.groups * s.kH * s.kW;
  const int64_t chunks = image_chunks(s);
  const int64_t wsize = s.C_out * Kg;
  const int64_t psize = wsize + s.C_out;  // weights then bias
  std::vector<float> partial(static_cast<size_t>((chunks - 1) * psize));
  std::vector<float> bias0(grad_bias ? 0 : static_cast<size_t>(s.C_out));
  parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t chunk = cb; chunk < ce; ++chunk) {
      float* gw = chunk == 0 ? grad_weight : partial.data() + (chunk - 1) * psize;
      float* gb = chunk == 0 ? (grad_bias ? grad_bias : bias0.data())
                             : partial.data() + (chunk - 1) * psize + wsize;
      if (grad_weight) std::fill(gw, gw + wsize, 0.0f);
      std::fill(gb, gb + s.C_out, 0.0f);
      chunk_fn(grad_weight ? gw : nullptr, grad_bias ? gb : nullptr, s.N * chunk / chunks,
               s.N * (chunk + 1) / chunks);
    }
  });
  for (int64_t chunk = 1; chunk < chunks; ++chunk) {
    const float* pw = partial.data() + (chunk - 1) * psize;
    if (grad_weight)
      for (int64_t i = 0; i < wsize; ++i) grad_weight[i] += pw[i];
    if (grad_bias)
      for (int64_t i = 0; i < s.C_out; ++i) grad_bias[i] += pw[wsize + i];
  }
}

// grad_weight and grad_bias, either may be null.
void backward_weights_gemm(float* grad_weight, float* grad_bias, const float* grad_out,
                           const float* in, const Conv2dShape& s) {
  const int64_t G = s.groups, Cig = s.C_in / G, Cog = s.C_out / G;
  const int64_t P = s.H_out * s.W_out, Kg = Cig * s.kH * s.kW;
  sum_weight_grad_over_images(grad_weight, grad_bias, s, [&](float* gw, float* gb, int64_t n0, int64_t n1) {
    float* col = gw && !col_is_input(s) ? scratch(kCol, sizeof(float) * Kg * P) : nullptr;
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t g = 0; g < G; ++g) {
        const float* x = in + (n * s.C_in + g * Cig) * s.H * s.W;
        const float* dy = grad_out + (n * s.C_out + g * Cog) * P;  // (Cog, P)
        if (gw) {
          const float* b = x;
          if (col) {
            im2col(col, x, Cig, s);
            b = col;
          }
          // gw_g (Cog, Kg) += dy (Cog, P) * col^T (P, Kg)
          sgemm('N', 'T', Cog, Kg, P, 1.0f, dy, P, b, P, 1.0f, gw + g * Cog * Kg, Kg);
        }
        if (gb) {
          for (int64_t o = 0; o < Cog; ++o) {
            const float* r = dy + o * P;
            float acc = 0.0f;
            for (int64_t p = 0; p < P; ++p) acc += r[p];
            gb[g * Cog + o] += acc;
          }
        }
      }
    }
  });
}

// ---- direct backward-weights (AVX2 + FMA) ---------------------------------------------------
//
// gw[o][c][kh][kw] = sum over images and output positions of dy[o][oh][ow] * x[c][ih][iw].
// With one or two input channels there are few outputs (150 for LeNet-5's conv1), each a long
// dot product: oneDNN's jit:avx2 kernel has no channel block to vectorise over, and im2col
// first writes a kH*kW times larger copy of every image. Here the inner loop runs along an
// output row, 8 columns per vector, for up to 8 output channels at once that share one load
// of the input. Each image's rows are copied once with their zero padding, so no tap needs a
// bounds check; the last vector of a row is masked on both operands, so only real products
// are summed (a NaN in the input reaches exactly the taps it reaches in PyTorch).

#if defined(__x86_64__)
#define CNNKIT_CONV_DIRECT 1
#include <immintrin.h>
#endif

#if CNNKIT_CONV_DIRECT
__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// One image, output channels [o0, o0 + OB): gw (C_out, C_in, kH, kW) += the taps' dot
// products. xp is the image padded to rows of Wx floats (C_in, H, Wx), column j holding input
// column j - pad_l; dy is the plain (C_out, H_out, W_out) gradient.
template <int OB>
__attribute__((target("avx2,fma"))) void direct_taps(float* gw, const float* xp, int64_t Wx,
                                                     const float* dy, int64_t o0, const Conv2dShape& s) {
  const int64_t Kg = s.C_in * s.kH * s.kW, plane = s.H_out * s.W_out;
  const int64_t full = (s.W_out - 1) / 8;  // unmasked vectors per row; then one masked
  const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(s.W_out - 8 * full)),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const float* dy0 = dy + o0 * plane;
  for (int64_t c = 0; c < s.C_in; ++c) {
    for (int64_t kh = 0; kh < s.kH; ++kh) {
      int64_t lo, hi;
      valid_range(kh, s.stride_h, s.dil_h, s.pad_t, s.H, s.H_out, lo, hi);
      for (int64_t kw = 0; kw < s.kW; ++kw) {
        __m256 acc[OB];
        for (int j = 0; j < OB; ++j) acc[j] = _mm256_setzero_ps();
        for (int64_t oh = lo; oh < hi; ++oh) {
          const float* xr = xp + (c * s.H + oh * s.stride_h - s.pad_t + kh * s.dil_h) * Wx + kw * s.dil_w;
          const float* dr = dy0 + oh * s.W_out;
          for (int64_t v = 0; v < full; ++v) {
            const __m256 xv = _mm256_loadu_ps(xr + 8 * v);
            for (int j = 0; j < OB; ++j)
              acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(dr + j * plane + 8 * v), xv, acc[j]);
          }
          const __m256 xv = _mm256_maskload_ps(xr + 8 * full, tail);
          for (int j = 0; j < OB; ++j)
            acc[j] = _mm256_fmadd_ps(_mm256_maskload_ps(dr + j * plane + 8 * full, tail), xv, acc[j]);
        }
        for (int j = 0; j < OB; ++j) gw[(o0 + j) * Kg + (c * s.kH + kh) * s.kW + kw] += hsum(acc[j]);
      }
    }
  }
}

__attribute__((target("avx2,fma"))) float plane_sum(const float* p, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(p + i));
  float r = hsum(acc);
  for (; i < n; ++i) r += p[i];
  return r;
}

void backward_weights_direct(float* grad_weight, float* grad_bias, const float* grad_out,
                             const float* in, const Conv2dShape& s) {
  const int64_t plane = s.H_out * s.W_out;
  const int64_t Wx = s.W + s.pad_l + s.pad_r;  // >= W_out + (kW - 1) * dil_w at stride_w 1
  sum_weight_grad_over_images(grad_weight, grad_bias, s, [&](float* gw, float* gb, int64_t n0, int64_t n1) {
    float* xp = scratch(kCol, sizeof(float) * static_cast<size_t>(s.C_in * s.H * Wx));
    for (int64_t n = n0; n < n1; ++n) {
      const float* x = in + n * s.C_in * s.H * s.W;
      const float* dy = grad_out + n * s.C_out * plane;
      for (int64_t r = 0; r < s.C_in * s.H; ++r) {
        float* row = xp + r * Wx;
        for (int64_t j = 0; j < s.pad_l; ++j) row[j] = 0.0f;
        for (int64_t j = 0; j < s.W; ++j) row[s.pad_l + j] = x[r * s.W + j];
        for (int64_t j = s.pad_l + s.W; j < Wx; ++j) row[j] = 0.0f;
      }
      int64_t o0 = 0;
      for (; o0 + 8 <= s.C_out; o0 += 8) direct_taps<8>(gw, xp, Wx, dy, o0, s);
      switch (s.C_out - o0) {
        case 7: direct_taps<7>(gw, xp, Wx, dy, o0, s); break;
        case 6: direct_taps<6>(gw, xp, Wx, dy, o0, s); break;
        case 5: direct_taps<5>(gw, xp, Wx, dy, o0, s); break;
        case 4: direct_taps<4>(gw, xp, Wx, dy, o0, s); break;
        case 3: direct_taps<3>(gw, xp, Wx, dy, o0, s); break;
        case 2: direct_taps<2>(gw, xp, Wx, dy, o0, s); break;
        case 1: direct_taps<1>(gw, xp, Wx, dy, o0, s); break;
        default: break;
      }
      if (gb)
        for (int64_t o = 0; o < s.C_out; ++o) gb[o] += plane_sum(dy + o * plane, plane);
    }
  });
}
#endif  // CNNKIT_CONV_DIRECT

}  // namespace

// ---- what a training forward keeps for its backward -----------------------------------------

struct Conv2dSaved {
  // The input in the layout of the forward primitive's src, when that is not plain NCHW: the
  // caller's own kept layout when it arrived in it, else a reordered copy.
  onednn::LayoutPtr src;
};

// ---- the registry ---------------------------------------------------------------------------

namespace {
bool has_avx512() {
  const auto isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
}

// The rule table. Measured per pass with oneDNN 2.6.3 (jit:avx2, and jit:avx512_core on
// AVX-512 machines) against im2col + sgemm, one thread, batch 64, 28x28 and 32x32 inputs;
// bench/bench_conv.cpp reruns the comparison (--benchmark_filter=Algo).
Conv2dPlan choose(const Conv2dShape& s, const char*& why) {
  Conv2dPlan p;
  why = "oneDNN for every pass";
  if (s.groups != 1) return p;  // grouped and depthwise: oneDNN's jit_dw / grouped kernels win
  const int64_t Cig = s.C_in;
  // CHOICE: with 1-3 input channels oneDNN's backward-data has no channel block to
  // vectorise over: 4-10x slower than sgemm + col2im (LeNet-5 conv1: 3.5-5 ms vs 0.3-0.9 ms).
  if (Cig <= 3) {
    p.backward_data = ConvAlgo::im2col_gemm;
    why = "C_in <= 3: backward_data by sgemm + col2im";
  }
  // CHOICE: backward-weights with 1-2 input channels: jit:avx2 runs at 4-10 GFLOP/s, sgemm
  // over the im2col matrix at 15-45 (LeNet-5 conv1: 2.7-4 ms vs 1.1-2.1 ms), the direct
  // kernel faster still: LeNet-5 conv1 0.70 ms vs 1.71-1.83 (1 thread), 0.35-0.41 vs
  // 0.93-1.03 (2 threads); 1->32 and 2->8 3x3 convs 1.7-2.6x faster than im2col (bench_conv
  // --benchmark_filter=Algo/.*bwd_weights under ONEDNN_MAX_CPU_ISA=AVX2). jit:avx512_core
  // handles these shapes well (50-120 GFLOP/s): against it the direct kernel wins some
  // shapes and loses others (1->32 3x3: 1.96 vs 1.34 ms), so AVX-512 machines keep oneDNN.
  if (Cig <= 2 && !has_avx512()) {
    p.backward_weights = conv2d_direct_supported(s) ? ConvAlgo::direct : ConvAlgo::im2col_gemm;
    why = p.backward_weights == ConvAlgo::direct
              ? "C_in <= 2 on AVX2: backward_data by sgemm + col2im, backward_weights direct"
              : "C_in <= 2 on AVX2: backward_data and backward_weights by im2col + sgemm";
  }
  return p;
}
}  // namespace

bool conv2d_direct_supported(const Conv2dShape& s) {
#if CNNKIT_CONV_DIRECT
  static const bool cpu = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return cpu && s.groups == 1 && s.stride_w == 1 && s.W_out >= 1;
#else
  (void)s;
  return false;
#endif
}

const Conv2dPlan& conv2d_plan(const Conv2dShape& s) {
  Key key("conv2d_plan");
  shape_into(key, s);
  return onednn::cached<Conv2dPlan>(key, [&] {
    const char* why = "";
    Conv2dPlan p = choose(s, why);
    if (onednn::verbose())
      std::fprintf(stderr, "cnnkit: conv2d plan %s -> forward %s, backward_data %s, "
                   "backward_weights %s (%s)\n", describe(s).c_str(), to_string(p.forward),
                   to_string(p.backward_data), to_string(p.backward_weights), why);
    return p;
  });
}

// ---- passes ---------------------------------------------------------------------------------

void conv2d_forward(float* out, const float* in, const float* weight, const float* bias,
                    const Conv2dShape& s, ConvAlgo algo, bool training,
                    std::shared_ptr<Conv2dSaved>* save) {
  conv2d_forward(out, nullptr, onednn::Operand{in, nullptr}, weight, bias, s, algo, training, save);
}

void conv2d_forward(onednn::PlainOut out, onednn::LayoutPtr* out_layout, const onednn::Operand& in,
                    const float* weight, const float* bias, const Conv2dShape& s, ConvAlgo algo,
                    bool training, std::shared_ptr<Conv2dSaved>* save) {
  if (ChannelMoments* m = channel_moments_sink()) m->data = nullptr;  // until this output's are taken
  if (save) save->reset();
  if (out_layout) out_layout->reset();
  if (s.N == 0 || s.C_out == 0) return;
  if (s.C_in == 0) {  // nothing to sum: the bias alone
    const int64_t P = s.H_out * s.W_out;
    for (int64_t i = 0; i < s.N * s.C_out; ++i)
      std::fill(out.get() + i * P, out.get() + (i + 1) * P, bias ? bias[i % s.C_out] : 0.0f);
    return;
  }
  if (algo == ConvAlgo::im2col_gemm) {
    forward_gemm(out.get(), plain_of(in, kPlainSrc), weight, bias, s);
    return;
  }
  onednn::SerialScope serial(serial_conv(s));
  ConvForward& f = forward_primitive(s, training, 0, in.layout != nullptr && onednn::keep_layouts());
  const memory::desc src_d = f.pd.src_desc();
  memory src;
  if (save && src_d != f.src_plain) {
    // Keep the input in the primitive's source layout for the backward: backward-weights
    // usually wants the same one, which spares it a second reorder. An input already in that
    // layout is kept as it is, without a copy.
    auto saved = std::make_shared<Conv2dSaved>();
    if (in.layout && in.layout->desc() == src_d) {
      saved->src = in.layout;
      src = saved->src->memory();
    } else {
      saved->src = std::make_shared<onednn::Layout>(src_d);
      src = onednn::as_layout(in, f.src_plain, src_d, saved->src->data());
    }
    *save = std::move(saved);
  } else {
    src = onednn::as_layout(in, f.src_plain, src_d, scratch(kSrc, src_d.get_size()));
  }
  const memory::desc dst_d = f.pd.dst_desc();
  const bool keep = out_layout && dst_d != f.dst_plain && onednn::keep_layouts();
  memory dst = result_memory(dst_d, f.dst_plain, out, kDst, keep ? out_layout : nullptr);
  const Geometry g = geometry(s);
  const int block = winograd_runs(s, src_d, g.src, dst_d, g.dst);
  const winograd::Weights* wino =
      block != 0 ? winograd_weights(weight, s.has_bias ? bias : nullptr, s, false) : nullptr;
  const int direct = wino ? 0 : direct_runs(s, src_d, g.src, dst_d, g.dst);
  const float* direct_w = direct != 0 ? direct_weights(weight, s, direct, false) : nullptr;
  ChannelMoments* const moments = channel_moments_sink();
  if (wino) {
    winograd::conv3x3(data_of(src), *wino, s.has_bias ? bias : nullptr, nullptr, false, data_of(dst), s, block,
                      keep ? moments : nullptr);
  } else if (direct_w) {
    direct3x3::conv3x3(data_of(src), direct_w, s.has_bias ? bias : nullptr, nullptr, false, data_of(dst), s, direct);
  } else {
    memory wei = to_layout(f.pd.weights_desc(), f.wei_plain, weight, kWei);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei},
                                         {DNNL_ARG_DST, dst}};
    if (s.has_bias) args.emplace(DNNL_ARG_BIAS, onednn::wrap(f.bias_plain, bias));
    args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad(f.pd.scratchpad_desc()));
    f.prim.execute(onednn::stream(), args);
  }
  if (!keep) from_layout(dst, f.dst_plain, out.get());
}

ChannelMoments*& channel_moments_sink() {
  thread_local ChannelMoments* sink = nullptr;
  return sink;
}

memory PackedWeights::get(const memory::desc& want, const memory::desc& plain_d, const float* plain) {
  if (want == plain_d) return onednn::wrap(plain_d, plain);
  std::lock_guard<std::mutex> lock(mutex_);
  for (const onednn::LayoutPtr& l : packed_)
    if (l->desc() == want) return l->memory();
  auto l = std::make_shared<onednn::Layout>(want);
  onednn::reorder(onednn::wrap(plain_d, plain), l->memory());
  packed_.push_back(l);
  return l->memory();
}
size_t PackedWeights::layouts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return packed_.size();
}
PackedWeights::PackedWeights() = default;
PackedWeights::~PackedWeights() = default;

const winograd::Weights& PackedWeights::winograd(const float* plain, int64_t C_out, int64_t C_in, int m) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::unique_ptr<winograd::Weights>& w = winograd_[m == 4 ? 1 : 0];
  if (!w) w = std::make_unique<winograd::Weights>(winograd::transform_weights(plain, C_out, C_in, m));
  return *w;
}

void conv2d_forward_fused(onednn::PlainOut out, onednn::LayoutPtr* out_layout, const onednn::Operand& in,
                          const float* weight, const float* bias, const Conv2dShape& s,
                          const ConvEpilogue& epilogue) {
  if (ChannelMoments* m = channel_moments_sink()) m->data = nullptr;
  if (out_layout) out_layout->reset();
  CNNKIT_ASSERT(s.N > 0 && s.C_out > 0 && s.C_in > 0, "conv2d_forward_fused: an empty convolution");
  // oneDNN's ReLU post-op turns NaN into 0 (PyTorch's relu keeps it): the sum is a post-op, the
  // ReLU a loop over the result right after, while it is still in cache.
  const int64_t post = epilogue.has_residual ? kPostSum : 0;
  onednn::SerialScope serial(serial_conv(s));
  ConvForward& f = forward_primitive(s, /*training=*/false, post, in.layout != nullptr && onednn::keep_layouts());
  const memory::desc src_d = f.pd.src_desc();
  memory src = onednn::as_layout(in, f.src_plain, src_d, scratch(kSrc, src_d.get_size()));
  const memory::desc dst_d = f.pd.dst_desc();
  const bool keep = out_layout && dst_d != f.dst_plain && onednn::keep_layouts();
  memory dst = result_memory(dst_d, f.dst_plain, out, kDst, keep ? out_layout : nullptr);
  // The Winograd kernel where it runs (the CHOICE above winograd_runs), the residual read
  // where it lies and the ReLU applied in the same pass; constant weights are transformed once.
  const int block = winograd_runs(s, src_d, {s.N, s.C_in, s.H, s.W}, dst_d, {s.N, s.C_out, s.H_out, s.W_out});
  const winograd::Weights* wino = nullptr;
  if (block != 0) {
    if (epilogue.packed_weights) {
      wino = &epilogue.packed_weights->winograd(weight, s.C_out, s.C_in, winograd::tile_for(s));
      if (!wino->finite || !all_finite(s.has_bias ? bias : nullptr, s.C_out)) wino = nullptr;
    } else {
      wino = winograd_weights(weight, s.has_bias ? bias : nullptr, s, false);
    }
  }
  if (wino) {
    float* y = static_cast<float*>(dst.get_data_handle());
    const float* residual = nullptr;
    if (epilogue.has_residual) {
      const onednn::Operand& r = epilogue.residual;
      if (r.layout && r.layout->desc() == dst_d) {
        residual = r.layout->data();
      } else {  // plain, or kept in another layout: into dst first
        onednn::reorder(r.layout ? r.layout->memory() : onednn::wrap(f.dst_plain, r.plain), dst);
        residual = y;
      }
    }
    winograd::conv3x3(static_cast<const float*>(src.get_data_handle()), *wino, s.has_bias ? bias : nullptr, residual,
                      epilogue.relu, y, s, block);
  } else {
    if (epilogue.has_residual) {
      // The sum post-op adds the convolution to what dst holds: the residual, in dst's layout.
      const onednn::Operand& r = epilogue.residual;
      memory have = r.layout ? r.layout->memory() : onednn::wrap(f.dst_plain, r.plain);
      onednn::reorder(have, dst);
    }
    memory wei = epilogue.packed_weights ? epilogue.packed_weights->get(f.pd.weights_desc(), f.wei_plain, weight)
                                         : to_layout(f.pd.weights_desc(), f.wei_plain, weight, kWei);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
    if (s.has_bias) args.emplace(DNNL_ARG_BIAS, onednn::wrap(f.bias_plain, bias));
    args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad(f.pd.scratchpad_desc()));
    f.prim.execute(onednn::stream(), args);
    if (epilogue.relu) {
      float* y = static_cast<float*>(dst.get_data_handle());
      eltwise_forward(y, y, static_cast<int64_t>(dst_d.get_size() / sizeof(float)), Eltwise::kRelu);
    }
  }
  if (!keep) from_layout(dst, f.dst_plain, out.get());
}

void conv2d_backward(float* grad_in, float* grad_weight, float* grad_bias, const float* grad_out,
                     const float* in, const float* weight, const Conv2dShape& s,
                     ConvAlgo data_algo, ConvAlgo weights_algo, const Conv2dSaved* saved) {
  conv2d_backward(grad_in, nullptr, grad_weight, grad_bias, onednn::Operand{grad_out, nullptr},
                  onednn::Operand{in, nullptr}, weight, s, data_algo, weights_algo, saved);
}

bool conv2d_backward(onednn::PlainOut grad_in, onednn::LayoutPtr* grad_in_layout, float* grad_weight,
                     float* grad_bias, const onednn::Operand& grad_out, const onednn::Operand& in,
                     const float* weight, const Conv2dShape& s, ConvAlgo data_algo,
                     ConvAlgo weights_algo, const Conv2dSaved* saved, const onednn::LayoutPtr& grad_in_acc) {
  if (grad_in_layout) grad_in_layout->reset();
  bool accumulated = false;
  const Geometry g = geometry(s);
  const memory::desc src_plain = onednn::plain_desc(g.src, tag::nchw);
  const memory::desc dst_plain = onednn::plain_desc(g.dst, tag::nchw);
  const memory::desc wei_plain = onednn::plain_desc(g.wei, g.wei_tag);
  const bool empty = s.N == 0 || s.C_out == 0 || s.C_in == 0;
  if (empty) {
    // No products to sum: every gradient is zero.
    if (grad_in) std::fill(grad_in.get(), grad_in.get() + s.N * s.C_in * s.H * s.W, 0.0f);
    if (grad_weight)
      std::fill(grad_weight, grad_weight + s.C_out * (s.C_in / std::max<int64_t>(s.groups, 1)) * s.kH * s.kW, 0.0f);
    if (grad_bias) std::fill(grad_bias, grad_bias + s.C_out, 0.0f);
    return false;
  }
  onednn::SerialScope serial(serial_conv(s));
  // grad_out as plain floats, converted at most once for the sgemm passes.
  const float* grad_out_plain = nullptr;
  auto plain_grad_out = [&] {
    if (!grad_out_plain) grad_out_plain = plain_of(grad_out, kPlainDiffDst);
    return grad_out_plain;
  };

  memory diff_dst;  // grad_out in the backward-data layout, reused by backward-weights
  if (grad_in) {
    if (data_algo == ConvAlgo::im2col_gemm) {
      backward_data_gemm(grad_in.get(), plain_grad_out(), weight, s);
    } else {
      ConvBackwardData& b = backward_data_primitive(s);
      const memory::desc dd_d = b.pd.diff_dst_desc();
      diff_dst = onednn::as_layout(grad_out, dst_plain, dd_d, scratch(kDiffDst, dd_d.get_size()));
      const memory::desc ds_d = b.pd.diff_src_desc();
      const bool keep = grad_in_layout && ds_d != src_plain && onednn::keep_layouts();
      memory diff_src = result_memory(ds_d, src_plain, grad_in, kDiffSrc, keep ? grad_in_layout : nullptr);
      const int block = winograd_runs(s, dd_d, g.dst, ds_d, g.src);
      const winograd::Weights* wino = block != 0 ? winograd_weights(weight, nullptr, s, true) : nullptr;
      const int direct = wino ? 0 : direct_runs(s, dd_d, g.dst, ds_d, g.src);
      const float* direct_w = direct != 0 ? direct_weights(weight, s, direct, true) : nullptr;
      // The pending gradient goes in as the kernels' residual (read, never written: other
      // gradients may alias it) where grad_in is kept in its layout.
      const float* acc = keep && (wino || direct_w) && grad_in_acc && grad_in_acc->desc() == ds_d
                             ? grad_in_acc->data() : nullptr;
      accumulated = acc != nullptr;
      if (wino) {
        winograd::conv3x3(data_of(diff_dst), *wino, nullptr, acc, false, data_of(diff_src),
                          winograd::backward_data_shape(s), block);
      } else if (direct_w) {
        direct3x3::conv3x3(data_of(diff_dst), direct_w, nullptr, acc, false, data_of(diff_src),
                           winograd::backward_data_shape(s), direct);
      } else {
        memory wei = to_layout(b.pd.weights_desc(), wei_plain, weight, kWei);
        b.prim.execute(onednn::stream(), {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, wei},
                                          {DNNL_ARG_DIFF_SRC, diff_src},
                                          {DNNL_ARG_SCRATCHPAD, scratchpad(b.pd.scratchpad_desc())}});
      }
      if (!keep) from_layout(diff_src, src_plain, grad_in.get());
    }
  }

  if (!grad_weight && !grad_bias) return accumulated;
#if CNNKIT_CONV_DIRECT
  if (weights_algo == ConvAlgo::direct && grad_weight && conv2d_direct_supported(s)) {
    backward_weights_direct(grad_weight, grad_bias, plain_grad_out(), plain_of(in, kPlainSrc), s);
    return accumulated;
  }
#endif
  if (weights_algo != ConvAlgo::onednn || !grad_weight) {
    backward_weights_gemm(grad_weight, grad_bias, plain_grad_out(),
                          grad_weight ? plain_of(in, kPlainSrc) : nullptr, s);
    return accumulated;
  }
  const bool with_bias = grad_bias != nullptr;
  ConvBackwardWeights& b = backward_weights_primitive(s, with_bias);
  const memory::desc dd_d = b.pd.diff_dst_desc();
  memory dd = diff_dst && diff_dst.get_desc() == dd_d
                  ? diff_dst
                  : onednn::as_layout(grad_out, dst_plain, dd_d, scratch(kDiffDstW, dd_d.get_size()));
  const memory::desc src_d = b.pd.src_desc();
  memory src = saved && saved->src && saved->src->desc() == src_d
                   ? saved->src->memory()
                   : onednn::as_layout(in, src_plain, src_d, scratch(kSrc, src_d.get_size()));
  const int block = blocked_layout(src_d, g.src, dd_d, g.dst);
  if (const int m = block != 0 ? winograd::weight_grad_tile(s, block) : 0;
      m != 0 && winograd::weight_grad(data_of(src), data_of(dd), grad_weight, grad_bias, s, block, m))
    return accumulated;  // else not finite: computed again below
  if (block != 0 && wgrad3x3::runs(s, block)) {
    wgrad3x3::weight_grad(data_of(src), data_of(dd), grad_weight, grad_bias, s, block);
    return accumulated;
  }
  memory dw = out_layout(b.pd.diff_weights_desc(), wei_plain, grad_weight, kDiffWei);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, dd},
                                       {DNNL_ARG_DIFF_WEIGHTS, dw}};
  if (with_bias)
    args.emplace(DNNL_ARG_DIFF_BIAS, onednn::wrap(onednn::plain_desc(g.bias, tag::x), grad_bias));
  args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad(b.pd.scratchpad_desc()));
  b.prim.execute(onednn::stream(), args);
  from_layout(dw, wei_plain, grad_weight);
  return accumulated;
}

}  // namespace cnnkit::kernels
