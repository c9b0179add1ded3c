// The caching allocator (core/memory.h): size classes, reuse, the limit, idle trimming and
// its counters; deferred storages (no plain bytes behind a result kept in a oneDNN layout);
// and AccumulateGrad taking over a gradient nothing else holds.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/core/memory.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/ops/ops.h"
#include "core/tensor_internal.h"
#include "kernels/onednn.h"

namespace cnnkit {
namespace {

TEST(Memory, SizeClassesFitTheRequestAndWasteLessThanAnEighth) {
  size_t prev = 0;
  for (size_t n = 1; n < (size_t{1} << 26); n = n < 4096 ? n + 1 : n + n / 7 + 3) {
    const size_t c = detail::block_size_class(n);
    ASSERT_GE(c, n) << n;
    ASSERT_EQ(c % 64, 0u) << n;
    ASSERT_LE(c, n + std::max<size_t>(63, n / 8)) << n;
    ASSERT_GE(c, prev) << n;  // monotonic
    prev = c;
  }
  EXPECT_EQ(detail::block_size_class(1024), 1024u);
  EXPECT_EQ(detail::block_size_class(1025), 1152u);    // 1024 + 1024/8
  EXPECT_EQ(detail::block_size_class(4u << 20), 4u << 20);
}

#if !defined(CNNKIT_ASAN)
TEST(Memory, AFreedBlockServesTheNextRequestOfItsClass) {
  release_cached_memory();
  void* first;
  {
    Tensor t = empty({300000});  // 1.2 MB
    first = t.data_ptr();
  }
  const MemoryStats before = memory_stats();
  EXPECT_GE(before.cached_bytes, size_t{1200000});
  Tensor again = empty({299000});  // a little smaller, the same class
  EXPECT_EQ(again.data_ptr(), first);
  const MemoryStats after = memory_stats();
  EXPECT_EQ(after.cache_hits, before.cache_hits + 1);
  EXPECT_EQ(after.system_allocations, before.system_allocations);
  EXPECT_EQ(after.allocated_bytes - before.allocated_bytes, detail::block_size_class(299000 * 4));
}

TEST(Memory, TheLimitBoundsTheCacheAndLoweringItTrims) {
  release_cached_memory();
  { Tensor a = empty({1 << 20}), b = empty({1 << 20}); }
  EXPECT_EQ(cached_memory_bytes(), size_t{8} << 20);
  set_memory_cache_limit(size_t{5} << 20);
  EXPECT_EQ(cached_memory_bytes(), 0u);  // over the new limit: given back
  const uint64_t frees = memory_stats().system_frees;
  { Tensor a = empty({1 << 20}), b = empty({1 << 20}); }
  EXPECT_EQ(cached_memory_bytes(), size_t{4} << 20);  // the second would pass the limit
  EXPECT_EQ(memory_stats().system_frees, frees + 1);
  set_memory_cache_limit(size_t{1} << 30);
  release_cached_memory();
}

TEST(Memory, BlocksNoRequestWantsAreTrimmedAfterAWhile) {
  release_cached_memory();
  { Tensor odd = empty({777777}); }  // a size nothing below asks for
  EXPECT_GT(cached_memory_bytes(), 0u);
  const uint64_t frees = memory_stats().system_frees;
  for (int i = 0; i < (1 << 16) + 8192; ++i) {
    Tensor small = empty({16});
    (void)small;
  }
  EXPECT_EQ(memory_stats().system_frees, frees + 1);
  EXPECT_LE(cached_memory_bytes(), size_t{4096});  // at most the one small block
  release_cached_memory();
}
#endif

TEST(Memory, PeakTracksTheMostHeldAtOnce) {
  Tensor keep = empty({1000});
  reset_peak_memory_stats();
  const size_t base = memory_stats().allocated_bytes;
  { Tensor big = empty({1 << 20}); }
  const MemoryStats s = memory_stats();
  EXPECT_EQ(s.allocated_bytes, base);
  EXPECT_EQ(s.peak_allocated_bytes, base + detail::block_size_class(size_t{4} << 20));
}

TEST(Memory, ADeferredStorageGetsItsBytesOnFirstAccess) {
  Tensor t = detail::empty_deferred({4, 5});
  const Storage& s = *t.unsafeGetTensorImpl()->storage;
  EXPECT_FALSE(detail::has_plain_bytes(s));
  float* p = t.data_ptr<float>();
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(detail::has_plain_bytes(s));
  std::memset(p, 0, t.nbytes());
  EXPECT_EQ(t.sum().item<float>(), 0.0f);
  EXPECT_EQ(t.data_ptr<float>(), p);
}

TEST(Memory, ResultsKeptInAOneDnnLayoutHaveNoPlainShadow) {
  // conv -> relu -> max pool, forward and backward: every intermediate kept in oneDNN's
  // blocked layout carries no plain bytes; reading one converts it, with the values of the
  // same chain run on plain NCHW.
  auto run = [](bool keep, std::vector<Tensor>* kept) {
    kernels::onednn::set_keep_layouts(keep);
    Generator g(7);
    Tensor x = randn({4, 16, 12, 12}, g).requires_grad_(true);
    Tensor w = (randn({16, 16, 3, 3}, g) * 0.1).requires_grad_(true);
    Tensor c = conv2d(x, w, Tensor(), 1, 1);
    Tensor r = relu(c);
    Tensor p = max_pool2d(r, {2, 2});
    Tensor c2 = conv2d(p, w, Tensor(), 1, 1);
    if (kept) *kept = {c, r, p};
    c2.pow(2).sum().backward();
    kernels::onednn::set_keep_layouts(true);
    return std::vector<Tensor>{c2.detach(), x.grad(), w.grad()};
  };
  std::vector<Tensor> kept;
  const std::vector<Tensor> a = run(true, &kept);
  int laid_out = 0;
  for (const Tensor& t : kept) {
    if (!kernels::onednn::layout_of(*t.unsafeGetTensorImpl())) continue;  // this ISA kept it plain
    ++laid_out;
    EXPECT_FALSE(detail::has_plain_bytes(*t.unsafeGetTensorImpl()->storage));
  }
  EXPECT_GT(laid_out, 0) << "no intermediate stayed in a oneDNN layout";
  const std::vector<Tensor> b = run(false, nullptr);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(allclose(a[i], b[i], 1e-5, 1e-5)) << i;
}

TEST(Memory, AccumulateGradTakesOverAGradientNothingElseHolds) {
  Tensor w = randn({256}).requires_grad_(true);
  Tensor y = w.detach().clone();
  const float* produced = nullptr;
  autograd::record("OwnGradBackward", {w}, {y}, [&produced](const TensorList& g) {
    Tensor gx = g[0] * 3.0;  // a fresh tensor: only the engine holds it
    produced = gx.data_ptr<float>();
    return TensorList{gx};
  });
  y.sum().backward();
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().data_ptr<float>(), produced);  // taken over, not copied
  EXPECT_EQ(w.grad()[0].item<float>(), 3.0f);
}

TEST(Memory, AGradientSharedByTwoLeavesIsCopiedForTheFirst) {
  // add's backward hands the same tensor to both inputs: neither .grad may alias the other.
  Tensor a = ones({8}).requires_grad_(true);
  Tensor b = ones({8}).requires_grad_(true);
  (a + b).sum().backward();
  ASSERT_NE(a.grad().data_ptr<float>(), b.grad().data_ptr<float>());
  {
    NoGradGuard no_grad;
    a.grad().add_(1.0);
  }
  EXPECT_EQ(a.grad().sum().item<float>(), 16.0f);
  EXPECT_EQ(b.grad().sum().item<float>(), 8.0f);
}

TEST(Memory, AGradientAHookKeepsIsNotTakenOver) {
  // A gradient the backward function also keeps elsewhere must be copied into .grad.
  Tensor w = zeros({4}).requires_grad_(true);
  Tensor y = w.detach().clone();
  Tensor kept;
  autograd::record("KeepsGradBackward", {w}, {y}, [&kept](const TensorList& g) {
    kept = g[0] * 2.0;
    return TensorList{kept};
  });
  y.sum().backward();
  ASSERT_NE(w.grad().data_ptr<float>(), kept.data_ptr<float>());
  {
    NoGradGuard no_grad;
    kept.fill_(-1.0);
  }
  EXPECT_EQ(w.grad().sum().item<float>(), 8.0f);
}

}  // namespace
}  // namespace cnnkit
