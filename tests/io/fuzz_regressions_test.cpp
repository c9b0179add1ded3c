// Inputs the libFuzzer targets of tests/fuzz found, read through the public API in the
// ordinary build: each is rejected with an IOError naming the file and the problem (or, for
// the top-down BMP, decoded). Their reproducers are tests/fuzz/corpus/<target>/regress-*,
// which `ctest -L fuzz` replays under the sanitizers of a clang build.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "cnnkit/cnnkit.h"
#include "cnnkit/io/npy.h"
#include "data/tar.h"
#include "test_util.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;
using cnnkit::test::contains;
using cnnkit::test::error_of;
using cnnkit::test::temp_path;

namespace {

std::string corpus(const std::string& file) { return std::string(CNNKIT_FUZZ_CORPUS_DIR) + "/" + file; }

std::string write_bytes(const std::string& name, const std::string& bytes) {
  const std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

}  // namespace

// An empty shape whose other sizes multiply past int64 ([0, 2^32 - 1, 2^32 - 97]) made the
// tensor's strides overflow (signed overflow in contiguous_strides).
TEST(FuzzRegressions, IdxEmptyShapeWhoseStridesOverflow) {
  const std::string path = corpus("fuzz_idx/regress-empty-shape-strides-overflow");
  const std::string msg = error_of([&] { data::read_idx(path); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "shape [0, 4294967295, 4288651126] is absurd")) << msg;
}

TEST(FuzzRegressions, NpyEmptyShapeWhoseStridesOverflow) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296), }";
  header.resize(117, ' ');
  header += '\n';
  const std::string path = write_bytes("strides.npy", std::string("\x93NUMPY\x01\x00", 8) +
                                                          static_cast<char>(header.size()) + '\0' + header);
  const std::string msg = error_of([&] { io::load_npy(path); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "field 'shape': (0, 4294967296, 4294967296) is absurd")) << msg;
}

TEST(FuzzRegressions, EmptyTensorWhoseStridesOverflowIsAShapeError) {
  EXPECT_THROW(empty({0, int64_t{1} << 32, int64_t{1} << 32}), ShapeError);
  EXPECT_EQ(empty({0, int64_t{1} << 31, int64_t{1} << 31}).numel(), 0);  // 2^62: still fits
}
