// Engine, per-thread stream, the primitive cache, cached and counted reorders, and the kept
// layouts (Layout, layout_of, as_layout).
#include "kernels/onednn.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include <omp.h>

#include "cnnkit/core/threads.h"
#include "kernels/elementwise.h"

namespace cnnkit::kernels::onednn {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

namespace {
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
};
struct Cache {
  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<void>, KeyHash, std::equal_to<>> map;
};
Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: primitives may be used during exit
  return *c;
}
}  // namespace

void* cached_impl(std::string_view key, const std::function<std::shared_ptr<void>()>& make) {
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.map.find(key);
    if (it != c.map.end()) return it->second.get();
  }
  std::shared_ptr<void> made = make();  // JIT outside the lock
  std::lock_guard<std::mutex> lock(c.mutex);
  auto [it, inserted] = c.map.emplace(std::string(key), std::move(made));
  return it->second.get();
}

size_t cache_size() {
  std::lock_guard<std::mutex> lock(cache().mutex);
  return cache().map.size();
}

void* grow_scratch(std::unique_ptr<Storage>& buf, size_t bytes) {
  if (!buf || buf->nbytes() < bytes) {
    buf.reset();  // free before allocating the larger one
    buf = std::make_unique<Storage>(std::max<size_t>(bytes, 64));
  }
  return buf->data();
}

float* PlainOut::storage_bytes() const { return static_cast<float*>(s_->data()); }

bool verbose() {
  static const bool v = [] {
    const char* e = std::getenv("CNNKIT_VERBOSE");
    return e != nullptr && e[0] != '\0' && e[0] != '0';
  }();
  return v;
}

void log_impl(const char* what, const std::string& impl_info) {
  if (verbose()) std::fprintf(stderr, "cnnkit: %s -> %s\n", what, impl_info.c_str());
}

namespace {
std::atomic<uint64_t> reorders{0};
}  // namespace

uint64_t reorder_count() { return reorders.load(std::memory_order_relaxed); }
void reset_reorder_count() { reorders.store(0, std::memory_order_relaxed); }

SerialScope::SerialScope(bool serial)
    : active_(serial && get_num_threads() > 1 && !in_parallel_region()) {
  if (active_) {
    prev_ = omp_get_max_threads();
    omp_set_num_threads(1);
  }
}
SerialScope::~SerialScope() {
  if (active_) omp_set_num_threads(prev_);
}
int threads_now() { return in_parallel_region() ? get_num_threads() : omp_get_max_threads(); }
bool serial_memory_bound(int64_t elements) { return elements < 8 * kGrainSize; }

void reorder(const dnnl::memory& src, const dnnl::memory& dst) {
  const auto sd = src.get_desc(), dd = dst.get_desc();
  // Below 256 KiB (weights, small activations) a reorder is cheaper than a fork and join.
  SerialScope serial(sd.get_size() < (size_t{256} << 10));
  if (sd == dd) {
    // The same layout: a copy of the bytes (oneDNN would pick its generic simple:any reorder,
    // 2x slower than memcpy on a 4 MB activation).
    if (src.get_data_handle() != dst.get_data_handle()) {
      reorders.fetch_add(1, std::memory_order_relaxed);
      std::memcpy(dst.get_data_handle(), src.get_data_handle(), sd.get_size());
    }
    return;
  }
  // Keyed on the raw descriptor bytes: they capture dims, layout and padding exactly.
  dnnl::reorder& r = cached<dnnl::reorder>(Key("reorder") << sd << dd, [&] { return dnnl::reorder(src, dst); });
  reorders.fetch_add(1, std::memory_order_relaxed);
  r.execute(stream(), const_cast<dnnl::memory&>(src), const_cast<dnnl::memory&>(dst));
}

// ---- kept layouts ---------------------------------------------------------------------------

namespace {
std::atomic<int> keep_override{-1};  // -1: follow the environment
bool keep_from_env() {
  static const bool on = [] {
    const char* e = std::getenv("CNNKIT_KEEP_LAYOUTS");
    return e == nullptr || e[0] == '\0' || e[0] != '0';
  }();
  return on;
}
}  // namespace

bool keep_layouts() {
  const int o = keep_override.load(std::memory_order_relaxed);
  return o < 0 ? keep_from_env() : o != 0;
}
void set_keep_layouts(bool on) { keep_override.store(on ? 1 : 0, std::memory_order_relaxed); }

Layout::Layout(const dnnl::memory::desc& desc)
    : desc_(desc), buf_(std::make_shared<Storage>(std::max<size_t>(desc.get_size(), 64))) {}

void Layout::to_plain(void* dst) const {
  const dnnl::memory::desc plain(desc_.dims(), dt::f32, tag::nchw);
  reorder(memory(), wrap(plain, dst));
}

LayoutPtr layout_of(const TensorImpl& t) {
  const std::shared_ptr<StorageLayout>& any = cnnkit::detail::layout(*t.storage);
  if (!any || t.offset != 0 || t.dtype != ScalarType::Float) return nullptr;
  auto l = std::dynamic_pointer_cast<Layout>(any);
  if (!l) return nullptr;
  const dnnl::memory::dims d = l->desc().dims();
  const size_t nd = t.sizes.size();
  const bool same_dims = d.size() == 4 && (nd == 4 || (nd == 3 && d[0] == 1)) &&
                         std::equal(t.sizes.begin(), t.sizes.end(), d.end() - static_cast<long>(nd));
  return same_dims && t.is_contiguous() ? l : nullptr;
}

LayoutPtr exclusive_layout(const Tensor& t) {
  if (!t.defined() || t.use_count() != 1 || t.requires_grad()) return nullptr;
  const TensorImpl& impl = *t.unsafeGetTensorImpl();
  if (impl.storage.use_count() != 1 || cnnkit::detail::alias_kind(impl) != cnnkit::detail::AliasKind::kNotAnAlias ||
      cnnkit::detail::live_views(*impl.storage) != 0 || cnnkit::detail::live_detached(*impl.storage) != 0)
    return nullptr;
  LayoutPtr l = layout_of(impl);
  return l && l.use_count() == 2 ? l : nullptr;  // the storage's and l
}

LayoutPtr add_in_layout(const TensorImpl& a, const TensorImpl& b, float alpha) {
  if (a.dtype != ScalarType::Float || b.dtype != ScalarType::Float || a.sizes != b.sizes) return nullptr;
  const LayoutPtr al = layout_of(a);
  if (!al) return nullptr;
  const LayoutPtr bl = layout_of(b);
  if (!bl || !(al->desc() == bl->desc())) return nullptr;
  auto sum = std::make_shared<Layout>(al->desc());
  add_contiguous(sum->data(), al->data(), bl->data(), static_cast<int64_t>(al->desc().get_size() / sizeof(float)),
                 alpha);
  return sum;
}

bool add_into_exclusive_layout(const Tensor& a, const Tensor& b) {
  if (!b.defined() || b.dtype() != ScalarType::Float || a.sizes() != b.sizes()) return false;
  const LayoutPtr al = exclusive_layout(a);
  if (!al) return false;
  const LayoutPtr bl = layout_of(*b.unsafeGetTensorImpl());
  if (!bl || !(al->desc() == bl->desc()) || al == bl) return false;
  add_contiguous(al->data(), al->data(), bl->data(), static_cast<int64_t>(al->desc().get_size() / sizeof(float)),
                 1.0f);
  return true;
}

dnnl::memory as_layout(const Operand& in, const dnnl::memory::desc& plain_d,
                       const dnnl::memory::desc& want, void* buf) {
  dnnl::memory have = in.layout ? in.layout->memory() : wrap(plain_d, in.plain);
  if (have.get_desc() == want) return have;
  dnnl::memory m(want, engine(), buf);
  reorder(have, m);
  return m;
}

}  // namespace cnnkit::kernels::onednn
