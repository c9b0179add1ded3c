// AtomicFile: the target holds the old bytes or the complete new ones, never half.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cnnkit/core/error.h"
#include "cnnkit/io/file.h"
#include "test_util.h"

using cnnkit::test::temp_path;
using cnnkit::test::read_bytes;

namespace {
}  // namespace

TEST(AtomicFile, CommitReplacesTheTargetAndLeavesNoTemporary) {
  const std::string p = temp_path("atomic_commit.txt");
  cnnkit::io::write_file_atomic(p, "old", "test");
  cnnkit::io::AtomicFile f(p, "test");
  f.write("new ");
  f.write("bytes");
  EXPECT_EQ(read_bytes(p), "old");  // nothing visible before commit
  f.commit();
  EXPECT_EQ(read_bytes(p), "new bytes");
  EXPECT_FALSE(std::filesystem::exists(p + ".tmp"));
}

TEST(AtomicFile, AbandonedWriteKeepsTheOldFile) {
  const std::string p = temp_path("atomic_abandon.txt");
  cnnkit::io::write_file_atomic(p, "precious", "test");
  {
    cnnkit::io::AtomicFile f(p, "test");
    f.write("half of a new fi");
  }  // e.g. an exception while serialising
  EXPECT_EQ(read_bytes(p), "precious");
  EXPECT_FALSE(std::filesystem::exists(p + ".tmp"));
}

TEST(AtomicFile, UnwritableDirectoryIsAnIOErrorNamingThePath) {
  try {
    cnnkit::io::write_file_atomic("/nonexistent-dir/x/model.safetensors", "x", "save_safetensors");
    FAIL() << "expected IOError";
  } catch (const cnnkit::IOError& e) {
    EXPECT_NE(std::string(e.what()).find("save_safetensors: cannot open '/nonexistent-dir/x/model.safetensors.tmp'"),
              std::string::npos)
        << e.what();
  }
}
