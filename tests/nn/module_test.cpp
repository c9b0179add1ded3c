// nn::Module, ModuleHolder / CNNKIT_MODULE, OrderedDict and the containers: registration,
// PyTorch's names and order, train/eval propagation, zero_grad, apply, as<>, clone, and
// every error these raise. Numbers of the layers themselves are in layers_test.cpp.
#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"
#include "test_util.h"

using namespace cnnkit;

namespace {

std::vector<std::string> keys_of(const OrderedDict<std::string, Tensor>& d) { return d.keys(); }

// A user's module written as in LibTorch.
struct NetImpl : nn::Module {
  NetImpl() {
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(1, 2, 3).padding(1)));
    bn = register_module("bn", nn::BatchNorm2d(2));
    fc = register_module("fc", nn::Linear(2 * 4 * 4, 3));
    scale = register_parameter("scale", ones({1}));
    register_buffer("step", zeros({1}));
  }
  Tensor forward(Tensor x) { return fc(bn(conv(x)).relu().flatten(1)) * scale; }
  nn::Conv2d conv{nullptr};
  nn::BatchNorm2d bn{nullptr};
  nn::Linear fc{nullptr};
  Tensor scale;
};
CNNKIT_MODULE(Net);

}  // namespace

TEST(OrderedDict, KeepsInsertionOrderAndLooksUpByKey) {
  OrderedDict<std::string, int> d("Thing");
  d.insert("b", 2);
  d.insert("a", 1);
  d.insert("c", 3);
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(d.values(), (std::vector<int>{2, 1, 3}));
  EXPECT_EQ(d["a"], 1);
  EXPECT_EQ(d[0].key(), "b");
  EXPECT_TRUE(d.contains("c"));
  EXPECT_FALSE(d.contains("z"));
  EXPECT_EQ(d.find("z"), nullptr);
  int sum = 0;
  for (const auto& item : d) sum += item.value();
  EXPECT_EQ(sum, 6);
  d.erase("a");
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(d["c"], 3);
  EXPECT_EQ(d.size(), 2u);
}

TEST(OrderedDict, DuplicateAndMissingKeysAreValueErrors) {
  OrderedDict<std::string, int> d("Parameter");
  d.insert("w", 1);
  try {
    d.insert("w", 2);
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_EQ(std::string(e.what()), "Parameter 'w' already defined");
  }
  try {
    (void)d["x"];
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_EQ(std::string(e.what()), "Parameter 'x' is not defined");
  }
  EXPECT_THROW((void)d[5], ValueError);
  OrderedDict<std::string, int> empty_dict;
  EXPECT_THROW((void)empty_dict.front(), ValueError);
}

TEST(Module, SequentialParameterAndBufferKeysFollowPyTorch) {
  nn::Sequential net(nn::Conv2d(3, 4, 3), nn::BatchNorm2d(4), nn::ReLU());
  EXPECT_EQ(keys_of(net->named_parameters()), (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias"}));
  EXPECT_EQ(keys_of(net->named_buffers()),
            (std::vector<std::string>{"1.running_mean", "1.running_var", "1.num_batches_tracked"}));
  EXPECT_EQ(keys_of(net->state_dict()),
            (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                      "1.num_batches_tracked"}));
  EXPECT_EQ(net->parameters().size(), 4u);
  EXPECT_EQ(net->parameters(/*recurse=*/false).size(), 0u);
  EXPECT_EQ(net->named_modules().keys(), (std::vector<std::string>{"", "0", "1", "2"}));
  EXPECT_EQ(net->named_modules("", /*include_self=*/false).keys(), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(net->named_children().keys(), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(net->children().size(), 3u);
  EXPECT_EQ(net->modules().size(), 4u);
}

TEST(Module, CustomModuleThroughCnnkitModuleMacro) {
  Net net;
  EXPECT_FALSE(net.is_empty());
  EXPECT_EQ(keys_of(net->named_parameters()),
            (std::vector<std::string>{"scale", "conv.weight", "conv.bias", "bn.weight", "bn.bias", "fc.weight",
                                      "fc.bias"}));
  EXPECT_EQ(keys_of(net->named_buffers()),
            (std::vector<std::string>{"step", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"}));
  // register_module returns the holder's module: the member and the child are one object.
  EXPECT_EQ(net->fc.ptr().get(), net->named_children()["fc"].get());
  EXPECT_TRUE(net->named_parameters()["fc.weight"].is_same(net->fc->weight));
  EXPECT_EQ(net->name(), "(anonymous namespace)::NetImpl");
  // The holder calls forward; shapes go (2, 1, 4, 4) -> (2, 3).
  Tensor y = net(randn({2, 1, 4, 4}));
  EXPECT_EQ(y.sizes(), IntArrayRef({2, 3}));
  // as<> recovers the concrete type through a base pointer.
  std::shared_ptr<nn::Module> base = net.ptr();
  EXPECT_NE(base->as<NetImpl>(), nullptr);
  EXPECT_EQ(base->as<nn::Linear>(), nullptr);
  EXPECT_NE(net->named_children()["fc"]->as<nn::Linear>(), nullptr);
  EXPECT_NE(net->named_children()["fc"]->as<nn::LinearImpl>(), nullptr);
}

TEST(Module, MakeSharedImplAndHolderFromSharedPtr) {
  auto impl = std::make_shared<NetImpl>();
  Net holder(impl);
  EXPECT_EQ(holder.ptr().get(), impl.get());
  EXPECT_EQ(impl->modules().size(), 4u);  // itself, conv, bn, fc
  Net empty{nullptr};
  EXPECT_TRUE(empty.is_empty());
  EXPECT_FALSE(static_cast<bool>(empty));
  try {
    (void)empty->parameters();
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_EQ(std::string(e.what()), "Accessing empty ModuleHolder");
  }
}

TEST(Module, StackModuleCannotHandOutSharedPointerOfItself) {
  NetImpl net;
  EXPECT_EQ(net.named_parameters().size(), 7u);  // walks that need no shared_ptr work
  EXPECT_THROW(net.modules(), ValueError);
  EXPECT_EQ(net.modules(/*include_self=*/false).size(), 3u);
}

TEST(Module, TrainAndEvalPropagateToEveryDescendant) {
  Net net;
  EXPECT_TRUE(net->is_training());
  net->eval();
  EXPECT_FALSE(net->is_training());
  EXPECT_FALSE(net->bn->is_training());
  EXPECT_FALSE(net->fc->is_training());
  net->train();
  EXPECT_TRUE(net->bn->is_training());
  net->train(false);
  EXPECT_FALSE(net->conv->is_training());
}

TEST(Module, ZeroGradZeroesOrDropsEveryGradient) {
  nn::Linear fc(3, 2);
  Tensor loss = fc(ones({4, 3})).sum();
  loss.backward();
  ASSERT_TRUE(fc->weight.grad().defined());
  EXPECT_NE(fc->weight.grad().abs().sum().item<float>(), 0.f);
  fc->zero_grad();
  ASSERT_TRUE(fc->weight.grad().defined());
  EXPECT_EQ(fc->weight.grad().abs().sum().item<float>(), 0.f);
  EXPECT_EQ(fc->bias.grad().abs().sum().item<float>(), 0.f);
  fc->zero_grad(/*set_to_none=*/true);
  EXPECT_FALSE(fc->weight.grad().defined());
}

TEST(Module, ParametersRequireGradBuffersDoNot) {
  nn::BatchNorm2d bn(3);
  for (const auto& p : bn->parameters()) EXPECT_TRUE(p.requires_grad());
  for (const auto& b : bn->buffers()) EXPECT_FALSE(b.requires_grad());
  EXPECT_EQ(bn->num_batches_tracked.dtype(), kLong);
  EXPECT_EQ(bn->num_batches_tracked.dim(), 0);
}

TEST(Module, ApplyVisitsModulesDepthFirstWithNames) {
  auto net = std::make_shared<NetImpl>();
  std::vector<std::string> names;
  net->apply([&](const std::string& name, nn::Module& m) { names.push_back(name + "=" + (m.as<nn::LinearImpl>() ? "Linear" : "")); });
  EXPECT_EQ(names, (std::vector<std::string>{"=", "conv=", "bn=", "fc=Linear"}));
  int count = 0;
  net->apply([&](nn::Module&) { ++count; });
  EXPECT_EQ(count, 4);
  std::vector<std::string> prefixed;
  net->apply([&](const std::string& name, const std::shared_ptr<nn::Module>&) { prefixed.push_back(name); }, "net");
  EXPECT_EQ(prefixed, (std::vector<std::string>{"net", "net.conv", "net.bn", "net.fc"}));
}

TEST(Module, RegistrationErrorsNameTheProblem) {
  nn::Module m;
  try {
    m.register_parameter("a.b", zeros({1}));
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_EQ(std::string(e.what()), "Parameter name must not contain a dot (got 'a.b')");
  }
  EXPECT_THROW(m.register_parameter("", zeros({1})), ValueError);
  m.register_parameter("w", zeros({1}));
  EXPECT_THROW(m.register_parameter("w", zeros({1})), ValueError);
  EXPECT_THROW(m.register_buffer("w", zeros({1})), ValueError);
  EXPECT_THROW(m.register_module("w", nn::ReLU()), ValueError);
  EXPECT_THROW(m.register_module("x.y", nn::ReLU()), ValueError);
  m.register_module("act", nn::ReLU());
  EXPECT_THROW(m.register_module("act", nn::ReLU()), ValueError);
  m.unregister_module("act");
  EXPECT_EQ(m.named_children().size(), 0u);
  EXPECT_THROW(m.unregister_module("act"), ValueError);
  // An undefined parameter is registered but not listed (Linear without bias).
  m.register_parameter("absent", Tensor(), /*requires_grad=*/false);
  EXPECT_EQ(m.named_parameters().keys(), (std::vector<std::string>{"w"}));
}

TEST(Module, ReplaceModuleSwapsChild) {
  nn::Sequential net(nn::Linear(2, 2), nn::ReLU());
  net->replace_module("1", nn::Tanh());
  EXPECT_NE(net->named_children()["1"]->as<nn::Tanh>(), nullptr);
}

TEST(Module, ToCpuAndFloatAreNoOpsCudaIsAnError) {
  nn::Linear fc(2, 2);
  Tensor before = fc->weight;
  fc->to(kCPU);
  fc->to(kFloat);
  fc->to(Device(kCPU), kFloat);
  EXPECT_TRUE(fc->weight.is_same(before));
  EXPECT_THROW(fc->to(kCUDA), NotImplementedError);
  EXPECT_THROW(fc->to(kLong), TypeError);
}

TEST(Module, CloneDeepCopiesParametersBuffersAndChildren) {
  nn::Sequential net(nn::Conv2d(1, 2, 3), nn::BatchNorm2d(2), nn::Linear(4, 3));
  auto copy = std::dynamic_pointer_cast<nn::SequentialImpl>(net->clone());
  ASSERT_NE(copy, nullptr);
  auto a = net->state_dict(), b = copy->state_dict();
  ASSERT_EQ(a.keys(), b.keys());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].value().equal(b[i].value())) << a[i].key();
    EXPECT_NE(a[i].value().data_ptr(), b[i].value().data_ptr()) << a[i].key();
  }
  // The typed member of the cloned layer is its registered parameter.
  auto conv = copy->ptr<nn::Conv2dImpl>(0);
  EXPECT_TRUE(conv->weight.is_same(conv->named_parameters()["weight"]));
  EXPECT_TRUE(conv->weight.requires_grad());
}

// A user's Cloneable module with a Sequential child: clone() rebuilds it with reset() and
// copies every value, so the clone's members point at its own children.
struct WrapperImpl : nn::Cloneable<WrapperImpl> {
  WrapperImpl() { reset(); }
  void reset() override {
    seq = register_module("seq", nn::Sequential(nn::Linear(2, 2), nn::BatchNorm1d(2)));
    fc = register_module("fc", nn::Linear(2, 1));
  }
  Tensor forward(const Tensor& x) { return fc(seq->forward(x)); }
  nn::Sequential seq{nullptr};
  nn::Linear fc{nullptr};
};
CNNKIT_MODULE(Wrapper);

TEST(Module, CloneOfCustomCloneableCopiesNestedChildren) {
  Wrapper w;
  w->forward(randn({4, 2}));  // moves the batch-norm statistics
  auto copy = std::dynamic_pointer_cast<WrapperImpl>(w->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->fc.ptr().get(), copy->named_children()["fc"].get());
  EXPECT_EQ(copy->seq.ptr().get(), copy->named_children()["seq"].get());
  EXPECT_NE(copy->fc.ptr().get(), w->fc.ptr().get());
  auto a = w->state_dict(), b = copy->state_dict();
  ASSERT_EQ(a.keys(), b.keys());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].value().equal(b[i].value())) << a[i].key();
    EXPECT_NE(a[i].value().data_ptr(), b[i].value().data_ptr()) << a[i].key();
  }
  EXPECT_EQ(b["seq.1.num_batches_tracked"].item<int64_t>(), 1);
  NoGradGuard no_grad;
  copy->fc->weight.fill_(0);  // the clone is independent
  EXPECT_NE(w->fc->weight.abs().sum().item<float>(), 0.f);
}

TEST(Module, PlainModuleSubclassCannotClone) {
  Net net;
  try {
    net->clone();
    FAIL();
  } catch (const NotImplementedError& e) {
    EXPECT_NE(std::string(e.what()).find("clone() has not been implemented for (anonymous namespace)::NetImpl"),
              std::string::npos);
  }
}

// ---- containers ----------------------------------------------------------------------------

TEST(Sequential, PushBackIndexingAndIteration) {
  nn::Sequential net;
  EXPECT_TRUE(net->is_empty());
  EXPECT_THROW(net->forward(zeros({1, 2})), ValueError);
  net->push_back(nn::Linear(2, 3));
  net->push_back(nn::ReLU());
  net->push_back("out", nn::Linear(3, 1));
  net->push_back(std::make_shared<nn::SigmoidImpl>());
  EXPECT_EQ(net->size(), 4u);
  EXPECT_EQ(net->named_children().keys(), (std::vector<std::string>{"0", "1", "out", "3"}));
  EXPECT_EQ(net->ptr<nn::LinearImpl>(2)->options.in_features(), 3);
  EXPECT_EQ(net->at<nn::LinearImpl>(0).options.out_features(), 3);
  EXPECT_NE(net[1]->as<nn::ReLU>(), nullptr);
  EXPECT_THROW(net->ptr(4), ValueError);
  EXPECT_THROW(net->at<nn::LinearImpl>(1), TypeError);
  size_t n = 0;
  for (const auto& m : *net) n += m.ptr() != nullptr;
  EXPECT_EQ(n, 4u);
  Tensor y = net->forward(randn({5, 2}));
  EXPECT_EQ(y.sizes(), IntArrayRef({5, 1}));
  EXPECT_GE(y.min().item<float>(), 0.f);  // sigmoid output
  EXPECT_LE(y.max().item<float>(), 1.f);
  Tensor y2 = net(randn({5, 2}));
  EXPECT_EQ(y2.sizes(), IntArrayRef({5, 1}));
}

TEST(Sequential, NamedConstructionAndNesting) {
  nn::Sequential net({{"conv", nn::Conv2d(1, 2, 3)}, {"act", nn::ReLU()}});
  EXPECT_EQ(keys_of(net->named_parameters()), (std::vector<std::string>{"conv.weight", "conv.bias"}));
  nn::Sequential outer(net, nn::Flatten(), nn::Linear(2 * 2 * 2, 1));
  EXPECT_EQ(keys_of(outer->named_parameters()),
            (std::vector<std::string>{"0.conv.weight", "0.conv.bias", "2.weight", "2.bias"}));
  EXPECT_EQ(outer->forward(randn({3, 1, 4, 4})).sizes(), IntArrayRef({3, 1}));
}

TEST(Sequential, LeNet5ShapesFollowTheLayers) {
  nn::Sequential lenet(nn::Conv2d(nn::Conv2dOptions(1, 6, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(6, 16, 5), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                       nn::Linear(16 * 5 * 5, 120), nn::ReLU(), nn::Linear(120, 84), nn::ReLU(), nn::Linear(84, 10));
  Tensor x = randn({4, 1, 28, 28});
  Tensor h = x;
  const std::vector<std::vector<int64_t>> shapes = {{4, 6, 28, 28}, {4, 6, 28, 28}, {4, 6, 14, 14}, {4, 16, 10, 10},
                                                    {4, 16, 10, 10}, {4, 16, 5, 5}, {4, 400}, {4, 120},
                                                    {4, 120}, {4, 84}, {4, 84}, {4, 10}};
  size_t i = 0;
  for (auto& layer : *lenet) {
    h = layer.forward(h);
    EXPECT_EQ(h.sizes(), IntArrayRef(shapes[i])) << "layer " << i;
    ++i;
  }
  Tensor y = lenet->forward(x);
  EXPECT_TRUE(y.allclose(h));
  EXPECT_EQ(lenet->parameters().size(), 10u);
  int64_t count = 0;
  for (const auto& p : lenet->parameters()) count += p.numel();
  EXPECT_EQ(count, 61706);  // sum(p.numel() for p in lenet.parameters()) in PyTorch
}

TEST(ModuleList, HoldsAndRenumbersModules) {
  nn::ModuleList list(nn::Linear(2, 2), nn::ReLU());
  list->push_back(nn::Tanh());
  list->insert(1, nn::Sigmoid());
  EXPECT_EQ(list->size(), 4u);
  EXPECT_EQ(list->named_children().keys(), (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_NE(list[1]->as<nn::Sigmoid>(), nullptr);
  EXPECT_NE(list->ptr<nn::ReLUImpl>(2), nullptr);
  EXPECT_NE(list->named_children()["3"]->as<nn::Tanh>(), nullptr);
  EXPECT_THROW(list->ptr(4), ValueError);
  EXPECT_THROW(list->ptr<nn::LinearImpl>(1), TypeError);
  Tensor x = randn({3, 2});
  for (const auto& m : *list)
    if (auto* fc = m->as<nn::Linear>()) x = fc->forward(x);
  EXPECT_EQ(x.sizes(), IntArrayRef({3, 2}));
  EXPECT_EQ(keys_of(list->named_parameters()), (std::vector<std::string>{"0.weight", "0.bias"}));
}

TEST(AnyModule, ForwardsAndRecoversTheType) {
  nn::AnyModule any(nn::Linear(3, 4));
  EXPECT_EQ(any.forward(randn({2, 3})).sizes(), IntArrayRef({2, 4}));
  EXPECT_EQ(any.get<nn::LinearImpl>().options.out_features(), 4);
  nn::Linear holder = any.get<nn::Linear>();
  EXPECT_EQ(holder.ptr().get(), any.ptr().get());
  EXPECT_THROW(any.get<nn::ReLUImpl>(), TypeError);
  nn::AnyModule empty;
  EXPECT_TRUE(empty.is_empty());
  EXPECT_THROW(empty.forward(zeros({1})), ValueError);
}

TEST(Functional, WrapsFreeFunctionsWithBoundArguments) {
  nn::Sequential net(nn::Functional(cnnkit::relu), nn::Functional(cnnkit::leaky_relu, 0.5));
  Tensor y = net->forward(tensor({-2.f, 3.f}));
  EXPECT_EQ(y.to_vector(), (std::vector<float>{0.f, 3.f}));
  nn::Functional neg([](Tensor x) { return -x; });
  EXPECT_EQ(neg(tensor({1.f}))[0].item<float>(), -1.f);
  EXPECT_FALSE(neg->is_serializable());
}

// Sequential runs ReLU -> MaxPool2d as MaxPool2d -> ReLU (sequential.h). Same values and the
// same gradients as the modules run as written, on data full of ties, zeros, negative windows
// and a NaN, with overlapping windows, padding and ceil_mode.
TEST(Sequential, ReluMaxPoolRewriteGivesTheWrittenOrdersValuesAndGradients) {
  manual_seed(3);
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(2, 5, 3).padding(1)), nn::ReLU(),
                     nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)),
                     nn::ReLU(nn::ReLUOptions().inplace(true)),
                     nn::MaxPool2d(nn::MaxPool2dOptions(2).ceil_mode(true)));
  // Halves: many equal values, exact zeros and all-negative windows after the conv.
  Tensor x = round(randn({3, 2, 11, 9}) * 2.0) / 2.0;
  x.index_put_({1, 0, 4, 4}, std::nanf(""));

  auto finite = [](const Tensor& t) { return where(isnan(t), zeros_like(t), t); };
  auto run = [&](bool rewrite) {
    nn::set_sequential_rewrites(rewrite);
    Tensor in = x.clone().requires_grad_(true);
    net->zero_grad();
    Tensor y = net->forward(in);
    std::string last_op = y.grad_fn()->name();
    (finite(y) * arange(y.numel()).reshape(y.sizes()).to(kFloat)).sum().backward();
    std::vector<Tensor> out{y, in.grad()};
    for (const auto& p : net->parameters()) out.push_back(p.grad().clone());
    return std::make_pair(out, last_op);
  };
  const auto [written, written_last] = run(false);
  const auto [rewritten, rewritten_last] = run(true);
  nn::set_sequential_rewrites(true);
  EXPECT_NE(written_last, rewritten_last) << "the rewrite did not run";
  ASSERT_EQ(written.size(), rewritten.size());
  EXPECT_GT(isnan(written[0]).sum().item<int64_t>(), 0) << "the NaN should reach the output";
  EXPECT_TRUE(isnan(written[0]).equal(isnan(rewritten[0])));
  for (size_t i = 0; i < written.size(); ++i)
    EXPECT_TRUE(allclose(finite(rewritten[i]), finite(written[i]), 1e-6, 0.0)) << "tensor " << i;

  // An in-place ReLU at the front runs as written: the caller's tensor is changed.
  nn::Sequential front(nn::ReLU(nn::ReLUOptions().inplace(true)), nn::MaxPool2d(2));
  Tensor z = x.clone();
  front->forward(z);
  EXPECT_EQ((z < 0).sum().item<int64_t>(), 0);
}
