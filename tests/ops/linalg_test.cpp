// Matrix products and linear against PyTorch 1.13 literals (values and every gradient,
// transposed views, torch's 1-d and broadcast-batch rules), and the raw kernels::sgemm*
// entry points against a double-precision reference on every backend path (OpenBLAS for
// small products, dnnl_sgemm for m == 1, oneDNN matmul otherwise; transposes, padded
// leading dims, alpha/beta, broadcast batches, fused bias); lstsq against torch's gels.
// Inputs are seq(sizes):
// x_i = sin(0.7 i + 0.3) (torch: the same formula in float64, then .float()).
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "kernels/gemm.h"
#include "cnnkit/ops/factory.h"
#include "cnnkit/ops/linalg.h"
#include "cnnkit/ops/reduce.h"
#include "cnnkit/ops/shape.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::allclose;
using cnnkit::test::seq;

namespace {

using cnnkit::test::error_of;
using cnnkit::test::contains;

std::vector<float> seqv(int64_t n, double a, double b = 0.3) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(std::sin(a * i + b));
  return v;
}
Tensor first(const Tensor& t, int64_t n) { return t.reshape({-1}).slice(0, 0, n); }

// C = alpha op(A) op(B) + beta C in double, same conventions as kernels::sgemm.
void ref_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const std::vector<float>& a, int64_t lda,
              const std::vector<float>& b, int64_t ldb, float beta, std::vector<float>& c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double av = ta ? a[p * lda + i] : a[i * lda + p];
        const double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
        s += av * bv;
      }
      c[i * ldc + j] = static_cast<float>(alpha * s + (beta == 0 ? 0.0 : beta * c[i * ldc + j]));
    }
}

double max_rel_err(const std::vector<float>& got, const std::vector<float>& want) {
  double err = 0;
  for (size_t i = 0; i < got.size(); ++i)
    err = std::max(err, std::fabs(got[i] - want[i]) / (1.0 + std::fabs(want[i])));
  return err;
}

}  // namespace

// ---- kernels::sgemm -------------------------------------------------------------------------
struct GemmCase {
  bool ta, tb;
  int64_t m, n, k, pad;  // pad: extra elements per row of every operand (ld > cols)
  float alpha, beta;
};

TEST(Sgemm, EveryBackendPathMatchesDoubleReference) {
  std::vector<GemmCase> cases = {
      {false, false, 5, 7, 3, 0, 1.0f, 0.0f},      // tiny: OpenBLAS
      {true, true, 6, 4, 9, 2, 0.5f, 2.0f},        // tiny, transposed, padded, alpha/beta
      {false, true, 1, 300, 257, 0, 1.0f, 0.0f},   // m == 1: dnnl_sgemm
      {false, true, 64, 120, 400, 0, 1.0f, 0.0f},  // linear-like: oneDNN matmul
      {true, false, 70, 33, 129, 3, 1.0f, 1.0f},   // dW-like (A^T), accumulating
      {true, true, 48, 65, 80, 1, -1.5f, 0.25f},   // both transposed, alpha and beta
  };
  for (const GemmCase& c : cases) {
    const int64_t arows = c.ta ? c.k : c.m, acols = c.ta ? c.m : c.k;
    const int64_t brows = c.tb ? c.n : c.k, bcols = c.tb ? c.k : c.n;
    const int64_t lda = acols + c.pad, ldb = bcols + c.pad, ldc = c.n + c.pad;
    std::vector<float> a = seqv(arows * lda, 0.37), b = seqv(brows * ldb, 0.11, 1.0), c0 = seqv(c.m * ldc, 0.5);
    std::vector<float> got = c0, want = c0;
    kernels::sgemm(c.ta, c.tb, c.m, c.n, c.k, c.alpha, a.data(), lda, b.data(), ldb, c.beta, got.data(), ldc);
    ref_gemm(c.ta, c.tb, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, want, ldc);
    EXPECT_LT(max_rel_err(got, want), 2e-5) << c.m << "x" << c.n << "x" << c.k << " ta=" << c.ta << " tb=" << c.tb;
  }
}

TEST(Sgemm, ZeroInnerDimensionScalesC) {
  std::vector<float> c = {1, 2, 3, 4};
  kernels::sgemm(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.5f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{0.5f, 1, 1.5f, 2}));
  std::vector<float> nan_c = {NAN, NAN};
  kernels::sgemm(false, false, 1, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.0f, nan_c.data(), 2);
  EXPECT_EQ(nan_c, (std::vector<float>{0, 0}));  // beta == 0 never reads C
}

TEST(Sgemm, BatchedWithBroadcastOperandMatchesLoop) {
  for (int64_t batch : {3, 40}) {  // 3 x 4x5x6 is tiny (OpenBLAS loop), 40 x ... goes to oneDNN
    const int64_t m = batch == 3 ? 4 : 32, n = batch == 3 ? 5 : 24, k = batch == 3 ? 6 : 40;
    std::vector<float> a = seqv(batch * m * k, 0.21), b = seqv(k * n, 0.13), got(batch * m * n), want(batch * m * n);
    kernels::sgemm_batched(batch, false, false, m, n, k, 1.0f, a.data(), k, m * k, b.data(), n, 0, 0.0f, got.data(),
                           n, m * n);
    for (int64_t i = 0; i < batch; ++i) {
      std::vector<float> ai(a.begin() + i * m * k, a.begin() + (i + 1) * m * k), ci(m * n);
      ref_gemm(false, false, m, n, k, 1.0f, ai, k, b, n, 0.0f, ci, n);
      std::copy(ci.begin(), ci.end(), want.begin() + i * m * n);
    }
    EXPECT_LT(max_rel_err(got, want), 2e-5) << "batch " << batch;
  }
}

TEST(Sgemm, FusedBiasOnEveryPath) {
  for (int64_t m : {2, 1, 64}) {  // OpenBLAS, dnnl_sgemm (m == 1, large), oneDNN matmul + bias
    const int64_t n = m == 2 ? 3 : 200, k = m == 2 ? 4 : 330;
    std::vector<float> x = seqv(m * k, 0.3), w = seqv(n * k, 0.17), bias = seqv(n, 0.9), got(m * n), want(m * n);
    kernels::sgemm_bias(false, true, m, n, k, x.data(), k, w.data(), k, bias.data(), got.data(), n);
    ref_gemm(false, true, m, n, k, 1.0f, x, k, w, k, 0.0f, want, n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) want[i * n + j] += bias[j];
    EXPECT_LT(max_rel_err(got, want), 2e-5) << "m = " << m;
  }
}

TEST(Sgemm, ConcurrentCallsOnOneCachedPrimitiveAgree) {
  // conv's per-image GEMMs call sgemm from several threads on the same shape at once.
  const int64_t m = 64, n = 96, k = 72;
  std::vector<float> a = seqv(m * k, 0.3), b = seqv(k * n, 0.7), want(m * n);
  kernels::sgemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, want.data(), n);
  std::vector<std::vector<float>> got(4, std::vector<float>(m * n));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep)
        kernels::sgemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, got[t].data(), n);
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(got[t], want) << "thread " << t;
}

// ---- mm -------------------------------------------------------------------------------------
TEST(Mm, ValuesAndGradientsMatchTorch) {
  // torch: a = seq(3,4); b = seq(4,2,a=0.4); y = a.mm(b); y.backward(seq(3,2,a=0.9))
  Tensor a = seq({3, 4}).requires_grad_(), b = seq({4, 2}, 0.4).requires_grad_();
  Tensor y = a.mm(b);
  EXPECT_TRUE(allclose(y, {2.0643492f, 1.7973182f, -1.8356119f, -1.3492221f, 1.3947599f, 0.74521613f}, 1e-5, 1e-6));
  y.backward(seq({3, 2}, 0.9));
  EXPECT_TRUE(allclose(a.grad(), {0.68776822f, 1.1930741f, 0.97467721f, 0.1650542f, 0.34600779f, 0.910065f,
                                  0.92208898f, 0.37478617f, -0.84499568f, -1.6066115f, -1.3936783f, -0.33535859f},
                       1e-5, 1e-6));
  EXPECT_TRUE(allclose(b.grad(), {0.38036472f, 0.65374696f, -0.49375737f, 0.38759199f, -1.1356577f, -0.060853537f,
                                  -1.2434404f, -0.48067874f},
                       1e-5, 1e-6));
}

TEST(Mm, TransposedViewsNeedNoCopyAndMatchTorch) {
  // torch: a = seq(4,3); b = seq(2,4,a=0.4); y = a.t().mm(b.t()); y.backward(seq(3,2,a=0.9))
  Tensor a = seq({4, 3}).requires_grad_(), b = seq({2, 4}, 0.4).requires_grad_();
  Tensor y = mm(a.t(), b.t());
  EXPECT_TRUE(allclose(y, {-0.037943579f, 0.37852457f, 0.33642367f, 0.48508191f, 0.55256563f, 0.3634977f}, 1e-5,
                       1e-6));
  y.backward(seq({3, 2}, 0.9));
  EXPECT_TRUE(allclose(a.grad(), {0.96932083f, 0.38863769f, -1.1459194f, 0.88540572f, 0.66132861f, -1.1859162f,
                                  0.66170454f, 0.82961035f, -1.0386829f, 0.33353472f, 0.86691487f, -0.72746444f},
                       1e-5, 1e-6));
  EXPECT_TRUE(allclose(b.grad(), {0.13166434f, 0.65632099f, -0.79434657f, 0.14572453f, -0.59367663f, 1.2449371f,
                                  -0.66332662f, -0.57518137f},
                       1e-5, 1e-6));
}

TEST(Mm, Errors) {
  std::string msg = error_of([] { mm(seq({2, 3}), seq({4, 5})); });
  EXPECT_TRUE(contains(msg, "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)")) << msg;
  EXPECT_THROW(mm(seq({2, 3}), seq({4, 5})), ShapeError);
  EXPECT_THROW(mm(seq({2, 3, 1}), seq({1, 5})), ShapeError);
  Tensor l = cnnkit::empty({3, 2}, kLong);
  EXPECT_THROW(mm(seq({2, 3}), l), TypeError);
}

// ---- matmul ---------------------------------------------------------------------------------
TEST(Matmul, OneDimensionalCasesFollowTorch) {
  // torch: v = seq(4,a=0.3); w = seq(4,a=0.5); v @ w; seq(3,4) @ v; v @ seq(4,2,a=0.4)
  Tensor v = seq({4}, 0.3), w = seq({4}, 0.5);
  Tensor d = matmul(v, w);
  EXPECT_EQ(d.dim(), 0);
  EXPECT_NEAR(d.item<float>(), 2.1548271f, 1e-6);
  Tensor mv = matmul(seq({3, 4}), v);
  EXPECT_EQ(mv.sizes(), IntArrayRef({3}));
  EXPECT_TRUE(allclose(mv, {1.9688183f, -1.922333f, 1.6537118f}, 1e-5, 1e-6));
  Tensor vm = v.matmul(seq({4, 2}, 0.4));
  EXPECT_EQ(vm.sizes(), IntArrayRef({2}));
  EXPECT_TRUE(allclose(vm, {1.7301428f, 1.3764932f}, 1e-5, 1e-6));
}

TEST(Matmul, BroadcastBatchDimsWithGradientsReducedBack) {
  // torch: a = seq(2,1,3,4); b = seq(5,4,2,a=0.4); y = a @ b; y.backward(seq(*y.shape, a=0.9))
  Tensor a = seq({2, 1, 3, 4}).requires_grad_(), b = seq({5, 4, 2}, 0.4).requires_grad_();
  Tensor y = matmul(a, b);
  EXPECT_EQ(y.sizes(), IntArrayRef({2, 5, 3, 2}));
  EXPECT_NEAR(y.sum().item<float>(), 3.368402f, 1e-4);
  EXPECT_TRUE(allclose(first(y, 6), {2.0643492f, 1.7973182f, -1.8356119f, -1.3492221f, 1.3947599f, 0.74521613f},
                       1e-5, 1e-6));
  y.backward(seq({2, 5, 3, 2}, 0.9));
  EXPECT_EQ(a.grad().sizes(), IntArrayRef({2, 1, 3, 4}));
  EXPECT_TRUE(allclose(a.grad(), {0.42536587f, 0.95990163f, 0.91217399f, 0.31113368f, -0.68693233f, -0.85968775f,
                                  -0.51096815f, 0.1476979f, -0.11322117f, -0.56925595f, -0.67998779f, -0.37824827f,
                                  -0.70396394f, -0.91050982f, -0.5647527f, 0.12357584f, -0.063782692f, -0.49971354f,
                                  -0.63252485f, -0.38165519f, 0.73294681f, 1.1375818f, 0.85217476f, 0.049849875f},
                       1e-5, 1e-6));
  EXPECT_TRUE(allclose(first(b.grad(), 8), {1.0854995f, 1.9377009f, -0.53077525f, 0.98703682f, -1.8974183f,
                                            -0.42784598f, -2.3716755f, -1.6415062f},
                       1e-5, 1e-6));
}

TEST(Matmul, BatchedWithVectorsAndSharedMatrix) {
  // torch: a = seq(2,3,4); v = seq(4,a=0.3); y = a @ v; y.backward(seq(2,3,a=0.9))
  Tensor a = seq({2, 3, 4}).requires_grad_(), v = seq({4}, 0.3).requires_grad_();
  Tensor y = matmul(a, v);
  EXPECT_TRUE(allclose(y, {1.9688183f, -1.922333f, 1.6537118f, -1.1939955f, 0.59630668f, 0.070288599f}, 1e-5, 1e-6));
  y.backward(seq({2, 3}, 0.9));
  EXPECT_TRUE(allclose(v.grad(), {-0.48396957f, -0.45059794f, -0.20530291f, 0.13654929f}, 1e-5, 1e-6));
  // torch: a = seq(3); B = seq(2,3,4,a=0.3); y = a @ B; y.backward(seq(2,4,a=0.9))
  Tensor u = seq({3}).requires_grad_(), B = seq({2, 3, 4}, 0.3).requires_grad_();
  Tensor z = matmul(u, B);
  EXPECT_EQ(z.sizes(), IntArrayRef({2, 4}));
  EXPECT_TRUE(allclose(z, {1.3505129f, 1.1262715f, 0.80142373f, 0.40498713f, -0.96562123f, -0.59888256f,
                           -0.17864746f, 0.25754571f},
                       1e-5, 1e-6));
  z.backward(seq({2, 4}, 0.9));
  EXPECT_TRUE(allclose(u.grad(), {2.9905257f, 3.6656456f, -0.33397579f}, 1e-5, 1e-6));
  // torch: a = seq(2,3,4); b = seq(4,5,a=0.4); (a @ b).backward(seq(2,3,5,a=0.9)): one folded GEMM each way
  Tensor f = seq({2, 3, 4}).requires_grad_(), g = seq({4, 5}, 0.4).requires_grad_();
  Tensor h = matmul(f, g);
  EXPECT_TRUE(allclose(first(h, 5), {-0.18235092f, -0.16812035f, -0.12734741f, -0.066468999f, 0.0049033822f}, 1e-5,
                       1e-6));
  h.backward(seq({2, 3, 5}, 0.9));
  EXPECT_TRUE(allclose(g.grad(), {0.36835343f, -0.20302966f, -0.62076402f, -0.56871641f, -0.086275786f, 0.63696241f,
                                  0.15705268f, -0.44171125f, -0.70619702f, -0.4362469f, 0.60599798f, 0.44327092f,
                                  -0.054914724f, -0.51154202f, -0.58104444f, 0.29002336f, 0.52101189f, 0.35770896f,
                                  -0.076300889f, -0.45256776f},
                       1e-5, 1e-6));
  EXPECT_TRUE(allclose(first(f.grad(), 5), {0.94700015f, 1.0781182f, -1.844311f, 0.45689026f, 1.3728571f}, 1e-5, 1e-6));
}

TEST(Matmul, Errors) {
  EXPECT_THROW(matmul(cnnkit::empty({}), seq({2, 2})), ShapeError);
  EXPECT_TRUE(contains(error_of([] { matmul(cnnkit::empty({}), seq({2, 2})); }),
                       "both arguments to matmul need to be at least 1D, but they are 0D and 2D"));
  std::string msg = error_of([] { matmul(seq({3}), seq({4})); });
  EXPECT_TRUE(contains(msg, "inconsistent tensor size, expected tensor [3] and src [4] to have the same number of "
                            "elements")) << msg;
  EXPECT_THROW(matmul(seq({2, 3, 4}), seq({5, 2})), ShapeError);
  EXPECT_THROW(matmul(seq({2, 3, 4}), seq({3, 4, 2})), ShapeError);  // batch 2 vs 3
  EXPECT_THROW(matmul(seq({2, 3}), seq({2})), ShapeError);
  EXPECT_THROW(matmul(seq({3}), seq({2, 3})), ShapeError);
}

// ---- bmm / addmm ----------------------------------------------------------------------------
TEST(Bmm, ValuesAndErrors) {
  // torch: torch.bmm(seq(2,2,3), seq(2,3,2,a=0.4))
  Tensor y = bmm(seq({2, 2, 3}), seq({2, 3, 2}, 0.4));
  EXPECT_TRUE(allclose(y, {1.7756698f, 1.769232f, -0.34233117f, 0.020356208f, 0.23465744f, 0.94081181f, -1.0715888f,
                           -1.5612297f},
                       1e-5, 1e-6));
  EXPECT_THROW(bmm(seq({2, 3}), seq({2, 3, 2})), ShapeError);
  EXPECT_THROW(bmm(seq({2, 2, 3}), seq({3, 3, 2})), ShapeError);
  EXPECT_TRUE(contains(error_of([] { bmm(seq({2, 2, 3}), seq({2, 4, 2})); }),
                       "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [2, 4]."));
}

TEST(Addmm, BetaAlphaAndGradientsMatchTorch) {
  // torch: c = seq(2,a=0.2); a = seq(3,4); b = seq(4,2,a=0.4)
  //        y = torch.addmm(c, a, b, beta=0.5, alpha=2.0); y.backward(seq(3,2,a=0.9))
  Tensor c = seq({2}, 0.2).requires_grad_(), a = seq({3, 4}).requires_grad_(), b = seq({4, 2}, 0.4).requires_grad_();
  Tensor y = addmm(c, a, b, 0.5, 2.0);
  EXPECT_TRUE(allclose(y, {4.2764583f, 3.8343492f, -3.5234637f, -2.4587314f, 2.9372799f, 1.730145f}, 1e-5, 1e-6));
  y.backward(seq({3, 2}, 0.9));
  EXPECT_TRUE(allclose(c.grad(), {0.23548171f, 0.038497239f}, 1e-5, 1e-6));
  EXPECT_TRUE(allclose(a.grad(), {1.3755364f, 2.3861482f, 1.9493544f, 0.3301084f, 0.69201559f, 1.82013f, 1.844178f,
                                  0.74957234f, -1.6899914f, -3.213223f, -2.7873566f, -0.67071718f},
                       1e-5, 1e-6));
  EXPECT_THROW(addmm(seq({3}), a, b), ShapeError);  // bias does not broadcast to (3, 2)
}

// ---- linear ---------------------------------------------------------------------------------
TEST(Linear, ThreeDimInputWithBiasMatchesTorch) {
  // torch: x = seq(2,3,4); W = seq(5,4,a=0.4); b = seq(5,a=0.2)
  //        y = F.linear(x, W, b); y.backward(seq(2,3,5,a=0.9))
  Tensor x = seq({2, 3, 4}).requires_grad_(), W = seq({5, 4}, 0.4).requires_grad_(), b = seq({5}, 0.2).requires_grad_();
  Tensor y = linear(x, W, b);
  EXPECT_EQ(y.sizes(), IntArrayRef({2, 3, 5}));
  EXPECT_TRUE(allclose(y, {2.4824932f, 1.8384694f, -1.622122f, -0.4433648f, 3.2291846f, -1.8387853f, -0.3920036f,
                           2.8294139f, 1.5271428f, -1.3374268f, 2.130528f, 0.76254165f, -1.2073236f, 0.60833901f,
                           2.7529678f, -1.0281447f, 0.81733799f, 1.9481487f, 0.36926618f, -0.38854313f, 0.95488596f,
                           -0.44046783f, 0.038572848f, 1.7385893f, 1.4410658f, 0.37664676f, 1.8750014f, 0.48159075f,
                           -0.60275167f, 1.1347799f},
                       1e-5, 1e-6));
  y.backward(seq({2, 3, 5}, 0.9));
  EXPECT_TRUE(allclose(x.grad(), {0.25742844f, -0.30920652f, -0.82702458f, -1.2142736f, -1.4472139f, -1.3054843f,
                                  -0.95764714f, -0.45861903f, 0.35270476f, 0.85958773f, 1.2307607f, 1.4076236f,
                                  1.2985165f, 0.94308919f, 0.43876895f, -0.13482335f, -0.90014845f, -1.2571862f,
                                  -1.4157419f, -1.3507832f, -0.91902155f, -0.41307005f, 0.1580959f, 0.70430219f},
                       1e-5, 1e-6));
  EXPECT_TRUE(allclose(W.grad(), {0.36835343f, 0.63696241f, 0.60599798f, 0.29002336f, -0.20302966f, 0.15705268f,
                                  0.44327092f, 0.52101189f, -0.62076402f, -0.44171125f, -0.054914724f, 0.35770896f,
                                  -0.56871641f, -0.70619702f, -0.51154202f, -0.076300889f, -0.086275786f, -0.4362469f,
                                  -0.58104444f, -0.45256776f},
                       1e-5, 1e-6));
  EXPECT_TRUE(allclose(b.grad(), {-0.87829763f, -0.11994493f, 0.72917968f, 1.0264757f, 0.54695541f}, 1e-5, 1e-6));
}

TEST(Linear, OneDimInputNoBiasAndOnlyNeededGradients) {
  // torch: F.linear(seq(4), seq(5,4,a=0.4))
  Tensor W = seq({5, 4}, 0.4).requires_grad_();
  Tensor y = linear(seq({4}), W);
  EXPECT_EQ(y.sizes(), IntArrayRef({5}));
  EXPECT_TRUE(allclose(y, {2.1869729f, 1.3590438f, -2.2663398f, -1.2266917f, 2.3379774f}, 1e-5, 1e-6));
  y.sum().backward();
  EXPECT_TRUE(W.grad().defined());
  Tensor x = seq({2, 4}).requires_grad_();
  linear(x, seq({5, 4}, 0.4)).sum().backward();  // weight needs no gradient: only dX is computed
  EXPECT_EQ(x.grad().sizes(), IntArrayRef({2, 4}));
}

TEST(Linear, LargeBatchRunsOnOneDnnAndMatchesReference) {
  const int64_t N = 64, in = 400, out = 120;
  Tensor x = seq({N, in}, 0.013), W = seq({out, in}, 0.029), b = seq({out}, 0.5);
  Tensor y = linear(x, W, b);
  std::vector<float> xv = x.to_vector(), wv = W.to_vector(), want(N * out);
  ref_gemm(false, true, N, out, in, 1.0f, xv, in, wv, in, 0.0f, want, out);
  std::vector<float> bv = b.to_vector();
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < out; ++j) want[i * out + j] += bv[j];
  EXPECT_LT(max_rel_err(y.to_vector(), want), 1e-4);  // k = 400 float accumulations
}

TEST(Linear, Errors) {
  Tensor W = seq({5, 4});
  EXPECT_THROW(linear(seq({2, 3}), W), ShapeError);
  EXPECT_TRUE(contains(error_of([&] { linear(seq({2, 3}), W); }), "mat1 and mat2 shapes cannot be multiplied (2x3"));
  EXPECT_THROW(linear(seq({2, 4}), seq({5, 4, 1})), ShapeError);
  EXPECT_THROW(linear(seq({2, 4}), W, seq({4})), ShapeError);
  EXPECT_THROW(linear(cnnkit::empty({}), W), ShapeError);
}

// torch: A = [[2,1,0],[1,3,1],[0,1,4],[1,0,1],[3,2,1]], b = [1,2,3,4,5] (float32),
// torch.linalg.lstsq(A, b, driver="gels").solution on an Intel AVX-512 machine. The same LAPACK
// routine, but its float rounding follows the BLAS kernels OpenBLAS picks for the CPU: bit for
// bit on that machine, a few ulps apart on an AMD Zen 3. The exact solution
// (double) is 1.42732558, -0.29941860, 0.97674419: both are float sgels's rounding of it.
TEST(Lstsq, OverdeterminedSystemMatchesTorchGels) {
  Tensor a = empty({5, 3}, kFloat), b = empty({5}, kFloat);
  const float av[15] = {2, 1, 0, 1, 3, 1, 0, 1, 4, 1, 0, 1, 3, 2, 1}, bv[5] = {1, 2, 3, 4, 5};
  std::copy(av, av + 15, a.data_ptr<float>());
  std::copy(bv, bv + 5, b.data_ptr<float>());
  const Tensor x = lstsq(a, b);
  const std::vector<float> torch_x = {1.42732513f, -0.29941833f, 0.976744056f}, got = x.to_vector();
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(got[i], torch_x[i], 1e-6 * std::fabs(torch_x[i])) << i;  // ~8 ulps
  // a zero column leaves R singular: torch raises "does not have full rank (error code: 2)"
  Tensor singular = zeros({4, 2});
  singular.data_ptr<float>()[0] = 1;
  singular.data_ptr<float>()[2] = 2;
  EXPECT_TRUE(contains(error_of([&] { lstsq(singular, zeros({4})); }), "rank deficient (LAPACK sgels info 2)"));
  EXPECT_TRUE(contains(error_of([&] { lstsq(zeros({2, 3}), zeros({2})); }), "m >= n"));
  EXPECT_TRUE(contains(error_of([&] { lstsq(a, zeros({4})); }), "expected a (m, n) and b (m)"));
}
