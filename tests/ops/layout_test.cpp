// Kept oneDNN layouts between consecutive oneDNN ops (kernels/onednn.h): a chain run with
// layouts kept gives the results of the same chain run with every op reordering back to plain
// NCHW (onednn::set_keep_layouts(false)), forward and backward; blocked results read right
// through views, printing and data_ptr; and a steady-state step runs only the reorders at the
// chain's edges.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/rng.h"
#include "kernels/onednn.h"
#include "cnnkit/ops/ops.h"
#include "test_util.h"

namespace cnnkit {
namespace {

namespace dnn = kernels::onednn;

// Restores the default (keep) when a test ends, whatever it set.
class KeepLayouts : public ::testing::Test {
 protected:
  void TearDown() override { dnn::set_keep_layouts(true); }
};
using LayoutChain = KeepLayouts;
using LayoutView = KeepLayouts;

bool kept(const Tensor& t) { return dnn::layout_of(*t.unsafeGetTensorImpl()) != nullptr; }

// Parameters of conv(C_in -> C1, 3x3, pad 1) -> BN(C1) -> ReLU -> pool(2) -> conv(C1 -> C2, 3x3).
struct Params {
  Tensor x, w1, b1, gamma, beta, rm, rv, w2, b2, r;
};
Params make_params(int64_t N, int64_t C_in, int64_t C1, int64_t C2, int64_t H, uint64_t seed) {
  Generator g(seed);
  Params p;
  p.x = randn({N, C_in, H, H}, g).set_requires_grad(true);
  p.w1 = (randn({C1, C_in, 3, 3}, g) * 0.3).set_requires_grad(true);
  p.b1 = randn({C1}, g).set_requires_grad(true);
  p.gamma = (rand({C1}, g) + 0.5).set_requires_grad(true);
  p.beta = randn({C1}, g).set_requires_grad(true);
  p.rm = zeros({C1});
  p.rv = ones({C1});
  p.w2 = (randn({C2, C1, 3, 3}, g) * 0.2).set_requires_grad(true);
  p.b2 = randn({C2}, g).set_requires_grad(true);
  const int64_t H2 = H / 2 - 2;
  p.r = randn({N, C2, H2, H2}, g);  // the loss is sum(out * r): every output gets a gradient
  return p;
}

enum class Pool { max, avg };

// Forward + backward of the chain; returns the output and every gradient and running stat.
std::vector<Tensor> run_chain(const Params& p, bool keep, Pool pool, bool bn_train = true) {
  dnn::set_keep_layouts(keep);
  for (Tensor t : {p.x, p.w1, p.b1, p.gamma, p.beta, p.w2, p.b2}) t.mutable_grad() = Tensor();
  Tensor rm = p.rm.clone(), rv = p.rv.clone();
  Tensor h = conv2d(p.x, p.w1, p.b1, 1, 1);
  h = batch_norm(h, p.gamma, p.beta, rm, rv, bn_train, 0.1, 1e-5);
  h = relu(h);
  h = pool == Pool::max ? max_pool2d(h, {2}) : avg_pool2d(h, {2});
  Tensor out = conv2d(h, p.w2, p.b2);
  (out * p.r).sum().backward();
  return {out.clone(), p.x.grad(), p.w1.grad(), p.b1.grad(), p.gamma.grad(), p.beta.grad(),
          p.w2.grad(), p.b2.grad(), rm, rv};
}

void expect_same(const std::vector<Tensor>& a, const std::vector<Tensor>& b, double tol) {
  const char* names[] = {"out", "x.grad", "w1.grad", "b1.grad", "gamma.grad", "beta.grad",
                         "w2.grad", "b2.grad", "running_mean", "running_var"};
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(test::allclose(a[i], b[i], tol, tol, names[i]));
}

TEST_F(LayoutChain, ConvBnReluMaxPoolConvMatchesPlainPath) {
  const Params p = make_params(4, 3, 16, 8, 12, 1);
  const auto plain = run_chain(p, false, Pool::max);
  const auto blocked = run_chain(p, true, Pool::max);
  // A conv bias right before a training-mode BatchNorm has a gradient of exactly zero (BN
  // subtracts the batch mean): both paths give the rounding residue of a 576-term sum whose
  // terms are of the size of beta.grad's, which differs between the two summation orders.
  // Check it is zero to within float rounding of that sum, and everything else path to path.
  const float beta_scale = std::get<0>(plain[5].abs().max(0)).item<float>();
  const double zero_tol = 576 * 1.2e-7 * beta_scale;
  for (const auto* r : {&plain, &blocked})
    EXPECT_TRUE(test::allclose((*r)[3], zeros({16}), 0, zero_tol, "b1.grad (analytically 0)"));
  auto without_b1 = [](std::vector<Tensor> v) {
    v[3] = zeros({16});
    return v;
  };
  expect_same(without_b1(blocked), without_b1(plain), 1e-5);
}

TEST_F(LayoutChain, ChannelsNotAMultipleOfTheBlockMatchPlainPath) {
  // 6 and 10 channels: oneDNN pads the channel blocks (nChw8c / nChw16c) with zeros.
  const Params p = make_params(3, 5, 6, 10, 10, 2);
  expect_same(run_chain(p, true, Pool::max), run_chain(p, false, Pool::max), 1e-5);
}

TEST_F(LayoutChain, AvgPoolAndEvalBatchNormMatchPlainPath) {
  const Params p = make_params(2, 4, 16, 16, 8, 3);
  expect_same(run_chain(p, true, Pool::avg, false), run_chain(p, false, Pool::avg, false), 1e-5);
  expect_same(run_chain(p, true, Pool::avg, true), run_chain(p, false, Pool::avg, true), 1e-5);
}

TEST_F(LayoutChain, IntermediatesStayInOneDnnLayoutOnlyWhenKept) {
  const Params p = make_params(2, 3, 16, 8, 8, 4);
  for (bool keep : {true, false}) {
    dnn::set_keep_layouts(keep);
    Tensor c = conv2d(p.x, p.w1, p.b1, 1, 1);
    Tensor b = batch_norm(c, p.gamma, p.beta, p.rm.clone(), p.rv.clone(), true, 0.1, 1e-5);
    Tensor r = relu(b);
    Tensor m = max_pool2d(r, {2});
    // On every ISA oneDNN picks a channel-blocked layout for 16 channels.
    EXPECT_EQ(kept(c), keep);
    EXPECT_EQ(kept(b), keep);
    EXPECT_EQ(kept(r), keep);
    EXPECT_EQ(kept(m), keep);
  }
}

TEST_F(LayoutChain, BlockedGradientsMeetPlainAccumulation) {
  // y feeds a oneDNN op and a plain add: the add reads y as plain (converting it once), and
  // the engine sums a blocked gradient with a plain one.
  const Params p = make_params(2, 3, 16, 8, 8, 5);
  std::vector<Tensor> res[2];
  for (bool keep : {false, true}) {
    dnn::set_keep_layouts(keep);
    for (Tensor t : {p.x, p.w1, p.b1, p.w2, p.b2}) t.mutable_grad() = Tensor();
    Tensor y = conv2d(p.x, p.w1, p.b1, 1, 1);
    Tensor z = relu(y) + y * 0.5;
    Tensor w = conv2d(z, p.w2, p.b2, 1, 1);
    (w * w).sum().backward();
    res[keep] = {y.clone(), w.clone(), p.x.grad(), p.w1.grad()};
  }
  for (size_t i = 0; i < res[0].size(); ++i) EXPECT_TRUE(test::allclose(res[1][i], res[0][i], 1e-5, 1e-5));
}

TEST_F(LayoutChain, MaxPoolTiesRouteTheGradientLikeThePlainPath) {
  // A zero convolution with a constant bias: every pooling window is a tie.
  Tensor x = randn({2, 3, 8, 8});
  Tensor w = zeros({16, 3, 3, 3});
  Tensor b = full({16}, 0.25);
  std::vector<Tensor> res[2];
  for (bool keep : {false, true}) {
    dnn::set_keep_layouts(keep);
    Tensor y = conv2d(x, w, b, 1, 1).detach().set_requires_grad(true);  // shares the layout
    EXPECT_EQ(kept(y), keep);
    Tensor m = max_pool2d(y, {2});
    m.sum().backward();
    res[keep] = {m.clone(), y.grad()};
  }
  EXPECT_TRUE(test::allclose(res[1][0], res[0][0], 0, 0, "pooled"));
  EXPECT_TRUE(test::allclose(res[1][1], res[0][1], 0, 0, "gradient"));
}

// Windows that tile the input (stride = kernel) are walked in registers forward and write each
// input gradient once, with no zeroing pass, backward: the rows and columns past the last
// window (floor mode drops them) must still be 0, and ties, a NaN and a -0 gradient routed,
// and the indices chosen, as the plain loops do.
TEST_F(LayoutChain, TilingMaxPoolBackwardMatchesThePlainPathPastTheLastWindow) {
  Generator g(21);
  Tensor x = round(randn({2, 3, 11, 13}, g) * 2.0) / 2.0;  // halves: ties in many windows
  x.index_put_({1, 2, 4, 5}, std::nanf(""));
  Tensor w = round(randn({16, 3, 3, 3}, g) * 2.0) / 2.0;  // exact sums of halves and quarters: ties
  for (auto [k, s] : {std::pair<int64_t, int64_t>{2, 2}, {3, 3}, {2, 3}}) {
    std::vector<Tensor> res[2];
    for (bool keep : {false, true}) {
      dnn::set_keep_layouts(keep);
      Tensor y = conv2d(x, w, Tensor(), 1, 1).detach().set_requires_grad(true);  // shares the layout
      ASSERT_EQ(kept(y), keep);
      Tensor m = max_pool2d(y, {k}, {s});
      Tensor r = arange(m.numel()).reshape(m.sizes()).to(kFloat) - 7.0;
      r = where(r == 0.0, zeros_like(r) * -1.0, r);  // one gradient of -0
      (m * r).sum().backward();
      const Tensor indices = std::get<1>(max_pool2d_with_indices(y.detach(), {k}, {s}));
      res[keep] = {where(isnan(m), zeros_like(m), m), y.grad(), indices};
    }
    EXPECT_TRUE(test::allclose(res[1][0], res[0][0], 0, 0, "pooled")) << k << "/" << s;
    EXPECT_TRUE(test::allclose(res[1][1], res[0][1], 0, 0, "gradient")) << k << "/" << s;
    EXPECT_TRUE(res[1][2].equal(res[0][2])) << "indices, " << k << "/" << s;
    EXPECT_TRUE((res[1][1].reciprocal() > 0).equal(res[0][1].reciprocal() > 0)) << "signs of zero, " << k << "/" << s;
  }
}

// ---- reading blocked results ----------------------------------------------------------------

TEST_F(LayoutView, ViewsPrintingAndDataPtrSeePlainValues) {
  const Params p = make_params(2, 3, 16, 8, 6, 6);
  NoGradGuard no_grad;
  dnn::set_keep_layouts(false);
  const Tensor ref = conv2d(p.x, p.w1, p.b1, 1, 1);
  std::ostringstream ref_text;
  ref_text << ref;
  dnn::set_keep_layouts(true);

  Tensor y = conv2d(p.x, p.w1, p.b1, 1, 1);
  ASSERT_TRUE(kept(y));
  Tensor flat = y.flatten(1);  // a view taken while the layout is attached
  EXPECT_FALSE(kept(flat));    // a view the layout does not describe is read plain
  EXPECT_TRUE(kept(y));        // taking the view converts nothing
  EXPECT_TRUE(test::allclose(flat, ref.flatten(1), 0, 0, "flatten view"));
  EXPECT_FALSE(kept(y));  // reading the view converted the shared storage once
  EXPECT_TRUE(test::allclose(y, ref, 0, 0, "y after its view was read"));

  Tensor y2 = conv2d(p.x, p.w1, p.b1, 1, 1);
  ASSERT_TRUE(kept(y2));
  std::ostringstream text;
  text << y2;
  EXPECT_EQ(text.str(), ref_text.str());

  Tensor y3 = conv2d(p.x, p.w1, p.b1, 1, 1);
  EXPECT_TRUE(test::allclose(y3.select(0, 1), ref.select(0, 1), 0, 0, "select"));
  Tensor y4 = conv2d(p.x, p.w1, p.b1, 1, 1);
  const float* d = y4.data_ptr<float>();
  const std::vector<float> r = ref.to_vector();
  for (size_t i = 0; i < r.size(); ++i) ASSERT_EQ(d[i], r[i]) << i;
  Tensor y5 = conv2d(p.x, p.w1, p.b1, 1, 1);
  EXPECT_FLOAT_EQ(y5[1][15][5][5].item<float>(), ref[1][15][5][5].item<float>());
}

TEST_F(LayoutView, InPlaceWritesAndUnbatchedInputs) {
  const Params p = make_params(1, 3, 16, 8, 6, 7);
  NoGradGuard no_grad;
  dnn::set_keep_layouts(false);
  const Tensor ref = conv2d(p.x[0], p.w1, p.b1, 1, 1);
  const Tensor ref_relu = relu(ref);
  dnn::set_keep_layouts(true);
  Tensor y = conv2d(p.x[0], p.w1, p.b1, 1, 1);  // (C, H, W): a layout of dims (1, C, H, W)
  ASSERT_TRUE(kept(y));
  Tensor r = relu(y);
  EXPECT_TRUE(kept(r));
  EXPECT_TRUE(test::allclose(r, ref_relu, 0, 0, "relu of unbatched"));
  y.add_(1.0);  // converts, then writes the plain bytes
  EXPECT_TRUE(test::allclose(y, ref + 1.0, 1e-6, 1e-6, "after add_"));
}

TEST_F(LayoutView, OneDnnLayoutOfLooksOnlyAtMatchingTensors) {
  const Params p = make_params(2, 3, 16, 8, 6, 8);
  NoGradGuard no_grad;
  Tensor y = conv2d(p.x, p.w1, p.b1, 1, 1);
  ASSERT_TRUE(kept(y));
  EXPECT_FALSE(kept(y.narrow(0, 1, 1)));  // offset
  EXPECT_FALSE(kept(y.transpose(2, 3)));  // strides
  EXPECT_FALSE(kept(y.view({2, 16, 36})));
  EXPECT_TRUE(kept(y));  // none of that converted anything
}

// ---- reorders -------------------------------------------------------------------------------

// Reorders in one training step of the chain, after warm-up.
uint64_t reorders_per_step(const Params& p, bool keep) {
  for (int i = 0; i < 2; ++i) run_chain(p, keep, Pool::max);
  dnn::reset_reorder_count();
  run_chain(p, keep, Pool::max);
  return dnn::reorder_count();
}

TEST_F(LayoutChain, SteadyStateStepReordersOnlyAtTheEdges) {
  const Params p = make_params(4, 8, 16, 16, 12, 9);
  const uint64_t plain = reorders_per_step(p, false);
  const uint64_t blocked = reorders_per_step(p, true);
  // With kept layouts the activations cross between plain and blocked only where plain code
  // reads or writes them: x into conv1 (forward, and again for conv1's weight gradient when
  // oneDNN wants it in another layout than forward), conv2's output to the loss (and the
  // final .clone()), and the loss gradient into conv2's backward. Weights are plain
  // parameters, reordered at every use in both modes.
  // Plain mode also reorders each activation and gradient between the oneDNN ops: the conv1
  // output and its gradient, and the conv2 input and its gradient (BN, ReLU and the pooling
  // run on loops there).
  // That is 4 reorders fewer per step, whatever the ISA's block size; and a fifth: x's
  // gradient leaves conv1's backward in the blocked layout, AccumulateGrad takes it over as it
  // is, and it is converted only when something reads x.grad (this step does not).
  EXPECT_LT(blocked, plain);
  EXPECT_EQ(plain - blocked, 5u) << "plain " << plain << ", kept " << blocked;
  RecordProperty("reorders_plain", static_cast<int>(plain));
  RecordProperty("reorders_kept", static_cast<int>(blocked));
}

// A basic residual block: h = conv(x0); y = relu(bn(conv(relu(h))) + h); out = conv(y). The
// add's operands both come out of oneDNN ops in the same layout, so it adds in that layout
// and the block needs fewer reorders; the numbers are the plain path's.
std::vector<Tensor> run_residual(const Params& p, const Tensor& w3, bool keep, uint64_t* reorders) {
  dnn::set_keep_layouts(keep);
  for (Tensor t : {p.x, p.w1, p.b1, p.gamma, p.beta, p.w2, p.b2, w3}) t.mutable_grad() = Tensor();
  Tensor rm = p.rm.clone(), rv = p.rv.clone();
  dnn::reset_reorder_count();
  Tensor h = conv2d(p.x, p.w1, p.b1, 1, 1);                   // (N, C1, H, H)
  Tensor body = batch_norm(conv2d(relu(h), w3, Tensor(), 1, 1), p.gamma, p.beta, rm, rv, true, 0.1, 1e-5);
  Tensor sum = body + h;
  EXPECT_EQ(kept(sum), keep);
  Tensor out = conv2d(relu(sum), p.w2, p.b2);
  Tensor r = ones(out.sizes());
  (out * r).sum().backward();
  *reorders = dnn::reorder_count();
  return {out.clone(), p.x.grad(), p.w1.grad(), p.b1.grad(), p.gamma.grad(), p.beta.grad(),
          p.w2.grad(), p.b2.grad(), rm, rv, w3.grad()};
}

TEST_F(LayoutChain, ResidualAddStaysInTheLayoutAndMatchesPlainPath) {
  const Params p = make_params(2, 3, 16, 8, 8, 7);
  Generator g(8);
  Tensor w3 = (randn({16, 16, 3, 3}, g) * 0.2).set_requires_grad(true);
  uint64_t plain_reorders = 0, kept_reorders = 0;
  const auto plain = run_residual(p, w3, false, &plain_reorders);
  const auto blocked = run_residual(p, w3, true, &kept_reorders);
  ASSERT_EQ(plain.size(), blocked.size());
  // Outputs agree to 1e-5. Gradients behind two batch-norm backwards differ by up to ~4e-5
  // relative: oneDNN's and the loops' reductions sum in different orders (the same 3.7e-5 on
  // w3.grad appears when the add itself runs plain), so they get 1e-4, and an absolute
  // allowance of 1e-4 of the tensor's largest element: a reduction's rounding follows the size
  // of what it sums, so an element that cancels to a small value keeps the error of the large
  // ones (the clang build had a w3.grad element of -0.065 off by 1.7e-5, 2.6e-4 relative).
  EXPECT_TRUE(test::allclose(blocked[0], plain[0], 1e-5, 1e-5));
  for (size_t i = 1; i < plain.size(); ++i) {
    const double scale = plain[i].abs().max().item<double>();
    EXPECT_TRUE(test::allclose(blocked[i], plain[i], 1e-4, std::max(1e-5, 1e-4 * scale))) << i;
  }
  EXPECT_LT(kept_reorders, plain_reorders);
}

TEST_F(LayoutChain, AddOfDifferentOrPlainOperandsTakesThePlainPath) {
  Generator g(3);
  Tensor x = randn({2, 3, 6, 6}, g);
  Tensor w = randn({16, 3, 3, 3}, g);
  Tensor a = conv2d(x, w, Tensor(), 1, 1);
  ASSERT_TRUE(kept(a));
  Tensor plain = randn({2, 16, 6, 6}, g);
  Tensor s = a + plain;  // one operand plain: a plain add (a converts on read)
  EXPECT_FALSE(kept(s));
  EXPECT_TRUE(test::allclose(s, a.contiguous() + plain, 0, 0));
  EXPECT_FALSE(kept(a));  // reading it plain converted it back
  Tensor a2 = conv2d(x, w, Tensor(), 1, 1), b2 = conv2d(x, w * 2.0, Tensor(), 1, 1);
  Tensor t = a2.add(b2, 0.5);  // alpha honoured on the kept path
  EXPECT_TRUE(kept(t));
  EXPECT_TRUE(test::allclose(t, a2.contiguous() + b2.contiguous() * 0.5, 1e-6, 1e-6));
}

// Two oneDNN backwards meeting at one tensor (a residual block's input, h here): the engine
// sums their gradients in the kept layout, so the merge costs no reorder — the backward of
// two branches runs as many reorders as the backward of one — and the sum is the plain one.
TEST_F(LayoutChain, GradientsMeetingInTheSameLayoutAreSummedWithoutReorders) {
  Generator g(11);
  Tensor x = randn({2, 3, 8, 8}, g).set_requires_grad(true);
  Tensor w0 = (randn({16, 3, 3, 3}, g) * 0.3).set_requires_grad(true);
  Tensor wa = (randn({16, 16, 3, 3}, g) * 0.2).set_requires_grad(true);
  Tensor wb = (randn({16, 16, 3, 3}, g) * 0.2).set_requires_grad(true);
  Tensor r = randn({2, 16, 8, 8}, g);
  auto backward_reorders = [&](bool keep, bool two_branches, std::vector<Tensor>* grads) {
    dnn::set_keep_layouts(keep);
    for (Tensor t : {x, w0, wa, wb}) t.mutable_grad() = Tensor();
    Tensor h = conv2d(x, w0, Tensor(), 1, 1);
    Tensor out = conv2d(h, wa, Tensor(), 1, 1);
    if (two_branches) out = out + conv2d(h, wb, Tensor(), 1, 1);
    Tensor loss = (out * r).sum();
    dnn::reset_reorder_count();
    loss.backward();
    const uint64_t n = dnn::reorder_count();
    if (grads) *grads = {x.grad(), w0.grad(), wa.grad(), wb.grad()};
    return n;
  };
  for (int warm = 0; warm < 2; ++warm) backward_reorders(true, true, nullptr);
  const uint64_t one = backward_reorders(true, false, nullptr);
  std::vector<Tensor> kept_grads, plain_grads;
  const uint64_t two = backward_reorders(true, true, &kept_grads);
  // The second branch adds its own weight's reorders (its weights in, its weight gradient
  // out, as the first branch's): the same count as the first branch alone adds over x's conv.
  const uint64_t x_conv_only = [&] {
    dnn::set_keep_layouts(true);
    for (Tensor t : {x, w0}) t.mutable_grad() = Tensor();
    Tensor loss = (conv2d(x, w0, Tensor(), 1, 1) * r).sum();
    dnn::reset_reorder_count();
    loss.backward();
    return dnn::reorder_count();
  }();
  EXPECT_EQ(two - one, one - x_conv_only) << "one branch " << one << ", two " << two << ", x's conv " << x_conv_only;
  backward_reorders(false, true, &plain_grads);
  for (size_t i = 0; i < plain_grads.size(); ++i)
    EXPECT_TRUE(test::allclose(kept_grads[i], plain_grads[i], 1e-5, 1e-5)) << i;
}

// A backward function may write over a gradient only when nothing else can read it:
// exclusive_layout names the kept layout of a tensor whose handle, storage and layout are each
// held once, and add_into_exclusive_layout (the engine's sum of two gradients) adds into it
// only then; any other holder — a copy of the handle, a detached alias, the layout itself —
// keeps its values, and a tensor in a graph is never written over.
TEST_F(LayoutChain, GradientsAreWrittenOverOnlyWhenNothingElseReachesThem) {
  Generator g(12);
  const Tensor x = randn({2, 16, 6, 6}, g), w = randn({16, 16, 3, 3}, g) * 0.2;
  Tensor a = conv2d(x, w, Tensor(), 1, 1), b = conv2d(x, w * 2.0, Tensor(), 1, 1);
  ASSERT_TRUE(kept(a));
  ASSERT_TRUE(kept(b));
  // Their values read without converting them (reading a plain would drop its layout).
  const auto values = [](const Tensor& t) {
    Tensor out = empty(t.sizes());
    dnn::layout_of(*t.unsafeGetTensorImpl())->to_plain(out.data_ptr<float>());
    return out;
  };
  const Tensor a0 = values(a), b0 = values(b);
  EXPECT_NE(dnn::exclusive_layout(a), nullptr);
  EXPECT_EQ(dnn::exclusive_layout(Tensor()), nullptr);
  {
    const Tensor in_graph = conv2d(x.clone().set_requires_grad(true), w, Tensor(), 1, 1);
    ASSERT_TRUE(kept(in_graph));
    EXPECT_EQ(dnn::exclusive_layout(in_graph), nullptr) << "a tensor that requires grad";
  }
  {
    const Tensor copy = a;  // NOLINT(performance-unnecessary-copy-initialization): the point
    EXPECT_EQ(dnn::exclusive_layout(a), nullptr);
    EXPECT_FALSE(dnn::add_into_exclusive_layout(a, b));
  }
  {
    const Tensor alias = a.detach();
    EXPECT_EQ(dnn::exclusive_layout(a), nullptr);
    EXPECT_FALSE(dnn::add_into_exclusive_layout(a, b));
  }
  {
    const dnn::LayoutPtr held = dnn::layout_of(*a.unsafeGetTensorImpl());
    EXPECT_EQ(dnn::exclusive_layout(a), nullptr);
    EXPECT_FALSE(dnn::add_into_exclusive_layout(a, b));
  }
  EXPECT_TRUE(test::allclose(values(a), a0, 0, 0, "a, every refusal"));
  const float* before = dnn::layout_of(*a.unsafeGetTensorImpl())->data();
  EXPECT_TRUE(dnn::add_into_exclusive_layout(a, b));
  EXPECT_EQ(dnn::layout_of(*a.unsafeGetTensorImpl())->data(), before) << "the sum is written over a";
  EXPECT_TRUE(test::allclose(values(a), a0 + b0, 0, 0, "a + b"));
  EXPECT_TRUE(test::allclose(values(b), b0, 0, 0, "b"));
  EXPECT_FALSE(dnn::add_into_exclusive_layout(a, a0)) << "a plain operand";
}

}  // namespace
}  // namespace cnnkit
