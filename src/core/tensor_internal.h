// Internals of core/tensor.h for the layers above core (kernels, autograd, ops) and for
// tests: kept layouts on a storage, alias marks and their counts, shape helpers. Not
// installed; included as "core/tensor_internal.h" through the libraries' private include
// directory (src/). Users see Storage and TensorImpl without any of this.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "cnnkit/core/array_ref.h"
#include "cnnkit/core/tensor.h"

namespace cnnkit {

// A second copy of a storage's values in a kernel library's own layout (oneDNN's blocked
// nChw8c, say), so that chains of library ops skip the reorders to and from plain NCHW.
// While a storage holds one, that copy is the truth and the plain bytes are stale;
// Storage::data() converts it back once and drops it.
struct StorageLayout {
  virtual ~StorageLayout() = default;
  virtual void to_plain(void* dst) const = 0;  // writes the values row-major into dst
};

namespace detail {

enum class AliasKind : uint8_t { kNotAnAlias = 0, kView = 1, kDetached = 2 };

// The one door to Storage's and AliasSlot's private members (both befriend it).
struct StorageInternals {
  static const std::shared_ptr<StorageLayout>& layout(const Storage& s) { return s.layout_; }
  static void set_layout(Storage& s, std::shared_ptr<StorageLayout> layout) {
    s.layout_ = std::move(layout);
    s.pending_.store(s.layout_ != nullptr || (s.data_ == nullptr && s.nbytes_ != 0), std::memory_order_release);
  }
  static bool owns(const Storage& s) { return s.owned_; }
  static bool has_plain_bytes(const Storage& s) { return s.data_ != nullptr || s.nbytes_ == 0;
  }
  static int count(const Storage& s, AliasKind kind) {
    return s.alias_counts_[static_cast<int>(kind) - 1].load(std::memory_order_acquire);
  }
  static void mark_alias(TensorImpl& impl, AliasKind kind) {
    AliasSlot& slot = impl.alias;
    if (slot.storage_) slot.release();
    if (kind != AliasKind::kNotAnAlias && impl.storage) {
      slot.storage_ = impl.storage.get();
      slot.kind_ = static_cast<uint8_t>(kind);
      slot.acquire();
    }
  }
  static AliasKind alias_kind(const TensorImpl& impl) {
    return impl.alias.storage_ ? static_cast<AliasKind>(impl.alias.kind_) : AliasKind::kNotAnAlias;
  }
};

// The layout copy of a storage's values, or null (kernels check it before data()).
inline const std::shared_ptr<StorageLayout>& layout(const Storage& s) {
  return StorageInternals::layout(s);
}
// Makes `layout` the truth for the storage's values (the plain bytes become stale); null drops it.
inline void set_layout(Storage& s, std::shared_ptr<StorageLayout> layout) {
  StorageInternals::set_layout(s, std::move(layout));
}

// Whether the storage's plain bytes exist yet (a deferred storage gets them on first data()).
inline bool has_plain_bytes(const Storage& s) { return StorageInternals::has_plain_bytes(s); }
// Whether the storage frees its bytes (false for from_blob's borrowed memory).
inline bool owns_bytes(const Storage& s) { return StorageInternals::owns(s); }

// How many live TensorImpls other than its owner show this storage: views (view ops) and
// detached aliases (detach(), which is also how backward functions save tensors). In-place
// ops under autograd consult them (src/ops/elementwise.cpp).
inline int live_views(const Storage& s) { return StorageInternals::count(s, AliasKind::kView); }
inline int live_detached(const Storage& s) { return StorageInternals::count(s, AliasKind::kDetached); }

// Marks `impl` as a view / detached alias of its storage (counted while it lives), or as
// no alias (kNotAnAlias).
inline void mark_alias(TensorImpl& impl, AliasKind kind) { StorageInternals::mark_alias(impl, kind); }
inline AliasKind alias_kind(const TensorImpl& impl) { return StorageInternals::alias_kind(impl); }

// A new contiguous float tensor whose bytes are allocated only when something reads or writes
// them (Storage::data()): for results that a kernel may hand on in a kept layout instead.
Tensor empty_deferred(IntArrayRef sizes);

// ---- shape helpers used by the layers above ---------------------------------------------
std::vector<int64_t> contiguous_strides(IntArrayRef sizes);
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* what = "dim");  // negative dims
int64_t checked_numel(IntArrayRef sizes, const char* what = "size");

}  // namespace detail
}  // namespace cnnkit
