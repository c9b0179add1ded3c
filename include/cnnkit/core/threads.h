// One thread pool for everything: OpenMP, which oneDNN also runs on. Loops are split
// across threads only above a grain size, because fork/join costs tens of microseconds
// on small machines (see BENCH.md); below it they run on the calling thread.
#pragma once

#include <algorithm>
#include <cstdint>

namespace cnnkit {

// The most threads set_num_threads takes: far above any machine's cores, below the counts
// (around 100000) at which oneDNN's per-thread buffers crash instead of failing.
constexpr int kMaxThreads = 4096;

void set_num_threads(int n);   // 1 to kMaxThreads; also read from CNNKIT_NUM_THREADS at start-up
int get_num_threads();
bool in_parallel_region();

// Elements of work below which a loop stays on one thread.
constexpr int64_t kGrainSize = 32768;

// f(begin, end) over [0, n) in contiguous chunks, one per thread when n >= grain.
template <typename F>
void parallel_for(int64_t n, int64_t grain, const F& f) {
  if (n <= 0) return;
  int threads = get_num_threads();
  if (n < grain || threads <= 1 || in_parallel_region()) {
    f(int64_t{0}, n);
    return;
  }
  int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    f(b, e);
  }
}

// The same for loops whose every element is computed by one call with the same arithmetic
// whoever runs it (so the results are the same bits however the range is cut): [0, n) in
// about 4 pieces a thread, handed out as threads free up. Two threads that split a range in
// halves finished apart by 8-18% of a ResNet-20 step's loop time on a shared 2-core VM (one
// core slowed by other tenants, not always the same one); with the Winograd kernel and batch
// norm in pieces, the two threads' waiting in OpenMP fell from 22.8% to 18.7% of their time
// (perf samples, 3 runs each; docs/performance.md).
template <typename F>
void parallel_for_dynamic(int64_t n, int64_t grain, const F& f) {
  constexpr int64_t kPiecesPerThread = 4;
  if (n <= 0) return;
  const int threads = get_num_threads();
  if (n < grain || threads <= 1 || in_parallel_region()) {
    f(int64_t{0}, n);
    return;
  }
  const int64_t pieces = std::min<int64_t>(threads * kPiecesPerThread, (n + grain - 1) / grain);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t c = 0; c < pieces; ++c) f(n * c / pieces, n * (c + 1) / pieces);
}

}  // namespace cnnkit
