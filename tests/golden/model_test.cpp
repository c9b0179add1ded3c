// Whole small models against PyTorch (tests/golden/data/model.safetensors, written by
// tools/golden/gen_model.py): LeNet-5 as one nn::Sequential (state-dict keys "0.weight",
// "3.weight", ...) with an upstream gradient and under mean cross-entropy, and a small
// Conv-BatchNorm-ReLU-pool network in train mode (running statistics after the step).
// Tolerance rtol 1e-5, atol 1e-6 (values here are at most ~2): torch's own float32 result
// is within 6.2e-7 abs of a float64 run of the same cases (GOLDEN_PRECISION=1
// tools/golden/gen_model.py), and cnnkit may sum in another order.
#include "cnnkit/nn/functional.h"
#include "cnnkit/nn/modules/activation.h"
#include "cnnkit/nn/modules/container/sequential.h"
#include "cnnkit/nn/modules/conv.h"
#include "cnnkit/nn/modules/linear.h"
#include "cnnkit/nn/modules/normalization.h"
#include "cnnkit/nn/modules/pooling.h"
#include "cnnkit/ops/ops.h"

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

constexpr Tolerance kTol{1e-5, 1e-6};

const Golden& golden() {
  static Golden g("model");
  return g;
}

nn::Sequential lenet5() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 6, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                        nn::Conv2d(6, 16, 5), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                        nn::Linear(16 * 5 * 5, 120), nn::ReLU(), nn::Linear(120, 84), nn::ReLU(),
                        nn::Linear(84, 10));
}

nn::Sequential small_cnn() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(3, 8, 3).padding(1)), nn::BatchNorm2d(8), nn::ReLU(),
                        nn::MaxPool2d(2), nn::Conv2d(nn::Conv2dOptions(8, 8, 3).padding(1).bias(false)),
                        nn::BatchNorm2d(8), nn::ReLU(), nn::AdaptiveAvgPool2d(1), nn::Flatten(),
                        nn::Linear(8, 5));
}

TEST(ModelGolden, LeNet5ForwardBackwardMatchesTorch) {
  run_golden_case(golden(), "lenet5", wrap(lenet5()), kTol);
}

TEST(ModelGolden, SmallCnnTrainStepMatchesTorch) {
  run_golden_case(golden(), "small_cnn", wrap(small_cnn()), kTol);
}

// F::cross_entropy through LeNet-5, against F.cross_entropy; the same loss written with
// log_softmax and a one-hot mask must agree with it.
TEST(ModelGolden, LeNet5CrossEntropyMatchesTorch) {
  const Golden& g = golden();
  const std::string c = "lenet5_ce";
  nn::Sequential net = lenet5();
  net->train();
  std::map<std::string, Tensor> sd;
  for (auto& [k, v] : g.state_dict(c)) sd.emplace(k, v);
  net->load_state_dict(sd);

  Tensor x = g.get(c, "input");
  x.set_requires_grad(true);
  Tensor target = g.get(c, "target");
  int64_t n = target.numel();
  Tensor mask = zeros_shaped({n, 10});
  for (int64_t i = 0; i < n; ++i) mask.data_ptr<float>()[i * 10 + target.data_ptr<int64_t>()[i]] = 1.0f;

  Tensor logits = net->forward(x);
  Tensor loss = nn::functional::cross_entropy(logits, target);
  const Tensor composite = -(log_softmax(logits, 1) * mask).sum() / static_cast<double>(n);
  EXPECT_NEAR(composite.item<double>(), loss.item<double>(), 1e-6);
  loss.backward();

  std::ostringstream log;
  log << "[golden] " << c << ": out " << expect_matches(logits, g.get(c, "out"), kTol, c + "/out");
  log << ", loss " << expect_matches(loss, g.get(c, "loss"), kTol, c + "/loss");
  log << ", grad_input " << expect_matches(x.grad(), g.get(c, "grad_input"), kTol, c + "/grad_input");
  for (const auto& item : net->named_parameters())
    log << ", grad." << item.key() << " "
        << expect_matches(item.value().grad(), g.get(c, "grad." + item.key()), kTol, c + "/grad." + item.key());
  std::cout << log.str() << "\n";
}

}  // namespace
