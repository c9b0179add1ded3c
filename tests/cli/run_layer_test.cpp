// train::Run, the layer under every CLI verb: `cnnkit train` and the documented C++ API give
// the same validation split and the same normalisation statistics for the same seed, building
// a run never changes its config, and a trained run opened again evaluates as `cnnkit eval`.
#include <gtest/gtest.h>

#include <cmath>

#include "cli_util.h"
#include "cnnkit/data/datasets/npy.h"
#include "cnnkit/data/split.h"
#include "cnnkit/data/stats.h"
#include "cnnkit/train/run.h"

namespace cnnkit::test::cli {
namespace {

// Uneven classes (13, 7, 5, 11 examples): a per-class llround and the data layer's floor +
// largest remainder give different validation sizes for 0.3 of them.
std::string uneven_config(const std::string& name, const std::string& run_dir) {
  const std::string dir = test::temp_path("uneven");
  const int64_t counts[] = {13, 7, 5, 11};
  int64_t n = 0;
  for (int64_t c : counts) n += c;
  Tensor x = empty({n, 1, 28, 28}, kByte);
  Tensor y = empty({n}, kLong);
  Generator gen(3);
  int64_t i = 0;
  for (int64_t c = 0; c < 4; ++c)
    for (int64_t k = 0; k < counts[c]; ++k, ++i) {
      y.data_ptr<int64_t>()[i] = c;
      for (int64_t p = 0; p < 28 * 28; ++p)
        x.data_ptr<uint8_t>()[i * 28 * 28 + p] = static_cast<uint8_t>((p / 196 == c ? 150 : 0) + gen.next_u32() % 90);
    }
  fs::create_directories(dir);
  io::save_npy(dir + "/x.npy", x);
  io::save_npy(dir + "/y.npy", y);
  return write(name, "data:\n"
                     "  dataset: npy\n"
                     "  paths: {train_images: " + dir + "/x.npy, train_labels: " + dir + "/y.npy,\n"
                     "          test_images: " + dir + "/x.npy, test_labels: " + dir + "/y.npy}\n"
                     "  batch_size: 8\n"
                     "  workers: 1\n"
                     "  split: {val: 0.3, seed: 7}\n"
                     "model: {zoo: lenet5, in_channels: 1, num_classes: 4}\n"
                     "optimizer: {name: SGD, lr: 0.01}\n"
                     "epochs: 1\n"
                     "output_dir: " + run_dir + "\n");
}

std::vector<size_t> indices_of(const std::shared_ptr<data::Subset>& s) { return s->indices(); }

TEST(RunLayer, SameSplitAndStatisticsAsTheDataLayerAndTheCli) {
  const std::string run_dir = test::temp_path("runs/uneven");
  const std::string config = uneven_config("uneven.yaml", run_dir);
  train::Run run(train::load_run_config(config));
  const train::RunData& d = run.data();

  // The documented C++ API on the same data and seed.
  const std::string dir = test::temp_path("uneven");
  auto full = std::make_shared<data::datasets::NpyDataset>(dir + "/x.npy", dir + "/y.npy",
                                                           data::datasets::NpyOptions().images(true));
  const auto parts = data::stratified_split(full, {0.7, 0.3}, 7);
  EXPECT_EQ(d.train_indices, indices_of(parts[0]));
  EXPECT_EQ(d.val_indices, indices_of(parts[1]));
  // Per class 3.9, 2.1, 1.5, 3.3 validation examples: the remainders go to the larger
  // fractional part (4, 2, 1 or 2 by the tie rule, 3), not llround's 4 + 2 + 2 + 3 = 11.
  EXPECT_EQ(d.val_indices.size(), 10u);
  // The indices point into train_source, the whole training set, untransformed (uint8 here).
  ASSERT_NE(d.train_source, nullptr);
  EXPECT_EQ(d.train_source->size().value(), full->size().value());
  EXPECT_EQ(d.train_source->get(d.val_indices[0]).target.item<int64_t>(),
            full->get(d.val_indices[0]).target.item<int64_t>());
  EXPECT_EQ(d.train_source->get(0).data.scalar_type(), kByte);

  const auto [mean, std] = data::compute_mean_std(parts[0]);
  ASSERT_EQ(d.mean.size(), 1u);
  EXPECT_NEAR(d.mean[0], mean[0], 5e-4 * mean[0]);  // rounded to 4 significant digits
  EXPECT_NEAR(d.std[0], std[0], 5e-4 * std[0]);

  // The CLI trains on the same split and saves the same statistics.
  const Result r = test::cli::run("train -q " + config);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("split: 26 train / 10 validation (stratified, seed 7)"), std::string::npos) << r.out;
  const train::RunConfig saved = train::load_run_config(run_dir + "/config.yaml");
  EXPECT_EQ(saved.data.mean, d.mean);
  EXPECT_EQ(saved.data.std, d.std);
}

TEST(RunLayer, BuildingDoesNotChangeTheConfig) {
  train::Run run(train::load_run_config(uneven_config("unchanged.yaml", test::temp_path("runs/unchanged"))));
  run.data();
  EXPECT_TRUE(run.config().data.mean.empty());
  EXPECT_TRUE(run.config().data.image_shape.empty());
  EXPECT_TRUE(run.config().data.input_values.empty());
  const train::RunConfig r = run.resolved_config();
  EXPECT_EQ(r.data.mean, run.data().mean);
  EXPECT_EQ(r.data.image_shape, (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(r.data.input_values, "uint8");
  EXPECT_FALSE(fs::exists(test::temp_path("runs/unchanged"))) << "nothing is written before fit()";
}

TEST(RunLayer, OpenedRunEvaluatesAsTheCli) {
  const std::string& dir = trained_run();
  train::Run run = train::Run::open(dir);
  const train::Metrics m = run.evaluate("test");
  const Result r = test::cli::run("eval " + dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(train::metrics_line(m)), std::string::npos) << r.out << "\nexpected " << train::metrics_line(m);
  EXPECT_EQ(m.count, 128);
  const std::string msg = error_of([&] { run.evaluate("validation"); });
  EXPECT_NE(msg.find("unknown split 'validation' (test, val or train)"), std::string::npos) << msg;
}

}  // namespace
}  // namespace cnnkit::test::cli
