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
template <typename V, V (*Fma)(V, V, V), V (*Set)(float)>
double run(long iters) {
  V a0 = Set(1.0f), a1 = Set(1.1f), a2 = Set(1.2f), a3 = Set(1.3f), a4 = Set(1.4f), a5 = Set(1.5f), a6 = Set(1.6f),
    a7 = Set(1.7f), a8 = Set(1.8f), a9 = Set(1.9f), a10 = Set(2.0f), a11 = Set(2.1f);
  const V m = Set(0.999999f), c = Set(1e-7f);
  for (long i = 0; i < iters; ++i) {
    a0 = Fma(a0, m, c); a1 = Fma(a1, m, c); a2 = Fma(a2, m, c); a3 = Fma(a3, m, c);
    a4 = Fma(a4, m, c); a5 = Fma(a5, m, c); a6 = Fma(a6, m, c); a7 = Fma(a7, m, c);
    a8 = Fma(a8, m, c); a9 = Fma(a9, m, c); a10 = Fma(a10, m, c); a11 = Fma(a11, m, c);
  }
  V s = Fma(a0, a1, a2);
  s = Fma(s, a3, a4); s = Fma(s, a5, a6); s = Fma(s, a7, a8); s = Fma(s, a9, a10); s = Fma(s, a11, m);
  float out[16];
  std::memcpy(out, &s, sizeof(float));
  return static_cast<double>(out[0]);
}

__attribute__((target("avx2,fma"))) __m256 fma8(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
__attribute__((target("avx2,fma"))) __m256 set8(float v) { return _mm256_set1_ps(v); }
__attribute__((target("avx512f"))) __m512 fma16(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
__attribute__((target("avx512f"))) __m512 set16(float v) { return _mm512_set1_ps(v); }

__attribute__((target("avx2,fma"))) double run8(long iters) { return run<__m256, fma8, set8>(iters); }
__attribute__((target("avx512f"))) double run16(long iters) { return run<__m512, fma16, set16>(iters); }

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
