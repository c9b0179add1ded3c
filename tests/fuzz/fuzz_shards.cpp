// libFuzzer target: dataset shards (data::ShardDataset over one tar file, the WebDataset
// format `cnnkit shard` writes): the header scan at construction, then one pass that decodes
// every sample (PNG and .npy members, .cls labels), as a DataLoader worker would.
//
// Every tar header carries a checksum, which a mutation almost always breaks; so each input
// is read as it is, and again with its headers' checksums recomputed (found by walking the
// headers as the reader does), so that the fuzzer also gets past the checksum to the sizes,
// names and types behind it.
#include <cstdio>
#include <cstring>
#include <string>

#include "cnnkit/data/shards.h"
#include "fuzz/fuzz_util.h"

using namespace cnnkit;

namespace {

constexpr size_t kBlock = 512;

// The input with every header's checksum field rewritten to the header's sum ("%06o\0 ").
std::string with_checksums(std::string tar) {
  for (size_t at = 0; at + kBlock <= tar.size();) {
    auto* h = reinterpret_cast<unsigned char*>(tar.data() + at);
    bool zero = true;
    for (size_t i = 0; i < kBlock && zero; ++i) zero = h[i] == 0;
    if (zero) break;
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < kBlock; ++i) sum += h[i];
    char field[9];
    std::snprintf(field, sizeof(field), "%06o", sum & 0777777u);
    std::memcpy(h + 148, field, 7);  // six digits and a NUL, then the space already there
    uint64_t size = 0;
    for (size_t i = 124; i < 136 && h[i] >= '0' && h[i] <= '7'; ++i) size = size * 8 + (h[i] - '0');
    if (size > tar.size()) break;
    at += kBlock + (size + kBlock - 1) / kBlock * kBlock;
  }
  return tar;
}

void read_all(const std::string& path) {
  fuzz::loads([&] {
    data::ShardDataset ds(path);
    const data::WorkerInfo worker;
    (void)ds.stream_size(worker);
    auto stream = ds.stream(worker);
    data::Example<> ex;
    while (stream->next(ex)) (void)ex.data.numel();
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string raw(reinterpret_cast<const char*>(data), size);
  read_all(fuzz::write_file("input-000000.tar", data, size));
  const std::string fixed = with_checksums(raw);
  if (fixed != raw)
    read_all(fuzz::write_file("input-000000.tar", reinterpret_cast<const uint8_t*>(fixed.data()), fixed.size()));
  return 0;
}
