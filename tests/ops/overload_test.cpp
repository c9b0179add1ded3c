// Integer literals reach the parameter LibTorch gives them. C++ prefers a standard conversion
// (int -> bool) to a user-defined one (int -> IntArrayRef), so without LibTorch's int
// overloads x.var(1) meant var(unbiased=true) over everything (gh-40287). Every call below is
// written with plain int literals, as user code is, and checked against PyTorch 1.13:
//   a = torch.tensor([[1., 2, 4], [3, 5, 9]])
#include <gtest/gtest.h>

#include <cstddef>
#include <type_traits>

#include "cnnkit/ops/ops.h"
#include "test_util.h"

using namespace cnnkit;
using test::allclose;

namespace {

Tensor a() { return tensor({{1.0f, 2.0f, 4.0f}, {3.0f, 5.0f, 9.0f}}); }

std::vector<int64_t> ints(const Tensor& t) {
  std::vector<int64_t> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.contiguous().data_ptr<int64_t>()[i];
  return v;
}

// pad(x, {1, 1}, 0) must not compile (0 would be a null mode string).
template <typename T>
constexpr bool pad_takes_literal_zero_as_mode = requires(const T& x) { cnnkit::pad(x, IntArrayRef{1, 1}, 0); };
static_assert(!pad_takes_literal_zero_as_mode<Tensor>);

}  // namespace

// a.var(1) -> tensor([2.3333, 9.3333]): dim 1, unbiased (not the variance of all six values).
TEST(IntOverloads, VarAndStdMethodsTakeAnIntAsTheDim) {
  const Tensor x = a();
  Tensor v = x.var(1);
  EXPECT_EQ(v.sizes(), IntArrayRef({2}));
  EXPECT_TRUE(allclose(v, {7.0f / 3, 28.0f / 3}, 1e-6, 1e-6, "a.var(1)"));
  EXPECT_TRUE(allclose(x.var(0), {2.0f, 4.5f, 12.5f}, 1e-6, 1e-6, "a.var(0)"));
  EXPECT_TRUE(allclose(x.var(-1), {7.0f / 3, 28.0f / 3}, 1e-6, 1e-6, "a.var(-1)"));
  EXPECT_TRUE(allclose(x.var({1}), {7.0f / 3, 28.0f / 3}, 1e-6, 1e-6, "a.var({1})"));
  Tensor s = x.std(1);
  EXPECT_EQ(s.sizes(), IntArrayRef({2}));
  EXPECT_TRUE(allclose(s, {1.5275251865f, 3.0550503731f}, 1e-6, 1e-6, "a.std(1)"));
  EXPECT_TRUE(allclose(x.std({0}), {1.4142135382f, 2.1213202477f, 3.5355339050f}, 1e-6, 1e-6, "a.std({0})"));
}

// a.var(1, False) -> tensor([1.5556, 6.2222]); a.var(1, True, True).shape == (2, 1).
TEST(IntOverloads, VarWithDimThenFlagsKeepsLibTorchsMeaning) {
  const Tensor x = a();
  EXPECT_TRUE(allclose(x.var(1, false), {14.0f / 9, 56.0f / 9}, 1e-6, 1e-6, "a.var(1, false)"));
  Tensor k = x.var(1, true, true);
  EXPECT_EQ(k.sizes(), IntArrayRef({2, 1}));
  EXPECT_TRUE(allclose(k, {7.0f / 3, 28.0f / 3}, 1e-6, 1e-6, "a.var(1, true, true)"));
  EXPECT_EQ(x.std(0, false, true).sizes(), IntArrayRef({1, 3}));
}

// a.var(True) == 8, a.var(False) == 6.6667, a.var() == 8: a bool still means unbiased.
TEST(IntOverloads, BoolArgumentStillMeansUnbiased) {
  const Tensor x = a();
  EXPECT_EQ(x.var(true).dim(), 0);
  EXPECT_NEAR(x.var(true).item<float>(), 8.0f, 1e-6);
  EXPECT_NEAR(x.var(false).item<float>(), 40.0f / 6, 1e-6);
  EXPECT_NEAR(x.var().item<float>(), 8.0f, 1e-6);
  EXPECT_NEAR(x.std(false).item<float>(), std::sqrt(40.0f / 6), 1e-6);
  EXPECT_NEAR(cnnkit::var(x, false).item<float>(), 40.0f / 6, 1e-6);
  EXPECT_NEAR(cnnkit::std(x).item<float>(), std::sqrt(8.0f), 1e-6);
}

// torch.var(a, 1), torch.std(a, 0), torch.var_mean(a, 1) -> ([2.3333, 9.3333], [2.3333, 5.6667]).
TEST(IntOverloads, FreeVarStdAndVarMeanTakeAnIntAsTheDim) {
  const Tensor x = a();
  EXPECT_TRUE(allclose(cnnkit::var(x, 1), {7.0f / 3, 28.0f / 3}, 1e-6, 1e-6, "var(a, 1)"));
  EXPECT_TRUE(allclose(cnnkit::std(x, 0), {1.4142135382f, 2.1213202477f, 3.5355339050f}, 1e-6, 1e-6, "std(a, 0)"));
  EXPECT_TRUE(allclose(cnnkit::std(x, {0}), {1.4142135382f, 2.1213202477f, 3.5355339050f}, 1e-6, 1e-6,
                       "std(a, {0})"));
  EXPECT_TRUE(allclose(cnnkit::var(x, 1, false), {14.0f / 9, 56.0f / 9}, 1e-6, 1e-6, "var(a, 1, false)"));
  auto [v, m] = var_mean(x, 1);
  EXPECT_TRUE(allclose(v, {7.0f / 3, 28.0f / 3}, 1e-6, 1e-6, "var_mean(a, 1).var"));
  EXPECT_TRUE(allclose(m, {7.0f / 3, 17.0f / 3}, 1e-6, 1e-6, "var_mean(a, 1).mean"));
}

// b = torch.arange(12.).view(2, 3, 2): b.std(2) is 0.7071 everywhere, b.var(-1, keepdim=True) (2, 3, 1).
TEST(IntOverloads, VarIntOverloadIsDifferentiableLikeTheDimForm) {
  Tensor b = arange(12, kFloat).view({2, 3, 2}).set_requires_grad(true);
  Tensor s = b.std(2);
  EXPECT_EQ(s.sizes(), IntArrayRef({2, 3}));
  EXPECT_TRUE(allclose(s, std::vector<float>(6, 0.70710677f), 1e-6, 1e-6, "b.std(2)"));
  EXPECT_EQ(b.var(-1, true, true).sizes(), IntArrayRef({2, 3, 1}));
  b.var(1).sum().backward();
  // d/dx of the unbiased variance over 3 values: 2 (x - mean) / 2.
  EXPECT_TRUE(allclose(b.grad(), {-2, -2, 0, 0, 2, 2, -2, -2, 0, 0, 2, 2}, 1e-6, 1e-6, "grad of b.var(1).sum()"));
}

// a.sum(1) -> [7, 17], a.mean(1, True) (2, 1), a.sum(0) -> [4, 7, 13]: dim, not dtype.
TEST(IntOverloads, SumAndMeanTakeAnIntAsTheDim) {
  const Tensor x = a();
  EXPECT_TRUE(allclose(x.sum(1), {7, 17}, 0, 0, "a.sum(1)"));
  EXPECT_TRUE(allclose(x.sum(0), {4, 7, 13}, 0, 0, "a.sum(0)"));
  EXPECT_TRUE(allclose(x.sum({1}), {7, 17}, 0, 0, "a.sum({1})"));
  EXPECT_EQ(x.sum(1, true).sizes(), IntArrayRef({2, 1}));
  EXPECT_EQ(x.sum({0, 1}).dim(), 0);
  EXPECT_TRUE(allclose(x.mean(1), {7.0f / 3, 17.0f / 3}, 1e-6, 1e-6, "a.mean(1)"));
  EXPECT_EQ(x.mean(1, true).sizes(), IntArrayRef({2, 1}));
  EXPECT_TRUE(allclose(cnnkit::sum(x, 1), {7, 17}, 0, 0, "sum(a, 1)"));
  EXPECT_TRUE(allclose(cnnkit::mean(x, 0, true), {2, 3.5f, 6.5f}, 1e-6, 1e-6, "mean(a, 0, true)"));
}

// a.max(1) -> ([4, 9], [2, 2]); a.min(0, True) -> ([[1, 2, 4]], [[0, 0, 0]]);
// a.argmax(1) -> [2, 2]; a.amax(0, True) -> [[3, 5, 9]].
TEST(IntOverloads, MaxMinArgmaxAmaxTakeAnIntAsTheDimAndKeepdim) {
  const Tensor x = a();
  auto [mv, mi] = x.max(1);
  EXPECT_TRUE(allclose(mv, {4, 9}, 0, 0, "a.max(1).values"));
  EXPECT_EQ(ints(mi), std::vector<int64_t>({2, 2}));
  auto [nv, ni] = x.min(0, true);
  EXPECT_EQ(nv.sizes(), IntArrayRef({1, 3}));
  EXPECT_TRUE(allclose(nv, {1, 2, 4}, 0, 0, "a.min(0, true).values"));
  EXPECT_EQ(ints(ni), std::vector<int64_t>({0, 0, 0}));
  EXPECT_EQ(ints(x.argmax(1)), std::vector<int64_t>({2, 2}));
  EXPECT_EQ(x.argmax(0, true).sizes(), IntArrayRef({1, 3}));
  EXPECT_EQ(ints(cnnkit::argmin(x, 1)), std::vector<int64_t>({0, 0}));
  Tensor am = x.amax(0, true);
  EXPECT_EQ(am.sizes(), IntArrayRef({1, 3}));
  EXPECT_TRUE(allclose(am, {3, 5, 9}, 0, 0, "a.amax(0, true)"));
  EXPECT_TRUE(allclose(cnnkit::amin(x, 1), {1, 3}, 0, 0, "amin(a, 1)"));
}

// a.norm(2, 1) -> [4.5826, 10.7238]; a.norm(1) -> 24 (p, not a dim);
// a.logsumexp(1) -> [4.1698, 9.0206].
TEST(IntOverloads, NormTakesAnIntAsPAndLogsumexpAsTheDim) {
  const Tensor x = a();
  EXPECT_NEAR(x.norm(1).item<float>(), 24.0f, 1e-5);
  EXPECT_EQ(x.norm(1).dim(), 0);
  EXPECT_TRUE(allclose(x.norm(2, 1), {4.5825757980f, 10.7238054276f}, 1e-6, 1e-6, "a.norm(2, 1)"));
  EXPECT_EQ(x.norm(2, 1, true).sizes(), IntArrayRef({2, 1}));
  EXPECT_TRUE(allclose(x.logsumexp(1), {4.1698460579f, 9.0205812454f}, 1e-6, 1e-6, "a.logsumexp(1)"));
}

// a.softmax(1)[0] -> [0.0420, 0.1142, 0.8438]; a.log_softmax(0)[0] -> [-2.1269, -3.0486, -5.0067].
TEST(IntOverloads, SoftmaxTakesAnIntAsTheDim) {
  const Tensor x = a();
  EXPECT_TRUE(allclose(x.softmax(1).select(0, 0), {0.0420100652f, 0.1141951904f, 0.8437947035f}, 1e-6, 1e-6,
                       "a.softmax(1)[0]"));
  EXPECT_TRUE(allclose(x.log_softmax(0).select(0, 0), {-2.1269280911f, -3.0485873222f, -5.0067152977f}, 1e-6, 1e-6,
                       "a.log_softmax(0)[0]"));
}

// a.topk(2, 1) -> ([[4, 2], [9, 5]], [[2, 1], [2, 1]]); a.topk(1, 0, False) -> ([[1, 2, 4]], [[0, 0, 0]]);
// a.sort(1, True) -> ([[4, 2, 1], [9, 5, 3]], [[2, 1, 0], [2, 1, 0]]).
TEST(IntOverloads, TopkAndSortTakeIntsAsKDimAndFlags) {
  const Tensor x = a();
  auto [tv, ti] = x.topk(2, 1);
  EXPECT_TRUE(allclose(tv, {4, 2, 9, 5}, 0, 0, "a.topk(2, 1).values"));
  EXPECT_EQ(ints(ti), std::vector<int64_t>({2, 1, 2, 1}));
  auto [sv, si] = x.topk(1, 0, false);
  EXPECT_EQ(sv.sizes(), IntArrayRef({1, 3}));
  EXPECT_TRUE(allclose(sv, {1, 2, 4}, 0, 0, "a.topk(1, 0, false).values"));
  EXPECT_EQ(ints(si), std::vector<int64_t>({0, 0, 0}));
  auto [ov, oi] = x.sort(1, true);
  EXPECT_TRUE(allclose(ov, {4, 2, 1, 9, 5, 3}, 0, 0, "a.sort(1, true).values"));
  EXPECT_EQ(ints(oi), std::vector<int64_t>({2, 1, 0, 2, 1, 0}));
  EXPECT_EQ(ints(argsort(x, 1, true)), std::vector<int64_t>({2, 1, 0, 2, 1, 0}));
}

// torch.full((2,), 7).dtype == int64, torch.full((2,), True).dtype == bool,
// torch.tensor([True, False]).dtype == bool: the fill value's type sets the dtype.
TEST(IntOverloads, FullAndTensorTakeTheirDtypeFromIntAndBoolValues) {
  Tensor i = full({2}, 7);
  EXPECT_EQ(i.dtype(), kLong);
  EXPECT_EQ(ints(i), std::vector<int64_t>({7, 7}));
  Tensor b = full({2}, true);
  EXPECT_EQ(b.dtype(), kBool);
  EXPECT_TRUE(b.data_ptr<bool>()[1]);
  EXPECT_EQ(full({2}, 7.0).dtype(), kFloat);
  EXPECT_EQ(full({2}, 2.5f).dtype(), kFloat);
  EXPECT_EQ(full({2}, 7, kFloat).dtype(), kFloat);
  EXPECT_EQ(full({2}, 7, kFloat).to_vector(), std::vector<float>({7, 7}));
  EXPECT_EQ(ones({2}).dtype(), kFloat);
  Tensor tb = tensor({true, false, true});
  EXPECT_EQ(tb.dtype(), kBool);
  EXPECT_EQ(tb.numel(), 3);
  EXPECT_FALSE(tb.data_ptr<bool>()[1]);
  EXPECT_EQ(tensor(true).dtype(), kBool);
  EXPECT_EQ(tensor(true).dim(), 0);
  EXPECT_EQ(tensor({1, 0}).dtype(), kLong);
  EXPECT_EQ(tensor(1).dtype(), kLong);
}

// The int-taking views and joins: dims, never flags.
TEST(IntOverloads, ShapeOpsTakeIntsAsDims) {
  Tensor b = arange(12, kFloat).view({2, 3, 2});
  EXPECT_EQ(b.flatten(1).sizes(), IntArrayRef({2, 6}));
  EXPECT_EQ(b.flatten(0, 1).sizes(), IntArrayRef({6, 2}));
  EXPECT_EQ(b.squeeze(0).sizes(), IntArrayRef({2, 3, 2}));
  EXPECT_EQ(b.unsqueeze(1).sizes(), IntArrayRef({2, 1, 3, 2}));
  EXPECT_EQ(b.chunk(3, 1).size(), 3u);
  EXPECT_EQ(cat({b, b}, 2).sizes(), IntArrayRef({2, 3, 4}));
  EXPECT_EQ(b.view(-1).sizes(), IntArrayRef({12}));
  EXPECT_EQ(b.repeat({1, 1, 2}).sizes(), IntArrayRef({2, 3, 4}));
  EXPECT_EQ(b.clamp(2).min().item<float>(), 2.0f);  // min, not max
  EXPECT_EQ(b.clamp(0, 5).max().item<float>(), 5.0f);
}
