// Thread count knob shared by cnnkit's loops and oneDNN (both run on OpenMP).
#include "cnnkit/core/threads.h"

#include <omp.h>

#include <cstdlib>
#include <thread>

#include "cnnkit/core/error.h"

namespace cnnkit {
namespace {
int initial_threads() {
  if (const char* env = std::getenv("CNNKIT_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0 && n <= kMaxThreads) {
      omp_set_num_threads(n);
      return n;
    }
  }
  return omp_get_max_threads();
}
int& thread_count() {
  static int n = initial_threads();
  return n;
}
}  // namespace

void set_num_threads(int n) {
  CNNKIT_CHECK(n > 0, "set_num_threads: expected a positive count, got ", n);
  CNNKIT_CHECK(n <= kMaxThreads, "set_num_threads: ", n, " threads is more than cnnkit runs (at most ", kMaxThreads,
               "; this machine has ", std::thread::hardware_concurrency(), " hardware threads)");
  thread_count() = n;
  omp_set_num_threads(n);
}
int get_num_threads() { return thread_count(); }
bool in_parallel_region() { return omp_in_parallel() != 0; }

}  // namespace cnnkit
