// `cnnkit shard`: a run config's dataset (its `data:` section: IDX, CIFAR, image folders,
// npy, csv) converted into tar shards that `data.dataset: shards` streams (data/shards.h).
//
//   train::RunConfig cfg = train::load_run_config("configs/lenet5-fashion-mnist.yaml");
//   auto written = train::write_shards(cfg, "shards/fmnist", train::ShardOptions().max_bytes(64 << 20));
//   // shards/fmnist/train-000000.tar ..., train.json, test-000000.tar ..., test.json
//
// The splits are opened as training opens them (the dataset table of the run layer), with
// `clean: true` and `subset` applied, untransformed: the shards hold the raw examples, and
// the run that reads them applies its own transforms. Not here: a validation split (hold out
// whole training shards with `paths.val`), remote storage.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cnnkit/core/arg.h"
#include "cnnkit/data/shards.h"
#include "cnnkit/train/config.h"

namespace cnnkit::train {

struct ShardProgress {
  std::string split;   // "train" or "test"
  size_t done = 0, total = 0;
  size_t shards = 0;   // started so far
};

struct ShardOptions {
  CNNKIT_ARG(uint64_t, max_bytes) = uint64_t{256} << 20;  // per shard (--shard-size)
  CNNKIT_ARG(std::string, split) = "both";                // train | test | both
  // Write into a directory that already holds files (shard sets of the same splits there are
  // replaced); without it such a directory is refused.
  CNNKIT_ARG(bool, force) = false;
  // Called every 1% of a split and at its end.
  CNNKIT_ARG(std::function<void(const ShardProgress&)>, progress);
};

// Writes the splits into out_dir (<split>-NNNNNN.tar and <split>.json each) and returns their
// indexes, train first. ValueError for an unknown split, a non-empty out_dir without force, a
// source that is already shards; the readers' errors name their files. A split that fails
// halfway leaves none of its shards behind (data::ShardWriter).
std::vector<data::ShardIndex> write_shards(const RunConfig& cfg, const std::string& out_dir,
                                           const ShardOptions& options = {});

// "256MB", "1GB", "64KiB", "1.5 GB", "4096": bytes. KB/MB/GB/TB are powers of 1000 and
// KiB/MiB/GiB/TiB of 1024 (units case-insensitive, the B optional); ValueError otherwise.
uint64_t parse_size(const std::string& text);

}  // namespace cnnkit::train
