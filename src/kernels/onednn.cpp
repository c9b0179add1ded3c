// Engine, per-thread stream, the primitive cache and cached reorders.
#include "cnnkit/kernels/onednn.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

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
std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}
std::unordered_map<std::string, std::shared_ptr<void>>& cache() {
  static std::unordered_map<std::string, std::shared_ptr<void>> c;
  return c;
}
}  // namespace

std::shared_ptr<void> cached_impl(const std::string& key, const std::function<std::shared_ptr<void>()>& make) {
  {
    std::lock_guard<std::mutex> lock(cache_mutex());
    auto it = cache().find(key);
    if (it != cache().end()) return it->second;
  }
  std::shared_ptr<void> made = make();  // JIT outside the lock
  std::lock_guard<std::mutex> lock(cache_mutex());
  auto [it, inserted] = cache().emplace(key, std::move(made));
  return it->second;
}

size_t cache_size() {
  std::lock_guard<std::mutex> lock(cache_mutex());
  return cache().size();
}

void clear_cache() {
  std::lock_guard<std::mutex> lock(cache_mutex());
  cache().clear();
}

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

void reorder(const dnnl::memory& src, const dnnl::memory& dst) {
  const auto sd = src.get_desc(), dd = dst.get_desc();
  if (sd == dd) {
    if (src.get_data_handle() != dst.get_data_handle()) {
      dnnl::reorder(src, dst).execute(stream(), const_cast<dnnl::memory&>(src), const_cast<dnnl::memory&>(dst));
    }
    return;
  }
  // Key on the raw descriptor bytes: they capture dims, layout and padding exactly.
  std::string key = "reorder:";
  key.append(reinterpret_cast<const char*>(&sd.data), sizeof(sd.data));
  key.append(reinterpret_cast<const char*>(&dd.data), sizeof(dd.data));
  auto p = cached_impl(key, [&] {
    return std::static_pointer_cast<void>(std::make_shared<dnnl::reorder>(src, dst));
  });
  static_cast<dnnl::reorder*>(p.get())->execute(stream(), const_cast<dnnl::memory&>(src),
                                                 const_cast<dnnl::memory&>(dst));
}

}  // namespace cnnkit::kernels::onednn
