// oneDNN plumbing shared by every oneDNN-backed kernel: one CPU engine, one stream per
// thread, and a primitive cache keyed on everything that shapes a primitive (kind, sizes,
// strides, attributes). Primitives are JIT-compiled once per key; a steady-state training
// step creates none. CNNKIT_VERBOSE=1 prints each implementation chosen (e.g. jit:avx2).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace cnnkit::kernels::onednn {

dnnl::engine& engine();
dnnl::stream& stream();  // the calling thread's stream

// Builds cache keys: `Key("conv_fwd") << n << c << h << w`.
class Key {
 public:
  explicit Key(const char* kind) : s_(kind) {}
  Key& operator<<(int64_t v) {
    s_ += ':';
    s_ += std::to_string(v);
    return *this;
  }
  Key& operator<<(const std::vector<int64_t>& v) {
    for (int64_t x : v) *this << x;
    return *this;
  }
  Key& operator<<(const char* v) {
    s_ += ':';
    s_ += v;
    return *this;
  }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

// Returns the cached object for key, creating it with make() the first time.
std::shared_ptr<void> cached_impl(const std::string& key, const std::function<std::shared_ptr<void>()>& make);
template <typename T, typename Make>
T& cached(const Key& key, Make&& make) {
  auto p = cached_impl(key.str(), [&] { return std::static_pointer_cast<void>(std::make_shared<T>(make())); });
  return *static_cast<T*>(p.get());
}
size_t cache_size();
void clear_cache();
bool verbose();
// Logs which implementation a primitive descriptor picked (when CNNKIT_VERBOSE is set).
void log_impl(const char* what, const std::string& impl_info);

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;
inline dnnl::memory::desc plain_desc(const dnnl::memory::dims& d, tag t = tag::any) {
  return dnnl::memory::desc(d, dt::f32, t);
}
// A memory over caller-owned plain data, or a new buffer in `desc`'s layout.
inline dnnl::memory wrap(const dnnl::memory::desc& d, const void* ptr) {
  return dnnl::memory(d, engine(), const_cast<void*>(ptr));
}
// Runs a reorder src -> dst (cached by the pair of descriptors).
void reorder(const dnnl::memory& src, const dnnl::memory& dst);

}  // namespace cnnkit::kernels::onednn
