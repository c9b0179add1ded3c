// `cnnkit info --profile` through the CLI on the tiny synthetic dataset: the table has the
// summary's columns and the timing ones, the batch is the config's unless --batch says, and
// the profile options need --profile. The timing itself is tests/models/profile_test.cpp's.
#include <gtest/gtest.h>

#include "cli/cli_util.h"

namespace cnnkit::test::cli {
namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(CliInfo, ProfileTimesEachLayer) {
  const std::string cfg = tiny_config("profile.yaml", test::temp_path("profile/unused"));
  Result r = run("info " + cfg + " --profile --steps 2 --batch 4 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  for (const char* column : {"Layer (type)", "Output shape", "Params", "FLOPs", "Forward ms", "Backward ms", "Share"})
    EXPECT_TRUE(contains(r.out, column)) << column << "\n" << r.out;
  EXPECT_TRUE(contains(r.out, "profile: a training step per layer (batch 4, random data)")) << r.out;
  EXPECT_TRUE(contains(r.out, "Timed on an input of shape [4, 1, 28, 28] in training mode, 1 thread: medians of 2 "
                              "steps after 2 warm-up steps")) << r.out;
  EXPECT_TRUE(contains(r.out, "(Conv2d)")) << r.out;
  EXPECT_TRUE(contains(r.out, "100.0%")) << r.out;
  // The config's batch size by default (32 in the tiny config).
  r = run("info " + cfg + " --profile --steps 1");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "[32, 1, 28, 28]")) << r.out;
  // --steps and --batch belong to --profile; a plain info has no timing.
  r = run("info " + cfg + " --steps 3");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "--profile")) << r.err;
  r = run("info " + cfg);
  EXPECT_EQ(r.code, 0);
  EXPECT_FALSE(contains(r.out, "Forward ms")) << r.out;
  r = run("info " + cfg + " --profile --batch 0");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "--batch must be at least 1")) << r.err;
}

}  // namespace
}  // namespace cnnkit::test::cli
