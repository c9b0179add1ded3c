// .npy reader against files NumPy wrote (tests/data/fixtures/npy/make_npy_fixtures.py),
// writer against NumPy's exact bytes, and every corruption path of the reader.
#include "cnnkit/io/npy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::contains;
using cnnkit::test::error_of;
using cnnkit::test::read_bytes;
using cnnkit::test::temp_path;
using cnnkit::test::write_bytes;

namespace {

std::string fixture(const std::string& name) {
  return std::string(CNNKIT_TEST_DATA_DIR) + "/fixtures/npy/" + name + ".npy";
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  const T* p = t.data_ptr<T>();
  return std::vector<T>(p, p + t.numel());
}

}  // namespace

TEST(Npy, LoadsEveryDtypeNumpyWrites) {
  // a = np.arange(6).reshape(2, 3); see make_npy_fixtures.py for each conversion.
  Tensor f4 = io::load_npy(fixture("f4"));
  EXPECT_EQ(f4.scalar_type(), kFloat);
  EXPECT_EQ(f4.sizes(), IntArrayRef({2, 3}));
  EXPECT_EQ(values<float>(f4), (std::vector<float>{-1, -0.5f, 0, 0.5f, 1, 1.5f}));

  Tensor f8 = io::load_npy(fixture("f8"));
  EXPECT_EQ(f8.scalar_type(), kFloat);
  EXPECT_EQ(values<float>(f8), (std::vector<float>{0.125f, 0.375f, 0.625f, 0.875f, 1.125f, 1.375f}));

  Tensor i8 = io::load_npy(fixture("i8"));
  EXPECT_EQ(i8.scalar_type(), kLong);
  EXPECT_EQ(values<int64_t>(i8), (std::vector<int64_t>{-3000000000000, -2000000000000, -1000000000000, 0,
                                                        1000000000000, 2000000000000}));

  Tensor i4 = io::load_npy(fixture("i4"));
  EXPECT_EQ(i4.scalar_type(), kLong);
  EXPECT_EQ(values<int64_t>(i4), (std::vector<int64_t>{-3000000, -2000000, -1000000, 0, 1000000, 2000000}));

  Tensor i2 = io::load_npy(fixture("i2"));
  EXPECT_EQ(values<int64_t>(i2), (std::vector<int64_t>{-3000, -2000, -1000, 0, 1000, 2000}));

  Tensor u1 = io::load_npy(fixture("u1"));
  EXPECT_EQ(u1.scalar_type(), kByte);
  EXPECT_EQ(values<uint8_t>(u1), (std::vector<uint8_t>{0, 50, 100, 150, 200, 250}));

  Tensor b1 = io::load_npy(fixture("b1"));
  EXPECT_EQ(b1.scalar_type(), kBool);
  EXPECT_EQ(values<bool>(b1), (std::vector<bool>{false, true, false, true, false, true}));
}

TEST(Npy, BigEndianFortranOrderAndVersion2MatchTheCOrderArray) {
  std::vector<float> expected{-1, -0.5f, 0, 0.5f, 1, 1.5f};
  for (const char* name : {"f4_big", "f4_fortran", "f4_v2"}) {
    Tensor t = io::load_npy(fixture(name));
    EXPECT_EQ(t.sizes(), IntArrayRef({2, 3})) << name;
    EXPECT_TRUE(t.is_contiguous()) << name;
    EXPECT_EQ(values<float>(t), expected) << name;
  }
}

TEST(Npy, ScalarAndEmptyArrays) {
  Tensor s = io::load_npy(fixture("scalar_f4"));
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<float>(), 2.5f);
  Tensor e = io::load_npy(fixture("empty_f4"));
  EXPECT_EQ(e.sizes(), IntArrayRef({0, 3}));
}

TEST(Npy, SaveWritesNumpysExactBytes) {
  // np.save of the same float32 array: identical header (padded to 64 bytes) and data.
  Tensor t = io::load_npy(fixture("f4"));
  std::string p = temp_path("saved_f4.npy");
  io::save_npy(p, t);
  EXPECT_EQ(read_bytes(p), read_bytes(fixture("f4")));
  io::save_npy(p, io::load_npy(fixture("scalar_f4")));
  EXPECT_EQ(read_bytes(p), read_bytes(fixture("scalar_f4")));
  io::save_npy(p, io::load_npy(fixture("u1")));
  EXPECT_EQ(read_bytes(p), read_bytes(fixture("u1")));
  io::save_npy(p, io::load_npy(fixture("b1")));
  EXPECT_EQ(read_bytes(p), read_bytes(fixture("b1")));
  io::save_npy(p, io::load_npy(fixture("i8")));
  EXPECT_EQ(read_bytes(p), read_bytes(fixture("i8")));
}

TEST(Npy, SaveOfANonContiguousViewRoundTrips) {
  Tensor t = io::load_npy(fixture("f4")).t();  // (3, 2), strided
  std::string p = temp_path("transposed.npy");
  io::save_npy(p, t);
  Tensor back = io::load_npy(p);
  EXPECT_EQ(back.sizes(), IntArrayRef({3, 2}));
  EXPECT_EQ(values<float>(back), (std::vector<float>{-1, 0.5f, -0.5f, 1, 0, 1.5f}));
  EXPECT_FALSE(std::filesystem::exists(p + ".tmp"));
}

TEST(Npy, SaveRejectsUndefinedTensorAndUnwritablePath) {
  EXPECT_THROW(io::save_npy(temp_path("x.npy"), Tensor()), ValueError);
  std::string msg = error_of([] { io::save_npy("/nonexistent_dir/x.npy", io::load_npy(fixture("f4"))); });
  EXPECT_TRUE(contains(msg, "/nonexistent_dir/x.npy")) << msg;
}

TEST(Npy, CorruptFilesThrowIOErrorNamingFileAndField) {
  std::string good = read_bytes(fixture("f4"));

  std::string missing = temp_path("missing.npy");
  std::string msg = error_of([&] { io::load_npy(missing); });
  EXPECT_TRUE(contains(msg, missing) && contains(msg, "no such file")) << msg;
  EXPECT_THROW(io::load_npy(missing), IOError);

  std::string bad_magic = good;
  bad_magic[1] = 'X';
  std::string p = write_bytes("bad_magic.npy", bad_magic);
  msg = error_of([&] { io::load_npy(p); });
  EXPECT_TRUE(contains(msg, p) && contains(msg, "bad magic")) << msg;
  EXPECT_THROW(io::load_npy(p), IOError);

  p = write_bytes("truncated.npy", good.substr(0, good.size() - 4));
  msg = error_of([&] { io::load_npy(p); });
  EXPECT_TRUE(contains(msg, p) && contains(msg, "truncated data") && contains(msg, "(2, 3)")) << msg;
  EXPECT_THROW(io::load_npy(p), IOError);

  p = write_bytes("trailing.npy", good + "abcd");
  msg = error_of([&] { io::load_npy(p); });
  EXPECT_TRUE(contains(msg, p) && contains(msg, "trailing bytes")) << msg;

  p = write_bytes("short_header.npy", good.substr(0, 40));
  msg = error_of([&] { io::load_npy(p); });
  EXPECT_TRUE(contains(msg, p) && contains(msg, "header")) << msg;

  std::string bad_dict = good;
  bad_dict.replace(bad_dict.find("'shape'"), 7, "'shapr'");
  p = write_bytes("bad_dict.npy", bad_dict);
  msg = error_of([&] { io::load_npy(p); });
  EXPECT_TRUE(contains(msg, p) && contains(msg, "unknown field 'shapr'")) << msg;
  EXPECT_THROW(io::load_npy(p), IOError);

  std::string garbled = good;
  garbled.replace(garbled.find("(2, 3)"), 6, "(2, x)");
  p = write_bytes("garbled.npy", garbled);
  msg = error_of([&] { io::load_npy(p); });
  EXPECT_TRUE(contains(msg, p) && contains(msg, "bad header dict") && contains(msg, "'shape'")) << msg;

  std::string version = good;
  version[6] = 7;
  p = write_bytes("version.npy", version);
  msg = error_of([&] { io::load_npy(p); });
  EXPECT_TRUE(contains(msg, p) && contains(msg, "'version'") && contains(msg, "7.0")) << msg;

  msg = error_of([&] { io::load_npy(fixture("c8")); });
  EXPECT_TRUE(contains(msg, "c8.npy") && contains(msg, "'descr'") && contains(msg, "'<c8'")) << msg;
  EXPECT_THROW(io::load_npy(fixture("c8")), IOError);

  // A shape whose byte count overflows 64 bits is "truncated", not an allocation.
  std::string huge = good;
  huge.replace(huge.find("(2, 3)"), 6, "(4611686018427387904, 8)");
  p = write_bytes("huge.npy", huge);
  EXPECT_THROW(io::load_npy(p), IOError);
}
