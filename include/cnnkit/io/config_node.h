// A part of a YAML config kept as written, with its file name and line numbers, for the code
// that reads it later: a run config's `model:` section (models::build) and a transform's
// arguments. Opaque, so the YAML library stays out of cnnkit's public headers; str() gives
// its text.
//
//   io::ConfigNode model = io::ConfigNode::parse("{zoo: resnet20, num_classes: 10}");
//   nn::Sequential net = models::build(model, {3, 32, 32});
#pragma once

#include <memory>
#include <string>

namespace cnnkit::io {

class ConfigNode {
 public:
  ConfigNode() = default;  // nothing (an absent section)
  // YAML text (a document); IOError "file:line: ..." when malformed, ValueError for a key
  // repeated in one mapping.
  static ConfigNode parse(const std::string& yaml_text, const std::string& file = "");

  bool defined() const;             // false for nothing / null
  std::string str() const;          // the YAML in flow style ("{zoo: resnet20, num_classes: 10}")
  const std::string& file() const;  // where it was read from ("" when made in code)

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  friend struct ConfigNodeAccess;  // the io layer's YAML toolkit (private)
};

}  // namespace cnnkit::io
