// libFuzzer target: IDX files (data::read_idx), raw or gzipped: the reader decides by the gzip
// magic bytes, and the corpus holds both kinds.
#include "cnnkit/data/datasets/mnist.h"
#include "fuzz/fuzz_util.h"

using namespace cnnkit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_file("input-idx-ubyte", data, size);
  fuzz::loads([&] { data::read_idx(path); });
  return 0;
}
