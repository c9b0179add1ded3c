// clean(): every kind of bad example found, reported and dropped (first occurrence of a
// duplicate kept), the options that keep them, and the same result on one thread or many.
#include <gtest/gtest.h>

#include <cmath>

#include "cnnkit/core/threads.h"
#include "cnnkit/data/clean.h"
#include "cnnkit/data/split.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::data;
using cnnkit::test::contains;

namespace {

Tensor label(int64_t v) {
  Tensor t = empty({}, TensorOptions(kLong));
  *t.data_ptr<int64_t>() = v;
  return t;
}

// A user's dataset (no Labeled): data (2) float32, target 0-dim int64.
//   0: [0, 1] 0     1: [1, 2] 1     2: [nan, 2] 1   3: [3, 3] -1    4: [1, 2] 2 (same data as 1, other label)
//   5: [1, 2] 1 dup of 1            6: [6, 6] 7     7: get() throws IOError
//   8: [1, 2] 1 dup of 1            9: [0, 1] 0 dup of 0
struct Messy : datasets::Dataset<Messy> {
  std::vector<std::pair<std::vector<float>, int64_t>> rows = {
      {{0, 1}, 0}, {{1, 2}, 1}, {{NAN, 2}, 1}, {{3, 3}, -1}, {{1, 2}, 2},
      {{1, 2}, 1}, {{6, 6}, 7}, {{0, 0}, 0},   {{1, 2}, 1},  {{0, 1}, 0}};
  Example<> get(size_t i) override {
    if (i == 7) throw IOError("decode_image: cannot decode 'img7.png': unknown image type");
    return {test::lit(rows[i].first, {2}), label(rows[i].second)};
  }
  std::optional<size_t> size() const override { return rows.size(); }
};

}  // namespace

TEST(Clean, FindsEveryKindAndKeepsFirstOccurrences) {
  auto ds = std::make_shared<Messy>();
  CleanResult r = clean(ds, CleanOptions().num_classes(3));
  const CleanReport& rep = r.report;
  EXPECT_EQ(rep.total, 10u);
  EXPECT_EQ(r.kept_indices, (std::vector<size_t>{0, 1, 4}));
  EXPECT_EQ(rep.kept, 3u);
  EXPECT_EQ(rep.dropped(), 7u);
  ASSERT_EQ(rep.undecodable.size(), 1u);
  EXPECT_EQ(rep.undecodable[0].first, 7u);
  EXPECT_TRUE(contains(rep.undecodable[0].second, "img7.png"));
  EXPECT_EQ(rep.non_finite, (std::vector<size_t>{2}));
  EXPECT_EQ(rep.out_of_range, (std::vector<std::pair<size_t, int64_t>>{{3, -1}, {6, 7}}));
  EXPECT_EQ(rep.duplicates, (std::vector<std::pair<size_t, size_t>>{{5, 1}, {8, 1}, {9, 0}}));

  ASSERT_EQ(r.dataset->size().value(), 3u);
  EXPECT_EQ(r.dataset->get(2).target.item<int64_t>(), 2);  // example 4
  std::string s = r.summary();
  EXPECT_TRUE(contains(s, "10 examples, kept 3, dropped 7") && contains(s, "1 undecodable") &&
              contains(s, "2 with out-of-range labels (num_classes 3)") && contains(s, "3 duplicates") &&
              contains(s, "img7.png") && contains(s, "duplicate #5 of #1"))
      << s;
}

TEST(Clean, WithoutNumClassesOnlyNegativeLabelsAreOutOfRange) {
  CleanResult r = clean(std::make_shared<Messy>());
  EXPECT_EQ(r.report.out_of_range, (std::vector<std::pair<size_t, int64_t>>{{3, -1}}));
  EXPECT_EQ(r.kept_indices, (std::vector<size_t>{0, 1, 4, 6}));
  EXPECT_FALSE(r.report.num_classes.has_value());
}

TEST(Clean, DropOptionsReportButKeep) {
  CleanResult r = clean(std::make_shared<Messy>(),
                        CleanOptions().num_classes(3).drop_duplicates(false).drop_non_finite(false));
  EXPECT_EQ(r.kept_indices, (std::vector<size_t>{0, 1, 2, 4, 5, 8, 9}));
  EXPECT_EQ(r.report.duplicates.size(), 3u);
  EXPECT_EQ(r.report.non_finite, (std::vector<size_t>{2}));
}

TEST(Clean, OtherExceptionsAreBugsAndPropagate) {
  struct Broken : datasets::Dataset<Broken> {
    Example<> get(size_t) override { throw std::logic_error("bug"); }
    std::optional<size_t> size() const override { return 3; }
  };
  EXPECT_THROW(clean(std::make_shared<Broken>()), std::logic_error);
  EXPECT_THROW(clean(nullptr), ValueError);
}

TEST(Clean, ManyExamplesSameResultOnOneThreadAndMany) {
  // 5000 uint8 examples; every 7th repeats example (i - 7)'s bytes and label, every 11th
  // gets label 10 (out of range for 10 classes; copies of it too).
  const int64_t n = 5000;
  Tensor x = empty({n, 1, 4, 4}, TensorOptions(kByte));
  Tensor y = empty({n}, TensorOptions(kLong));
  uint8_t* px = x.data_ptr<uint8_t>();
  int64_t* py = y.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < 16; ++j) px[i * 16 + j] = static_cast<uint8_t>((i * 31 + j * 7) % 251);
    px[i * 16] = static_cast<uint8_t>(i & 0xff);  // bytes 0, 1 make every example distinct
    px[i * 16 + 1] = static_cast<uint8_t>(i >> 8);
    py[i] = i % 10;
    if (i >= 7 && i % 7 == 0) {
      std::memcpy(px + i * 16, px + (i - 7) * 16, 16);
      py[i] = py[i - 7];
    }
    if (i % 11 == 0) py[i] = 10;
  }
  struct Tensors : datasets::Dataset<Tensors> {
    Tensor x, y;
    Example<> get(size_t i) override { return {x[static_cast<int64_t>(i)], y[static_cast<int64_t>(i)]}; }
    std::optional<size_t> size() const override { return static_cast<size_t>(x.size(0)); }
  };
  auto ds = std::make_shared<Tensors>();
  ds->x = x;
  ds->y = y;
  int saved = get_num_threads();
  set_num_threads(1);
  CleanResult one = clean(ds, CleanOptions().num_classes(10));
  set_num_threads(std::max(2, saved));
  CleanResult many = clean(ds, CleanOptions().num_classes(10));
  set_num_threads(saved);
  EXPECT_EQ(one.kept_indices, many.kept_indices);
  EXPECT_EQ(one.report.duplicates, many.report.duplicates);
  EXPECT_EQ(one.report.out_of_range.size(), static_cast<size_t>(std::count(py, py + n, int64_t{10})));
  // Duplicates: each multiple of 7 whose label is in range repeats a chain back to the
  // first example of the chain that was kept (i - 7 may itself be a dropped duplicate).
  size_t expected_dups = 0;
  for (int64_t i = 7; i < n; i += 7) expected_dups += (i % 11 != 0 && py[i] != 10);
  EXPECT_EQ(one.report.duplicates.size(), expected_dups);
  for (auto [dup, first] : one.report.duplicates) {
    EXPECT_LT(first, dup);
    EXPECT_EQ(dup % 7, 0u);
    EXPECT_TRUE(std::binary_search(one.kept_indices.begin(), one.kept_indices.end(), first));
  }
  for (size_t k : one.kept_indices) EXPECT_NE(py[k], 10);
}
