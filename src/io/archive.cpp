// OutputArchive / InputArchive over safetensors (io/archive.h), and nn::Module's save(archive)
// / load(archive), which walk the module tree as LibTorch's do.
#include "cnnkit/io/archive.h"

#include <cstdlib>
#include <set>
#include <sstream>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/error.h"
#include "cnnkit/io/safetensors.h"
#include "cnnkit/nn/module.h"

namespace cnnkit {
namespace serialize {

namespace {

constexpr const char* kKindKey = "cnnkit.save";
constexpr const char* kValuePrefix = "archive.";  // metadata key of a value: archive.<key>

std::string top_key(const std::string& flat) { return flat.substr(0, flat.find('.')); }

}  // namespace

// ---- OutputArchive ------------------------------------------------------------------------

void OutputArchive::check_new(const std::string& key) const {
  CNNKIT_CHECK(!key.empty(), "OutputArchive: a key must not be empty");
  CNNKIT_CHECK(key.find('.') == std::string::npos, "OutputArchive: key '", key,
               "' holds a '.', which separates nested archives; write a nested archive instead");
  for (const std::string& k : keys_) CNNKIT_CHECK(k != key, "OutputArchive: key '", key, "' was written already");
}

void OutputArchive::write(const std::string& key, const Tensor& tensor, bool /*is_buffer*/) {
  check_new(key);
  CNNKIT_CHECK(tensor.defined(), "OutputArchive: the tensor written under '", key, "' is undefined");
  tensors_.emplace_back(key, tensor.detach());
  keys_.push_back(key);
}

void OutputArchive::write(const std::string& key, const OutputArchive& nested) {
  check_new(key);
  for (const auto& [k, t] : nested.tensors_) tensors_.emplace_back(key + "." + k, t);
  for (const auto& [k, v] : nested.values_) values_[key + "." + k] = v;
  keys_.push_back(key);
}

void OutputArchive::write(const std::string& key, int64_t value) {
  check_new(key);
  values_[key] = "int:" + std::to_string(value);
  keys_.push_back(key);
}

void OutputArchive::write(const std::string& key, double value) {
  check_new(key);
  std::ostringstream s;
  s.precision(17);
  s << value;
  values_[key] = "double:" + s.str();
  keys_.push_back(key);
}

void OutputArchive::write(const std::string& key, bool value) {
  check_new(key);
  values_[key] = std::string("bool:") + (value ? "true" : "false");
  keys_.push_back(key);
}

void OutputArchive::write(const std::string& key, const std::string& value) {
  check_new(key);
  values_[key] = "str:" + value;
  keys_.push_back(key);
}

void OutputArchive::save_to(const std::string& filename) const {
  io::Metadata meta = {{kKindKey, "archive"}};
  for (const auto& [k, v] : values_) meta[kValuePrefix + k] = v;
  io::save_safetensors(filename, io::NamedTensors(tensors_.begin(), tensors_.end()), meta);
}

std::vector<std::string> OutputArchive::keys() const { return keys_; }

// ---- InputArchive -------------------------------------------------------------------------

void InputArchive::load_from(const std::string& filename) {
  const io::Metadata meta = io::load_safetensors_metadata(filename);
  // What cnnkit::save wrote (an optimizer keeps it among a checkpoint's extras), or a Trainer
  // checkpoint; a plain state dict has no such key and reads as a module's archive.
  std::string kind = "module";
  if (auto it = meta.find(kKindKey); it != meta.end()) kind = it->second;
  else if (auto ex = meta.find(std::string("extra.") + kKindKey); ex != meta.end()) kind = ex->second;
  else if (auto fmt = meta.find("cnnkit.format"); fmt != meta.end()) kind = fmt->second;
  CNNKIT_CHECK_IO(kind == "archive" || kind == "module", "InputArchive: ", filename, " holds a saved ", kind,
                  ", not an archive or a module");
  tensors_ = io::load_safetensors(filename);
  values_.clear();
  const std::string vp = kValuePrefix;
  for (const auto& [k, v] : meta)
    if (k.compare(0, vp.size(), vp) == 0) values_[k.substr(vp.size())] = v;
  source_ = filename;
  prefix_.clear();
}

std::string InputArchive::where(const std::string& key) const {
  return "'" + prefix_ + key + "'" + (source_.empty() ? std::string() : " in " + source_);
}

bool InputArchive::try_read(const std::string& key, Tensor& tensor, bool /*is_buffer*/) {
  auto it = tensors_.find(key);
  if (it == tensors_.end()) return false;
  if (!tensor.defined()) {
    tensor = it->second;
    return true;
  }
  CNNKIT_CHECK_SHAPE(tensor.sizes() == it->second.sizes(), "InputArchive: tensor ", where(key), " has shape ",
                     it->second.sizes(), ", but the tensor read into has shape ", tensor.sizes());
  NoGradGuard no_grad;
  tensor.copy_(it->second);
  return true;
}

void InputArchive::read(const std::string& key, Tensor& tensor, bool is_buffer) {
  CNNKIT_CHECK(try_read(key, tensor, is_buffer), "InputArchive: no such serialized tensor ", where(key));
}

bool InputArchive::try_read(const std::string& key, InputArchive& nested) {
  const std::string p = key + ".";
  InputArchive child;
  for (const auto& [k, t] : tensors_)
    if (k.compare(0, p.size(), p) == 0) child.tensors_[k.substr(p.size())] = t;
  for (const auto& [k, v] : values_)
    if (k.compare(0, p.size(), p) == 0) child.values_[k.substr(p.size())] = v;
  if (child.tensors_.empty() && child.values_.empty()) return false;
  child.source_ = source_;
  child.prefix_ = prefix_ + p;
  nested = std::move(child);
  return true;
}

void InputArchive::read(const std::string& key, InputArchive& nested) {
  CNNKIT_CHECK(try_read(key, nested), "InputArchive: no such serialized archive ", where(key));
}

const std::string& InputArchive::value(const std::string& key, const char* type) const {
  auto it = values_.find(key);
  CNNKIT_CHECK(it != values_.end(), "InputArchive: no such serialized value ", where(key));
  const std::string t = std::string(type) + ":";
  auto noun = [](const std::string& tag) {
    return tag == "int" ? "an integer" : tag == "double" ? "a double" : tag == "bool" ? "a bool" : "a string";
  };
  CNNKIT_CHECK(it->second.compare(0, t.size(), t) == 0, "InputArchive: value ", where(key), " is ",
               noun(it->second.substr(0, it->second.find(':'))), ", not ", noun(type));
  return it->second;
}

void InputArchive::read(const std::string& key, int64_t& out) {
  const std::string& v = value(key, "int");
  out = std::stoll(v.substr(4));
}

void InputArchive::read(const std::string& key, double& out) {
  const std::string& v = value(key, "double");
  out = std::strtod(v.c_str() + 7, nullptr);
}

void InputArchive::read(const std::string& key, bool& out) { out = value(key, "bool") == "bool:true"; }

void InputArchive::read(const std::string& key, std::string& out) { out = value(key, "str").substr(4); }

std::vector<std::string> InputArchive::keys() const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& [k, t] : tensors_)
    if (seen.insert(top_key(k)).second) out.push_back(top_key(k));
  for (const auto& [k, v] : values_)
    if (seen.insert(top_key(k)).second) out.push_back(top_key(k));
  return out;
}

}  // namespace serialize

// ---- nn::Module's archive methods ---------------------------------------------------------

void nn::Module::save(serialize::OutputArchive& archive) const {
  for (const auto& p : named_parameters(/*recurse=*/false)) archive.write(p.key(), p.value());
  for (const auto& b : named_buffers(/*recurse=*/false)) archive.write(b.key(), b.value(), /*is_buffer=*/true);
  for (const auto& c : named_children()) {
    serialize::OutputArchive child;
    c.value()->save(child);
    archive.write(c.key(), child);
  }
}

void nn::Module::load(serialize::InputArchive& archive) {
  for (auto& p : named_parameters(/*recurse=*/false)) {
    Tensor t = p.value();
    archive.read(p.key(), t);
  }
  for (auto& b : named_buffers(/*recurse=*/false)) {
    Tensor t = b.value();
    archive.read(b.key(), t, /*is_buffer=*/true);
  }
  for (const auto& c : named_children()) {
    serialize::InputArchive child;
    if (!archive.try_read(c.key(), child)) {
      // A child without tensors (a ReLU) leaves no keys behind; one with tensors must be there.
      if (c.value()->named_parameters().size() == 0 && c.value()->named_buffers().size() == 0) continue;
      archive.read(c.key(), child);  // the error naming the missing child
    }
    c.value()->load(child);
  }
}

}  // namespace cnnkit
