// The caching allocator (include/cnnkit/core/memory.h): free lists by size class, trimmed
// when idle or over the limit, with counters for tests and `cnnkit info`.
#include "cnnkit/core/memory.h"

#include <malloc.h>
#include <sys/mman.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace cnnkit {

namespace {
// glibc hands freed blocks above its trim/mmap thresholds back to the kernel; raising them
// keeps what malloc itself holds (small objects, oneDNN's scratch) in the main arena.
const bool malloc_tuned = [] {
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  return true;
}();

constexpr size_t kMinClass = 64;       // also the alignment
constexpr size_t kLinearEnd = 512;     // 64, 128, ..., 512: one class per 64 bytes
constexpr int kPerOctave = 8;          // above: 8 classes per power of two
constexpr int kMaxLog2 = 48;           // no tensor is 256 TiB
constexpr int kClasses = 8 + (kMaxLog2 - 9) * kPerOctave;
constexpr uint64_t kIdleAllocations = uint64_t{1} << 16;  // trimmed after this many unused
constexpr uint64_t kTrimEvery = 4096;                      // allocations between idle scans

// Blocks of at least kMapBytes come from the kernel (mmap) and go back to it when freed. From
// malloc's heap, a large block trimmed while idle (the validation pass's activations during a
// training epoch) left a hole that the epoch's small allocations split, so the next pass took
// new pages: the default run's peak RSS rose at each of its first two validation passes and
// varied from run to run, 136-167 MiB (docs/performance.md). Not under AddressSanitizer, whose
// heap checks need malloc's blocks.
constexpr size_t kMapBytes = size_t{1} << 20;
constexpr bool kMapLarge =
#if defined(CNNKIT_ASAN)
    false;
#else
    true;
#endif

// A mapped block starts a number of cache lines into its first page, a different number for
// each block in turn, as malloc's blocks do: with every tensor at page offset 0, a kernel's
// loads and stores of the same element index share their low 12 address bits, which the CPU
// can take for a dependence (4 KiB aliasing). LeNet-5's training step at 2 threads against
// malloc's blocks: 0.98x with every block at offset 0 (10 pairs, 0.89-1.08), 1.01x with the
// offsets (10 pairs, 0.95-1.10).
constexpr size_t kPage = 4096;
std::atomic<uint32_t> next_offset{0};

// bytes: a size class's (a multiple of 64).
void* system_alloc(size_t bytes) {
  if (kMapLarge && bytes >= kMapBytes) {
    void* base = mmap(nullptr, bytes + kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return nullptr;
    const size_t offset = (next_offset.fetch_add(1, std::memory_order_relaxed) % (kPage / kMinClass)) * kMinClass;
    return static_cast<char*>(base) + offset;
  }
  return std::aligned_alloc(kMinClass, bytes);
}
void system_free(void* p, size_t bytes) {
  if (kMapLarge && bytes >= kMapBytes) {
    void* base = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) & ~uintptr_t{kPage - 1});
    munmap(base, bytes + kPage);
  } else {
    std::free(p);
  }
}

struct SizeClass {
  size_t bytes;
  int index;  // -1: past the largest class (never cached)
};

SizeClass classify(size_t n) {
  if (n <= kLinearEnd) {
    const size_t m = (n + kMinClass - 1) / kMinClass;  // 1..8
    return {m * kMinClass, static_cast<int>(m == 0 ? 0 : m - 1)};
  }
  const int k = 63 - __builtin_clzll(static_cast<unsigned long long>(n - 1));  // 2^k < n <= 2^(k+1)
  if (k + 1 > kMaxLog2) return {((n + 4095) / 4096) * 4096, -1};
  const size_t step = size_t{1} << (k - 3);  // 2^k / 8: n is 9..16 steps
  const size_t m = (n + step - 1) / step;
  return {m * step, 8 + (k - 9) * kPerOctave + static_cast<int>(m) - 9};
}

class CachingAllocator {
 public:
  void* allocate(size_t n) {
    (void)malloc_tuned;
    const SizeClass c = classify(n);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.allocations;
      const uint64_t now = stats_.allocations;
      if (now % kTrimEvery == 0) trim_idle(now);
      if (c.index >= 0 && !free_[static_cast<size_t>(c.index)].empty()) {
        auto& list = free_[static_cast<size_t>(c.index)];
        void* p = list.back().ptr;
        list.pop_back();
        stats_.cached_bytes -= c.bytes;
        ++stats_.cache_hits;
        note_allocated(c.bytes);
        return p;
      }
      ++stats_.system_allocations;
      note_allocated(c.bytes);
    }
    void* p = system_alloc(c.bytes);
    if (p == nullptr) {
      release_all();  // give the cached blocks back and try once more
      p = system_alloc(c.bytes);
      if (p == nullptr) {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.allocated_bytes -= c.bytes;
        throw std::bad_alloc();
      }
    }
    return p;
  }

  void free(void* p, size_t n) {
    const SizeClass c = classify(n);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.allocated_bytes -= c.bytes;
      if (cache_enabled() && c.index >= 0 && stats_.cached_bytes + c.bytes <= limit_) {
        free_[static_cast<size_t>(c.index)].push_back({p, stats_.allocations});
        stats_.cached_bytes += c.bytes;
        return;
      }
      ++stats_.system_frees;
    }
    system_free(p, c.bytes);
  }

  void release_all() {
    std::vector<std::pair<void*, size_t>> out;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (size_t i = 0; i < free_.size(); ++i) {
        for (const Cached& b : free_[i]) out.emplace_back(b.ptr, class_bytes(i));
        free_[i].clear();
      }
      stats_.system_frees += out.size();
      stats_.cached_bytes = 0;
    }
    for (const auto& [p, bytes] : out) system_free(p, bytes);
  }

  void set_limit(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      limit_ = bytes;
      if (stats_.cached_bytes <= limit_) return;
    }
    release_all();
  }

  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_allocated_bytes = stats_.allocated_bytes;
  }

 private:
  struct Cached {
    void* ptr;
    uint64_t freed_at;  // stats_.allocations when it was freed
  };

  static constexpr bool cache_enabled() {
#if defined(CNNKIT_ASAN)
    return false;  // use-after-free must stay visible to AddressSanitizer
#else
    return true;
#endif
  }

  void note_allocated(size_t bytes) {
    stats_.allocated_bytes += bytes;
    if (stats_.allocated_bytes > stats_.peak_allocated_bytes) stats_.peak_allocated_bytes = stats_.allocated_bytes;
  }

  // Frees blocks that no request has wanted for kIdleAllocations allocations (the eval
  // pass's batch sizes during training, say). Each list is in freeing order, oldest first.
  void trim_idle(uint64_t now) {
    if (now < kIdleAllocations) return;
    for (size_t i = 0; i < free_.size(); ++i) {
      auto& list = free_[i];
      size_t idle = 0;
      while (idle < list.size() && list[idle].freed_at + kIdleAllocations < now) ++idle;
      if (idle == 0) continue;
      const size_t bytes = class_bytes(i);
      for (size_t j = 0; j < idle; ++j) system_free(list[j].ptr, bytes);  // cheap: blocks are cold
      list.erase(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(idle));
      stats_.cached_bytes -= idle * bytes;
      stats_.system_frees += idle;
    }
  }

  static size_t class_bytes(size_t index) {
    if (index < 8) return (index + 1) * kMinClass;
    const size_t k = 9 + (index - 8) / kPerOctave;
    const size_t m = (index - 8) % kPerOctave + 9;
    return m * (size_t{1} << (k - 3));
  }

  std::mutex mutex_;
  std::array<std::vector<Cached>, kClasses> free_;
  MemoryStats stats_;
  size_t limit_ = size_t{1} << 30;
};

CachingAllocator& allocator() {
  static auto* a = new CachingAllocator();  // never destroyed: storages may outlive statics
  return *a;
}
}  // namespace

MemoryStats memory_stats() { return allocator().stats(); }
void reset_peak_memory_stats() { allocator().reset_peak(); }
void release_cached_memory() { allocator().release_all(); }
size_t cached_memory_bytes() { return allocator().stats().cached_bytes; }
void set_memory_cache_limit(size_t bytes) { allocator().set_limit(bytes); }

namespace detail {
void* allocate_block(size_t nbytes) { return allocator().allocate(nbytes); }
void free_block(void* p, size_t nbytes) { allocator().free(p, nbytes); }
size_t block_size_class(size_t nbytes) { return classify(nbytes).bytes; }
}  // namespace detail

}  // namespace cnnkit
