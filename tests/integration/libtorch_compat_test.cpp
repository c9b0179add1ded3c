// A LibTorch program with `torch::` replaced by `cnnkit::` and <torch/torch.h> by
// <cnnkit/cnnkit.h>, nothing else changed: it must compile and give PyTorch's numbers.
// Reference numbers: /usr/bin/python3 tools/compat/libtorch_compat_reference.py
#include <cnnkit/cnnkit.h>
#include <gtest/gtest.h>

#include <vector>

namespace {

struct NetImpl : cnnkit::nn::Module {
  NetImpl()
      : conv1(cnnkit::nn::Conv2dOptions(1, 4, 3).padding(1)),
        bn1(4),
        conv2(cnnkit::nn::Conv2dOptions(4, 4, 3).padding(1).groups(2).padding_mode(cnnkit::kReflect)),
        fc1(4 * 4 * 4, 5) {
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("conv2", conv2);
    register_module("fc1", fc1);
  }

  cnnkit::Tensor forward(cnnkit::Tensor x) {
    x = cnnkit::relu(bn1->forward(conv1->forward(x)));
    x = cnnkit::max_pool2d(x, {2, 2});
    x = cnnkit::tanh(conv2->forward(x));
    x = x.view({x.size(0), -1});
    return cnnkit::log_softmax(fc1->forward(x), /*dim=*/1);
  }

  cnnkit::nn::Conv2d conv1;
  cnnkit::nn::BatchNorm2d bn1;
  cnnkit::nn::Conv2d conv2;
  cnnkit::nn::Linear fc1;
};
TORCH_MODULE(Net);

void expect_near_all(const cnnkit::Tensor& t, const std::vector<double>& expected, double rtol, double atol) {
  ASSERT_EQ(t.numel(), static_cast<int64_t>(expected.size()));
  auto c = t.contiguous();
  const float* p = c.data_ptr<float>();
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(p[i], expected[i], atol + rtol * std::abs(expected[i])) << "element " << i;
}

Net make_net() {
  Net net;
  cnnkit::NoGradGuard no_grad;
  for (auto& p : net->named_parameters()) {
    auto& w = p.value();
    w.copy_((cnnkit::arange(w.numel(), cnnkit::kFloat).reshape(w.sizes()) * 0.01 + 0.1).sin());
  }
  return net;
}

cnnkit::Tensor make_input() {
  return (cnnkit::arange(2 * 1 * 8 * 8, cnnkit::TensorOptions().dtype(cnnkit::kFloat)).view({2, 1, 8, 8}) * 0.1).cos();
}

TEST(LibTorchCompat, TrainingStepMatchesTorch) {
  Net net = make_net();
  cnnkit::Tensor x = make_input();
  cnnkit::Tensor out = net->forward(x);
  ASSERT_EQ(out.sizes(), std::vector<int64_t>({2, 5}));
  cnnkit::Tensor loss = -out.select(1, 2).mean();
  loss.backward();

  expect_near_all(out[0], {-25.53667449951172, -4.465643405914307, -0.011564834043383598,
                           -13.933466911315918, -40.717018127441406}, 1e-4, 1e-5);
  expect_near_all(out[1], {-25.440570831298828, -4.426224708557129, -0.01203242689371109,
                           -13.9412202835083, -40.69659423828125}, 1e-4, 1e-5);
  // log_softmax of logits near 40 in float32: the result carries ~40 * 2^-24 * a few of
  // absolute rounding, whichever library computes it, hence 1e-5 absolute below.
  EXPECT_NEAR(loss.item<float>(), 0.011798630468547344, 1e-5);
  EXPECT_NEAR(net->conv1->weight.grad().sum().item<float>(), 0.001093132421374321, 2e-6);
  expect_near_all(net->conv1->weight.grad()[0][0][0],
                  {0.0007802898180671036, 0.0009563457570038736, 0.0008742841309867799}, 1e-3, 1e-7);
  expect_near_all(net->fc1->bias.grad(), {8.529685638358764e-12, 0.011728426441550255,
                                          -0.011729270219802856, 8.853028248267947e-07,
                                          2.0954693488203708e-18}, 1e-4, 1e-5);
  expect_near_all(net->bn1->running_mean, {0.003334335284307599, 8.542653085896745e-05,
                                           -0.0030764059629291296, -0.006117634940892458}, 1e-4, 1e-7);
  expect_near_all(net->bn1->running_var, {0.9328596591949463, 0.9864042401313782,
                                          1.063775897026062, 1.1624746322631836}, 1e-5, 1e-6);

  net->eval();
  cnnkit::Tensor eval_out = net->forward(x);
  expect_near_all(eval_out[0], {-25.452817916870117, -4.444178581237793, -0.011817213147878647,
                                -13.906153678894043, -40.623783111572266}, 1e-4, 1e-5);
}

TEST(LibTorchCompat, EverydayTensorApi) {
  float raw[6] = {1, 2, 3, 4, 5, 6};
  cnnkit::Tensor a = cnnkit::from_blob(raw, {2, 3});
  EXPECT_EQ(a.data_ptr<float>(), raw);  // no copy
  cnnkit::Tensor b = a.clone();
  raw[0] = 10;
  EXPECT_EQ(b[0][0].item<float>(), 1.0f);
  EXPECT_EQ(a.sizes(), std::vector<int64_t>({2, 3}));
  EXPECT_EQ(a.dim(), 2);
  EXPECT_EQ(a.numel(), 6);
  EXPECT_TRUE(a.t().contiguous().is_contiguous());
  EXPECT_EQ(std::get<1>(b.max(1)).to(cnnkit::kFloat).sum().item<float>(), 4.0f);  // argmax 2 and 2
  EXPECT_EQ(b.argmax(1)[1].item<int64_t>(), 2);
  EXPECT_FLOAT_EQ(b.mean(1, /*keepdim=*/true)[1][0].item<float>(), 5.0f);
  EXPECT_FLOAT_EQ(b.sum().item<float>(), 21.0f);
  EXPECT_EQ(b.permute({1, 0}).sizes(), std::vector<int64_t>({3, 2}));
  EXPECT_EQ(b.narrow(1, 1, 2).sizes(), std::vector<int64_t>({2, 2}));
  EXPECT_EQ(b.gt(2.5).to(cnnkit::kLong).sum().item<int64_t>(), 4);
  EXPECT_FLOAT_EQ(cnnkit::matmul(b, b.t())[0][1].item<float>(), 1 * 4 + 2 * 5 + 3 * 6);
  EXPECT_EQ(cnnkit::cat({b, b}, 0).size(0), 4);
  EXPECT_EQ(cnnkit::stack({b, b}, 0).dim(), 3);
  EXPECT_FLOAT_EQ(cnnkit::softmax(b, 1).sum(1)[0].item<float>(), 1.0f);
  EXPECT_EQ(cnnkit::arange(5).scalar_type(), cnnkit::kLong);
  auto acc = b.accessor<float, 2>();
  EXPECT_EQ(acc[1][2], 6.0f);

  cnnkit::Tensor w = cnnkit::ones({3}).set_requires_grad(true);
  {
    cnnkit::NoGradGuard guard;
    EXPECT_FALSE((w * 2).requires_grad());
  }
  cnnkit::Tensor y = (b.matmul(w)).pow(2).sum();
  y.backward();
  // dy/dw = 2 * b^T (b w)  with b w = [6, 15]
  expect_near_all(w.grad(), {2 * (1 * 6 + 4 * 15), 2 * (2 * 6 + 5 * 15), 2 * (3 * 6 + 6 * 15)}, 1e-6, 1e-4);
}

TEST(LibTorchCompat, SequentialAndFunctional) {
  namespace F = cnnkit::nn::functional;
  cnnkit::manual_seed(1);
  cnnkit::nn::Sequential seq(cnnkit::nn::Conv2d(cnnkit::nn::Conv2dOptions(3, 8, 3).stride(2).bias(false)),
                             cnnkit::nn::BatchNorm2d(8), cnnkit::nn::ReLU(),
                             cnnkit::nn::AdaptiveAvgPool2d(1), cnnkit::nn::Flatten(),
                             cnnkit::nn::Linear(8, 2));
  cnnkit::Tensor x = cnnkit::randn({4, 3, 16, 16});
  cnnkit::Tensor out = seq->forward(x);
  EXPECT_EQ(out.sizes(), std::vector<int64_t>({4, 2}));
  std::vector<std::string> keys;
  for (const auto& item : seq->named_parameters()) keys.push_back(item.key());
  EXPECT_EQ(keys, std::vector<std::string>({"0.weight", "1.weight", "1.bias", "5.weight", "5.bias"}));
  cnnkit::Tensor y = F::relu(F::max_pool2d(x, F::MaxPool2dFuncOptions(2)));
  EXPECT_EQ(y.sizes(), std::vector<int64_t>({4, 3, 8, 8}));
  EXPECT_GE(y.min().item<float>(), 0.0f);
}

}  // namespace
