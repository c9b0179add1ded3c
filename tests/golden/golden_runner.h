// The one loop every golden test runs: build the cnnkit module from a case's options, load
// the golden state dict, run forward and backward with the golden upstream gradient, and
// compare output, input gradient, every parameter gradient and every buffer after the step
// with PyTorch's numbers (tools/golden/golden_common.py writes them). Prints one line per
// case with the max abs diffs, so tolerances can be judged from the log.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "cnnkit/models/layers.h"
#include "cnnkit/nn/module.h"
#include "test_util.h"

namespace cnnkit::test {

// A module and how to call it: built modules keep their concrete forward signatures.
struct GoldenModule {
  std::shared_ptr<nn::Module> module;
  std::function<Tensor(const Tensor&)> forward;
};

template <typename Holder>
GoldenModule wrap(Holder holder) {
  return GoldenModule{holder.ptr(), [holder](const Tensor& x) mutable { return holder(x); }};
}

// A golden case's options (PyTorch's argument names, as tools/golden/*.py write them) as a
// layer's arguments for the layer table of models/layers.h, so that goldens build their
// modules the way configs do. The runner's own keys (module, input_shape, train) are
// skipped; any other key the layer's entry does not list fails.
class JsonArgs final : public models::LayerArgs {
 public:
  JsonArgs(const nlohmann::json& o, const models::LayerSpec& spec)
      : LayerArgs("golden layer (" + spec.name + ")"), o_(o) {
    for (const auto& [key, value] : o.items())
      if (key != "module" && key != "input_shape" && key != "train" &&
          std::find(spec.keys.begin(), spec.keys.end(), key) == spec.keys.end())
        fail(key, "'" + key + "' is not an argument of " + spec.name + " in the layer table");
  }
  bool has(std::string_view key) const override { return o_.contains(std::string(key)) && !at(key).is_null(); }
  bool is_null(std::string_view key) const override { return o_.contains(std::string(key)) && at(key).is_null(); }
  int64_t integer(std::string_view key) const override { return at(key).get<int64_t>(); }
  double number(std::string_view key) const override { return at(key).get<double>(); }
  bool boolean(std::string_view key) const override { return at(key).get<bool>(); }
  std::string text(std::string_view key) const override { return at(key).get<std::string>(); }
  bool is_text(std::string_view key) const override { return at(key).is_string(); }
  std::vector<int64_t> ints(std::string_view key, size_t n) const override {
    if (at(key).is_array()) return at(key).get<std::vector<int64_t>>();
    return std::vector<int64_t>(n, integer(key));
  }
  std::vector<int64_t> int_list(std::string_view key) const override { return ints(key, 1); }
  std::vector<double> numbers(std::string_view key) const override {
    if (at(key).is_array()) return at(key).get<std::vector<double>>();
    return {number(key)};
  }
  std::vector<std::optional<int64_t>> optional_ints(std::string_view key, size_t n) const override {
    if (!at(key).is_array()) return std::vector<std::optional<int64_t>>(n, integer(key));
    std::vector<std::optional<int64_t>> out;
    for (const auto& v : at(key)) out.push_back(v.is_null() ? std::nullopt : std::optional<int64_t>(v.get<int64_t>()));
    return out;
  }
  void raise(std::string_view key, const std::string& message) const override {
    throw ValueError(layer + ": " + std::string(key) + ": " + message);
  }

 private:
  const nlohmann::json& at(std::string_view key) const { return o_.at(std::string(key)); }
  const nlohmann::json& o_;
};

// The case's module, by its PyTorch class name ("module": "LeakyReLU"), made by the layer
// table from the case's options.
inline GoldenModule build_layer(const nlohmann::json& o) {
  const std::string name = o.at("module").get<std::string>();
  const models::LayerSpec* spec = models::find_layer(name);
  if (!spec) throw std::runtime_error("golden: '" + name + "' is not in the layer table (models/layers.h)");
  nn::AnyModule m = spec->make(JsonArgs(o, *spec));
  return GoldenModule{m.ptr(), [m](const Tensor& x) mutable { return m.forward(x); }};
}

struct Tolerance {
  double rtol;
  double atol;
};

// Names of a family's cases for INSTANTIATE_TEST_SUITE_P; a file that does not load gives
// one case, "__load_error__", whose test fails with the loader's message.
inline std::vector<std::string> golden_cases(const std::string& family) {
  try {
    return Golden(family).cases();
  } catch (const std::exception&) {
    return {"__load_error__"};
  }
}

// gtest parameter names must be [A-Za-z0-9_]: "leaky_relu_0.2" -> "leaky_relu_0_2".
inline std::string case_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

inline Tensor zeros_shaped(IntArrayRef sizes) {
  Tensor t = cnnkit::empty(sizes);
  if (t.nbytes()) std::memset(t.data_ptr(), 0, t.nbytes());
  return t;
}

inline bool all_zero(const Tensor& t) {
  for (float v : t.to_vector())
    if (v != 0.0f) return false;
  return true;
}

// Compares a float tensor within tol, or an integer one exactly; returns the max abs diff.
inline double expect_matches(const Tensor& got, const Tensor& want, Tolerance tol, const std::string& what) {
  if (!got.defined()) {
    ADD_FAILURE() << what << ": cnnkit gave no tensor (undefined); torch expects shape " << want.sizes();
    return INFINITY;
  }
  if (want.is_floating_point()) {
    EXPECT_TRUE(allclose(got, want, tol.rtol, tol.atol, what));
  } else {
    EXPECT_TRUE(allclose(got, want, 0, 0, what)) << " (integer tensor: must match exactly)";
  }
  return got.sizes() == want.sizes() ? max_abs_diff(got, want) : INFINITY;
}

// Loads the case's state dict into `m`, runs it and checks everything torch recorded.
inline void run_golden_case(const Golden& g, const std::string& c, GoldenModule m, Tolerance tol) {
  nlohmann::json opts = g.options(c);
  m.module->train(opts.value("train", true));

  std::map<std::string, Tensor> sd;
  for (auto& [k, v] : g.state_dict(c)) sd.emplace(k, v);
  m.module->load_state_dict(sd, /*strict=*/true);

  Tensor x = g.get(c, "input");
  x.set_requires_grad(true);
  Tensor out = m.forward(x);
  std::ostringstream log;
  log << "[golden] " << c << ": out " << expect_matches(out, g.get(c, "out"), tol, c + "/out");
  if (!out.defined()) return;

  // An output that does not require grad is only right where torch's gradients are all
  // zero; the checks below then fail on any non-zero one.
  if (g.has(c, "grad_out") && out.requires_grad()) out.backward(g.get(c, "grad_out"));

  if (g.has(c, "grad_input")) {
    Tensor want = g.get(c, "grad_input");
    Tensor got = x.grad();
    if (!got.defined() && all_zero(want)) got = zeros_shaped(want.sizes());  // torch stored zeros for None
    log << ", grad_input " << expect_matches(got, want, tol, c + "/grad_input");
  }

  std::set<std::string> checked;
  for (const auto& item : m.module->named_parameters()) {
    const std::string& name = item.key();
    if (!g.has(c, "grad." + name)) {
      ADD_FAILURE() << c << ": cnnkit parameter '" << name << "' has no torch gradient grad." << name;
      continue;
    }
    Tensor want = g.get(c, "grad." + name);
    Tensor got = item.value().grad();
    if (!got.defined() && all_zero(want)) got = zeros_shaped(want.sizes());
    log << ", grad." << name << " " << expect_matches(got, want, tol, c + "/grad." + name);
    checked.insert(name);
  }
  for (const std::string& name : g.names(c, "grad."))
    if (!checked.count(name)) ADD_FAILURE() << c << ": torch has a gradient for '" << name
                                            << "' but the cnnkit module has no such parameter";

  auto buffers = m.module->named_buffers();
  for (const std::string& name : g.names(c, "after.")) {
    const Tensor* got = buffers.find(name);
    if (!got) {
      ADD_FAILURE() << c << ": torch has buffer '" << name << "' but the cnnkit module does not";
      continue;
    }
    log << ", after." << name << " " << expect_matches(*got, g.get(c, "after." + name), tol, c + "/after." + name);
  }
  std::cout << log.str() << "\n";
}

}  // namespace cnnkit::test
