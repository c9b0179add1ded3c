// Sharded, streamed datasets in WebDataset's format: POSIX tar files ("shards") of samples,
// a sample being consecutive members that share a key (the member name up to the first dot
// of its base name): KEY.png (uint8 image, 1 to 4 channels) or KEY.npy (any other tensor)
// for the data, KEY.cls (the class index in ASCII decimal) or KEY.target.npy (a tensor
// target) for the label. Python reads them with `webdataset.WebDataset(urls).decode()`.
//
//   data::ShardWriter w("out", data::ShardWriterOptions().prefix("train").max_bytes(256 << 20));
//   for (size_t i = 0; i < ds->size().value(); ++i) w.write(ds->get(i));
//   data::ShardIndex index = w.close();          // out/train-000000.tar ..., out/train.json
//
//   data::ShardDataset train("out/train-{000000..000009}.tar",
//                            data::ShardDatasetOptions().shuffle_buffer(1000).rank(r).world_size(n));
//   data::DataLoader loader(std::make_shared<data::IterableMapDataset>(...), ...);
//
// Memory: a reader holds one member at a time plus the shuffle buffer (shuffle_buffer
// encoded samples per worker), whatever the size of the shards. Files: every shard and the
// index are written to a temporary name, fsynced and renamed; a writer destroyed without
// close() removes the shards it wrote, so an interrupted conversion leaves nothing that looks
// complete. Not here: remote URLs (pipe:, http:), compressed shards (.tar.gz), decoders for
// other formats (JPEG members decode as images too, through stb).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cnnkit/core/arg.h"
#include "cnnkit/data/iterable.h"
#include "cnnkit/data/stats.h"

namespace cnnkit::data {

// Brace expansion as bash and Python's braceexpand (which WebDataset uses) do it:
// "train-{000000..000003}.tar" -> train-000000.tar ... train-000003.tar (zero-padded to the
// width of the wider bound when either has a leading zero), "{a,b}" lists, several and nested
// braces (a cartesian product, left to right). ValueError for an unmatched brace or a
// descending or non-numeric range.
std::vector<std::string> expand_braces(const std::string& pattern);

// One shard of a set, as the index records it.
struct ShardInfo {
  std::string path;      // as given (the url after brace expansion)
  uint64_t bytes = 0;    // file size when indexed: a different size means the index is stale
  size_t samples = 0;
  RunningStats stats;    // of the samples' data; empty (no channels) when not indexed
};

// The index `cnnkit shard` writes next to the shards (<dir>/<prefix>.json), so that the
// length, the classes and normalize: auto's statistics need no pass over the data.
struct ShardIndex {
  std::string prefix;                 // "train": shards are <prefix>-NNNNNN.tar
  std::string source;                 // what was converted (free text: the dataset's name)
  std::vector<std::string> classes;   // index = label; empty for regression or unknown
  std::vector<int64_t> shape;         // the data's shape when every sample has it, else empty
  std::string dtype;                  // "uint8", "float32", ...
  std::string encoding;               // "png" or "npy"
  std::vector<ShardInfo> shards;      // paths relative to the index's directory
  size_t samples() const;
  RunningStats stats() const;         // merged over every shard
};
// The index file as JSON (format "cnnkit-shards", version 1). save: atomic.
void save_shard_index(const ShardIndex& index, const std::string& path);
ShardIndex load_shard_index(const std::string& path);

struct ShardWriterOptions {
  CNNKIT_ARG(std::string, prefix) = "train";
  CNNKIT_ARG(uint64_t, max_bytes) = uint64_t{256} << 20;  // a shard rolls over before passing it
  CNNKIT_ARG(size_t, max_count) = 0;                      // samples per shard; 0 = no limit
  CNNKIT_ARG(std::vector<std::string>, classes);          // recorded in the index
  CNNKIT_ARG(std::string, source);                        // recorded in the index
  CNNKIT_ARG(int, png_compression) = 6;                   // write_png's level
};

// Writes examples into <dir>/<prefix>-000000.tar, -000001.tar, ... (keys 00000000, 00000001,
// ... in write order) and, on close(), the index <dir>/<prefix>.json. A shard holds at
// least one sample, so one sample larger than max_bytes makes a shard of its own. The data of
// an example is stored as PNG when it is a uint8 (C, H, W) image with C in 1..4, else as .npy;
// a 0-dim integer target as .cls, another target as .target.npy. Not thread-safe.
class ShardWriter {
 public:
  ShardWriter(std::string dir, ShardWriterOptions options = {});
  ~ShardWriter();  // without close(): removes the shard being written and the finished ones
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  void write(const Example<>& example);
  // Finishes the last shard, writes the index and returns it.
  ShardIndex close();
  size_t samples() const { return count_; }
  size_t shards() const { return index_.shards.size() + (open_ ? 1 : 0); }

 private:
  void roll();
  void finish_shard();
  std::string dir_;
  ShardWriterOptions options_;
  ShardIndex index_;
  struct Open;
  std::unique_ptr<Open> open_;  // the shard being written
  size_t count_ = 0;
  bool closed_ = false;
};

struct ShardDatasetOptions {
  // Samples held (encoded) per worker to shuffle the stream; 0 keeps the shards' order. As in
  // WebDataset, the buffer fills as the pass goes (sampling starts at 100 samples).
  CNNKIT_ARG(size_t, shuffle_buffer) = 0;
  // Visit each worker's shards in a new order every epoch (with shuffle_buffer > 0).
  CNNKIT_ARG(bool, shuffle_shards) = true;
  // This process's place among the processes of a distributed run (plain numbers here: the
  // run layer takes them from the MPI world). Every process must use the same worker count.
  CNNKIT_ARG(int64_t, rank) = 0;
  CNNKIT_ARG(int64_t, world_size) = 1;
  // The index to read; "" = <dir>/<prefix>.json next to the first shard, when it exists.
  // Shards the index lacks, or whose size differs from it, are counted by a header scan.
  CNNKIT_ARG(std::string, index);
};

// A set of tar shards read as a stream (webdataset.WebDataset(urls).shuffle(n)). Examples:
// data (C, H, W) uint8 from PNG or the .npy's tensor, target int64 0-dim from .cls or the
// .target.npy's tensor. Errors while reading name the shard file and the member: a missing
// shard (at construction), a bad header checksum, a truncated member, an undecodable image, a
// sample without a label (IOError / ValueError). The length comes from the index or, without
// one, from a scan of the headers at construction (no decoding).
class ShardDataset : public IterableDataset {
 public:
  // `urls`: one pattern (brace-expanded) or several paths.
  explicit ShardDataset(const std::string& urls, ShardDatasetOptions options = {});
  explicit ShardDataset(std::vector<std::string> paths, ShardDatasetOptions options = {});

  std::optional<size_t> size() const override { return total_; }
  std::vector<std::string> classes() const override { return classes_; }
  std::unique_ptr<ExampleStream> stream(const WorkerInfo& worker) const override;
  std::optional<size_t> stream_size(const WorkerInfo& worker) const override;

  const std::vector<ShardInfo>& shards() const { return shards_; }
  // The data's statistics merged over these shards, when the index has every shard's
  // (otherwise nullopt: compute them with compute_mean_std, one streaming pass).
  std::optional<RunningStats> stats() const;
  const ShardDatasetOptions& options() const { return options_; }
  // True when the shards are fewer than rank x worker slots, so that each slot reads every
  // shard and keeps every slots-th sample (see shards.cpp).
  bool splits_samples(size_t num_workers) const;

 private:
  std::vector<ShardInfo> shards_;
  ShardDatasetOptions options_;
  std::vector<std::string> classes_;
  size_t total_ = 0;
};

}  // namespace cnnkit::data
