// Storage, TensorImpl bookkeeping and the metadata half of Tensor. Nothing here computes
// on elements except item() and to_vector(); math lives in the ops layer.
#include "cnnkit/core/tensor.h"
#include "core/tensor_internal.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace cnnkit {

namespace {
// glibc hands freed blocks above its trim/mmap thresholds back to the kernel, so a
// training step that frees and re-allocates its activations page-faults them in again
// every step (measured: linear forward+backward 64x400->120 spends ~1 ms, 5x its compute,
// in the kernel). Raising the thresholds keeps those pages in the main arena...
const bool malloc_tuned = [] {
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  return true;
}();

// ...but not in the per-thread arenas, which still return large blocks to the kernel
// (measured: a 13 MB tensor allocated and freed in a loop on a second thread costs 3,329
// page faults per iteration). So large blocks go through this cache: freed blocks wait in
// a bucket of their rounded size for the next request of that size, which a training step
// makes every iteration. Capped; past the cap, blocks are freed as usual.
class BlockCache {
 public:
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer every block goes back to malloc, so use-after-free stays visible.
  static constexpr size_t kMinBytes = ~size_t{0};
#else
  static constexpr size_t kMinBytes = 256 << 10;  // smaller blocks: malloc reuses them well
#endif
  static constexpr size_t kGranule = 64 << 10;
  static constexpr size_t kCapBytes = size_t{1} << 30;

  static size_t round(size_t nbytes) {
    const size_t small = ((nbytes + 63) / 64) * 64;
    return small < kMinBytes ? small : ((nbytes + kGranule - 1) / kGranule) * kGranule;
  }
  void* get(size_t rounded) {
    if (rounded >= kMinBytes) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(rounded);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= rounded;
        return p;
      }
    }
    void* p = std::aligned_alloc(64, rounded);
    if (p == nullptr) {
      release_all();  // give cached blocks back and retry once before failing
      p = std::aligned_alloc(64, rounded);
      if (p == nullptr) throw std::bad_alloc();
    }
    return p;
  }
  void put(void* p, size_t rounded) {
    if (rounded >= kMinBytes) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + rounded <= kCapBytes) {
        free_[rounded].push_back(p);
        cached_ += rounded;
        return;
      }
    }
    std::free(p);
  }
  void release_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    cached_ = 0;
  }
  size_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

BlockCache& block_cache() {
  static BlockCache* cache = new BlockCache();  // never destroyed: storages may outlive statics
  return *cache;
}
}  // namespace

void release_cached_memory() { block_cache().release_all(); }
size_t cached_memory_bytes() { return block_cache().cached_bytes(); }

Storage::Storage(size_t nbytes) : nbytes_(nbytes), owned_(true) {
  (void)malloc_tuned;
  data_ = nbytes == 0 ? nullptr : block_cache().get(BlockCache::round(nbytes));
}
Storage::Storage(void* borrowed, size_t nbytes) : data_(borrowed), nbytes_(nbytes), owned_(false) {}
void Storage::materialize() const {
  // Views of one storage may be read from several threads (data loader workers): convert
  // under a lock, and publish the plain bytes before dropping the layout copy.
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  if (!layout_) return;
  layout_->to_plain(data_);
  layout_.reset();
  has_layout_.store(false, std::memory_order_release);
}

namespace detail {
// kind_ is AliasKind::kView (1) or kDetached (2) whenever storage_ is set.
void AliasSlot::acquire() { storage_->alias_counts_[kind_ - 1].fetch_add(1, std::memory_order_acq_rel); }
void AliasSlot::release() {
  storage_->alias_counts_[kind_ - 1].fetch_sub(1, std::memory_order_acq_rel);
  storage_ = nullptr;
}
}  // namespace detail

Storage::~Storage() {
  if (owned_ && data_ != nullptr) block_cache().put(data_, BlockCache::round(nbytes_));
}

int64_t TensorImpl::numel() const {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

bool TensorImpl::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    if (sizes[d] == 1) continue;
    if (strides[d] != expected) return false;
    expected *= sizes[d];
  }
  return true;
}

namespace detail {
std::vector<int64_t> contiguous_strides(IntArrayRef sizes) {
  std::vector<int64_t> strides(sizes.size());
  int64_t s = 1;
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    strides[d] = s;
    s *= std::max<int64_t>(sizes[d], 1);
  }
  return strides;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* what) {
  int64_t n = std::max<int64_t>(ndim, 1);  // a 0-dim tensor accepts dim 0 and -1
  CNNKIT_CHECK_T(ShapeError, dim >= -n && dim < n, what, " out of range: got ", dim,
                 " for a tensor of ", ndim, " dimensions (expected in [", -n, ", ", n - 1, "])");
  return dim < 0 ? dim + n : dim;
}

int64_t checked_numel(IntArrayRef sizes, const char* what) {
  int64_t n = 1;
  for (int64_t s : sizes) {
    CNNKIT_CHECK_T(ShapeError, s >= 0, "negative dimension in ", what, " ", sizes, ": ", s);
    CNNKIT_CHECK_T(ShapeError, s == 0 || n <= std::numeric_limits<int64_t>::max() / s,
                   what, " ", sizes, " has too many elements");
    n *= s;
  }
  return n;
}
}  // namespace detail

Tensor empty(IntArrayRef sizes, TensorOptions options) {
  int64_t n = detail::checked_numel(sizes);
  ScalarType dt = options.dtype() == kDouble ? kFloat : options.dtype();
  CNNKIT_CHECK_T(ValueError, options.device().is_cpu(),
                 "cnnkit runs on the CPU; a CUDA device was requested");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(n) * element_size(dt));
  impl->sizes = sizes.vec();
  impl->strides = detail::contiguous_strides(sizes);
  impl->dtype = dt;
  impl->requires_grad = options.requires_grad();
  if (options.requires_grad()) {
    CNNKIT_CHECK_TYPE(dt == kFloat, "only float tensors can require gradients, got ", dt);
  }
  return Tensor(std::move(impl));
}

int64_t Tensor::size(int64_t d) const {
  return impl().sizes[detail::wrap_dim(d, dim())];
}
int64_t Tensor::stride(int64_t d) const {
  return impl().strides[detail::wrap_dim(d, dim())];
}

template <typename T>
T* Tensor::data_ptr() const {
  CNNKIT_CHECK_TYPE(impl().dtype == CppTypeToScalarType<T>::value, "data_ptr<",
                    dtype_name(CppTypeToScalarType<T>::value), ">() called on a ", impl().dtype,
                    " tensor");
  return static_cast<T*>(impl().data());
}
template float* Tensor::data_ptr<float>() const;
template double* Tensor::data_ptr<double>() const;
template int64_t* Tensor::data_ptr<int64_t>() const;
template uint8_t* Tensor::data_ptr<uint8_t>() const;
template bool* Tensor::data_ptr<bool>() const;

namespace {
double read_element(const TensorImpl& t, int64_t linear) {
  // linear index in row-major order over sizes -> strided offset
  int64_t off = 0;
  for (int64_t d = static_cast<int64_t>(t.sizes.size()) - 1; d >= 0; --d) {
    int64_t i = linear % t.sizes[d];
    linear /= t.sizes[d];
    off += i * t.strides[d];
  }
  const char* base = static_cast<const char*>(t.data());
  switch (t.dtype) {
    case kFloat: return reinterpret_cast<const float*>(base)[off];
    case kLong: return static_cast<double>(reinterpret_cast<const int64_t*>(base)[off]);
    case kByte: return reinterpret_cast<const uint8_t*>(base)[off];
    case kBool: return reinterpret_cast<const uint8_t*>(base)[off] != 0;
    default: break;
  }
  CNNKIT_ASSERT(false, "unsupported dtype");
  return 0;
}
}  // namespace

template <typename T>
T Tensor::item() const {
  CNNKIT_CHECK_SHAPE(numel() == 1, "item() needs a tensor with one element, got sizes ", sizes());
  if (impl().dtype == kLong) {
    int64_t v = *static_cast<const int64_t*>(impl().data());
    return static_cast<T>(v);
  }
  return static_cast<T>(read_element(impl(), 0));
}
Scalar Tensor::item() const {
  switch (scalar_type()) {
    case kFloat:
    case kDouble: return Scalar(item<double>());
    case kBool: return Scalar(item<bool>());
    default: return Scalar(item<int64_t>());
  }
}

template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;
template int Tensor::item<int>() const;
template bool Tensor::item<bool>() const;
template uint8_t Tensor::item<uint8_t>() const;

std::vector<float> Tensor::to_vector() const {
  const TensorImpl& t = impl();
  std::vector<float> out(static_cast<size_t>(t.numel()));
  if (t.dtype == kFloat && t.is_contiguous()) {
    if (!out.empty()) std::memcpy(out.data(), t.data(), out.size() * sizeof(float));
    return out;
  }
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = static_cast<float>(read_element(t, i));
  return out;
}

}  // namespace cnnkit
