// batch_norm_relu (ops/norm.h): relu(batch_norm(x) + residual) fused in one kernel on a
// channel-blocked kept layout (kernels/norm_blocked.cpp) against the three ops run as written
// on plain NCHW copies (the plain loops, oneDNN-free): outputs, running statistics and every
// gradient within 1e-5 relative, over random shapes that cross the kernel's chunking, both
// channel blocks, with and without a residual, affine or not; NaN handling; the fallbacks;
// double backward; and the modules that call it (BasicBlock, Sequential BatchNorm2d + ReLU),
// whose batch norms take their statistics from the Winograd convolution before them.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"
#include "kernels/norm.h"
#include "kernels/onednn.h"
#include "kernels/winograd.h"
#include "test_util.h"

namespace cnnkit {
namespace {

namespace dnn = kernels::onednn;

bool kept(const Tensor& t) { return dnn::layout_of(*t.unsafeGetTensorImpl()) != nullptr; }

// A copy of the 4-d float tensor x whose values live in a kept layout nChw{block}c.
Tensor kept_copy(const Tensor& x, int block) {
  const dnnl::memory::dims d(x.sizes().begin(), x.sizes().end());
  const dnn::tag tag = block == 8 ? dnn::tag::nChw8c : dnn::tag::nChw16c;
  auto layout = std::make_shared<dnn::Layout>(dnn::plain_desc(d, tag));
  dnn::reorder(dnn::wrap(dnn::plain_desc(d, dnn::tag::nchw), x.data_ptr<float>()), layout->memory());
  Tensor y = detail::empty_deferred(x.sizes());
  detail::set_layout(*y.unsafeGetTensorImpl()->storage, layout);
  return y;
}

std::string name_of(const Tensor& t) { return t.grad_fn() ? t.grad_fn()->name() : std::string("(none)"); }

struct Case {
  int64_t N, C, H, W;
  int block;
  bool residual, affine;
};

std::string describe(const Case& c) {
  return "N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" +
         std::to_string(c.W) + " block " + std::to_string(c.block) + (c.residual ? " residual" : "") +
         (c.affine ? " affine" : "");
}

// Both paths on the same values; every output, statistic and gradient compared.
void check_case(const Case& c, uint64_t seed) {
  SCOPED_TRACE(describe(c));
  Generator g(seed);
  // Offset inputs (mean 3, scale 2): a one-pass sum of squares would lose digits here.
  const Tensor x = randn({c.N, c.C, c.H, c.W}, g) * 2.0 + 3.0;
  const Tensor r = c.residual ? randn({c.N, c.C, c.H, c.W}, g) : Tensor();
  const Tensor w = c.affine ? (rand({c.C}, g) + 0.5) : Tensor();
  const Tensor b = c.affine ? randn({c.C}, g) * 0.5 : Tensor();
  const Tensor dy = randn({c.N, c.C, c.H, c.W}, g);
  const Tensor rm0 = randn({c.C}, g), rv0 = rand({c.C}, g) + 0.5;

  auto leaf = [](const Tensor& t) { return t.defined() ? t.clone().set_requires_grad(true) : Tensor(); };
  // Reference: the plain ops as written.
  Tensor xr = leaf(x), rr = leaf(r), wr = leaf(w), br = leaf(b);
  Tensor rm_r = rm0.clone(), rv_r = rv0.clone();
  Tensor yr = batch_norm(xr, wr, br, rm_r, rv_r, true, 0.1, 1e-5);
  if (c.residual) yr = add(yr, rr);
  yr = relu(yr);
  yr.backward(dy);

  // Fused: the same values in a kept layout.
  Tensor xf = kept_copy(x, c.block).set_requires_grad(true);
  Tensor rf = c.residual ? kept_copy(r, c.block).set_requires_grad(true) : Tensor();
  Tensor wf = leaf(w), bf = leaf(b);
  Tensor rm_f = rm0.clone(), rv_f = rv0.clone();
  Tensor yf = batch_norm_relu(xf, wf, bf, rm_f, rv_f, true, 0.1, 1e-5, rf);
  EXPECT_EQ(name_of(yf), "BatchNormReluBackward0");
  EXPECT_TRUE(kept(yf));
  yf.backward(dy);

  const double rtol = 1e-5, atol = 1e-5;
  EXPECT_TRUE(test::allclose(yf, yr, rtol, atol, "y"));
  EXPECT_TRUE(test::allclose(rm_f, rm_r, rtol, 1e-6, "running_mean"));
  EXPECT_TRUE(test::allclose(rv_f, rv_r, rtol, 1e-6, "running_var"));
  EXPECT_TRUE(test::allclose(xf.grad(), xr.grad(), rtol, atol, "grad x"));
  if (c.residual) {
    EXPECT_TRUE(test::allclose(rf.grad(), rr.grad(), rtol, atol, "grad residual"));
  }
  if (c.affine) {
    // Sums over N H W values: their error grows with the count, as in any reduction.
    const double sum_atol = atol * std::sqrt(static_cast<double>(c.N * c.H * c.W));
    EXPECT_TRUE(test::allclose(wf.grad(), wr.grad(), rtol, sum_atol, "grad weight"));
    EXPECT_TRUE(test::allclose(bf.grad(), br.grad(), rtol, sum_atol, "grad bias"));
  }
}

TEST(BatchNormRelu, MatchesTheOpsAsWritten) {
  if (!kernels::batch_norm_relu_blocked_supported(8, 8)) GTEST_SKIP() << "no AVX2 on this CPU";
  // Shapes around the kernel's chunk of 256 positions and 64-position float sums: 1 x 1,
  // 5 x 7 (a partial sub-block), 16 x 16 (exactly one chunk), 17 x 19 (a chunk and a tail),
  // 40 x 33 (six chunks).
  const Case cases[] = {
      {2, 8, 1, 1, 8, false, true},    {3, 16, 5, 7, 8, true, true},   {1, 24, 16, 16, 8, false, false},
      {2, 16, 17, 19, 16, true, true}, {4, 32, 8, 8, 16, false, true}, {2, 48, 40, 33, 16, true, false},
      {5, 8, 17, 19, 8, true, false},  {1, 16, 40, 33, 16, false, true},
  };
  uint64_t seed = 11;
  for (const Case& c : cases) check_case(c, seed++);
}

TEST(BatchNormRelu, RandomShapes) {
  if (!kernels::batch_norm_relu_blocked_supported(8, 8)) GTEST_SKIP() << "no AVX2 on this CPU";
  Generator g(2026);
  for (int i = 0; i < 12; ++i) {
    const int block = (i % 2 == 0) ? 8 : 16;
    const auto pick = [&](int64_t lo, int64_t hi) {
      return lo + static_cast<int64_t>(rand({1}, g).item<float>() * static_cast<float>(hi - lo + 1)) % (hi - lo + 1);
    };
    const Case c{pick(1, 6), block * pick(1, 3), pick(1, 30), pick(1, 30), block, i % 3 != 0, i % 4 != 1};
    if (c.N * c.H * c.W == 1) continue;  // batch norm refuses one value a channel in training
    check_case(c, 100 + static_cast<uint64_t>(i));
  }
}

// The backward writes its first result over the output gradient's buffer when nothing else
// can read it (a gradient reordered into x's layout here, or handed over by its only holder);
// a kept output gradient its caller still holds keeps its values, and the gradients are the
// same bits either way.
TEST(BatchNormRelu, AnOutputGradientItsCallerHoldsKeepsItsValues) {
  if (!kernels::batch_norm_relu_blocked_supported(8, 8)) GTEST_SKIP() << "no AVX2 on this CPU";
  for (const bool residual : {false, true}) {
    SCOPED_TRACE(residual ? "residual" : "no residual");
    Generator g(21);
    const Tensor x = randn({3, 16, 9, 7}, g), r = randn({3, 16, 9, 7}, g), dy = randn({3, 16, 9, 7}, g);
    const Tensor w = rand({16}, g) + 0.5, b = randn({16}, g);
    auto grads = [&](const Tensor& out_grad) {
      Tensor xf = kept_copy(x, 16).set_requires_grad(true);
      Tensor rf = residual ? kept_copy(r, 16).set_requires_grad(true) : Tensor();
      Tensor wf = w.clone().set_requires_grad(true), bf = b.clone().set_requires_grad(true);
      Tensor rm = zeros({16}), rv = ones({16});
      Tensor y = batch_norm_relu(xf, wf, bf, rm, rv, true, 0.1, 1e-5, rf);
      EXPECT_EQ(name_of(y), "BatchNormReluBackward0");
      y.backward(out_grad);
      return std::vector<Tensor>{xf.grad(), wf.grad(), bf.grad(), residual ? rf.grad() : Tensor()};
    };
    const std::vector<Tensor> from_plain = grads(dy);
    const Tensor dy_kept = kept_copy(dy, 16);
    const std::vector<Tensor> from_kept = grads(dy_kept);
    EXPECT_TRUE(kept(dy_kept));
    EXPECT_TRUE(test::allclose(dy_kept, dy, 0, 0, "the caller's output gradient"));
    for (size_t i = 0; i < from_plain.size(); ++i) {
      if (from_plain[i].defined()) {
        EXPECT_TRUE(test::allclose(from_kept[i], from_plain[i], 0, 0)) << i;
      }
    }
  }
}

TEST(BatchNormRelu, NaNReachesTheOutputsAndGradientsAsUnfused) {
  if (!kernels::batch_norm_relu_blocked_supported(8, 8)) GTEST_SKIP() << "no AVX2 on this CPU";
  Generator g(5);
  Tensor x = randn({2, 16, 4, 4}, g);
  x.data_ptr<float>()[3 * 16 + 5] = NAN;  // channel 3: its statistics, so all its outputs, are NaN
  const Tensor xf = kept_copy(x, 8).set_requires_grad(true);
  const Tensor y = batch_norm_relu(xf, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
  const Tensor plain = y.contiguous();
  const float* p = plain.data_ptr<float>();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 16; ++c)
      for (int64_t s = 0; s < 16; ++s) {
        const float v = p[(n * 16 + c) * 16 + s];
        EXPECT_EQ(std::isnan(v), c == 3) << "n " << n << " c " << c << " s " << s;
      }
  y.backward(ones_like(y));
  const Tensor gx = xf.grad().contiguous();
  EXPECT_TRUE(std::isnan(gx.data_ptr<float>()[3 * 16]));   // through the NaN channel
  EXPECT_FALSE(std::isnan(gx.data_ptr<float>()[4 * 16]));  // not into the others
}

TEST(BatchNormRelu, FallsBackToTheOpsWhereItCannotFuse) {
  Generator g(9);
  const Tensor x = randn({2, 6, 5, 5}, g);
  const Tensor r = randn({2, 6, 5, 5}, g);
  // Plain input; eval mode; a residual that broadcasts.
  Tensor rm = zeros({6}), rv = ones({6});
  const Tensor y = batch_norm_relu(x, Tensor(), Tensor(), rm, rv, true, 0.1, 1e-5, r);
  Tensor rm2 = zeros({6}), rv2 = ones({6});
  const Tensor want = relu(add(batch_norm(x, Tensor(), Tensor(), rm2, rv2, true, 0.1, 1e-5), r));
  EXPECT_TRUE(test::allclose(y, want, 0, 0, "plain"));
  EXPECT_TRUE(test::allclose(rm, rm2, 0, 0, "running_mean"));
  const Tensor ye = batch_norm_relu(x, Tensor(), Tensor(), rm, rv, false, 0.1, 1e-5);
  EXPECT_TRUE(test::allclose(ye, relu(batch_norm(x, Tensor(), Tensor(), rm, rv, false, 0.1, 1e-5)), 0, 0, "eval"));
  const Tensor rb = randn({1, 6, 1, 1}, g);
  const Tensor yb = batch_norm_relu(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5, rb);
  EXPECT_TRUE(test::allclose(
      yb, relu(add(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5), rb)), 0, 0, "broadcast"));
  // Channels that do not fill the block: the ops as written, the same values.
  if (kernels::batch_norm_relu_blocked_supported(8, 8)) {
    const Tensor xk = kept_copy(x, 8).set_requires_grad(true);
    const Tensor yk = batch_norm_relu(xk, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
    EXPECT_EQ(name_of(yk), "ReluBackward0");
    EXPECT_TRUE(test::allclose(yk, relu(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5)),
                               1e-5, 1e-6, "6 channels in nChw8c"));
  }
  // The checks are batch_norm's.
  EXPECT_THROW(batch_norm_relu(x, ones({5}), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5), ShapeError);
}

TEST(BatchNormRelu, DoubleBackwardMatchesTheOps) {
  if (!kernels::batch_norm_relu_blocked_supported(8, 8)) GTEST_SKIP() << "no AVX2 on this CPU";
  Generator g(21);
  const Tensor x = randn({3, 8, 4, 5}, g), r = randn({3, 8, 4, 5}, g), w = rand({8}, g) + 0.5;
  auto second = [&](bool fused) {
    Tensor xi = fused ? kept_copy(x, 8).set_requires_grad(true) : x.clone().set_requires_grad(true);
    Tensor ri = fused ? kept_copy(r, 8) : r.clone();
    Tensor wi = w.clone().set_requires_grad(true);
    Tensor y = fused ? batch_norm_relu(xi, wi, Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5, ri)
                     : relu(add(batch_norm(xi, wi, Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5), ri));
    const Tensor loss = (y * y * r).sum();
    const TensorList gx = autograd::grad({loss}, {xi}, {}, std::nullopt, /*create_graph=*/true);
    const Tensor gw = autograd::grad({(gx[0] * gx[0]).sum()}, {wi})[0];
    return std::pair{gx[0], gw};
  };
  const auto [gx_f, gw_f] = second(true);
  const auto [gx_r, gw_r] = second(false);
  EXPECT_TRUE(test::allclose(gx_f, gx_r, 1e-5, 1e-5, "first derivative"));
  EXPECT_TRUE(test::allclose(gw_f, gw_r, 1e-4, 1e-5, "second derivative"));
}

// The modules, as the rewrite switch runs them and as written: the same values, gradients and
// running statistics (the convolutions keep their outputs in a blocked layout, so the fused
// kernel runs where the CPU has it).
void compare_module(nn::Sequential net, const Tensor& x, const std::string& what) {
  SCOPED_TRACE(what);
  net->train();
  nn::Sequential twin = std::dynamic_pointer_cast<nn::SequentialImpl>(net->clone());
  auto run = [&](nn::Sequential& m, bool fuse) {
    nn::set_sequential_rewrites(fuse);
    Tensor xi = x.clone().set_requires_grad(true);
    Tensor y = m->forward(xi);
    (y * y).sum().backward();
    nn::set_sequential_rewrites(true);
    return std::pair{y, xi.grad()};
  };
  const auto [y1, g1] = run(net, true);
  const auto [y0, g0] = run(twin, false);
  EXPECT_TRUE(test::allclose(y1, y0, 1e-5, 1e-5, "output"));
  EXPECT_TRUE(test::allclose(g1, g0, 1e-4, 1e-4, "input gradient"));
  const auto p1 = net->named_parameters(), p0 = twin->named_parameters();
  for (const auto& item : p1)
    EXPECT_TRUE(test::allclose(item.value().grad(), p0[item.key()].grad(), 1e-4, 1e-3, item.key()));
  const auto b1 = net->named_buffers(), b0 = twin->named_buffers();
  for (const auto& item : b1)
    if (item.value().dtype() == kFloat) {
      EXPECT_TRUE(test::allclose(item.value(), b0[item.key()], 1e-5, 1e-6, item.key()));
    } else {
      EXPECT_EQ(item.value().item<int64_t>(), b0[item.key()].item<int64_t>()) << item.key();
    }
}

TEST(BatchNormRelu, ModulesMatchTheOpsAsWritten) {
  Generator g(3);
  const Tensor x = randn({4, 3, 12, 12}, g);
  nn::Sequential stem(nn::Conv2d(nn::Conv2dOptions(3, 16, 3).padding(1).bias(false)), nn::BatchNorm2d(16),
                      nn::ReLU());
  compare_module(stem, x, "Sequential conv, BatchNorm2d, ReLU");
  nn::Sequential blocks(nn::Conv2d(nn::Conv2dOptions(3, 16, 3).padding(1).bias(false)), nn::BatchNorm2d(16),
                        nn::ReLU(), models::BasicBlock(16, 16), models::BasicBlock(16, 32, 2));
  compare_module(blocks, x, "BasicBlocks, identity and downsample");
}

TEST(BatchNormRelu, BasicBlockRunsTheFusedKernelInTraining) {
  if (!kernels::batch_norm_relu_blocked_supported(8, 8)) GTEST_SKIP() << "no AVX2 on this CPU";
  Generator g(4);
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(3, 16, 3).padding(1).bias(false)), nn::BatchNorm2d(16),
                     nn::ReLU(), models::BasicBlock(16, 16));
  net->train();
  const Tensor y = net->forward(randn({2, 3, 8, 8}, g).set_requires_grad(true));
  EXPECT_EQ(name_of(y), "BatchNormReluBackward0");
  // In eval mode (running statistics) the ops run as written.
  net->eval();
  EXPECT_EQ(name_of(net->forward(randn({2, 3, 8, 8}, g).set_requires_grad(true))), "ReluBackward0");
}

// A batch norm after a convolution that the Winograd kernel runs takes its statistics from
// that kernel (detail::ConvBatchNormScope): in BasicBlock (both batch norms) and in a
// Sequential's Conv2d, BatchNorm2d, ReLU. The values, gradients and running statistics are the
// ops' as written (compare_module), and the statistics were indeed taken.
TEST(BatchNormRelu, TakesItsStatisticsFromTheConvolutionBefore) {
  Generator g(5);
  const Tensor x = randn({4, 16, 12, 12}, g) * 2.0 + 1.0;
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(16, 16, 3).padding(1).bias(false)), nn::BatchNorm2d(16),
                     nn::ReLU(), models::BasicBlock(16, 16));
  compare_module(net, x, "Conv2d, BatchNorm2d, ReLU, BasicBlock");
  net->train();
  const uint64_t taken = detail::batch_norm_moments_taken(), convs = kernels::winograd::calls();
  net->forward(x.clone().set_requires_grad(true));
  if (kernels::winograd::calls() == convs)
    GTEST_SKIP() << "oneDNN chose no blocked layout on this CPU: the Winograd kernel was not used";
  EXPECT_EQ(kernels::winograd::calls() - convs, 3u);
  EXPECT_EQ(detail::batch_norm_moments_taken() - taken, 3u) << "every batch norm after a Winograd convolution";
  // In eval mode the batch norms use their running statistics: none taken.
  net->eval();
  const uint64_t eval_taken = detail::batch_norm_moments_taken();
  net->forward(x);
  EXPECT_EQ(detail::batch_norm_moments_taken(), eval_taken);
}

// The statistics go to a batch norm of that very output, once.
TEST(BatchNormRelu, StatisticsFromAConvolutionServeItsOwnOutputOnce) {
  Generator g(6);
  const Tensor x = randn({2, 16, 8, 8}, g), x2 = randn({2, 16, 8, 8}, g) + 5.0;
  const Tensor w = randn({16, 16, 3, 3}, g) * 0.1;
  nn::BatchNorm2d bn(16);
  bn->train();
  const uint64_t convs = kernels::winograd::calls();
  Tensor y, twice, other;
  uint64_t taken = 0, taken_twice = 0, taken_other = 0;
  {
    detail::ConvBatchNormScope scope;
    y = conv2d(x, w, {}, 1, 1);
    const uint64_t before = detail::batch_norm_moments_taken();
    const Tensor a = bn->forward_relu(y);
    taken = detail::batch_norm_moments_taken() - before;
    twice = bn->forward_relu(y);  // the same output again: its statistics are computed anew
    taken_twice = detail::batch_norm_moments_taken() - before - taken;
    EXPECT_TRUE(test::allclose(a, twice, 1e-5, 1e-6, "the same output, statistics taken or computed"));
  }
  {
    detail::ConvBatchNormScope scope;
    const Tensor first = conv2d(x, w, {}, 1, 1);
    conv2d(x2, w, {}, 1, 1);  // a second convolution: its output's statistics, not first's
    const uint64_t before = detail::batch_norm_moments_taken();
    other = bn->forward_relu(first);
    taken_other = detail::batch_norm_moments_taken() - before;
    EXPECT_TRUE(test::allclose(other, twice, 1e-5, 1e-6, "first's statistics, not the second's"));
  }
  if (kernels::winograd::calls() == convs)
    GTEST_SKIP() << "oneDNN chose no blocked layout on this CPU: the Winograd kernel was not used";
  EXPECT_EQ(taken, 1u);
  EXPECT_EQ(taken_twice, 0u);
  EXPECT_EQ(taken_other, 0u);
}

}  // namespace
}  // namespace cnnkit
