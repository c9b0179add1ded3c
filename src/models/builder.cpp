// Builds models from the `model:` section of a YAML config (a zoo name or a list of
// layers), and the strict YAML reading helpers of models/yaml_util.h that every config
// section uses. It checks names, arguments and types; it does not train or load weights.
#include "cnnkit/models/yaml_util.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <string>
#include <vector>

#include "cnnkit/core/error.h"

namespace cnnkit::models {

// ---------------------------------------------------------------------------------------
// YAML helpers
// ---------------------------------------------------------------------------------------

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
  throw ValueError(where(node, ctx) + ": " + std::string(message));
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  YAML::Emitter out;
  out << YAML::Flow << node;
  std::string text = out.c_str();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return (node.IsSequence() ? "a list " : "a mapping ") + text;
}

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (same ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string join(const std::vector<std::string_view>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i) out += ", ";
    out += words[i];
  }
  return out;
}

}  // namespace

std::string closest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_d = static_cast<size_t>(-1);
  for (std::string_view c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  // Close enough: a third of the longer word, at least 1 and at most 3 edits. A candidate
  // that starts with the word (or the reverse) also counts: "lr" for "lr_rate".
  const size_t limit = std::clamp<size_t>(std::max(word.size(), best.size()) / 3, 1, 3);
  if (best_d <= limit) return std::string(best);
  for (std::string_view c : candidates)
    if (word.size() >= 2 && c.size() >= 2 && (c.rfind(word, 0) == 0 || word.rfind(c, 0) == 0))
      return std::string(c);
  return "";
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
                      join(allowed) + ")";
    const std::string hint = closest(name, allowed);
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

}  // namespace cnnkit::models
