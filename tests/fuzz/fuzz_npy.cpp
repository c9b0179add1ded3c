// libFuzzer target: NumPy .npy arrays, from memory (io::decode_npy, what tar shards use) and
// from a file (io::load_npy), which must agree on what they accept.
#include "cnnkit/io/npy.h"
#include "fuzz/fuzz_util.h"

using namespace cnnkit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const bool from_memory = fuzz::loads([&] { io::decode_npy(data, size, "input.npy"); });
  const std::string path = fuzz::write_file("input.npy", data, size);
  const bool from_file = fuzz::loads([&] { io::load_npy(path); });
  if (from_memory != from_file) {
    std::fprintf(stderr, "cnnkit fuzz: decode_npy %s the input but load_npy %s it\n",
                 from_memory ? "accepts" : "rejects", from_file ? "accepts" : "rejects");
    std::abort();
  }
  return 0;
}
