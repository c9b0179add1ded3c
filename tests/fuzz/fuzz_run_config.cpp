// libFuzzer target: YAML run configs (train::parse_run_config, what `cnnkit train` reads).
// A config that parses must also describe itself and survive its own round trip: the
// resolved YAML (to_yaml_string) parses again, as config.h promises.
#include "cnnkit/train/config.h"
#include "fuzz/fuzz_util.h"

using namespace cnnkit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  train::RunConfig cfg;
  if (!fuzz::loads([&] { cfg = train::parse_run_config(text, "input.yaml"); })) return 0;
  (void)train::flatten_config(cfg);
  (void)train::describe_optimizer(cfg);
  (void)train::describe_scheduler(cfg);
  const std::string resolved = train::to_yaml_string(cfg);
  try {
    (void)train::parse_run_config(resolved, "resolved.yaml");
  } catch (const Error& e) {
    std::fprintf(stderr, "cnnkit fuzz: the resolved config does not parse again: %s\n--- resolved:\n%s\n", e.what(),
                 resolved.c_str());
    std::abort();
  }
  return 0;
}
