// libFuzzer target: safetensors files (io::load_safetensors, io::load_safetensors_metadata).
// The readers take a path, so each input is written to a scratch file first.
#include "cnnkit/io/safetensors.h"
#include "fuzz/fuzz_util.h"

using namespace cnnkit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_file("input.safetensors", data, size);
  fuzz::loads([&] { io::load_safetensors_metadata(path); });
  fuzz::loads([&] {
    for (const auto& [name, t] : io::load_safetensors(path)) (void)t.numel();
  });
  return 0;
}
