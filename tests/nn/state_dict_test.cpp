// Module::state_dict / load_state_dict: PyTorch's keys and order, round trips, strict
// errors that list every missing, unexpected and mis-shaped key, non-strict partial loads,
// non-persistent buffers, and loading in place (optimisers keep their tensors).
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"

#include "test_util.h"

using namespace cnnkit;

namespace {

using cnnkit::test::message_of;

nn::Sequential small_net() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(3, 4, 3).padding(1)), nn::BatchNorm2d(4), nn::ReLU(),
                        nn::Flatten(), nn::Linear(4 * 4 * 4, 2));
}


}  // namespace

TEST(StateDict, KeysAndValuesArePyTorchs) {
  auto net = small_net();
  auto sd = net->state_dict();
  EXPECT_EQ(sd.keys(), (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                                 "1.running_var", "1.num_batches_tracked", "4.weight", "4.bias"}));
  EXPECT_EQ(sd["0.weight"].sizes(), IntArrayRef({4, 3, 3, 3}));
  EXPECT_EQ(sd["1.num_batches_tracked"].dtype(), kLong);
  // Detached views of the module's own storage, like PyTorch's.
  EXPECT_FALSE(sd["0.weight"].requires_grad());
  EXPECT_EQ(sd["0.weight"].data_ptr(), net->ptr<nn::Conv2dImpl>(0)->weight.data_ptr());
  auto kept = net->state_dict("", /*keep_vars=*/true);
  EXPECT_TRUE(kept["0.weight"].requires_grad());
  EXPECT_EQ(net->state_dict("model").keys()[0], "model.0.weight");
}

TEST(StateDict, RoundTripCopiesValuesInPlace) {
  auto a = small_net();
  auto b = small_net();
  a->forward(randn({2, 3, 4, 4}));  // moves a's running statistics and counter
  void* b_weight_storage = b->ptr<nn::Conv2dImpl>(0)->weight.data_ptr();
  auto missing = b->load_state_dict(a->state_dict());
  EXPECT_TRUE(missing.empty());
  auto sa = a->state_dict(), sb = b->state_dict();
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(sa[i].value().equal(sb[i].value())) << sa[i].key();
  EXPECT_EQ(sb["1.num_batches_tracked"].item<int64_t>(), 1);
  EXPECT_EQ(b->ptr<nn::Conv2dImpl>(0)->weight.data_ptr(), b_weight_storage);
  EXPECT_TRUE(b->ptr<nn::Conv2dImpl>(0)->weight.requires_grad());
  a->eval();
  b->eval();
  Tensor x = randn({2, 3, 4, 4});
  EXPECT_TRUE(a->forward(x).equal(b->forward(x)));
}

TEST(StateDict, LoadsFromStdMap) {
  nn::Linear fc(2, 1);
  std::map<std::string, Tensor> values{{"weight", tensor({{3.f, 4.f}})}, {"bias", tensor({0.5f})}};
  fc->load_state_dict(values);
  EXPECT_EQ(fc->weight.to_vector(), (std::vector<float>{3.f, 4.f}));
  EXPECT_EQ(fc(tensor({{1.f, 1.f}})).item<float>(), 7.5f);
}

TEST(StateDict, StrictLoadReportsEveryProblemAndLoadsNothing) {
  auto net = small_net();
  auto sd = net->state_dict();
  OrderedDict<std::string, Tensor> bad;
  for (const auto& item : sd) {
    if (item.key() == "1.running_var" || item.key() == "4.bias") continue;  // missing
    if (item.key() == "0.weight")
      bad.insert(item.key(), zeros({4, 1, 3, 3}));  // wrong shape
    else
      bad.insert(item.key(), zeros_like(item.value()));
  }
  bad.insert("5.weight", zeros({1}));  // unexpected
  Tensor before = net->ptr<nn::LinearImpl>(4)->weight.clone();
  std::string msg;
  try {
    net->load_state_dict(bad);
    FAIL() << "strict load accepted a bad state dict";
  } catch (const ShapeError& e) {
    msg = e.what();
  }
  EXPECT_EQ(msg,
            "Error(s) in loading state_dict for Sequential:\n"
            "\tMissing key(s) in state_dict: \"1.running_var\", \"4.bias\". \n"
            "\tUnexpected key(s) in state_dict: \"5.weight\". \n"
            "\tsize mismatch for 0.weight: copying a param with shape [4, 1, 3, 3] from checkpoint, the shape in "
            "current model is [4, 3, 3, 3].");
  EXPECT_TRUE(net->ptr<nn::LinearImpl>(4)->weight.equal(before));  // nothing was loaded
}

TEST(StateDict, MissingKeysAloneAreAValueError) {
  nn::Linear fc(2, 2);
  OrderedDict<std::string, Tensor> only_weight;
  only_weight.insert("weight", zeros({2, 2}));
  EXPECT_THROW(fc->load_state_dict(only_weight), ValueError);
  EXPECT_EQ(message_of([&] { fc->load_state_dict(only_weight); }),
            "Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: \"bias\". ");
}

TEST(StateDict, NonStrictLoadsWhatMatchesAndReturnsTheRest) {
  nn::Linear fc(2, 2);
  Tensor bias_before = fc->bias.clone();
  OrderedDict<std::string, Tensor> partial;
  partial.insert("weight", ones({2, 2}));
  partial.insert("bias", ones({3}));  // wrong shape: skipped
  partial.insert("extra", ones({1}));
  auto result = fc->load_state_dict(partial, /*strict=*/false);
  EXPECT_EQ(fc->weight.to_vector(), (std::vector<float>{1.f, 1.f, 1.f, 1.f}));
  EXPECT_TRUE(fc->bias.equal(bias_before));
  EXPECT_EQ(result.missing_keys, std::vector<std::string>{});
  EXPECT_EQ(result.unexpected_keys, std::vector<std::string>{"extra"});
  EXPECT_EQ(result.mismatched_keys, std::vector<std::string>{"bias"});
}

TEST(StateDict, NonPersistentBuffersAndAbsentParametersAreLeftOut) {
  struct WithScratch : nn::Module {
    WithScratch() {
      register_buffer("kept", zeros({2}));
      register_buffer("scratch", zeros({2}), /*persistent=*/false);
      register_parameter("absent", Tensor(), false);
    }
  } m;
  EXPECT_EQ(m.state_dict().keys(), std::vector<std::string>{"kept"});
  EXPECT_EQ(m.named_buffers().keys(), (std::vector<std::string>{"kept", "scratch"}));
  nn::BatchNorm2d no_stats(nn::BatchNorm2dOptions(3).affine(false).track_running_stats(false));
  EXPECT_TRUE(no_stats->state_dict().is_empty());
  nn::Conv2d no_bias(nn::Conv2dOptions(1, 1, 1).bias(false));
  EXPECT_EQ(no_bias->state_dict().keys(), std::vector<std::string>{"weight"});
}
