// Private to the library (not installed): the YAML toolkit of the io layer. yaml-cpp stays
// out of the public headers; configs reach users as io::ConfigNode.
//
// Small helpers to read hand-written YAML configs strictly: typed values, unknown keys and
// bad types reported as "file:line: ..." (cnnkit::ValueError), with a "did you mean" hint.
// Used by the model builder (models) and by the run-config parser (train) for every section. They only
// read nodes (never create keys); they know nothing about what a section means.
//
//   YamlContext ctx{"configs/mnist.yaml"};
//   const YAML::Node opt = root["optimizer"];
//   check_keys(opt, {"name", "lr", "momentum", "weight_decay"}, ctx, "optimizer");
//   double lr  = require<double>(opt, "lr", ctx, "optimizer");
//   double mom = get<double>(opt, "momentum", ctx, 0.0);
//   std::vector<int64_t> k = ints(opt["kernel_size"], 2, ctx, "kernel_size");  // 3 -> {3, 3}
//
// Intended usage:
//   - check_keys() first on every mapping you read, so a typo never silently becomes a default;
//   - get<T>() for optional keys (missing or null -> the default), require<T>() for required;
//   - as<T>() to convert a node you already hold (list items);
//   - fail() to report any other problem at a node's line.
// Every error is a ConfigError (a cnnkit::ValueError) whose message starts with
// where(node, ctx).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "cnnkit/core/error.h"
#include "cnnkit/core/suggest.h"
#include "cnnkit/io/config_node.h"

namespace cnnkit::io::yaml {

// What every helper here throws: a ValueError about the config text, already prefixed with
// "file:line: ". Catch ValueError to handle all bad input; ConfigError tells code that wraps
// other errors with a position that this one has its own.
class ConfigError : public ValueError {
 public:
  using ValueError::ValueError;
};

// Where the YAML came from, for messages. An empty file name reads as "<yaml>".
struct YamlContext {
  std::string file;
};

// "configs/x.yaml:12" (1-based line of the node); just the file name for a node that has
// no position (built in code, or undefined).
std::string where(const YAML::Node& node, const YamlContext& ctx);

// Throws ConfigError("<where(node)>: <message>").
[[noreturn]] void fail(const YAML::Node& node, const YamlContext& ctx, std::string_view message);

// "an integer 3", "a list", "a mapping", "'ten'", "nothing": how a node reads in messages.
std::string describe(const YAML::Node& node);




// Throws ConfigError at the second occurrence of any key repeated in one mapping, anywhere
// in the tree ("configs/x.yaml:9: duplicate key 'epochs' (first at line 5)"): YAML parsers
// keep one of the two silently (yaml-cpp the first).
void check_no_duplicate_keys(const YAML::Node& root, const YamlContext& ctx);

// Checks that `map` is a mapping (or null/undefined: an empty section) and that every key
// is in `allowed`. Unknown key ->
//   "configs/x.yaml:12: unknown key 'lerning_rate' in optimizer (allowed: lr, momentum);
//    did you mean 'lr'?"
void check_keys(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
                const YamlContext& ctx, std::string_view section);
void check_keys(const YAML::Node& map, const std::vector<std::string_view>& allowed,
                const YamlContext& ctx, std::string_view section);

// Checks that `node` is a mapping; "configs/x.yaml:3: <section>: expected a mapping, got a list".
void check_map(const YAML::Node& node, const YamlContext& ctx, std::string_view section);

// Converts a node to T; `what` names it in errors:
//   "configs/x.yaml:4: key 'epochs': expected an integer, got 'ten'".
// T is one of: bool, int, int64_t, float, double, std::string, std::vector<int64_t>,
// std::vector<double>, std::vector<std::string>. Integers accept no fractions ("3.0" is
// an error); floats accept integers, 1e-3, .inf, .nan; bools accept true/false (yes/no...).
template <class T>
T as(const YAML::Node& value, const YamlContext& ctx, std::string_view what);
template <> bool as<bool>(const YAML::Node&, const YamlContext&, std::string_view);
template <> int as<int>(const YAML::Node&, const YamlContext&, std::string_view);
template <> int64_t as<int64_t>(const YAML::Node&, const YamlContext&, std::string_view);
template <> float as<float>(const YAML::Node&, const YamlContext&, std::string_view);
template <> double as<double>(const YAML::Node&, const YamlContext&, std::string_view);
template <> std::string as<std::string>(const YAML::Node&, const YamlContext&, std::string_view);
template <> std::vector<int64_t> as<std::vector<int64_t>>(const YAML::Node&, const YamlContext&,
                                                          std::string_view);
template <> std::vector<double> as<std::vector<double>>(const YAML::Node&, const YamlContext&,
                                                        std::string_view);
template <> std::vector<std::string> as<std::vector<std::string>>(const YAML::Node&,
                                                                  const YamlContext&,
                                                                  std::string_view);

// True when `map` is a mapping holding `key` with a non-null value.
bool has(const YAML::Node& map, std::string_view key);

// map[key] as T, or `default_value` when the key is missing or null.
template <class T>
T get(const YAML::Node& map, std::string_view key, const YamlContext& ctx, T default_value) {
  if (!has(map, key)) return default_value;
  return as<T>(map[std::string(key)], ctx, "key '" + std::string(key) + "'");
}

// map[key] as T, or std::nullopt when the key is missing or null.
template <class T>
std::optional<T> get_optional(const YAML::Node& map, std::string_view key, const YamlContext& ctx) {
  if (!has(map, key)) return std::nullopt;
  return as<T>(map[std::string(key)], ctx, "key '" + std::string(key) + "'");
}

// map[key] as T; a missing key is an error at the map's line:
//   "configs/x.yaml:9: missing required key 'lr' in optimizer".
template <class T>
T require(const YAML::Node& map, std::string_view key, const YamlContext& ctx,
          std::string_view section = {}) {
  if (!has(map, key)) {
    std::string msg = "missing required key '" + std::string(key) + "'";
    if (!section.empty()) msg += " in " + std::string(section);
    fail(map, ctx, msg);
  }
  return as<T>(map[std::string(key)], ctx, "key '" + std::string(key) + "'");
}

// An int-or-list argument as LibTorch's ExpandingArray<n> takes it: a single integer is
// repeated n times; a list must hold exactly n integers ("kernel_size: [3, 5]").
//   "configs/x.yaml:7: key 'kernel_size': expected an integer or a list of 2 integers, got [3, 5, 7]"
std::vector<int64_t> ints(const YAML::Node& value, size_t n, const YamlContext& ctx,
                          std::string_view what);

// Same, read from map[key], with `default_value` when missing or null.
std::vector<int64_t> get_ints(const YAML::Node& map, std::string_view key, size_t n,
                              const YamlContext& ctx, std::vector<int64_t> default_value);

// A name from a fixed list: map[key] (default_value when missing), or the node itself.
// Unknown -> "file:line: unknown <what> 'x' (one of: a, b, c); did you mean 'b'?"
std::string one_of(const YAML::Node& map, std::string_view key, const YamlContext& ctx,
                   const std::vector<std::string_view>& names, std::string_view what, std::string default_value);
std::string one_of_value(const YAML::Node& node, const YamlContext& ctx, const std::vector<std::string_view>& names,
                         std::string_view what);

// Range checks at the key's line (or the map's, when the key is absent):
//   "configs/x.yaml:7: key 'lr': must be > 0, got -1".
void check_value(bool ok, const YAML::Node& map, std::string_view key, const YamlContext& ctx,
                 std::string_view rule);
// map[key] (default when missing), finite and > 0 / >= 0; integers > 0 / >= 0.
double positive(const YAML::Node& map, std::string_view key, const YamlContext& ctx, double default_value);
double non_negative(const YAML::Node& map, std::string_view key, const YamlContext& ctx, double default_value);
int64_t positive_int(const YAML::Node& map, std::string_view key, const YamlContext& ctx, int64_t default_value);
int64_t non_negative_int(const YAML::Node& map, std::string_view key, const YamlContext& ctx,
                         int64_t default_value);

// Writing: the shortest text that reads back as the same double (0.03, not
// 0.029999999999999999; 1 as 1.0), and a list in flow style ([1, 2]).
YAML::Node num(double x);
template <class T>
YAML::Node flow_list(const std::vector<T>& v) {
  YAML::Node n(YAML::NodeType::Sequence);
  for (const T& x : v) {
    if constexpr (std::is_floating_point_v<T>) n.push_back(num(x));
    else n.push_back(x);
  }
  n.SetStyle(YAML::EmitterStyle::Flow);
  return n;
}

// One "a.b.c=value" assignment (what `cnnkit train --set` takes), parsed: the path's keys (a
// number indexes a list), the value as YAML (a scalar or a flow collection; null or ~ for
// "delete the key"), carrying no line marks. ValueError naming `what` and the assignment
// ("--set optimizer.lr: expected key.sub=value") when it is malformed or the value is not YAML.
struct Assignment {
  std::string what;  // "--set optimizer.lr=0.1": how messages name it
  std::string path;  // "optimizer.lr"
  std::vector<std::string> keys;
  YAML::Node value;
};
Assignment parse_assignment(const std::string& assignment, std::string_view flag);
// Applies it to `root`, creating missing mappings on the way; a null value deletes the key.
// ValueError when the path crosses a value or runs past a list, or there is no key to delete.
void assign(YAML::Node& root, const Assignment& a);

// Parses YAML text strictly: IOError "file:line: <yaml-cpp's message>" for malformed YAML
// (and for a tab in indentation, which yaml-cpp would misread), ConfigError for a key
// repeated in one mapping.
YAML::Node load(const std::string& text, const std::string& file);

// The YAML node a ConfigNode holds (an undefined node for an empty ConfigNode), and a
// ConfigNode holding `node` read from `file`.
YAML::Node node_of(const ConfigNode& c);
ConfigNode wrap(const YAML::Node& node, const std::string& file);

}  // namespace cnnkit::io::yaml
