// Checkpoints as one safetensors file: tensors under "model." / "optimizer." / "scheduler." /
// "extra." prefixes, scalars and strings in the header's __metadata__. Validation of the
// model's keys and shapes happens here so every caller gets the same message; restoring
// optimisers, schedulers and RNGs is the caller's (train/) business.
#include "cnnkit/io/checkpoint.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "cnnkit/core/error.h"
#include "cnnkit/nn/module.h"

namespace cnnkit::io {
namespace {

constexpr const char* kFormatKey = "cnnkit.format";
constexpr const char* kVersionKey = "cnnkit.version";
constexpr const char* kFingerprintKey = "model.fingerprint";

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string shape_str(IntArrayRef s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

void check_key(const std::string& key, const char* section) {
  CNNKIT_CHECK(!key.empty(), "save_checkpoint: empty key in the ", section, " section");
}

}  // namespace

NamedTensors named_tensors(const OrderedDict<std::string, Tensor>& state_dict) {
  NamedTensors out;
  out.reserve(state_dict.size());
  for (const auto& item : state_dict) out.emplace_back(item.key(), item.value());
  return out;
}

std::string model_fingerprint(const NamedTensors& model) {
  std::string out;
  for (const auto& [name, t] : model) {
    if (!out.empty()) out += ';';
    out += name;
    out += '[';
    for (int64_t d = 0; d < t.dim(); ++d) {
      if (d) out += ',';
      out += std::to_string(t.size(d));
    }
    out += ']';
  }
  return out;
}

std::string model_fingerprint(const nn::Module& module) { return model_fingerprint(named_tensors(module.state_dict())); }

std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

double parse_double(const std::string& s, const std::string& what) {
  const char* begin = s.c_str();
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(begin, &end);
  // ERANGE on underflow still gives the (subnormal) value; only overflow is refused.
  CNNKIT_CHECK(!s.empty() && end == begin + s.size() && !(errno == ERANGE && std::isinf(v)), what, ": expected a number, got '", s,
               "'");
  return v;
}

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  NamedTensors tensors;
  tensors.reserve(checkpoint.model.size() + checkpoint.optimizer.tensors.size() +
                  checkpoint.scheduler.tensors.size() + checkpoint.extra_tensors.size());
  Metadata meta;
  meta[kFormatKey] = kCheckpointFormat;
  meta[kVersionKey] = std::to_string(kCheckpointVersion);
  for (const auto& [k, t] : checkpoint.model) {
    check_key(k, "model");
    tensors.emplace_back("model." + k, t);
  }
  meta[kFingerprintKey] = model_fingerprint(checkpoint.model);
  auto add_state = [&](const optim::StateDict& sd, const std::string& prefix, const char* section) {
    for (const auto& [k, t] : sd.tensors) {
      check_key(k, section);
      tensors.emplace_back(prefix + k, t);
    }
    for (const auto& [k, v] : sd.scalars) {
      check_key(k, section);
      meta[prefix + k] = format_double(v);
    }
  };
  add_state(checkpoint.optimizer, "optimizer.", "optimizer");
  add_state(checkpoint.scheduler, "scheduler.", "scheduler");
  for (const auto& [k, t] : checkpoint.extra_tensors) {
    check_key(k, "extra");
    tensors.emplace_back("extra." + k, t);
  }
  for (const auto& [k, v] : checkpoint.extra) {
    check_key(k, "extra");
    meta["extra." + k] = v;
  }
  save_safetensors(path, tensors, meta);
}

Checkpoint load_checkpoint(const std::string& path) {
  Metadata meta = load_safetensors_metadata(path);
  auto fmt = meta.find(kFormatKey);
  CNNKIT_CHECK_IO(fmt != meta.end() && fmt->second == kCheckpointFormat, "load_checkpoint: ", path,
                  " is a safetensors file but not a cnnkit checkpoint (no '", kFormatKey,
                  "' = 'checkpoint' in its metadata); to load bare weights use io::load_state_dict");
  auto ver = meta.find(kVersionKey);
  CNNKIT_CHECK_IO(ver != meta.end(), "load_checkpoint: ", path, " has no '", kVersionKey, "' in its metadata");
  int version = 0;
  try {
    version = std::stoi(ver->second);
  } catch (const std::exception&) {
    CNNKIT_CHECK_IO(false, "load_checkpoint: ", path, ": '", kVersionKey, "' is '", ver->second,
                    "', expected an integer");
  }
  CNNKIT_CHECK_IO(version >= 1 && version <= kCheckpointVersion, "load_checkpoint: ", path,
                  " has checkpoint version ", version, "; this cnnkit reads versions 1 to ", kCheckpointVersion);

  Checkpoint ck;
  for (auto& [name, t] : load_safetensors(path)) {
    if (starts_with(name, "model.")) ck.model.emplace_back(name.substr(6), t);
    else if (starts_with(name, "optimizer.")) ck.optimizer.tensors[name.substr(10)] = t;
    else if (starts_with(name, "scheduler.")) ck.scheduler.tensors[name.substr(10)] = t;
    else if (starts_with(name, "extra.")) ck.extra_tensors[name.substr(6)] = t;
    else CNNKIT_CHECK_IO(false, "load_checkpoint: ", path, ": unexpected tensor '", name,
                         "' (expected a model., optimizer., scheduler. or extra. prefix)");
  }
  for (const auto& [k, v] : meta) {
    if (starts_with(k, "optimizer.")) ck.optimizer.scalars[k.substr(10)] = parse_double(v, path + ": " + k);
    else if (starts_with(k, "scheduler.")) ck.scheduler.scalars[k.substr(10)] = parse_double(v, path + ": " + k);
    else if (starts_with(k, "extra.")) ck.extra[k.substr(6)] = v;
  }
  return ck;
}

void check_model_matches(const std::string& path, const Checkpoint& checkpoint, const nn::Module& module) {
  // In the model's order, so the first difference reported is the first layer's.
  std::map<std::string, const Tensor*> saved;
  for (const auto& [name, t] : checkpoint.model) saved[name] = &t;
  const std::string head = "checkpoint " + path + " was saved from another model: ";
  auto expected = module.state_dict();
  for (const auto& item : expected) {
    auto it = saved.find(item.key());
    CNNKIT_CHECK(it != saved.end(), head, "the model has '", item.key(), "', which the checkpoint lacks");
    CNNKIT_CHECK(it->second->sizes() == item.value().sizes(), head, "'", item.key(), "' has shape ",
                 shape_str(it->second->sizes()), ", the model expects ", shape_str(item.value().sizes()));
  }
  for (const auto& [name, t] : checkpoint.model)
    CNNKIT_CHECK(expected.contains(name), head, "it has '", name, "', which the model does not have");
}

void load_model_state(const std::string& path, const Checkpoint& checkpoint, nn::Module& module) {
  check_model_matches(path, checkpoint, module);
  std::map<std::string, Tensor> sd(checkpoint.model.begin(), checkpoint.model.end());
  module.load_state_dict(sd, /*strict=*/true);
}

}  // namespace cnnkit::io
