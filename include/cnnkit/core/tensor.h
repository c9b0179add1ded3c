// Tensor: a ref-counted handle to a strided view of 64-byte-aligned storage, with the
// autograd metadata (requires_grad, grad, grad_fn) that the define-by-run graph needs.
// The API copies LibTorch's `at::Tensor` names and signatures; methods that compute are
// declared here and defined in the ops layer (src/ops/tensor_methods.cpp), as ATen does.
//
//   auto x = cnnkit::randn({2, 3}, cnnkit::requires_grad());
//   auto y = (x * x).sum();          // 0-dim tensor
//   y.backward();                    // x.grad() == 2 * x
//   float v = y.item<float>();
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "cnnkit/core/array_ref.h"
#include "cnnkit/core/memory.h"
#include "cnnkit/core/dtype.h"
#include "cnnkit/core/error.h"
#include "cnnkit/core/scalar.h"

namespace cnnkit {

namespace autograd {
struct Node;
}
namespace indexing {
class TensorIndex;  // cnnkit/ops/indexing.h
}

namespace detail {
struct StorageInternals;  // src/core/tensor_internal.h
class AliasSlot;
}
struct StorageLayout;     // a kernel library's copy of the values (src/core/tensor_internal.h)

// Owns a byte buffer: 64-byte aligned and allocated by cnnkit, or borrowed (from_blob).
// data() is the plain view. Internally a storage may also hold its values in a kernel
// library's layout (oneDNN's blocked nChw8c, say; see docs/architecture.md, "Kept oneDNN
// layouts"): data() then converts them back once, so any reader or writer of plain bytes
// (views included, since they share the Storage) sees current values.
class Storage {
 public:
  struct Deferred {};
  explicit Storage(size_t nbytes);                      // uninitialised, 64-byte aligned
  Storage(size_t nbytes, Deferred);                     // the bytes are allocated on first data()
  Storage(void* borrowed, size_t nbytes);               // does not free
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const {
    if (__builtin_expect(pending_.load(std::memory_order_acquire), 0)) materialize();
    return data_;
  }
  size_t nbytes() const { return nbytes_; }

 private:
  // The layout copy and the alias counts are read and written only through
  // detail::StorageInternals and detail::AliasSlot (src/core/tensor_internal.h).
  friend struct detail::StorageInternals;
  friend class detail::AliasSlot;
  void materialize() const;  // allocates deferred bytes, converts a layout copy
  mutable void* data_;
  size_t nbytes_;
  bool owned_;
  mutable std::shared_ptr<StorageLayout> layout_;
  mutable std::atomic<bool> pending_{false};  // data() has work to do first
  std::atomic<int> alias_counts_[2] = {0, 0};  // live views, live detached aliases
};

namespace detail {
// Opaque to users: marks a TensorImpl that is a view or a detached alias of another impl's
// storage, counted there while it lives (copies count again); set and read only through
// src/core/tensor_internal.h. Plain tensors pay a null check on copy and destruction, aliases
// count out of line. Declared after TensorImpl::storage, so released before that storage.
class AliasSlot {
 public:
  AliasSlot() = default;
  AliasSlot(const AliasSlot& o) : storage_(o.storage_), kind_(o.kind_) {
    if (storage_) acquire();
  }
  AliasSlot& operator=(const AliasSlot& o) {
    if (this != &o) {
      if (storage_) release();
      storage_ = o.storage_;
      kind_ = o.kind_;
      if (storage_) acquire();
    }
    return *this;
  }
  ~AliasSlot() {
    if (storage_) release();
  }

 private:
  friend struct StorageInternals;
  void acquire();  // src/core/tensor.cpp
  void release();  // also clears storage_
  Storage* storage_ = nullptr;
  uint8_t kind_ = 0;
};
}  // namespace detail

struct TensorImpl;


// TensorOptions (c10::TensorOptions): dtype, device and requires_grad for factory functions;
// each remembers whether it was set (has_*), as c10's do, and prints as c10 prints them:
//   std::cout << TensorOptions(kLong).requires_grad(false);
//   // TensorOptions(dtype=long int, device=cpu (default), layout=Strided (default), requires_grad=false, ...)
struct TensorOptions {
  TensorOptions() = default;
  TensorOptions(ScalarType t) : dtype_(t) {}  // NOLINT: implicit like c10
  TensorOptions(Device d) : device_(d) {}     // NOLINT
  TensorOptions(DeviceType d) : device_(Device(d)) {} // NOLINT
  TensorOptions dtype(ScalarType t) const { auto o = *this; o.dtype_ = t; return o; }
  TensorOptions requires_grad(bool r) const { auto o = *this; o.requires_grad_ = r; return o; }
  TensorOptions device(Device d) const { auto o = *this; o.device_ = d; return o; }
  ScalarType dtype() const { return dtype_.value_or(kFloat); }
  bool has_dtype() const { return dtype_.has_value(); }
  bool requires_grad() const { return requires_grad_.value_or(false); }
  bool has_requires_grad() const { return requires_grad_.has_value(); }
  Device device() const { return device_.value_or(Device(kCPU)); }
  bool has_device() const { return device_.has_value(); }

 private:
  std::optional<ScalarType> dtype_;
  std::optional<bool> requires_grad_;
  std::optional<Device> device_;
};
std::ostream& operator<<(std::ostream& os, const TensorOptions& options);

inline TensorOptions dtype(ScalarType t) { return TensorOptions().dtype(t); }
inline TensorOptions requires_grad(bool r = true) { return TensorOptions().requires_grad(r); }
inline TensorOptions device(Device d) { return TensorOptions().device(d); }

class Tensor;
using TensorList = std::vector<Tensor>;

// Strided element access (at::TensorAccessor): a[i] drops the first dimension.
template <typename T, size_t N>
class TensorAccessor {
 public:
  TensorAccessor(T* data, const int64_t* sizes, const int64_t* strides)
      : data_(data), sizes_(sizes), strides_(strides) {}
  TensorAccessor<T, N - 1> operator[](int64_t i) const {
    return TensorAccessor<T, N - 1>(data_ + i * strides_[0], sizes_ + 1, strides_ + 1);
  }
  int64_t size(int64_t d) const { return sizes_[d]; }
  int64_t stride(int64_t d) const { return strides_[d]; }
  T* data() const { return data_; }

 private:
  T* data_;
  const int64_t* sizes_;
  const int64_t* strides_;
};
template <typename T>
class TensorAccessor<T, 1> {
 public:
  TensorAccessor(T* data, const int64_t* sizes, const int64_t* strides)
      : data_(data), sizes_(sizes), strides_(strides) {}
  T& operator[](int64_t i) const { return data_[i * strides_[0]]; }
  int64_t size(int64_t d) const { return sizes_[d]; }
  int64_t stride(int64_t d) const { return strides_[d]; }
  T* data() const { return data_; }

 private:
  T* data_;
  const int64_t* sizes_;
  const int64_t* strides_;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata -------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  int64_t dim() const;
  int64_t ndimension() const { return dim(); }
  IntArrayRef sizes() const;
  IntArrayRef strides() const;
  int64_t size(int64_t d) const;
  int64_t stride(int64_t d) const;
  int64_t numel() const;
  ScalarType scalar_type() const;
  ScalarType dtype() const { return scalar_type(); }
  size_t element_size() const { return cnnkit::element_size(scalar_type()); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * element_size(); }
  bool is_contiguous() const;
  bool is_floating_point() const { return cnnkit::is_floating_point(scalar_type()); }
  int64_t storage_offset() const;
  TensorOptions options() const { return TensorOptions(dtype()); }
  Device device() const { return Device(kCPU); }
  bool is_cuda() const { return false; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  long use_count() const { return impl_.use_count(); }
  std::string toString() const;

  void* data_ptr() const;
  template <typename T> T* data_ptr() const;   // checks dtype
  template <typename T> T item() const;        // one element, converted
  Scalar item() const;                         // one element as a Scalar: item().toFloat()
  // Fast element access for CPU loops, as at::Tensor::accessor: `auto a = t.accessor<float, 2>(); a[i][j]`.
  template <typename T, size_t N> TensorAccessor<T, N> accessor() const;
  std::vector<float> to_vector() const;        // contiguous float copy (tests, printing)

  TensorImpl* unsafeGetTensorImpl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // ---- autograd (src/autograd) ----------------------------------------------------
  bool requires_grad() const;  // a leaf with the flag, or any result of a recorded op
  Tensor& set_requires_grad(bool r);
  Tensor& requires_grad_(bool r = true) { return set_requires_grad(r); }
  bool is_leaf() const;
  const std::shared_ptr<autograd::Node>& grad_fn() const;
  Tensor grad() const;
  Tensor& mutable_grad();           // assignable: t.mutable_grad() = Tensor();
  void set_grad(const Tensor& g);
  // LibTorch's: create_graph=true records the backward pass (the .grad()s it leaves can be
  // differentiated again); `inputs`: only those leaves accumulate .grad().
  void backward(const Tensor& gradient = Tensor(), std::optional<bool> retain_graph = std::nullopt,
                bool create_graph = false, std::optional<std::vector<Tensor>> inputs = std::nullopt) const;
  Tensor detach() const;            // shares storage, no history
  Tensor data() const { return detach(); }  // an alias without history, as in LibTorch
  void set_data(const Tensor& new_data);    // swap the values, keep autograd identity
  Tensor& detach_();
  int64_t _version() const { return 0; }

  // ---- conversion and copies --------------------------------------------------------
  Tensor to(ScalarType t, bool non_blocking = false, bool copy = false) const;
  Tensor to(Device d, bool non_blocking = false, bool copy = false) const;
  Tensor to(DeviceType d, bool non_blocking = false, bool copy = false) const {
    return to(Device(d), non_blocking, copy);
  }
  Tensor to(Device d, ScalarType t, bool non_blocking = false, bool copy = false) const;
  Tensor to(const TensorOptions& o, bool non_blocking = false, bool copy = false) const;
  Tensor cpu() const { return *this; }
  Tensor toType(ScalarType t) const { return to(t); }
  Tensor clone() const;
  Tensor contiguous() const;
  Tensor& copy_(const Tensor& src, bool non_blocking = false);
  Tensor& fill_(double value);
  Tensor& zero_();
  Tensor& normal_(double mean = 0, double std = 1);
  Tensor& uniform_(double from = 0, double to = 1);
  Tensor& bernoulli_(double p = 0.5);

  // ---- views (share storage) -----------------------------------------------------------
  Tensor view(IntArrayRef sizes) const;
  Tensor reshape(IntArrayRef sizes) const;
  Tensor view_as(const Tensor& other) const { return view(other.sizes()); }
  Tensor reshape_as(const Tensor& other) const { return reshape(other.sizes()); }
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor unflatten(int64_t dim, IntArrayRef sizes) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor permute(IntArrayRef dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;
  Tensor slice(int64_t dim = 0, std::optional<int64_t> start = std::nullopt,
               std::optional<int64_t> end = std::nullopt, int64_t step = 1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor operator[](int64_t index) const { return select(0, index); }
  Tensor expand(IntArrayRef sizes) const;
  Tensor expand_as(const Tensor& other) const { return expand(other.sizes()); }
  std::vector<Tensor> split(int64_t split_size, int64_t dim = 0) const;
  std::vector<Tensor> chunk(int64_t chunks, int64_t dim = 0) const;
  std::vector<Tensor> unbind(int64_t dim = 0) const;
  Tensor repeat(IntArrayRef repeats) const;

  // ---- element-wise math ---------------------------------------------------------------
  Tensor add(const Tensor& other, double alpha = 1) const;
  Tensor add(double other, double alpha = 1) const;
  Tensor sub(const Tensor& other, double alpha = 1) const;
  Tensor sub(double other, double alpha = 1) const;
  Tensor mul(const Tensor& other) const;
  Tensor mul(double other) const;
  Tensor div(const Tensor& other) const;
  Tensor div(double other) const;
  Tensor pow(double exponent) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor neg() const;
  Tensor abs() const;
  Tensor sign() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor log1p() const;
  Tensor erf() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor square() const;
  Tensor reciprocal() const;
  Tensor sin() const;
  Tensor cos() const;
  Tensor floor() const;
  Tensor ceil() const;
  Tensor round() const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor clamp(std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt) const;
  Tensor clamp_min(double min) const;
  Tensor clamp_max(double max) const;
  Tensor maximum(const Tensor& other) const;
  Tensor minimum(const Tensor& other) const;
  Tensor masked_fill(const Tensor& mask, double value) const;
  Tensor where(const Tensor& condition, const Tensor& other) const;
  Tensor logical_not() const;
  Tensor isnan() const;
  Tensor isfinite() const;

  // in-place (not recorded by autograd: use under NoGradGuard or on tensors without grad)
  Tensor& add_(const Tensor& other, double alpha = 1);
  Tensor& add_(double other, double alpha = 1);
  Tensor& sub_(const Tensor& other, double alpha = 1);
  Tensor& sub_(double other, double alpha = 1);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double other);
  Tensor& div_(const Tensor& other);
  Tensor& div_(double other);
  Tensor& pow_(double exponent);
  Tensor& sqrt_();
  Tensor& neg_();
  Tensor& exp_();
  Tensor& relu_();
  Tensor& sigmoid_();
  Tensor& tanh_();
  Tensor& clamp_(std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt);
  Tensor& clamp_min_(double min);
  Tensor& clamp_max_(double max);
  Tensor& addcmul_(const Tensor& t1, const Tensor& t2, double value = 1);
  Tensor& addcdiv_(const Tensor& t1, const Tensor& t2, double value = 1);
  Tensor& lerp_(const Tensor& end, double weight);
  Tensor& masked_fill_(const Tensor& mask, double value);
  Tensor& abs_();
  Tensor& sign_();

  Tensor& operator+=(const Tensor& o) { return add_(o); }
  Tensor& operator+=(double o) { return add_(o); }
  Tensor& operator-=(const Tensor& o) { return sub_(o); }
  Tensor& operator-=(double o) { return sub_(o); }
  Tensor& operator*=(const Tensor& o) { return mul_(o); }
  Tensor& operator*=(double o) { return mul_(o); }
  Tensor& operator/=(const Tensor& o) { return div_(o); }
  Tensor& operator/=(double o) { return div_(o); }
  Tensor operator-() const { return neg(); }

  // ---- comparisons (bool results) -------------------------------------------------------
  Tensor eq(const Tensor& o) const;
  Tensor eq(double o) const;
  Tensor ne(const Tensor& o) const;
  Tensor ne(double o) const;
  Tensor gt(const Tensor& o) const;
  Tensor gt(double o) const;
  Tensor ge(const Tensor& o) const;
  Tensor ge(double o) const;
  Tensor lt(const Tensor& o) const;
  Tensor lt(double o) const;
  Tensor le(const Tensor& o) const;
  Tensor le(double o) const;
  bool equal(const Tensor& other) const;
  bool allclose(const Tensor& other, double rtol = 1e-5, double atol = 1e-8) const;

  // ---- reductions ----------------------------------------------------------------------
  Tensor sum(std::optional<ScalarType> dtype = std::nullopt) const;
  Tensor sum(IntArrayRef dim, bool keepdim = false, std::optional<ScalarType> dtype = std::nullopt) const;
  Tensor mean(std::optional<ScalarType> dtype = std::nullopt) const;
  Tensor mean(IntArrayRef dim, bool keepdim = false, std::optional<ScalarType> dtype = std::nullopt) const;
  Tensor prod() const;
  Tensor max() const;
  std::tuple<Tensor, Tensor> max(int64_t dim, bool keepdim = false) const;
  Tensor min() const;
  std::tuple<Tensor, Tensor> min(int64_t dim, bool keepdim = false) const;
  Tensor amax(IntArrayRef dim = {}, bool keepdim = false) const;
  Tensor amin(IntArrayRef dim = {}, bool keepdim = false) const;
  Tensor argmax(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor argmin(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor var(bool unbiased = true) const;
  Tensor var(IntArrayRef dim, bool unbiased = true, bool keepdim = false) const;
  Tensor std(bool unbiased = true) const;
  Tensor std(IntArrayRef dim, bool unbiased = true, bool keepdim = false) const;
  // LibTorch's C++-only overloads (gh-40287): x.var(1) and x.var({1}) reduce dim 1 (unbiased).
  // Without them the int converts to `bool unbiased` (a standard conversion, which beats the
  // user-defined one to IntArrayRef) and gives the variance of all elements.
  Tensor var(int dim) const;
  Tensor std(int dim) const;
  Tensor norm(double p = 2) const;
  Tensor norm(double p, IntArrayRef dim, bool keepdim = false) const;
  Tensor logsumexp(IntArrayRef dim, bool keepdim = false) const;
  Tensor all() const;
  Tensor any() const;
  std::tuple<Tensor, Tensor> topk(int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true) const;
  std::tuple<Tensor, Tensor> sort(int64_t dim = -1, bool descending = false) const;

  // ---- linear algebra, softmax, indexing ---------------------------------------------
  Tensor matmul(const Tensor& other) const;
  Tensor mm(const Tensor& other) const;
  Tensor softmax(int64_t dim, std::optional<ScalarType> dtype = std::nullopt) const;
  Tensor log_softmax(int64_t dim, std::optional<ScalarType> dtype = std::nullopt) const;
  Tensor index_select(int64_t dim, const Tensor& index) const;
  // x.index({Slice(), 0, None, mask}) == Python's x[:, 0, None, mask] (cnnkit/ops/indexing.h).
  Tensor index(std::initializer_list<indexing::TensorIndex> indices) const;
  Tensor index(const std::vector<indexing::TensorIndex>& indices) const;
  // x.index_put_({mask}, 0) == Python's x[mask] = 0; the value broadcasts to the indexed shape.
  Tensor& index_put_(std::initializer_list<indexing::TensorIndex> indices, const Tensor& value);
  Tensor& index_put_(std::initializer_list<indexing::TensorIndex> indices, double value);
  Tensor& index_put_(const std::vector<indexing::TensorIndex>& indices, const Tensor& value);
  Tensor& index_put_(const std::vector<indexing::TensorIndex>& indices, double value);
  Tensor nonzero() const;
  Tensor masked_select(const Tensor& mask) const;
  Tensor gather(int64_t dim, const Tensor& index) const;
  Tensor one_hot(int64_t num_classes) const;

  void print() const;

 private:
  TensorImpl& impl() const {
    CNNKIT_CHECK_T(ValueError, impl_ != nullptr, "use of an undefined Tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};


struct TensorImpl {
  std::shared_ptr<Storage> storage;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;  // in elements
  int64_t offset = 0;            // in elements
  ScalarType dtype = kFloat;
  detail::AliasSlot alias;       // set when this impl is a view or a detached alias of another

  // autograd
  bool requires_grad = false;                 // set by the user on leaves
  Tensor grad;                                // accumulated gradient (leaves)
  std::shared_ptr<autograd::Node> grad_fn;    // producer (non-leaves)
  uint32_t output_nr = 0;                     // which output of grad_fn this is
  std::weak_ptr<autograd::Node> grad_accumulator;  // leaves: their AccumulateGrad

  int64_t numel() const;
  bool is_contiguous() const;
  void* data() const {
    // An empty tensor's storage may have no memory at all (null), whatever its offset.
    char* base = static_cast<char*>(storage->data());
    return base == nullptr ? nullptr : base + offset * static_cast<int64_t>(element_size(dtype));
  }
};

inline int64_t Tensor::dim() const { return static_cast<int64_t>(impl().sizes.size()); }
inline IntArrayRef Tensor::sizes() const { return impl().sizes; }
inline IntArrayRef Tensor::strides() const { return impl().strides; }
inline int64_t Tensor::numel() const { return impl().numel(); }
inline ScalarType Tensor::scalar_type() const { return impl().dtype; }
inline bool Tensor::is_contiguous() const { return impl().is_contiguous(); }
inline int64_t Tensor::storage_offset() const { return impl().offset; }
inline void* Tensor::data_ptr() const { return impl().data(); }
inline bool Tensor::is_leaf() const { return !impl().grad_fn; }
inline const std::shared_ptr<autograd::Node>& Tensor::grad_fn() const { return impl().grad_fn; }

template <typename T, size_t N>
TensorAccessor<T, N> Tensor::accessor() const {
  CNNKIT_CHECK_SHAPE(static_cast<size_t>(dim()) == N, "accessor<", N, ">() used on a ", dim(),
                     "-dim tensor");
  return TensorAccessor<T, N>(data_ptr<T>(), impl().sizes.data(), impl().strides.data());
}

inline void Tensor::set_data(const Tensor& new_data) {
  TensorImpl& me = impl();
  const TensorImpl& src = new_data.impl();
  me.alias = detail::AliasSlot();
  me.storage = src.storage;
  me.sizes = src.sizes;
  me.strides = src.strides;
  me.offset = src.offset;
  me.dtype = src.dtype;
}

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Operators as in ATen (free functions so that `2.0 * t` works).
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, double b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, double b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, double b);
Tensor operator/(double a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, double b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, double b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, double b);
Tensor operator!(const Tensor& a);
Tensor operator&(const Tensor& a, const Tensor& b);
Tensor operator|(const Tensor& a, const Tensor& b);

// A new uninitialised contiguous tensor (no autograd); the primitive every factory uses.
Tensor empty(IntArrayRef sizes, TensorOptions options = {});

}  // namespace cnnkit
