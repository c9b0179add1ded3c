// Shape ops against PyTorch 1.13: views share storage, backward maps gradients back,
// joins/gathers/pad match torch values and gradients, and every error path throws the
// right cnnkit::Error. Inputs are seq(sizes): x_i = sin(0.7 i + 0.3) (torch: the same
// formula in float64, then .float()); backward seeds are seq with other constants.
#include <gtest/gtest.h>

#include <cmath>

#include "cnnkit/autograd/node.h"
#include "cnnkit/ops/reduce.h"
#include "cnnkit/ops/shape.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::allclose;
using cnnkit::test::seq;
using cnnkit::test::lit;

namespace {

using cnnkit::test::error_of;
using cnnkit::test::contains;

Tensor longs(std::vector<int64_t> v, std::vector<int64_t> sizes) {
  Tensor t = cnnkit::empty(sizes, kLong);
  std::copy(v.begin(), v.end(), t.data_ptr<int64_t>());
  return t;
}
std::vector<int64_t> as_longs(const Tensor& t) {
  std::vector<int64_t> out;
  for (float v : t.to_vector()) out.push_back(static_cast<int64_t>(v));
  return out;
}

}  // namespace

// ---- view / reshape -------------------------------------------------------------------------
TEST(View, SharesStorageAndInfersMinusOne) {
  Tensor x = seq({2, 3, 4});
  Tensor v = x.view({4, -1});
  EXPECT_EQ(v.sizes(), IntArrayRef({4, 6}));
  EXPECT_EQ(v.data_ptr(), x.data_ptr());
  v.data_ptr<float>()[5] = 42.0f;
  EXPECT_EQ(x.data_ptr<float>()[5], 42.0f);
}

TEST(View, BadSizesThrowLikeTorch) {
  Tensor x = seq({6});
  EXPECT_THROW(x.view({2, 5}), ShapeError);
  EXPECT_TRUE(contains(error_of([&] { x.view({2, 5}); }), "shape '[2, 5]' is invalid for input of size 6"));
  EXPECT_TRUE(contains(error_of([&] { x.view({-1, -1}); }), "only one dimension can be inferred"));
  EXPECT_THROW(x.view({-2, 3}), ShapeError);
  EXPECT_THROW(empty({0}).view({0, -1}), ShapeError);
}

TEST(View, NonViewableStridesThrowAndReshapeCopies) {
  // torch: seq(2,3,4)[0].t().reshape(12)
  Tensor x = seq({2, 3, 4});
  Tensor t = x.select(0, 0).t();
  std::string msg = error_of([&] { t.view({12}); });
  EXPECT_TRUE(contains(msg, "view size is not compatible with input tensor's size and stride")) << msg;
  EXPECT_TRUE(contains(msg, "Use .reshape(...) instead.")) << msg;
  Tensor r = t.reshape({12});
  EXPECT_NE(r.data_ptr(), x.data_ptr());
  EXPECT_TRUE(allclose(r, {0.29552022f, 0.041580662f, -0.37387666f, 0.84147096f, -0.61185789f, 0.31154135f,
                           0.99166483f, -0.97753012f, 0.85043663f, 0.6754632f, -0.88345468f, 0.98935825f},
                       1e-6, 1e-7));
  // A viewable reshape aliases.
  EXPECT_EQ(x.reshape({6, 4}).data_ptr(), x.data_ptr());
}

TEST(View, PermuteReshapeBackwardMatchesTorch) {
  // torch: x = seq(2,3,4); y = x.permute(2,0,1).reshape(4,6); y.backward(seq(4,6,a=0.3,b=0.1))
  Tensor x = seq({2, 3, 4}).requires_grad_();
  Tensor y = x.permute({2, 0, 1}).reshape({4, 6});
  EXPECT_TRUE(y.requires_grad());
  y.backward(seq({4, 6}, 0.3, 0.1));
  EXPECT_TRUE(allclose(x.grad(), lit({0.099833414f, 0.94630009f, -0.52983612f, -0.7055403f, 0.38941833f, 0.80849642f,
                                      -0.7568025f, -0.46460217f, 0.64421767f, 0.59847212f, -0.91616595f, -0.18216251f,
                                      0.84147096f, 0.33498815f, -0.99369103f, 0.1165492f, 0.9635582f, 0.041580662f,
                                      -0.98245263f, 0.40484992f, 0.99957359f, -0.25554112f, -0.88345468f, 0.65698659f},
                                     {2, 3, 4}),
                       1e-6, 1e-7));
}

TEST(View, FlattenUnflattenSqueezeUnsqueezeShapes) {
  Tensor x = seq({2, 1, 3, 4});
  EXPECT_EQ(x.flatten().sizes(), IntArrayRef({24}));
  EXPECT_EQ(x.flatten(1).sizes(), IntArrayRef({2, 12}));
  EXPECT_EQ(x.flatten(1, 2).sizes(), IntArrayRef({2, 3, 4}));
  EXPECT_EQ(flatten(empty({})).sizes(), IntArrayRef({1}));
  EXPECT_EQ(x.unflatten(3, {2, -1}).sizes(), IntArrayRef({2, 1, 3, 2, 2}));
  EXPECT_EQ(x.squeeze().sizes(), IntArrayRef({2, 3, 4}));
  EXPECT_EQ(x.squeeze(1).sizes(), IntArrayRef({2, 3, 4}));
  EXPECT_EQ(x.squeeze(0).sizes(), IntArrayRef({2, 1, 3, 4}));  // not size 1: unchanged
  EXPECT_EQ(x.unsqueeze(-1).sizes(), IntArrayRef({2, 1, 3, 4, 1}));
  EXPECT_EQ(x.unsqueeze(0).sizes(), IntArrayRef({1, 2, 1, 3, 4}));
  EXPECT_EQ(x.unsqueeze(2).data_ptr(), x.data_ptr());
  EXPECT_THROW(x.flatten(2, 1), ShapeError);
  EXPECT_THROW(x.unflatten(3, {3, 2}), ShapeError);
  EXPECT_TRUE(contains(error_of([&] { x.unflatten(3, {3, 2}); }), "don't multiply up to the size of dim 3 (4)"));
  EXPECT_THROW(x.unsqueeze(6), ShapeError);
  EXPECT_THROW(x.squeeze(4), ShapeError);
}

TEST(View, PermuteTransposeTAndErrors) {
  Tensor x = seq({2, 3, 4});
  Tensor p = x.permute({2, 0, 1});
  EXPECT_EQ(p.sizes(), IntArrayRef({4, 2, 3}));
  EXPECT_EQ(p.strides(), IntArrayRef({1, 12, 4}));
  EXPECT_EQ(x.transpose(0, -1).sizes(), IntArrayRef({4, 3, 2}));
  EXPECT_EQ(seq({3}).t().sizes(), IntArrayRef({3}));
  EXPECT_EQ(seq({2, 3}).t().strides(), IntArrayRef({1, 3}));
  EXPECT_THROW(x.permute({0, 1}), ShapeError);
  EXPECT_THROW(x.permute({0, 1, 1}), ShapeError);
  EXPECT_THROW(x.permute({0, 1, 3}), ShapeError);
  EXPECT_THROW(x.t(), ShapeError);
  EXPECT_THROW(x.transpose(0, 3), ShapeError);
}

// ---- slicing --------------------------------------------------------------------------------
TEST(Slice, StepAndNegativeStartMatchTorchWithGradient) {
  // torch: x = seq(4,5); y = x[1:4:2, -3:]; y.backward(seq(2,3,a=0.5,b=0.2))
  Tensor x = seq({4, 5}).requires_grad_();
  Tensor y = x.slice(0, 1, 4, 2).slice(1, -3);
  EXPECT_EQ(y.data_ptr(), static_cast<float*>(x.data_ptr()) + 7);
  EXPECT_TRUE(allclose(y, lit({-0.88345468f, -0.37387666f, 0.31154135f, -0.35822928f, 0.32747445f, 0.85916179f},
                              {2, 3}),
                       1e-6, 1e-7));
  y.backward(seq({2, 3}, 0.5, 0.2));
  EXPECT_TRUE(allclose(x.grad(), lit({0, 0, 0, 0, 0, 0, 0, 0.19866933f, 0.64421767f, 0.93203908f, 0, 0, 0, 0, 0, 0, 0,
                                      0.99166483f, 0.80849642f, 0.42737988f},
                                     {4, 5}),
                       1e-6, 1e-7));
}

TEST(Slice, ClampsOutOfRangeBoundsLikePython) {
  Tensor x = seq({5});
  EXPECT_EQ(x.slice(0, -100, 100).size(0), 5);
  EXPECT_EQ(x.slice(0, 4, 2).size(0), 0);
  EXPECT_EQ(x.slice(0, 1, std::nullopt, 3).size(0), 2);
  EXPECT_THROW(x.slice(0, 0, 5, 0), ValueError);
  EXPECT_THROW(empty({}).slice(0), ShapeError);
}

TEST(Select, NegativeIndexValuesAndGradient) {
  // torch: x = seq(4,5); y = x.select(1, -2); y.backward(seq(4,a=0.5,b=0.2))
  Tensor x = seq({4, 5}).requires_grad_();
  Tensor y = x.select(1, -2);
  EXPECT_TRUE(allclose(y, {0.6754632f, -0.37387666f, 0.024775425f, 0.32747445f}, 1e-6, 1e-7));
  y.backward(seq({4}, 0.5, 0.2));
  EXPECT_TRUE(allclose(x.grad(), lit({0, 0, 0, 0.19866933f, 0, 0, 0, 0, 0.64421767f, 0, 0, 0, 0, 0.93203908f, 0, 0, 0,
                                      0, 0.99166483f, 0},
                                     {4, 5}),
                       1e-6, 1e-7));
  EXPECT_FLOAT_EQ(x[2][1].item<float>(), x.data_ptr<float>()[11]);
  EXPECT_THROW(x.select(1, 5), ShapeError);
  EXPECT_TRUE(contains(error_of([&] { x.select(0, -5); }), "select(): index -5 out of range"));
  EXPECT_THROW(empty({}).select(0, 0), ShapeError);
}

TEST(Narrow, ValuesAndErrors) {
  Tensor x = seq({4, 5});
  Tensor n = x.narrow(1, -2, 2);
  EXPECT_EQ(n.sizes(), IntArrayRef({4, 2}));
  EXPECT_EQ(n.data_ptr(), static_cast<float*>(x.data_ptr()) + 3);
  EXPECT_THROW(x.narrow(1, 4, 2), ShapeError);
  EXPECT_TRUE(contains(error_of([&] { x.narrow(1, 4, 2); }), "start (4) + length (2) exceeds dimension size (5)."));
  EXPECT_THROW(x.narrow(0, 6, 0), ShapeError);
  EXPECT_THROW(x.narrow(0, 0, -1), ShapeError);
}

// ---- expand / repeat ------------------------------------------------------------------------
TEST(Expand, ZeroStridesAndGradientSumsBack) {
  // torch: x = seq(3,1); x.expand(2,3,4).backward(seq(2,3,4,a=0.2,b=0.1))
  Tensor x = seq({3, 1}).requires_grad_();
  Tensor y = x.expand({2, 3, 4});
  EXPECT_EQ(y.strides(), IntArrayRef({0, 1, 0}));
  EXPECT_EQ(y.data_ptr(), x.data_ptr());
  y.backward(seq({2, 3, 4}, 0.2, 0.1));
  EXPECT_TRUE(allclose(x.grad(), lit({2.8256788f, 1.9094563f, -0.16501713f}, {3, 1}), 1e-5, 1e-6));
  EXPECT_EQ(x.expand({-1, 2}).sizes(), IntArrayRef({3, 2}));
}

TEST(Expand, ErrorsNameTheSizes) {
  Tensor x = seq({2, 3});
  std::string msg = error_of([&] { x.expand({2, 4}); });
  EXPECT_TRUE(contains(msg, "The expanded size of the tensor (4) must match the existing size (3) at non-singleton "
                            "dimension 1")) << msg;
  EXPECT_THROW(x.expand({3}), ShapeError);
  EXPECT_THROW(x.expand({-1, 2, 3}), ShapeError);
}

TEST(Repeat, ValuesAndGradientMatchTorch) {
  // torch: x = seq(2,3); y = x.repeat(2,1,2); y.backward(seq(2,2,6,a=0.3))
  Tensor x = seq({2, 3}).requires_grad_();
  Tensor y = x.repeat({2, 1, 2});
  EXPECT_EQ(y.sizes(), IntArrayRef({2, 2, 6}));
  std::vector<float> row0 = {0.29552022f, 0.84147096f, 0.99166483f, 0.29552022f, 0.84147096f, 0.99166483f},
                     row1 = {0.6754632f, 0.041580662f, -0.61185789f, 0.6754632f, 0.041580662f, -0.61185789f};
  std::vector<float> expect;
  for (int r = 0; r < 2; ++r) {
    expect.insert(expect.end(), row0.begin(), row0.end());
    expect.insert(expect.end(), row1.begin(), row1.end());
  }
  EXPECT_TRUE(allclose(y, expect, 1e-6, 1e-7));
  y.backward(seq({2, 2, 6}, 0.3));
  EXPECT_TRUE(allclose(x.grad(), lit({-0.45637146f, -0.23525298f, 0.0068799257f, 0.76518518f, 0.81674182f,
                                      0.79534119f},
                                     {2, 3}),
                       1e-5, 1e-6));
  EXPECT_THROW(x.repeat({2}), ShapeError);
}

// ---- split / chunk / unbind -----------------------------------------------------------------
TEST(Split, PiecesAreViewsAndUnusedPiecesGetZeroGradient) {
  // torch: x = seq(5,2); p = x.split(2); (p[0].sum() + (p[2] * G).sum()).backward(), G = [sin .5, sin 1.5]
  Tensor x = seq({5, 2}).requires_grad_();
  std::vector<Tensor> p = x.split(2, 0);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[2].sizes(), IntArrayRef({1, 2}));
  EXPECT_EQ(p[1].data_ptr(), static_cast<float*>(x.data_ptr()) + 4);
  Tensor one = lit({1.0f}, {});
  autograd::backward({sum(p[0]), p[2]}, {one, seq({1, 2}, 1.0, 0.5)}, false);
  EXPECT_TRUE(allclose(x.grad(), lit({1, 1, 1, 1, 0, 0, 0, 0, 0.47942555f, 0.997495f}, {5, 2}), 1e-6, 1e-7));
}

TEST(Split, ChunkAndUnbindSizesAndErrors) {
  Tensor x = seq({7, 3});
  std::vector<Tensor> c = x.chunk(3);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].size(0), 3);
  EXPECT_EQ(c[2].size(0), 1);
  std::vector<Tensor> u = x.unbind(1);
  ASSERT_EQ(u.size(), 3u);
  EXPECT_EQ(u[1].sizes(), IntArrayRef({7}));
  EXPECT_FLOAT_EQ(u[1].to_vector()[2], x.to_vector()[7]);
  EXPECT_THROW(x.chunk(0), ValueError);
  EXPECT_THROW(x.split(0), ValueError);
  EXPECT_THROW(x.split(2, 2), ShapeError);
}

TEST(Split, UnbindBackwardStacksGradients) {
  Tensor x = seq({2, 3}).requires_grad_();
  std::vector<Tensor> u = x.unbind(1);
  u[1].backward(lit({5.0f, 7.0f}, {2}));
  EXPECT_TRUE(allclose(x.grad(), lit({0, 5, 0, 0, 7, 0}, {2, 3}), 0, 0));
}

// ---- cat / stack ----------------------------------------------------------------------------
TEST(Cat, ValuesAndGradientsMatchTorch) {
  // torch: a = seq(2,3); b = seq(2,1,a=0.4); y = torch.cat([a,b],1); y.backward(seq(2,4,a=0.9,b=0.1))
  Tensor a = seq({2, 3}).requires_grad_(), b = seq({2, 1}, 0.4).requires_grad_();
  Tensor y = cat({a, b}, 1);
  EXPECT_TRUE(allclose(y, lit({0.29552022f, 0.84147096f, 0.99166483f, 0.29552022f, 0.6754632f, 0.041580662f,
                               -0.61185789f, 0.64421767f},
                              {2, 4}),
                       1e-6, 1e-7));
  y.backward(seq({2, 4}, 0.9, 0.1));
  EXPECT_TRUE(allclose(a.grad(), lit({0.099833414f, 0.84147096f, 0.94630009f, -0.52983612f, -0.99369103f,
                                      -0.7055403f},
                                     {2, 3}),
                       1e-6, 1e-7));
  EXPECT_TRUE(allclose(b.grad(), lit({0.33498815f, 0.1165492f}, {2, 1}), 1e-6, 1e-7));
}

TEST(Cat, NonContiguousInputsPromotionAndLegacyEmpty) {
  Tensor a = seq({3, 2}).t();  // (2, 3), transposed strides
  Tensor y = cat({a, empty({0}), seq({1, 3})}, 0);
  EXPECT_EQ(y.sizes(), IntArrayRef({3, 3}));
  std::vector<float> v = y.to_vector(), av = a.reshape({6}).to_vector();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(v[i], av[i]);
  Tensor l = longs({1, 2}, {1, 2});
  Tensor f = cat({l, seq({1, 2})}, 0);
  EXPECT_EQ(f.dtype(), kFloat);
  EXPECT_EQ(f.to_vector()[1], 2.0f);
  EXPECT_EQ(cat({l, l}, -1).dtype(), kLong);
}

TEST(Cat, ErrorsNameTheOffendingTensor) {
  std::string msg = error_of([] { cat({seq({2, 3}), seq({2, 4})}, 0); });
  EXPECT_TRUE(contains(msg, "Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 for "
                            "tensor number 1 in the list.")) << msg;
  EXPECT_THROW(cat({seq({2, 3}), seq({2, 3, 1})}, 0), ShapeError);
  EXPECT_THROW(cat({}, 0), ValueError);
  EXPECT_THROW(cat({seq({2}), empty({})}, 0), ShapeError);
  EXPECT_THROW(cat({seq({2, 3})}, 2), ShapeError);
}

TEST(Stack, NewDimAndErrors) {
  // torch: torch.stack([seq(2,3), seq(2,3,a=0.4)], 1)
  Tensor y = stack({seq({2, 3}), seq({2, 3}, 0.4)}, 1);
  EXPECT_TRUE(allclose(y, lit({0.29552022f, 0.84147096f, 0.99166483f, 0.29552022f, 0.64421767f, 0.89120734f,
                               0.6754632f, 0.041580662f, -0.61185789f, 0.997495f, 0.94630009f, 0.74570519f},
                              {2, 2, 3}),
                       1e-6, 1e-7));
  EXPECT_EQ(stack({seq({2, 3}), seq({2, 3})}, -1).sizes(), IntArrayRef({2, 3, 2}));
  std::string msg = error_of([] { stack({seq({2, 3}), seq({2, 4})}, 0); });
  EXPECT_TRUE(contains(msg, "stack expects each tensor to be equal size, but got [2, 3] at entry 0 and [2, 4] at "
                            "entry 1")) << msg;
  EXPECT_THROW(stack({}, 0), ValueError);
}

// ---- gathers --------------------------------------------------------------------------------
TEST(IndexSelect, RepeatedIndicesAccumulateGradient) {
  // torch: x = seq(3,4); y = x.index_select(1, [2,0,2]); y.backward(seq(3,3,a=0.6))
  Tensor x = seq({3, 4}).requires_grad_();
  Tensor y = x.index_select(1, longs({2, 0, 2}, {3}));
  EXPECT_TRUE(allclose(y, lit({0.99166483f, 0.29552022f, 0.99166483f, -0.97753012f, 0.041580662f, -0.97753012f,
                               0.85043663f, -0.37387666f, 0.85043663f},
                              {3, 3}),
                       1e-6, 1e-7));
  y.backward(seq({3, 3}, 0.6));
  EXPECT_TRUE(allclose(x.grad(), lit({0.78332692f, 0, 1.2930152f, 0, 0.42737988f, 0, 0.70546365f, 0, -0.97753012f, 0,
                                      -1.6135808f, 0},
                                     {3, 4}),
                       1e-6, 1e-7));
}

TEST(IndexSelect, Errors) {
  Tensor x = seq({3, 4});
  EXPECT_THROW(x.index_select(1, longs({4}, {1})), ShapeError);
  EXPECT_THROW(x.index_select(1, longs({-1}, {1})), ShapeError);
  EXPECT_THROW(x.index_select(1, seq({1})), TypeError);
  EXPECT_THROW(x.index_select(1, longs({0, 1}, {1, 2})), ShapeError);
  EXPECT_THROW(x.index_select(2, longs({0}, {1})), ShapeError);
}

TEST(Gather, ValuesAndScatterAddGradient) {
  // torch: x = seq(3,4); y = x.gather(1, [[0,0],[3,1],[2,2]]); y.backward(seq(3,2,a=0.6))
  Tensor x = seq({3, 4}).requires_grad_();
  Tensor y = x.gather(1, longs({0, 0, 3, 1, 2, 2}, {3, 2}));
  EXPECT_TRUE(allclose(y, lit({0.29552022f, 0.29552022f, -0.88345468f, -0.61185789f, 0.85043663f, 0.85043663f},
                              {3, 2}),
                       1e-6, 1e-7));
  y.backward(seq({3, 2}, 0.6));
  EXPECT_TRUE(allclose(x.grad(), lit({1.0788472f, 0, 0, 0, 0, 0.86320937f, 0, 0.997495f, 0, 0, 0.26963419f, 0},
                                     {3, 4}),
                       1e-6, 1e-7));
  // On a transposed (non-contiguous) input: same values as on its contiguous copy.
  Tensor xt = seq({4, 3}).t();
  Tensor g1 = xt.gather(0, longs({1, 0, 2}, {1, 3}));
  Tensor g2 = xt.reshape({12}).reshape({3, 4}).gather(0, longs({1, 0, 2}, {1, 3}));
  EXPECT_TRUE(allclose(g1, g2, 0, 0));
}

TEST(Gather, Errors) {
  Tensor x = seq({3, 4});
  EXPECT_THROW(x.gather(1, longs({4}, {1, 1})), ShapeError);
  EXPECT_TRUE(contains(error_of([&] { x.gather(1, longs({4}, {1, 1})); }), "index 4 is out of bounds for dimension 1 "
                                                                            "with size 4"));
  EXPECT_THROW(x.gather(1, longs({0}, {1})), ShapeError);
  EXPECT_THROW(x.gather(1, longs({0, 0, 0, 0}, {4, 1})), ShapeError);
  EXPECT_THROW(x.gather(1, seq({1, 1})), TypeError);
}

TEST(OneHot, ValuesInferredClassesAndErrors) {
  Tensor y = one_hot(longs({2, 0, 1}, {3}), 4);
  EXPECT_EQ(y.dtype(), kLong);
  EXPECT_EQ(as_longs(y), (std::vector<int64_t>{0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(one_hot(longs({2, 0}, {2, 1})).sizes(), IntArrayRef({2, 1, 3}));
  EXPECT_THROW(one_hot(longs({-1}, {1}), 3), ValueError);
  EXPECT_THROW(one_hot(longs({3}, {1}), 3), ValueError);
  EXPECT_THROW(one_hot(empty({0}, kLong)), ValueError);
  EXPECT_THROW(seq({3}).one_hot(3), TypeError);
}

// ---- pad ------------------------------------------------------------------------------------
struct PadCase {
  const char* mode;
  std::vector<int64_t> pad;
  std::vector<float> out, grad;
};

TEST(Pad, OneDimModesMatchTorch) {
  // torch: x = seq(1,2,3); y = F.pad(x, pad, mode) (value=1.5 for constant); y.backward(seq(*y.shape, a=0.45))
  std::vector<PadCase> cases = {
      {"constant", {1, 2},
       {1.5f, 0.29552022f, 0.84147096f, 0.99166483f, 1.5f, 1.5f, 1.5f, 0.6754632f, 0.041580662f, -0.61185789f, 1.5f,
        1.5f},
       {0.68163878f, 0.93203908f, 0.99686503f, -0.30354151f, -0.68776613f, -0.93505257f}},
      {"reflect", {2, 1},
       {0.99166483f, 0.84147096f, 0.29552022f, 0.84147096f, 0.99166483f, 0.84147096f, -0.61185789f, 0.041580662f,
        0.6754632f, 0.041580662f, -0.61185789f, 0.041580662f},
       {0.93203908f, 2.2361875f, 1.1587296f, -0.68776613f, -2.0975285f, -0.8550446f}},
      {"replicate", {1, 2},
       {0.29552022f, 0.29552022f, 0.84147096f, 0.99166483f, 0.99166483f, 0.99166483f, 0.6754632f, 0.6754632f,
        0.041580662f, -0.61185789f, -0.61185789f, -0.61185789f},
       {0.97715902f, 0.93203908f, 2.417758f, -0.16242151f, -0.68776613f, -2.7901516f}},
      {"circular", {2, 3},
       {0.84147096f, 0.99166483f, 0.29552022f, 0.84147096f, 0.99166483f, 0.29552022f, 0.84147096f, 0.99166483f,
        0.041580662f, -0.61185789f, 0.6754632f, 0.041580662f, -0.61185789f, 0.6754632f, 0.041580662f, -0.61185789f},
       {1.4897227f, 1.4335052f, 1.2413065f, -1.1289566f, -1.2351594f, -0.79189312f}},
  };
  for (const PadCase& c : cases) {
    Tensor x = seq({1, 2, 3}).requires_grad_();
    Tensor y = pad(x, c.pad, c.mode, 1.5);
    EXPECT_TRUE(allclose(y, c.out, 1e-6, 1e-7, c.mode));
    y.backward(seq(y.sizes().vec(), 0.45));
    EXPECT_TRUE(allclose(x.grad(), c.grad, 1e-5, 1e-6, std::string(c.mode) + " grad"));
  }
}

TEST(Pad, TwoDimModesMatchTorch) {
  // torch: x = seq(1,1,3,3); y = F.pad(x, (1,1,2,0), mode); y.backward(seq(*y.shape, a=0.45))
  std::vector<PadCase> cases = {
      {"reflect", {1, 1, 2, 0},
       {-0.88345468f, -0.97753012f, -0.88345468f, -0.37387666f, -0.88345468f, 0.041580662f, 0.6754632f, 0.041580662f,
        -0.61185789f, 0.041580662f, 0.84147096f, 0.29552022f, 0.84147096f, 0.99166483f, 0.84147096f, 0.041580662f,
        0.6754632f, 0.041580662f, -0.61185789f, 0.041580662f, -0.88345468f, -0.97753012f, -0.88345468f, -0.37387666f,
        -0.88345468f},
       {-0.85893452f, -1.2353089f, -0.13279191f, 1.0791199f, 1.5519769f, 0.16683275f, 0.36211959f, 0.52079606f,
        0.055983961f}},
      {"replicate", {1, 1, 2, 0},
       {0.29552022f, 0.29552022f, 0.84147096f, 0.99166483f, 0.99166483f, 0.29552022f, 0.29552022f, 0.84147096f,
        0.99166483f, 0.99166483f, 0.29552022f, 0.29552022f, 0.84147096f, 0.99166483f, 0.99166483f, 0.6754632f,
        0.6754632f, 0.041580662f, -0.61185789f, -0.61185789f, -0.97753012f, -0.97753012f, -0.88345468f, -0.37387666f,
        -0.37387666f},
       {-0.17913646f, 0.077812076f, 0.41600507f, 1.631845f, 0.99539375f, 1.3982472f, -0.19506477f, -0.6998747f,
        -1.9354336f}},
      {"circular", {1, 1, 2, 0},
       {-0.61185789f, 0.6754632f, 0.041580662f, -0.61185789f, 0.6754632f, -0.37387666f, -0.97753012f, -0.88345468f,
        -0.37387666f, -0.97753012f, 0.99166483f, 0.29552022f, 0.84147096f, 0.99166483f, 0.29552022f, -0.61185789f,
        0.6754632f, 0.041580662f, -0.61185789f, 0.6754632f, -0.37387666f, -0.97753012f, -0.88345468f, -0.37387666f,
        -0.97753012f},
       {-0.5473932f, -0.55068552f, -1.1289566f, 3.0264964f, 1.9274328f, 2.8408291f, -2.1080043f, -1.0034162f,
        -0.94650906f}},
  };
  for (const PadCase& c : cases) {
    Tensor x = seq({1, 1, 3, 3}).requires_grad_();
    Tensor y = pad(x, c.pad, c.mode);
    EXPECT_EQ(y.sizes(), IntArrayRef({1, 1, 5, 5}));
    EXPECT_TRUE(allclose(y, c.out, 1e-6, 1e-7, c.mode));
    y.backward(seq(y.sizes().vec(), 0.45));
    EXPECT_TRUE(allclose(x.grad(), c.grad, 1e-5, 1e-6, std::string(c.mode) + " grad"));
  }
}

TEST(Pad, ThreeDimReplicateAndNegativeConstantMatchTorch) {
  // torch: x = seq(1,1,2,2,2); y = F.pad(x, (1,0,0,1,1,1), 'replicate'); y.backward(seq(*y.shape, a=0.45))
  Tensor x = seq({1, 1, 2, 2, 2}).requires_grad_();
  Tensor y = pad(x, {1, 0, 0, 1, 1, 1}, "replicate");
  EXPECT_EQ(y.sizes(), IntArrayRef({1, 1, 4, 3, 3}));
  EXPECT_NEAR(sum(y).item<float>(), 1.0887412f, 1e-5);
  y.backward(seq(y.sizes().vec(), 0.45));
  EXPECT_TRUE(allclose(x.grad(), {-0.95405817f, 0.07310456f, 2.6460204f, 1.1768527f, 1.6096135f, 0.83030939f,
                                  -0.28959972f, -0.96711367f},
                       1e-5, 1e-6));
  // torch: x = seq(2,3); y = F.pad(x, (-1,1,1,0)); y.backward(seq(*y.shape, a=0.45))
  Tensor x2 = seq({2, 3}).requires_grad_();
  Tensor y2 = pad(x2, {-1, 1, 1, 0});
  EXPECT_TRUE(allclose(y2, lit({0, 0, 0, 0.84147096f, 0.99166483f, 0, 0.041580662f, -0.61185789f, 0}, {3, 3}), 1e-6,
                       1e-7));
  y2.backward(seq({3, 3}, 0.45));
  EXPECT_TRUE(allclose(x2.grad(), {0, 0.99686503f, 0.86320937f, 0, 0.14112f, -0.30354151f}, 1e-6, 1e-7));
}

TEST(Pad, IntegerConstantPad) {
  Tensor y = pad(longs({1, 2}, {2}), {1, 1}, "constant", 7);
  EXPECT_EQ(y.dtype(), kLong);
  EXPECT_EQ(as_longs(y), (std::vector<int64_t>{7, 1, 2, 7}));
}

TEST(Pad, ErrorsFollowTorchChecks) {
  Tensor x = seq({1, 2, 3});
  std::string msg = error_of([&] { pad(x, {3, 3}, "reflect"); });
  EXPECT_TRUE(contains(msg, "Padding size should be less than the corresponding input dimension, but got: padding "
                            "(3, 3) at dimension 2 of input [1, 2, 3]")) << msg;
  EXPECT_THROW(pad(x, {3, 3}, "reflect"), ShapeError);
  EXPECT_THROW(pad(x, {1}), ShapeError);
  EXPECT_THROW(pad(x, {1, 1, 1, 1, 1, 1, 1, 1}), ShapeError);
  EXPECT_THROW(pad(x, {4, 1}, "circular"), ShapeError);
  EXPECT_THROW(pad(seq({6}), {1, 1}, "reflect"), NotImplementedError);
  EXPECT_THROW(pad(x, {1, 1, 1, 1, 1, 1}, "replicate"), NotImplementedError);
  EXPECT_THROW(pad(x, {1, 1}, "foo"), NotImplementedError);
  EXPECT_THROW(pad(x, {-4, 0}), ShapeError);
  EXPECT_THROW(pad(empty({1, 1, 0}), {1, 1}, "replicate"), ShapeError);
}

TEST(Clone, FreeFunctionCopies) {
  Tensor x = seq({2, 2});
  Tensor c = clone(x);
  EXPECT_NE(c.data_ptr(), x.data_ptr());
  EXPECT_TRUE(allclose(c, x, 0, 0));
}
