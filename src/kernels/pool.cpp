// Pooling kernels: OpenMP loops over planes for every variant (PyTorch's window, divisor,
// index and NaN rules, written out once), and oneDNN pooling_v2 primitives for the cases
// whose semantics oneDNN expresses exactly; max pooling in oneDNN's layouts is a loop over
// that layout (oneDNN's drops NaN). pool2d_plan() chooses; no shape checks here.
//
// N = batch, C = channels, H, W = height, width; a plane is one (n, c) image of H*W.
#include "kernels/pool.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "cnnkit/core/tensor.h"
#include "cnnkit/core/threads.h"
#include "kernels/onednn.h"

namespace cnnkit::kernels {

using dnnl::memory;
using onednn::Key;
using onednn::tag;

const char* to_string(PoolAlgo a) {
  switch (a) {
    case PoolAlgo::loops: return "loops";
    case PoolAlgo::onednn: return "onednn";
  }
  return "?";
}

int64_t pool_output_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dilation,
                         bool ceil_mode) {
  const int64_t num = in + 2 * pad - dilation * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  // floor division: num may be negative when the kernel does not fit
  int64_t out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Planes per parallel chunk so that each chunk carries about kGrainSize element visits.
int64_t plane_grain(int64_t work_per_plane) {
  return std::max<int64_t>(1, kGrainSize / std::max<int64_t>(work_per_plane, 1));
}

// For output position o along an axis: the window starts at o*stride - pad; [k0, k1) are
// the kernel taps that land inside [0, in).
struct Taps {
  int64_t start, k0, k1;
};
inline Taps taps(int64_t o, int64_t stride, int64_t pad, int64_t dil, int64_t k, int64_t in) {
  const int64_t start = o * stride - pad;
  const int64_t k0 = start < 0 ? (-start + dil - 1) / dil : 0;
  const int64_t k1 = in - start <= 0 ? 0 : std::min(k, (in - start + dil - 1) / dil);
  return {start, k0, std::max(k0, k1)};
}

// One plane of max pooling. kIndex: also record where each maximum came from.
template <bool kIndex>
void max_plane(float* y, int64_t* idx, const float* x, const Pool2dShape& s) {
  for (int64_t oh = 0; oh < s.H_out; ++oh) {
    const Taps th = taps(oh, s.stride_h, s.pad_h, s.dil_h, s.kH, s.H);
    for (int64_t ow = 0; ow < s.W_out; ++ow) {
      const Taps tw = taps(ow, s.stride_w, s.pad_w, s.dil_w, s.kW, s.W);
      float m = kNegInf;
      // PyTorch starts from the first in-bounds tap, so an all -inf window points there.
      int64_t mi = (th.start + th.k0 * s.dil_h) * s.W + tw.start + tw.k0 * s.dil_w;
      for (int64_t kh = th.k0; kh < th.k1; ++kh) {
        const int64_t ih = th.start + kh * s.dil_h;
        const float* row = x + ih * s.W;
        for (int64_t kw = tw.k0; kw < tw.k1; ++kw) {
          const int64_t iw = tw.start + kw * s.dil_w;
          const float v = row[iw];
          if (v > m || std::isnan(v)) {
            m = v;
            if constexpr (kIndex) mi = ih * s.W + iw;
          }
        }
      }
      y[oh * s.W_out + ow] = m;
      if constexpr (kIndex) idx[oh * s.W_out + ow] = mi;
    }
  }
}

// PyTorch's average-pool divisor for the window at (hs, ws) before clipping.
struct AvgWindow {
  int64_t h0, h1, w0, w1;  // clipped to the input
  int64_t divisor;         // 0: empty window, output 0
};
inline AvgWindow avg_window(int64_t oh, int64_t ow, const Pool2dShape& s, AvgOptions avg) {
  int64_t h0 = oh * s.stride_h - s.pad_h, w0 = ow * s.stride_w - s.pad_w;
  int64_t h1 = std::min(h0 + s.kH, s.H + s.pad_h), w1 = std::min(w0 + s.kW, s.W + s.pad_w);
  const int64_t pool_size = (h1 - h0) * (w1 - w0);  // clipped to the padded input only
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, s.H);
  w1 = std::min(w1, s.W);
  if (h0 >= h1 || w0 >= w1) return {h0, h1, w0, w1, 0};
  const int64_t div = avg.divisor_override != 0 ? avg.divisor_override
                      : avg.count_include_pad   ? pool_size
                                                : (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, div};
}

// Adaptive windows along one axis: [floor(o*in/out), ceil((o+1)*in/out)).
inline int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
inline int64_t adaptive_end(int64_t o, int64_t in, int64_t out) {
  return ((o + 1) * in + out - 1) / out;
}

// Per-thread grow-only scratch for blocked copies that live only during one call.
enum Slot { kSrc, kDst, kScratchpad, kNumSlots };
void* scratch(Slot slot, size_t bytes) {
  thread_local std::unique_ptr<Storage> buf[kNumSlots];
  return onednn::grow_scratch(buf[slot], bytes);
}

// Scratchpads from the calling thread's scratch (see kernels/conv.cpp).
dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}
memory scratchpad(const memory::desc& d) {
  return memory(d, onednn::engine(), scratch(kScratchpad, d.get_size()));
}

bool has_avx512() {
  const auto isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
}

}  // namespace

// ---- loops ------------------------------------------------------------------------------------

void max_pool2d_forward(float* out, int64_t* indices, const float* in, const Pool2dShape& s) {
  const int64_t in_plane = s.H * s.W, out_plane = s.H_out * s.W_out;
  parallel_for(s.N * s.C, plane_grain(out_plane * s.kH * s.kW), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      if (indices)
        max_plane<true>(out + p * out_plane, indices + p * out_plane, in + p * in_plane, s);
      else
        max_plane<false>(out + p * out_plane, nullptr, in + p * in_plane, s);
    }
  });
}

void max_pool2d_backward(float* grad_in, const float* grad_out, const int64_t* indices,
                         int64_t planes, int64_t in_plane, int64_t out_plane) {
  parallel_for(planes, plane_grain(in_plane + out_plane), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      float* gx = grad_in + p * in_plane;
      const float* gy = grad_out + p * out_plane;
      const int64_t* ix = indices + p * out_plane;
      std::fill(gx, gx + in_plane, 0.0f);
      for (int64_t i = 0; i < out_plane; ++i) gx[ix[i]] += gy[i];
    }
  });
}

void avg_pool2d_forward(float* out, const float* in, const Pool2dShape& s, AvgOptions avg) {
  const int64_t in_plane = s.H * s.W, out_plane = s.H_out * s.W_out;
  parallel_for(s.N * s.C, plane_grain(out_plane * s.kH * s.kW), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const float* x = in + p * in_plane;
      float* y = out + p * out_plane;
      for (int64_t oh = 0; oh < s.H_out; ++oh) {
        for (int64_t ow = 0; ow < s.W_out; ++ow) {
          const AvgWindow w = avg_window(oh, ow, s, avg);
          float sum = 0.0f;
          for (int64_t ih = w.h0; ih < w.h1; ++ih)
            for (int64_t iw = w.w0; iw < w.w1; ++iw) sum += x[ih * s.W + iw];
          y[oh * s.W_out + ow] = w.divisor == 0 ? 0.0f : sum / static_cast<float>(w.divisor);
        }
      }
    }
  });
}

void avg_pool2d_backward(float* grad_in, const float* grad_out, const Pool2dShape& s,
                         AvgOptions avg) {
  const int64_t in_plane = s.H * s.W, out_plane = s.H_out * s.W_out;
  parallel_for(s.N * s.C, plane_grain(out_plane * s.kH * s.kW), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      float* gx = grad_in + p * in_plane;
      const float* gy = grad_out + p * out_plane;
      std::fill(gx, gx + in_plane, 0.0f);
      for (int64_t oh = 0; oh < s.H_out; ++oh) {
        for (int64_t ow = 0; ow < s.W_out; ++ow) {
          const AvgWindow w = avg_window(oh, ow, s, avg);
          if (w.divisor == 0) continue;
          const float g = gy[oh * s.W_out + ow] / static_cast<float>(w.divisor);
          for (int64_t ih = w.h0; ih < w.h1; ++ih)
            for (int64_t iw = w.w0; iw < w.w1; ++iw) gx[ih * s.W + iw] += g;
        }
      }
    }
  });
}

void adaptive_avg_pool2d_forward(float* out, const float* in, const Pool2dShape& s) {
  const int64_t in_plane = s.H * s.W, out_plane = s.H_out * s.W_out;
  parallel_for(s.N * s.C, plane_grain(std::max(in_plane, out_plane)), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const float* x = in + p * in_plane;
      float* y = out + p * out_plane;
      for (int64_t oh = 0; oh < s.H_out; ++oh) {
        const int64_t h0 = adaptive_start(oh, s.H, s.H_out), h1 = adaptive_end(oh, s.H, s.H_out);
        for (int64_t ow = 0; ow < s.W_out; ++ow) {
          const int64_t w0 = adaptive_start(ow, s.W, s.W_out), w1 = adaptive_end(ow, s.W, s.W_out);
          float sum = 0.0f;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) sum += x[ih * s.W + iw];
          y[oh * s.W_out + ow] = sum / static_cast<float>((h1 - h0) * (w1 - w0));
        }
      }
    }
  });
}

void adaptive_avg_pool2d_backward(float* grad_in, const float* grad_out, const Pool2dShape& s) {
  const int64_t in_plane = s.H * s.W, out_plane = s.H_out * s.W_out;
  parallel_for(s.N * s.C, plane_grain(std::max(in_plane, out_plane)), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      float* gx = grad_in + p * in_plane;
      const float* gy = grad_out + p * out_plane;
      std::fill(gx, gx + in_plane, 0.0f);
      for (int64_t oh = 0; oh < s.H_out; ++oh) {
        const int64_t h0 = adaptive_start(oh, s.H, s.H_out), h1 = adaptive_end(oh, s.H, s.H_out);
        for (int64_t ow = 0; ow < s.W_out; ++ow) {
          const int64_t w0 = adaptive_start(ow, s.W, s.W_out), w1 = adaptive_end(ow, s.W, s.W_out);
          const float g = gy[oh * s.W_out + ow] / static_cast<float>((h1 - h0) * (w1 - w0));
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) gx[ih * s.W + iw] += g;
        }
      }
    }
  });
}

void adaptive_max_pool2d_forward(float* out, int64_t* indices, const float* in,
                                 const Pool2dShape& s) {
  const int64_t in_plane = s.H * s.W, out_plane = s.H_out * s.W_out;
  parallel_for(s.N * s.C, plane_grain(std::max(in_plane, out_plane)), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const float* x = in + p * in_plane;
      float* y = out + p * out_plane;
      int64_t* ix = indices + p * out_plane;
      for (int64_t oh = 0; oh < s.H_out; ++oh) {
        const int64_t h0 = adaptive_start(oh, s.H, s.H_out), h1 = adaptive_end(oh, s.H, s.H_out);
        for (int64_t ow = 0; ow < s.W_out; ++ow) {
          const int64_t w0 = adaptive_start(ow, s.W, s.W_out), w1 = adaptive_end(ow, s.W, s.W_out);
          float m = kNegInf;
          int64_t mi = h0 * s.W + w0;
          for (int64_t ih = h0; ih < h1; ++ih) {
            for (int64_t iw = w0; iw < w1; ++iw) {
              const float v = x[ih * s.W + iw];
              if (v > m || std::isnan(v)) {
                m = v;
                mi = ih * s.W + iw;
              }
            }
          }
          y[oh * s.W_out + ow] = m;
          ix[oh * s.W_out + ow] = mi;
        }
      }
    }
  });
}

// ---- oneDNN -----------------------------------------------------------------------------------

struct Pool2dSaved {
  memory::desc src_desc;        // the layout the forward pooled (the backward's diff_src)
  memory::desc ws_desc;
  std::unique_ptr<Storage> ws;  // max pooling's workspace (where each maximum came from)
  // Max pooling by max_blocked (below): its output layout, channel block and tap numbers.
  memory::desc dst_desc;
  int64_t block = 0;            // 0: oneDNN's primitive pooled (ws holds its workspace)
  std::unique_ptr<Storage> taps;
};

namespace {

dnnl::algorithm pool_algorithm(PoolKind kind, AvgOptions avg) {
  if (kind == PoolKind::max) return dnnl::algorithm::pooling_max;
  return avg.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                               : dnnl::algorithm::pooling_avg_exclude_padding;
}

// oneDNN has no jit pooling on plain NCHW (simple_nchw runs 20-50x slower than the loops),
// so this path works on the channel-blocked layout of the machine's vector width.
tag blocked_tag() { return has_avx512() ? tag::nChw16c : tag::nChw8c; }

std::string describe(const Pool2dShape& s, PoolKind kind, AvgOptions avg) {
  char b[224];
  std::snprintf(b, sizeof b,
                "%s N=%ld C=%ld %ldx%ld -> %ldx%ld, k=%ldx%ld s=%ldx%ld pad=%ldx%ld d=%ldx%ld "
                "count_include_pad=%d divisor_override=%ld threads=%d",
                kind == PoolKind::max ? "max" : "avg", long(s.N), long(s.C), long(s.H),
                long(s.W), long(s.H_out), long(s.W_out), long(s.kH), long(s.kW),
                long(s.stride_h), long(s.stride_w), long(s.pad_h), long(s.pad_w), long(s.dil_h),
                long(s.dil_w), int(avg.count_include_pad), long(avg.divisor_override),
                get_num_threads());
  return b;
}

Key& shape_into(Key& k, const Pool2dShape& s, PoolKind kind, AvgOptions avg) {
  k << s.N << s.C << s.H << s.W << s.kH << s.kW << s.stride_h << s.stride_w << s.pad_h << s.pad_w
    << s.dil_h << s.dil_w << s.H_out << s.W_out << int64_t(kind) << int64_t(avg.count_include_pad)
    << avg.divisor_override << int64_t{get_num_threads()};
  return k;
}

// oneDNN counts dilation as gaps and refuses a dilated 1-wide kernel, where it means nothing.
memory::dims dilates(const Pool2dShape& s) {
  return {s.kH > 1 ? s.dil_h - 1 : 0, s.kW > 1 ? s.dil_w - 1 : 0};
}

// The layout this path pools a plain input in.
memory::desc default_src_desc(const Pool2dShape& s) {
  return onednn::plain_desc({s.N, s.C, s.H, s.W}, blocked_tag());
}

// src_desc: the input's layout (a kept layout, or default_src_desc()).
dnnl::pooling_v2_forward::desc forward_desc(const Pool2dShape& s, PoolKind kind, AvgOptions avg,
                                            dnnl::prop_kind prop, const memory::desc& src_desc) {
  const memory::dims dst{s.N, s.C, s.H_out, s.W_out};
  // Right padding that makes oneDNN's output size PyTorch's (it includes ceil_mode's overhang).
  const memory::dims pad_r{(s.H_out - 1) * s.stride_h + s.dil_h * (s.kH - 1) + 1 - s.H - s.pad_h,
                           (s.W_out - 1) * s.stride_w + s.dil_w * (s.kW - 1) + 1 - s.W - s.pad_w};
  return {prop, pool_algorithm(kind, avg), src_desc, onednn::plain_desc(dst, tag::any), {s.stride_h, s.stride_w}, {s.kH, s.kW},
          dilates(s), {s.pad_h, s.pad_w}, pad_r};
}

struct PoolForward {
  dnnl::pooling_v2_forward::primitive_desc pd;
  dnnl::pooling_v2_forward prim;
};
PoolForward& forward_primitive(const Pool2dShape& s, PoolKind kind, AvgOptions avg, bool training,
                               const memory::desc& src_desc) {
  Key key("pool2d_fwd");
  shape_into(key, s, kind, avg) << int64_t{training} << src_desc << int64_t{onednn::threads_now()};
  return onednn::cached<PoolForward>(key, [&] {
    auto prop = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    dnnl::pooling_v2_forward::primitive_desc pd(forward_desc(s, kind, avg, prop, src_desc),
                                                user_scratchpad(), onednn::engine());
    onednn::log_impl(("pool2d forward " + describe(s, kind, avg)).c_str(), pd.impl_info_str());
    return PoolForward{pd, dnnl::pooling_v2_forward(pd)};
  });
}

struct PoolBackward {
  dnnl::pooling_v2_backward::primitive_desc pd;
  dnnl::pooling_v2_backward prim;
};
PoolBackward& backward_primitive(const Pool2dShape& s, PoolKind kind, AvgOptions avg,
                                 const memory::desc& src_desc) {
  Key key("pool2d_bwd");
  shape_into(key, s, kind, avg) << src_desc << int64_t{onednn::threads_now()};
  return onednn::cached<PoolBackward>(key, [&] {
    auto fd = forward_desc(s, kind, avg, dnnl::prop_kind::forward_training, src_desc);
    dnnl::pooling_v2_forward::primitive_desc hint(fd, onednn::engine());
    const memory::dims pad_r{(s.H_out - 1) * s.stride_h + s.dil_h * (s.kH - 1) + 1 - s.H - s.pad_h,
                             (s.W_out - 1) * s.stride_w + s.dil_w * (s.kW - 1) + 1 - s.W - s.pad_w};
    dnnl::pooling_v2_backward::desc d(pool_algorithm(kind, avg), hint.src_desc(), hint.dst_desc(),
                                      {s.stride_h, s.stride_w}, {s.kH, s.kW},
                                      dilates(s), {s.pad_h, s.pad_w}, pad_r);
    dnnl::pooling_v2_backward::primitive_desc pd(d, user_scratchpad(), onednn::engine(), hint);
    onednn::log_impl(("pool2d backward " + describe(s, kind, avg)).c_str(), pd.impl_info_str());
    return PoolBackward{pd, dnnl::pooling_v2_backward(pd)};
  });
}

// ---- max pooling in oneDNN's layouts, as a loop --------------------------------------------
// oneDNN 2.6's pooling_max skips NaN and returns -FLT_MAX for a window of NaN or of -Inf,
// where PyTorch returns NaN (pointing at the window's last NaN) and -Inf. So max pooling on
// this path runs this loop instead, in the same layout: channel c of pixel (n, h, w) at
// (((n*CB + c/B)*H + h)*W + w)*B + c%B with CB = ceil(C/B), which covers nChw8c, nChw16c,
// nhwc (B = C) and nchw (B = 1). The B lanes of a pixel are one vector, so the window loop
// vectorises across channels. Window, tie and NaN rules are max_plane's.

// B for a layout of this form (and its tag), or B = 0.
struct ChannelBlock {
  int64_t B = 0;
  tag t = tag::undef;
};
ChannelBlock channel_block(const memory::desc& d, int64_t N, int64_t C, int64_t H, int64_t W) {
  const memory::dims dims{N, C, H, W};
  for (const ChannelBlock cb : {ChannelBlock{8, tag::nChw8c}, ChannelBlock{16, tag::nChw16c}, ChannelBlock{C, tag::nhwc},
                                ChannelBlock{1, tag::nchw}})
    if (d == onednn::plain_desc(dims, cb.t)) return cb;
  return {};
}

// The window is walked tap by tap over a whole output row: for each tap (kh, kw), in
// PyTorch's order, one pass along the row updates every output pixel's running maximum,
// eight lanes at a time (GCC vector extensions: one AVX register under -march=x86-64-v3, two
// SSE ones without). The passes stream the input with independent iterations; walking each
// pixel's whole window in turn ran 1.5-2.5x slower than oneDNN's pooling. Each pixel still
// sees its taps in the same order, so ties keep the first maximum and NaN the last NaN.
// Where each maximum came from is kept as its tap number kh*kW + kw in one byte (as oneDNN's
// workspace), so kernels of more than 256 taps do not come here (onednn_pool_exact).
// Loads and stores go through these element-aligned vector types rather than memcpy: a
// memcpy store may alias anything, which made GCC reload every loop bound from memory.
typedef float F8 __attribute__((vector_size(32), aligned(4)));
typedef int32_t I8 __attribute__((vector_size(32), aligned(4)));
typedef uint8_t U8 __attribute__((vector_size(8), aligned(1)));

// Eight tap numbers (bytes) as int32 lanes. GCC compiles __builtin_convertvector of a U8 loaded
// from memory into eight byte loads and lane inserts (and the reverse into eight extractions);
// AVX2's vpmovzxbd and packs do it in one to three instructions. With both, a LeNet-5 training
// step at batch 64 ran 1.08x faster on an AVX-512 Xeon, at 1 and at 2 threads (its first
// pooling's backward alone: 287 -> 171 us at 1 thread).
inline I8 taps8(const uint8_t* p) {
#if defined(__AVX2__)
  return (I8)_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
#else
  return __builtin_convertvector(*reinterpret_cast<const U8*>(p), I8);
#endif
}
// The reverse: eight int32 lanes (0 .. 255) stored as bytes.
inline void store_taps8(uint8_t* p, const int32_t* t) {
#if defined(__AVX2__)
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t));
  const __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packus_epi16(words, words));
#else
  *reinterpret_cast<U8*>(p) = __builtin_convertvector(*reinterpret_cast<const I8*>(t), U8);
#endif
}

// One output of a window that lies inside the input, all B lanes (B a multiple of 8): the
// taps (kh, kw) in PyTorch's order from the window's first element at `window` (rows `row`
// floats apart, columns B), the maximum to out[0 .. B) and, with kIndex, its tap number to
// tap[0 .. B). KH, KW: the window's size when known at compile time (the loops unroll), else
// 0 and kh, kw.
template <bool kIndex, int KH, int KW>
inline void window_max(const float* window, int64_t row, int64_t B, float* out, uint8_t* tap, int64_t kh_n = KH,
                       int64_t kw_n = KW) {
  const int64_t kH = KH ? KH : kh_n, kW = KW ? KW : kw_n;
  for (int64_t c = 0; c < B; c += 8) {
    // From -Inf the first tap always wins (a NaN too; -Inf leaves the same bits): start there.
    F8 mm = *reinterpret_cast<const F8*>(window + c);
    I8 tt = I8{};
    for (int64_t kh = 0; kh < kH; ++kh)
      for (int64_t kw = kh == 0 ? 1 : 0; kw < kW; ++kw) {
        const F8 vv = *reinterpret_cast<const F8*>(window + kh * row + kw * B + c);
        const I8 take = (vv > mm) | (vv != vv);  // NaN wins, and the last NaN
        mm = take ? vv : mm;
        if constexpr (kIndex) tt = take ? I8{} + static_cast<int32_t>(kh * kW + kw) : tt;
      }
    *reinterpret_cast<F8*>(out + c) = mm;
    if constexpr (kIndex) store_taps8(tap + c, reinterpret_cast<const int32_t*>(&tt));
  }
}

// out, tap: (N, CB, H_out, W_out, B); in: (N, CB, H, W, B); tap written when kIndex. Lanes
// in groups of 8 (B = 8, 16, or nhwc with C % 8 == 0) vectorise; the rest (nchw's B = 1, odd
// nhwc) run lane by lane.
template <bool kIndex, int kB>
void max_blocked(float* out, uint8_t* tap, const float* in, const Pool2dShape& s, int64_t block) {
  const int64_t B = kB ? kB : block;  // kB: B known at compile time (8, 16), or 0
  const int64_t CB = (s.C + B - 1) / B, B8 = B / 8 * 8;
  const int64_t in_plane = s.H * s.W * B, out_plane = s.H_out * s.W_out * B, row = s.W_out * B;
  std::vector<Taps> th(static_cast<size_t>(s.H_out)), tw(static_cast<size_t>(s.W_out));
  for (int64_t o = 0; o < s.H_out; ++o) th[o] = taps(o, s.stride_h, s.pad_h, s.dil_h, s.kH, s.H);
  for (int64_t o = 0; o < s.W_out; ++o) tw[o] = taps(o, s.stride_w, s.pad_w, s.dil_w, s.kW, s.W);
  // The output columns [ow0[kw], ow1[kw]) whose tap kw lies inside the input (contiguous).
  std::vector<int64_t> ow0(static_cast<size_t>(s.kW), s.W_out), ow1(static_cast<size_t>(s.kW), 0);
  for (int64_t ow = 0; ow < s.W_out; ++ow)
    for (int64_t kw = tw[ow].k0; kw < tw[ow].k1; ++kw) {
      ow0[kw] = std::min(ow0[kw], ow);
      ow1[kw] = std::max(ow1[kw], ow + 1);
    }
  const int64_t W = s.W, H_out = s.H_out, W_out = s.W_out, kW = s.kW, stride_w = s.stride_w, pad_w = s.pad_w,
                dil_w = s.dil_w, dil_h = s.dil_h;
  const Taps* th_p = th.data();
  const Taps* tw_p = tw.data();
  const int64_t* ow0_p = ow0.data();
  const int64_t* ow1_p = ow1.data();
  // Windows that tile the input (stride = kernel, no padding or dilation, none past the input:
  // MaxPool2d(2)), in whole vectors of lanes: each output's window walked in registers, its
  // taps in the same order with the same comparisons (so the same maxima and taps), one store
  // of each, where the passes over the row below read and write the row's maxima and taps once
  // a tap. LeNet-5's training step at batch 64 (6 channels in 16 lanes on AVX-512): 1.066x at 2
  // threads, 0.985x at 1 (5 alternating pairs each); capped at AVX2 1.01x and 1.006x.
  const bool tiled = s.stride_h == s.kH && s.stride_w == s.kW && s.pad_h == 0 && s.pad_w == 0 &&
                     (s.dil_h == 1 || s.kH == 1) && (s.dil_w == 1 || s.kW == 1) && s.H_out * s.kH <= s.H &&
                     s.W_out * s.kW <= s.W && B8 == B;  // no ceil-mode window past the input
  const int64_t kH = s.kH;
  parallel_for(s.N * CB, plane_grain(out_plane * s.kH * s.kW), [=](int64_t b, int64_t e) {
    if (tiled) {
      for (int64_t p = b; p < e; ++p) {
        const float* x = in + p * in_plane;
        float* o = out + p * out_plane;
        uint8_t* tp = kIndex ? tap + p * out_plane : nullptr;
        for (int64_t oh = 0; oh < H_out; ++oh)
          for (int64_t ow = 0; ow < W_out; ++ow) {
            const float* window = x + (oh * kH * W + ow * kW) * B;
            const int64_t at = (oh * W_out + ow) * B;
            // MaxPool2d(2) with the window's size known at compile time: its loops unrolled
            // (1.066x in the step above; the loops with run-time bounds measured 1.04x).
            if (kH == 2 && kW == 2) {
              window_max<kIndex, 2, 2>(window, W * B, B, o + at, kIndex ? tp + at : nullptr);
            } else {
              window_max<kIndex, 0, 0>(window, W * B, B, o + at, kIndex ? tp + at : nullptr, kH, kW);
            }
          }
      }
      return;
    }
    // The row's tap numbers as int32 lanes while it is built (blended like the maxima).
    thread_local std::vector<int32_t> tap_row;
    if (kIndex && tap_row.size() < static_cast<size_t>(row)) tap_row.resize(static_cast<size_t>(row));
    int32_t* t = tap_row.data();
    for (int64_t p = b; p < e; ++p) {
      const float* x = in + p * in_plane;
      for (int64_t oh = 0; oh < H_out; ++oh) {
        const Taps h = th_p[oh];
        float* m = out + p * out_plane + oh * row;  // the row's running maxima, in place
        for (int64_t ow = 0; ow < W_out; ++ow) {
          for (int64_t c = 0; c < B; ++c) m[ow * B + c] = kNegInf;
          if constexpr (kIndex) {
            // PyTorch starts from the first in-bounds tap, so an all -Inf window points there.
            const int32_t first = static_cast<int32_t>(h.k0 * kW + tw_p[ow].k0);
            for (int64_t c = 0; c < B; ++c) t[ow * B + c] = first;
          }
        }
        for (int64_t kh = h.k0; kh < h.k1; ++kh) {
          const int64_t ih = h.start + kh * dil_h;
          for (int64_t kw = 0; kw < kW; ++kw) {
            const int64_t ow_end = ow1_p[kw];
            const int32_t k = static_cast<int32_t>(kh * kW + kw);
            for (int64_t ow = ow0_p[kw]; ow < ow_end; ++ow) {
              const float* v = x + (ih * W + ow * stride_w - pad_w + kw * dil_w) * B;
              float* mo = m + ow * B;
              int32_t* to = kIndex ? t + ow * B : nullptr;  // t is null without indices: no arithmetic on it
              for (int64_t c = 0; c < B8; c += 8) {
                const F8 vv = *reinterpret_cast<const F8*>(v + c);
                F8& mm = *reinterpret_cast<F8*>(mo + c);
                const I8 take = (vv > mm) | (vv != vv);  // NaN wins, and the last NaN
                mm = take ? vv : mm;
                if constexpr (kIndex) {
                  I8& tt = *reinterpret_cast<I8*>(to + c);
                  tt = take ? I8{} + k : tt;
                }
              }
              for (int64_t c = B8; c < B; ++c) {
                if (v[c] > mo[c] || std::isnan(v[c])) {
                  mo[c] = v[c];
                  if constexpr (kIndex) to[c] = k;
                }
              }
            }
          }
        }
        if constexpr (kIndex) {
          uint8_t* tr = tap + p * out_plane + oh * row;
          int64_t i = 0;
          for (; i + 8 <= row; i += 8)
            store_taps8(tr + i, t + i);
          for (; i < row; ++i) tr[i] = static_cast<uint8_t>(t[i]);
        }
      }
    }
  });
}

template <bool kIndex>
void max_blocked_dispatch(float* out, uint8_t* tap, const float* in, const Pool2dShape& s, int64_t B) {
  if (B == 8) return max_blocked<kIndex, 8>(out, tap, in, s, B);
  if (B == 16) return max_blocked<kIndex, 16>(out, tap, in, s, B);
  max_blocked<kIndex, 0>(out, tap, in, s, B);
}
void max_blocked_forward(float* out, uint8_t* tap, const float* in, const Pool2dShape& s, int64_t B) {
  if (tap) return max_blocked_dispatch<true>(out, tap, in, s, B);
  max_blocked_dispatch<false>(out, nullptr, in, s, B);
}

// grad_in (N, CB, H, W, B), written (padding lanes included): grad_out routed to each
// output's tap. Tap by tap over output rows as the forward: in the pass for tap k, every
// output adds its gradient where its tap is k (and 0 elsewhere), eight lanes at a time.
template <int kB>
void max_blocked_backward_impl(float* grad_in, const float* grad_out, const uint8_t* tap, const Pool2dShape& s,
                               int64_t block) {
  const int64_t B = kB ? kB : block;
  const int64_t CB = (s.C + B - 1) / B, B8 = B / 8 * 8;
  const int64_t in_plane = s.H * s.W * B, out_plane = s.H_out * s.W_out * B, row = s.W_out * B;
  std::vector<Taps> th(static_cast<size_t>(s.H_out)), tw(static_cast<size_t>(s.W_out));
  for (int64_t o = 0; o < s.H_out; ++o) th[o] = taps(o, s.stride_h, s.pad_h, s.dil_h, s.kH, s.H);
  for (int64_t o = 0; o < s.W_out; ++o) tw[o] = taps(o, s.stride_w, s.pad_w, s.dil_w, s.kW, s.W);
  std::vector<int64_t> ow0(static_cast<size_t>(s.kW), s.W_out), ow1(static_cast<size_t>(s.kW), 0);
  for (int64_t ow = 0; ow < s.W_out; ++ow)
    for (int64_t kw = tw[ow].k0; kw < tw[ow].k1; ++kw) {
      ow0[kw] = std::min(ow0[kw], ow);
      ow1[kw] = std::max(ow1[kw], ow + 1);
    }
  const int64_t W = s.W, H_out = s.H_out, kW = s.kW, stride_w = s.stride_w, pad_w = s.pad_w, dil_w = s.dil_w,
                dil_h = s.dil_h;
  const Taps* th_p = th.data();
  const int64_t* ow0_p = ow0.data();
  const int64_t* ow1_p = ow1.data();
  // Windows that tile the input (stride = kernel, no padding or dilation: MaxPool2d(2)): every
  // input element has one window, so each is written once, its gradient or 0, with no zeroing
  // pass first (half the memory traffic); rows and columns past the last window are zeroed.
  const bool tiled = s.stride_h == s.kH && s.stride_w == s.kW && s.pad_h == 0 && s.pad_w == 0 &&
                     (s.dil_h == 1 || s.kH == 1) && (s.dil_w == 1 || s.kW == 1) && s.H_out * s.kH <= s.H &&
                     s.W_out * s.kW <= s.W;
  const int64_t kH = s.kH, W_out = s.W_out;
  parallel_for(s.N * CB, plane_grain(in_plane + out_plane), [=](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      float* gx = grad_in + p * in_plane;
      if (tiled) {
        for (int64_t oh = 0; oh < H_out; ++oh) {
          const float* gy = grad_out + p * out_plane + oh * row;
          const uint8_t* tp = tap + p * out_plane + oh * row;
          for (int64_t kh = 0; kh < kH; ++kh) {
            float* grow = gx + (oh * kH + kh) * W * B;
            for (int64_t ow = 0; ow < W_out; ++ow) {
              const float* go = gy + ow * B;
              const uint8_t* to = tp + ow * B;
              for (int64_t kw = 0; kw < kW; ++kw) {
                const uint8_t k = static_cast<uint8_t>(kh * kW + kw);
                float* g = grow + (ow * kW + kw) * B;
                // 0 + g, as the zeroed-and-added sum gives (-0 becomes +0, NaN stays NaN).
                for (int64_t c = 0; c < B8; c += 8) {
                  const I8 hit = taps8(to + c) == (I8{} + k);
                  *reinterpret_cast<F8*>(g + c) = hit ? F8{} + *reinterpret_cast<const F8*>(go + c) : F8{};
                }
                for (int64_t c = B8; c < B; ++c) g[c] = to[c] == k ? 0.0f + go[c] : 0.0f;
              }
            }
            std::fill(grow + W_out * kW * B, grow + W * B, 0.0f);
          }
        }
        std::fill(gx + H_out * kH * W * B, gx + in_plane, 0.0f);
        continue;
      }
      std::fill(gx, gx + in_plane, 0.0f);
      for (int64_t oh = 0; oh < H_out; ++oh) {
        const Taps h = th_p[oh];
        const float* gy = grad_out + p * out_plane + oh * row;
        const uint8_t* tp = tap + p * out_plane + oh * row;
        for (int64_t kh = h.k0; kh < h.k1; ++kh) {
          const int64_t ih = h.start + kh * dil_h;
          for (int64_t kw = 0; kw < kW; ++kw) {
            const int64_t ow_end = ow1_p[kw];
            const uint8_t k = static_cast<uint8_t>(kh * kW + kw);
            for (int64_t ow = ow0_p[kw]; ow < ow_end; ++ow) {
              float* g = gx + (ih * W + ow * stride_w - pad_w + kw * dil_w) * B;
              const float* go = gy + ow * B;
              const uint8_t* to = tp + ow * B;
              for (int64_t c = 0; c < B8; c += 8) {
                const I8 hit = taps8(to + c) == (I8{} + k);
                *reinterpret_cast<F8*>(g + c) += hit ? *reinterpret_cast<const F8*>(go + c) : F8{};
              }
              for (int64_t c = B8; c < B; ++c)
                if (to[c] == k) g[c] += go[c];
            }
          }
        }
      }
    }
  });
}

void max_blocked_backward(float* grad_in, const float* grad_out, const uint8_t* tap, const Pool2dShape& s,
                          int64_t B) {
  if (B == 8) return max_blocked_backward_impl<8>(grad_in, grad_out, tap, s, B);
  if (B == 16) return max_blocked_backward_impl<16>(grad_in, grad_out, tap, s, B);
  max_blocked_backward_impl<0>(grad_in, grad_out, tap, s, B);
}

}  // namespace

void pool2d_forward_onednn(float* out, const float* in, const Pool2dShape& s, PoolKind kind,
                           AvgOptions avg, std::shared_ptr<Pool2dSaved>* save) {
  pool2d_forward_onednn(out, nullptr, onednn::Operand{in, nullptr}, s, kind, avg, save);
}

void pool2d_backward_onednn(float* grad_in, const float* grad_out, const Pool2dShape& s,
                            PoolKind kind, AvgOptions avg, const Pool2dSaved* saved) {
  pool2d_backward_onednn(grad_in, nullptr, onednn::Operand{grad_out, nullptr}, s, kind, avg, saved);
}

void pool2d_forward_onednn(onednn::PlainOut out, onednn::LayoutPtr* out_layout, const onednn::Operand& in,
                           const Pool2dShape& s, PoolKind kind, AvgOptions avg,
                           std::shared_ptr<Pool2dSaved>* save) {
  if (save) save->reset();
  if (out_layout) out_layout->reset();
  if (s.N * s.C == 0) return;
  onednn::SerialScope serial(onednn::serial_memory_bound(s.N * s.C * s.H * s.W));
  const bool training = save != nullptr;
  const memory::desc src_plain = onednn::plain_desc({s.N, s.C, s.H, s.W}, tag::nchw);
  const memory::desc dst_plain = onednn::plain_desc({s.N, s.C, s.H_out, s.W_out}, tag::nchw);
  const memory::desc src_d = in.layout ? in.layout->desc() : default_src_desc(s);
  const ChannelBlock block = kind == PoolKind::max ? channel_block(src_d, s.N, s.C, s.H, s.W) : ChannelBlock{};
  if (block.B) {
    memory src = onednn::as_layout(in, src_plain, src_d, scratch(kSrc, src_d.get_size()));
    const memory::desc dst_d = onednn::plain_desc({s.N, s.C, s.H_out, s.W_out}, block.t);
    const bool keep = out_layout && onednn::keep_layouts() && dst_d != dst_plain;
    if (keep) *out_layout = std::make_shared<onednn::Layout>(dst_d);
    float* dst = keep ? (*out_layout)->data() : static_cast<float*>(scratch(kDst, dst_d.get_size()));
    uint8_t* tap = nullptr;
    if (training) {
      auto saved = std::make_shared<Pool2dSaved>();
      saved->src_desc = src_d;
      saved->dst_desc = dst_d;
      saved->block = block.B;
      saved->taps = std::make_unique<Storage>(std::max<size_t>(dst_d.get_size() / sizeof(float), 1));
      tap = static_cast<uint8_t*>(saved->taps->data());
      *save = std::move(saved);
    }
    max_blocked_forward(dst, tap, static_cast<const float*>(src.get_data_handle()), s, block.B);
    if (!keep) onednn::reorder(onednn::wrap(dst_d, dst), onednn::wrap(dst_plain, out.get()));
    return;
  }
  PoolForward& f = forward_primitive(s, kind, avg, training, src_d);
  memory src = onednn::as_layout(in, src_plain, src_d, scratch(kSrc, src_d.get_size()));
  const memory::desc dst_d = f.pd.dst_desc();
  const bool keep = out_layout && onednn::keep_layouts() && dst_d != dst_plain;
  if (keep) *out_layout = std::make_shared<onednn::Layout>(dst_d);
  memory dst = keep ? (*out_layout)->memory()
                    : memory(dst_d, onednn::engine(), scratch(kDst, dst_d.get_size()));
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
  if (training) {
    auto saved = std::make_shared<Pool2dSaved>();
    saved->src_desc = src_d;
    if (kind == PoolKind::max) {
      saved->ws_desc = f.pd.workspace_desc();
      saved->ws = std::make_unique<Storage>(std::max<size_t>(saved->ws_desc.get_size(), 1));
      args.emplace(DNNL_ARG_WORKSPACE, memory(saved->ws_desc, onednn::engine(), saved->ws->data()));
    }
    *save = std::move(saved);
  }
  args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad(f.pd.scratchpad_desc()));
  f.prim.execute(onednn::stream(), args);
  if (!keep) onednn::reorder(dst, onednn::wrap(dst_plain, out.get()));
}

void pool2d_backward_onednn(onednn::PlainOut grad_in, onednn::LayoutPtr* grad_in_layout,
                            const onednn::Operand& grad_out, const Pool2dShape& s, PoolKind kind,
                            AvgOptions avg, const Pool2dSaved* saved) {
  if (grad_in_layout) grad_in_layout->reset();
  if (s.N * s.C == 0) return;
  CNNKIT_ASSERT(kind != PoolKind::max || (saved && (saved->ws || saved->taps)), "max pooling backward "
                "without the forward's workspace");
  onednn::SerialScope serial(onednn::serial_memory_bound(s.N * s.C * s.H * s.W));
  const memory::desc src_plain_d = onednn::plain_desc({s.N, s.C, s.H, s.W}, tag::nchw);
  const memory::desc dst_plain_d = onednn::plain_desc({s.N, s.C, s.H_out, s.W_out}, tag::nchw);
  if (kind == PoolKind::max && saved->block) {
    const memory::desc &src_d = saved->src_desc, &dst_d = saved->dst_desc;
    memory dd = onednn::as_layout(grad_out, dst_plain_d, dst_d, scratch(kDst, dst_d.get_size()));
    const bool keep = grad_in_layout && onednn::keep_layouts() && src_d != src_plain_d;
    if (keep) *grad_in_layout = std::make_shared<onednn::Layout>(src_d);
    float* ds = keep ? (*grad_in_layout)->data() : static_cast<float*>(scratch(kSrc, src_d.get_size()));
    max_blocked_backward(ds, static_cast<const float*>(dd.get_data_handle()),
                         static_cast<const uint8_t*>(saved->taps->data()), s, saved->block);
    if (!keep) onednn::reorder(onednn::wrap(src_d, ds), onednn::wrap(src_plain_d, grad_in.get()));
    return;
  }
  const memory::desc src_d = saved ? saved->src_desc : default_src_desc(s);
  PoolBackward& b = backward_primitive(s, kind, avg, src_d);
  const memory::desc src_plain = onednn::plain_desc({s.N, s.C, s.H, s.W}, tag::nchw);
  const memory::desc dst_plain = onednn::plain_desc({s.N, s.C, s.H_out, s.W_out}, tag::nchw);
  const memory::desc dd_d = b.pd.diff_dst_desc(), ds_d = b.pd.diff_src_desc();
  memory dd = onednn::as_layout(grad_out, dst_plain, dd_d, scratch(kDst, dd_d.get_size()));
  const bool keep = grad_in_layout && onednn::keep_layouts() && ds_d != src_plain;
  if (keep) *grad_in_layout = std::make_shared<onednn::Layout>(ds_d);
  memory ds = keep ? (*grad_in_layout)->memory()
                   : memory(ds_d, onednn::engine(), scratch(kSrc, ds_d.get_size()));
  std::unordered_map<int, memory> args{{DNNL_ARG_DIFF_DST, dd}, {DNNL_ARG_DIFF_SRC, ds}};
  if (kind == PoolKind::max)
    args.emplace(DNNL_ARG_WORKSPACE, memory(saved->ws_desc, onednn::engine(), saved->ws->data()));
  args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad(b.pd.scratchpad_desc()));
  b.prim.execute(onednn::stream(), args);
  if (!keep) onednn::reorder(ds, onednn::wrap(src_plain, grad_in.get()));
}

bool max_pool2d_saved_indices(int64_t* indices, const Pool2dShape& s, const Pool2dSaved& saved) {
  if (!saved.taps || saved.block <= 0) return false;
  // taps: one byte per element of the blocked output (N, CB, H_out, W_out, B), tap kh*kW + kw.
  const uint8_t* tap = static_cast<const uint8_t*>(saved.taps->data());
  const int64_t B = saved.block, CB = (s.C + B - 1) / B;
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t c = 0; c < s.C; ++c)
      for (int64_t oh = 0; oh < s.H_out; ++oh)
        for (int64_t ow = 0; ow < s.W_out; ++ow) {
          const int64_t t = tap[(((n * CB + c / B) * s.H_out + oh) * s.W_out + ow) * B + c % B];
          const int64_t ih = oh * s.stride_h - s.pad_h + (t / s.kW) * s.dil_h;
          const int64_t iw = ow * s.stride_w - s.pad_w + (t % s.kW) * s.dil_w;
          indices[((n * s.C + c) * s.H_out + oh) * s.W_out + ow] = ih * s.W + iw;
        }
  return true;
}

// ---- the registry -----------------------------------------------------------------------------

bool onednn_pool_exact(const Pool2dShape& s, PoolKind kind, AvgOptions avg) {
  // oneDNN refuses padding (ceil_mode's overhang included) as wide as the undilated kernel.
  const int64_t pad_b = (s.H_out - 1) * s.stride_h + s.dil_h * (s.kH - 1) + 1 - s.H - s.pad_h;
  const int64_t pad_r = (s.W_out - 1) * s.stride_w + s.dil_w * (s.kW - 1) + 1 - s.W - s.pad_w;
  if (std::max(s.pad_h, pad_b) >= s.kH || std::max(s.pad_w, pad_r) >= s.kW) return false;
  // Max pooling on this path is max_blocked's loop (oneDNN's drops NaN): exact, for kernels
  // whose tap numbers fit its one-byte workspace.
  if (kind == PoolKind::max) return s.kH * s.kW <= 256;
  if (avg.divisor_override != 0) return false;
  if (!avg.count_include_pad) return true;  // both divide by the in-bounds count
  // oneDNN's include-padding divides by kH*kW; PyTorch by the window clipped to the padded
  // input, which differs only for a ceil_mode window hanging past the padding.
  return (s.H_out - 1) * s.stride_h + s.kH <= s.H + 2 * s.pad_h &&
         (s.W_out - 1) * s.stride_w + s.kW <= s.W + 2 * s.pad_w;
}

PoolAlgo pool2d_plan(const Pool2dShape& s, PoolKind kind, AvgOptions avg, bool need_indices,
                     bool kept_input) {
  Key key("pool2d_plan");
  shape_into(key, s, kind, avg) << int64_t{need_indices} << int64_t{kept_input};
  return onednn::cached<PoolAlgo>(key, [&] {
    // CHOICE: on plain NCHW tensors the loops win every shape measured (LeNet-5's 2x2 pools,
    // ResNet-sized 64x32x32, batch 64-256): oneDNN needs a reorder in and out of the
    // blocked layout around a pooling that is itself memory-bound (2-3x slower end to end),
    // and its plain-layout pooling (simple_nchw) is 20-50x slower. The oneDNN path is kept,
    // exact and tested, for when tensors carry oneDNN's layout between ops (DESIGN.md).
    // An input in a kept oneDNN layout is pooled by oneDNN in that layout (no reorder at all),
    // where the loops would first need it converted to plain NCHW.
    const bool exact = onednn_pool_exact(s, kind, avg);
    PoolAlgo a = !need_indices && exact && kept_input ? PoolAlgo::onednn : PoolAlgo::loops;
    const char* why = need_indices ? "indices requested: loops"
                      : !exact     ? "oneDNN cannot express these divisor rules: loops"
                      : kept_input ? (kind == PoolKind::max ? "input in a kept oneDNN layout: loop in that layout "
                                                                  "(oneDNN's max drops NaN), no reorder"
                                                                : "input in a kept oneDNN layout: oneDNN, no reorder")
                                   : "plain NCHW input: loops beat reorder + oneDNN + reorder";
    if (onednn::verbose())
      std::fprintf(stderr, "cnnkit: pool2d plan %s -> %s (%s)\n", describe(s, kind, avg).c_str(),
                   to_string(a), why);
    return a;
  });
}

}  // namespace cnnkit::kernels
