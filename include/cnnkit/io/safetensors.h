// safetensors files (https://huggingface.co/docs/safetensors): the format PyTorch, JAX and
// Hugging Face use to exchange weights, and the one cnnkit saves models and goldens in.
//
//   io::save_safetensors("model.safetensors", {{"fc.weight", w}, {"fc.bias", b}},
//                        {{"format", "pt"}});
//   auto tensors = io::load_safetensors("model.safetensors");   // name -> Tensor
//   Tensor w2 = tensors.at("fc.weight");
//   auto meta = io::load_safetensors_metadata("model.safetensors"); // "__metadata__"
//
// Intended usage:
//   - whole state dicts (a PyTorch `state_dict` saved with safetensors loads as is);
//   - golden test data written by tools/golden/*.py;
//   - exchanging tensors with any other safetensors reader or writer.
//
// Layout: 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value"}}
// then the byte buffer that the offsets index (relative to the buffer's start). Every
// loader error is a cnnkit::IOError that names the file, the tensor and the problem.
#pragma once

#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/ordered_dict.h"

namespace cnnkit::nn {
class Module;
struct IncompatibleKeys;
}  // namespace cnnkit::nn

namespace cnnkit::io {

// Tensors by name (sorted by name, as nlohmann's JSON objects and torch's state dicts after
// sorting; safetensors itself gives the header no meaningful order).
using TensorMap = std::map<std::string, Tensor>;
// Tensors in a chosen order (a module's state dict): saved in that order.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using Metadata = std::map<std::string, std::string>;

// Reads every tensor. F32, F16, BF16 and F64 load as float32 (cnnkit computes in float32);
// I64 and I32 load as int64; U8 as uint8; BOOL as bool. Throws IOError on anything that is
// not a well-formed safetensors file; never reads outside the file.
TensorMap load_safetensors(const std::string& path);

// Only the "__metadata__" strings (empty if the file has none); reads just the header.
Metadata load_safetensors_metadata(const std::string& path);

// Writes float32 (F32), int64 (I64), uint8 (U8) and bool (BOOL) tensors, any strides, in
// the order given. Atomic: writes path + ".tmp", fsyncs it, then renames it over `path`,
// so readers see either the old file or the whole new one. Throws IOError if the file
// cannot be written, ValueError on an undefined tensor, an empty or duplicate name, or a
// name "__metadata__".
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const Metadata& metadata = {});
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const Metadata& metadata = {});
// A module's state_dict() (keys in registration order, as PyTorch's).
void save_safetensors(const std::string& path, const OrderedDict<std::string, Tensor>& tensors,
                      const Metadata& metadata = {});
// Makes `save_safetensors(path, {{"a", a}, {"b", b}})` unambiguous (saved in that order).
void save_safetensors(const std::string& path,
                      std::initializer_list<std::pair<std::string, Tensor>> tensors,
                      const Metadata& metadata = {});

// ---- whole modules (src/io/state_dict.cpp) -------------------------------------------------
// module.state_dict() to a safetensors file: PyTorch's key names, so
// `model.load_state_dict(safetensors.torch.load_file(path))` works in Python.
void save_state_dict(const std::string& path, const nn::Module& module, const Metadata& metadata = {});
// A safetensors file (e.g. from `safetensors.torch.save_file(model.state_dict(), path)`) into
// `module` with Module::load_state_dict semantics: strict throws on any missing,
// unexpected or mis-shaped key; not strict loads what matches and returns the rest.
nn::IncompatibleKeys load_state_dict(const std::string& path, nn::Module& module, bool strict = true);

}  // namespace cnnkit::io
