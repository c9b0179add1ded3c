// The machine's fp32 FMA peak, measured: independent FMA chains held in registers (no memory
// traffic), timed by the wall clock, on 1 thread and on every core at once. What a convolution
// could reach at best; bench/compare prints each conv's share of it. The widest ISA oneDNN
// runs here decides the vector width (ONEDNN_MAX_CPU_ISA=AVX2 caps it, as it caps oneDNN).
//   bench_peak   ->   peak isa=avx512 threads=1 gflops=... threads=2 gflops=...
#include <immintrin.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstring>

namespace {

// 12 accumulators: enough independent chains to cover the FMA latency (4 cycles) on two ports.
// One body for both widths (V: the vector type, FMA / SET: its intrinsics).
#define CNNKIT_PEAK_LOOP(V, FMA, SET)                                                                  \
  V a0 = SET(1.0f), a1 = SET(1.1f), a2 = SET(1.2f), a3 = SET(1.3f), a4 = SET(1.4f), a5 = SET(1.5f);   \
  V a6 = SET(1.6f), a7 = SET(1.7f), a8 = SET(1.8f), a9 = SET(1.9f), a10 = SET(2.0f), a11 = SET(2.1f); \
  const V m = SET(0.999999f), c = SET(1e-7f);                                                         \
  for (long i = 0; i < iters; ++i) {                                                                  \
    a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c);                   \
    a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c);                   \
    a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c);               \
  }                                                                                                   \
  V s = FMA(a0, a1, a2);                                                                              \
  s = FMA(s, a3, a4); s = FMA(s, a5, a6); s = FMA(s, a7, a8); s = FMA(s, a9, a10); s = FMA(s, a11, m); \
  float out[16];                                                                                      \
  std::memcpy(out, &s, sizeof(float));                                                                \
  return static_cast<double>(out[0]);

__attribute__((target("avx2,fma"))) double run8(long iters) { CNNKIT_PEAK_LOOP(__m256, _mm256_fmadd_ps, _mm256_set1_ps) }
__attribute__((target("avx512f"))) double run16(long iters) { CNNKIT_PEAK_LOOP(__m512, _mm512_fmadd_ps, _mm512_set1_ps) }

// GFLOP/s of `threads` threads running the loop at once (each 2 FLOP x lanes x 12 per iteration).
double peak(bool avx512, int threads) {
  const long iters = 50'000'000;
  const int lanes = avx512 ? 16 : 8;
  double sink = 0, best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += avx512 ? run16(iters) : run8(iters);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double gflops = 2.0 * lanes * 12 * static_cast<double>(iters) * threads / s * 1e-9;
    if (gflops > best) best = gflops;
  }
  if (sink == 12345.0) std::puts("");  // keeps the loops
  return best;
}

}  // namespace

int main() {
  const auto isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  const bool avx512 = (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
  const int cores = omp_get_num_procs();
  std::printf("peak isa=%s threads=1 gflops=%.1f threads=%d gflops=%.1f\n", avx512 ? "avx512" : "avx2",
              peak(avx512, 1), cores, peak(avx512, cores));
  return 0;
}
