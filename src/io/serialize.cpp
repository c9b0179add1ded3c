// torch::save / torch::load over safetensors files (see cnnkit/io/serialize.h).
#include "cnnkit/io/serialize.h"

#include "cnnkit/io/checkpoint.h"
#include "cnnkit/io/safetensors.h"

namespace cnnkit {

namespace {

constexpr const char* kKindKey = "cnnkit.save";

// What a file written by save() holds, for the error when another kind is loaded from it.
std::string kind_of(const io::Metadata& meta) {
  if (auto it = meta.find(kKindKey); it != meta.end()) return it->second;
  if (auto it = meta.find(std::string("extra.") + kKindKey); it != meta.end()) return it->second;  // optimizers
  if (auto it = meta.find("cnnkit.format"); it != meta.end()) return it->second;  // checkpoints
  return "module";  // a plain state dict (also what PyTorch's safetensors.save_file writes)
}

void expect_kind(const std::string& path, const io::Metadata& meta, const std::string& wanted) {
  const std::string kind = kind_of(meta);
  CNNKIT_CHECK_IO(kind == wanted, "load: ", path, " holds a saved ", kind, ", not a ", wanted);
}

std::vector<Tensor> read_tensors(const std::string& path, const char* kind) {
  expect_kind(path, io::load_safetensors_metadata(path), kind);
  io::TensorMap map = io::load_safetensors(path);
  std::vector<Tensor> out(map.size());
  for (size_t i = 0; i < out.size(); ++i) {
    auto it = map.find(std::to_string(i));
    CNNKIT_CHECK_IO(it != map.end(), "load: ", path, " has no tensor \"", i, "\" (", map.size(),
                    " tensors, expected keys 0..", map.size() - 1, ")");
    out[i] = it->second;
  }
  return out;
}

}  // namespace

void save(const nn::Module& module, const std::string& path) {
  io::save_state_dict(path, module, {{kKindKey, "module"}});
}

void load(nn::Module& module, const std::string& path) {
  // A module's archive (module->save(archive); archive.save_to(path)) is the same file.
  const io::Metadata meta = io::load_safetensors_metadata(path);
  if (kind_of(meta) != "archive") expect_kind(path, meta, "module");
  io::load_state_dict(path, module, /*strict=*/true);
}

void save(const optim::Optimizer& optimizer, const std::string& path) {
  io::Checkpoint ck;
  ck.optimizer = optimizer.state_dict();
  ck.extra[kKindKey] = "optimizer";
  io::save_checkpoint(path, ck);
}

void load(optim::Optimizer& optimizer, const std::string& path) {
  expect_kind(path, io::load_safetensors_metadata(path), "optimizer");
  optim::StateDict state = io::load_checkpoint(path).optimizer;
  try {
    optimizer.load_state_dict(state);
  } catch (const Error&) {
    rethrow_with_prefix(path + ": ");
  }
}

void save(const Tensor& tensor, const std::string& path) {
  CNNKIT_CHECK(tensor.defined(), "save: the tensor to save to ", path, " is undefined");
  io::save_safetensors(path, io::NamedTensors{{"0", tensor.detach()}}, {{kKindKey, "tensor"}});
}

void load(Tensor& tensor, const std::string& path) {
  std::vector<Tensor> ts = read_tensors(path, "tensor");
  CNNKIT_CHECK_IO(ts.size() == 1, "load: ", path, " holds ", ts.size(), " tensors, expected one");
  tensor = ts[0];
}

void save(const std::vector<Tensor>& tensors, const std::string& path) {
  io::NamedTensors named;
  for (size_t i = 0; i < tensors.size(); ++i) {
    CNNKIT_CHECK(tensors[i].defined(), "save: tensor ", i, " of the list to save to ", path, " is undefined");
    named.emplace_back(std::to_string(i), tensors[i].detach());
  }
  io::save_safetensors(path, named, {{kKindKey, "tensors"}});
}

void load(std::vector<Tensor>& tensors, const std::string& path) { tensors = read_tensors(path, "tensors"); }

}  // namespace cnnkit
