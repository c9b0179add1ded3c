// torch::serialize::OutputArchive / InputArchive with LibTorch's calls, over the atomic
// safetensors files of io/safetensors.h:
//
//   cnnkit::serialize::OutputArchive out;
//   model->save(out);                          // parameters, buffers, children nested
//   out.write("step", cnnkit::tensor({step}));  // any tensor under any key
//   out.write("epoch", int64_t{3});             // and numbers and text
//   out.save_to("ckpt.pt");
//
//   cnnkit::serialize::InputArchive in;
//   in.load_from("ckpt.pt");
//   model->load(in);                           // into the existing tensors: optimisers keep them
//   Tensor step; in.read("step", step);
//
// A nested archive's keys are flattened with dots ("features.0.weight"), so the file of a
// module's archive is the file cnnkit::save(module, path) writes, and either loads the other.
// Numbers and text go in the file's metadata. Reading a key the archive lacks, a tensor of
// another shape into a defined one, or a value of another type is an error naming the key
// (and the file). c10::IValue has no counterpart: the scalar overloads below cover the
// numbers and strings checkpoint code writes; save_to(std::ostream&) and the device argument
// of load_from are not provided.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cnnkit/core/tensor.h"

namespace cnnkit {
namespace serialize {

class OutputArchive {
 public:
  void write(const std::string& key, const Tensor& tensor, bool is_buffer = false);
  void write(const std::string& key, const OutputArchive& nested_archive);
  void write(const std::string& key, int64_t value);
  void write(const std::string& key, int value) { write(key, static_cast<int64_t>(value)); }
  void write(const std::string& key, double value);
  void write(const std::string& key, bool value);
  void write(const std::string& key, const std::string& value);
  void write(const std::string& key, const char* value) { write(key, std::string(value)); }
  // Writes the archive to `filename` atomically (a temporary file, fsync, rename).
  void save_to(const std::string& filename) const;
  template <typename... Ts>
  void operator()(Ts&&... ts) {
    write(std::forward<Ts>(ts)...);
  }
  // The top-level keys written so far (nested archives by their own key), in order.
  std::vector<std::string> keys() const;

 private:
  void check_new(const std::string& key) const;
  std::vector<std::pair<std::string, Tensor>> tensors_;  // flattened keys
  std::map<std::string, std::string> values_;           // flattened key -> "type:value"
  std::vector<std::string> keys_;
};

class InputArchive {
 public:
  // Reads every tensor and value of `filename` (written by OutputArchive::save_to, or by
  // cnnkit::save(module, ...)).
  void load_from(const std::string& filename);
  // Into `tensor`: copied into it when it is defined (same shape required), else set.
  void read(const std::string& key, Tensor& tensor, bool is_buffer = false);
  bool try_read(const std::string& key, Tensor& tensor, bool is_buffer = false);
  void read(const std::string& key, InputArchive& nested_archive);
  bool try_read(const std::string& key, InputArchive& nested_archive);
  void read(const std::string& key, int64_t& value);
  void read(const std::string& key, double& value);
  void read(const std::string& key, bool& value);
  void read(const std::string& key, std::string& value);
  template <typename... Ts>
  void operator()(Ts&&... ts) {
    read(std::forward<Ts>(ts)...);
  }
  // The top-level keys: tensors, values and nested archives.
  std::vector<std::string> keys() const;

 private:
  std::string where(const std::string& key) const;
  const std::string& value(const std::string& key, const char* type) const;
  std::string source_;                             // the file, for messages
  std::string prefix_;                             // "features.0." inside a nested archive
  std::map<std::string, Tensor> tensors_;          // flattened keys
  std::map<std::string, std::string> values_;
};

}  // namespace serialize
}  // namespace cnnkit
