// Matrix products (mm, bmm, matmul with torch's 1-d and broadcast-batch rules, addmm) and
// linear (x W^T + b with the bias fused into the GEMM), forward and backward side by side.
// Everything runs through kernels::sgemm* (kernels/gemm.h), which picks OpenBLAS or oneDNN
// per shape; operands whose last two dims are row-major or transposed (t(), transpose
// views, the W^T of linear and every backward product) are passed as strides, not copied.
// lstsq (torch.linalg.lstsq's gels driver, no gradient) calls LAPACK through kernels::sgels.
// Not here: integer matrix products (float32 only) and higher-order gradients.
#include "cnnkit/ops/linalg.h"

#include <cstring>
#include <sstream>
#include <vector>

#include "autograd/record.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/ops/elementwise.h"
#include "kernels/copy.h"
#include "kernels/gemm.h"
#include "kernels/reduce.h"
#include "cnnkit/ops/reduce.h"

namespace cnnkit {

namespace {

using autograd::needs_grad;
using autograd::record;
using autograd::GradMode;
using autograd::detail::record_differentiable;
using autograd::detail::save_input;

// Shapes: m, k, n as in (m, k) x (k, n) -> (m, n); `batch` = product of leading dims.

Tensor contiguous_copy(const Tensor& a) {
  Tensor out = empty(a.sizes(), a.dtype());
  kernels::copy_strided(out.data_ptr(), a.data_ptr(), a.element_size(), a.sizes(), a.strides());
  return out;
}

// The last two dims of a tensor as a BLAS operand: row-major with leading dimension ld, or
// transposed (column-major) with ld; anything else is copied to row-major first.
struct Operand {
  Tensor keep;  // owns the memory (the input itself or a copy)
  bool trans = false;
  int64_t ld = 1;
};

Operand operand(const Tensor& t) {
  const int64_t nd = t.dim();
  const int64_t rows = t.size(nd - 2), cols = t.size(nd - 1);
  const int64_t rs = t.stride(nd - 2), cs = t.stride(nd - 1);
  if ((cs == 1 || cols == 1) && rs >= std::max<int64_t>(1, cols)) return {t, false, rs};
  if ((rs == 1 || rows == 1) && cs >= std::max<int64_t>(1, rows)) return {t, true, cs};
  Tensor c = contiguous_copy(t);
  return {c, false, std::max<int64_t>(1, cols)};
}

// The single stride between consecutive matrices over the batch dims [0, nb), or -1 when
// the batch dims cannot be walked with one stride. Size-1 dims are free; all-broadcast is 0.
int64_t batch_stride(const Tensor& t, int64_t nb) {
  int64_t stride = -1, span = 1;  // span: matrices covered by the dims inside d
  for (int64_t d = nb - 1; d >= 0; --d) {
    const int64_t s = t.size(d);
    if (s == 1) continue;
    if (stride == -1) stride = t.stride(d);
    else if (t.stride(d) != stride * span) return -1;
    span *= s;
  }
  return stride == -1 ? 0 : stride;
}

// Product of all sizes but the last: the row count of a (*, k) tensor seen as a matrix.
int64_t rows_of(const Tensor& t) {
  int64_t r = 1;
  for (int64_t d = 0; d + 1 < t.dim(); ++d) r *= t.size(d);
  return r;
}

void check_float(const Tensor& t, const char* op, const char* arg) {
  CNNKIT_CHECK_TYPE(t.dtype() == kFloat, op, ": expected float32 for ", arg, ", got ", t.dtype());
}

std::string mat_shape(const Tensor& t) {
  std::ostringstream s;
  s << t.size(-2) << "x" << t.size(-1);
  return s.str();
}

// out (m, n), contiguous = alpha * a (m, k) b (k, n) + beta * out. No autograd.
void gemm_into(Tensor& out, const Tensor& a, const Tensor& b, float alpha = 1.0f, float beta = 0.0f) {
  Operand A = operand(a), B = operand(b);
  kernels::sgemm(A.trans, B.trans, a.size(0), b.size(1), a.size(1), alpha, A.keep.data_ptr<float>(), A.ld,
                 B.keep.data_ptr<float>(), B.ld, beta, out.data_ptr<float>(), std::max<int64_t>(1, b.size(1)));
}

Tensor mm_raw(const Tensor& a, const Tensor& b, float alpha = 1.0f) {
  Tensor out = empty({a.size(0), b.size(1)}, kFloat);
  gemm_into(out, a, b, alpha);
  return out;
}

std::vector<int64_t> broadcast_batch(IntArrayRef a, IntArrayRef b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
    CNNKIT_CHECK_SHAPE(x == y || x == 1 || y == 1, op, ": the batch dims ", a, " and ", b,
                       " cannot be broadcast (size ", x, " vs ", y, " at batch dim ", i, ")");
    out[i] = std::max(x, y);
  }
  return out;
}

// (batch..., m, k) x (batch..., k, n) with broadcast batch dims -> contiguous (batch..., m, n).
Tensor batched_raw(const Tensor& a_in, const Tensor& b_in) {
  Tensor a = a_in.detach(), b = b_in.detach();  // the views below must not record history
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  std::vector<int64_t> batch = broadcast_batch(a.sizes().slice(0, a.dim() - 2), b.sizes().slice(0, b.dim() - 2),
                                               "matmul");
  const int64_t nb = static_cast<int64_t>(batch.size());
  int64_t count = 1;
  for (int64_t s : batch) count *= s;
  std::vector<int64_t> out_sizes = batch;
  out_sizes.insert(out_sizes.end(), {m, n});
  Tensor out = empty(out_sizes, kFloat);
  if (out.numel() == 0) return out;
  // A batch of row-major A's against one B is a single (batch*m, k) x (k, n) product.
  if (b.dim() == 2 && a.is_contiguous()) {
    Tensor flat = a.reshape({count * m, k});
    Tensor o2 = out.reshape({count * m, n});
    gemm_into(o2, flat, b);
    return out;
  }
  std::vector<int64_t> ea = batch, eb = batch;
  ea.insert(ea.end(), {m, k});
  eb.insert(eb.end(), {k, n});
  Tensor ax = a.expand(ea), bx = b.expand(eb);
  int64_t sa = batch_stride(ax, nb), sb = batch_stride(bx, nb);
  if (sa < 0) {
    ax = contiguous_copy(ax);
    sa = m * k;
  }
  if (sb < 0) {
    bx = contiguous_copy(bx);
    sb = k * n;
  }
  Operand A = operand(ax), B = operand(bx);
  kernels::sgemm_batched(count, A.trans, B.trans, m, n, k, 1.0f, A.keep.data_ptr<float>(), A.ld, sa,
                         B.keep.data_ptr<float>(), B.ld, sb, 0.0f, out.data_ptr<float>(), n, m * n);
  return out;
}

// Sums a gradient of `full` shape down to `shape` (leading dims, then broadcast size-1 dims).
Tensor reduce_to(const Tensor& g, IntArrayRef shape) {
  const int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < g.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && g.size(d) != 1)) dims.push_back(d);
  if (dims.empty()) return g.reshape(shape);
  return cnnkit::sum(g, dims, /*keepdim=*/true).reshape(shape);
}

Tensor transpose_last(const Tensor& t) { return t.transpose(-1, -2); }

// Batched product with autograd (both inputs at least 2-d).
Tensor batched_matmul(const Tensor& a, const Tensor& b, const char* op) {
  CNNKIT_CHECK_SHAPE(a.size(-1) == b.size(-2), op, ": mat1 and mat2 shapes cannot be multiplied (", mat_shape(a),
                     " and ", mat_shape(b), "; full shapes ", a.sizes(), " and ", b.sizes(), ")");
  Tensor out = batched_raw(a, b);
  if (needs_grad({a, b})) {
    const bool need_a = a.requires_grad(), need_b = b.requires_grad();
    record_differentiable("MatmulBackward", {a, b}, {out}, [ad = save_input(a), bd = save_input(b), need_a, need_b](const TensorList& g) {
      Tensor ga, gb;
      if (GradMode::is_enabled()) {  // the same products, recorded
        if (need_a) ga = sum_to(matmul(g[0], bd.transpose(-2, -1)), ad.sizes());
        if (need_b) gb = sum_to(matmul(ad.transpose(-2, -1), g[0]), bd.sizes());
        return TensorList{ga, gb};
      }
      if (need_a) ga = reduce_to(batched_raw(g[0], transpose_last(bd)), ad.sizes());
      if (need_b) {
        if (bd.dim() == 2 && ad.is_contiguous()) {
          // dB = sum over the batch of A^T g = (A as rows)^T (g as rows): one GEMM.
          const int64_t k = ad.size(-1), n = bd.size(-1);
          Tensor a2 = ad.reshape({rows_of(ad), k});
          Tensor g2 = g[0].reshape({rows_of(ad), n});
          gb = mm_raw(a2.t(), g2);
        } else {
          gb = reduce_to(batched_raw(transpose_last(ad), g[0]), bd.sizes());
        }
      }
      return TensorList{ga, gb};
    });
  }
  return out;
}

}  // namespace

// ---- mm ---------------------------------------------------------------------------------------
Tensor mm(const Tensor& a, const Tensor& b) {
  CNNKIT_CHECK_SHAPE(a.dim() == 2, "mm: self must be a matrix (2-d), got ", a.dim(), " dims ", a.sizes());
  CNNKIT_CHECK_SHAPE(b.dim() == 2, "mm: mat2 must be a matrix (2-d), got ", b.dim(), " dims ", b.sizes());
  check_float(a, "mm", "self");
  check_float(b, "mm", "mat2");
  CNNKIT_CHECK_SHAPE(a.size(1) == b.size(0), "mat1 and mat2 shapes cannot be multiplied (", mat_shape(a), " and ",
                     mat_shape(b), ")");
  Tensor out = mm_raw(a, b);
  if (needs_grad({a, b})) {
    const bool need_a = a.requires_grad(), need_b = b.requires_grad();
    record_differentiable("MmBackward", {a, b}, {out}, [ad = save_input(a), bd = save_input(b), need_a, need_b](const TensorList& g) {
      if (GradMode::is_enabled())
        return TensorList{need_a ? mm(g[0], bd.t()) : Tensor(), need_b ? mm(ad.t(), g[0]) : Tensor()};
      // dA = g B^T, dB = A^T g: transposes are strides, not copies.
      return TensorList{need_a ? mm_raw(g[0], bd.t()) : Tensor(), need_b ? mm_raw(ad.t(), g[0]) : Tensor()};
    });
  }
  return out;
}

// ---- bmm --------------------------------------------------------------------------------------
Tensor bmm(const Tensor& a, const Tensor& b) {
  CNNKIT_CHECK_SHAPE(a.dim() == 3, "bmm: batch1 must be a 3D tensor, got ", a.sizes());
  CNNKIT_CHECK_SHAPE(b.dim() == 3, "bmm: batch2 must be a 3D tensor, got ", b.sizes());
  check_float(a, "bmm", "batch1");
  check_float(b, "bmm", "batch2");
  CNNKIT_CHECK_SHAPE(b.size(0) == a.size(0) && b.size(1) == a.size(2), "bmm: Expected size for first two dimensions "
                     "of batch2 tensor to be: [", a.size(0), ", ", a.size(2), "] but got: [", b.size(0), ", ",
                     b.size(1), "].");
  return batched_matmul(a, b, "bmm");
}

// ---- matmul -----------------------------------------------------------------------------------
Tensor matmul(const Tensor& a, const Tensor& b) {
  const int64_t da = a.dim(), db = b.dim();
  CNNKIT_CHECK_SHAPE(da >= 1 && db >= 1, "both arguments to matmul need to be at least 1D, but they are ", da,
                     "D and ", db, "D");
  check_float(a, "matmul", "self");
  check_float(b, "matmul", "other");
  if (da == 1 && db == 1) {
    CNNKIT_CHECK_SHAPE(a.size(0) == b.size(0), "inconsistent tensor size, expected tensor [", a.size(0),
                       "] and src [", b.size(0), "] to have the same number of elements, but got ", a.size(0),
                       " and ", b.size(0), " elements respectively");
    return mm(a.unsqueeze(0), b.unsqueeze(1)).reshape({});
  }
  if (da == 2 && db == 1) {
    CNNKIT_CHECK_SHAPE(a.size(1) == b.size(0), "size mismatch, got input (", a.size(0), "), mat (", mat_shape(a),
                       "), vec (", b.size(0), ")");
    return mm(a, b.unsqueeze(1)).squeeze(1);
  }
  if (da == 1 && db == 2) {
    CNNKIT_CHECK_SHAPE(a.size(0) == b.size(0), "mat1 and mat2 shapes cannot be multiplied (1x", a.size(0), " and ",
                       mat_shape(b), ")");
    return mm(a.unsqueeze(0), b).squeeze(0);
  }
  if (da == 2 && db == 2) return mm(a, b);
  // Batched: a 1-d operand becomes a matrix whose added dim is removed from the result.
  Tensor a2 = da == 1 ? a.unsqueeze(0) : a;
  Tensor b2 = db == 1 ? b.unsqueeze(1) : b;
  Tensor out = batched_matmul(a2, b2, "matmul");
  if (da == 1) out = out.squeeze(-2);
  if (db == 1) out = out.squeeze(-1);
  return out;
}

// ---- addmm ------------------------------------------------------------------------------------
Tensor addmm(const Tensor& bias, const Tensor& a, const Tensor& b, double beta, double alpha) {
  CNNKIT_CHECK_SHAPE(a.dim() == 2 && b.dim() == 2, "addmm: mat1 and mat2 must be matrices, got ", a.sizes(), " and ",
                     b.sizes());
  check_float(a, "addmm", "mat1");
  check_float(b, "addmm", "mat2");
  check_float(bias, "addmm", "self");
  CNNKIT_CHECK_SHAPE(a.size(1) == b.size(0), "mat1 and mat2 shapes cannot be multiplied (", mat_shape(a), " and ",
                     mat_shape(b), ")");
  const int64_t m = a.size(0), n = b.size(1);
  Tensor out = empty({m, n}, kFloat);
  float beta_f = static_cast<float>(beta);
  if (beta != 0) {
    Tensor bx = bias.detach().expand({m, n});  // ShapeError if bias does not broadcast to (m, n)
    kernels::copy_strided(out.data_ptr(), bx.data_ptr(), sizeof(float), bx.sizes(), bx.strides());
  }
  gemm_into(out, a, b, static_cast<float>(alpha), beta == 0 ? 0.0f : beta_f);
  if (needs_grad({bias, a, b})) {
    const bool need_c = bias.requires_grad() && beta != 0, need_a = a.requires_grad(), need_b = b.requires_grad();
    record_differentiable("AddmmBackward", {bias, a, b}, {out},
           [cs = bias.sizes().vec(), ad = save_input(a), bd = save_input(b), need_c, need_a, need_b, beta_f,
            alpha_f = static_cast<float>(alpha)](const TensorList& g) {
             Tensor gc, ga, gb;
             if (GradMode::is_enabled()) {
               if (need_c) gc = mul(sum_to(g[0], cs), static_cast<double>(beta_f));
               if (need_a) ga = mul(mm(g[0], bd.t()), static_cast<double>(alpha_f));
               if (need_b) gb = mul(mm(ad.t(), g[0]), static_cast<double>(alpha_f));
               return TensorList{gc, ga, gb};
             }
             if (need_c) {
               gc = reduce_to(g[0], cs);
               if (beta_f != 1.0f) {
                 gc = contiguous_copy(gc);
                 kernels::scale(gc.data_ptr<float>(), gc.numel(), beta_f);
               }
             }
             if (need_a) ga = mm_raw(g[0], bd.t(), alpha_f);
             if (need_b) gb = mm_raw(ad.t(), g[0], alpha_f);
             return TensorList{gc, ga, gb};
           });
  }
  return out;
}

// ---- linear -----------------------------------------------------------------------------------
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  CNNKIT_CHECK_SHAPE(weight.dim() == 2, "linear: weight must be 2-d (out_features, in_features), got ", weight.sizes());
  CNNKIT_CHECK_SHAPE(x.dim() >= 1, "linear: input must have at least 1 dim (*, in_features), got a 0-dim tensor");
  check_float(x, "linear", "input");
  check_float(weight, "linear", "weight");
  const int64_t in = weight.size(1), out_f = weight.size(0);
  CNNKIT_CHECK_SHAPE(x.size(-1) == in, "linear: mat1 and mat2 shapes cannot be multiplied (",
                     x.numel() / std::max<int64_t>(1, x.size(-1)), "x", x.size(-1), " and ", in, "x", out_f,
                     "): input ", x.sizes(), " has ", x.size(-1), " features, weight ", weight.sizes(), " expects ", in);
  if (bias.defined()) {
    check_float(bias, "linear", "bias");
    CNNKIT_CHECK_SHAPE(bias.numel() == out_f && bias.dim() <= 1, "linear: bias must have shape [", out_f, "], got ",
                       bias.sizes());
  }
  // x: (rows, in) = x viewed as rows; y: (rows, out)
  std::vector<int64_t> out_sizes = x.sizes().vec();
  out_sizes.back() = out_f;
  Tensor x2 = x.detach().reshape({rows_of(x), in});
  Tensor y = empty(out_sizes, kFloat);
  Tensor bc = bias.defined() ? (bias.is_contiguous() ? bias : contiguous_copy(bias)) : Tensor();
  {
    Operand X = operand(x2), W = operand(weight.detach().t());
    kernels::sgemm_bias(X.trans, W.trans, x2.size(0), out_f, in, X.keep.data_ptr<float>(), X.ld,
                        W.keep.data_ptr<float>(), W.ld, bc.defined() ? bc.data_ptr<float>() : nullptr,
                        y.data_ptr<float>(), std::max<int64_t>(1, out_f));
  }
  if (needs_grad({x, weight, bias})) {
    const bool need_x = x.requires_grad(), need_w = weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    record_differentiable("LinearBackward", {x, weight, bias}, {y},
           [x2, wd = weight.detach(), in_sizes = x.sizes().vec(), bias_sizes = bias.defined() ? bias.sizes().vec()
                                                                                               : std::vector<int64_t>{},
            need_x, need_w, need_b, out_f, xs = save_input(x), ws = save_input(weight)](const TensorList& g) {
             Tensor g2 = g[0].reshape({x2.size(0), out_f});  // (rows, out)
             Tensor gx, gw, gbias;
             if (GradMode::is_enabled()) {  // the same products and sum, recorded
               if (need_x) gx = mm(g2, ws).reshape(in_sizes);
               if (need_w) gw = mm(g2.t(), xs.reshape({x2.size(0), x2.size(1)}));
               if (need_b) gbias = sum(g2, {0}).reshape(bias_sizes);
               return TensorList{gx, gw, gbias};
             }
             if (need_x) gx = mm_raw(g2, wd).reshape(in_sizes);  // dX = dY W
             if (need_w) gw = mm_raw(g2.t(), x2);                 // dW = dY^T X
             if (need_b) {                                        // db = sum of dY over rows
               Tensor gc = g2.is_contiguous() ? g2 : contiguous_copy(g2);
               gbias = empty(bias_sizes, kFloat);
               kernels::sum(gbias.data_ptr<float>(), gc.data_ptr<float>(), 1, 1, g2.size(0), out_f);
             }
             return TensorList{gx, gw, gbias};
           });
  }
  return y;
}

// ---- least squares --------------------------------------------------------------------------

Tensor lstsq(const Tensor& a, const Tensor& b) {
  CNNKIT_CHECK_SHAPE(a.defined() && b.defined() && a.dim() == 2 && b.dim() == 1 && b.size(0) == a.size(0),
                     "lstsq: expected a (m, n) and b (m), got ", a.defined() ? a.sizes() : IntArrayRef{}, " and ",
                     b.defined() ? b.sizes() : IntArrayRef{});
  check_float(a, "lstsq", "a");
  check_float(b, "lstsq", "b");
  const int64_t m = a.size(0), n = a.size(1);
  CNNKIT_CHECK_SHAPE(m >= n && n > 0, "lstsq: the gels driver needs m >= n > 0, got a of shape ", a.sizes());
  // LAPACK wants a column-major copy (it overwrites A with its QR factors) and b in place
  const Tensor ac = a.t().contiguous(), bc = b.contiguous();
  std::vector<float> acol(ac.data_ptr<float>(), ac.data_ptr<float>() + m * n);
  std::vector<float> rhs(bc.data_ptr<float>(), bc.data_ptr<float>() + m);
  const int info = kernels::sgels(m, n, acol.data(), rhs.data());
  CNNKIT_CHECK(info == 0, "lstsq: a is rank deficient (LAPACK sgels info ", info, "); torch raises too");
  Tensor x = empty({n}, kFloat);
  std::memcpy(x.data_ptr<float>(), rhs.data(), static_cast<size_t>(n) * sizeof(float));
  return x;
}

// ---- Tensor members ---------------------------------------------------------------------------
Tensor Tensor::matmul(const Tensor& other) const { return cnnkit::matmul(*this, other); }
Tensor Tensor::mm(const Tensor& other) const { return cnnkit::mm(*this, other); }

}  // namespace cnnkit
