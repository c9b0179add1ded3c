// The Tensor handle's element access, conversions, copies, random fills and printing.
// (Views and reductions are tested with their own families.)
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/factory.h"

using namespace cnnkit;

namespace {
std::string printed(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}
}  // namespace

// ---- element access ----------------------------------------------------------------------------

TEST(Tensor, ItemConvertsTheSingleElement) {
  EXPECT_EQ(tensor(2.5).item<float>(), 2.5f);
  EXPECT_EQ(tensor(2.5).item<double>(), 2.5);
  EXPECT_EQ(tensor(2.75).item<int64_t>(), 2);
  EXPECT_EQ(tensor(int64_t{1} << 60).item<int64_t>(), int64_t{1} << 60);  // exact, not via float
  EXPECT_EQ(tensor({7}).item<int>(), 7);
  EXPECT_TRUE((tensor({1.0f}) > 0.5).item<bool>());
  EXPECT_THROW(tensor({1.0f, 2.0f}).item<float>(), ShapeError);
}

TEST(Tensor, DataPtrChecksTheDtype) {
  Tensor f = zeros({2});
  EXPECT_NO_THROW(f.data_ptr<float>());
  EXPECT_THROW(f.data_ptr<int64_t>(), TypeError);
  Tensor l = zeros({2}, kLong);
  EXPECT_THROW(l.data_ptr<float>(), TypeError);
  EXPECT_NO_THROW((l > 0.0).data_ptr<bool>());
  EXPECT_THROW(Tensor().dim(), ValueError);
}

// ---- to() --------------------------------------------------------------------------------------

TEST(Tensor, ToSameDtypeReturnsSelfUnlessCopy) {
  Tensor t = tensor({1.0f, 2.0f});
  EXPECT_TRUE(t.to(kFloat).is_same(t));
  EXPECT_TRUE(t.to(kDouble).is_same(t));  // float64 is float32 here
  EXPECT_TRUE(t.to(Device(kCPU)).is_same(t));  // t.to(kCPU) is ambiguous: see tensor.h
  EXPECT_TRUE(t.cpu().is_same(t));
  Tensor c = t.to(kFloat, false, true);
  EXPECT_FALSE(c.is_same(t));
  EXPECT_NE(c.data_ptr(), t.data_ptr());
  EXPECT_EQ(c.to_vector(), t.to_vector());
}

TEST(Tensor, ToConvertsDtypes) {
  Tensor f = tensor({-1.7f, 0.0f, 2.9f, 300.0f});
  Tensor l = f.to(kLong);
  EXPECT_EQ(l.dtype(), kLong);
  EXPECT_EQ(std::vector<int64_t>(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + 4),
            std::vector<int64_t>({-1, 0, 2, 300}));  // truncation toward zero
  Tensor b = f.to(kBool);
  EXPECT_EQ(b.to_vector(), std::vector<float>({1, 0, 1, 1}));
  // torch.tensor([-1., 256., 3.7]).to(torch.uint8) -> [255, 0, 3]: wraps, no UB
  Tensor w = tensor({-1.0f, 256.0f, 3.7f}).to(kByte);
  EXPECT_EQ(std::vector<uint8_t>(w.data_ptr<uint8_t>(), w.data_ptr<uint8_t>() + 3), std::vector<uint8_t>({255, 0, 3}));
  Tensor u = tensor({3, 255}).to(kByte);
  EXPECT_EQ(u.data_ptr<uint8_t>()[1], 255);
  EXPECT_EQ(u.to(kFloat).to_vector(), std::vector<float>({3, 255}));
  EXPECT_EQ(f.to(TensorOptions(kLong)).dtype(), kLong);
  EXPECT_EQ(f.to(Device(kCPU), kLong).dtype(), kLong);
  EXPECT_EQ(f.toType(kLong).dtype(), kLong);
}

TEST(Tensor, ToCudaThrows) {
  Tensor t = zeros({2});
  EXPECT_THROW(t.to(Device(kCUDA)), ValueError);
  EXPECT_THROW(t.to(Device(kCUDA), kFloat), ValueError);
  EXPECT_THROW(t.to(TensorOptions(kCUDA)), ValueError);
}

TEST(TensorOptions, PrintsAsC10WithTheDefaultsMarked) {
  std::ostringstream a, b;
  a << TensorOptions();
  EXPECT_EQ(a.str(), "TensorOptions(dtype=float (default), device=cpu (default), layout=Strided (default), "
                     "requires_grad=false (default), pinned_memory=false (default), memory_format=(nullopt))");
  b << TensorOptions(kLong).requires_grad(false).device(kCPU);
  EXPECT_EQ(b.str(), "TensorOptions(dtype=long int, device=cpu, layout=Strided (default), requires_grad=false, "
                     "pinned_memory=false (default), memory_format=(nullopt))");
  // c10's type names, as LibTorch 1.13 prints them (tests/integration/libtorch_build runs the same check there).
  std::ostringstream c, d;
  c << TensorOptions(kByte);
  d << TensorOptions(kBool).requires_grad(true);
  EXPECT_EQ(c.str().substr(0, 36), "TensorOptions(dtype=unsigned char, d");
  EXPECT_EQ(d.str().substr(0, 27), "TensorOptions(dtype=bool, d");
  EXPECT_TRUE(requires_grad().has_requires_grad());
  EXPECT_FALSE(TensorOptions(kLong).has_requires_grad());
  EXPECT_FALSE(TensorOptions(kLong).has_device());
}

TEST(Tensor, ToIsDifferentiableFloatToFloatOnly) {
  Tensor x = tensor({1.0f, -2.0f}, requires_grad());
  Tensor y = x.to(kFloat, false, true);
  EXPECT_TRUE(y.requires_grad());
  (y * 3.0).backward(ones({2}));
  EXPECT_EQ(x.grad().to_vector(), std::vector<float>({3, 3}));
  EXPECT_FALSE(x.to(kLong).requires_grad());
}

// ---- copies ----------------------------------------------------------------------------------

TEST(Tensor, CloneCopiesAndIsDifferentiable) {
  Tensor x = tensor({1.0f, 2.0f}, requires_grad());
  Tensor c = x.clone();
  EXPECT_NE(c.data_ptr(), x.data_ptr());
  EXPECT_TRUE(c.requires_grad());
  EXPECT_FALSE(c.is_leaf());
  (c * c).backward(ones({2}));
  EXPECT_EQ(x.grad().to_vector(), std::vector<float>({2, 4}));
}

TEST(Tensor, ContiguousReturnsSelfOrADifferentiableCopy) {
  Tensor x = tensor({1.0f, 2.0f, 3.0f, 4.0f});
  EXPECT_TRUE(x.contiguous().is_same(x));
  std::vector<float> buf = {1, 2, 3, 4, 5, 6};
  Tensor t = from_blob(buf.data(), {3, 2}, {1, 3});
  Tensor c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.to_vector(), std::vector<float>({1, 4, 2, 5, 3, 6}));
  Tensor leaf = from_blob(buf.data(), {3, 2}, {1, 3}).requires_grad_();
  Tensor lc = leaf.contiguous();
  EXPECT_TRUE(lc.requires_grad());
  lc.backward(full({3, 2}, 2.0));
  EXPECT_EQ(leaf.grad().to_vector(), std::vector<float>(6, 2.0f));
}

TEST(Tensor, CopyBroadcastsAndConverts) {
  Tensor dst = zeros({2, 3});
  dst.copy_(tensor({1, 2, 3}));  // int64 row into float (2, 3)
  EXPECT_EQ(dst.to_vector(), std::vector<float>({1, 2, 3, 1, 2, 3}));
  std::vector<float> buf(6, 0.0f);
  Tensor view = from_blob(buf.data(), {3, 2}, {1, 3});  // writes go through the strides
  view.copy_(tensor({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}}));
  EXPECT_EQ(buf, std::vector<float>({1, 3, 5, 2, 4, 6}));
  Tensor l = zeros({2}, kLong);
  l.copy_(tensor({2.9f, -2.9f}));
  EXPECT_EQ(l.data_ptr<int64_t>()[1], -2);
  EXPECT_THROW(dst.copy_(zeros({4})), ShapeError);
}

TEST(Tensor, CopyIntoALeafThatRequiresGradNeedsNoGrad) {
  Tensor w = zeros({2}, requires_grad());
  EXPECT_THROW(w.copy_(ones({2})), ValueError);
  {
    NoGradGuard guard;
    w.copy_(ones({2}));
  }
  EXPECT_EQ(w.to_vector(), std::vector<float>({1, 1}));
  EXPECT_TRUE(w.requires_grad());
}

TEST(Tensor, FillAndZero) {
  Tensor t = empty({2, 2});
  t.fill_(1.5);
  EXPECT_EQ(t.to_vector(), std::vector<float>(4, 1.5f));
  t.zero_();
  EXPECT_EQ(t.to_vector(), std::vector<float>(4, 0.0f));
  std::vector<float> buf = {1, 2, 3, 4};
  from_blob(buf.data(), {2}, {2}).fill_(9);
  EXPECT_EQ(buf, std::vector<float>({9, 2, 9, 4}));
  Tensor b = zeros({3}, kBool);
  b.fill_(1);
  EXPECT_EQ(b.to_vector(), std::vector<float>(3, 1.0f));
  Tensor leaf = zeros({2}, requires_grad());
  EXPECT_THROW(leaf.zero_(), ValueError);
}

// ---- random fills ----------------------------------------------------------------------------

TEST(Tensor, NormalAndUniformFillInPlace) {
  manual_seed(0);
  Tensor t = empty({50000});
  t.normal_(3.0, 2.0);
  std::vector<float> v = t.to_vector();
  double m = 0, s = 0;
  for (float x : v) m += x;
  m /= v.size();
  for (float x : v) s += (x - m) * (x - m);
  EXPECT_NEAR(m, 3.0, 0.05);
  EXPECT_NEAR(std::sqrt(s / v.size()), 2.0, 0.05);
  t.uniform_(-1, 3);
  v = t.to_vector();
  for (float x : v) {
    ASSERT_GE(x, -1.0f);
    ASSERT_LT(x, 3.0f);
  }
  manual_seed(0);
  Tensor again = empty({50000});
  again.normal_(3.0, 2.0);
  manual_seed(0);
  EXPECT_EQ(again.to_vector(), randn({50000}).mul(2.0).add(3.0).to_vector());
  EXPECT_THROW(t.normal_(0, -1), ValueError);
  EXPECT_THROW(t.uniform_(2, 1), ValueError);
  EXPECT_THROW(zeros({2}, kLong).normal_(), TypeError);
}

TEST(Tensor, RandomFillsWriteThroughViews) {
  std::vector<float> buf(8, -5.0f);
  Tensor every_other = from_blob(buf.data(), {4}, {2});
  every_other.uniform_(0, 1);
  for (int i = 0; i < 8; ++i) {
    if (i % 2) {
      EXPECT_EQ(buf[i], -5.0f);
    } else {
      EXPECT_GE(buf[i], 0.0f);
    }
  }
}

TEST(Tensor, BernoulliFillGivesZerosAndOnes) {
  manual_seed(9);
  Tensor t = empty({20000});
  t.bernoulli_(0.3);
  double ones_count = 0;
  for (float x : t.to_vector()) {
    ASSERT_TRUE(x == 0.0f || x == 1.0f);
    ones_count += x;
  }
  EXPECT_NEAR(ones_count / 20000, 0.3, 0.02);
  Tensor l = zeros({10}, kLong);
  l.bernoulli_(1.0);
  EXPECT_EQ(l.data_ptr<int64_t>()[9], 1);
  EXPECT_THROW(t.bernoulli_(1.5), ValueError);
}

// ---- printing ---------------------------------------------------------------------------------

TEST(Tensor, PrintsLikeLibTorch) {
  EXPECT_EQ(printed(tensor({{1.5, -2.0, 3.0}, {0.5, 4.0, -1.0}})),
            " 1.5000 -2.0000  3.0000\n 0.5000  4.0000 -1.0000\n[ CPUFloatType{2,3} ]");
  EXPECT_EQ(printed(tensor({1, 2, 3})), " 1\n 2\n 3\n[ CPULongType{3} ]");
  EXPECT_EQ(printed(tensor(3.5)), "3.5\n[ CPUFloatType{} ]");
  EXPECT_EQ(printed(tensor({1.0f, 2.0f}) > 1.5), " 0\n 1\n[ CPUBoolType{2} ]");
  EXPECT_EQ(printed(tensor({123456.7f, 200000.0f})), "1e+05 *\n 1.2346\n 2.0000\n[ CPUFloatType{2} ]");
  EXPECT_EQ(printed(tensor({1e-8f, 1.0f, 1e5f})), " 1.0000e-08\n 1.0000e+00\n 1.0000e+05\n[ CPUFloatType{3} ]");
  EXPECT_EQ(printed(zeros({0})), "[ CPUFloatType{0} ]");
  EXPECT_EQ(printed(Tensor()), "[ Tensor (undefined) ]");
}

TEST(Tensor, PrintsHigherRanksAsSlices) {
  std::vector<int64_t> v = {0, 1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(printed(from_blob(v.data(), {2, 2, 2}, kLong)),
            "(1,.,.) = \n  0  1\n  2  3\n\n(2,.,.) = \n  4  5\n  6  7\n[ CPULongType{2,2,2} ]");
}

TEST(Tensor, PrintsNonContiguousThroughStrides) {
  std::vector<float> buf = {1, 2, 3, 4, 5, 6};
  Tensor t = from_blob(buf.data(), {3, 2}, {1, 3});
  EXPECT_EQ(printed(t), " 1  4\n 2  5\n 3  6\n[ CPUFloatType{3,2} ]");
}

TEST(Tensor, WideMatricesSplitIntoColumnBlocks) {
  std::string s = printed(zeros({2, 30}));
  EXPECT_NE(s.find("Columns 1 to 26\n"), std::string::npos) << s;
  EXPECT_NE(s.find("Columns 27 to 30\n"), std::string::npos) << s;
}

TEST(Tensor, PrintingLeavesTheStreamFormatAlone) {
  std::ostringstream os;
  os << tensor({1.5f});
  os << 0.1;
  EXPECT_EQ(os.str().substr(os.str().size() - 3), "0.1");
}

TEST(Tensor, ToStringNamesTheType) {
  EXPECT_EQ(zeros({1}).toString(), "CPUFloatType");
  EXPECT_EQ(zeros({1}, kLong).toString(), "CPULongType");
  EXPECT_EQ(zeros({1}, kByte).toString(), "CPUByteType");
  EXPECT_EQ(zeros({1}, kBool).toString(), "CPUBoolType");
  EXPECT_EQ(Tensor().toString(), "UndefinedType");
}
