// libFuzzer target: dataset shards (data::ShardDataset over one tar file, the WebDataset
// format `cnnkit shard` writes): the header scan at construction, then one pass that decodes
// every sample (PNG and .npy members, .cls labels), as a DataLoader worker would.
#include "cnnkit/data/shards.h"
#include "fuzz/fuzz_util.h"

using namespace cnnkit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_file("input-000000.tar", data, size);
  fuzz::loads([&] {
    data::ShardDataset ds(path);
    const data::WorkerInfo worker;
    (void)ds.stream_size(worker);
    auto stream = ds.stream(worker);
    data::Example<> ex;
    while (stream->next(ex)) (void)ex.data.numel();
  });
  return 0;
}
