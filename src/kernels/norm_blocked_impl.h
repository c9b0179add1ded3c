// The body of the batch norm + (residual) + ReLU kernels over channel-blocked buffers
// (kernels/norm.h, kernels/norm_blocked.cpp), written once over vector traits V
// (kernels/simd.h) and compiled per instruction set by kernels/isa_avx2.cpp (simd::Avx2:
// nChw8c one vector a position, nChw16c two) and kernels/isa_avx512.cpp (simd::Avx512:
// nChw16c, one vector a position), which define CNNKIT_ISA_TARGET and include this file.
//
// Element (n, c, s) of a nChw{B}c buffer is at ((n * C / B + c / B) * S + s) * B + c % B: a
// run of S positions of one channel block is S * B contiguous floats, B channels a position.
// Each pass over the activation reads it once from memory. The statistics are taken per chunk
// (one image, one channel block, up to kRun positions: 16 KiB at B = 16) in two passes over
// the chunk while it sits in L1, mean first and then the squared deviations from it, so there
// is no cancellation; the chunks are then merged per channel in a fixed order (Chan et al.'s
// pairwise update, in double), so the result does not depend on the thread count. The
// passes are mostly memory-bound, but not only: one AVX-512 vector a position instead of two
// AVX2 ones measured a ResNet-20 step 3% faster (docs/performance.md).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cnnkit/core/threads.h"
#include "kernels/norm.h"
#include "kernels/simd.h"

#ifndef CNNKIT_ISA_TARGET
#error "kernels/norm_blocked_impl.h belongs to kernels/isa_*.cpp, which define CNNKIT_ISA_TARGET"
#endif

CNNKIT_SIMD_BEGIN(CNNKIT_ISA_TARGET)
namespace cnnkit::kernels::norm_blocked {
namespace {

constexpr int64_t kRun = 256;  // positions a statistics chunk
constexpr int64_t kSub = 64;   // positions summed in float before they are added in double

struct Geometry {
  int64_t N, CB, S, runs;  // runs: chunks per (image, channel block)
  int64_t chunks() const { return N * CB * runs; }
  // chunk k = (n, cb, r), in that order: its first float, position count and channel block.
  int64_t offset(int64_t k, int B) const { return ((k / runs) * S + (k % runs) * kRun) * B; }
  int64_t length(int64_t k) const { return std::min(kRun, S - (k % runs) * kRun); }
  int64_t block(int64_t k) const { return k / runs % CB; }
  int64_t chunk(int64_t n, int64_t cb, int64_t r) const { return (n * CB + cb) * runs + r; }
};

Geometry geometry(int64_t N, int64_t C, int64_t S, int B) { return {N, C / B, S, (S + kRun - 1) / kRun}; }

// Chunks a thread takes at least: about kGrainSize floats.
int64_t chunk_grain(const Geometry& g, int B) {
  return std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, std::min(kRun, g.S) * B));
}

// Two rows of B doubles a chunk, reused across calls.
double* chunk_scratch(const Geometry& g, int B) {
  thread_local std::vector<double> v;
  const auto n = static_cast<size_t>(g.chunks() * 2 * B);
  if (v.size() < n) v.resize(n);
  return v.data();
}

// Merges the chunks of each channel in order (n, r) (Chan et al.): mean and biased variance.
template <int B>
void merge_moments(const double* part, const Geometry& g, float* mean_out, float* var_out) {
  for (int64_t cb = 0; cb < g.CB; ++cb) {
    double mean[B] = {}, m2[B] = {};
    double count = 0;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t r = 0; r < g.runs; ++r) {
        const int64_t k = g.chunk(n, cb, r);
        const double nb = static_cast<double>(g.length(k)), total = count + nb;
        const double* pm = part + k * 2 * B;
        for (int j = 0; j < B; ++j) {
          const double delta = pm[j] - mean[j];
          mean[j] += delta * nb / total;
          m2[j] += pm[B + j] + delta * delta * count * nb / total;
        }
        count = total;
      }
    for (int j = 0; j < B; ++j) {
      mean_out[cb * B + j] = static_cast<float>(mean[j]);
      var_out[cb * B + j] = static_cast<float>(m2[j] / count);
    }
  }
}


// The kernels over vectors V: Kernels<V>::forward<B> and backward<B> (kernels/norm.h's
// batch_norm_relu_forward_blocked and _backward_blocked), B a multiple of V::W.
template <class V>
struct Kernels {
  using reg = typename V::reg;

  // out[0 .. B) = per-lane sums over the chunk's len positions of f(s, u) (vector u of position
  // s): in float over kSub positions, in double across them.
  template <int B, typename F>
  static inline void lane_sums(int64_t len, double* out, const F& f) {
    constexpr int NV = B / V::W;
    std::fill(out, out + B, 0.0);
    for (int64_t s0 = 0; s0 < len; s0 += kSub) {
      const int64_t s1 = std::min(len, s0 + kSub);
      reg acc[NV];
      for (int u = 0; u < NV; ++u) acc[u] = V::zero();
      for (int64_t s = s0; s < s1; ++s)
        for (int u = 0; u < NV; ++u) acc[u] = V::add(acc[u], f(s, u));
      for (int u = 0; u < NV; ++u) V::add_to(out + u * V::W, acc[u]);
    }
  }

  // lane_sums of f and of g at once, each summed in the same order as lane_sums sums it alone
  // (the same bits), reading the chunk once: op(s, u, fa, fb) sets the two terms of vector u of
  // position s.
  template <int B, typename Op>
  static inline void lane_sums2(int64_t len, double* out_a, double* out_b, const Op& op) {
    constexpr int NV = B / V::W;
    std::fill(out_a, out_a + B, 0.0);
    std::fill(out_b, out_b + B, 0.0);
    for (int64_t s0 = 0; s0 < len; s0 += kSub) {
      const int64_t s1 = std::min(len, s0 + kSub);
      reg a[NV], b[NV];
      for (int u = 0; u < NV; ++u) a[u] = b[u] = V::zero();
      for (int64_t s = s0; s < s1; ++s)
        for (int u = 0; u < NV; ++u) {
          reg fa, fb;
          op(s, u, fa, fb);
          a[u] = V::add(a[u], fa);
          b[u] = V::add(b[u], fb);
        }
      for (int u = 0; u < NV; ++u) {
        V::add_to(out_a + u * V::W, a[u]);
        V::add_to(out_b + u * V::W, b[u]);
      }
    }
  }

  // The channel coefficients of block cb as vectors.
  template <int B>
  struct Coef {
    reg v[B / V::W];
    explicit Coef(const float* c) {
      for (int u = 0; u < B / V::W; ++u) v[u] = V::load(c + u * V::W);
    }
  };

  // Per chunk: mean and sum of squared deviations from it, per lane (part: two rows of B).
  template <int B>
  static void chunk_moments(const float* x, const Geometry& g, double* part) {
    parallel_for_dynamic(g.chunks(), chunk_grain(g, B), [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        const float* p = x + g.offset(k, B);
        const int64_t len = g.length(k);
        double* mean = part + k * 2 * B;
        double* m2 = mean + B;
        lane_sums<B>(len, mean, [p](int64_t s, int u) { return V::load(p + s * B + u * V::W); });
        alignas(64) float m[B];
        for (int j = 0; j < B; ++j) {
          mean[j] /= static_cast<double>(len);
          m[j] = static_cast<float>(mean[j]);
        }
        const Coef<B> mv(m);
        lane_sums<B>(len, m2, [p, &mv](int64_t s, int u) {
          const reg d = V::sub(V::load(p + s * B + u * V::W), mv.v[u]);
          return V::mul(d, d);
        });
        // The deviations were taken from the rounded mean: sum (x - m)^2 = M2 + len (mean - m)^2.
        for (int j = 0; j < B; ++j) {
          const double e = mean[j] - m[j];
          m2[j] = std::max(0.0, m2[j] - static_cast<double>(len) * e * e);
        }
      }
    });
  }

  // y = relu(x scale + shift (+ residual)), NaN kept.
  template <int B>
  static void apply(float* y, const float* x, const float* residual, const float* scale, const float* shift,
             const Geometry& g) {
    constexpr int NV = B / V::W;
    parallel_for_dynamic(g.chunks(), chunk_grain(g, B), [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        const int64_t o = g.offset(k, B), n = g.length(k) * B;
        const Coef<B> a(scale + g.block(k) * B), b(shift + g.block(k) * B);
        const float* px = x + o;
        float* py = y + o;
        if (residual != nullptr) {
          const float* pr = residual + o;
          for (int64_t i = 0; i < n; i += B)
            for (int u = 0; u < NV; ++u) {
              const int64_t e = i + u * V::W;
              const reg z = V::add(V::fmadd(V::load(px + e), a.v[u], b.v[u]), V::load(pr + e));
              V::store(py + e, V::max(V::zero(), z));
            }
        } else {
          for (int64_t i = 0; i < n; i += B)
            for (int u = 0; u < NV; ++u) {
              const int64_t e = i + u * V::W;
              V::store(py + e, V::max(V::zero(), V::fmadd(V::load(px + e), a.v[u], b.v[u])));
            }
        }
      }
    });
  }

  template <int B>
  static void forward(float* y, float* mean, float* var, float* scale, float* shift, const float* x,
               const float* residual, const float* weight, const float* bias, double eps, int64_t N,
               int64_t C, int64_t S, bool moments_given) {
    const Geometry g = geometry(N, C, S, B);
    if (!moments_given) {
      double* part = chunk_scratch(g, B);
      chunk_moments<B>(x, g, part);
      merge_moments<B>(part, g, mean, var);
    }
    batch_norm_relu_coefficients(scale, shift, mean, var, weight, bias, eps, C);
    apply<B>(y, x, residual, scale, shift, g);
  }

  // The ReLU's gradient of vector u at float e of a chunk: dy where the output was > 0 or NaN.
  // From y when there is one (a residual went into it), else from z = x scale + shift computed
  // as apply() computed it.
  template <int B>
  struct Mask {
    const float* dy;
    const float* x;
    const float* y;
    const Coef<B>& a;
    const Coef<B>& b;
    inline reg operator()(int64_t e, int u) const {
      const reg z = y != nullptr ? V::load(y + e) : V::fmadd(V::load(x + e), a.v[u], b.v[u]);
      return V::relu_pass(z, V::load(dy + e));
    }
  };

  template <int B>
  static void backward(float* dx, float* dresidual, float* dweight, float* dbias, const float* dy,
                const float* x, const float* y, const float* mean, const float* var,
                const float* scale, const float* shift, const float* weight, double eps,
                int64_t N, int64_t C, int64_t S) {
    constexpr int NV = B / V::W;
    const Geometry g = geometry(N, C, S, B);
    double* part = chunk_scratch(g, B);
    // Pass 1, per chunk: sum g and sum g (x - mean), g the ReLU's gradient; g is written out as
    // the residual's gradient when one is wanted.
    parallel_for_dynamic(g.chunks(), chunk_grain(g, B), [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        const int64_t o = g.offset(k, B), len = g.length(k), c0 = g.block(k) * B;
        const Coef<B> a(scale + c0), b(shift + c0), m(mean + c0);
        const Mask<B> mask{dy + o, x + o, y != nullptr ? y + o : nullptr, a, b};
        const float* px = x + o;
        double* sg = part + k * 2 * B;
        double* sgx = sg + B;
        // One read of the chunk: g, its sum and the sum of g (x - mean) together (stored as the
        // residual's gradient when one is wanted).
        float* pg = dresidual != nullptr ? dresidual + o : nullptr;
        lane_sums2<B>(len, sg, sgx, [&mask, px, pg, &m](int64_t s, int u, reg& gv, reg& gx) {
          const int64_t e = s * B + u * V::W;
          gv = mask(e, u);
          if (pg != nullptr) V::store(pg + e, gv);
          gx = V::mul(gv, V::sub(V::load(px + e), m.v[u]));
        });
      }
    });
    // Per channel, summed in order (n, r): dbias = sum g, dweight = rstd sum g (x - mean), and
    //   dx = k (g - mg - (x - mean) q),  k = w rstd, mg = sum g / M, q = rstd^2 sum g (x - mean) / M.
    thread_local std::vector<float> coef;
    coef.resize(static_cast<size_t>(3 * C));
    const double count = static_cast<double>(N * S);
    for (int64_t cb = 0; cb < g.CB; ++cb) {
      double sg[B] = {}, sgx[B] = {};
      for (int64_t n = 0; n < N; ++n)
        for (int64_t r = 0; r < g.runs; ++r) {
          const double* p = part + g.chunk(n, cb, r) * 2 * B;
          for (int j = 0; j < B; ++j) {
            sg[j] += p[j];
            sgx[j] += p[B + j];
          }
        }
      for (int j = 0; j < B; ++j) {
        const int64_t c = cb * B + j;
        const double rstd = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
        if (dbias != nullptr) dbias[c] = static_cast<float>(sg[j]);
        if (dweight != nullptr) dweight[c] = static_cast<float>(sgx[j] * rstd);
        coef[c] = static_cast<float>((weight != nullptr ? weight[c] : 1.0) * rstd);
        coef[C + c] = static_cast<float>(sg[j] / count);
        coef[2 * C + c] = static_cast<float>(sgx[j] / count * rstd * rstd);
      }
    }
    if (dx == nullptr) return;
    // Pass 2.
    const float* coefs = coef.data();
    parallel_for_dynamic(g.chunks(), chunk_grain(g, B), [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        const int64_t o = g.offset(k, B), n = g.length(k) * B, c0 = g.block(k) * B;
        const Coef<B> a(scale + c0), b(shift + c0), m(mean + c0);
        const Coef<B> kk(coefs + c0), mg(coefs + C + c0), q(coefs + 2 * C + c0);
        const Mask<B> mask{dy + o, x + o, y != nullptr ? y + o : nullptr, a, b};
        const float* pg = dresidual != nullptr ? dresidual + o : nullptr;
        const float* px = x + o;
        float* pdx = dx + o;
        for (int64_t i = 0; i < n; i += B)
          for (int u = 0; u < NV; ++u) {
            const int64_t e = i + u * V::W;
            const reg gv = pg != nullptr ? V::load(pg + e) : mask(e, u);
            const reg t = V::fnmadd(V::sub(V::load(px + e), m.v[u]), q.v[u], V::sub(gv, mg.v[u]));
            V::store(pdx + e, V::mul(kk.v[u], t));
          }
      }
    });
  }
};

}  // namespace
}  // namespace cnnkit::kernels::norm_blocked
CNNKIT_SIMD_END
