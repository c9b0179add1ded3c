// The caching allocator behind every tensor's storage, and what it reports.
//
// A training step asks for the same sizes every iteration. Freed blocks therefore wait in
// free lists by size class (8 classes per power of two, so a block wastes less than an
// eighth) for the next request of their class, instead of going back to malloc, whose
// per-thread arenas hand large blocks to the kernel and page-fault them in again. Blocks
// left unused for a long while (2^16 allocations) are trimmed, and the cache never holds
// more than its limit (1 GiB by default). Built with AddressSanitizer, every
// block goes straight back to malloc so that use-after-free stays visible.
#pragma once

#include <cstddef>
#include <cstdint>

// CNNKIT_ASAN: built with AddressSanitizer. GCC defines __SANITIZE_ADDRESS__; clang 14 only
// answers __has_feature(address_sanitizer).
#if defined(__SANITIZE_ADDRESS__)
#define CNNKIT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CNNKIT_ASAN 1
#endif
#endif

namespace cnnkit {

struct MemoryStats {
  size_t allocated_bytes = 0;       // held by live storages (rounded to their size class)
  size_t peak_allocated_bytes = 0;  // the most allocated_bytes since start or the last reset
  size_t cached_bytes = 0;          // freed blocks kept for reuse
  uint64_t allocations = 0;         // blocks handed out
  uint64_t cache_hits = 0;          // ... of which came from the cache
  uint64_t system_allocations = 0;  // ... of which were new blocks from the system allocator
  uint64_t system_frees = 0;        // blocks given back (trimmed, over the limit, released)
};

MemoryStats memory_stats();
void reset_peak_memory_stats();
// Gives every cached block back to the system (PyTorch's torch.cuda.empty_cache()).
void release_cached_memory();
size_t cached_memory_bytes();
// The most bytes the cache keeps (default 1 GiB); lowering it trims at once. 0 disables caching.
void set_memory_cache_limit(size_t bytes);

namespace detail {
// The allocator's two doors, used by Storage. `nbytes` > 0; the block is 64-byte aligned.
void* allocate_block(size_t nbytes);
void free_block(void* p, size_t nbytes);  // nbytes as given to allocate_block
// The bytes a request of `nbytes` occupies: its size class.
size_t block_size_class(size_t nbytes);
}  // namespace detail

}  // namespace cnnkit
