// Every optimiser against PyTorch 1.13 on tests/golden/data/optim.safetensors
// (tools/golden/gen_optim.py): a Linear(4, 3) -> Tanh -> Linear(3, 2) model trained 50 steps
// with loss mean((out - y)^2), computed here from the same weights and data. Compares the
// parameters after steps 1, 2, 3, 5, 10, 20, 50, every step's loss, the clip_grad_norm_ total
// norms, and the optimiser's state after step 50 under PyTorch's names.
// Tolerance rtol 1e-5, atol 1e-6 (float32; PyTorch's vectorised kernels use FMA, cnnkit's
// loops do not, so the last bit differs and 50 steps accumulate a few ulps). The optimiser
// states get atol 1e-5: RMSprop's momentum buffer sums g / sqrt(avg) and amplifies float32
// noise in small gradients (torch's own float32 run is 3.5e-6 from its float64 run there).
#include "cnnkit/nn/functional.h"
#include "cnnkit/nn/utils/clip_grad.h"
#include "cnnkit/optim/optim.h"

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

const char* const kNames[] = {"0.weight", "0.bias", "2.weight", "2.bias"};

const Golden& golden() {
  static Golden g("optim");
  return g;
}

optim::SGDOptions sgd_options(const nlohmann::json& o, optim::SGDOptions s) {
  if (o.contains("lr")) s.lr(o["lr"].get<double>());
  if (o.contains("momentum")) s.momentum(o["momentum"].get<double>());
  if (o.contains("dampening")) s.dampening(o["dampening"].get<double>());
  if (o.contains("weight_decay")) s.weight_decay(o["weight_decay"].get<double>());
  if (o.contains("nesterov")) s.nesterov(o["nesterov"].get<bool>());
  return s;
}

template <typename Options>
Options adam_options(const nlohmann::json& o, Options s) {
  if (o.contains("lr")) s.lr(o["lr"].get<double>());
  if (o.contains("betas")) s.betas(std::make_tuple(o["betas"][0].get<double>(), o["betas"][1].get<double>()));
  if (o.contains("eps")) s.eps(o["eps"].get<double>());
  if (o.contains("weight_decay")) s.weight_decay(o["weight_decay"].get<double>());
  if (o.contains("amsgrad")) s.amsgrad(o["amsgrad"].get<bool>());
  return s;
}

optim::AdagradOptions adagrad_options(const nlohmann::json& o, optim::AdagradOptions s) {
  if (o.contains("lr")) s.lr(o["lr"].get<double>());
  if (o.contains("lr_decay")) s.lr_decay(o["lr_decay"].get<double>());
  if (o.contains("weight_decay")) s.weight_decay(o["weight_decay"].get<double>());
  if (o.contains("initial_accumulator_value"))
    s.initial_accumulator_value(o["initial_accumulator_value"].get<double>());
  if (o.contains("eps")) s.eps(o["eps"].get<double>());
  return s;
}

optim::RMSpropOptions rmsprop_options(const nlohmann::json& o, optim::RMSpropOptions s) {
  if (o.contains("lr")) s.lr(o["lr"].get<double>());
  if (o.contains("alpha")) s.alpha(o["alpha"].get<double>());
  if (o.contains("eps")) s.eps(o["eps"].get<double>());
  if (o.contains("weight_decay")) s.weight_decay(o["weight_decay"].get<double>());
  if (o.contains("momentum")) s.momentum(o["momentum"].get<double>());
  if (o.contains("centered")) s.centered(o["centered"].get<bool>());
  return s;
}

// The parameter groups as PyTorch built them: group options override the defaults.
template <typename Options, typename Parse>
std::vector<optim::OptimizerParamGroup> groups_of(const nlohmann::json& c, const std::vector<Tensor>& params,
                                                  const Options& defaults, Parse parse) {
  if (!c.contains("groups")) return {optim::OptimizerParamGroup(params)};
  std::vector<optim::OptimizerParamGroup> out;
  for (const auto& gr : c["groups"]) {
    std::vector<Tensor> ps(params.begin() + gr["begin"].get<int>(), params.begin() + gr["end"].get<int>());
    out.emplace_back(ps, std::make_unique<Options>(parse(gr["options"], defaults)));
  }
  return out;
}

std::unique_ptr<optim::Optimizer> build(const nlohmann::json& c, const std::vector<Tensor>& params) {
  std::string kind = c["optimizer"];
  const auto& d = c["defaults"];
  if (kind == "SGD") {
    auto defaults = sgd_options(d, optim::SGDOptions(0));
    return std::make_unique<optim::SGD>(groups_of(c, params, defaults, sgd_options), defaults);
  }
  if (kind == "Adam") {
    auto parse = [](const nlohmann::json& o, optim::AdamOptions s) { return adam_options(o, s); };
    auto defaults = parse(d, optim::AdamOptions());
    return std::make_unique<optim::Adam>(groups_of(c, params, defaults, parse), defaults);
  }
  if (kind == "AdamW") {
    auto parse = [](const nlohmann::json& o, optim::AdamWOptions s) { return adam_options(o, s); };
    auto defaults = parse(d, optim::AdamWOptions());
    return std::make_unique<optim::AdamW>(groups_of(c, params, defaults, parse), defaults);
  }
  if (kind == "Adagrad") {
    auto defaults = adagrad_options(d, optim::AdagradOptions());
    return std::make_unique<optim::Adagrad>(groups_of(c, params, defaults, adagrad_options), defaults);
  }
  if (kind == "RMSprop") {
    auto defaults = rmsprop_options(d, optim::RMSpropOptions());
    return std::make_unique<optim::RMSprop>(groups_of(c, params, defaults, rmsprop_options), defaults);
  }
  throw std::runtime_error("optim golden: unknown optimizer " + kind);
}

Tensor loss_of(const std::vector<Tensor>& p, const Tensor& x, const Tensor& y) {
  Tensor h = nn::functional::linear(x, p[0], p[1]).tanh();
  Tensor out = nn::functional::linear(h, p[2], p[3]);
  return (out - y).pow(2).mean();
}

class OptimGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(OptimGolden, TrajectoryMatchesTorch) {
  const Golden& g = golden();
  const std::string& c = GetParam();
  nlohmann::json o = g.options(c);
  const Tolerance tol{1e-5, 1e-6};

  std::vector<Tensor> params;
  for (const char* n : kNames) params.push_back(g.get(c, std::string("init.") + n).set_requires_grad(true));
  Tensor x = g.get(c, "x"), y = g.get(c, "y");
  auto opt = build(o, params);
  std::vector<int> record = o["record"].get<std::vector<int>>();

  std::vector<float> losses, norms;
  double worst = 0;
  for (int step = 1; step <= 50; ++step) {
    opt->zero_grad();
    Tensor loss = loss_of(params, x, y);
    loss.backward();
    losses.push_back(loss.item<float>());
    if (o.contains("clip")) {
      const auto& clip = o["clip"];
      double norm_type = clip["norm_type"].is_string() ? INFINITY : clip["norm_type"].get<double>();
      norms.push_back(static_cast<float>(nn::utils::clip_grad_norm_(params, clip["max_norm"].get<double>(), norm_type)));
    }
    opt->step();
    if (std::find(record.begin(), record.end(), step) == record.end()) continue;
    for (size_t i = 0; i < params.size(); ++i) {
      std::string what = "step" + std::to_string(step) + "." + kNames[i];
      worst = std::max(worst, expect_matches(params[i], g.get(c, what), tol, c + "/" + what));
    }
  }
  EXPECT_TRUE(allclose(lit(losses, {50}), g.get(c, "losses"), tol.rtol, tol.atol, c + "/losses"));
  if (g.has(c, "norms")) {
    EXPECT_TRUE(allclose(lit(norms, {50}), g.get(c, "norms"), tol.rtol, tol.atol, c + "/norms"));
  }

  // The state after 50 steps, by PyTorch's state_dict names.
  optim::StateDict sd = opt->state_dict();
  std::set<std::string> torch_keys;
  for (const std::string& k : g.names(c, "state.")) {
    torch_keys.insert("state." + k);
    auto it = sd.tensors.find("state." + k);
    if (it == sd.tensors.end()) {
      ADD_FAILURE() << c << ": cnnkit's state dict has no '" << "state." << k << "'";
      continue;
    }
    worst = std::max(worst, expect_matches(it->second, g.get(c, "state." + k), {tol.rtol, 1e-5}, c + "/state." + k));
  }
  for (const auto& [k, t] : sd.tensors)
    EXPECT_TRUE(torch_keys.count(k)) << c << ": cnnkit has state '" << k << "' that torch does not";
  for (const auto& [i, step] : o["steps"].items())
    EXPECT_EQ(sd.scalars.at("state." + i + ".step"), step.get<double>()) << c << " state." << i << ".step";
  std::cout << "[golden] " << c << ": max abs diff " << worst << "\n";
}

INSTANTIATE_TEST_SUITE_P(Torch, OptimGolden, ::testing::ValuesIn(golden_cases("optim")), case_test_name);

}  // namespace
