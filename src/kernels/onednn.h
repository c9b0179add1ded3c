// oneDNN plumbing shared by every oneDNN-backed kernel: one CPU engine, one stream per
// thread, a primitive cache keyed on everything that shapes a primitive (kind, sizes,
// strides, attributes), counted reorders, and Layout: a tensor's values kept in oneDNN's
// blocked layout between consecutive oneDNN ops (see docs/architecture.md, "Kept oneDNN
// layouts"). Primitives are JIT-compiled once per key; a steady-state training step creates
// none. CNNKIT_VERBOSE=1 prints each implementation chosen (e.g. jit:avx2).
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "cnnkit/core/array_ref.h"
#include "cnnkit/core/tensor.h"
#include "kernels/onednn_fwd.h"
#include "core/tensor_internal.h"

namespace cnnkit::kernels::onednn {

dnnl::engine& engine();
dnnl::stream& stream();  // the calling thread's stream

// Builds cache keys: `Key("conv_fwd") << n << c << h << w`. The key is the raw bytes of
// what went in (integers as 8 bytes, descriptors as their C struct), in a buffer on the stack:
// looking a primitive up formats no strings and allocates nothing.
class Key {
 public:
  explicit Key(const char* kind) { append(kind, std::strlen(kind) + 1); }
  Key& operator<<(int64_t v) {
    append(&v, sizeof v);
    return *this;
  }
  Key& operator<<(const std::vector<int64_t>& v) {
    *this << static_cast<int64_t>(v.size());
    append(v.data(), v.size() * sizeof(int64_t));
    return *this;
  }
  Key& operator<<(const char* v) {
    append(v, std::strlen(v) + 1);
    return *this;
  }
  // A memory layout, exactly (dims, blocking, padding): its raw descriptor bytes.
  Key& operator<<(const dnnl::memory::desc& d) {
    append(&d.data, sizeof(d.data));
    return *this;
  }
  std::string_view bytes() const {
    return spilled_.empty() ? std::string_view(inline_, size_) : std::string_view(spilled_);
  }

 private:
  void append(const void* p, size_t n) {
    if (spilled_.empty() && size_ + n <= sizeof inline_) {
      std::memcpy(inline_ + size_, p, n);
      size_ += n;
      return;
    }
    if (spilled_.empty()) spilled_.assign(inline_, size_);  // past the buffer: a string (rare)
    spilled_.append(static_cast<const char*>(p), n);
  }
  char inline_[3072];
  size_t size_ = 0;
  std::string spilled_;
};

// Returns the cached object for key, creating it with make() the first time. Objects live as
// long as the process (primitives are few: one per shape and layout).
void* cached_impl(std::string_view key, const std::function<std::shared_ptr<void>()>& make);
template <typename T, typename Make>
T& cached(const Key& key, Make&& make) {
  return *static_cast<T*>(
      cached_impl(key.bytes(), [&] { return std::static_pointer_cast<void>(std::make_shared<T>(make())); }));
}
size_t cache_size();

// Per-thread, grow-only scratch memory for data that lives only during one kernel call
// (blocked copies, im2col columns, scratchpads), so a steady-state step allocates none:
//   thread_local std::unique_ptr<Storage> buf[kNumSlots];   // one set per kernel family
//   float* col = static_cast<float*>(grow_scratch(buf[kCol], bytes));
void* grow_scratch(std::unique_ptr<Storage>& buf, size_t bytes);
bool verbose();
// Logs which implementation a primitive descriptor picked (when CNNKIT_VERBOSE is set).
void log_impl(const char* what, const std::string& impl_info);

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;
inline dnnl::memory::desc plain_desc(const dnnl::memory::dims& d, tag t = tag::any) {
  return dnnl::memory::desc(d, dt::f32, t);
}
// The channel block of d when it is nChw8c (8) or nChw16c (16) over dims `dims`, else 0.
inline int channel_block(const dnnl::memory::desc& d, const dnnl::memory::dims& dims) {
  if (dims.size() != 4) return 0;
  if (d == plain_desc(dims, tag::nChw8c)) return 8;
  if (d == plain_desc(dims, tag::nChw16c)) return 16;
  return 0;
}
// A memory over caller-owned plain data, or a new buffer in `desc`'s layout.
inline dnnl::memory wrap(const dnnl::memory::desc& d, const void* ptr) {
  return dnnl::memory(d, engine(), const_cast<void*>(ptr));
}
// While it lives, oneDNN primitives (and OpenMP loops) started on this thread run on it alone,
// when `serial` is true and the process uses more than one thread outside a parallel region:
// oneDNN forks its OpenMP team for every call, whatever the size, and on these VMs the fork
// and join cost more than a small primitive's work (ResNet-20 at batch 1 took 4.3 ms a
// forward on 2 threads against 1.6 ms on 1). Callers decide `serial` from their own measure
// of work; primitives whose code depends on the thread count are keyed by threads_now().
class SerialScope {
 public:
  explicit SerialScope(bool serial);
  ~SerialScope();
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;

 private:
  bool active_;
  int prev_ = 1;
};
// The threads a primitive run now would use (1 inside a SerialScope).
int threads_now();
// Whether a memory-bound primitive (batch norm, pooling) over `elements` floats runs on one
// thread: below the grain at which the elementwise loops measured a second thread paying off
// (8 x kGrainSize = 262,144 elements, kernels/elementwise.cpp).
bool serial_memory_bound(int64_t elements);

// Runs a reorder src -> dst (cached by the pair of descriptors).
void reorder(const dnnl::memory& src, const dnnl::memory& dst);
// Reorders executed by reorder() since the last reset, on every thread (tests and benchmarks
// count them to check that a chain of oneDNN ops keeps its layouts).
uint64_t reorder_count();
void reset_reorder_count();

// ---- kept layouts ---------------------------------------------------------------------------

// Whether oneDNN-backed ops hand their results on in oneDNN's layout (default on). Read once
// from CNNKIT_KEEP_LAYOUTS (0 turns it off: every op reorders back to plain NCHW, as before);
// set_keep_layouts overrides it (tests compare both paths).
bool keep_layouts();
void set_keep_layouts(bool on);

// A 4-d float tensor's values in a oneDNN layout (nChw8c, nChw16c, ...), attached to the
// tensor's Storage with detail::set_layout in place of its plain bytes. The blocked bytes live
// in this object's own buffer (which may be larger than the plain one: channel padding);
// to_plain() reorders them into the storage when something reads it (Storage::data()).
// Immutable once published: ops that keep one for their backward hold a shared_ptr to it,
// which stays valid after the storage has gone back to plain bytes.
class Layout final : public StorageLayout {
 public:
  explicit Layout(const dnnl::memory::desc& desc);  // an uninitialised buffer of desc's size
  const dnnl::memory::desc& desc() const { return desc_; }
  float* data() const { return static_cast<float*>(buf_->data()); }
  dnnl::memory memory() const { return dnnl::memory(desc_, engine(), data()); }
  void to_plain(void* dst) const override;  // NCHW of desc's dims

 private:
  dnnl::memory::desc desc_;
  std::shared_ptr<Storage> buf_;
};
using LayoutPtr = std::shared_ptr<Layout>;

// The layout a tensor's values are kept in, or null (plain, or a view the layout does not
// describe): the tensor must be contiguous from offset 0 with sizes (N, C, H, W) equal to the
// layout's dims, or (C, H, W) for N = 1. Never converts anything.
LayoutPtr layout_of(const TensorImpl& t);
// t's kept layout when t is the only way to it: t's handle, its storage and the layout each
// held once (by the caller, by t, by that storage), no view or detached alias of the storage,
// t outside any graph (not requiring grad).
// A backward function may then write a result of its own over the gradient it was handed
// (element for element, each read before it is written), and hand the layout on as that
// result's: no fresh activation-sized buffer to fetch into cache. Null otherwise.
LayoutPtr exclusive_layout(const Tensor& t);

// a + alpha * b into a new layout, when both float tensors hold their values in the same kept
// layout (a residual add forward; two gradients meeting at a block's input in the backward
// engine): the sum stays in that layout for the next oneDNN op. Null otherwise.
LayoutPtr add_in_layout(const TensorImpl& a, const TensorImpl& b, float alpha);
// a += b in a's kept layout when that layout is exclusive_layout(a) and b is kept in the same
// one (the engine's sum of two gradients, the first its own); false, a untouched, otherwise.
bool add_into_exclusive_layout(const Tensor& a, const Tensor& b);

// An activation operand of a oneDNN kernel: plain NCHW floats, or a kept layout.
struct Operand {
  const float* plain = nullptr;
  LayoutPtr layout;  // when set, the values are here and `plain` is unused
};
// A tensor's storage as a kernel's plain destination (PlainOut): bytes allocated on first use.
inline PlainOut plain_out(const Tensor& t) { return PlainOut(*t.unsafeGetTensorImpl()->storage); }

// `in` as a memory in layout `want` (dims `plain_d`'s): in's own memory when it already is in
// that layout, else a reorder into `buf` (want.get_size() bytes, owned by the caller).
dnnl::memory as_layout(const Operand& in, const dnnl::memory::desc& plain_d,
                       const dnnl::memory::desc& want, void* buf);
// The descriptor of `in`: its layout's, or plain_d.
inline const dnnl::memory::desc& desc_of(const Operand& in, const dnnl::memory::desc& plain_d) {
  return in.layout ? in.layout->desc() : plain_d;
}

}  // namespace cnnkit::kernels::onednn
