// Forward declarations of kernels/onednn.h's operand types (and the small PlainOut), for the
// kernel headers whose functions take or return kept layouts without oneDNN's own headers.
#pragma once

#include <memory>

namespace cnnkit {
class Storage;
}

namespace cnnkit::kernels::onednn {
class Layout;
// Where a kernel writes a result in plain NCHW: a pointer, or a storage whose bytes are
// allocated only when the kernel asks for them (get()), so a result handed on in a kept layout
// never has a plain shadow buffer behind it.
class PlainOut {
 public:
  PlainOut() = default;
  PlainOut(float* p) : p_(p) {}  // NOLINT(google-explicit-constructor): a plain buffer converts
  explicit PlainOut(const Storage& s) : s_(&s) {}
  float* get() const { return p_ != nullptr ? p_ : s_ != nullptr ? storage_bytes() : nullptr; }
  explicit operator bool() const { return p_ != nullptr || s_ != nullptr; }

 private:
  float* storage_bytes() const;  // s_->data(), allocating deferred bytes
  float* p_ = nullptr;
  const Storage* s_ = nullptr;
};

struct Operand;
using LayoutPtr = std::shared_ptr<Layout>;
}  // namespace cnnkit::kernels::onednn
