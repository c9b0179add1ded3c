// safetensors: round trips, a file written by tools/golden/gen_io_fixture.py (every dtype
// cnnkit reads), and one test per corruption the loader must refuse with an IOError that
// names the file, the tensor and the problem.
#include "cnnkit/io/safetensors.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::read_bytes;
using cnnkit::test::temp_path;

namespace {

Tensor make_float(std::vector<int64_t> sizes, float start = 0.5f) {
  Tensor t = cnnkit::empty(sizes);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = start + 0.25f * static_cast<float>(i) * (i % 2 ? -1 : 1);
  return t;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return s;
}

// A file from a header text and a data buffer, as a hand-written or corrupt writer would.
std::string file_with(const std::string& header, const std::string& buffer) {
  return le64(header.size()) + header + buffer;
}

// Runs load_safetensors on `bytes` and returns the IOError's message ("" if none thrown).
std::string load_error(const std::string& name, const std::string& bytes) {
  std::string path = temp_path(name);
  write_bytes(path, bytes);
  try {
    io::load_safetensors(path);
  } catch (const IOError& e) {
    return e.what();
  }
  return "";
}

::testing::AssertionResult contains(const std::string& msg, std::initializer_list<const char*> parts) {
  if (msg.empty()) return ::testing::AssertionFailure() << "no IOError was thrown";
  for (const char* p : parts)
    if (msg.find(p) == std::string::npos)
      return ::testing::AssertionFailure() << "message \"" << msg << "\" lacks \"" << p << "\"";
  return ::testing::AssertionSuccess();
}

}  // namespace

TEST(Safetensors, RoundTripKeepsValuesShapesAndDtypes) {
  std::string path = temp_path("round_trip.safetensors");
  Tensor f = make_float({2, 3, 4});
  Tensor scalar = make_float({}, 7.0f);
  Tensor l = empty({3}, kLong);
  l.data_ptr<int64_t>()[0] = -5;
  l.data_ptr<int64_t>()[1] = int64_t{1} << 50;
  l.data_ptr<int64_t>()[2] = std::numeric_limits<int64_t>::min();
  Tensor u = empty({2, 2}, kByte);
  for (int i = 0; i < 4; ++i) u.data_ptr<uint8_t>()[i] = static_cast<uint8_t>(i * 80);
  Tensor b = empty({3}, kBool);
  b.data_ptr<bool>()[0] = true;
  b.data_ptr<bool>()[1] = false;
  b.data_ptr<bool>()[2] = true;
  Tensor e = empty({0, 5});

  io::save_safetensors(path, {{"w", f}, {"s", scalar}, {"idx", l}, {"img", u}, {"mask", b}, {"e", e}},
                       {{"format", "pt"}, {"note", "héllo"}});
  auto loaded = io::load_safetensors(path);
  ASSERT_EQ(loaded.size(), 6u);
  EXPECT_EQ(loaded.at("w").sizes(), f.sizes());
  EXPECT_EQ(loaded.at("w").scalar_type(), kFloat);
  EXPECT_EQ(loaded.at("w").to_vector(), f.to_vector());
  EXPECT_EQ(loaded.at("s").dim(), 0);
  EXPECT_EQ(loaded.at("s").item<float>(), 7.0f);
  ASSERT_EQ(loaded.at("idx").scalar_type(), kLong);
  EXPECT_EQ(loaded.at("idx").data_ptr<int64_t>()[1], int64_t{1} << 50);
  EXPECT_EQ(loaded.at("idx").data_ptr<int64_t>()[2], std::numeric_limits<int64_t>::min());
  ASSERT_EQ(loaded.at("img").scalar_type(), kByte);
  EXPECT_EQ(loaded.at("img").data_ptr<uint8_t>()[3], 240);
  ASSERT_EQ(loaded.at("mask").scalar_type(), kBool);
  EXPECT_EQ(loaded.at("mask").to_vector(), (std::vector<float>{1, 0, 1}));
  EXPECT_EQ(loaded.at("e").sizes(), (std::vector<int64_t>{0, 5}));

  auto meta = io::load_safetensors_metadata(path);
  EXPECT_EQ(meta.size(), 2u);
  EXPECT_EQ(meta.at("format"), "pt");
  EXPECT_EQ(meta.at("note"), "héllo");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(Safetensors, HeaderIsPaddedAndDataIsAlignedAndInOrder) {
  std::string path = temp_path("layout.safetensors");
  io::save_safetensors(path, {{"b", make_float({3})}, {"a", make_float({2})}});
  std::string bytes = read_bytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 5 * 4);
  std::string header = bytes.substr(8, n);
  // saved in the order given: "b" first at offset 0
  EXPECT_NE(header.find("\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}"), std::string::npos)
      << header;
  EXPECT_NE(header.find("\"data_offsets\":[12,20]"), std::string::npos) << header;
}

TEST(Safetensors, SavesNonContiguousTensorsInLogicalOrder) {
  // A transposed view: strides (1, 3) over a (3, 2) buffer.
  Tensor base = make_float({2, 3});
  auto impl = std::make_shared<TensorImpl>(*base.unsafeGetTensorImpl());
  impl->sizes = {3, 2};
  impl->strides = {1, 3};
  Tensor t(impl);
  ASSERT_FALSE(t.is_contiguous());
  std::string path = temp_path("transposed.safetensors");
  io::save_safetensors(path, {{"t", t}});
  Tensor back = io::load_safetensors(path).at("t");
  std::vector<float> b = base.to_vector();
  EXPECT_EQ(back.to_vector(), (std::vector<float>{b[0], b[3], b[1], b[4], b[2], b[5]}));
}

TEST(Safetensors, SaveOverwritesAtomicallyAndMapOverloadWorks) {
  std::string path = temp_path("overwrite.safetensors");
  io::save_safetensors(path, io::TensorMap{{"x", make_float({4})}});
  io::save_safetensors(path, io::TensorMap{{"y", make_float({2}, 3.0f)}});
  auto loaded = io::load_safetensors(path);
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded.at("y").to_vector(), (std::vector<float>{3.0f, 2.75f}));
}

TEST(Safetensors, SaveRejectsBadNamesAndUndefinedTensors) {
  std::string path = temp_path("bad_names.safetensors");
  EXPECT_THROW(io::save_safetensors(path, {{"", make_float({1})}}), ValueError);
  EXPECT_THROW(io::save_safetensors(path, {{"__metadata__", make_float({1})}}), ValueError);
  EXPECT_THROW(io::save_safetensors(path, {{"a", make_float({1})}, {"a", make_float({1})}}), ValueError);
  EXPECT_THROW(io::save_safetensors(path, {{"a", Tensor()}}), ValueError);
  EXPECT_THROW(io::save_safetensors(path, {{"\xff\xfe", make_float({1})}}), ValueError);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Safetensors, SaveIntoMissingDirectoryThrowsIOError) {
  std::string path = temp_path("no/such/dir/x.safetensors");
  try {
    io::save_safetensors(path, {{"a", make_float({1})}});
    FAIL() << "no IOError";
  } catch (const IOError& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/dir/x.safetensors.tmp"), std::string::npos) << e.what();
  }
}

// Written by tools/golden/gen_io_fixture.py (Python struct + json, torch tensors' bytes).
TEST(Safetensors, ReadsEveryDtypeOfTheFixture) {
  std::string path = std::string(CNNKIT_GOLDEN_DIR) + "/io_fixture.safetensors";
  auto t = io::load_safetensors(path);
  ASSERT_EQ(t.size(), 10u);
  EXPECT_EQ(t.at("f32").sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.at("f32").to_vector(), (std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-3f}));

  Tensor f16 = t.at("f16");
  ASSERT_EQ(f16.scalar_type(), kFloat);
  std::vector<float> h = f16.to_vector();
  ASSERT_EQ(h.size(), 7u);
  EXPECT_EQ(h[0], 1.5f);
  EXPECT_EQ(h[1], -2.25f);
  EXPECT_EQ(h[2], 65504.0f);
  EXPECT_EQ(h[3], std::ldexp(1.0f, -24));  // smallest subnormal half
  EXPECT_EQ(h[4], std::ldexp(1.0f, -14));  // smallest normal half
  EXPECT_TRUE(std::isinf(h[5]) && h[5] > 0);
  EXPECT_TRUE(h[6] == 0.0f && std::signbit(h[6]));

  std::vector<float> bf = t.at("bf16").to_vector();
  ASSERT_EQ(bf.size(), 4u);
  EXPECT_EQ(bf[0], 3.140625f);
  EXPECT_EQ(bf[1], -1.0f);
  EXPECT_EQ(bf[2], 1.0002555517425873e+30f);  // torch.tensor(1e30, dtype=torch.bfloat16)
  EXPECT_EQ(bf[3], std::ldexp(1.0f, -130));

  Tensor f64 = t.at("f64");
  EXPECT_EQ(f64.scalar_type(), kFloat);
  EXPECT_EQ(f64.sizes(), (std::vector<int64_t>{3, 1}));
  std::vector<float> d = f64.to_vector();
  EXPECT_EQ(d[0], static_cast<float>(1.0 / 3.0));
  EXPECT_EQ(d[1], static_cast<float>(-1e-40));
  EXPECT_TRUE(std::isinf(d[2]));

  Tensor i32 = t.at("i32");
  ASSERT_EQ(i32.scalar_type(), kLong);
  EXPECT_EQ(i32.data_ptr<int64_t>()[0], -7);
  EXPECT_EQ(i32.data_ptr<int64_t>()[1], 2147483647);
  EXPECT_EQ(i32.data_ptr<int64_t>()[2], -2147483648LL);

  Tensor i64 = t.at("i64");
  ASSERT_EQ(i64.scalar_type(), kLong);
  EXPECT_EQ(i64.data_ptr<int64_t>()[0], int64_t{1} << 40);
  EXPECT_EQ(i64.data_ptr<int64_t>()[1], -1);
  EXPECT_EQ(i64.data_ptr<int64_t>()[3], int64_t{1} << 62);

  Tensor u8 = t.at("u8");
  ASSERT_EQ(u8.scalar_type(), kByte);
  EXPECT_EQ(u8.to_vector(), (std::vector<float>{0, 255, 128, 7}));

  Tensor b = t.at("bool");
  ASSERT_EQ(b.scalar_type(), kBool);
  EXPECT_EQ(b.to_vector(), (std::vector<float>{1, 0, 1}));

  EXPECT_EQ(t.at("scalar").dim(), 0);
  EXPECT_EQ(t.at("scalar").item<float>(), 42.5f);
  EXPECT_EQ(t.at("empty").sizes(), (std::vector<int64_t>{0, 3}));

  auto meta = io::load_safetensors_metadata(path);
  EXPECT_EQ(meta.at("format"), "pt");
  EXPECT_EQ(meta.at("generator"), "tools/golden/gen_io_fixture.py");
}

TEST(Safetensors, BoolBytesOtherThanOneLoadAsTrue) {
  std::string header = R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})";
  std::string path = temp_path("bool_bytes.safetensors");
  write_bytes(path, file_with(header, std::string("\x00\x02\xff", 3)));
  Tensor m = io::load_safetensors(path).at("m");
  const uint8_t* p = static_cast<const uint8_t*>(m.data_ptr());
  EXPECT_EQ(p[0], 0);
  EXPECT_EQ(p[1], 1);
  EXPECT_EQ(p[2], 1);
}

TEST(Safetensors, FileWithoutMetadataGivesEmptyMetadata) {
  std::string path = temp_path("nometa.safetensors");
  io::save_safetensors(path, {{"a", make_float({2})}});
  EXPECT_TRUE(io::load_safetensors_metadata(path).empty());
}

// ---- corruption: each must be an IOError naming file, tensor and problem ------------------

TEST(SafetensorsCorrupt, MissingFile) {
  std::string path = temp_path("does_not_exist.safetensors");
  try {
    io::load_safetensors(path);
    FAIL() << "no IOError";
  } catch (const IOError& e) {
    EXPECT_TRUE(contains(e.what(), {"does_not_exist.safetensors", "no such file"}));
  }
  EXPECT_THROW(io::load_safetensors_metadata(path), IOError);
}

TEST(SafetensorsCorrupt, DirectoryInsteadOfFile) {
  std::string dir = temp_path("a_directory");
  std::filesystem::create_directories(dir);
  EXPECT_THROW(io::load_safetensors(dir), IOError);
}

TEST(SafetensorsCorrupt, ShorterThanEightBytes) {
  EXPECT_TRUE(contains(load_error("short.st", "abc"), {"short.st", "3 bytes", "shorter than the 8-byte"}));
  EXPECT_TRUE(contains(load_error("zero.st", ""), {"zero.st", "0 bytes"}));
}

TEST(SafetensorsCorrupt, HeaderLengthBeyondFileSize) {
  std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  std::string bytes = le64(header.size() + 100) + header + std::string(4, '\0');
  EXPECT_TRUE(contains(load_error("hlen.st", bytes), {"hlen.st", "beyond the file size"}));
}

TEST(SafetensorsCorrupt, AbsurdHeaderLength) {
  std::string bytes = le64(uint64_t{1} << 60) + "{}";
  EXPECT_TRUE(contains(load_error("absurd.st", bytes), {"absurd.st", "absurd"}));
  bytes = le64(~uint64_t{0}) + "{}";
  EXPECT_TRUE(contains(load_error("absurd2.st", bytes), {"absurd2.st", "absurd"}));
}

TEST(SafetensorsCorrupt, MalformedJson) {
  EXPECT_TRUE(contains(load_error("json.st", file_with(R"({"a":{"dtype":"F32",)", "")),
                       {"json.st", "not valid JSON"}));
  EXPECT_TRUE(contains(load_error("json2.st", file_with("[1, 2, 3]", "")), {"json2.st", "JSON object"}));
  EXPECT_TRUE(contains(load_error("json3.st", file_with(R"({"a": 5})", "")), {"json3.st", "'a'", "object"}));
}

TEST(SafetensorsCorrupt, MissingField) {
  std::string h = R"({"w":{"dtype":"F32","data_offsets":[0,4]}})";
  EXPECT_TRUE(contains(load_error("field.st", file_with(h, std::string(4, '\0'))),
                       {"field.st", "'w'", "missing field \"shape\""}));
}

TEST(SafetensorsCorrupt, UnknownDtype) {
  std::string h = R"({"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})";
  EXPECT_TRUE(contains(load_error("dtype.st", file_with(h, std::string(4, '\0'))),
                       {"dtype.st", "'w'", "unsupported dtype \"F8_E4M3\""}));
  h = R"({"w":{"dtype":7,"shape":[4],"data_offsets":[0,4]}})";
  EXPECT_TRUE(contains(load_error("dtype2.st", file_with(h, std::string(4, '\0'))), {"'w'", "dtype"}));
}

TEST(SafetensorsCorrupt, ShapeOffsetsMismatch) {
  std::string h = R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,12]}})";
  EXPECT_TRUE(contains(load_error("mismatch.st", file_with(h, std::string(24, '\0'))),
                       {"mismatch.st", "'w'", "hold 12 bytes", "[2, 3]", "needs 24"}));
}

TEST(SafetensorsCorrupt, OffsetsBeyondBuffer) {
  std::string h = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})";
  EXPECT_TRUE(contains(load_error("beyond.st", file_with(h, std::string(16, '\0'))),
                       {"beyond.st", "'w'", "[8, 24]", "beyond the data buffer of 16 bytes"}));
}

TEST(SafetensorsCorrupt, TruncatedData) {
  std::string path = temp_path("trunc_src.safetensors");
  io::save_safetensors(path, {{"weight", make_float({4, 4})}});
  std::string bytes = read_bytes(path);
  EXPECT_TRUE(contains(load_error("trunc.st", bytes.substr(0, bytes.size() - 5)),
                       {"trunc.st", "'weight'", "truncated"}));
}

TEST(SafetensorsCorrupt, EndBeforeBegin) {
  std::string h = R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})";
  EXPECT_TRUE(contains(load_error("order.st", file_with(h, std::string(4, '\0'))),
                       {"order.st", "'w'", "end before they begin"}));
}

TEST(SafetensorsCorrupt, OverlappingTensors) {
  std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  EXPECT_TRUE(contains(load_error("overlap.st", file_with(h, std::string(12, '\0'))),
                       {"overlap.st", "'a'", "'b'", "overlap"}));
}

TEST(SafetensorsCorrupt, NegativeDimension) {
  std::string h = R"({"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]}})";
  EXPECT_TRUE(contains(load_error("neg.st", file_with(h, std::string(16, '\0'))),
                       {"neg.st", "'w'", "negative dimension -1"}));
}

TEST(SafetensorsCorrupt, NonIntegerShapeAndOffsets) {
  std::string h = R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})";
  EXPECT_TRUE(contains(load_error("float_dim.st", file_with(h, std::string(4, '\0'))), {"'w'", "integers"}));
  h = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,-4]}})";
  EXPECT_TRUE(contains(load_error("neg_off.st", file_with(h, std::string(4, '\0'))), {"'w'", "negative"}));
  h = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})";
  EXPECT_TRUE(contains(load_error("one_off.st", file_with(h, std::string(4, '\0'))), {"'w'", "[begin, end]"}));
}

TEST(SafetensorsCorrupt, HugeShapeDoesNotOverflow) {
  // 2^32 * 2^32 elements would wrap a 64-bit product to 0 and "match" offsets [0, 0].
  std::string h = R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})";
  EXPECT_TRUE(contains(load_error("huge.st", file_with(h, "")), {"huge.st", "'w'"}));
  h = R"({"w":{"dtype":"F32","shape":[1048576,1048576],"data_offsets":[0,16]}})";
  EXPECT_TRUE(contains(load_error("huge2.st", file_with(h, std::string(16, '\0'))), {"'w'", "more bytes"}));
}

TEST(SafetensorsCorrupt, BadMetadata) {
  std::string h = R"({"__metadata__":{"k":5}})";
  EXPECT_TRUE(contains(load_error("meta.st", file_with(h, "")), {"meta.st", "__metadata__", "'k'"}));
  h = R"({"__metadata__":[1]})";
  EXPECT_TRUE(contains(load_error("meta2.st", file_with(h, "")), {"meta2.st", "__metadata__"}));
}
