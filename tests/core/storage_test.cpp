// Storage: the large-block cache (reuse across training steps, no page faults on worker
// threads) and the layout hook (a layout copy is converted back on first plain access).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstring>
#include <thread>

#include "cnnkit/core/tensor.h"
#include "core/tensor_internal.h"

namespace cnnkit {
namespace {

long minor_faults() {
  rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_minflt;
}

#if !defined(CNNKIT_ASAN)
TEST(Storage, LargeBlocksAreReusedNotReturnedToTheSystem) {
  release_cached_memory();
  void* first;
  {
    Tensor t = empty({1 << 20});  // 4 MB
    first = t.data_ptr();
  }
  EXPECT_GE(cached_memory_bytes(), size_t{4} << 20);
  Tensor again = empty({1 << 20});
  EXPECT_EQ(again.data_ptr(), first);
  EXPECT_EQ(cached_memory_bytes(), 0u);
  release_cached_memory();
}

TEST(Storage, RepeatedLargeAllocationsOnAWorkerThreadDoNotPageFault) {
  // glibc's per-thread arenas give large freed blocks back to the kernel; without the cache
  // this loop measured ~3,300 page faults per iteration.
  long faults = -1;
  std::thread worker([&] {
    const int64_t n = 13 << 18;  // 13 MB of floats
    for (int i = 0; i < 2; ++i) {
      Tensor t = empty({n});
      std::memset(t.data_ptr(), 0, t.nbytes());
    }
    long before = minor_faults();
    for (int i = 0; i < 10; ++i) {
      Tensor t = empty({n});
      std::memset(t.data_ptr(), 0, t.nbytes());
    }
    faults = minor_faults() - before;
  });
  worker.join();
  EXPECT_LT(faults, 200);
  release_cached_memory();
  EXPECT_EQ(cached_memory_bytes(), 0u);
}
#endif

struct FillLayout : StorageLayout {
  explicit FillLayout(float v, int* call_count) : value(v), calls(call_count) {}
  void to_plain(void* dst) const override {
    ++*calls;
    auto* f = static_cast<float*>(dst);
    for (int i = 0; i < 6; ++i) f[i] = value + static_cast<float>(i);
  }
  float value;
  int* calls;
};

TEST(Storage, LayoutCopyIsConvertedOnceOnFirstPlainAccessThroughAnyView) {
  Tensor t = empty({2, 3});
  int calls = 0;
  detail::set_layout(*t.unsafeGetTensorImpl()->storage, std::make_shared<FillLayout>(10.0f, &calls));
  Tensor alias = t.detach();  // shares the storage, as views do
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(alias.data_ptr<float>()[4], 14.0f);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(t.data_ptr<float>()[0], 10.0f);
  EXPECT_EQ(calls, 1);  // dropped after conversion: plain bytes are the truth again
  EXPECT_EQ(detail::layout(*t.unsafeGetTensorImpl()->storage), nullptr);
}

}  // namespace
}  // namespace cnnkit
