// Tar shards: the ustar round trip (and GNU tar reading ours, ours reading GNU tar's),
// corrupt / truncated / missing shards and unlabelled samples named by shard and member,
// brace expansion, ShardWriter's rolling and index, exactly-once reading over ranks x
// workers (with more and with fewer shards than slots), the shuffle's determinism, and
// streaming statistics equal to compute_mean_std's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "cnnkit/data/data.h"
#include "cnnkit/io/npy.h"
#include "cnnkit/ops/factory.h"
#include "data/tar.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::contains;
using cnnkit::test::error_of;
using cnnkit::test::read_bytes;
namespace fs = std::filesystem;

namespace {

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A tar of (name, bytes) members written with tar.h's pieces.
std::string tar_of(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string out;
  for (const auto& [name, data] : members) {
    out += data::tar::header(name, data.size());
    out += data;
    out += std::string(data::tar::padding(data.size()), '\0');
  }
  return out + data::tar::end_of_archive();
}

std::vector<std::pair<std::string, std::string>> read_members(const std::string& path) {
  data::tar::Reader r(path);
  data::tar::Member m;
  std::vector<std::pair<std::string, std::string>> out;
  while (r.next(m)) out.emplace_back(m.name, m.data);
  return out;
}

// n examples: data a (1, 4, 4) uint8 image (or a float (3) vector with `floats`) derived from
// i, target the class index i (the "key" the exactly-once tests count).
std::shared_ptr<data::TensorDataset> numbered(int64_t n, bool floats = false) {
  Tensor x = floats ? empty({n, 3}) : empty({n, 1, 4, 4}, kByte);
  Tensor y = empty({n}, kLong);
  for (int64_t i = 0; i < n; ++i) {
    y.data_ptr<int64_t>()[i] = i;
    if (floats) {
      for (int64_t k = 0; k < 3; ++k) x.data_ptr<float>()[i * 3 + k] = static_cast<float>(i) * 0.5f + static_cast<float>(k);
    } else {
      for (int64_t k = 0; k < 16; ++k) x.data_ptr<uint8_t>()[i * 16 + k] = static_cast<uint8_t>((i * 7 + k * 13) % 256);
    }
  }
  return std::make_shared<data::TensorDataset>(x, y);
}

// Writes `ds` into dir as shards of at most `per_shard` samples; returns the pattern.
std::string write_shards(const std::string& dir, data::DatasetBase& ds, size_t per_shard,
                         const std::string& prefix = "train") {
  data::ShardWriter w(dir, data::ShardWriterOptions().prefix(prefix).max_count(per_shard));
  for (size_t i = 0; i < *ds.size(); ++i) w.write(ds.get(i));
  const data::ShardIndex index = w.close();
  char last[16];
  std::snprintf(last, sizeof last, "%06zu", index.shards.size() - 1);
  return dir + "/" + prefix + "-{000000.." + last + "}.tar";
}

std::vector<int64_t> targets(const Tensor& t) {
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

// Every target of one pass of a loader over the shards, in order.
std::vector<int64_t> pass_keys(std::shared_ptr<data::IterableDataset> ds, size_t workers, int64_t epoch,
                               size_t batch = 4, size_t* batches = nullptr) {
  data::DataLoader loader(ds, data::DataLoaderOptions(batch).workers(workers).seed(7));
  loader.set_epoch(epoch);
  std::vector<int64_t> keys;
  size_t n = 0;
  for (auto& b : loader) {
    const auto t = targets(b.target);
    keys.insert(keys.end(), t.begin(), t.end());
    ++n;
  }
  if (batches) *batches = n;
  EXPECT_EQ(n, loader.size()) << "DataLoader::size() must count the batches a pass gives";
  return keys;
}

}  // namespace

// ---- tar ---------------------------------------------------------------------------------------

TEST(Tar, RoundTripKeepsNamesAndBytes) {
  std::string big(70000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 % 251);
  const std::string long_dir(120, 'd');
  const std::vector<std::pair<std::string, std::string>> members = {
      {"00000000.png", big}, {"00000000.cls", "3"}, {"empty.txt", ""}, {long_dir + "/00000001.npy", "x"},
      {"exact.bin", std::string(512, 'z')}};
  const std::string path = test::temp_path("roundtrip.tar");
  write_bytes(path, tar_of(members));
  EXPECT_EQ(read_members(path), members);
  EXPECT_EQ(fs::file_size(path) % 512, 0u);
}

TEST(Tar, GnuTarReadsOursAndWeReadGnuTars) {
  if (std::system("tar --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no tar executable";
  const std::string dir = test::fresh_dir("gnutar");
  const std::string ours = dir + "/ours.tar";
  write_bytes(ours, tar_of({{"a.cls", "12"}, {"a.npy", std::string(1000, 'q')}}));
  ASSERT_EQ(std::system(("tar -xOf " + ours + " a.npy > " + dir + "/out.bin").c_str()), 0);
  EXPECT_EQ(read_bytes(dir + "/out.bin"), std::string(1000, 'q'));
  ASSERT_EQ(std::system(("tar -tvf " + ours + " > /dev/null").c_str()), 0);  // checksums pass GNU tar's check

  // GNU tar's own archive, with a name over 100 bytes (a GNU long-name record).
  const std::string src = dir + "/src";
  const std::string long_name = std::string(110, 'n') + ".cls";
  fs::create_directories(src);
  write_bytes(src + "/" + long_name, "7");
  write_bytes(src + "/b.cls", "1");
  ASSERT_EQ(std::system(("cd " + src + " && tar --format=gnu -cf ../gnu.tar " + long_name + " b.cls").c_str()), 0);
  const auto read = read_members(dir + "/gnu.tar");
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0], std::make_pair(long_name, std::string("7")));
  EXPECT_EQ(read[1], std::make_pair(std::string("b.cls"), std::string("1")));
}

TEST(Tar, CorruptHeaderNamesShardAndMember) {
  const std::string path = test::temp_path("corrupt.tar");
  std::string bytes = tar_of({{"00000000.cls", "1"}, {"00000001.cls", "2"}});
  bytes[512 * 2 + 20] ^= 0x5a;  // inside the second member's name: its checksum no longer holds
  write_bytes(path, bytes);
  const std::string msg = error_of([&] { read_members(path); });
  EXPECT_TRUE(contains(msg, path)) << msg;
  EXPECT_TRUE(contains(msg, "checksum")) << msg;
  EXPECT_TRUE(contains(msg, "after member 00000000.cls")) << msg;
}

TEST(Tar, TruncatedMemberSaysHowManyBytesAreLeft) {
  const std::string path = test::temp_path("truncated.tar");
  const std::string bytes = tar_of({{"00000000.cls", "1"}, {"00001234.png", std::string(812, 'p')}});
  write_bytes(path, bytes.substr(0, 512 * 3 + 300));  // the png's header and 300 of its 812 bytes
  const std::string msg = error_of([&] { read_members(path); });
  EXPECT_TRUE(contains(msg, path + ": member 00001234.png: truncated (header says 812 bytes, 300 left)")) << msg;
  // Cut at a member boundary: the end-of-archive blocks are missing.
  write_bytes(path, bytes.substr(0, 512 * 2));
  EXPECT_TRUE(contains(error_of([&] { read_members(path); }), "end-of-archive")) << error_of([&] { read_members(path); });
}

TEST(Tar, HeaderRejectsNamesUstarCannotHold) {
  EXPECT_TRUE(contains(error_of([] { data::tar::header(std::string(150, 'x'), 1); }), "does not fit"));
}

// ---- brace expansion -----------------------------------------------------------------------------

TEST(ExpandBraces, ZeroPaddedRangesListsAndProducts) {
  using V = std::vector<std::string>;
  EXPECT_EQ(data::expand_braces("d/train-{000000..000002}.tar"),
            (V{"d/train-000000.tar", "d/train-000001.tar", "d/train-000002.tar"}));
  EXPECT_EQ(data::expand_braces("s{8..11}"), (V{"s8", "s9", "s10", "s11"}));
  EXPECT_EQ(data::expand_braces("s{08..10}"), (V{"s08", "s09", "s10"}));  // braceexpand pads to the wider bound
  EXPECT_EQ(data::expand_braces("{a,b}-{0..1}"), (V{"a-0", "a-1", "b-0", "b-1"}));
  EXPECT_EQ(data::expand_braces("x{a,{b,c}}"), (V{"xa", "xb", "xc"}));
  EXPECT_EQ(data::expand_braces("plain.tar"), (V{"plain.tar"}));
  EXPECT_TRUE(contains(error_of([] { data::expand_braces("a-{0..3.tar"); }), "unmatched '{'"));
  EXPECT_TRUE(contains(error_of([] { data::expand_braces("a-0..3}.tar"); }), "unmatched '}'"));
  EXPECT_TRUE(contains(error_of([] { data::expand_braces("a-{5..3}"); }), "backwards"));
  EXPECT_TRUE(contains(error_of([] { data::expand_braces("a-{x..y}"); }), "non-negative integers"));
}

// ---- ShardWriter and ShardDataset ---------------------------------------------------------------

TEST(ShardWriter, RollsByBytesAndWritesTheIndex) {
  const std::string dir = test::fresh_dir("roll");
  auto ds = numbered(50);
  data::ShardWriter w(dir, data::ShardWriterOptions().prefix("train").max_bytes(8 * 1024).classes({"a", "b"}));
  for (size_t i = 0; i < 50; ++i) w.write(ds->get(i));
  const data::ShardIndex index = w.close();
  ASSERT_GT(index.shards.size(), 2u);
  EXPECT_EQ(index.samples(), 50u);
  for (const auto& s : index.shards) {
    EXPECT_LE(s.bytes, 8u * 1024) << s.path;
    EXPECT_EQ(fs::file_size(dir + "/" + s.path), s.bytes) << s.path;
  }
  EXPECT_EQ(index.encoding, "png");
  EXPECT_EQ(index.shape, (std::vector<int64_t>{1, 4, 4}));
  const data::ShardIndex loaded = data::load_shard_index(dir + "/train.json");
  EXPECT_EQ(loaded.classes, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(loaded.samples(), 50u);
  EXPECT_EQ(loaded.shards.size(), index.shards.size());
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_NE(e.path().extension(), ".tmp") << e.path();
}

TEST(ShardWriter, WithoutCloseLeavesNoShards) {
  const std::string dir = test::fresh_dir("unclosed");
  {
    auto ds = numbered(20);
    data::ShardWriter w(dir, data::ShardWriterOptions().max_count(5));
    for (size_t i = 0; i < 12; ++i) w.write(ds->get(i));
    EXPECT_TRUE(fs::exists(dir + "/train-000001.tar"));  // finished shards carry their final names ...
    EXPECT_FALSE(fs::exists(dir + "/train-000002.tar"));  // ... the one being written does not
    EXPECT_TRUE(fs::exists(dir + "/train-000002.tar.tmp"));
  }  // an interrupted conversion: nothing that looks like a complete set stays
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(ShardDataset, ReadsBackWhatWasWrittenInOrder) {
  for (bool floats : {false, true}) {
    const std::string dir = test::fresh_dir(floats ? "rt_f" : "rt_u8");
    auto ds = numbered(23, floats);
    const std::string urls = write_shards(dir, *ds, 5);
    auto shards = std::make_shared<data::ShardDataset>(urls);
    EXPECT_EQ(shards->size(), 23u);
    EXPECT_EQ(shards->shards().size(), 5u);
    auto stream = shards->stream(data::WorkerInfo{});
    data::Example<> e;
    for (size_t i = 0; i < 23; ++i) {
      ASSERT_TRUE(stream->next(e)) << i;
      const data::Example<> want = ds->get(i);
      EXPECT_EQ(e.target.item<int64_t>(), static_cast<int64_t>(i));
      EXPECT_EQ(e.data.scalar_type(), want.data.scalar_type());
      EXPECT_EQ(test::max_abs_diff(e.data.to(kFloat), want.data.to(kFloat)), 0.0) << i;
    }
    EXPECT_FALSE(stream->next(e));
    EXPECT_TRUE(contains(error_of([&] { shards->get(0); }), "no random access"));
  }
}

TEST(ShardDataset, TensorTargetsTravelAsTargetNpy) {
  const std::string dir = test::fresh_dir("regress");
  data::TensorDataset ds(empty({4, 2}).fill_(1.5), empty({4, 3}).fill_(-2.0));
  data::ShardWriter w(dir);
  for (size_t i = 0; i < 4; ++i) w.write(ds.get(i));
  w.close();
  const auto members = read_members(dir + "/train-000000.tar");
  EXPECT_EQ(members[1].first, "00000000.target.npy");
  data::ShardDataset shards(dir + "/train-000000.tar");
  data::Example<> e;
  ASSERT_TRUE(shards.stream({})->next(e));
  EXPECT_EQ(e.target.sizes(), (std::vector<int64_t>{3}));
  EXPECT_EQ(e.target.data_ptr<float>()[2], -2.0f);
}

TEST(ShardDataset, WithoutIndexCountsByScanningHeaders) {
  const std::string dir = test::fresh_dir("noindex");
  auto ds = numbered(17);
  const std::string urls = write_shards(dir, *ds, 4);
  fs::remove(dir + "/train.json");
  data::ShardDataset shards(urls);
  EXPECT_EQ(shards.size(), 17u);
  EXPECT_FALSE(shards.stats().has_value());
  EXPECT_EQ(pass_keys(std::make_shared<data::ShardDataset>(urls), 2, 0).size(), 17u);
}

TEST(ShardDataset, MissingShardIsNamedAtConstruction) {
  const std::string dir = test::fresh_dir("missing");
  auto ds = numbered(10);
  write_shards(dir, *ds, 5);  // train-000000.tar, train-000001.tar
  const std::string msg = error_of([&] { data::ShardDataset(dir + "/train-{000000..000002}.tar"); });
  EXPECT_TRUE(contains(msg, "1 of 3 shards not found")) << msg;
  EXPECT_TRUE(contains(msg, "train-000002.tar")) << msg;
}

TEST(ShardDataset, SampleWithoutLabelNamesShardAndKey) {
  const std::string path = test::temp_path("nolabel.tar");
  Tensor img = zeros({1, 2, 2}, kByte);
  write_bytes(path, tar_of({{"00000000.png", data::encode_png(img)},
                            {"00000000.cls", "0"},
                            {"00000001.png", data::encode_png(img)}}));
  data::ShardDataset shards(path);
  auto stream = shards.stream({});
  data::Example<> e;
  EXPECT_TRUE(stream->next(e));
  const std::string msg = error_of([&] { stream->next(e); });
  EXPECT_TRUE(contains(msg, path + ": sample 00000001 has no label")) << msg;
  EXPECT_TRUE(contains(msg, "its members: 00000001.png")) << msg;
}

TEST(ShardDataset, UndecodableMemberAndBadClassNameTheMember) {
  const std::string path = test::temp_path("badpng.tar");
  write_bytes(path, tar_of({{"00000007.png", "not a png"}, {"00000007.cls", "1"}}));
  std::string msg = error_of([&] {
    data::Example<> e;
    data::ShardDataset(path).stream({})->next(e);
  });
  EXPECT_TRUE(contains(msg, path + ": member 00000007.png")) << msg;
  write_bytes(path, tar_of({{"00000007.png", data::encode_png(zeros({1, 2, 2}, kByte))}, {"00000007.cls", "cat"}}));
  msg = error_of([&] {
    data::Example<> e;
    data::ShardDataset(path).stream({})->next(e);
  });
  EXPECT_TRUE(contains(msg, path + ": member 00000007.cls: not a class index")) << msg;
}

TEST(ShardDataset, LoaderErrorFromAWorkerNamesTheShardWithoutHanging) {
  const std::string dir = test::fresh_dir("loader_err");
  auto ds = numbered(40);
  const std::string urls = write_shards(dir, *ds, 10);
  // Damage shard 2 in the middle of a member's header; the index still lists its size.
  const std::string victim = dir + "/train-000002.tar";
  std::string bytes = read_bytes(victim);
  bytes[512 * 6 + 3] ^= 0x21;
  write_bytes(victim, bytes);
  auto shards = std::make_shared<data::ShardDataset>(urls);
  for (size_t workers : {0, 2}) {
    const std::string msg = error_of([&] { pass_keys(shards, workers, 0); });
    EXPECT_TRUE(contains(msg, victim)) << msg;
    EXPECT_TRUE(contains(msg, "checksum")) << msg;
    EXPECT_TRUE(contains(msg, "DataLoader: worker")) << msg;
  }
}

// ---- exactly once over ranks x workers ----------------------------------------------------------

// Each rank's loader with `workers` workers for `epoch`; returns every key seen, over all ranks.
std::multiset<int64_t> keys_over_ranks(const std::string& urls, int64_t world, size_t workers, int64_t epoch,
                                       size_t buffer, std::vector<std::vector<int64_t>>* per_rank = nullptr) {
  std::multiset<int64_t> all;
  for (int64_t rank = 0; rank < world; ++rank) {
    auto ds = std::make_shared<data::ShardDataset>(
        urls, data::ShardDatasetOptions().rank(rank).world_size(world).shuffle_buffer(buffer));
    const std::vector<int64_t> keys = pass_keys(ds, workers, epoch, 3);
    all.insert(keys.begin(), keys.end());
    if (per_rank) per_rank->push_back(keys);
  }
  return all;
}

TEST(ShardDataset, TwoRanksTimesTwoWorkersSeeEveryKeyOncePerEpoch) {
  const std::string dir = test::fresh_dir("once");
  auto ds = numbered(103);
  struct Case {
    size_t per_shard;
    bool splits_samples;
  };
  // 11 shards for 4 slots (whole shards per slot), then 3 shards and 1 shard for 4 slots
  // (each slot keeps every 4th sample of the one global stream).
  for (const Case c : {Case{10, false}, Case{35, true}, Case{200, true}}) {
    const std::string sub = test::fresh_dir("once/" + std::to_string(c.per_shard));
    const std::string urls = write_shards(sub, *ds, c.per_shard);
    EXPECT_EQ(data::ShardDataset(urls, data::ShardDatasetOptions().world_size(2)).splits_samples(2), c.splits_samples);
    for (size_t buffer : {0, 16}) {
      for (int64_t epoch : {0, 1}) {
        std::vector<std::vector<int64_t>> per_rank;
        const std::multiset<int64_t> seen = keys_over_ranks(urls, 2, 2, epoch, buffer, &per_rank);
        ASSERT_EQ(seen.size(), 103u) << "per_shard " << c.per_shard << " buffer " << buffer << " epoch " << epoch;
        for (int64_t k = 0; k < 103; ++k) EXPECT_EQ(seen.count(k), 1u) << "key " << k;
        EXPECT_GT(per_rank[0].size(), 0u);
        EXPECT_GT(per_rank[1].size(), 0u);
      }
    }
  }
}

TEST(ShardDataset, ShuffleIsDeterministicPerSeedAndEpochAndDiffersAcrossEpochs) {
  const std::string dir = test::fresh_dir("shuffle");
  auto base = numbered(120);
  const std::string urls = write_shards(dir, *base, 10);
  auto ds = std::make_shared<data::ShardDataset>(urls, data::ShardDatasetOptions().shuffle_buffer(32));
  const auto a = pass_keys(ds, 2, 0), b = pass_keys(ds, 2, 0), c = pass_keys(ds, 2, 1);
  EXPECT_EQ(a, b);  // the same seed, epoch and worker count: the same order
  EXPECT_NE(a, c);  // another epoch: another order
  std::vector<int64_t> sorted_a = a, sorted_c = c;
  std::sort(sorted_a.begin(), sorted_a.end());
  std::sort(sorted_c.begin(), sorted_c.end());
  EXPECT_EQ(sorted_a, sorted_c);
  std::vector<int64_t> in_order(120);
  for (int64_t i = 0; i < 120; ++i) in_order[static_cast<size_t>(i)] = i;
  EXPECT_EQ(sorted_a, in_order);
  EXPECT_NE(a, pass_keys(std::make_shared<data::ShardDataset>(urls), 2, 0));  // without a buffer: shard order
  // One stream: the buffer mixes samples across shard boundaries, so its first 10 are not one shard's.
  const auto one = pass_keys(ds, 0, 0);
  std::set<int64_t> first_shards;
  for (size_t i = 0; i < 10; ++i) first_shards.insert(one[i] / 10);
  EXPECT_GT(first_shards.size(), 1u);
}

TEST(ShardDataset, LoaderBatchCountMatchesPerWorkerStreams) {
  const std::string dir = test::fresh_dir("batches");
  auto base = numbered(37);
  const std::string urls = write_shards(dir, *base, 6);  // 7 shards: 6 x 6 + 1
  auto ds = std::make_shared<data::ShardDataset>(urls);
  size_t batches = 0;
  EXPECT_EQ(pass_keys(ds, 2, 0, 4, &batches).size(), 37u);
  // worker 0: shards 0, 2, 4, 6 = 19 samples -> 5 batches; worker 1: 18 -> 5 batches.
  EXPECT_EQ(batches, 10u);
  data::DataLoader dropping(ds, data::DataLoaderOptions(4).workers(2).drop_last(true));
  EXPECT_EQ(dropping.size(), 8u);
  EXPECT_TRUE(contains(error_of([&] { data::DataLoader(ds, data::DataLoaderOptions(4).shuffle(true)); }),
                       "shuffle is for map-style datasets"));
}

// ---- statistics ----------------------------------------------------------------------------------

TEST(ShardDataset, StreamingStatisticsEqualComputeMeanStd) {
  for (bool floats : {false, true}) {
    const std::string dir = test::fresh_dir(floats ? "stats_f" : "stats_u8");
    auto base = numbered(61, floats);
    const std::string urls = write_shards(dir, *base, 7);
    const auto [mean, std] = data::compute_mean_std(base);
    auto shards = std::make_shared<data::ShardDataset>(urls);
    const auto [smean, sstd] = data::compute_mean_std(shards);  // one streaming pass
    const data::RunningStats indexed = shards->stats().value();  // merged per-shard moments of the index
    ASSERT_EQ(smean.size(), mean.size());
    for (size_t c = 0; c < mean.size(); ++c) {
      EXPECT_NEAR(smean[c], mean[c], 1e-12) << c;
      EXPECT_NEAR(sstd[c], std[c], 1e-12) << c;
      EXPECT_NEAR(indexed.mean()[c], mean[c], 1e-12) << c;
      EXPECT_NEAR(indexed.std()[c], std[c], 1e-12) << c;
    }
    EXPECT_EQ(indexed.examples, 61u);
    EXPECT_EQ(indexed.integral, !floats);  // i * 0.5 + k is not whole for odd i
  }
}

