// Loss modules against PyTorch 1.13 on every case of tests/golden/data/loss.safetensors
// (tools/golden/gen_loss.py): every loss under every reduction, class weights, ignore_index
// present in the targets, label smoothing with and without weights, probability targets,
// pos_weight, beta / delta values. Compares the loss, the input gradient (backward of
// out.sum() for kNone) and the target gradient for float targets, at rtol 1e-5, atol 1e-6.
#include <cmath>

#include "cnnkit/nn/modules/loss.h"
#include "cnnkit/ops/reduce.h"
#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

const Golden& golden() {
  static Golden g("loss");
  return g;
}

nn::detail::loss_reduction_t reduction_of(const std::string& r) {
  if (r == "none") return kNone;
  if (r == "sum") return kSum;
  return kMean;
}

struct Built {
  std::function<Tensor(const Tensor&, const Tensor&)> forward;
};

template <typename Holder>
Built hold(Holder h) {
  return {[h](const Tensor& x, const Tensor& t) mutable { return h(x, t); }};
}

Built build(const Golden& g, const std::string& c) {
  const nlohmann::json o = g.options(c);
  const std::string m = o.at("module").get<std::string>();
  const auto red = reduction_of(o.at("reduction").get<std::string>());
  const Tensor w = g.has(c, "weight") ? g.get(c, "weight") : Tensor();
  const Tensor pw = g.has(c, "pos_weight") ? g.get(c, "pos_weight") : Tensor();
  if (m == "MSELoss") return hold(nn::MSELoss(nn::MSELossOptions().reduction(red)));
  if (m == "L1Loss") return hold(nn::L1Loss(nn::L1LossOptions().reduction(red)));
  if (m == "SmoothL1Loss")
    return hold(nn::SmoothL1Loss(nn::SmoothL1LossOptions().reduction(red).beta(o.at("beta").get<double>())));
  if (m == "HuberLoss") return hold(nn::HuberLoss(nn::HuberLossOptions().reduction(red).delta(o.at("delta").get<double>())));
  if (m == "BCELoss") return hold(nn::BCELoss(nn::BCELossOptions().weight(w).reduction(red)));
  if (m == "BCEWithLogitsLoss")
    return hold(nn::BCEWithLogitsLoss(nn::BCEWithLogitsLossOptions().weight(w).pos_weight(pw).reduction(red)));
  if (m == "MultiLabelSoftMarginLoss")
    return hold(nn::MultiLabelSoftMarginLoss(nn::MultiLabelSoftMarginLossOptions().weight(w).reduction(red)));
  if (m == "NLLLoss")
    return hold(nn::NLLLoss(
        nn::NLLLossOptions().weight(w).ignore_index(o.at("ignore_index").get<int64_t>()).reduction(red)));
  if (m == "CrossEntropyLoss")
    return hold(nn::CrossEntropyLoss(nn::CrossEntropyLossOptions()
                                         .weight(w)
                                         .ignore_index(o.at("ignore_index").get<int64_t>())
                                         .reduction(red)
                                         .label_smoothing(o.at("label_smoothing").get<double>())));
  throw std::runtime_error("loss golden: unknown module " + m);
}

class LossGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(LossGolden, MatchesTorch) {
  const std::string& c = GetParam();
  const Golden& g = golden();
  const Tolerance tol{1e-5, 1e-6};
  Built b = build(g, c);
  Tensor x = g.get(c, "input");
  Tensor t = g.get(c, "target");
  x.set_requires_grad(true);
  const bool grad_target = g.has(c, "grad_target");
  if (grad_target) t.set_requires_grad(true);

  Tensor out = b.forward(x, t);
  std::ostringstream log;
  log << "[golden] " << c << ": out " << expect_matches(out, g.get(c, "out"), tol, c + "/out");
  ASSERT_TRUE(out.requires_grad()) << c;
  (out.dim() > 0 ? cnnkit::sum(out) : out).backward();
  log << ", grad_input " << expect_matches(x.grad(), g.get(c, "grad_input"), tol, c + "/grad_input");
  if (grad_target)
    log << ", grad_target " << expect_matches(t.grad(), g.get(c, "grad_target"), tol, c + "/grad_target");
  std::cout << log.str() << "\n";
}

INSTANTIATE_TEST_SUITE_P(Torch, LossGolden, ::testing::ValuesIn(golden_cases("loss")), case_test_name);

}  // namespace
