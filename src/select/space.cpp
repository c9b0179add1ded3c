// Search parameters: parsing --space / --grid arguments, drawing values, grid and random
// trials. Values stay strings end to end; no config is read here (train::Run applies them).
#include "cnnkit/select/space.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "cnnkit/core/error.h"

namespace cnnkit::model_selection {

namespace {

using Kind = SearchParam::Kind;

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Shortest decimal form that reads back to the same double.
std::string format_double(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// Splits at commas that are not inside (), [], {} or quotes.
std::vector<std::string> split_values(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  char quote = 0;
  for (char c : s) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      --depth;
    } else if (c == ',' && depth == 0) {
      out.push_back(trim(cur));
      cur.clear();
      continue;
    }
    cur += c;
  }
  out.push_back(trim(cur));
  return out;
}

// "key=rest" -> (key, rest); `what` is "--space <arg>" for messages.
std::pair<std::string, std::string> split_key(const std::string& arg, const std::string& what,
                                              const char* example) {
  size_t eq = arg.find('=');
  CNNKIT_CHECK(eq != std::string::npos, what, ": expected key=", example);
  std::string key = trim(arg.substr(0, eq));
  CNNKIT_CHECK(!key.empty() && key.find_first_of(" \t") == std::string::npos, what,
               ": the key before '=' must be a config key such as optimizer.lr, got '", key, "'");
  return {key, trim(arg.substr(eq + 1))};
}

std::vector<std::string> checked_values(const std::string& text, const std::string& what) {
  std::vector<std::string> values = split_values(text);
  std::set<std::string> seen;
  for (const auto& v : values) {
    CNNKIT_CHECK(!v.empty(), what, ": an empty value (two commas in a row, or one at an end)");
    CNNKIT_CHECK(seen.insert(v).second, what, ": the value ", v, " is listed twice");
  }
  return values;
}

double number(const std::string& text, const std::string& what, const std::string& dist) {
  double v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  CNNKIT_CHECK(r.ec == std::errc() && r.ptr == text.data() + text.size() && std::isfinite(v), what, ": ", dist,
               " needs numbers, got '", text, "'");
  return v;
}

int64_t whole(const std::string& text, const std::string& what) {
  int64_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  CNNKIT_CHECK(r.ec == std::errc() && r.ptr == text.data() + text.size(), what, ": int needs integers, got '", text,
               "'");
  return v;
}

// Parameters sorted by key; ValueError if a key repeats.
std::vector<const SearchParam*> by_key(const std::vector<SearchParam>& params, const char* fn) {
  std::vector<const SearchParam*> out;
  for (const auto& p : params) out.push_back(&p);
  std::stable_sort(out.begin(), out.end(), [](const SearchParam* a, const SearchParam* b) { return a->key < b->key; });
  for (size_t i = 1; i < out.size(); ++i)
    CNNKIT_CHECK(out[i]->key != out[i - 1]->key, fn, ": the key ", out[i]->key, " is given twice (",
                 out[i - 1]->to_string(), " and ", out[i]->to_string(), ")");
  return out;
}

}  // namespace

SearchParam SearchParam::loguniform(std::string key, double a, double b) {
  CNNKIT_CHECK(a > 0 && b > a && std::isfinite(b), key, "=loguniform(", format_double(a), ",", format_double(b),
               "): loguniform needs 0 < a < b");
  return SearchParam{std::move(key), Kind::kLogUniform, a, b, {}};
}

SearchParam SearchParam::uniform(std::string key, double a, double b) {
  CNNKIT_CHECK(std::isfinite(a) && std::isfinite(b) && a < b, key, "=uniform(", format_double(a), ",",
               format_double(b), "): uniform needs a < b");
  return SearchParam{std::move(key), Kind::kUniform, a, b, {}};
}

SearchParam SearchParam::integer(std::string key, int64_t a, int64_t b) {
  CNNKIT_CHECK(a <= b && b < INT64_MAX, key, "=int(", a, ",", b, "): int needs integers a <= b");
  return SearchParam{std::move(key), Kind::kInt, static_cast<double>(a), static_cast<double>(b), {}};
}

SearchParam SearchParam::choice(std::string key, std::vector<std::string> values) {
  CNNKIT_CHECK(!values.empty(), key, "=choice(): choice needs at least one value");
  return SearchParam{std::move(key), Kind::kChoice, 0, 0, std::move(values)};
}

std::string SearchParam::sample(Generator& gen) const {
  switch (kind) {
    case Kind::kLogUniform: {
      double v = std::exp(std::log(low) + gen.uniform_double() * (std::log(high) - std::log(low)));
      return format_double(std::clamp(v, low, high));  // exp/log rounding may step just outside
    }
    case Kind::kUniform:
      return format_double(std::min(low + gen.uniform_double() * (high - low), high));
    case Kind::kInt:
      return std::to_string(gen.randint(static_cast<int64_t>(low), static_cast<int64_t>(high) + 1));
    case Kind::kChoice:
      break;
  }
  return values[static_cast<size_t>(gen.randint(0, static_cast<int64_t>(values.size())))];
}

std::string SearchParam::to_string() const {
  std::string args;
  if (kind == Kind::kChoice) {
    for (const auto& v : values) args += (args.empty() ? "" : ",") + v;
  } else if (kind == Kind::kInt) {
    args = std::to_string(static_cast<int64_t>(low)) + "," + std::to_string(static_cast<int64_t>(high));
  } else {
    args = format_double(low) + "," + format_double(high);
  }
  const char* name = kind == Kind::kLogUniform ? "loguniform" : kind == Kind::kUniform ? "uniform"
                     : kind == Kind::kInt      ? "int"
                                               : "choice";
  return key + "=" + name + "(" + args + ")";
}

SearchParam parse_space(const std::string& arg) {
  const std::string what = "--space " + arg;
  auto [key, dist] = split_key(arg, what, "distribution, e.g. optimizer.lr=loguniform(1e-4,1e-1)");
  size_t open = dist.find('(');
  CNNKIT_CHECK(open != std::string::npos && dist.back() == ')', what,
               ": expected loguniform(a,b), uniform(a,b), int(a,b) or choice(v1,v2,...) after '='");
  std::string name = trim(dist.substr(0, open)), inside = dist.substr(open + 1, dist.size() - open - 2);
  if (name == "choice") return SearchParam::choice(key, checked_values(inside, what));
  CNNKIT_CHECK(name == "loguniform" || name == "uniform" || name == "int", what, ": unknown distribution '", name,
               "' (loguniform, uniform, int, choice)");
  std::vector<std::string> args = split_values(inside);
  CNNKIT_CHECK(args.size() == 2, what, ": ", name, " takes two bounds (a,b), got ", args.size(), " arguments");
  int64_t ia = 0, ib = 0;
  double a = 0, b = 0;
  if (name == "int") {
    ia = whole(args[0], what), ib = whole(args[1], what);
  } else {
    a = number(args[0], what, name), b = number(args[1], what, name);
  }
  try {
    return name == "int" ? SearchParam::integer(key, ia, ib)
           : name == "uniform" ? SearchParam::uniform(key, a, b)
                               : SearchParam::loguniform(key, a, b);
  } catch (const ValueError& e) {
    // The factory's message shows key=dist(a,b) with the bounds reprinted: name the argument as typed.
    std::string m = e.what();
    throw ValueError(what + m.substr(m.find("): ") + 1));
  }
}

SearchParam parse_grid(const std::string& arg) {
  const std::string what = "--grid " + arg;
  auto [key, list] = split_key(arg, what, "v1,v2,..., e.g. data.batch_size=32,64");
  return SearchParam::choice(key, checked_values(list, what));
}

std::vector<Trial> grid_trials(const std::vector<SearchParam>& grid) {
  std::vector<const SearchParam*> params = by_key(grid, "grid_trials");
  for (const auto* p : params)
    CNNKIT_CHECK(p->kind == Kind::kChoice, "grid_trials: ", p->to_string(),
                 " is a distribution; a grid takes lists of values (key=v1,v2,...)");
  std::vector<Trial> trials(1);
  for (const auto* p : params) {  // each key multiplies the trials so far: the last key varies fastest
    std::vector<Trial> next;
    for (const auto& t : trials)
      for (const auto& v : p->values) {
        next.push_back(t);
        next.back().params.emplace_back(p->key, v);
      }
    trials = std::move(next);
  }
  for (size_t i = 0; i < trials.size(); ++i) trials[i].id = static_cast<int64_t>(i);
  return trials;
}

std::vector<Trial> random_trials(const std::vector<SearchParam>& space, int64_t n, uint64_t seed) {
  CNNKIT_CHECK(n >= 0, "random_trials: n (the number of trials) must be >= 0, got ", n);
  std::vector<const SearchParam*> params = by_key(space, "random_trials");
  std::vector<Trial> trials(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    Generator gen(mix64(mix64(seed) ^ static_cast<uint64_t>(i)));
    trials[i].id = i;
    for (const auto* p : params) trials[i].params.emplace_back(p->key, p->sample(gen));
  }
  return trials;
}

std::vector<std::string> to_overrides(const Trial& trial) {
  std::vector<std::string> out;
  for (const auto& [key, value] : trial.params) out.push_back(key + "=" + value);
  return out;
}

}  // namespace cnnkit::model_selection
