// libFuzzer target: the shard index JSON (data::load_shard_index), and what ShardDataset
// makes of it beside a real shard: the corpus's own two-sample shard (fuzz_shards/png2.tar,
// whose size the seed indexes record) is copied next to the input as train-000000.tar, so an
// index that matches it supplies the length, classes and statistics (normalize: auto's mean
// and std) without a scan.
#include <filesystem>

#include "cnnkit/data/shards.h"
#include "fuzz/fuzz_util.h"

using namespace cnnkit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string shard = [] {
    const std::string to = (fuzz::scratch_dir() / "train-000000.tar").string();
    std::filesystem::copy_file(CNNKIT_FUZZ_CORPUS_DIR "/fuzz_shards/png2.tar", to,
                               std::filesystem::copy_options::overwrite_existing);
    return to;
  }();
  const std::string path = fuzz::write_file("train.json", data, size);
  fuzz::loads([&] { data::load_shard_index(path); });
  fuzz::loads([&] {
    data::ShardDataset ds(shard);
    (void)ds.classes();
    for (size_t workers : {size_t{1}, size_t{3}}) (void)ds.stream_size(data::WorkerInfo{0, workers, 0, 0});
    if (auto stats = ds.stats(); stats && stats->examples > 0) {
      (void)stats->mean();
      (void)stats->std();
    }
  });
  return 0;
}
