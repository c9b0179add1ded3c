// Element-wise loops over raw pointers and the oneDNN eltwise wrappers. Each public entry
// switches once on (dtype, op) and then runs one template instantiation whose inner loop
// is a plain indexed loop the compiler vectorises; nothing here dispatches per element.
// Rows are split across threads only above a grain size (see kCheapGrain below).
#include "kernels/elementwise.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <type_traits>

#include <omp.h>

#include "cnnkit/core/tensor.h"
#include "cnnkit/core/threads.h"
#include "kernels/onednn.h"

namespace cnnkit::kernels {

// ---- loops ------------------------------------------------------------------------------

int64_t Loop::numel() const {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= sizes[d];
  return n;
}

Loop make_loop(IntArrayRef sizes, std::initializer_list<const int64_t*> strides) {
  Loop L;
  L.noperands = static_cast<int>(strides.size());
  CNNKIT_ASSERT(L.noperands >= 1 && L.noperands <= kMaxLoopOperands, "make_loop: ", L.noperands, " operands");
  CNNKIT_CHECK_T(ShapeError, sizes.size() <= static_cast<size_t>(kMaxLoopDims), "element-wise ops support at most ",
                 kMaxLoopDims, " dimensions, got ", sizes.size());
  // Drop size-1 dims (their stride never moves), keep the rest outer to inner.
  int nd = 0;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1) continue;
    L.sizes[nd] = sizes[d];
    int k = 0;
    for (const int64_t* s : strides) L.strides[k++][nd] = s[d];
    ++nd;
  }
  if (nd == 0) {
    L.ndim = 1;
    L.sizes[0] = 1;
    for (int k = 0; k < L.noperands; ++k) L.strides[k][0] = 0;
    return L;
  }
  // Merge an outer dim into the next inner one when every operand steps through them as
  // one run: stride_outer == stride_inner * size_inner (also true for broadcast 0, 0).
  int w = 0;
  for (int d = 0; d < nd; ++d) {
    bool merge = w > 0;
    for (int k = 0; merge && k < L.noperands; ++k)
      merge = L.strides[k][w - 1] == L.strides[k][d] * L.sizes[d];
    if (merge) {
      L.sizes[w - 1] *= L.sizes[d];
      for (int k = 0; k < L.noperands; ++k) L.strides[k][w - 1] = L.strides[k][d];
    } else {
      L.sizes[w] = L.sizes[d];
      for (int k = 0; k < L.noperands; ++k) L.strides[k][w] = L.strides[k][d];
      ++w;
    }
  }
  L.ndim = w;
  return L;
}

void broadcast_strides(int64_t* out, IntArrayRef in_sizes, IntArrayRef in_strides, IntArrayRef out_sizes) {
  const size_t nout = out_sizes.size(), nin = in_sizes.size();
  for (size_t d = 0; d < nout; ++d) {
    if (d + nin < nout) {
      out[d] = 0;
      continue;
    }
    size_t i = d + nin - nout;
    out[d] = in_sizes[i] == 1 ? 0 : in_strides[i];
  }
}

namespace {

// Grain sizes. Memory-bound ops (add, mul, copy, compare, ...) stream ~0.15 ns an element on
// one core: 48000 floats take 6.5 us, less than an OpenMP fork/join on these 2-core VMs, so
// they split across threads only from 8x kGrainSize on. Ops that call libm per element
// (exp, log, sin, pow, ...) cost nanoseconds an element and use kGrainSize.
constexpr int64_t kCheapGrain = 8 * kGrainSize;
constexpr int64_t kCostlyGrain = kGrainSize;

// Calls row(off, len) for every innermost row of the loop: off[k] is operand k's element
// offset at the row start, len the row length; the inner strides are L.strides[k][nd-1].
// Parallel over rows (or over one long row) above `grain` elements unless Serial.
template <int N, bool Serial = false, typename Row>
void for_each_row(const Loop& L, const Row& row, int64_t grain = kCheapGrain) {
  const int nd = L.ndim;
  const int64_t inner = L.sizes[nd - 1];
  const int64_t numel = L.numel();
  if (numel == 0) return;
  const int64_t outer = numel / inner;
  if (outer == 1) {
    if (Serial) {
      int64_t off[N] = {};
      row(off, inner);
      return;
    }
    parallel_for(inner, grain, [&](int64_t b, int64_t e) {
      int64_t off[N];
      for (int k = 0; k < N; ++k) off[k] = b * L.strides[k][nd - 1];
      row(off, e - b);
    });
    return;
  }
  auto rows = [&](int64_t r0, int64_t r1) {
    int64_t idx[kMaxLoopDims];
    int64_t off[N] = {};
    int64_t rem = r0;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = rem % L.sizes[d];
      rem /= L.sizes[d];
      for (int k = 0; k < N; ++k) off[k] += idx[d] * L.strides[k][d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      row(off, inner);
      for (int d = nd - 2; d >= 0; --d) {
        for (int k = 0; k < N; ++k) off[k] += L.strides[k][d];
        if (++idx[d] < L.sizes[d]) break;
        for (int k = 0; k < N; ++k) off[k] -= L.strides[k][d] * L.sizes[d];
        idx[d] = 0;
      }
    }
  };
  if (Serial) {
    rows(0, outer);
  } else {
    parallel_for(outer, std::max<int64_t>(1, grain / inner), rows);
  }
}

// out = f(a) with the inner-stride cases the compiler can vectorise spelled out.
template <typename O, typename A, typename F>
void loop2(O* out, const A* a, const Loop& L, const F& f, int64_t grain = kCheapGrain) {
  const int64_t so = L.strides[0][L.ndim - 1], sa = L.strides[1][L.ndim - 1];
  for_each_row<2>(L, [&](const int64_t* off, int64_t n) {
    O* o = out + off[0];
    const A* x = a + off[1];
    if (so == 1 && sa == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    } else if (so == 1 && sa == 0) {
      const O v = f(x[0]);
      for (int64_t i = 0; i < n; ++i) o[i] = v;
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * so] = f(x[i * sa]);
    }
  }, grain);
}

template <typename O, typename A, typename B, typename F>
void loop3(O* out, const A* a, const B* b, const Loop& L, const F& f, int64_t grain = kCheapGrain) {
  const int nd = L.ndim;
  const int64_t so = L.strides[0][nd - 1], sa = L.strides[1][nd - 1], sb = L.strides[2][nd - 1];
  for_each_row<3>(L, [&](const int64_t* off, int64_t n) {
    O* o = out + off[0];
    const A* x = a + off[1];
    const B* y = b + off[2];
    if (so == 1 && sa == 1 && sb == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (so == 1 && sa == 1 && sb == 0) {
      const B yv = y[0];
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else if (so == 1 && sa == 0 && sb == 1) {
      const A xv = x[0];
      for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * so] = f(x[i * sa], y[i * sb]);
    }
  }, grain);
}

template <typename O, typename A, typename B, typename C, typename F>
void loop4(O* out, const A* a, const B* b, const C* c, const Loop& L, const F& f) {
  const int nd = L.ndim;
  const int64_t so = L.strides[0][nd - 1], sa = L.strides[1][nd - 1], sb = L.strides[2][nd - 1],
                sc = L.strides[3][nd - 1];
  for_each_row<4>(L, [&](const int64_t* off, int64_t n) {
    O* o = out + off[0];
    const A* x = a + off[1];
    const B* y = b + off[2];
    const C* z = c + off[3];
    if (so == 1 && sa == 1 && sb == 1 && sc == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i], z[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * so] = f(x[i * sa], y[i * sb], z[i * sc]);
    }
  });
}

// Signed overflow wraps (as in PyTorch) instead of being undefined behaviour.
inline int64_t wrap_add(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)); }
inline int64_t wrap_sub(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b)); }
inline int64_t wrap_mul(int64_t a, int64_t b) { return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b)); }

int64_t int_pow(int64_t base, int64_t exp) {
  if (exp < 0) return base == 1 ? 1 : base == -1 ? ((exp & 1) ? -1 : 1) : 0;
  int64_t r = 1;
  while (exp) {
    if (exp & 1) r = wrap_mul(r, base);
    base = wrap_mul(base, base);
    exp >>= 1;
  }
  return r;
}

// Calls fn(functor) with the functor for `op` over T (float or int64).
template <typename T, typename Fn>
void with_binary_op(BinaryOp op, T alpha, const Fn& fn) {
  constexpr bool kInt = std::is_integral_v<T>;
  switch (op) {
    case BinaryOp::kAdd:
      if constexpr (kInt) return fn([alpha](T x, T y) { return wrap_add(x, wrap_mul(alpha, y)); });
      else return fn([alpha](T x, T y) { return x + alpha * y; });
    case BinaryOp::kSub:
      if constexpr (kInt) return fn([alpha](T x, T y) { return wrap_sub(x, wrap_mul(alpha, y)); });
      else return fn([alpha](T x, T y) { return x - alpha * y; });
    case BinaryOp::kMul:
      if constexpr (kInt) return fn([](T x, T y) { return wrap_mul(x, y); });
      else return fn([](T x, T y) { return x * y; });
    case BinaryOp::kDiv:
      if constexpr (!kInt) return fn([](T x, T y) { return x / y; });
      break;
    case BinaryOp::kPow:
      if constexpr (kInt) return fn([](T x, T y) { return int_pow(x, y); });
      else return fn([](T x, T y) { return std::pow(x, y); });
    case BinaryOp::kMaximum:
      if constexpr (kInt) return fn([](T x, T y) { return x > y ? x : y; });
      else return fn([](T x, T y) { return x != x ? x : y != y ? y : (x > y ? x : y); });
    case BinaryOp::kMinimum:
      if constexpr (kInt) return fn([](T x, T y) { return x < y ? x : y; });
      else return fn([](T x, T y) { return x != x ? x : y != y ? y : (x < y ? x : y); });
    case BinaryOp::kEq: return fn([](T x, T y) -> uint8_t { return x == y; });
    case BinaryOp::kNe: return fn([](T x, T y) -> uint8_t { return x != y; });
    case BinaryOp::kLt: return fn([](T x, T y) -> uint8_t { return x < y; });
    case BinaryOp::kLe: return fn([](T x, T y) -> uint8_t { return x <= y; });
    case BinaryOp::kGt: return fn([](T x, T y) -> uint8_t { return x > y; });
    case BinaryOp::kGe: return fn([](T x, T y) -> uint8_t { return x >= y; });
    case BinaryOp::kBitAnd:
      if constexpr (kInt) return fn([](T x, T y) { return x & y; });
      break;
    case BinaryOp::kBitOr:
      if constexpr (kInt) return fn([](T x, T y) { return x | y; });
      break;
    default: break;
  }
  CNNKIT_ASSERT(false, "binary kernel: op ", static_cast<int>(op), " not available for this dtype");
}

int64_t grain_of(BinaryOp op) { return op == BinaryOp::kPow ? kCostlyGrain : kCheapGrain; }

template <typename T>
void binary_typed(void* out, const T* a, const T* b, const Loop& L, BinaryOp op, T alpha) {
  with_binary_op<T>(op, alpha, [&](auto f) {
    using O = decltype(f(T(), T()));
    loop3(static_cast<O*>(out), a, b, L, f, grain_of(op));
  });
}

template <typename T>
void binary_scalar_typed(void* out, const T* a, T s, const Loop& L, BinaryOp op, bool scalar_first) {
  if constexpr (std::is_floating_point_v<T>) {
    // The exponents worth a faster (and as exact) formula than pow().
    if (op == BinaryOp::kPow && !scalar_first) {
      float* o = static_cast<float*>(out);
      if (s == 2) return loop2(o, a, L, [](T x) { return x * x; });
      if (s == 1) return loop2(o, a, L, [](T x) { return x; });
      if (s == 0.5f) return loop2(o, a, L, [](T x) { return std::sqrt(x); });
      if (s == -1) return loop2(o, a, L, [](T x) { return T(1) / x; });
    }
  }
  with_binary_op<T>(op, T(1), [&](auto f) {
    using O = decltype(f(T(), T()));
    if (scalar_first) loop2(static_cast<O*>(out), a, L, [f, s](T x) { return f(s, x); }, grain_of(op));
    else loop2(static_cast<O*>(out), a, L, [f, s](T x) { return f(x, s); }, grain_of(op));
  });
}

}  // namespace

void binary(void* out, const void* a, const void* b, const Loop& L, ScalarType t, BinaryOp op, double alpha) {
  if (op == BinaryOp::kLogicalAnd || op == BinaryOp::kLogicalOr) {
    CNNKIT_ASSERT(t == kBool || t == kByte, "logical op on ", t);
    auto* o = static_cast<uint8_t*>(out);
    auto* x = static_cast<const uint8_t*>(a);
    auto* y = static_cast<const uint8_t*>(b);
    if (op == BinaryOp::kLogicalAnd) loop3(o, x, y, L, [](uint8_t p, uint8_t q) -> uint8_t { return (p != 0) & (q != 0); });
    else loop3(o, x, y, L, [](uint8_t p, uint8_t q) -> uint8_t { return (p != 0) | (q != 0); });
    return;
  }
  switch (t) {
    case kFloat:
      binary_typed(out, static_cast<const float*>(a), static_cast<const float*>(b), L, op, static_cast<float>(alpha));
      break;
    case kLong:
      binary_typed(out, static_cast<const int64_t*>(a), static_cast<const int64_t*>(b), L, op,
                   static_cast<int64_t>(alpha));
      break;
    default: CNNKIT_ASSERT(false, "binary kernel: dtype ", t);
  }
}

void binary_scalar(void* out, const void* a, double s, const Loop& L, ScalarType t, BinaryOp op, bool scalar_first) {
  switch (t) {
    case kFloat:
      binary_scalar_typed(out, static_cast<const float*>(a), static_cast<float>(s), L, op, scalar_first);
      break;
    case kLong:
      binary_scalar_typed(out, static_cast<const int64_t*>(a), static_cast<int64_t>(s), L, op, scalar_first);
      break;
    default: CNNKIT_ASSERT(false, "binary_scalar kernel: dtype ", t);
  }
}

namespace {
template <typename T>
void unary_int(T* out, const T* a, const Loop& L, UnaryOp op) {
  switch (op) {
    case UnaryOp::kNeg: return loop2(out, a, L, [](T x) { return wrap_sub(0, x); });
    case UnaryOp::kAbs: return loop2(out, a, L, [](T x) { return x < 0 ? wrap_sub(0, x) : x; });
    case UnaryOp::kSign: return loop2(out, a, L, [](T x) { return static_cast<T>((x > 0) - (x < 0)); });
    case UnaryOp::kSquare: return loop2(out, a, L, [](T x) { return wrap_mul(x, x); });
    default: CNNKIT_ASSERT(false, "unary kernel: op ", static_cast<int>(op), " on int64");
  }
}

void unary_float(void* out_v, const float* a, const Loop& L, UnaryOp op) {
  float* out = static_cast<float*>(out_v);
  uint8_t* mask = static_cast<uint8_t*>(out_v);
  switch (op) {
    case UnaryOp::kNeg: return loop2(out, a, L, [](float x) { return -x; });
    case UnaryOp::kAbs: return loop2(out, a, L, [](float x) { return std::fabs(x); });
    // sign(NaN) = 0 as in PyTorch's CPU kernel.
    case UnaryOp::kSign: return loop2(out, a, L, [](float x) { return static_cast<float>((x > 0) - (x < 0)); });
    case UnaryOp::kSquare: return loop2(out, a, L, [](float x) { return x * x; });
    case UnaryOp::kExp: return loop2(out, a, L, [](float x) { return std::exp(x); }, kCostlyGrain);
    case UnaryOp::kLog: return loop2(out, a, L, [](float x) { return std::log(x); }, kCostlyGrain);
    case UnaryOp::kLog1p: return loop2(out, a, L, [](float x) { return std::log1p(x); }, kCostlyGrain);
    case UnaryOp::kErf: return loop2(out, a, L, [](float x) { return std::erf(x); }, kCostlyGrain);
    case UnaryOp::kSqrt: return loop2(out, a, L, [](float x) { return std::sqrt(x); });
    case UnaryOp::kRsqrt: return loop2(out, a, L, [](float x) { return 1.0f / std::sqrt(x); }, kCostlyGrain);
    case UnaryOp::kReciprocal: return loop2(out, a, L, [](float x) { return 1.0f / x; });
    case UnaryOp::kSin: return loop2(out, a, L, [](float x) { return std::sin(x); }, kCostlyGrain);
    case UnaryOp::kCos: return loop2(out, a, L, [](float x) { return std::cos(x); }, kCostlyGrain);
    case UnaryOp::kFloor: return loop2(out, a, L, [](float x) { return std::floor(x); });
    case UnaryOp::kCeil: return loop2(out, a, L, [](float x) { return std::ceil(x); });
    // Half to even, like torch.round.
    case UnaryOp::kRound: return loop2(out, a, L, [](float x) { return std::nearbyint(x); });
    case UnaryOp::kSigmoid: return loop2(out, a, L, [](float x) { return 1.0f / (1.0f + std::exp(-x)); }, kCostlyGrain);
    case UnaryOp::kTanh: return loop2(out, a, L, [](float x) { return std::tanh(x); }, kCostlyGrain);
    case UnaryOp::kRelu: return loop2(out, a, L, [](float x) { return x < 0 ? 0.0f : x; });
    case UnaryOp::kIsnan: return loop2(mask, a, L, [](float x) -> uint8_t { return x != x; });
    case UnaryOp::kIsinf: return loop2(mask, a, L, [](float x) -> uint8_t { return std::fabs(x) == INFINITY; });
    case UnaryOp::kIsfinite: return loop2(mask, a, L, [](float x) -> uint8_t { return std::isfinite(x); });
    default: CNNKIT_ASSERT(false, "unary kernel: op ", static_cast<int>(op), " on float32");
  }
}
}  // namespace

void unary(void* out, const void* a, const Loop& L, ScalarType t, UnaryOp op) {
  if (op == UnaryOp::kCopy) return convert_strided(out, t, a, t, L);
  if (op == UnaryOp::kLogicalNot) {
    CNNKIT_ASSERT(t == kBool || t == kByte, "logical_not kernel on ", t);
    return loop2(static_cast<uint8_t*>(out), static_cast<const uint8_t*>(a), L,
                 [](uint8_t x) -> uint8_t { return x == 0; });
  }
  switch (t) {
    case kFloat: return unary_float(out, static_cast<const float*>(a), L, op);
    case kLong: return unary_int(static_cast<int64_t*>(out), static_cast<const int64_t*>(a), L, op);
    default: CNNKIT_ASSERT(false, "unary kernel: dtype ", t);
  }
}

void clamp(void* out, const void* a, const Loop& L, ScalarType t, bool has_lo, double lo, bool has_hi, double hi) {
  auto run = [&](auto* o, const auto* x) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(o)>>;
    const T l = static_cast<T>(lo), h = static_cast<T>(hi);
    // (x < l ? l : x) keeps NaN inputs NaN, as torch.clamp does.
    if (has_lo && has_hi) loop2(o, x, L, [l, h](T v) { v = v < l ? l : v; return h < v ? h : v; });
    else if (has_lo) loop2(o, x, L, [l](T v) { return v < l ? l : v; });
    else if (has_hi) loop2(o, x, L, [h](T v) { return h < v ? h : v; });
    else loop2(o, x, L, [](T v) { return v; });
  };
  switch (t) {
    case kFloat: return run(static_cast<float*>(out), static_cast<const float*>(a));
    case kLong: return run(static_cast<int64_t*>(out), static_cast<const int64_t*>(a));
    default: CNNKIT_ASSERT(false, "clamp kernel: dtype ", t);
  }
}

void fill(void* out, const Loop& L, ScalarType t, double value) {
  auto run = [&](auto* o, auto v) {
    const int64_t so = L.strides[0][L.ndim - 1];
    for_each_row<1>(L, [&](const int64_t* off, int64_t n) {
      auto* p = o + off[0];
      if (so == 1) {
        for (int64_t i = 0; i < n; ++i) p[i] = v;
      } else {
        for (int64_t i = 0; i < n; ++i) p[i * so] = v;
      }
    });
  };
  switch (t) {
    case kFloat: return run(static_cast<float*>(out), static_cast<float>(value));
    case kLong: return run(static_cast<int64_t*>(out), static_cast<int64_t>(value));
    case kByte: return run(static_cast<uint8_t*>(out), static_cast<uint8_t>(static_cast<int64_t>(value)));
    case kBool: return run(static_cast<uint8_t*>(out), static_cast<uint8_t>(value != 0));
    default: CNNKIT_ASSERT(false, "fill kernel: dtype ", t);
  }
}

namespace {
template <typename Fn>
void with_typed(ScalarType t, void* p, const Fn& fn) {
  switch (t) {
    case kFloat: return fn(static_cast<float*>(p));
    case kLong: return fn(static_cast<int64_t*>(p));
    case kByte:
    case kBool: return fn(static_cast<uint8_t*>(p));
    default: CNNKIT_ASSERT(false, "kernel: dtype ", t);
  }
}
}  // namespace

void where(void* out, const uint8_t* cond, const void* a, const void* b, const Loop& L, ScalarType t) {
  with_typed(t, out, [&](auto* o) {
    using T = std::remove_pointer_t<decltype(o)>;
    loop4(o, cond, static_cast<const T*>(a), static_cast<const T*>(b), L,
          [](uint8_t c, T x, T y) { return c ? x : y; });
  });
}

void where_scalar(void* out, const uint8_t* cond, const void* a, double value, const Loop& L, ScalarType t,
                  bool value_if_true) {
  with_typed(t, out, [&](auto* o) {
    using T = std::remove_pointer_t<decltype(o)>;
    T v = t == kBool ? static_cast<T>(value != 0) : static_cast<T>(value);
    if constexpr (std::is_same_v<T, uint8_t>) {
      if (t == kByte) v = static_cast<uint8_t>(static_cast<int64_t>(value));
    }
    if (value_if_true) loop3(o, cond, static_cast<const T*>(a), L, [v](uint8_t c, T x) { return c ? v : x; });
    else loop3(o, cond, static_cast<const T*>(a), L, [v](uint8_t c, T x) { return c ? x : v; });
  });
}

void convert_strided(void* out, ScalarType dst_type, const void* a, ScalarType src_type, const Loop& L) {
  with_typed(dst_type, out, [&](auto* o) {
    using D = std::remove_pointer_t<decltype(o)>;
    with_typed(src_type, const_cast<void*>(a), [&](auto* x) {
      using S = std::remove_pointer_t<decltype(x)>;
      if (dst_type == kBool) {
        loop2(o, x, L, [](S v) { return static_cast<D>(v != S(0)); });
      } else if constexpr (std::is_same_v<D, uint8_t> && std::is_floating_point_v<S>) {
        // Through int64 so that negative floats wrap instead of being undefined.
        loop2(o, x, L, [](S v) { return static_cast<D>(static_cast<int64_t>(v)); });
      } else {
        loop2(o, x, L, [](S v) { return static_cast<D>(v); });
      }
    });
  });
}

void addcmul(float* out, const float* a, const float* t1, const float* t2, const Loop& L, float value) {
  loop4(out, a, t1, t2, L, [value](float x, float p, float q) { return x + value * p * q; });
}

void addcdiv(float* out, const float* a, const float* t1, const float* t2, const Loop& L, float value) {
  loop4(out, a, t1, t2, L, [value](float x, float p, float q) { return x + value * p / q; });
}

void lerp(float* out, const float* a, const float* end, const Loop& L, float w) {
  // PyTorch's two-sided formula: exact at w = 0 and w = 1.
  if (std::fabs(w) < 0.5f) loop3(out, a, end, L, [w](float x, float e) { return x + w * (e - x); });
  else loop3(out, a, end, L, [w](float x, float e) { return e - (e - x) * (1 - w); });
}

void sum_to(float* out, const float* g, const Loop& L) {
  const int64_t so = L.strides[0][L.ndim - 1], sg = L.strides[1][L.ndim - 1];
  // Serial: rows that reduce into the same output would race across threads.
  for_each_row<2, true>(L, [&](const int64_t* off, int64_t n) {
    float* o = out + off[0];
    const float* x = g + off[1];
    if (so == 0) {
      float acc = 0;
      if (sg == 1) {
        for (int64_t i = 0; i < n; ++i) acc += x[i];
      } else {
        for (int64_t i = 0; i < n; ++i) acc += x[i * sg];
      }
      o[0] += acc;
    } else if (so == 1 && sg == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] += x[i];
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * so] += x[i * sg];
    }
  });
}

// ---- relu, leaky relu, clip, elu's backward: loops ---------------------------------------
// What oneDNN 2.6 gets wrong at NaN (see kernels/elementwise.h). Each form is chosen so that
// NaN propagates as in PyTorch's vectorised kernels and the loop still vectorises to one
// compare + blend (or max) per 8 floats: `x < 0 ? 0 : x` is exactly vmaxps(0, x), which keeps
// a NaN x, where the obvious `x > 0 ? x : 0` would map it to 0.

namespace {
template <typename F>
void parallel_n(int64_t n, const F& f, int64_t grain = kCostlyGrain) {
  parallel_for(n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) f(i);
  });
}

// take ? a : b with both sides computed and blended bitwise. Under the default
// -ftrapping-math GCC 12 does not if-convert a `?:` with arithmetic in an arm (it may not
// speculate a multiply), so `x > 0 ? x : x * a` stays a scalar branch; this form vectorises
// to a compare and a blend.
inline float select(bool take, float a, float b) {
  const uint32_t m = 0u - static_cast<uint32_t>(take);
  return std::bit_cast<float>((std::bit_cast<uint32_t>(a) & m) | (std::bit_cast<uint32_t>(b) & ~m));
}

bool loop_forward(Eltwise alg) {
  return alg == Eltwise::kRelu || alg == Eltwise::kLeakyRelu || alg == Eltwise::kClip;
}
bool loop_backward(Eltwise alg) { return loop_forward(alg) || alg == Eltwise::kElu; }

// y = f(x) over n floats (y may be x).
void forward_loop(float* y, const float* x, int64_t n, Eltwise alg, float alpha, float beta) {
  switch (alg) {
    case Eltwise::kRelu:
      return parallel_n(n, [=](int64_t i) { y[i] = x[i] < 0.0f ? 0.0f : x[i]; }, kCheapGrain);
    case Eltwise::kLeakyRelu:  // -Inf * 0 = NaN for a zero slope, as torch.leaky_relu(x, 0)
      return parallel_n(n, [=](int64_t i) {
        const float v = x[i];
        y[i] = select(v > 0.0f, v, v * alpha);
      }, kCheapGrain);
    case Eltwise::kClip:  // torch.clamp's order: the lower bound first, NaN kept by both
      return parallel_n(n, [=](int64_t i) {
        const float v = x[i] < alpha ? alpha : x[i];
        y[i] = beta < v ? beta : v;
      }, kCheapGrain);
    default: CNNKIT_ASSERT(false, "eltwise loop: no forward loop for algorithm ", static_cast<int>(alg));
  }
}

// gx = f'(d) * gy, d being the forward's src, or its dst when use_dst. PyTorch's rules:
// relu passes the gradient unless d <= 0 (NaN passes), leaky relu scales it unless d > 0,
// clip passes it strictly inside (alpha, beta) (not at NaN), elu's is NaN at NaN.
void backward_loop(float* gx, const float* gy, const float* d, int64_t n, Eltwise alg, float alpha, float beta,
                   bool use_dst) {
  switch (alg) {
    case Eltwise::kRelu:
      // gy[i] loaded outside the ?: (else GCC uses masked loads, 1.5x slower than oneDNN).
      return parallel_n(n, [=](int64_t i) {
        const float g = gy[i];
        gx[i] = d[i] <= 0.0f ? 0.0f : g;
      }, kCheapGrain);
    case Eltwise::kLeakyRelu:
      return parallel_n(n, [=](int64_t i) { gx[i] = select(d[i] > 0.0f, gy[i], gy[i] * alpha); }, kCheapGrain);
    case Eltwise::kClip:
      return parallel_n(n, [=](int64_t i) {
        const float g = gy[i];
        gx[i] = (d[i] > alpha) & (d[i] < beta) ? g : 0.0f;
      }, kCheapGrain);
    case Eltwise::kElu:
      // From dst: alpha * exp(x) = y + alpha on the negative side (alpha >= 0).
      if (use_dst)
        return parallel_n(n, [=](int64_t i) { gx[i] = select(d[i] > 0.0f, gy[i], gy[i] * (d[i] + alpha)); },
                          kCheapGrain);
      return parallel_n(n, [=](int64_t i) { gx[i] = d[i] > 0.0f ? gy[i] : gy[i] * alpha * std::exp(d[i]); });
    default: CNNKIT_ASSERT(false, "eltwise loop: no backward loop for algorithm ", static_cast<int>(alg));
  }
}

// oneDNN's mish gradient at x = +Inf is +-Inf; PyTorch's formula gives Inf * 0 = NaN there.
void mish_backward_fixup(float* gx, const float* x, int64_t n) {
  parallel_n(n, [=](int64_t i) {
    const float g = gx[i];
    gx[i] = x[i] == INFINITY ? NAN : g;
  }, kCheapGrain);
}
}  // namespace

// ---- oneDNN eltwise -------------------------------------------------------------------

namespace {
using dnnl::algorithm;

algorithm to_dnnl(Eltwise alg, bool use_dst) {
  switch (alg) {
#define CNNKIT_ELTWISE_CASE(name, plain, from_dst, log_name) \
  case Eltwise::name: return use_dst ? algorithm::from_dst : algorithm::plain;
    CNNKIT_ELTWISE_ALGORITHMS(CNNKIT_ELTWISE_CASE)
#undef CNNKIT_ELTWISE_CASE
  }
  return algorithm::eltwise_relu;
}

int64_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

// Primitive plus reusable memory objects: wrapping pointers in fresh dnnl::memory objects
// costs more than running a small primitive, so the first caller in a thread re-points the
// cached ones; a concurrent caller (lock taken) makes its own.
struct EltwiseFwd {
  dnnl::memory::desc md;
  dnnl::eltwise_forward::primitive_desc pd;
  dnnl::eltwise_forward prim;
  std::unique_ptr<std::mutex> lock = std::make_unique<std::mutex>();
  dnnl::memory src{md, onednn::engine(), DNNL_MEMORY_NONE}, dst{md, onednn::engine(), DNNL_MEMORY_NONE};
};
struct EltwiseBwd {
  dnnl::memory::desc md;
  dnnl::eltwise_backward prim;
  std::unique_ptr<std::mutex> lock = std::make_unique<std::mutex>();
  dnnl::memory data{md, onednn::engine(), DNNL_MEMORY_NONE}, diff_dst{md, onednn::engine(), DNNL_MEMORY_NONE},
      diff_src{md, onednn::engine(), DNNL_MEMORY_NONE};
};

EltwiseFwd make_fwd(algorithm a, int64_t n, float alpha, float beta) {
  dnnl::memory::desc md({n}, onednn::dt::f32, onednn::tag::a);
  dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_training, a, md, alpha, beta);
  dnnl::eltwise_forward::primitive_desc pd(d, onednn::engine());
  onednn::log_impl("eltwise_forward", pd.impl_info_str());
  return EltwiseFwd{md, pd, dnnl::eltwise_forward(pd)};
}

// Below the grain size the primitive runs on the calling thread alone (onednn::SerialScope).
bool small_work(int64_t n, Eltwise alg) {
  return n < (alg == Eltwise::kRelu || alg == Eltwise::kClip ? kCheapGrain : kCostlyGrain);
}
}  // namespace

void eltwise_forward(float* dst, const float* src, int64_t n, Eltwise alg, float alpha, float beta) {
  if (n == 0) return;
  if (loop_forward(alg)) return forward_loop(dst, src, n, alg, alpha, beta);
  const algorithm a = to_dnnl(alg, false);
  auto& f = onednn::cached<EltwiseFwd>(onednn::Key("eltwise_fwd") << static_cast<int64_t>(a) << n
                                           << float_bits(alpha) << float_bits(beta),
                                       [&] { return make_fwd(a, n, alpha, beta); });
  onednn::SerialScope scope(small_work(n, alg));
  std::unique_lock<std::mutex> lock(*f.lock, std::try_to_lock);
  if (lock.owns_lock()) {
    f.src.set_data_handle(const_cast<float*>(src));
    f.dst.set_data_handle(dst);
    f.prim.execute(onednn::stream(), {{DNNL_ARG_SRC, f.src}, {DNNL_ARG_DST, f.dst}});
  } else {
    dnnl::memory s = onednn::wrap(f.md, src), d = onednn::wrap(f.md, dst);
    f.prim.execute(onednn::stream(), {{DNNL_ARG_SRC, s}, {DNNL_ARG_DST, d}});
  }
}

void eltwise_backward(float* diff_src, const float* diff_dst, const float* data, int64_t n, Eltwise alg,
                      float alpha, float beta, bool use_dst) {
  if (n == 0) return;
  if (loop_backward(alg)) return backward_loop(diff_src, diff_dst, data, n, alg, alpha, beta, use_dst);
  const algorithm a = to_dnnl(alg, use_dst);
  auto& b = onednn::cached<EltwiseBwd>(
      onednn::Key("eltwise_bwd") << static_cast<int64_t>(a) << n << float_bits(alpha) << float_bits(beta),
      [&] {
        EltwiseFwd hint = make_fwd(a, n, alpha, beta);
        dnnl::eltwise_backward::desc d(a, hint.md, hint.md, alpha, beta);
        dnnl::eltwise_backward::primitive_desc pd(d, onednn::engine(), hint.pd);
        onednn::log_impl("eltwise_backward", pd.impl_info_str());
        return EltwiseBwd{hint.md, dnnl::eltwise_backward(pd)};
      });
  const int data_arg = use_dst ? DNNL_ARG_DST : DNNL_ARG_SRC;
  onednn::SerialScope scope(small_work(n, alg));
  std::unique_lock<std::mutex> lock(*b.lock, std::try_to_lock);
  if (lock.owns_lock()) {
    b.data.set_data_handle(const_cast<float*>(data));
    b.diff_dst.set_data_handle(const_cast<float*>(diff_dst));
    b.diff_src.set_data_handle(diff_src);
    b.prim.execute(onednn::stream(), {{data_arg, b.data}, {DNNL_ARG_DIFF_DST, b.diff_dst}, {DNNL_ARG_DIFF_SRC, b.diff_src}});
  } else {
    dnnl::memory x = onednn::wrap(b.md, data), gy = onednn::wrap(b.md, diff_dst), gx = onednn::wrap(b.md, diff_src);
    b.prim.execute(onednn::stream(), {{data_arg, x}, {DNNL_ARG_DIFF_DST, gy}, {DNNL_ARG_DIFF_SRC, gx}});
  }
  if (alg == Eltwise::kMish) mish_backward_fixup(diff_src, data, n);
}

// ---- oneDNN eltwise on kept layouts ----------------------------------------------------------
// The primitive is created for the layout itself, so channel padding (C not a multiple of the
// block) stays as oneDNN's other primitives expect it.

namespace {
struct EltwiseLayoutFwd {
  dnnl::eltwise_forward::primitive_desc pd;
  dnnl::eltwise_forward prim;
};
EltwiseLayoutFwd& layout_fwd(algorithm a, const dnnl::memory::desc& md, float alpha, float beta) {
  return onednn::cached<EltwiseLayoutFwd>(
      onednn::Key("eltwise_fwd_layout") << static_cast<int64_t>(a) << md << float_bits(alpha)
                                        << float_bits(beta),
      [&] {
        dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_training, a, md, alpha, beta);
        dnnl::eltwise_forward::primitive_desc pd(d, onednn::engine());
        onednn::log_impl("eltwise_forward (kept layout)", pd.impl_info_str());
        return EltwiseLayoutFwd{pd, dnnl::eltwise_forward(pd)};
      });
}
struct EltwiseLayoutBwd {
  dnnl::eltwise_backward::primitive_desc pd;
  dnnl::eltwise_backward prim;
};
EltwiseLayoutBwd& layout_bwd(algorithm a, const dnnl::memory::desc& md, float alpha, float beta) {
  return onednn::cached<EltwiseLayoutBwd>(
      onednn::Key("eltwise_bwd_layout") << static_cast<int64_t>(a) << md << float_bits(alpha)
                                        << float_bits(beta),
      [&] {
        EltwiseLayoutFwd& hint = layout_fwd(a, md, alpha, beta);
        dnnl::eltwise_backward::desc d(a, md, md, alpha, beta);
        dnnl::eltwise_backward::primitive_desc pd(d, onednn::engine(), hint.pd);
        onednn::log_impl("eltwise_backward (kept layout)", pd.impl_info_str());
        return EltwiseLayoutBwd{pd, dnnl::eltwise_backward(pd)};
      });
}
int64_t logical_numel(const dnnl::memory::desc& md) {
  int64_t n = 1;
  for (int64_t d : md.dims()) n *= d;
  return n;
}
// Floats in a layout's buffer, channel padding included: the loops run over all of them.
int64_t buffer_numel(const dnnl::memory::desc& md) { return static_cast<int64_t>(md.get_size() / sizeof(float)); }
bool has_padding(const dnnl::memory::desc& md) {
  for (int i = 0; i < md.data.ndims; ++i)
    if (md.data.padded_dims[i] != md.data.dims[i]) return true;
  return false;
}
bool is_reference(const char* impl) { return std::strncmp(impl, "ref", 3) == 0; }
const char* name_of(Eltwise alg) {
  switch (alg) {
#define CNNKIT_ELTWISE_CASE(name, plain, from_dst, log_name) \
  case Eltwise::name: return #log_name;
    CNNKIT_ELTWISE_ALGORITHMS(CNNKIT_ELTWISE_CASE)
#undef CNNKIT_ELTWISE_CASE
  }
  return "?";
}
// Per-thread grow-only scratch for a gradient reordered into the data's layout.
void* layout_scratch(size_t bytes) {
  thread_local std::unique_ptr<Storage> buf;
  return onednn::grow_scratch(buf, bytes);
}
}  // namespace

bool eltwise_layout_ok(const onednn::Layout& layout, Eltwise alg, float alpha, float beta, bool use_dst) {
  const dnnl::memory::desc& md = layout.desc();
  return onednn::cached<bool>(
      onednn::Key("eltwise_layout_ok") << static_cast<int64_t>(alg) << md << float_bits(alpha)
                                       << float_bits(beta) << int64_t{use_dst},
      [&] {
        bool ok = true;
        const char* why = "oneDNN JIT kernels";
        if (loop_forward(alg)) {
          // Padding holds zeros that later primitives rely on: only a loop with f(0) = 0 may
          // run over it.
          float zero = 0.0f, f0;
          forward_loop(&f0, &zero, 1, alg, alpha, beta);
          ok = f0 == 0.0f || !has_padding(md);
          why = ok ? "loops over the layout" : "f(0) != 0 would fill the channel padding";
        } else if (is_reference(layout_fwd(to_dnnl(alg, false), md, alpha, beta).pd.impl_info_str())) {
          ok = false;
          why = "oneDNN has only its reference forward for this layout";
        } else if (!loop_backward(alg) &&
                   is_reference(layout_bwd(to_dnnl(alg, use_dst), md, alpha, beta).pd.impl_info_str())) {
          ok = false;
          why = "oneDNN has only its reference backward for this layout";
        }
        if (onednn::verbose())
          std::fprintf(stderr, "cnnkit: eltwise %s on a kept layout -> %s (%s)\n", name_of(alg),
                       ok ? "kept" : "plain NCHW", why);
        return ok;
      });
}

void eltwise_forward(onednn::LayoutPtr* dst, const onednn::Layout& src, Eltwise alg, float alpha,
                     float beta) {
  const dnnl::memory::desc& md = src.desc();
  *dst = std::make_shared<onednn::Layout>(md);
  if (loop_forward(alg)) return forward_loop((*dst)->data(), src.data(), buffer_numel(md), alg, alpha, beta);
  EltwiseLayoutFwd& f = layout_fwd(to_dnnl(alg, false), md, alpha, beta);
  onednn::SerialScope scope(small_work(logical_numel(md), alg));
  f.prim.execute(onednn::stream(), {{DNNL_ARG_SRC, src.memory()}, {DNNL_ARG_DST, (*dst)->memory()}});
}

void eltwise_backward(onednn::LayoutPtr* diff_src, const onednn::Operand& diff_dst,
                      const onednn::Layout& data, Eltwise alg, float alpha, float beta,
                      bool use_dst) {
  const dnnl::memory::desc& md = data.desc();
  const dnnl::memory::desc plain(md.dims(), onednn::dt::f32, onednn::tag::nchw);
  dnnl::memory dd = onednn::as_layout(diff_dst, plain, md, layout_scratch(md.get_size()));
  *diff_src = std::make_shared<onednn::Layout>(md);
  if (loop_backward(alg))
    return backward_loop((*diff_src)->data(), static_cast<const float*>(dd.get_data_handle()), data.data(),
                         buffer_numel(md), alg, alpha, beta, use_dst);
  EltwiseLayoutBwd& b = layout_bwd(to_dnnl(alg, use_dst), md, alpha, beta);
  onednn::SerialScope scope(small_work(logical_numel(md), alg));
  b.prim.execute(onednn::stream(), {{use_dst ? DNNL_ARG_DST : DNNL_ARG_SRC, data.memory()},
                                    {DNNL_ARG_DIFF_DST, dd},
                                    {DNNL_ARG_DIFF_SRC, (*diff_src)->memory()}});
  if (alg == Eltwise::kMish) mish_backward_fixup((*diff_src)->data(), data.data(), buffer_numel(md));
}

void add_contiguous(float* out, const float* a, const float* b, int64_t n, float alpha) {
  parallel_for(n, kCheapGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = a[i] + alpha * b[i];
  });
}

// ---- plain activation loops -------------------------------------------------------------

namespace {
constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;
constexpr float kSeluScale = 1.0507009873554804934193349852946f;
}  // namespace

void selu_forward(float* y, const float* x, int64_t n) {
  parallel_n(n, [=](int64_t i) {
    const float v = x[i];
    y[i] = v <= 0 ? (std::exp(v) - 1) * (kSeluAlpha * kSeluScale) : v * kSeluScale;
  });
}

void selu_backward(float* gx, const float* gy, const float* y, int64_t n) {
  parallel_n(n, [=](int64_t i) {
    // PyTorch's elu_backward test (y > 0, so NaN takes the exponential side: NaN).
    gx[i] = select(y[i] > 0, gy[i] * kSeluScale, gy[i] * (y[i] + kSeluAlpha * kSeluScale));
  });
}

void hardswish_backward(float* gx, const float* gy, const float* x, int64_t n) {
  parallel_n(n, [=](int64_t i) {
    const float v = x[i];
    // The middle branch last, so NaN lands there (NaN, as PyTorch's vectorised kernel).
    gx[i] = select(v < -3.0f, 0.0f, select(v > 3.0f, gy[i], gy[i] * (v / 3.0f + 0.5f)));
  });
}

void hardsigmoid_forward(float* y, const float* x, int64_t n) {
  parallel_n(n, [=](int64_t i) { y[i] = std::min(std::max(x[i] + 3.0f, 0.0f), 6.0f) / 6.0f; }, kCheapGrain);
}

void hardsigmoid_backward(float* gx, const float* gy, const float* x, int64_t n) {
  parallel_n(n, [=](int64_t i) { gx[i] = (x[i] > -3.0f && x[i] < 3.0f) ? gy[i] / 6.0f : 0.0f; }, kCheapGrain);
}

void softplus_forward(float* y, const float* x, int64_t n, float beta, float threshold) {
  parallel_n(n, [=](int64_t i) {
    const float bx = x[i] * beta;
    y[i] = bx > threshold ? x[i] : std::log1p(std::exp(bx)) / beta;
  });
}

void softplus_backward(float* gx, const float* gy, const float* x, int64_t n, float beta, float threshold) {
  parallel_n(n, [=](int64_t i) {
    const float bx = x[i] * beta;
    const float z = std::exp(bx);
    gx[i] = bx > threshold ? gy[i] : gy[i] * z / (z + 1.0f);
  });
}

void prelu_forward(float* y, const float* x, const float* w, int64_t outer, int64_t C, int64_t inner) {
  parallel_for(outer * C, std::max<int64_t>(1, kCheapGrain / std::max<int64_t>(inner, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float a = w[r % C];
      const float* xr = x + r * inner;
      float* yr = y + r * inner;
      for (int64_t i = 0; i < inner; ++i) {
        const float v = xr[i];
        yr[i] = select(v > 0, v, a * v);
      }
    }
  });
}

void prelu_backward(float* gx, float* gw, const float* gy, const float* x, const float* w, int64_t outer,
                    int64_t C, int64_t inner) {
  if (gx) {
    parallel_for(outer * C, std::max<int64_t>(1, kCheapGrain / std::max<int64_t>(inner, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const float a = w[r % C];
        const float* xr = x + r * inner;
        const float* gr = gy + r * inner;
        float* out = gx + r * inner;
        for (int64_t i = 0; i < inner; ++i) {
          const float g = gr[i];
          out[i] = select(xr[i] > 0, g, a * g);
        }
      }
    });
  }
  if (gw) {
    // Serial over rows so that channels never race; the inner loop vectorises.
    for (int64_t c = 0; c < C; ++c) gw[c] = 0;
    for (int64_t r = 0; r < outer * C; ++r) {
      const float* xr = x + r * inner;
      const float* gr = gy + r * inner;
      float acc = 0;
      for (int64_t i = 0; i < inner; ++i) acc += xr[i] > 0 ? 0.0f : xr[i] * gr[i];
      gw[r % C] += acc;
    }
  }
}

}  // namespace cnnkit::kernels
