// libFuzzer target: `--set key=value` overrides (train::parse_run_config's `overrides`). Each
// line of the input is one override, applied in order to a fixed valid config, as `cnnkit
// train CONFIG --set a --set b` does.
#include <sstream>

#include "cnnkit/train/config.h"
#include "fuzz/fuzz_util.h"

using namespace cnnkit;

namespace {
// configs/lenet5-fashion-mnist.yaml's sections, plus a few that overrides like to reach.
constexpr const char* kBase = R"(data:
  dataset: fashion-mnist
  root: /nonexistent/fashion-mnist
  split: {val: 0.1, stratified: true, seed: 0}
  normalize: auto
  batch_size: 64
  transforms:
    train: [{RandomCrop: {size: 28, padding: 2}}, RandomHorizontalFlip]
    eval: []
model:
  zoo: lenet5
  in_channels: 1
  num_classes: 10
loss:
  name: CrossEntropyLoss
optimizer:
  name: SGD
  lr: 0.03
  momentum: 0.9
  weight_decay: 5.0e-4
scheduler:
  name: CosineAnnealingLR
early_stopping: {patience: 3}
epochs: 10
seed: 0
)";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> overrides;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  for (std::string line; std::getline(in, line);) overrides.push_back(line);
  fuzz::loads([&] {
    const train::RunConfig cfg = train::parse_run_config(kBase, "base.yaml", overrides);
    (void)train::to_yaml_string(cfg);
  });
  return 0;
}
