// write_shards and parse_size (train/shard.h): the run layer's datasets into data::ShardWriter.
// The readers are the run layer's own (families::open_dataset), so a dataset converts the way
// training reads it; this file only chooses the splits, the classes and the directory.
#include "cnnkit/train/shard.h"

#include <cctype>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <regex>

#include "cnnkit/data/clean.h"
#include "cnnkit/data/split.h"
#include "train/families.h"

namespace cnnkit::train {

namespace fs = std::filesystem;

uint64_t parse_size(const std::string& text) {
  static const std::regex re(R"(\s*([0-9]+(?:\.[0-9]*)?)\s*([kmgt]?)(i?)(b?)\s*)", std::regex::icase);
  std::smatch m;
  const bool ok = std::regex_match(text, m, re) && !(m[3].length() && !m[2].length());
  CNNKIT_CHECK(ok, "'", text, "' is not a size (e.g. 256MB, 1GB, 64KiB, or a number of bytes)");
  const double number = std::stod(m[1].str());
  const char unit = static_cast<char>(std::tolower(m[2].str().empty() ? ' ' : m[2].str()[0]));
  const double base = m[3].length() ? 1024.0 : 1000.0;
  const int power = unit == 'k' ? 1 : unit == 'm' ? 2 : unit == 'g' ? 3 : unit == 't' ? 4 : 0;
  const double bytes = number * std::pow(base, power);
  CNNKIT_CHECK(bytes >= 1 && bytes < 1e18, "'", text, "' is not a usable size");
  return static_cast<uint64_t>(std::llround(bytes));
}

namespace {

// Files of a shard set of `prefix` in dir: prefix-NNNNNN.tar(.tmp) and prefix.json.
bool is_shard_file(const std::string& name, const std::string& prefix) {
  static const std::regex shard(R"((.*)-[0-9]+\.tar(\.tmp)?)");
  std::smatch m;
  if (std::regex_match(name, m, shard)) return m[1].str() == prefix;
  return name == prefix + ".json" || name == prefix + ".json.tmp";
}

}  // namespace

std::vector<data::ShardIndex> write_shards(const RunConfig& cfg, const std::string& out_dir,
                                           const ShardOptions& options) {
  const std::string& which = options.split();
  CNNKIT_CHECK(which == "train" || which == "test" || which == "both", "shard: --split must be train, test or both, got '",
               which, "'");
  CNNKIT_CHECK(!std::holds_alternative<ShardsSource>(cfg.data.source), "shard: ", cfg.source,
               " reads dataset 'shards' already; give a config whose data section names the source dataset");
  std::vector<std::string> splits;
  if (which != "test") splits.push_back("train");
  if (which != "train") splits.push_back("test");

  std::error_code ec;
  if (fs::exists(out_dir, ec)) {
    CNNKIT_CHECK(fs::is_directory(out_dir, ec), "shard: '", out_dir, "' exists and is not a directory");
    if (!fs::is_empty(out_dir, ec)) {
      CNNKIT_CHECK(options.force(), "shard: '", out_dir,
                   "' is not empty; choose a new directory, or --force to write into it (replacing its ",
                   which == "both" ? "train and test" : which, " shards)");
      // Replaced, not mixed: a longer earlier set would leave shards past the new last one.
      for (const auto& e : fs::directory_iterator(out_dir))
        for (const std::string& split : splits)
          if (e.is_regular_file() && is_shard_file(e.path().filename().string(), split)) fs::remove(e.path());
    }
  }

  // The training split's classes number both splits (an image folder's test split lacking a
  // class keeps the others' indices), as build_datasets does.
  std::vector<std::string> classes = cfg.data.classes;
  if (classes.empty()) classes = families::training_classes(cfg);
  std::vector<data::ShardIndex> written;
  for (const std::string& split : splits) {
    const bool train = split == "train";
    auto ds = families::first_n(families::open_dataset(cfg, train, classes), train ? cfg.data.subset_train : cfg.data.subset_test);
    if (classes.empty()) classes = ds->classes();
    if (cfg.data.clean) {  // as build_datasets cleans: the test split keeps its duplicates
      auto o = data::CleanOptions();
      if (!train) o.drop_duplicates(false);
      ds = data::clean(ds, o).dataset;
    }
    const size_t n = ds->size().value_or(0);
    CNNKIT_CHECK(n > 0, "shard: the ", split, " split of ", cfg.data.dataset, " is empty");
    data::ShardWriter writer(out_dir, data::ShardWriterOptions()
                                          .prefix(split)
                                          .max_bytes(options.max_bytes())
                                          .classes(classes)
                                          .source(cfg.data.dataset + " (" + cfg.source + ")"));
    const size_t step = std::max<size_t>(1, n / 100);
    for (size_t i = 0; i < n; ++i) {
      data::Example<> e;
      try {
        e = ds->get(i);
      } catch (const Error&) {
        rethrow_with_prefix("shard: " + split + " example " + std::to_string(i) + ": ");
      }
      writer.write(e);
      if (options.progress() && ((i + 1) % step == 0 || i + 1 == n))
        options.progress()(ShardProgress{split, i + 1, n, writer.shards()});
    }
    written.push_back(writer.close());
  }
  return written;
}

}  // namespace cnnkit::train
