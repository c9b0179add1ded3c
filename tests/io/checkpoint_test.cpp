// Checkpoints: exact round trip of tensors, scalars (%.17g) and strings in one safetensors
// file; validation of the format key, the version and the model's keys and shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "cnnkit/cnnkit.h"
#include "cnnkit/io/checkpoint.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::contains;
using cnnkit::test::message_of;
using cnnkit::test::temp_path;

namespace {

struct TinyImpl : nn::Module {
  explicit TinyImpl(int64_t c1 = 6) {
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(1, c1, 5)));
    fc = register_module("fc", nn::Linear(c1, 3));
  }
  Tensor forward(Tensor x) { return fc(conv(x).mean({2, 3})); }
  nn::Conv2d conv{nullptr};
  nn::Linear fc{nullptr};
};
CNNKIT_MODULE(Tiny);

io::Checkpoint sample(const nn::Module& m) {
  io::Checkpoint ck;
  ck.model = io::named_tensors(m.state_dict());
  ck.optimizer.tensors["state.0.momentum_buffer"] = test::seq({6, 1, 5, 5});
  ck.optimizer.scalars["param_groups.0.lr"] = 0.1;              // not exact in binary
  ck.optimizer.scalars["param_groups.0.momentum"] = 1.0 / 3.0;  // needs 17 digits
  ck.optimizer.scalars["state.0.step"] = 12345;
  ck.scheduler.scalars["last_epoch"] = 7;
  ck.scheduler.scalars["best"] = INFINITY;
  ck.extra["trainer.epoch"] = "2";
  ck.extra["rng.default"] = "123 0 0 4 5 6";
  ck.extra_tensors["callback.es.best_weights.fc.bias"] = test::seq({3}, 0.3);
  return ck;
}

}  // namespace

TEST(Checkpoint, RoundTripIsExact) {
  Tiny net;
  io::Checkpoint ck = sample(*net);
  std::string path = temp_path("ck_roundtrip.safetensors");
  io::save_checkpoint(path, ck);
  io::Checkpoint back = io::load_checkpoint(path);

  ASSERT_EQ(back.model.size(), ck.model.size());
  std::map<std::string, Tensor> model(back.model.begin(), back.model.end());
  for (const auto& [k, t] : ck.model) EXPECT_TRUE(model.at(k).equal(t)) << k;
  EXPECT_TRUE(back.optimizer.tensors.at("state.0.momentum_buffer").equal(ck.optimizer.tensors.at("state.0.momentum_buffer")));
  for (const auto& [k, v] : ck.optimizer.scalars) EXPECT_EQ(back.optimizer.scalars.at(k), v) << k;  // bit for bit
  EXPECT_EQ(back.scheduler.scalars.at("last_epoch"), 7);
  EXPECT_EQ(back.scheduler.scalars.at("best"), INFINITY);
  EXPECT_EQ(back.extra, ck.extra);
  EXPECT_TRUE(back.extra_tensors.at("callback.es.best_weights.fc.bias").equal(ck.extra_tensors.at("callback.es.best_weights.fc.bias")));

  // Any safetensors reader sees the weights under "model." and the format keys.
  auto meta = io::load_safetensors_metadata(path);
  EXPECT_EQ(meta.at("cnnkit.format"), "checkpoint");
  EXPECT_EQ(meta.at("cnnkit.version"), "1");
  EXPECT_EQ(meta.at("model.fingerprint"), io::model_fingerprint(*net));
  EXPECT_TRUE(contains(meta.at("model.fingerprint"), "conv.weight[6,1,5,5]"));
  EXPECT_EQ(io::load_safetensors(path).count("model.fc.weight"), 1u);

  Tiny other;
  io::load_model_state(path, back, *other);
  EXPECT_TRUE(other->fc->weight.equal(net->fc->weight));
}

TEST(Checkpoint, DoublesSurviveAsText) {
  for (double v : {0.1, 1.0 / 3.0, 1e-300, -2.5e17, 5e-324, 0.0}) EXPECT_EQ(io::parse_double(io::format_double(v), "v"), v);
  EXPECT_TRUE(std::isnan(io::parse_double(io::format_double(NAN), "v")));
  EXPECT_EQ(io::parse_double(io::format_double(-INFINITY), "v"), -INFINITY);
  EXPECT_THROW(io::parse_double("0.5x", "v"), ValueError);
  EXPECT_THROW(io::parse_double("", "v"), ValueError);
}

TEST(Checkpoint, AnotherModelNamesFileKeyAndShapes) {
  Tiny small(6), big(16);
  std::string path = temp_path("ck_small.safetensors");
  io::save_checkpoint(path, sample(*small));
  io::Checkpoint ck = io::load_checkpoint(path);
  std::string msg = message_of([&] { io::load_model_state(path, ck, *big); });
  EXPECT_TRUE(contains(msg, "checkpoint " + path + " was saved from another model")) << msg;
  EXPECT_TRUE(contains(msg, "'conv.weight' has shape [6, 1, 5, 5], the model expects [16, 1, 5, 5]")) << msg;
  EXPECT_THROW(io::check_model_matches(path, ck, *big), ValueError);

  // A key the model lacks, and a key the checkpoint lacks.
  io::Checkpoint extra = ck;
  extra.model.emplace_back("head.weight", zeros({2}));
  EXPECT_TRUE(contains(message_of([&] { io::check_model_matches(path, extra, *small); }), "'head.weight'"));
  io::Checkpoint missing = ck;
  missing.model.pop_back();
  EXPECT_TRUE(contains(message_of([&] { io::check_model_matches(path, missing, *small); }), "which the checkpoint lacks"));
}

TEST(Checkpoint, RejectsBareWeightsMissingFilesAndNewerVersions) {
  Tiny net;
  std::string bare = temp_path("ck_bare.safetensors");
  io::save_state_dict(bare, *net);
  EXPECT_THROW(io::load_checkpoint(bare), IOError);
  EXPECT_TRUE(contains(message_of([&] { io::load_checkpoint(bare); }), "not a cnnkit checkpoint"));
  EXPECT_THROW(io::load_checkpoint(temp_path("does_not_exist.safetensors")), IOError);

  std::string newer = temp_path("ck_newer.safetensors");
  io::save_safetensors(newer, {{"model.x", zeros({1})}}, {{"cnnkit.format", "checkpoint"}, {"cnnkit.version", "99"}});
  std::string msg = message_of([&] { io::load_checkpoint(newer); });
  EXPECT_TRUE(contains(msg, "version 99")) << msg;
  EXPECT_THROW(io::load_checkpoint(newer), IOError);

  std::string garbage = temp_path("ck_garbage.safetensors");
  std::ofstream(garbage) << "not a safetensors file at all";
  EXPECT_THROW(io::load_checkpoint(garbage), IOError);

  std::string bad_scalar = temp_path("ck_bad_scalar.safetensors");
  io::save_safetensors(bad_scalar, {{"model.x", zeros({1})}},
                       {{"cnnkit.format", "checkpoint"}, {"cnnkit.version", "1"}, {"optimizer.lr", "fast"}});
  EXPECT_THROW(io::load_checkpoint(bad_scalar), ValueError);
}

TEST(Checkpoint, SaveIsAtomicAndRejectsEmptyKeys) {
  Tiny net;
  std::string path = temp_path("ck_atomic.safetensors");
  io::save_checkpoint(path, sample(*net));
  io::Checkpoint bad = sample(*net);
  bad.extra[""] = "x";
  EXPECT_THROW(io::save_checkpoint(path, bad), ValueError);
  // The earlier file is intact and no temporary is left behind.
  EXPECT_NO_THROW(io::load_checkpoint(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}
