// Reductions, sort/top-k, and the index gathers/scatters used by reductions' backward and
// the shape ops, as plain loops over contiguous (P, O, R, I) blocks (see kernels/reduce.h).
// Float sums accumulate in double with `omp simd` lanes, so they vectorise without
// -ffast-math. No Tensor here and no shape checks: the op layer has done them.
#include "kernels/reduce.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "cnnkit/core/threads.h"

namespace cnnkit::kernels {

namespace {

// Rows of `work` elements each, grouped so that one task holds about kGrainSize elements.
int64_t grain_for(int64_t work) { return std::max<int64_t>(1, kGrainSize / std::max<int64_t>(work, 1)); }

template <typename T> struct SumAcc { using type = int64_t; };
template <> struct SumAcc<float> { using type = double; };

// Sum of n contiguous elements in 16 independent lanes (four AVX2 vectors of doubles):
// enough chains in flight to hide the add latency, and a fixed order, so deterministic.
template <typename Acc, typename In>
Acc sum_contiguous(const In* x, int64_t n) {
  constexpr int kLanes = 16;
  Acc lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
#pragma omp simd
    for (int j = 0; j < kLanes; ++j) lanes[j] += static_cast<Acc>(x[i + j]);
  }
  Acc acc = 0;
  for (int j = 0; j < kLanes; ++j) acc += lanes[j];
  for (; i < n; ++i) acc += static_cast<Acc>(x[i]);
  return acc;
}

// out[o, i] = sum over (p, r) of in[p, o, r, i] for i in [ib, ie).
template <typename Out, typename In>
void sum_columns(Out* out, const In* in, int64_t P, int64_t O, int64_t R, int64_t I, int64_t o,
                 int64_t ib, int64_t ie) {
  using Acc = typename SumAcc<In>::type;
  thread_local std::vector<Acc> scratch;
  const int64_t w = ie - ib;
  scratch.assign(static_cast<size_t>(w), Acc(0));
  Acc* acc = scratch.data();
  for (int64_t p = 0; p < P; ++p) {
    for (int64_t r = 0; r < R; ++r) {
      const In* row = in + ((p * O + o) * R + r) * I + ib;
#pragma omp simd
      for (int64_t i = 0; i < w; ++i) acc[i] += static_cast<Acc>(row[i]);
    }
  }
  for (int64_t i = 0; i < w; ++i) out[o * I + ib + i] = static_cast<Out>(acc[i]);
}

template <typename Out, typename In>
void sum_impl(Out* out, const In* in, int64_t P, int64_t O, int64_t R, int64_t I) {
  using Acc = typename SumAcc<In>::type;
  if (O == 0 || I == 0) return;
  const int64_t per_out = P * R * I;
  if (I == 1) {
    const int threads = get_num_threads();
    if (O < threads && P * R >= 2 * kGrainSize && threads > 1 && !in_parallel_region()) {
      // Few outputs over long rows (a full sum): split each row into chunks across threads.
      for (int64_t o = 0; o < O; ++o) {
        const int64_t len = R;
        const int64_t chunks = std::min<int64_t>(threads, (len + kGrainSize - 1) / kGrainSize);
        std::vector<Acc> partial(static_cast<size_t>(chunks * P), Acc(0));
        parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
          for (int64_t c = cb; c < ce; ++c) {
            const int64_t rb = len * c / chunks, re = len * (c + 1) / chunks;
            for (int64_t p = 0; p < P; ++p)
              partial[c * P + p] = sum_contiguous<Acc>(in + (p * O + o) * R + rb, re - rb);
          }
        });
        Acc total = 0;
        for (Acc v : partial) total += v;
        out[o] = static_cast<Out>(total);
      }
      return;
    }
    parallel_for(O, grain_for(per_out), [&](int64_t b, int64_t e) {
      if (P == 1) {
        for (int64_t o = b; o < e; ++o) out[o] = static_cast<Out>(sum_contiguous<Acc>(in + o * R, R));
        return;
      }
      // p outer, o inner: memory is read in order (N, C, H*W of a bias gradient), not one
      // page-distant row after another.
      thread_local std::vector<Acc> acc;
      acc.assign(static_cast<size_t>(e - b), Acc(0));
      for (int64_t p = 0; p < P; ++p)
        for (int64_t o = b; o < e; ++o) acc[o - b] += sum_contiguous<Acc>(in + (p * O + o) * R, R);
      for (int64_t o = b; o < e; ++o) out[o] = static_cast<Out>(acc[o - b]);
    });
    return;
  }
  if (O > 1) {
    parallel_for(O, grain_for(per_out), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) sum_columns(out, in, P, O, R, I, o, 0, I);
    });
  } else {
    // One output row (e.g. a bias gradient over N rows): split the columns.
    parallel_for(I, grain_for(P * R), [&](int64_t b, int64_t e) { sum_columns(out, in, P, O, R, I, 0, b, e); });
  }
}

template <typename Out, typename In>
void prod_impl(Out* out, const In* in, int64_t O, int64_t R, int64_t I) {
  using Acc = typename SumAcc<In>::type;
  parallel_for(O * I, grain_for(R), [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      const int64_t o = j / I, i = j % I;
      Acc acc = 1;
      for (int64_t r = 0; r < R; ++r) acc *= static_cast<Acc>(in[(o * R + r) * I + i]);
      out[j] = static_cast<Out>(acc);
    }
  });
}

template <typename T> bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// Extreme value over R; NaN propagates. R > 0.
template <bool Max, typename T>
void extreme_impl(T* out, const T* in, int64_t O, int64_t R, int64_t I) {
  parallel_for(O * I, grain_for(R), [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      const int64_t o = j / I, i = j % I;
      const T* x = in + o * R * I + i;
      T acc = x[0];
      for (int64_t r = 1; r < R && !is_nan(acc); ++r) {
        T v = x[r * I];
        if (is_nan(v) || (Max ? v > acc : v < acc)) acc = v;
      }
      out[j] = acc;
    }
  });
}

template <bool Max, typename T>
void extreme_index_impl(T* values, int64_t* indices, const T* in, int64_t O, int64_t R, int64_t I) {
  parallel_for(O * I, grain_for(R), [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      const int64_t o = j / I, i = j % I;
      const T* x = in + o * R * I + i;
      T best = x[0];
      int64_t at = 0;
      for (int64_t r = 1; r < R && !is_nan(best); ++r) {
        T v = x[r * I];
        if (is_nan(v) || (Max ? v > best : v < best)) {
          best = v;
          at = r;
        }
      }
      if (values) values[j] = best;
      indices[j] = at;
    }
  });
}

// PyTorch's order: NaN above every number.
template <typename T> bool less_nan_last(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) return !std::isnan(a) && (std::isnan(b) || a < b);
  else return a < b;
}

template <typename T>
void sort_impl(T* values, int64_t* indices, const T* in, int64_t O, int64_t R, int64_t I, int64_t k,
               bool descending, bool partial) {
  parallel_for(O * I, grain_for(R * 8), [&](int64_t b, int64_t e) {
    std::vector<int64_t> order(static_cast<size_t>(R));
    for (int64_t j = b; j < e; ++j) {
      const int64_t o = j / I, i = j % I;
      const T* x = in + o * R * I + i;
      std::iota(order.begin(), order.end(), int64_t{0});
      // Ties keep their input order, so the result is deterministic (stable).
      auto cmp = [&](int64_t u, int64_t v) {
        T a = x[u * I], c = x[v * I];
        if (descending ? less_nan_last(c, a) : less_nan_last(a, c)) return true;
        if (descending ? less_nan_last(a, c) : less_nan_last(c, a)) return false;
        return u < v;
      };
      if (partial) std::partial_sort(order.begin(), order.begin() + k, order.end(), cmp);
      else std::sort(order.begin(), order.end(), cmp);
      for (int64_t q = 0; q < k; ++q) {
        const int64_t dst = (o * k + q) * I + i;
        values[dst] = x[order[q] * I];
        indices[dst] = order[q];
      }
    }
  });
}

template <typename T> bool nonzero(T v) { return v != T(0); }

template <typename T>
bool all_impl(const T* in, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!nonzero(in[i])) return false;
  return true;
}
template <typename T>
bool any_impl(const T* in, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (nonzero(in[i])) return true;
  return false;
}

// Walks an n-d index space in row-major order, calling f(linear, coords) with an offset.
template <typename Word>
void gather_impl(Word* out, const Word* in, IntArrayRef in_strides, const int64_t* index, IntArrayRef sizes,
                 int64_t dim) {
  const int64_t nd = static_cast<int64_t>(sizes.size());
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  if (n == 0) return;
  std::vector<int64_t> coord(static_cast<size_t>(nd), 0);
  int64_t base = 0;  // offset of coord without the `dim` term
  for (int64_t j = 0; j < n; ++j) {
    out[j] = in[base + index[j] * in_strides[dim]];
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (d != dim) base += in_strides[d];
      if (++coord[d] < sizes[d]) break;
      if (d != dim) base -= in_strides[d] * sizes[d];
      coord[d] = 0;
    }
  }
}

template <typename Word>
void copy_between_impl(Word* dst, IntArrayRef dst_strides, const Word* src, IntArrayRef src_strides,
                       IntArrayRef sizes) {
  const int64_t nd = static_cast<int64_t>(sizes.size());
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  if (n == 0) return;
  if (nd == 0) {
    dst[0] = src[0];
    return;
  }
  const int64_t inner = sizes[nd - 1], ds = dst_strides[nd - 1], ss = src_strides[nd - 1];
  const int64_t rows = n / inner;
  std::vector<int64_t> coord(static_cast<size_t>(nd), 0);
  int64_t doff = 0, soff = 0;
  for (int64_t row = 0; row < rows; ++row) {
    Word* d = dst + doff;
    const Word* s = src + soff;
    if (ds == 1 && ss == 1) std::memcpy(d, s, static_cast<size_t>(inner) * sizeof(Word));
    else
      for (int64_t i = 0; i < inner; ++i) d[i * ds] = s[i * ss];
    for (int64_t dd = nd - 2; dd >= 0; --dd) {
      doff += dst_strides[dd];
      soff += src_strides[dd];
      if (++coord[dd] < sizes[dd]) break;
      doff -= dst_strides[dd] * sizes[dd];
      soff -= src_strides[dd] * sizes[dd];
      coord[dd] = 0;
    }
  }
}

// Row walk shared by pad_gather and pad_scatter_add: f(out_row, in_row_offset or -1, row_len).
template <typename F>
void pad_rows(int64_t outer, int64_t k, const int64_t* in_sizes, const int64_t* out_sizes,
              const int64_t* const* maps, const F& f) {
  int64_t in_block = 1, out_block = 1;
  for (int64_t d = 0; d < k; ++d) {
    in_block *= in_sizes[d];
    out_block *= out_sizes[d];
  }
  const int64_t w = out_sizes[k - 1];
  if (w == 0 || out_block == 0) return;
  const int64_t rows_per_block = out_block / w;
  std::vector<int64_t> in_strides(static_cast<size_t>(k), 1);
  for (int64_t d = k - 2; d >= 0; --d) in_strides[d] = in_strides[d + 1] * in_sizes[d + 1];
  parallel_for(outer, grain_for(out_block), [&](int64_t b, int64_t e) {
    std::vector<int64_t> coord(static_cast<size_t>(k), 0);
    for (int64_t n = b; n < e; ++n) {
      std::fill(coord.begin(), coord.end(), 0);
      for (int64_t row = 0; row < rows_per_block; ++row) {
        int64_t off = 0;
        for (int64_t d = 0; d + 1 < k && off >= 0; ++d) {
          const int64_t m = maps[d][coord[d]];
          off = m < 0 ? -1 : off + m * in_strides[d];
        }
        f(n * out_block + row * w, off < 0 ? -1 : n * in_block + off, w);
        for (int64_t d = k - 2; d >= 0; --d) {
          if (++coord[d] < out_sizes[d]) break;
          coord[d] = 0;
        }
      }
    }
  });
}

template <typename T>
void pad_gather_impl(T* out, const T* in, int64_t outer, int64_t k, const int64_t* in_sizes,
                     const int64_t* out_sizes, const int64_t* const* maps, T fill) {
  const int64_t* last = maps[k - 1];
  pad_rows(outer, k, in_sizes, out_sizes, maps, [&](int64_t orow, int64_t irow, int64_t w) {
    T* o = out + orow;
    if (irow < 0) {
      std::fill(o, o + w, fill);
      return;
    }
    const T* x = in + irow;
    for (int64_t i = 0; i < w; ++i) o[i] = last[i] < 0 ? fill : x[last[i]];
  });
}

}  // namespace

// ---- reductions -------------------------------------------------------------------------------
void sum(float* out, const float* in, int64_t P, int64_t O, int64_t R, int64_t I) { sum_impl(out, in, P, O, R, I); }
void sum(int64_t* out, const int64_t* in, int64_t P, int64_t O, int64_t R, int64_t I) { sum_impl(out, in, P, O, R, I); }
void sum(int64_t* out, const uint8_t* in, int64_t P, int64_t O, int64_t R, int64_t I) { sum_impl(out, in, P, O, R, I); }
void prod(float* out, const float* in, int64_t O, int64_t R, int64_t I) { prod_impl(out, in, O, R, I); }
void prod(int64_t* out, const int64_t* in, int64_t O, int64_t R, int64_t I) { prod_impl(out, in, O, R, I); }
void prod(int64_t* out, const uint8_t* in, int64_t O, int64_t R, int64_t I) { prod_impl(out, in, O, R, I); }

void amax(float* out, const float* in, int64_t O, int64_t R, int64_t I) { extreme_impl<true>(out, in, O, R, I); }
void amax(int64_t* out, const int64_t* in, int64_t O, int64_t R, int64_t I) { extreme_impl<true>(out, in, O, R, I); }
void amax(uint8_t* out, const uint8_t* in, int64_t O, int64_t R, int64_t I) { extreme_impl<true>(out, in, O, R, I); }
void amin(float* out, const float* in, int64_t O, int64_t R, int64_t I) { extreme_impl<false>(out, in, O, R, I); }
void amin(int64_t* out, const int64_t* in, int64_t O, int64_t R, int64_t I) { extreme_impl<false>(out, in, O, R, I); }
void amin(uint8_t* out, const uint8_t* in, int64_t O, int64_t R, int64_t I) { extreme_impl<false>(out, in, O, R, I); }

void max_with_index(float* v, int64_t* idx, const float* in, int64_t O, int64_t R, int64_t I) {
  extreme_index_impl<true>(v, idx, in, O, R, I);
}
void max_with_index(int64_t* v, int64_t* idx, const int64_t* in, int64_t O, int64_t R, int64_t I) {
  extreme_index_impl<true>(v, idx, in, O, R, I);
}
void max_with_index(uint8_t* v, int64_t* idx, const uint8_t* in, int64_t O, int64_t R, int64_t I) {
  extreme_index_impl<true>(v, idx, in, O, R, I);
}
void min_with_index(float* v, int64_t* idx, const float* in, int64_t O, int64_t R, int64_t I) {
  extreme_index_impl<false>(v, idx, in, O, R, I);
}
void min_with_index(int64_t* v, int64_t* idx, const int64_t* in, int64_t O, int64_t R, int64_t I) {
  extreme_index_impl<false>(v, idx, in, O, R, I);
}
void min_with_index(uint8_t* v, int64_t* idx, const uint8_t* in, int64_t O, int64_t R, int64_t I) {
  extreme_index_impl<false>(v, idx, in, O, R, I);
}

void var_mean(float* var, float* mean, const float* in, int64_t O, int64_t R, int64_t I, int64_t correction) {
  const double denom = static_cast<double>(std::max<int64_t>(0, R - correction));
  parallel_for(O * I, grain_for(2 * R), [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      const int64_t o = j / I, i = j % I;
      const float* x = in + o * R * I + i;
      double s = 0;
      if (I == 1) s = sum_contiguous<double>(x, R);
      else
        for (int64_t r = 0; r < R; ++r) s += x[r * I];
      const double m = s / static_cast<double>(R);
      double m2 = 0;
      if (I == 1) {
#pragma omp simd reduction(+ : m2)
        for (int64_t r = 0; r < R; ++r) m2 += (x[r] - m) * (x[r] - m);
      } else {
        for (int64_t r = 0; r < R; ++r) m2 += (x[r * I] - m) * (x[r * I] - m);
      }
      var[j] = static_cast<float>(m2 / denom);
      if (mean) mean[j] = static_cast<float>(m);
    }
  });
}

void norm(float* out, const float* in, int64_t O, int64_t R, int64_t I, double p) {
  parallel_for(O * I, grain_for(R), [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      const int64_t o = j / I, i = j % I;
      const float* x = in + o * R * I + i;
      double acc = 0;
      if (std::isinf(p)) {
        acc = R > 0 ? std::fabs(x[0]) : 0.0;
        for (int64_t r = 1; r < R && !std::isnan(acc); ++r) {
          const double a = std::fabs(x[r * I]);
          if (std::isnan(a) || (p > 0 ? a > acc : a < acc)) acc = a;
        }
      } else if (p == 0) {
        for (int64_t r = 0; r < R; ++r) acc += x[r * I] != 0.0f;
      } else if (p == 1) {
        for (int64_t r = 0; r < R; ++r) acc += std::fabs(x[r * I]);
      } else if (p == 2) {
        if (I == 1) {
#pragma omp simd reduction(+ : acc)
          for (int64_t r = 0; r < R; ++r) acc += static_cast<double>(x[r]) * x[r];
        } else {
          for (int64_t r = 0; r < R; ++r) acc += static_cast<double>(x[r * I]) * x[r * I];
        }
        acc = std::sqrt(acc);
      } else {
        for (int64_t r = 0; r < R; ++r) acc += std::pow(std::fabs(static_cast<double>(x[r * I])), p);
        acc = std::pow(acc, 1.0 / p);
      }
      out[j] = static_cast<float>(acc);
    }
  });
}

void logsumexp(float* out, const float* in, int64_t O, int64_t R, int64_t I) {
  parallel_for(O * I, grain_for(2 * R), [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      const int64_t o = j / I, i = j % I;
      const float* x = in + o * R * I + i;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t r = 0; r < R; ++r) m = std::max(m, x[r * I]);
      if (std::isinf(m)) {  // all -inf (or R == 0), or a +inf: the result is m itself
        out[j] = m;
        continue;
      }
      double s = 0;
      for (int64_t r = 0; r < R; ++r) s += std::exp(static_cast<double>(x[r * I]) - m);
      out[j] = static_cast<float>(m + std::log(s));
    }
  });
}

bool all_nonzero(const float* in, int64_t n) { return all_impl(in, n); }
bool all_nonzero(const int64_t* in, int64_t n) { return all_impl(in, n); }
bool all_nonzero(const uint8_t* in, int64_t n) { return all_impl(in, n); }
bool any_nonzero(const float* in, int64_t n) { return any_impl(in, n); }
bool any_nonzero(const int64_t* in, int64_t n) { return any_impl(in, n); }
bool any_nonzero(const uint8_t* in, int64_t n) { return any_impl(in, n); }

// ---- sort / topk ------------------------------------------------------------------------------
void sort(float* values, int64_t* indices, const float* in, int64_t O, int64_t R, int64_t I, bool descending) {
  sort_impl(values, indices, in, O, R, I, R, descending, false);
}
void sort(int64_t* values, int64_t* indices, const int64_t* in, int64_t O, int64_t R, int64_t I, bool descending) {
  sort_impl(values, indices, in, O, R, I, R, descending, false);
}
// `sorted` is accepted for API parity; the k results always come out sorted, which PyTorch allows.
void topk(float* values, int64_t* indices, const float* in, int64_t O, int64_t R, int64_t I, int64_t k,
          bool largest, bool /*sorted*/) {
  sort_impl(values, indices, in, O, R, I, k, largest, true);
}
void topk(int64_t* values, int64_t* indices, const int64_t* in, int64_t O, int64_t R, int64_t I, int64_t k,
          bool largest, bool /*sorted*/) {
  sort_impl(values, indices, in, O, R, I, k, largest, true);
}

// ---- backward helpers -------------------------------------------------------------------------
void var_backward(float* dx, const float* g, const float* x, const float* mean, int64_t n, double scale) {
  const float s = static_cast<float>(scale);
  parallel_for(n, kGrainSize, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = g[i] * (x[i] - mean[i]) * s;
  });
}

void std_backward(float* dx, const float* g, const float* x, const float* mean, const float* sd, int64_t n,
                  double denom) {
  const float d = static_cast<float>(denom);
  parallel_for(n, kGrainSize, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = sd[i] == 0.0f ? 0.0f : g[i] * (x[i] - mean[i]) / (sd[i] * d);
  });
}

void norm_backward(float* dx, const float* g, const float* x, const float* nrm, int64_t n, double p) {
  parallel_for(n, kGrainSize, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      if (x[i] == 0.0f || nrm[i] == 0.0f) {
        dx[i] = 0.0f;
      } else if (p == 1) {
        dx[i] = x[i] > 0 ? g[i] : -g[i];
      } else if (p == 2) {
        dx[i] = g[i] * x[i] / nrm[i];
      } else {
        const double xv = x[i];
        dx[i] = static_cast<float>(g[i] * xv * std::pow(std::fabs(xv), p - 2) / std::pow(nrm[i], p - 1));
      }
    }
  });
}

void logsumexp_backward(float* dx, const float* g, const float* x, const float* out, int64_t n) {
  parallel_for(n, kGrainSize, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = g[i] * std::exp(x[i] - out[i]);
  });
}

void ties_mask(float* mask, const float* x, const float* value, int64_t n, bool use_abs, bool nan_ties) {
  parallel_for(n, kGrainSize, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float key = use_abs ? std::fabs(x[i]) : x[i];
      mask[i] = (key == value[i] || (nan_ties && std::isnan(key) && std::isnan(value[i]))) ? 1.0f : 0.0f;
    }
  });
}

void ties_backward(float* dx, const float* g, const float* x, const float* value, const float* count,
                   int64_t n, bool use_abs, bool nan_ties) {
  parallel_for(n, kGrainSize, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float key = use_abs ? std::fabs(x[i]) : x[i];
      // NaN == NaN is false, but a NaN result comes from a NaN input: route it there too.
      const bool hit = key == value[i] || (nan_ties && std::isnan(key) && std::isnan(value[i]));
      float sign = 1.0f;
      if (use_abs) sign = x[i] > 0 ? 1.0f : (x[i] < 0 ? -1.0f : 0.0f);
      // Multiplied, not selected: a count of 0 (a NaN amax) or a non-finite g gives NaN as in torch.
      dx[i] = (g[i] * sign / count[i]) * (hit ? 1.0f : 0.0f);
    }
  });
}

bool all_finite(const float* x, int64_t n) {
  constexpr float kMax = std::numeric_limits<float>::max();
  uint32_t bad = 0;  // an integer OR: the loop vectorises without reassociating floats
  for (int64_t i = 0; i < n; ++i) bad |= !(std::fabs(x[i]) <= kMax);
  return bad == 0;
}

void prod_backward(float* dx, float g, const float* x, int64_t n) {
  int64_t zeros = 0, zero_at = -1;
  double nonzero_prod = 1;
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] == 0.0f) {
      ++zeros;
      zero_at = i;
    } else {
      nonzero_prod *= x[i];
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    if (zeros == 0) dx[i] = static_cast<float>(g * nonzero_prod / x[i]);
    else dx[i] = (zeros == 1 && i == zero_at) ? static_cast<float>(g * nonzero_prod) : 0.0f;
  }
}

void scale(float* x, int64_t n, float s) {
  parallel_for(n, kGrainSize, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] *= s;
  });
}

// ---- index kernels ------------------------------------------------------------------------------
void scatter_add_dim(float* out, const float* src, const int64_t* index, int64_t O, int64_t R, int64_t K,
                     int64_t I) {
  parallel_for(O, grain_for(K * I), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t i = 0; i < I; ++i) {
          const int64_t s = (o * K + k) * I + i;
          out[(o * R + index[s]) * I + i] += src[s];
        }
  });
}

void index_select(void* out, const void* in, size_t elem_size, const int64_t* index, int64_t O, int64_t R,
                  int64_t K, int64_t I) {
  const size_t row = static_cast<size_t>(I) * elem_size;
  if (row == 0 || O * K == 0) return;  // empty: the buffers may be null
  auto* o8 = static_cast<char*>(out);
  const auto* i8 = static_cast<const char*>(in);
  parallel_for(O, grain_for(K * I), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (int64_t k = 0; k < K; ++k)
        std::memcpy(o8 + static_cast<size_t>(o * K + k) * row, i8 + static_cast<size_t>(o * R + index[k]) * row, row);
  });
}

void index_add(float* out, const float* src, const int64_t* index, int64_t O, int64_t R, int64_t K, int64_t I) {
  parallel_for(O, grain_for(K * I), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (int64_t k = 0; k < K; ++k) {
        float* dst = out + (o * R + index[k]) * I;
        const float* s = src + (o * K + k) * I;
        for (int64_t i = 0; i < I; ++i) dst[i] += s[i];
      }
  });
}

void gather(void* out, const void* in, size_t elem_size, IntArrayRef in_strides, const int64_t* index,
            IntArrayRef index_sizes, int64_t dim) {
  switch (elem_size) {
    case 1: gather_impl(static_cast<uint8_t*>(out), static_cast<const uint8_t*>(in), in_strides, index, index_sizes, dim); break;
    case 4: gather_impl(static_cast<uint32_t*>(out), static_cast<const uint32_t*>(in), in_strides, index, index_sizes, dim); break;
    case 8: gather_impl(static_cast<uint64_t*>(out), static_cast<const uint64_t*>(in), in_strides, index, index_sizes, dim); break;
    default: CNNKIT_ASSERT(false, "gather: element size ", elem_size);
  }
}

void scatter_add(float* out, IntArrayRef out_strides, const float* src, const int64_t* index,
                 IntArrayRef index_sizes, int64_t dim) {
  const int64_t nd = static_cast<int64_t>(index_sizes.size());
  int64_t n = 1;
  for (int64_t s : index_sizes) n *= s;
  if (n == 0) return;
  std::vector<int64_t> coord(static_cast<size_t>(nd), 0);
  int64_t base = 0;
  for (int64_t j = 0; j < n; ++j) {
    out[base + index[j] * out_strides[dim]] += src[j];
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (d != dim) base += out_strides[d];
      if (++coord[d] < index_sizes[d]) break;
      if (d != dim) base -= out_strides[d] * index_sizes[d];
      coord[d] = 0;
    }
  }
}

void copy_between_strided(void* dst, IntArrayRef dst_strides, const void* src, IntArrayRef src_strides,
                          IntArrayRef sizes, size_t elem_size) {
  switch (elem_size) {
    case 1: copy_between_impl(static_cast<uint8_t*>(dst), dst_strides, static_cast<const uint8_t*>(src), src_strides, sizes); break;
    case 4: copy_between_impl(static_cast<uint32_t*>(dst), dst_strides, static_cast<const uint32_t*>(src), src_strides, sizes); break;
    case 8: copy_between_impl(static_cast<uint64_t*>(dst), dst_strides, static_cast<const uint64_t*>(src), src_strides, sizes); break;
    default: CNNKIT_ASSERT(false, "copy_between_strided: element size ", elem_size);
  }
}

// ---- padding ------------------------------------------------------------------------------------
void pad_gather(float* out, const float* in, int64_t outer, int64_t k, const int64_t* in_sizes,
                const int64_t* out_sizes, const int64_t* const* maps, float fill) {
  pad_gather_impl(out, in, outer, k, in_sizes, out_sizes, maps, fill);
}
void pad_gather(int64_t* out, const int64_t* in, int64_t outer, int64_t k, const int64_t* in_sizes,
                const int64_t* out_sizes, const int64_t* const* maps, int64_t fill) {
  pad_gather_impl(out, in, outer, k, in_sizes, out_sizes, maps, fill);
}
void pad_gather(uint8_t* out, const uint8_t* in, int64_t outer, int64_t k, const int64_t* in_sizes,
                const int64_t* out_sizes, const int64_t* const* maps, uint8_t fill) {
  pad_gather_impl(out, in, outer, k, in_sizes, out_sizes, maps, fill);
}

void pad_scatter_add(float* gin, const float* gout, int64_t outer, int64_t k, const int64_t* in_sizes,
                     const int64_t* out_sizes, const int64_t* const* maps) {
  const int64_t* last = maps[k - 1];
  // Distinct outer rows never share input elements, so the parallel split over `outer` is safe.
  pad_rows(outer, k, in_sizes, out_sizes, maps, [&](int64_t orow, int64_t irow, int64_t w) {
    if (irow < 0) return;
    const float* g = gout + orow;
    float* x = gin + irow;
    for (int64_t i = 0; i < w; ++i)
      if (last[i] >= 0) x[last[i]] += g[i];
  });
}

}  // namespace cnnkit::kernels
