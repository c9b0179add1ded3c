// Module state dicts to and from safetensors files: the glue between nn::Module's
// state_dict()/load_state_dict() and the safetensors reader/writer. Checkpoints with
// optimiser state and RNG live elsewhere (io/checkpoint); this is weights only.
#include "cnnkit/io/safetensors.h"
#include "cnnkit/nn/module.h"

namespace cnnkit::io {

void save_state_dict(const std::string& path, const nn::Module& module, const Metadata& metadata) {
  save_safetensors(path, module.state_dict(), metadata);
}

nn::IncompatibleKeys load_state_dict(const std::string& path, nn::Module& module, bool strict) {
  TensorMap tensors = load_safetensors(path);
  // The module's error names the keys; prefix the file they came from, same error type.
  try {
    return module.load_state_dict(tensors, strict);
  } catch (const Error&) {
    rethrow_with_prefix(path + ": ");
  }
}

}  // namespace cnnkit::io
