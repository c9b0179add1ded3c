// Double backward (create_graph=true) against PyTorch 1.13 on
// tests/golden/data/double_backward.safetensors (tools/golden/gen_double_backward.py):
// WGAN-GP gradient penalties through three critics (conv + LeakyReLU + Linear; InstanceNorm,
// SiLU, AvgPool, grouped conv, GELU, MaxPool; ConvTranspose2d, Softplus, Tanh,
// AdaptiveAvgPool) and a Hessian-vector product of an MLP with BatchNorm1d, Tanh and
// label-smoothed cross entropy. Each compares the penalty's first-order gradient, the
// penalty, the loss and every parameter's gradient after the second backward. And 20 random
// conv2d / conv_transpose2d configurations (stride, padding, dilation, groups,
// output_padding): the gradients of <dL/dx, vx> + <dL/dw, vw> with respect to x, w, b, u.
// Tolerance: 2e-5 relative to the largest element of each reference, plus 1e-6: float32
// sums over different orders of the same second-order terms.
#include <algorithm>
#include <cmath>

#include "cnnkit/autograd/node.h"
#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"

#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;

namespace {

const Golden& golden() {
  static Golden g("double_backward");
  return g;
}

nn::Sequential critic(const std::string& c) {
  if (c == "critic_conv")
    return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 4, 3).stride(2).padding(1)),
                          nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)),
                          nn::Conv2d(nn::Conv2dOptions(4, 8, 3).stride(2).padding(1)),
                          nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)), nn::Flatten(), nn::Linear(32, 1));
  if (c == "critic_norm_pool")
    return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(2, 4, 3).padding(1)),
                          nn::InstanceNorm2d(nn::InstanceNorm2dOptions(4).affine(true)), nn::SiLU(), nn::AvgPool2d(2),
                          nn::Conv2d(nn::Conv2dOptions(4, 4, 3).padding(1).groups(2)), nn::GELU(), nn::MaxPool2d(2),
                          nn::Flatten(), nn::Linear(16, 1));
  if (c == "critic_transpose")
    return nn::Sequential(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(2, 3, 3).stride(2).padding(1).output_padding(1)),
                          nn::Softplus(), nn::Conv2d(nn::Conv2dOptions(3, 2, 3).padding(1)), nn::Tanh(),
                          nn::AdaptiveAvgPool2d(2), nn::Flatten(), nn::Linear(8, 1));
  return nn::Sequential(nn::Linear(6, 5), nn::BatchNorm1d(5), nn::Tanh(), nn::Linear(5, 3));
}

void load(nn::Module& m, const std::string& c) {
  NoGradGuard no_grad;
  for (auto& item : m.named_parameters()) item.value().copy_(golden().get(c, item.key()));
  for (auto& item : m.named_buffers()) item.value().copy_(golden().get(c, item.key()));
}

::testing::AssertionResult close(const Tensor& got, const Tensor& want, const std::string& what) {
  float scale = 0;
  for (float v : want.to_vector()) scale = std::max(scale, std::fabs(v));
  return allclose(got.reshape(want.sizes()), want, 0.0, 1e-6 + 2e-5 * scale, what);
}

class DoubleBackwardGolden : public ::testing::TestWithParam<std::string> {};

// Random conv2d / conv_transpose2d configurations: for L = <conv(x, w, b), u> and
// S = <dL/dx, vx> + <dL/dw, vw>, the gradients of S with respect to x, w, b and u.
void check_conv_second_order(const std::string& c, const nlohmann::json& opts) {
  Tensor x = golden().get(c, "x").set_requires_grad(true), w = golden().get(c, "weight").set_requires_grad(true);
  Tensor b = golden().get(c, "bias").set_requires_grad(true);
  const int64_t stride = opts["stride"], padding = opts["padding"], dilation = opts["dilation"], groups = opts["groups"];
  const bool transposed = opts["kind"] == "conv_transpose2d";
  Tensor y = transposed ? conv_transpose2d(x, w, b, stride, padding, opts["output_padding"].get<int64_t>(), groups,
                                           dilation)
                        : conv2d(x, w, b, stride, padding, dilation, groups);
  Tensor u = golden().get(c, "u").set_requires_grad(true);
  TensorList g = autograd::grad({y}, {x, w}, {u}, std::nullopt, /*create_graph=*/true);
  Tensor s = (g[0] * golden().get(c, "vx")).sum() + (g[1] * golden().get(c, "vw")).sum();
  EXPECT_TRUE(close(s, golden().get(c, "s"), c + "/s"));
  TensorList d = autograd::grad({s}, {x, w, b, u}, {}, std::nullopt, false, /*allow_unused=*/true);
  EXPECT_TRUE(close(d[0], golden().get(c, "dx"), c + "/dx"));
  EXPECT_TRUE(close(d[1], golden().get(c, "dw"), c + "/dw"));
  EXPECT_FALSE(d[2].defined()) << c << ": the bias does not reach the first-order gradients";
  EXPECT_TRUE(close(d[3], golden().get(c, "du"), c + "/du"));
}

TEST_P(DoubleBackwardGolden, MatchesPyTorch) {
  const std::string c = GetParam();
  const nlohmann::json opts = golden().options(c);
  if (opts["kind"] == "conv2d" || opts["kind"] == "conv_transpose2d") {
    check_conv_second_order(c, opts);
    return;
  }
  nn::Sequential model = critic(c);
  load(*model, c);
  model->train();
  if (opts["kind"] == "wgan_gp") {
    const Tensor real = golden().get(c, "real"), fake = golden().get(c, "fake"), eps = golden().get(c, "eps");
    const double lam = opts["lam"].get<double>();
    Tensor x_hat = (eps * real + (1 - eps) * fake).set_requires_grad(true);
    Tensor d_hat = model->forward(x_hat);
    Tensor grad = autograd::grad({d_hat.sum()}, {x_hat}, {}, std::nullopt, /*create_graph=*/true)[0];
    ASSERT_TRUE(grad.requires_grad()) << "the penalty's gradient must have a graph of its own";
    Tensor gp = (grad.reshape({x_hat.size(0), -1}).norm(2, 1) - 1).pow(2).mean();
    Tensor loss = model->forward(fake).mean() - model->forward(real).mean() + lam * gp;
    loss.backward();
    EXPECT_TRUE(close(grad, golden().get(c, "grad_xhat"), c + "/grad_xhat"));
    EXPECT_TRUE(close(gp, golden().get(c, "gp"), c + "/gp"));
    EXPECT_TRUE(close(loss, golden().get(c, "loss"), c + "/loss"));
  } else {
    const Tensor x = golden().get(c, "input"), target = golden().get(c, "target");
    Tensor loss = nn::functional::cross_entropy(
        model->forward(x), target,
        nn::functional::CrossEntropyFuncOptions().label_smoothing(opts["label_smoothing"].get<double>()));
    TensorList params;
    std::vector<std::string> names;
    for (auto& item : model->named_parameters()) {
      params.push_back(item.value());
      names.push_back(item.key());
    }
    TensorList grads = autograd::grad({loss}, params, {}, std::nullopt, /*create_graph=*/true);
    Tensor dot;
    for (size_t i = 0; i < params.size(); ++i) {
      EXPECT_TRUE(close(grads[i], golden().get(c, "first." + names[i]), c + "/first." + names[i]));
      Tensor term = (grads[i] * golden().get(c, "v." + names[i])).sum();
      dot = dot.defined() ? dot + term : term;
    }
    dot.backward();
    EXPECT_TRUE(close(loss, golden().get(c, "loss"), c + "/loss"));
  }
  for (auto& item : model->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << c << ": no gradient for " << item.key();
    EXPECT_TRUE(close(item.value().grad(), golden().get(c, "grad." + item.key()), c + "/grad." + item.key()));
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, DoubleBackwardGolden, ::testing::ValuesIn(golden_cases("double_backward")),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
