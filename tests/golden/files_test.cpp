// The golden files themselves: each records its generator and torch version, lists its
// cases, and gives every case an input, an output and its options; the whole data folder
// stays small enough to commit (< 4 MB, and the ONNX models < 2 MB).
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"

using cnnkit::test::Golden;

TEST(GoldenFiles, EveryFileRecordsGeneratorTorchVersionAndCompleteCases) {
  for (const char* family : {"conv2d", "activation", "pooling", "normalization", "linear", "model"}) {
    SCOPED_TRACE(family);
    Golden g(family);
    EXPECT_EQ(g.metadata().at("generator"), std::string("tools/golden/gen_") + family + ".py");
    EXPECT_EQ(g.metadata().at("torch_version").rfind("1.13", 0), 0u) << g.metadata().at("torch_version");
    auto cases = g.cases();
    EXPECT_GT(cases.size(), 2u);
    for (const auto& c : cases) {
      EXPECT_TRUE(g.has(c, "input")) << c;
      EXPECT_TRUE(g.has(c, "out")) << c;
      EXPECT_TRUE(g.has(c, "grad_input")) << c;
      EXPECT_TRUE(g.options(c).contains("module")) << c;
    }
  }
}

// 3 MB until the swa_utils trajectories (79 KB) filled the last of it; 4 MB until conv2d's
// cases for the Winograd kernels' shapes (122 KB: channels in multiples of 8) filled that. A
// generator that writes megabytes still fails here.
TEST(GoldenFiles, DataFolderStaysUnderFourAndAHalfMegabytes) {
  uintmax_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(CNNKIT_GOLDEN_DIR))
    if (e.is_regular_file()) total += e.file_size();
  EXPECT_LT(total, 9u << 19);
}

// The ONNX models of tools/golden/gen_onnx.py (PyTorch exports with their outputs): 2 MB.
TEST(GoldenFiles, OnnxFolderStaysUnderTwoMegabytes) {
  uintmax_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(std::string(CNNKIT_GOLDEN_DIR) + "/onnx"))
    if (e.is_regular_file()) total += e.file_size();
  EXPECT_GT(total, 0u);
  EXPECT_LT(total, 2u << 20);
}
