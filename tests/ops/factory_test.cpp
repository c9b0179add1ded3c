// Factories: values, dtypes (PyTorch's int64 rules), from_blob's borrowing, and the random
// factories' ranges, statistics and seed reproducibility.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "cnnkit/ops/factory.h"

using namespace cnnkit;

namespace {
std::vector<double> as_doubles(const Tensor& t) {
  std::vector<float> v = t.to_vector();
  return std::vector<double>(v.begin(), v.end());
}
double mean_of(const std::vector<float>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }
double var_of(const std::vector<float>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return s / v.size();
}
}  // namespace

TEST(Factory, ConstantFillsAndDtypes) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.dtype(), kFloat);
  EXPECT_EQ(z.sizes(), std::vector<int64_t>({2, 3}));
  EXPECT_EQ(z.to_vector(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(ones({4}, kLong).dtype(), kLong);
  EXPECT_EQ(ones({4}, kLong).data_ptr<int64_t>()[3], 1);
  EXPECT_EQ(full({2}, 2.5).to_vector(), std::vector<float>({2.5f, 2.5f}));
  EXPECT_EQ(full({2}, 7, kByte).data_ptr<uint8_t>()[1], 7);
  EXPECT_EQ(full({1}, 3, kBool).data_ptr<bool>()[0], true);
  EXPECT_EQ(zeros({2}, kDouble).dtype(), kFloat);  // float64 is stored as float32
  EXPECT_TRUE(zeros({2}, requires_grad()).requires_grad());
  EXPECT_THROW(zeros({2}, TensorOptions(kLong).requires_grad(true)), TypeError);
  EXPECT_THROW(zeros({-1}), ShapeError);
  EXPECT_THROW(zeros({2}, TensorOptions(kCUDA)), ValueError);
}

TEST(Factory, LikeFactoriesKeepShapeAndDtype) {
  Tensor t = ones({3, 2}, kLong);
  EXPECT_EQ(zeros_like(t).dtype(), kLong);
  EXPECT_EQ(zeros_like(t).sizes(), t.sizes());
  EXPECT_EQ(ones_like(t, kFloat).dtype(), kFloat);
  EXPECT_EQ(full_like(t, 4).data_ptr<int64_t>()[5], 4);
  EXPECT_EQ(empty_like(t).sizes(), t.sizes());
  Tensor f = zeros({5});
  EXPECT_EQ(rand_like(f).sizes(), f.sizes());
  EXPECT_EQ(randn_like(f).dtype(), kFloat);
  EXPECT_TRUE(zeros_like(f, requires_grad()).requires_grad());
  EXPECT_EQ(zeros_like(f, requires_grad()).dtype(), kFloat);
  EXPECT_THROW(rand_like(t), TypeError);  // rand of int64, as torch
}

TEST(Factory, EyeAndLinspace) {
  EXPECT_EQ(eye(3).to_vector(), std::vector<float>({1, 0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(eye(0).numel(), 0);
  EXPECT_THROW(eye(-1), ValueError);
  // torch.linspace(-1, 2, 7)
  EXPECT_EQ(as_doubles(linspace(-1, 2, 7)), std::vector<double>({-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0}));
  EXPECT_EQ(as_doubles(linspace(0, 1, 5)), std::vector<double>({0.0, 0.25, 0.5, 0.75, 1.0}));
  EXPECT_EQ(as_doubles(linspace(3, 3, 1)), std::vector<double>({3.0}));
  EXPECT_EQ(linspace(0, 1, 0).numel(), 0);
  EXPECT_THROW(linspace(0, 1, -2), ValueError);
}

TEST(Factory, ArangeIsInt64ForIntegersElseFloat) {
  Tensor a = arange(5);
  EXPECT_EQ(a.dtype(), kLong);
  EXPECT_EQ(a.numel(), 5);
  EXPECT_EQ(a.data_ptr<int64_t>()[4], 4);
  Tensor b = arange(0.5, 2.0, 0.25);  // torch: [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
  EXPECT_EQ(b.dtype(), kFloat);
  EXPECT_EQ(as_doubles(b), std::vector<double>({0.5, 0.75, 1.0, 1.25, 1.5, 1.75}));
  Tensor c = arange(10, 0, -3);  // [10, 7, 4, 1]
  EXPECT_EQ(c.dtype(), kLong);
  EXPECT_EQ(as_doubles(c), std::vector<double>({10, 7, 4, 1}));
  EXPECT_EQ(arange(1, 2.5, 0.5).dtype(), kFloat);  // a float argument makes it float
  EXPECT_EQ(arange(3, kFloat).dtype(), kFloat);
  EXPECT_EQ(arange(3, 3).numel(), 0);
  EXPECT_THROW(arange(0, 5, 0), ValueError);
  EXPECT_THROW(arange(5, 0, 1), ValueError);
}

TEST(Factory, TensorCopiesValuesWithTorchDtypes) {
  EXPECT_EQ(tensor({1, 2, 3}).dtype(), kLong);
  EXPECT_EQ(tensor({1.5f, 2.0f}).dtype(), kFloat);
  EXPECT_EQ(tensor({1.5, 2.0}).dtype(), kFloat);
  EXPECT_EQ(tensor(std::vector<int64_t>{4, 5}).data_ptr<int64_t>()[1], 5);
  EXPECT_EQ(tensor({1, 2}, kFloat).dtype(), kFloat);
  Tensor m = tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  EXPECT_EQ(m.sizes(), std::vector<int64_t>({2, 3}));
  EXPECT_EQ(m.to_vector(), std::vector<float>({1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(tensor({{1, 2}, {3, 4}}).dtype(), kLong);
  EXPECT_THROW(tensor({{1.0, 2.0}, {3.0}}), ShapeError);
  Tensor s = tensor(3.5);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<float>(), 3.5f);
  EXPECT_EQ(tensor(7).dtype(), kLong);
  EXPECT_EQ(tensor(int64_t{7}).item<int64_t>(), 7);
  EXPECT_EQ(scalar_tensor(2).dtype(), kFloat);
  EXPECT_TRUE(tensor({1.0f}, requires_grad()).requires_grad());
  EXPECT_THROW(tensor({1, 2}, requires_grad()), TypeError);  // int64 cannot require grad
  std::vector<float> src = {1, 2};
  Tensor copy = tensor(src);
  src[0] = 9;
  EXPECT_EQ(copy.to_vector()[0], 1.0f);
}

TEST(Factory, FromBlobBorrowsWithoutCopying) {
  std::vector<float> buf = {1, 2, 3, 4, 5, 6};
  Tensor t = from_blob(buf.data(), {2, 3});
  EXPECT_EQ(t.data_ptr(), buf.data());
  EXPECT_TRUE(t.is_contiguous());
  buf[4] = 50;
  EXPECT_EQ(t.to_vector()[4], 50.0f);
  Tensor tr = from_blob(buf.data(), {3, 2}, {1, 3});
  EXPECT_FALSE(tr.is_contiguous());
  EXPECT_EQ(tr.to_vector(), std::vector<float>({1, 4, 2, 50, 3, 6}));
  std::vector<int64_t> ibuf = {7, 8};
  EXPECT_EQ(from_blob(ibuf.data(), {2}, kLong).data_ptr<int64_t>()[1], 8);
  EXPECT_THROW(from_blob(buf.data(), {2, 3}, {1}), ShapeError);
  EXPECT_THROW(from_blob(buf.data(), {2}, kDouble), TypeError);
  {
    Tensor owner_free = from_blob(buf.data(), {6});
  }  // destroying the tensor must not free the caller's memory
  EXPECT_EQ(buf[0], 1.0f);
}

TEST(Factory, RandIsUniformAndSeeded) {
  manual_seed(123);
  Tensor a = rand({20000});
  std::vector<float> v = a.to_vector();
  EXPECT_GE(*std::min_element(v.begin(), v.end()), 0.0f);
  EXPECT_LT(*std::max_element(v.begin(), v.end()), 1.0f);
  EXPECT_NEAR(mean_of(v), 0.5, 0.01);
  EXPECT_NEAR(var_of(v), 1.0 / 12, 0.005);
  manual_seed(123);
  EXPECT_EQ(rand({20000}).to_vector(), v);
  EXPECT_NE(rand({20000}).to_vector(), v);
  EXPECT_THROW(rand({2}, kLong), TypeError);
}

TEST(Factory, RandnIsStandardNormalAndSeeded) {
  manual_seed(7);
  std::vector<float> v = randn({40000}).to_vector();
  EXPECT_NEAR(mean_of(v), 0.0, 0.02);
  EXPECT_NEAR(var_of(v), 1.0, 0.03);
  manual_seed(7);
  EXPECT_EQ(randn({40000}).to_vector(), v);
}

TEST(Factory, ExplicitGeneratorIsIndependentOfTheGlobalOne) {
  Generator g1(42), g2(42);
  manual_seed(1);
  Tensor a = randn({100}, g1);
  rand({50});  // consumes only the global generator
  Tensor b = randn({100}, g2);
  EXPECT_EQ(a.to_vector(), b.to_vector());
  Generator g3(42), g4(42);
  EXPECT_EQ(rand({10}, g3).to_vector(), rand({10}, g4).to_vector());
  EXPECT_EQ(randperm(10, g3).to_vector(), randperm(10, g4).to_vector());
}

TEST(Factory, RandintStaysInRange) {
  manual_seed(3);
  Tensor r = randint(-2, 3, {5000});
  EXPECT_EQ(r.dtype(), kLong);
  std::vector<int> counts(5, 0);
  const int64_t* p = r.data_ptr<int64_t>();
  for (int64_t i = 0; i < r.numel(); ++i) {
    ASSERT_GE(p[i], -2);
    ASSERT_LT(p[i], 3);
    counts[p[i] + 2]++;
  }
  for (int c : counts) EXPECT_NEAR(c, 1000, 150);
  EXPECT_EQ(randint(10, {3}).sizes(), std::vector<int64_t>({3}));
  EXPECT_EQ(randint(0, 10, {3}, kFloat).dtype(), kFloat);
  EXPECT_THROW(randint(5, 5, {2}), ValueError);
}

TEST(Factory, RandpermIsAPermutation) {
  manual_seed(5);
  Tensor p = randperm(100);
  EXPECT_EQ(p.dtype(), kLong);
  std::vector<int64_t> v(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + 100);
  std::vector<int64_t> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_NE(v, sorted);  // shuffled (a fixed seed, so this is deterministic)
  EXPECT_EQ(randperm(0).numel(), 0);
  EXPECT_THROW(randperm(-1), ValueError);
}

TEST(Factory, BernoulliFollowsEachProbability) {
  manual_seed(11);
  std::vector<float> probs(30000);
  for (size_t i = 0; i < probs.size(); ++i) probs[i] = (i % 3) * 0.5f;  // 0, 0.5, 1
  Tensor draws = bernoulli(tensor(probs));
  std::vector<float> d = draws.to_vector();
  double ones_at_half = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i % 3 == 0) {
      ASSERT_EQ(d[i], 0.0f);
    } else if (i % 3 == 2) {
      ASSERT_EQ(d[i], 1.0f);
    } else {
      ones_at_half += d[i];
    }
  }
  EXPECT_NEAR(ones_at_half / 10000, 0.5, 0.03);
  EXPECT_THROW(bernoulli(tensor({1.5f})), ValueError);
  EXPECT_THROW(bernoulli(tensor({1, 0})), TypeError);
}
