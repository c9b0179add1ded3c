// A LibTorch program with `torch::` replaced by `cnnkit::` and <torch/torch.h> by
// <cnnkit/cnnkit.h>, nothing else changed: it must compile and give PyTorch's numbers.
// tests/integration/libtorch_build/run.sh compiles it back against LibTorch 1.13 (where
// libtorch-dev is installed) and runs the same expectations there.
// Reference numbers: /usr/bin/python3 tools/compat/libtorch_compat_reference.py
#include <cnnkit/cnnkit.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
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

// A ResNet-style LibTorch program: ModuleList of blocks with `out += shortcut` and
// in-place ReLU, init through modules() and as<>(), Nesterov SGD + StepLR + clipping,
// label smoothing, and Python-style indexing on the results.
struct BlockImpl : cnnkit::nn::Module {
  BlockImpl(int64_t in, int64_t out, int64_t stride)
      : conv1(cnnkit::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)),
        conv2(cnnkit::nn::Conv2dOptions(out, out, 3).stride(1).padding(1).bias(false)),
        bn1(cnnkit::nn::BatchNorm2dOptions(out).momentum(0.1).eps(1e-5)),
        bn2(out) {
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("conv2", conv2);
    register_module("bn2", bn2);
    if (stride != 1 || in != out) {
      shortcut = register_module("shortcut", cnnkit::nn::Sequential(
          cnnkit::nn::Conv2d(cnnkit::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
          cnnkit::nn::BatchNorm2d(out)));
    }
  }
  cnnkit::Tensor forward(cnnkit::Tensor x) {
    auto out = cnnkit::relu(bn1(conv1(x)));
    out = bn2(conv2(out));
    out += shortcut ? shortcut->forward(x) : x;
    return out.relu_();
  }
  cnnkit::nn::Conv2d conv1, conv2;
  cnnkit::nn::BatchNorm2d bn1, bn2;
  cnnkit::nn::Sequential shortcut{nullptr};
};
TORCH_MODULE(Block);

struct ResNetImpl : cnnkit::nn::Module {
  ResNetImpl() {
    stem = register_module("stem", cnnkit::nn::Sequential(
        cnnkit::nn::Conv2d(cnnkit::nn::Conv2dOptions(3, 8, 3).padding(1)), cnnkit::nn::BatchNorm2d(8),
        cnnkit::nn::ReLU(cnnkit::nn::ReLUOptions().inplace(true))));
    blocks = register_module("blocks", cnnkit::nn::ModuleList());
    blocks->push_back(Block(8, 8, 1));
    blocks->push_back(Block(8, 16, 2));
    fc = register_module("fc", cnnkit::nn::Linear(16, 10));
  }
  cnnkit::Tensor forward(cnnkit::Tensor x) {
    x = stem->forward(x);
    for (const auto& b : *blocks) x = b->as<Block>()->forward(x);
    return fc(cnnkit::adaptive_avg_pool2d(x, {1, 1}).flatten(1));
  }
  cnnkit::nn::Sequential stem{nullptr};
  cnnkit::nn::ModuleList blocks{nullptr};
  cnnkit::nn::Linear fc{nullptr};
};
TORCH_MODULE(ResNet);

TEST(LibTorchCompat, ResNetStyleProgramWithInPlaceOpsAndIndexing) {
  using namespace cnnkit::indexing;
  cnnkit::manual_seed(1);
  ResNet net;
  int convs = 0;
  for (auto& m : net->modules(/*include_self=*/false)) {
    if (auto* c = m->as<cnnkit::nn::Conv2d>()) {
      cnnkit::nn::init::kaiming_normal_(c->weight, 0.0, cnnkit::kFanOut, cnnkit::kReLU);
      ++convs;
    } else if (auto* bn = m->as<cnnkit::nn::BatchNorm2d>()) {
      cnnkit::nn::init::constant_(bn->weight, 1);
      cnnkit::nn::init::constant_(bn->bias, 0);
    }
  }
  EXPECT_EQ(convs, 6);
  cnnkit::optim::SGD opt(net->parameters(), cnnkit::optim::SGDOptions(0.05).momentum(0.9).nesterov(true));
  cnnkit::optim::StepLR sched(opt, /*step_size=*/10, /*gamma=*/0.5);
  cnnkit::nn::CrossEntropyLoss criterion(cnnkit::nn::CrossEntropyLossOptions().label_smoothing(0.1));
  auto x = cnnkit::randn({16, 3, 8, 8});
  auto y = cnnkit::randint(0, 10, {16}, cnnkit::TensorOptions().dtype(cnnkit::kInt64));
  float first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    opt.zero_grad();
    auto loss = criterion(net->forward(x), y);
    loss.backward();
    cnnkit::nn::utils::clip_grad_norm_(net->parameters(), 5.0);
    opt.step();
    sched.step();
    (step == 0 ? first : last) = loss.item<float>();
  }
  EXPECT_LT(last, 0.5 * first) << "memorising 16 examples: loss " << first << " -> " << last;
  for (const auto& p : net->parameters()) EXPECT_TRUE(p.grad().defined());

  cnnkit::NoGradGuard no_grad;
  net->eval();
  auto logits = net->forward(x);
  auto correct = logits.argmax(1).eq(y);
  EXPECT_EQ(logits.index({correct}).size(0), correct.sum().item<int64_t>());
  EXPECT_TRUE(logits.index({Slice(), 0}).equal(logits.select(1, 0)));
  EXPECT_TRUE(logits.index({Slice(None, 4), Slice(2, None, 3)}).equal(logits.slice(0, 0, 4).slice(1, 2, 10, 3)));
  auto top = logits.index({cnnkit::arange(16), y});  // each example's true-class logit
  for (int64_t i = 0; i < 16; ++i) EXPECT_EQ(top[i].item<float>(), logits[i][y[i].item<int64_t>()].item<float>());
  logits.index_put_({logits < 0}, 0.0);
  EXPECT_GE(logits.min().item<float>(), 0.0f);
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

// An autoencoder with a transposed convolution, reflection padding, a pixel shuffle and
// bilinear upsampling, then its weights through an archive, as LibTorch checkpoint code does.
struct AutoEncoderImpl : cnnkit::nn::Module {
  AutoEncoderImpl()
      : enc(cnnkit::nn::Conv2dOptions(1, 4, 3).stride(2).padding(1)),
        dec(cnnkit::nn::ConvTranspose2dOptions(4, 2, 3).stride(2).padding(1).output_padding(1)),
        pad(cnnkit::nn::ReflectionPad2dOptions(1)),
        head(cnnkit::nn::Conv2dOptions(2, 4, 3)),
        shuffle(cnnkit::nn::PixelShuffleOptions(2)) {
    register_module("enc", enc);
    register_module("dec", dec);
    register_module("pad", pad);
    register_module("head", head);
    register_module("shuffle", shuffle);
  }

  cnnkit::Tensor forward(cnnkit::Tensor x) {
    namespace F = cnnkit::nn::functional;
    x = cnnkit::relu(enc->forward(x));
    x = cnnkit::relu(dec->forward(x));
    x = shuffle->forward(head->forward(pad->forward(x)));
    return F::interpolate(x, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>({8, 8}))
                                 .mode(cnnkit::kBilinear)
                                 .align_corners(false));
  }

  cnnkit::nn::Conv2d enc;
  cnnkit::nn::ConvTranspose2d dec;
  cnnkit::nn::ReflectionPad2d pad;
  cnnkit::nn::Conv2d head;
  cnnkit::nn::PixelShuffle shuffle;
};
TORCH_MODULE(AutoEncoder);

TEST(LibTorchCompat, AutoencoderWithTransposedConvsAndUpsampling) {
  AutoEncoder ae;
  {
    cnnkit::NoGradGuard no_grad;
    for (auto& p : ae->named_parameters())
      p.value().copy_((cnnkit::arange(p.value().numel(), cnnkit::kFloat).reshape(p.value().sizes()) * 0.03 + 0.2).sin() *
                      0.3);
  }
  cnnkit::Tensor x = (cnnkit::arange(2 * 1 * 8 * 8, cnnkit::kFloat).view({2, 1, 8, 8}) * 0.07).cos();
  cnnkit::Tensor y = ae->forward(x);
  cnnkit::Tensor loss = cnnkit::nn::functional::mse_loss(y, (x + 1) / 2);
  loss.backward();
  expect_near_all(y[0][0][0], {9.076887130737305, 7.520550727844238, 9.695282936096191, 7.82501220703125,
                               8.89883804321289, 6.543983459472656, 6.195630073547363, 4.493558883666992},
                  1e-5, 1e-5);
  EXPECT_NEAR(loss.item<float>(), 32.174522399902344, 32.17 * 1e-5);
  EXPECT_NEAR(ae->dec->weight.grad().sum().item<float>(), 271.15087890625, 271.15 * 1e-5);
  expect_near_all(ae->dec->bias.grad(), {17.113574981689453, 18.646995544433594}, 1e-5, 1e-5);

  const std::string path = (std::filesystem::temp_directory_path() / "cnnkit_compat_ae.pt").string();
  cnnkit::serialize::OutputArchive out;
  ae->save(out);
  out.save_to(path);
  AutoEncoder copy;
  cnnkit::serialize::InputArchive in;
  in.load_from(path);
  copy->load(in);
  cnnkit::NoGradGuard no_grad;
  EXPECT_TRUE(copy->forward(x).equal(y.detach()));
  std::filesystem::remove(path);
}

// A custom autograd function and a WGAN-GP gradient penalty (autograd::grad with
// create_graph=true, then a second backward), written as LibTorch code.
struct ScaledTanh : public cnnkit::autograd::Function<ScaledTanh> {
  static cnnkit::Tensor forward(cnnkit::autograd::AutogradContext* ctx, cnnkit::Tensor x, double scale) {
    auto y = cnnkit::tanh(x);
    ctx->save_for_backward({y});
    ctx->saved_data["scale"] = scale;
    return y * scale;
  }
  static cnnkit::autograd::variable_list backward(cnnkit::autograd::AutogradContext* ctx,
                                                  cnnkit::autograd::variable_list grad_outputs) {
    auto y = ctx->get_saved_variables()[0];
    double scale = ctx->saved_data["scale"].toDouble();
    return {grad_outputs[0] * scale * (1 - y * y), cnnkit::Tensor()};
  }
};

TEST(LibTorchCompat, GradientPenaltyThroughACustomFunction) {
  auto critic = cnnkit::nn::Sequential(cnnkit::nn::Conv2d(cnnkit::nn::Conv2dOptions(1, 3, 3).stride(2).padding(1)),
                                       cnnkit::nn::LeakyReLU(cnnkit::nn::LeakyReLUOptions().negative_slope(0.2)),
                                       cnnkit::nn::Flatten(), cnnkit::nn::Linear(3 * 4 * 4, 1));
  {
    cnnkit::NoGradGuard no_grad;
    for (auto& p : critic->named_parameters())
      p.value().copy_((cnnkit::arange(p.value().numel(), cnnkit::kFloat).reshape(p.value().sizes()) * 0.05 + 0.3).sin() *
                      0.1);
  }
  auto real = (cnnkit::arange(2 * 1 * 8 * 8, cnnkit::kFloat).view({2, 1, 8, 8}) * 0.09).cos();
  auto fake = (cnnkit::arange(2 * 1 * 8 * 8, cnnkit::kFloat).view({2, 1, 8, 8}) * 0.13).sin();
  auto alpha = cnnkit::tensor({0.3f, 0.7f}).view({2, 1, 1, 1});
  auto x_hat = (alpha * real + (1 - alpha) * fake);
  x_hat.set_requires_grad(true);
  auto d = ScaledTanh::apply(critic->forward(x_hat), 2.0);
  auto grad = cnnkit::autograd::grad({d}, {x_hat}, {cnnkit::ones_like(d)}, /*retain_graph=*/true,
                                     /*create_graph=*/true)[0];
  auto gp = (grad.view({2, -1}).norm(2, 1) - 1).pow(2).mean();
  auto loss = ScaledTanh::apply(critic->forward(fake), 2.0).mean() -
              ScaledTanh::apply(critic->forward(real), 2.0).mean() + 10 * gp;
  loss.backward();
  EXPECT_NEAR(gp.item<float>(), 0.4304187595844269, 0.4304 * 1e-5);
  EXPECT_NEAR(loss.item<float>(), 4.616781234741211, 4.6168 * 1e-5);
  auto conv_w = critic->named_parameters()["0.weight"].grad();
  EXPECT_NEAR(conv_w.sum().item<float>(), -53.11981201171875, 53.12 * 1e-5);
  expect_near_all(conv_w[0][0][0], {-1.0939228534698486, -0.7421736121177673, -1.4330805540084839}, 1e-5, 1e-6);
  expect_near_all(critic->named_parameters()["3.bias"].grad(), {-0.2851707935333252}, 1e-5, 1e-7);
}

// The custom functions of PyTorch's C++ autograd tutorial (pytorch.org/tutorials/advanced/
// cpp_autograd.html), as written there: LinearFunction with an optional bias argument, and
// MulConstant with a double in saved_data. Checked against autograd through the plain ops.
class LinearFunction : public cnnkit::autograd::Function<LinearFunction> {
 public:
  static cnnkit::Tensor forward(cnnkit::autograd::AutogradContext* ctx, cnnkit::Tensor input, cnnkit::Tensor weight,
                                cnnkit::Tensor bias = cnnkit::Tensor()) {
    ctx->save_for_backward({input, weight, bias});
    auto output = input.mm(weight.t());
    if (bias.defined()) {
      output += bias.unsqueeze(0).expand_as(output);
    }
    return output;
  }

  static cnnkit::autograd::variable_list backward(cnnkit::autograd::AutogradContext* ctx,
                                                  cnnkit::autograd::variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    auto input = saved[0];
    auto weight = saved[1];
    auto bias = saved[2];

    auto grad_output = grad_outputs[0];
    auto grad_input = grad_output.mm(weight);
    auto grad_weight = grad_output.t().mm(input);
    auto grad_bias = cnnkit::Tensor();
    if (bias.defined()) {
      grad_bias = grad_output.sum(0);
    }

    return {grad_input, grad_weight, grad_bias};
  }
};

class MulConstant : public cnnkit::autograd::Function<MulConstant> {
 public:
  static cnnkit::Tensor forward(cnnkit::autograd::AutogradContext* ctx, cnnkit::Tensor tensor, double constant) {
    ctx->saved_data["constant"] = constant;
    return tensor * constant;
  }

  static cnnkit::autograd::variable_list backward(cnnkit::autograd::AutogradContext* ctx,
                                                  cnnkit::autograd::variable_list grad_outputs) {
    return {grad_outputs[0] * ctx->saved_data["constant"].toDouble(), cnnkit::Tensor()};
  }
};

TEST(LibTorchCompat, CustomFunctionsOfTheCppAutogradTutorial) {
  auto x = (cnnkit::arange(6, cnnkit::kFloat).view({2, 3}) * 0.3).sin().requires_grad_();
  auto weight = (cnnkit::arange(12, cnnkit::kFloat).view({4, 3}) * 0.2).cos().requires_grad_();
  auto bias = cnnkit::arange(4, cnnkit::kFloat).requires_grad_();
  auto y = LinearFunction::apply(x, weight);
  y.sum().backward();
  auto y_bias = LinearFunction::apply(x, weight, bias);
  y_bias.sum().backward();

  auto x2 = x.detach().requires_grad_(), w2 = weight.detach().requires_grad_(), b2 = bias.detach().requires_grad_();
  cnnkit::nn::functional::linear(x2, w2).sum().backward();
  cnnkit::nn::functional::linear(x2, w2, b2).sum().backward();
  EXPECT_TRUE(x.grad().allclose(x2.grad()));
  EXPECT_TRUE(weight.grad().allclose(w2.grad()));
  EXPECT_TRUE(bias.grad().allclose(b2.grad()));
  EXPECT_TRUE(y_bias.allclose(cnnkit::nn::functional::linear(x, weight, bias)));

  auto m = cnnkit::randn({2}).requires_grad_();
  auto z = MulConstant::apply(m, 5.5);
  z.sum().backward();
  EXPECT_TRUE(m.grad().allclose(cnnkit::full({2}, 5.5)));
}

// 1-d signals: Conv1d, BatchNorm1d over (N, C, L), MaxPool1d, AvgPool1d, AdaptiveAvgPool1d;
// and TensorOptions printed in c10's format.
TEST(LibTorchCompat, OneDimensionalSignals) {
  auto net = cnnkit::nn::Sequential(cnnkit::nn::Conv1d(cnnkit::nn::Conv1dOptions(2, 4, 3).padding(1)),
                                    cnnkit::nn::BatchNorm1d(4), cnnkit::nn::ReLU(), cnnkit::nn::MaxPool1d(2),
                                    cnnkit::nn::AvgPool1d(cnnkit::nn::AvgPool1dOptions(2).stride(1)),
                                    cnnkit::nn::AdaptiveAvgPool1d(1), cnnkit::nn::Flatten(), cnnkit::nn::Linear(4, 3));
  {
    cnnkit::NoGradGuard no_grad;
    for (auto& p : net->named_parameters())
      p.value().copy_((cnnkit::arange(p.value().numel(), cnnkit::kFloat).reshape(p.value().sizes()) * 0.07 + 0.1).cos() *
                      0.5);
  }
  auto x = (cnnkit::arange(2 * 2 * 8, cnnkit::kFloat).view({2, 2, 8}) * 0.21).sin();
  auto out = net->forward(x);
  auto loss = cnnkit::nn::functional::cross_entropy(out, cnnkit::tensor({2, 0}, cnnkit::kLong));
  loss.backward();
  expect_near_all(out.flatten(), {2.443495750427246, 2.2539172172546387, 1.924752950668335, 0.7112174034118652,
                                  0.6829661726951599, 0.637488842010498},
                  1e-5, 1e-6);
  EXPECT_NEAR(loss.item<float>(), 1.2343266010284424, 1e-5);
  EXPECT_NEAR(net->named_parameters()["0.weight"].grad().sum().item<float>(), 0.6612192392349243, 1e-5);
  expect_near_all(net->named_buffers()["1.running_mean"],
                  {0.05111049488186836, 0.04944291338324547, 0.04750550538301468, 0.04551471397280693}, 1e-5, 1e-7);

  std::ostringstream printed;
  printed << cnnkit::TensorOptions().dtype(cnnkit::kFloat).requires_grad(true);
  EXPECT_EQ(printed.str(), "TensorOptions(dtype=float, device=cpu (default), layout=Strided (default), "
                           "requires_grad=true, pinned_memory=false (default), memory_format=(nullopt))");
}

}  // namespace

#ifndef CNNKIT_AS_LIBTORCH  // cnnkit-only API: left out of the LibTorch build (libtorch_build/run.sh)
// The umbrella header alone is enough for the .npy readers (it once needed cnnkit/io/npy.h).
TEST(Umbrella, NpyRoundTripWithOnlyTheUmbrellaHeader) {
  const std::string path = (std::filesystem::temp_directory_path() / "cnnkit_umbrella_npy.npy").string();
  const cnnkit::Tensor t = cnnkit::arange(6).reshape({2, 3});
  cnnkit::io::save_npy(path, t);
  const cnnkit::Tensor back = cnnkit::io::load_npy(path);
  std::filesystem::remove(path);
  EXPECT_TRUE(back.equal(t));
}
#endif  // CNNKIT_AS_LIBTORCH
