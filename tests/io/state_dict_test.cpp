// io::save_state_dict / io::load_state_dict: a module's weights, buffers included, through
// a safetensors file with PyTorch's key names; strict and non-strict loading; and a
// state dict that PyTorch wrote (the golden LeNet-5) loading into the same cnnkit network.
#include <gtest/gtest.h>

#include "cnnkit/io/safetensors.h"
#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::temp_path;

namespace {

nn::Sequential small_net() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 2, 3).padding(1)), nn::BatchNorm2d(2), nn::ReLU(),
                        nn::Flatten(), nn::Linear(2 * 4 * 4, 3));
}

}  // namespace

TEST(StateDictIO, SaveThenLoadRestoresParametersAndBuffers) {
  manual_seed(1);
  nn::Sequential a = small_net();
  // A training step's worth of running statistics, so buffers differ from a fresh net.
  a->train();
  a->forward(randn({4, 1, 4, 4}));
  std::string path = temp_path("net.safetensors");
  io::save_state_dict(path, *a, {{"epoch", "3"}});

  auto file = io::load_safetensors(path);
  // 0.weight 0.bias 1.weight 1.bias 1.running_mean 1.running_var 1.num_batches_tracked
  // 4.weight 4.bias
  EXPECT_EQ(file.size(), 9u);
  EXPECT_EQ(file.at("1.num_batches_tracked").scalar_type(), kLong);
  EXPECT_EQ(io::load_safetensors_metadata(path).at("epoch"), "3");

  manual_seed(2);
  nn::Sequential b = small_net();
  auto result = io::load_state_dict(path, *b);
  EXPECT_TRUE(result.empty());
  auto sa = a->state_dict(), sb = b->state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& item : sa) {
    const Tensor& want = item.value();
    const Tensor* got = sb.find(item.key());
    ASSERT_NE(got, nullptr) << item.key();
    EXPECT_EQ(got->scalar_type(), want.scalar_type()) << item.key();
    EXPECT_EQ(got->to_vector(), want.to_vector()) << item.key();
  }
  EXPECT_EQ(sb["1.num_batches_tracked"].item<int64_t>(), 1);
}

TEST(StateDictIO, StrictLoadRejectsMissingKeysAndNonStrictReportsThem) {
  std::string path = temp_path("partial.safetensors");
  nn::Linear fc(4, 2);
  io::save_safetensors(path, {{"weight", fc->weight.detach()}});  // no bias
  nn::Linear other(4, 2);
  EXPECT_THROW(io::load_state_dict(path, *other), ValueError);
  auto result = io::load_state_dict(path, *other, /*strict=*/false);
  ASSERT_EQ(result.missing_keys.size(), 1u);
  EXPECT_EQ(result.missing_keys[0], "bias");
  EXPECT_EQ(other->weight.to_vector(), fc->weight.to_vector());
}

TEST(StateDictIO, MismatchedShapeIsAShapeError) {
  std::string path = temp_path("shape.safetensors");
  nn::Linear fc(4, 2);
  io::save_state_dict(path, *fc);
  nn::Linear wider(5, 2);
  EXPECT_THROW(io::load_state_dict(path, *wider), ShapeError);
}

TEST(StateDictIO, MissingFileIsAnIOError) {
  nn::Linear fc(4, 2);
  EXPECT_THROW(io::load_state_dict(temp_path("none.safetensors"), *fc), IOError);
}

// tools/golden/gen_model.py saved torch's LeNet-5 (an nn.Sequential) state dict under the
// prefix "lenet5/"; stripped of it, the keys are exactly cnnkit's.
TEST(StateDictIO, TorchLeNet5StateDictLoadsIntoTheSameSequential) {
  auto all = io::load_safetensors(std::string(CNNKIT_GOLDEN_DIR) + "/model.safetensors");
  std::map<std::string, Tensor> sd;
  for (const auto& [k, v] : all) {
    std::string rest = k.substr(k.find('/') + 1);
    if (k.rfind("lenet5/", 0) == 0 && std::isdigit(static_cast<unsigned char>(rest[0]))) sd.emplace(rest, v);
  }
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(1, 6, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                     nn::Conv2d(6, 16, 5), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                     nn::Linear(16 * 5 * 5, 120), nn::ReLU(), nn::Linear(120, 84), nn::ReLU(), nn::Linear(84, 10));
  EXPECT_EQ(sd.size(), net->state_dict().size());
  EXPECT_TRUE(net->load_state_dict(sd).empty());
  std::string path = temp_path("lenet.safetensors");
  io::save_state_dict(path, *net);
  auto back = io::load_safetensors(path);
  EXPECT_EQ(back.at("9.weight").to_vector(), sd.at("9.weight").to_vector());
}
