// The io layer's YAML toolkit (io/yaml.h, private) and io::ConfigNode.
#include "io/yaml.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <climits>
#include <sstream>
#include <string>
#include <vector>

namespace cnnkit::io {

struct ConfigNode::Impl {
  YAML::Node node;
  std::string file;
};

struct ConfigNodeAccess {
  static YAML::Node node(const ConfigNode& c) { return c.impl_ ? c.impl_->node : YAML::Node(); }
  static ConfigNode make(YAML::Node node, std::string file) {
    ConfigNode c;
    c.impl_ = std::make_shared<const ConfigNode::Impl>(ConfigNode::Impl{std::move(node), std::move(file)});
    return c;
  }
};

ConfigNode ConfigNode::parse(const std::string& yaml_text, const std::string& file) {
  return yaml::wrap(yaml::load(yaml_text, file), file);
}

bool ConfigNode::defined() const { return impl_ && impl_->node.IsDefined() && !impl_->node.IsNull(); }

namespace {

// Flow style all the way down (a parsed node keeps its block style when emitted).
void set_flow(YAML::Node node) {
  if (!node.IsMap() && !node.IsSequence()) return;
  node.SetStyle(YAML::EmitterStyle::Flow);
  for (auto it = node.begin(); it != node.end(); ++it) set_flow(node.IsMap() ? it->second : *it);
}

}  // namespace

std::string ConfigNode::str() const {
  if (!defined()) return "";
  YAML::Node flow = YAML::Clone(impl_->node);
  set_flow(flow);
  YAML::Emitter out;
  out << flow;
  return out.c_str();
}

const std::string& ConfigNode::file() const {
  static const std::string none;
  return impl_ ? impl_->file : none;
}

}  // namespace cnnkit::io

namespace cnnkit::io::yaml {

YAML::Node node_of(const ConfigNode& c) {
  return ConfigNodeAccess::node(c);
}

ConfigNode wrap(const YAML::Node& node, const std::string& file) { return ConfigNodeAccess::make(node, file); }

std::string where(const YAML::Node& node, const YamlContext& ctx) {
  std::string out = ctx.file.empty() ? std::string("<yaml>") : ctx.file;
  // An undefined node (a missing key) has no position; Mark() would throw on it.
  if (!node.IsDefined()) return out;
  const YAML::Mark m = node.Mark();
  if (m.line >= 0) {
    out += ':';
    out += std::to_string(m.line + 1);
  }
  return out;
}

void fail(const YAML::Node& node, const YamlContext& ctx, std::string_view message) {
  throw ConfigError(where(node, ctx) + ": " + std::string(message));
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  YAML::Node flow = YAML::Clone(node);  // a parsed list keeps its block style: "a list - a\n- b"
  set_flow(flow);
  YAML::Emitter out;
  out << flow;
  std::string text = out.c_str();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return (node.IsSequence() ? "a list " : "a mapping ") + text;
}

namespace {

// Aliases make a YAML document a graph: nine levels of ten `*a` name 10^9 values in a few
// hundred bytes ("billion laughs"). Every walk of a config goes through this one first, so
// bounding the values it visits (aliases followed) bounds them all. A run config has a few
// hundred.
constexpr int64_t kMaxYamlValues = 100000;

void check_no_duplicate_keys(const YAML::Node& root, const YamlContext& ctx, int64_t& visited) {
  if (++visited > kMaxYamlValues)
    fail(root, ctx, "the document names more than " + std::to_string(kMaxYamlValues) +
                        " values once its aliases are followed (an alias bomb?); a run config has a few hundred");
  if (root.IsSequence()) {
    for (const YAML::Node& item : root) check_no_duplicate_keys(item, ctx, visited);
    return;
  }
  if (!root.IsMap()) return;
  std::vector<std::pair<std::string, int>> seen;  // key, 1-based line
  for (auto it = root.begin(); it != root.end(); ++it) {
    const YAML::Node key = it->first;
    if (key.IsScalar()) {
      const auto prev = std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == key.Scalar(); });
      if (prev != seen.end())
        fail(key, ctx, "duplicate key '" + key.Scalar() + "'" +
                           (prev->second > 0 ? " (first at line " + std::to_string(prev->second) + ")" : "") +
                           ": YAML keeps only one of them; remove one");
      seen.emplace_back(key.Scalar(), key.Mark().line + 1);
    }
    check_no_duplicate_keys(it->second, ctx, visited);
  }
}

}  // namespace

void check_no_duplicate_keys(const YAML::Node& root, const YamlContext& ctx) {
  int64_t visited = 0;
  check_no_duplicate_keys(root, ctx, visited);
}

void check_map(const YAML::Node& node, const YamlContext& ctx, std::string_view section) {
  if (!node.IsMap())
    fail(node, ctx, std::string(section) + ": expected a mapping, got " + describe(node));
}

void check_keys(const YAML::Node& map, const std::vector<std::string_view>& allowed,
                const YamlContext& ctx, std::string_view section) {
  if (!map.IsDefined() || map.IsNull()) return;
  check_map(map, ctx, section);
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) fail(key, ctx, "expected a key name in " + std::string(section) +
                                            ", got " + describe(key));
    const std::string& name = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    std::string msg = "unknown key '" + name + "' in " + std::string(section) + " (allowed: " +
                      join_capped(allowed) + ")";
    const std::string hint = did_you_mean(name, allowed);
    if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
    fail(key, ctx, msg);
  }
}

void check_keys(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
                const YamlContext& ctx, std::string_view section) {
  check_keys(map, std::vector<std::string_view>(allowed), ctx, section);
}

bool has(const YAML::Node& map, std::string_view key) {
  if (!map.IsMap()) return false;
  const YAML::Node v = map[std::string(key)];
  return v.IsDefined() && !v.IsNull();
}

namespace {

[[noreturn]] void type_fail(const YAML::Node& v, const YamlContext& ctx, std::string_view what,
                            std::string_view expected) {
  fail(v, ctx, std::string(what) + ": expected " + std::string(expected) + ", got " + describe(v));
}

int64_t to_int(const YAML::Node& v, const YamlContext& ctx, std::string_view what) {
  int64_t out = 0;
  if (!v.IsScalar() || !YAML::convert<int64_t>::decode(v, out)) type_fail(v, ctx, what, "an integer");
  return out;
}

double to_double(const YAML::Node& v, const YamlContext& ctx, std::string_view what) {
  double out = 0;
  if (!v.IsScalar() || !YAML::convert<double>::decode(v, out)) type_fail(v, ctx, what, "a number");
  return out;
}

template <class T, class F>
std::vector<T> to_list(const YAML::Node& v, const YamlContext& ctx, std::string_view what,
                       std::string_view expected, F item) {
  if (!v.IsSequence()) type_fail(v, ctx, what, expected);
  std::vector<T> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out.push_back(item(v[i], ctx, std::string(what) + "[" + std::to_string(i) + "]"));
  return out;
}

}  // namespace

template <>
bool as<bool>(const YAML::Node& v, const YamlContext& ctx, std::string_view what) {
  bool out = false;
  if (!v.IsScalar() || !YAML::convert<bool>::decode(v, out))
    type_fail(v, ctx, what, "true or false");
  return out;
}
template <>
int64_t as<int64_t>(const YAML::Node& v, const YamlContext& ctx, std::string_view what) {
  return to_int(v, ctx, what);
}
template <>
int as<int>(const YAML::Node& v, const YamlContext& ctx, std::string_view what) {
  const int64_t x = to_int(v, ctx, what);
  if (x < INT32_MIN || x > INT32_MAX) type_fail(v, ctx, what, "a 32-bit integer");
  return static_cast<int>(x);
}
template <>
double as<double>(const YAML::Node& v, const YamlContext& ctx, std::string_view what) {
  return to_double(v, ctx, what);
}
template <>
float as<float>(const YAML::Node& v, const YamlContext& ctx, std::string_view what) {
  return static_cast<float>(to_double(v, ctx, what));
}
template <>
std::string as<std::string>(const YAML::Node& v, const YamlContext& ctx, std::string_view what) {
  if (!v.IsScalar()) type_fail(v, ctx, what, "a string");
  return v.Scalar();
}
template <>
std::vector<int64_t> as<std::vector<int64_t>>(const YAML::Node& v, const YamlContext& ctx,
                                              std::string_view what) {
  return to_list<int64_t>(v, ctx, what, "a list of integers", to_int);
}
template <>
std::vector<double> as<std::vector<double>>(const YAML::Node& v, const YamlContext& ctx,
                                            std::string_view what) {
  return to_list<double>(v, ctx, what, "a list of numbers", to_double);
}
template <>
std::vector<std::string> as<std::vector<std::string>>(const YAML::Node& v, const YamlContext& ctx,
                                                      std::string_view what) {
  return to_list<std::string>(v, ctx, what, "a list of strings", as<std::string>);
}

std::vector<int64_t> ints(const YAML::Node& v, size_t n, const YamlContext& ctx,
                          std::string_view what) {
  const std::string expected = "an integer or a list of " + std::to_string(n) + " integers";
  int64_t one = 0;
  if (v.IsScalar() && YAML::convert<int64_t>::decode(v, one)) return std::vector<int64_t>(n, one);
  if (!v.IsSequence() || v.size() != n) type_fail(v, ctx, what, expected);
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (!v[i].IsScalar() || !YAML::convert<int64_t>::decode(v[i], out[i]))
      type_fail(v, ctx, what, expected);
  }
  return out;
}

std::vector<int64_t> get_ints(const YAML::Node& map, std::string_view key, size_t n,
                              const YamlContext& ctx, std::vector<int64_t> default_value) {
  if (!has(map, key)) return default_value;
  return ints(map[std::string(key)], n, ctx, "key '" + std::string(key) + "'");
}

namespace {

// The line of the first indentation holding a tab (0 when none).
int first_tab_indent(const std::string& text) {
  int line = 1;
  bool at_indent = true, tab = false;
  for (char c : text) {
    if (c == '\n') {
      ++line;
      at_indent = true;
      tab = false;
    } else if (at_indent && (c == '\t' || c == ' ' || c == '\r')) {
      tab |= c == '\t';
    } else if (at_indent) {
      if (tab && c != '#') return line;
      at_indent = false;
    }
  }
  return 0;
}

}  // namespace

YAML::Node load(const std::string& text, const std::string& file) {
  if (const int line = first_tab_indent(text))
    throw IOError(file + ":" + std::to_string(line) + ": malformed YAML: a tab in the indentation (YAML indents "
                  "with spaces only)");
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw IOError(file + ":" + std::to_string(e.mark.line + 1) + ": malformed YAML: " + e.msg);
  }
  check_no_duplicate_keys(root, YamlContext{file});
  return root;
}

std::string one_of_value(const YAML::Node& node, const YamlContext& ctx, const std::vector<std::string_view>& names,
                         std::string_view what) {
  const std::string value = as<std::string>(node, ctx, "key '" + std::string(what) + "'");
  if (std::find(names.begin(), names.end(), value) != names.end()) return value;
  std::string msg = "unknown " + std::string(what) + " '" + value + "' (one of:";
  for (size_t i = 0; i < names.size(); ++i) msg += (i ? ", " : " ") + std::string(names[i]);
  msg += ")";
  const std::string hint = closest(value, names);
  if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
  fail(node, ctx, msg);
}

std::string one_of(const YAML::Node& map, std::string_view key, const YamlContext& ctx,
                   const std::vector<std::string_view>& names, std::string_view what, std::string default_value) {
  if (!has(map, key)) return default_value;
  const YAML::Node node = map[std::string(key)];
  if (key != what) as<std::string>(node, ctx, "key '" + std::string(key) + "'");  // names the key on a type error
  return one_of_value(node, ctx, names, what);
}

namespace {

// A copy of `node` whose nodes carry no position, so messages about an assignment's value
// name the assignment instead of a line it never had.
YAML::Node without_marks(const YAML::Node& node) {
  if (node.IsScalar()) {
    YAML::Node out(node.Scalar());
    out.SetTag(node.Tag());
    return out;
  }
  if (node.IsSequence()) {
    YAML::Node out(YAML::NodeType::Sequence);
    for (const auto& item : node) out.push_back(without_marks(item));
    return out;
  }
  if (node.IsMap()) {
    YAML::Node out(YAML::NodeType::Map);
    for (auto it = node.begin(); it != node.end(); ++it) out[it->first.Scalar()] = without_marks(it->second);
    return out;
  }
  return YAML::Node(YAML::NodeType::Null);
}

size_t list_index(const YAML::Node& list, const std::string& key, const Assignment& a) {
  size_t idx = 0;
  try {
    idx = std::stoul(key);
  } catch (...) {
    throw ValueError(a.what + ": '" + key + "' indexes a list; expected a number");
  }
  CNNKIT_CHECK(idx < list.size(), a.what, ": index ", idx, " is past the end of a list of ", list.size());
  return idx;
}

}  // namespace

Assignment parse_assignment(const std::string& assignment, std::string_view flag) {
  Assignment a;
  a.what = std::string(flag) + " " + assignment;
  const size_t eq = assignment.find('=');
  CNNKIT_CHECK(eq != std::string::npos && eq > 0, a.what, ": expected key.sub=value (e.g. optimizer.lr=0.1)");
  a.path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  std::stringstream ss(a.path);
  for (std::string k; std::getline(ss, k, '.');) {
    CNNKIT_CHECK(!k.empty(), a.what, ": empty key in '", a.path, "'");
    a.keys.push_back(k);
  }
  CNNKIT_CHECK(!a.keys.empty() && a.path.back() != '.', a.what, ": empty key in '", a.path, "'");
  CNNKIT_CHECK(text.find_first_not_of(" \t") != std::string::npos, a.what, ": empty value (to delete the key, write ",
               a.path, "=null)");
  try {
    a.value = without_marks(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    throw ValueError(a.what + ": the value is not valid YAML: " + e.msg);
  }
  return a;
}

void assign(YAML::Node& root, const Assignment& a) {
  CNNKIT_CHECK(root.IsMap() || root.IsNull(), a.what, ": the config is not a mapping");
  // Walk with fresh handles: yaml-cpp's operator= on a Node handle would overwrite the node
  // it refers to, not rebind the handle.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < a.keys.size(); ++i) {
    YAML::Node cur = chain.back();
    const std::string& k = a.keys[i];
    if (cur.IsSequence()) {
      chain.push_back(cur[list_index(cur, k, a)]);
      continue;
    }
    YAML::Node next = cur[k];
    if (!next.IsDefined() || next.IsNull()) {
      cur[k] = YAML::Node(YAML::NodeType::Map);
      next = cur[k];
    }
    CNNKIT_CHECK(next.IsMap() || next.IsSequence(), a.what, ": '", k, "' is a value (", describe(next),
                 "), not a section");
    chain.push_back(next);
  }
  YAML::Node parent = chain.back();
  const std::string& last = a.keys.back();
  if (a.value.IsNull()) {  // key=null (or ~) deletes the key: its default applies again
    CNNKIT_CHECK(parent.IsMap() && parent[last].IsDefined(), a.what, ": there is no key '", a.path, "' to delete");
    parent.remove(last);
  } else if (parent.IsSequence()) {
    parent[list_index(parent, last, a)] = a.value;
  } else {
    parent[last] = a.value;
  }
}

void check_value(bool ok, const YAML::Node& map, std::string_view key, const YamlContext& ctx,
                 std::string_view rule) {
  if (ok) return;
  const YAML::Node node = has(map, key) ? map[std::string(key)] : map;
  fail(node, ctx, "key '" + std::string(key) + "': must be " + std::string(rule) + ", got " + describe(node));
}

double positive(const YAML::Node& map, std::string_view key, const YamlContext& ctx, double default_value) {
  const double v = get<double>(map, key, ctx, default_value);
  check_value(v > 0 && std::isfinite(v), map, key, ctx, "> 0");
  return v;
}

double non_negative(const YAML::Node& map, std::string_view key, const YamlContext& ctx, double default_value) {
  const double v = get<double>(map, key, ctx, default_value);
  check_value(v >= 0 && std::isfinite(v), map, key, ctx, ">= 0");
  return v;
}

int64_t positive_int(const YAML::Node& map, std::string_view key, const YamlContext& ctx, int64_t default_value) {
  const int64_t v = get<int64_t>(map, key, ctx, default_value);
  check_value(v > 0, map, key, ctx, "> 0");
  return v;
}

int64_t non_negative_int(const YAML::Node& map, std::string_view key, const YamlContext& ctx,
                         int64_t default_value) {
  const int64_t v = get<int64_t>(map, key, ctx, default_value);
  check_value(v >= 0, map, key, ctx, ">= 0");
  return v;
}

YAML::Node num(double x) {
  if (std::isnan(x)) return YAML::Node(".nan");
  if (std::isinf(x)) return YAML::Node(x > 0 ? ".inf" : "-.inf");
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  std::string text(buf, r.ptr);
  // Keep it a float for readers that care (1 -> 1.0), unless it has an exponent.
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return YAML::Node(text);
}

}  // namespace cnnkit::io::yaml
