// NaN / +Inf / -Inf propagation against PyTorch on every case of
// tests/golden/data/nonfinite.safetensors (tools/golden/gen_nonfinite.py): activations,
// softmax / log_softmax, clamp, maximum / minimum, max / min / amax / amin and every pooling
// op, forward and backward. NaN must meet NaN and an infinity the same infinity, exactly;
// finite values within rtol 1e-5, atol 1e-6 (element-wise float math, sums of at most 9).
// Activation and pooling cases run again with the input held in a kept oneDNN layout
// (nChw8c and nChw16c, which the inputs' 2 to 4 channels leave channel padding in, and
// nhwc), the path a convolution's output takes, where oneDNN's own relu / clip / max pooling
// would drop NaN.
#include <gtest/gtest.h>

#include <iostream>
#include <sstream>

#include "cnnkit/autograd/grad_mode.h"
#include "kernels/onednn.h"
#include "cnnkit/ops/ops.h"
#include "core/tensor_internal.h"
#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

namespace dnn = kernels::onednn;

const Golden& golden() {
  static Golden g("nonfinite");
  return g;
}

const std::set<std::string> kActivations = {"relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu",
                                            "mish", "hardswish", "hardsigmoid", "hardtanh", "sigmoid",
                                            "tanh", "softplus", "prelu"};
const std::set<std::string> kPools = {"max_pool2d", "avg_pool2d", "adaptive_max_pool2d",
                                      "adaptive_avg_pool2d"};

// A copy of the 4-d float tensor x whose values live in a kept oneDNN layout (`tag`), as a
// oneDNN convolution leaves its output.
Tensor kept_copy(const Tensor& x, dnn::tag tag) {
  const dnnl::memory::dims d(x.sizes().begin(), x.sizes().end());
  auto layout = std::make_shared<dnn::Layout>(dnn::plain_desc(d, tag));
  dnn::reorder(dnn::wrap(dnn::plain_desc(d, dnn::tag::nchw), x.data_ptr<float>()), layout->memory());
  Tensor y = empty(x.sizes());
  detail::set_layout(*y.unsafeGetTensorImpl()->storage, layout);
  return y;
}

// Element-wise comparison in which non-finite values must match exactly: NaN where torch
// has NaN and nowhere else, +Inf / -Inf where torch has the same infinity; finite values
// within tol. (test::allclose lets an expected NaN or Inf pass against anything: its
// tolerance atol + rtol * |expected| is then NaN or Inf.) Returns the max abs difference over
// the finite positions, and records a failure naming the first mismatches.
double expect_same_values(const Tensor& got, const Tensor& want, Tolerance tol, const std::string& what) {
  if (!got.defined()) {
    ADD_FAILURE() << what << ": cnnkit gave no tensor; torch expects shape " << want.sizes();
    return INFINITY;
  }
  if (got.sizes() != want.sizes()) {
    ADD_FAILURE() << what << ": shape " << got.sizes() << " != torch's " << want.sizes();
    return INFINITY;
  }
  if (!want.is_floating_point()) {
    EXPECT_TRUE(equal(got, want)) << what << ": integer tensor differs from torch's";
    return 0;
  }
  const std::vector<float> a = got.to_vector(), e = want.to_vector();
  double max_diff = 0;
  int64_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < a.size(); ++i) {
    bool ok;
    if (std::isnan(e[i]) || std::isnan(a[i]) || std::isinf(e[i]) || std::isinf(a[i])) {
      ok = (std::isnan(e[i]) && std::isnan(a[i])) || a[i] == e[i];
    } else {
      const double d = std::fabs(static_cast<double>(a[i]) - e[i]);
      max_diff = std::max(max_diff, d);
      ok = d <= tol.atol + tol.rtol * std::fabs(e[i]);
    }
    if (!ok && bad++ < 5)
      first << " " << index_str(want.sizes(), static_cast<int64_t>(i)) << ": got " << a[i] << ", torch " << e[i] << ";";
  }
  if (bad) ADD_FAILURE() << what << ": " << bad << " of " << a.size() << " elements differ from torch:" << first.str();
  return max_diff;
}

std::vector<int64_t> ints(const nlohmann::json& v) {
  if (v.is_array()) return v.get<std::vector<int64_t>>();
  return {v.get<int64_t>()};
}

// The op's outputs: values and, for the index-returning ops, indices.
struct Outputs {
  Tensor out;
  Tensor indices = {};
};

Outputs run_op(const nlohmann::json& o, const std::vector<Tensor>& x, const Tensor& weight, bool with_indices) {
  const std::string op = o.at("op").get<std::string>();
  auto num = [&](const char* k) { return o.at(k).get<double>(); };
  if (op == "relu") return {relu(x[0])};
  if (op == "relu6") return {relu6(x[0])};
  if (op == "leaky_relu") return {leaky_relu(x[0], num("negative_slope"))};
  if (op == "elu") return {elu(x[0], num("alpha"))};
  if (op == "selu") return {selu(x[0])};
  if (op == "gelu") return {gelu(x[0], o.at("approximate").get<std::string>())};
  if (op == "silu") return {silu(x[0])};
  if (op == "mish") return {mish(x[0])};
  if (op == "hardswish") return {hardswish(x[0])};
  if (op == "hardsigmoid") return {hardsigmoid(x[0])};
  if (op == "hardtanh") return {hardtanh(x[0], num("min_val"), num("max_val"))};
  if (op == "sigmoid") return {sigmoid(x[0])};
  if (op == "tanh") return {cnnkit::tanh(x[0])};
  if (op == "softplus") return {softplus(x[0], num("beta"), num("threshold"))};
  if (op == "prelu") return {prelu(x[0], weight)};
  if (op == "softmax") return {softmax(x[0], o.at("dim").get<int64_t>())};
  if (op == "log_softmax") return {log_softmax(x[0], o.at("dim").get<int64_t>())};
  if (op == "clamp") {
    std::optional<double> lo, hi;
    if (o.contains("min")) lo = num("min");
    if (o.contains("max")) hi = num("max");
    if (lo && !hi) return {clamp_min(x[0], *lo)};
    if (hi && !lo) return {clamp_max(x[0], *hi)};
    return {clamp(x[0], lo, hi)};
  }
  if (op == "maximum") return {maximum(x[0], x[1])};
  if (op == "minimum") return {minimum(x[0], x[1])};
  if (op == "max" || op == "min") {
    const bool is_max = op == "max";
    if (!o.contains("dim")) return {is_max ? cnnkit::max(x[0]) : cnnkit::min(x[0])};
    auto [v, i] = is_max ? cnnkit::max(x[0], o.at("dim").get<int64_t>()) : cnnkit::min(x[0], o.at("dim").get<int64_t>());
    return {v, i};
  }
  if (op == "amax") return {amax(x[0], ints(o.at("dim")))};
  if (op == "amin") return {amin(x[0], ints(o.at("dim")))};
  if (op == "max_pool2d") {
    const std::vector<int64_t> k = ints(o.at("kernel_size"));
    const std::vector<int64_t> s = o.at("stride").is_null() ? std::vector<int64_t>{} : ints(o.at("stride"));
    const std::vector<int64_t> p = ints(o.at("padding")), d = ints(o.at("dilation"));
    const bool ceil = o.at("ceil_mode").get<bool>();
    if (with_indices) {
      auto [v, i] = max_pool2d_with_indices(x[0], k, s, p, d, ceil);
      return {v, i};
    }
    return {max_pool2d(x[0], k, s, p, d, ceil)};
  }
  if (op == "avg_pool2d") {
    const std::vector<int64_t> s = o.at("stride").is_null() ? std::vector<int64_t>{} : ints(o.at("stride"));
    return {avg_pool2d(x[0], ints(o.at("kernel_size")), s, ints(o.at("padding")), o.at("ceil_mode").get<bool>(),
                       o.at("count_include_pad").get<bool>())};
  }
  if (op == "adaptive_avg_pool2d") return {adaptive_avg_pool2d(x[0], ints(o.at("output_size")))};
  if (op == "adaptive_max_pool2d") {
    auto [v, i] = adaptive_max_pool2d(x[0], ints(o.at("output_size")));
    return {v, i};
  }
  throw std::runtime_error("nonfinite golden: unknown op " + op);
}

// One parameter per case and layout: "relu" runs on plain tensors, "relu@nChw8c" on a kept
// copy of the input in that layout. max_pool2d also runs as max_pool2d_with_indices
// ("@indices"): with indices it always takes the loops, without them a kept input goes to
// the oneDNN-layout path.
std::vector<std::string> params() {
  std::vector<std::string> out;
  for (const std::string& c : golden_cases("nonfinite")) {
    out.push_back(c);
    if (c == "__load_error__") continue;
    const nlohmann::json o = golden().options(c);
    const std::string op = o.at("op").get<std::string>();
    if (op == "max_pool2d") out.push_back(c + "@indices");
    if ((kActivations.count(op) || kPools.count(op)) && o.at("input_shape").size() == 4)
      for (const char* l : {"nChw8c", "nChw16c", "nhwc"}) out.push_back(c + "@" + l);
  }
  return out;
}

class NonfiniteGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(NonfiniteGolden, MatchesTorch) {
  const std::string param = GetParam();
  const size_t at = param.find('@');
  const std::string c = param.substr(0, at), variant = at == std::string::npos ? "" : param.substr(at + 1);
  const Golden& g = golden();
  const nlohmann::json o = g.options(c);
  const Tolerance tol{1e-5, 1e-6};

  std::vector<Tensor> leaves, x;
  for (const char* name : {"input", "input2"}) {
    if (!g.has(c, name)) continue;
    Tensor t = g.get(c, name);
    if (variant == "nChw8c" || variant == "nChw16c" || variant == "nhwc") {
      t = kept_copy(t, variant == "nChw8c" ? dnn::tag::nChw8c : variant == "nChw16c" ? dnn::tag::nChw16c : dnn::tag::nhwc);
      ASSERT_NE(dnn::layout_of(*t.unsafeGetTensorImpl()), nullptr) << "the test's kept copy is not a kept layout";
    }
    t.set_requires_grad(t.is_floating_point());
    leaves.push_back(t);
    x.push_back(t);
  }
  Tensor weight;
  if (g.has(c, "weight")) weight = g.get(c, "weight").set_requires_grad(true);

  const bool with_indices = variant == "indices" || o.at("op") != "max_pool2d";
  Outputs r = run_op(o, x, weight, with_indices);
  std::ostringstream log;
  log << "[golden] " << param << ": out " << expect_same_values(r.out, g.get(c, "out"), tol, param + "/out");
  if (g.has(c, "indices") && with_indices)
    log << ", indices " << expect_same_values(r.indices, g.get(c, "indices"), tol, param + "/indices");
  ASSERT_TRUE(r.out.requires_grad());
  r.out.backward(g.get(c, "grad_out"));
  for (size_t i = 0; i < leaves.size(); ++i) {
    const std::string what = i == 0 ? "grad_input" : "grad_input2";
    log << ", " << what << " " << expect_same_values(leaves[i].grad(), g.get(c, what), tol, param + "/" + what);
  }
  if (weight.defined())
    log << ", grad.weight " << expect_same_values(weight.grad(), g.get(c, "grad.weight"), tol, param + "/grad.weight");
  std::cout << log.str() << "\n";
}

INSTANTIATE_TEST_SUITE_P(Torch, NonfiniteGolden, ::testing::ValuesIn(params()), case_test_name);

// The in-place forms write the same values as the ops (relu_ used to go through oneDNN's
// relu, which maps NaN to 0).
TEST(NonfiniteGolden, InPlaceActivationsPropagateLikeTorch) {
  const Golden& g = golden();
  for (const std::string c : {"relu", "sigmoid", "tanh", "clamp_-2_2", "clamp_min_0.5", "clamp_max_0.5"}) {
    const nlohmann::json o = g.options(c);
    Tensor x = g.get(c, "input");
    NoGradGuard no_grad;
    if (c == "relu") x.relu_();
    else if (c == "sigmoid") x.sigmoid_();
    else if (c == "tanh") x.tanh_();
    else if (o.contains("min") && o.contains("max")) x.clamp_(o.at("min").get<double>(), o.at("max").get<double>());
    else if (o.contains("min")) x.clamp_min_(o.at("min").get<double>());
    else x.clamp_max_(o.at("max").get<double>());
    expect_same_values(x, g.get(c, "out"), {1e-5, 1e-6}, c + " in place");
  }
}

TEST(NonfiniteGolden, FileRecordsGeneratorAndTorchVersion) {
  const auto& meta = golden().metadata();
  ASSERT_TRUE(meta.count("generator"));
  EXPECT_EQ(meta.at("generator"), "tools/golden/gen_nonfinite.py");
  ASSERT_TRUE(meta.count("torch_version"));
  EXPECT_EQ(meta.at("torch_version").rfind("1.13", 0), 0u) << meta.at("torch_version");
}

}  // namespace
