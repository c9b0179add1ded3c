// Storage, TensorImpl bookkeeping and the metadata half of Tensor. Nothing here computes
// on elements except item() and to_vector(); math lives in the ops layer.
#include "cnnkit/core/tensor.h"
#include "core/tensor_internal.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace cnnkit {

Storage::Storage(size_t nbytes) : nbytes_(nbytes), owned_(true) {
  data_ = nbytes == 0 ? nullptr : detail::allocate_block(nbytes);
}
Storage::Storage(size_t nbytes, Deferred) : data_(nullptr), nbytes_(nbytes), owned_(true) {
  pending_.store(nbytes != 0, std::memory_order_relaxed);
}
Storage::Storage(void* borrowed, size_t nbytes) : data_(borrowed), nbytes_(nbytes), owned_(false) {}
void Storage::materialize() const {
  // Views of one storage may be read from several threads (data loader workers): convert
  // under a lock, and publish the plain bytes before dropping the layout copy.
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  if (!pending_.load(std::memory_order_relaxed)) return;
  if (data_ == nullptr && nbytes_ != 0) data_ = detail::allocate_block(nbytes_);
  if (layout_) {
    layout_->to_plain(data_);
    layout_.reset();
  }
  pending_.store(false, std::memory_order_release);
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
  if (owned_ && data_ != nullptr) detail::free_block(data_, nbytes_);
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
  // The product of the nonzero sizes bounds the strides too (contiguous_strides counts a 0 as
  // 1), so an empty tensor such as [0, 2^32, 2^32] cannot overflow them either.
  int64_t n = 1, span = 1;
  for (int64_t s : sizes) {
    CNNKIT_CHECK_T(ShapeError, s >= 0, "negative dimension in ", what, " ", sizes, ": ", s);
    CNNKIT_CHECK_T(ShapeError, s == 0 || span <= std::numeric_limits<int64_t>::max() / s,
                   what, " ", sizes, " is too large: its nonzero sizes multiply past 2^63");
    n *= s;
    span *= std::max<int64_t>(s, 1);
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

namespace detail {
Tensor empty_deferred(IntArrayRef sizes) {
  const int64_t n = checked_numel(sizes);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(n) * sizeof(float), Storage::Deferred{});
  impl->sizes = sizes.vec();
  impl->strides = contiguous_strides(sizes);
  impl->dtype = kFloat;
  return Tensor(std::move(impl));
}
}  // namespace detail

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
