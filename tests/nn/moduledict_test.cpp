// nn::ModuleDict: children under their keys in insertion order (state-dict keys
// "<key>.<param>"), replace in place, pop, clear, update from a list, an OrderedDict or
// another ModuleDict, typed access, clone, and errors that name the key.
#include <gtest/gtest.h>

#include "cnnkit/cnnkit.h"
#include "test_util.h"

using namespace cnnkit;

TEST(ModuleDict, KeysOrderAndStateDict) {
  // LibTorch's spelling: the holder is built from a named vector of pairs
  std::vector<std::pair<std::string, std::shared_ptr<nn::Module>>> modules = {{"cls", nn::Linear(4, 3).ptr()},
                                                                              {"box", nn::Linear(4, 2).ptr()}};
  nn::ModuleDict heads(modules);
  EXPECT_EQ(heads->keys(), std::vector<std::string>({"cls", "box"}));
  std::vector<std::string> names;
  for (const auto& p : heads->named_parameters()) names.push_back(p.key());
  EXPECT_EQ(names, std::vector<std::string>({"cls.weight", "cls.bias", "box.weight", "box.bias"}));
  Tensor x = ones({1, 4});
  EXPECT_EQ(heads->at<nn::LinearImpl>("box").forward(x).sizes(), IntArrayRef({1, 2}));
  EXPECT_EQ(heads["cls"]->as<nn::Linear>()->forward(x).size(1), 3);
  int seen = 0;
  for (const auto& item : *heads) seen += item.value() != nullptr && !item.key().empty();
  EXPECT_EQ(seen, 2);
}

TEST(ModuleDict, ReplacePopClearUpdate) {
  nn::ModuleDict d;
  d->update({{"a", nn::Linear(2, 2).ptr()}, {"b", nn::ReLU().ptr()}});
  d->insert("a", nn::Linear(2, 5));  // replaces, keeps its place
  EXPECT_EQ(d->keys(), std::vector<std::string>({"a", "b"}));
  EXPECT_EQ(d->at<nn::LinearImpl>("a").weight.size(0), 5);
  EXPECT_EQ(d->named_parameters()["a.weight"].size(0), 5);
  auto popped = d->pop("b");
  EXPECT_NE(popped->as<nn::ReLU>(), nullptr);
  EXPECT_FALSE(d->contains("b"));
  EXPECT_EQ(d->named_children().size(), 1U);
  nn::ModuleDict other;
  other->insert("c", nn::Identity());
  d->update(other);
  EXPECT_EQ(d->keys(), std::vector<std::string>({"a", "c"}));
  auto copy = std::dynamic_pointer_cast<nn::ModuleDictImpl>(d->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->keys(), d->keys());
  EXPECT_NE(copy->named_parameters()["a.weight"].data_ptr(), d->named_parameters()["a.weight"].data_ptr());
  d->clear();
  EXPECT_TRUE(d->empty());
  EXPECT_EQ(d->parameters().size(), 0U);
}

TEST(ModuleDict, ErrorsNameTheKey) {
  nn::ModuleDict d;
  d->insert("a", nn::Linear(2, 2));
  EXPECT_TRUE(test::contains(test::error_of([&] { d["zz"]; }), "'zz'"));
  EXPECT_TRUE(test::contains(test::error_of([&] { d->at<nn::ReLUImpl>("a"); }), "'a'"));
  EXPECT_TRUE(test::contains(test::error_of([&] { d->insert("b", std::shared_ptr<nn::Module>()); }), "'b'"));
}

TEST(Scalar, ItemWithoutATypeArgument) {
  EXPECT_FLOAT_EQ(cnnkit::tensor({2.5f}).item().toFloat(), 2.5f);
  EXPECT_EQ(cnnkit::tensor({7}, kLong).sum().item().toLong(), 7);
  EXPECT_TRUE(cnnkit::tensor({7}, kLong).item().isIntegral(false));
  EXPECT_TRUE(cnnkit::ones({1}).gt(0).item().toBool());
  EXPECT_DOUBLE_EQ(cnnkit::tensor({1.5f}).item().to<double>(), 1.5);
  namespace F = nn::functional;
  EXPECT_TRUE(F::one_hot(cnnkit::tensor({0, 2}, kLong), 3).equal(cnnkit::tensor({1, 0, 0, 0, 0, 1}, kLong).view({2, 3})));
}
