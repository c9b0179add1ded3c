// Tensor::index / index_put_ / nonzero / masked_select beyond the PyTorch goldens: LibTorch's
// spelling compiles as written, basic indices give views, index_put_ writes through views
// and into non-contiguous tensors, and every malformed subscript names its problem.
#include <gtest/gtest.h>

#include "cnnkit/cnnkit.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::indexing;
using cnnkit::test::allclose;

TEST(Indexing, LibTorchSpellings) {
  Tensor x = arange(24, kFloat).view({2, 3, 4});
  EXPECT_TRUE(x.index({0}).equal(x[0]));
  EXPECT_TRUE(x.index({Slice(), 1}).equal(x.select(1, 1)));
  EXPECT_TRUE(x.index({"...", Slice(None, 2)}).equal(x.slice(2, 0, 2)));
  EXPECT_TRUE(x.index({Ellipsis, -1}).equal(x.select(2, 3)));
  EXPECT_EQ(x.index({None, Slice(1, None), None}).sizes(), IntArrayRef({1, 1, 1, 3, 4}));
  EXPECT_EQ(x.index({Slice(None, None, 2), Slice(), Slice(1, None, 2)}).sizes(), IntArrayRef({1, 3, 2}));
  EXPECT_EQ(x.index({true}).sizes(), IntArrayRef({1, 2, 3, 4}));
  EXPECT_EQ(x.index({false}).sizes(), IntArrayRef({0, 2, 3, 4}));
  Tensor picked = x.index({Slice(), cnnkit::tensor({2, 0}, kLong), 3});
  EXPECT_TRUE(allclose(picked, std::vector<float>{11, 3, 23, 15}, 0, 0));
  EXPECT_TRUE(allclose(x.index({x.gt(20)}), std::vector<float>{21, 22, 23}, 0, 0));
}

TEST(Indexing, BasicIndicesAreViewsAdvancedOnesCopies) {
  Tensor x = zeros({3, 4});
  x.index({Slice(), 1}).fill_(5);
  EXPECT_EQ(x.sum().item<float>(), 15);
  Tensor copy = x.index({cnnkit::tensor({0, 1}, kLong)});
  copy.fill_(-1);
  EXPECT_EQ(x.sum().item<float>(), 15);
}

TEST(Indexing, IndexPutScalarsTensorsAndMasks) {
  Tensor x = arange(12, kFloat).view({3, 4});
  x.index_put_({x.lt(3)}, 0);
  EXPECT_EQ(x.index({0}).sum().item<float>(), 3);  // 0 0 0 3
  x.index_put_({Slice(), -1}, cnnkit::tensor({7.0F, 8.0F, 9.0F}));
  EXPECT_TRUE(allclose(x.index({Slice(), 3}), std::vector<float>{7, 8, 9}, 0, 0));
  x.index_put_({1}, cnnkit::tensor({1.0F, 2.0F, 3.0F, 4.0F}));
  EXPECT_TRUE(allclose(x[1], std::vector<float>{1, 2, 3, 4}, 0, 0));
  // a transposed, non-contiguous target and a broadcast value
  Tensor t = zeros({4, 3}).t();
  t.index_put_({cnnkit::tensor({0, 2}, kLong)}, cnnkit::tensor({1.0F, 2.0F, 3.0F, 4.0F}));
  EXPECT_TRUE(allclose(t.contiguous(), std::vector<float>{1, 2, 3, 4, 0, 0, 0, 0, 1, 2, 3, 4}, 0, 0));
  // int64 and uint8 tensors
  Tensor labels = cnnkit::tensor({3, -1, 5, -1}, kLong);
  labels.index_put_({labels.eq(-1)}, 0);
  EXPECT_TRUE(labels.equal(cnnkit::tensor({3, 0, 5, 0}, kLong)));
}

TEST(Indexing, GradientsFlowThroughBasicAndAdvancedIndices) {
  Tensor x = arange(6, kFloat).view({2, 3}).set_requires_grad(true);
  Tensor y = x.index({Slice(), cnnkit::tensor({2, 2, 0}, kLong)}).sum() + x.index({1, Slice(1, None)}).sum() * 10;
  y.backward();
  EXPECT_TRUE(allclose(x.grad(), std::vector<float>{1, 0, 2, 1, 10, 12}, 0, 0));
}

TEST(Indexing, NonzeroAndMaskedSelect) {
  Tensor m = cnnkit::tensor({0.0F, 1.5F, 0.0F, -2.0F}).view({2, 2});
  EXPECT_TRUE(nonzero(m).equal(cnnkit::tensor({0, 1, 1, 1}, kLong).view({2, 2})));
  EXPECT_EQ(nonzero(zeros({3})).sizes(), IntArrayRef({0, 1}));
  Tensor x = arange(6, kFloat).view({2, 3});
  Tensor row_mask = cnnkit::tensor({1.0F, 0.0F, 1.0F}).gt(0);  // broadcasts over rows
  EXPECT_TRUE(allclose(masked_select(x, row_mask), std::vector<float>{0, 2, 3, 5}, 0, 0));
}

TEST(Indexing, MalformedSubscriptsNameTheProblem) {
  Tensor x = zeros({2, 3});
  auto message = [](auto&& f) { return cnnkit::test::error_of(f); };
  EXPECT_NE(message([&] { x.index({0, 0, 0}); }).find("too many indices for tensor of dimension 2"), std::string::npos);
  EXPECT_NE(message([&] { x.index({Slice(), 3}); }).find("index 3 is out of bounds for dimension 1 with size 3"),
            std::string::npos);
  EXPECT_NE(message([&] { x.index({cnnkit::tensor({0, 2}, kLong)}); }).find("index 2 is out of bounds for dimension 0"),
            std::string::npos);
  EXPECT_NE(message([&] { x.index({"...", "..."}); }).find("single ellipsis"), std::string::npos);
  EXPECT_NE(message([&] { x.index({".."}); }).find("ellipsis"), std::string::npos);
  EXPECT_NE(message([&] { x.index({Slice(None, None, -1)}); }).find("step must be positive"), std::string::npos);
  EXPECT_NE(message([&] { x.index({ones({2})}); }).find("must be int64, uint8 or bool"), std::string::npos);
  EXPECT_NE(message([&] { x.index({ones({3}).gt(0)}); }).find("shape of the mask"), std::string::npos);
  EXPECT_NE(message([&] { x.index({cnnkit::tensor({0, 1}, kLong), cnnkit::tensor({0, 1, 2}, kLong)}); })
                .find("broadcast"),
            std::string::npos);
  EXPECT_NE(message([&] { x.index_put_({0}, ones({2})); }).find("cannot be broadcast to indexing result of shape"),
            std::string::npos);
  Tensor leaf = zeros({2}).set_requires_grad(true);
  EXPECT_NE(message([&] { leaf.index_put_({0}, 1); }).find("leaf Variable"), std::string::npos);
}
