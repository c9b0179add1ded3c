// Pooling kernels: OpenMP loops over planes for every variant (PyTorch's window, divisor,
// index and NaN rules, written out once), and oneDNN pooling_v2 primitives for the cases
// whose semantics oneDNN expresses exactly. pool2d_plan() chooses; no shape checks here.
//
// N = batch, C = channels, H, W = height, width; a plane is one (n, c) image of H*W.
#include "cnnkit/kernels/pool.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_map>

#include "cnnkit/core/tensor.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/kernels/onednn.h"

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
  shape_into(key, s, kind, avg) << int64_t{training} << src_desc;
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
  shape_into(key, s, kind, avg) << src_desc;
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

}  // namespace

void pool2d_forward_onednn(float* out, const float* in, const Pool2dShape& s, PoolKind kind,
                           AvgOptions avg, std::shared_ptr<Pool2dSaved>* save) {
  pool2d_forward_onednn(out, nullptr, onednn::Operand{in, nullptr}, s, kind, avg, save);
}

void pool2d_backward_onednn(float* grad_in, const float* grad_out, const Pool2dShape& s,
                            PoolKind kind, AvgOptions avg, const Pool2dSaved* saved) {
  pool2d_backward_onednn(grad_in, nullptr, onednn::Operand{grad_out, nullptr}, s, kind, avg, saved);
}

void pool2d_forward_onednn(float* out, onednn::LayoutPtr* out_layout, const onednn::Operand& in,
                           const Pool2dShape& s, PoolKind kind, AvgOptions avg,
                           std::shared_ptr<Pool2dSaved>* save) {
  if (save) save->reset();
  if (out_layout) out_layout->reset();
  if (s.N * s.C == 0) return;
  const bool training = save != nullptr;
  const memory::desc src_plain = onednn::plain_desc({s.N, s.C, s.H, s.W}, tag::nchw);
  const memory::desc dst_plain = onednn::plain_desc({s.N, s.C, s.H_out, s.W_out}, tag::nchw);
  const memory::desc src_d = in.layout ? in.layout->desc() : default_src_desc(s);
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
  if (!keep) onednn::reorder(dst, onednn::wrap(dst_plain, out));
}

void pool2d_backward_onednn(float* grad_in, onednn::LayoutPtr* grad_in_layout,
                            const onednn::Operand& grad_out, const Pool2dShape& s, PoolKind kind,
                            AvgOptions avg, const Pool2dSaved* saved) {
  if (grad_in_layout) grad_in_layout->reset();
  if (s.N * s.C == 0) return;
  CNNKIT_ASSERT(kind != PoolKind::max || (saved && saved->ws), "max pooling backward without "
                "the forward's workspace");
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
  if (!keep) onednn::reorder(ds, onednn::wrap(src_plain, grad_in));
}

// ---- the registry -----------------------------------------------------------------------------

bool onednn_pool_exact(const Pool2dShape& s, PoolKind kind, AvgOptions avg) {
  // oneDNN refuses padding (ceil_mode's overhang included) as wide as the undilated kernel.
  const int64_t pad_b = (s.H_out - 1) * s.stride_h + s.dil_h * (s.kH - 1) + 1 - s.H - s.pad_h;
  const int64_t pad_r = (s.W_out - 1) * s.stride_w + s.dil_w * (s.kW - 1) + 1 - s.W - s.pad_w;
  if (std::max(s.pad_h, pad_b) >= s.kH || std::max(s.pad_w, pad_r) >= s.kW) return false;
  // (Inputs holding NaN aside: oneDNN's max does not propagate NaN, PyTorch's does.)
  if (kind == PoolKind::max) return true;
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
                      : kept_input ? "input in a kept oneDNN layout: oneDNN, no reorder"
                                   : "plain NCHW input: loops beat reorder + oneDNN + reorder";
    if (onednn::verbose())
      std::fprintf(stderr, "cnnkit: pool2d plan %s -> %s (%s)\n", describe(s, kind, avg).c_str(),
                   to_string(a), why);
    return a;
  });
}

}  // namespace cnnkit::kernels
