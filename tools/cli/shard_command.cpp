// The `shard` verb: a run config's dataset into tar shards, one call into train::write_shards
// (train/shard.h). This file declares the options, shows progress and prints what was
// written with the `data:` section that reads it.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cnnkit/train/shard.h"
#include "commands.h"

namespace cnnkit::cli {

CLI::App* add_shard_command(CLI::App& app, ShardArgs& a) {
  auto* s = app.add_subcommand("shard",
                               "convert a run config's dataset (IDX, CIFAR, image folder, npy, csv) into tar shards "
                               "for `data.dataset: shards`");
  s->add_option("config", a.config, "run config (YAML) whose data section names the source dataset")->required();
  s->add_option("out_dir", a.out_dir, "directory for <split>-NNNNNN.tar and <split>.json")->required();
  s->add_option("--shard-size", a.shard_size, "bytes per shard: 256MB (default), 1GB, 64KiB, ...");
  s->add_option("--split", a.split, "train, test or both (default)")->check(CLI::IsMember({"train", "test", "both"}));
  s->add_option("--set", a.overrides, "override a config key (repeatable)");
  s->add_flag("--force", a.force, "write into a non-empty directory (its shards of these splits are replaced)");
  s->add_flag("--quiet,-q", a.quiet, "no progress");
  return s;
}

namespace {

std::string human_bytes(uint64_t b) {
  if (b >= 1000000000) return fmt::format("{:.2f} GB", static_cast<double>(b) / 1e9);
  if (b >= 1000000) return fmt::format("{:.1f} MB", static_cast<double>(b) / 1e6);
  return fmt::format("{:.1f} kB", static_cast<double>(b) / 1e3);
}

// "dir/train-{000000..000002}.tar" for the shards of an index written into dir.
std::string pattern_of(const std::string& dir, const data::ShardIndex& index) {
  const std::string last = fmt::format("{:06d}", index.shards.size() - 1);
  const std::string name =
      index.shards.size() == 1 ? index.prefix + "-000000.tar" : index.prefix + "-{000000.." + last + "}.tar";
  return (std::filesystem::path(dir) / name).string();
}

}  // namespace

int shard(const ShardArgs& a) {
  uint64_t max_bytes = 0;
  try {
    max_bytes = train::parse_size(a.shard_size);
  } catch (const ValueError& e) {
    throw ValueError(std::string("--shard-size: ") + e.what());
  }
  CNNKIT_CHECK(max_bytes >= 4096, "--shard-size: ", a.shard_size, " is under 4 KiB; shards hold whole samples");
  const train::RunConfig cfg = load_config_saying_notes(a.config, a.overrides);

  // A terminal gets one line rewritten in place; a log gets a line every 10% of a split.
  const bool tty = ::isatty(STDERR_FILENO);
  const auto t0 = std::chrono::steady_clock::now();
  int last_decile = -1;
  std::string last_split;
  auto progress = [&](const train::ShardProgress& p) {
    if (a.quiet) return;
    if (p.split != last_split) last_decile = -1, last_split = p.split;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string line = fmt::format("{}: {}/{} examples ({:.0f}%), {} shard{}, {:.1f}s", p.split, p.done, p.total,
                                         100.0 * static_cast<double>(p.done) / static_cast<double>(p.total), p.shards,
                                         p.shards == 1 ? "" : "s", secs);
    if (tty) {
      std::cerr << "\r" << line << (p.done == p.total ? "\n" : "") << std::flush;
    } else if (const int decile = static_cast<int>(10 * p.done / p.total); decile != last_decile) {
      last_decile = decile;
      std::cerr << line << "\n";
    }
  };
  const auto written = train::write_shards(
      cfg, a.out_dir, train::ShardOptions().max_bytes(max_bytes).split(a.split).force(a.force).progress(progress));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::string paths;
  for (const data::ShardIndex& index : written) {
    uint64_t bytes = 0;
    for (const auto& s : index.shards) bytes += s.bytes;
    std::string shape = "varying";
    if (!index.shape.empty()) shape = "[" + fmt::format("{}", fmt::join(index.shape, ", ")) + "]";
    const std::string classes =
        index.classes.empty() ? "no class names" : fmt::format("{} classes", index.classes.size());
    std::cout << fmt::format("{}: {} examples in {} shard{} ({}), {} {} as .{}, {} -> {}\n", index.prefix,
                             index.samples(), index.shards.size(), index.shards.size() == 1 ? "" : "s",
                             human_bytes(bytes), index.dtype, shape, index.encoding, classes,
                             pattern_of(a.out_dir, index));
    const data::RunningStats st = index.stats();
    if (!st.channels.empty())
      std::cout << fmt::format("  mean [{:.4f}], std [{:.4f}] (ToTensor scale), index {}/{}.json\n",
                               fmt::join(st.mean(), ", "), fmt::join(st.std(), ", "), a.out_dir, index.prefix);
    paths += fmt::format("{}{}: \"{}\"", paths.empty() ? "" : ", ", index.prefix, pattern_of(a.out_dir, index));
  }
  std::cout << fmt::format("done in {:.1f}s; read them with\n  data: {{dataset: shards, paths: {{{}}}}}\n", secs, paths);
  return 0;
}

}  // namespace cnnkit::cli
