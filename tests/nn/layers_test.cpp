// The layers: LibTorch's printing, PyTorch's default initialisation, batch-norm running
// statistics, padding modes, and input checks that name the layer. Expected numbers were
// computed with PyTorch 1.13 (snippets beside them); the golden tests cover the rest.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"

#include "test_util.h"

using namespace cnnkit;

namespace {

using cnnkit::test::message_of;

template <typename M>
std::string str(const M& module) {
  std::ostringstream os;
  os << module;
  return os.str();
}

void expect_near(const Tensor& t, const std::vector<float>& expected, float tol = 1e-5f) {
  auto v = t.contiguous().to_vector();
  ASSERT_EQ(v.size(), expected.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], expected[i], tol) << "element " << i;
}


// x = torch.arange(16.).reshape(2, 2, 2, 2) / 10
Tensor bn_input() { return arange(16, kFloat).reshape({2, 2, 2, 2}) / 10; }

// xi = torch.arange(9.).reshape(1, 1, 3, 3)
Tensor small_image() { return arange(9, kFloat).reshape({1, 1, 3, 3}); }

}  // namespace

// ---- printing (LibTorch 1.13's text with the cnnkit namespace) --------------------------

TEST(Print, LayersPrintLikeLibTorch) {
  EXPECT_EQ(str(nn::Conv2d(nn::Conv2dOptions(3, 64, 3))), "cnnkit::nn::Conv2d(3, 64, kernel_size=[3, 3], stride=[1, 1])");
  EXPECT_EQ(str(nn::Conv2d(nn::Conv2dOptions(3, 64, {3, 5}).stride(2).padding(1).dilation(2).bias(false))),
            "cnnkit::nn::Conv2d(3, 64, kernel_size=[3, 5], stride=[2, 2], padding=[1, 1], dilation=[2, 2], "
            "bias=false)");
  EXPECT_EQ(str(nn::Conv2d(nn::Conv2dOptions(4, 8, 3).padding(kSame).padding_mode(kReflect).groups(2))),
            "cnnkit::nn::Conv2d(4, 8, kernel_size=[3, 3], stride=[1, 1], padding='same', groups=2, "
            "padding_mode=kReflect)");
  EXPECT_EQ(str(nn::Conv2d(nn::Conv2dOptions(4, 8, 3).padding(kValid).padding_mode(kCircular))),
            "cnnkit::nn::Conv2d(4, 8, kernel_size=[3, 3], stride=[1, 1], padding='valid', padding_mode=kCircular)");
  EXPECT_EQ(str(nn::ReLU()), "cnnkit::nn::ReLU()");
  EXPECT_EQ(str(nn::ReLU(nn::ReLUOptions().inplace(true))), "cnnkit::nn::ReLU(inplace=true)");
  EXPECT_EQ(str(nn::ReLU6(true)), "cnnkit::nn::ReLU6(inplace=true)");
  EXPECT_EQ(str(nn::SELU()), "cnnkit::nn::SELU()");
  EXPECT_EQ(str(nn::LeakyReLU()), "cnnkit::nn::LeakyReLU(negative_slope=0.01)");
  EXPECT_EQ(str(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2).inplace(true))),
            "cnnkit::nn::LeakyReLU(negative_slope=0.2, inplace=true)");
  EXPECT_EQ(str(nn::Sigmoid()), "cnnkit::nn::Sigmoid()");
  EXPECT_EQ(str(nn::Tanh()), "cnnkit::nn::Tanh()");
  EXPECT_EQ(str(nn::SiLU()), "cnnkit::nn::SiLU()");
  EXPECT_EQ(str(nn::Mish()), "cnnkit::nn::Mish()");
  EXPECT_EQ(str(nn::Hardswish()), "cnnkit::nn::Hardswish()");
  EXPECT_EQ(str(nn::Softmax(1)), "cnnkit::nn::Softmax(dim=1)");
  EXPECT_EQ(str(nn::LogSoftmax(-1)), "cnnkit::nn::LogSoftmax(dim=-1)");
  EXPECT_EQ(str(nn::ELU()), "cnnkit::nn::ELU(alpha=1)");
  EXPECT_EQ(str(nn::ELU(nn::ELUOptions().alpha(0.5).inplace(true))), "cnnkit::nn::ELU(alpha=0.5, inplace=true)");
  EXPECT_EQ(str(nn::GELU(nn::GELUOptions().approximate("tanh"))), "cnnkit::nn::GELU()");
  EXPECT_EQ(str(nn::Hardtanh(nn::HardtanhOptions().min_val(-2).max_val(3.5).inplace(true))),
            "cnnkit::nn::Hardtanh(min_val=-2, max_val=3.5, inplace=true)");
  EXPECT_EQ(str(nn::Softplus()), "cnnkit::nn::Softplus(beta=1, threshold=20)");
  EXPECT_EQ(str(nn::PReLU(nn::PReLUOptions().num_parameters(3).init(0.1))), "cnnkit::nn::PReLU(num_parameters=3)");
  EXPECT_EQ(str(nn::MaxPool2d(2)),
            "cnnkit::nn::MaxPool2d(kernel_size=[2, 2], stride=[2, 2], padding=[0, 0], dilation=[1, 1], "
            "ceil_mode=false)");
  EXPECT_EQ(str(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1).ceil_mode(true))),
            "cnnkit::nn::MaxPool2d(kernel_size=[3, 3], stride=[2, 2], padding=[1, 1], dilation=[1, 1], "
            "ceil_mode=true)");
  EXPECT_EQ(str(nn::AvgPool2d(nn::AvgPool2dOptions(3).stride(2).padding(1).count_include_pad(false))),
            "cnnkit::nn::AvgPool2d(kernel_size=[3, 3], stride=[2, 2], padding=[1, 1])");
  EXPECT_EQ(str(nn::AdaptiveAvgPool2d(1)), "cnnkit::nn::AdaptiveAvgPool2d(output_size=[1, 1])");
  EXPECT_EQ(str(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({2, std::nullopt}))),
            "cnnkit::nn::AdaptiveAvgPool2d(output_size=[2, None])");
  EXPECT_EQ(str(nn::AdaptiveMaxPool2d(nn::AdaptiveMaxPool2dOptions({3, 4}))),
            "cnnkit::nn::AdaptiveMaxPool2d(output_size=[3, 4])");
  EXPECT_EQ(str(nn::BatchNorm1d(10)),
            "cnnkit::nn::BatchNorm1d(10, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)");
  EXPECT_EQ(str(nn::BatchNorm2d(
                nn::BatchNorm2dOptions(64).eps(1e-3).momentum(std::nullopt).affine(false).track_running_stats(false))),
            "cnnkit::nn::BatchNorm2d(64, eps=0.001, momentum=None, affine=false, track_running_stats=false)");
  EXPECT_EQ(str(nn::LayerNorm(nn::LayerNormOptions({4, 8}).eps(1e-6).elementwise_affine(false))),
            "cnnkit::nn::LayerNorm([4, 8], eps=1e-06, elementwise_affine=false)");
  EXPECT_EQ(str(nn::InstanceNorm2d(8)),
            "cnnkit::nn::InstanceNorm2d(8, eps=1e-05, momentum=0.1, affine=false, track_running_stats=false)");
  EXPECT_EQ(str(nn::GroupNorm(nn::GroupNormOptions(2, 8))), "cnnkit::nn::GroupNorm(2, 8, eps=1e-05, affine=true)");
  EXPECT_EQ(str(nn::Linear(4, 2)), "cnnkit::nn::Linear(in_features=4, out_features=2, bias=true)");
  EXPECT_EQ(str(nn::Linear(nn::LinearOptions(4, 2).bias(false))),
            "cnnkit::nn::Linear(in_features=4, out_features=2, bias=false)");
  EXPECT_EQ(str(nn::Flatten()), "cnnkit::nn::Flatten(start_dim=1, end_dim=-1)");
  EXPECT_EQ(str(nn::Dropout()), "cnnkit::nn::Dropout(p=0.5, inplace=false)");
  EXPECT_EQ(str(nn::Dropout2d(0.3)), "cnnkit::nn::Dropout2d(p=0.3, inplace=false)");
  EXPECT_EQ(str(nn::Identity()), "cnnkit::nn::Identity()");
  EXPECT_EQ(str(nn::Functional(cnnkit::relu)), "cnnkit::nn::Functional()");
}

TEST(Print, ContainersPrintTheTree) {
  nn::Sequential seq(nn::Conv2d(1, 6, 5), nn::ReLU(), nn::Sequential(nn::Linear(3, 4)));
  EXPECT_EQ(str(seq),
            "cnnkit::nn::Sequential(\n"
            "  (0): cnnkit::nn::Conv2d(1, 6, kernel_size=[5, 5], stride=[1, 1])\n"
            "  (1): cnnkit::nn::ReLU()\n"
            "  (2): cnnkit::nn::Sequential(\n"
            "    (0): cnnkit::nn::Linear(in_features=3, out_features=4, bias=true)\n"
            "  )\n"
            ")");
  EXPECT_EQ(str(*seq), str(seq));
  nn::ModuleList list(nn::Linear(1, 2), nn::ReLU());
  EXPECT_EQ(str(list),
            "cnnkit::nn::ModuleList(\n"
            "  (0): cnnkit::nn::Linear(in_features=1, out_features=2, bias=true)\n"
            "  (1): cnnkit::nn::ReLU()\n"
            ")");
  EXPECT_EQ(seq->name(), "cnnkit::nn::SequentialImpl");
}

// ---- default initialisation ----------------------------------------------------------------

TEST(Init, ConvAndLinearUseKaimingUniformBounds) {
  manual_seed(0);
  nn::Conv2d conv(3, 64, 3);  // fan_in = 27: weight and bias in +-1/sqrt(27)
  const float bound = 1.f / std::sqrt(27.f);
  for (const Tensor& t : {conv->weight, conv->bias}) {
    EXPECT_LE(t.abs().max().item<float>(), bound);
  }
  // Uniform on [-b, b]: the extremes are reached and the std is b / sqrt(3).
  EXPECT_GT(conv->weight.abs().max().item<float>(), 0.99f * bound);
  EXPECT_NEAR(conv->weight.std().item<float>(), bound / std::sqrt(3.f), 0.05f * bound);
  EXPECT_NEAR(conv->weight.mean().item<float>(), 0.f, 0.05f * bound);

  nn::Linear fc(100, 400);  // bound 0.1
  EXPECT_LE(fc->weight.abs().max().item<float>(), 0.1f);
  EXPECT_GT(fc->weight.abs().max().item<float>(), 0.099f);
  EXPECT_LE(fc->bias.abs().max().item<float>(), 0.1f);
  EXPECT_GT(fc->bias.abs().max().item<float>(), 0.09f);
  EXPECT_NEAR(fc->weight.std().item<float>(), 0.1f / std::sqrt(3.f), 0.002f);
}

TEST(Init, SameSeedSameWeights) {
  manual_seed(42);
  nn::Linear a(5, 7);
  manual_seed(42);
  nn::Linear b(5, 7);
  EXPECT_TRUE(a->weight.equal(b->weight));
  EXPECT_TRUE(a->bias.equal(b->bias));
  nn::Linear c(5, 7);
  EXPECT_FALSE(a->weight.equal(c->weight));
}

TEST(Init, NormalisationAndPReLUDefaults) {
  nn::BatchNorm2d bn(3);
  EXPECT_EQ(bn->weight.to_vector(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(bn->bias.to_vector(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(bn->running_mean.to_vector(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(bn->running_var.to_vector(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 0);
  nn::LayerNorm ln(nn::LayerNormOptions({2, 3}));
  EXPECT_EQ(ln->weight.sizes(), IntArrayRef({2, 3}));
  EXPECT_EQ(ln->weight.sum().item<float>(), 6.f);
  EXPECT_EQ(ln->bias.abs().sum().item<float>(), 0.f);
  nn::GroupNorm gn(2, 4);
  EXPECT_EQ(gn->weight.to_vector(), (std::vector<float>{1, 1, 1, 1}));
  nn::InstanceNorm2d in(3);
  EXPECT_TRUE(in->parameters().empty());
  EXPECT_TRUE(in->buffers().empty());
  nn::PReLU prelu;
  EXPECT_EQ(prelu->weight.to_vector(), std::vector<float>{0.25f});
  nn::PReLU prelu3(nn::PReLUOptions().num_parameters(3).init(0.1));
  EXPECT_EQ(prelu3->weight.sizes(), IntArrayRef({3}));
  EXPECT_FLOAT_EQ(prelu3->weight[2].item<float>(), 0.1f);
}

TEST(Init, ResetParametersReinitialises) {
  nn::BatchNorm2d bn(2);
  bn(bn_input());
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
  bn->reset_parameters();
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 0);
  EXPECT_EQ(bn->running_mean.to_vector(), (std::vector<float>{0, 0}));
}

// ---- batch norm ------------------------------------------------------------------------------

TEST(BatchNorm2d, TrainingUsesBatchStatsAndUpdatesRunningStats) {
  // bn = nn.BatchNorm2d(2); y = bn(x)
  nn::BatchNorm2d bn(2);
  Tensor y = bn(bn_input());
  expect_near(y, {-1.3242061f, -1.0834414f, -0.8426766f, -0.6019119f, -1.3242061f, -1.0834414f, -0.8426766f,
                  -0.6019119f, 0.6019118f, 0.8426765f, 1.0834413f, 1.3242060f, 0.6019119f, 0.8426764f, 1.0834413f,
                  1.3242060f});
  expect_near(bn->running_mean, {0.055f, 0.095f});
  expect_near(bn->running_var, {0.9197143f, 0.9197143f});
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
  // bn.eval(); bn(x)
  bn->eval();
  expect_near(bn(bn_input()), {-0.0573501f, 0.0469228f, 0.1511956f, 0.2554684f, 0.3180321f, 0.4223050f, 0.5265778f,
                               0.6308506f, 0.7768326f, 0.8811054f, 0.9853783f, 1.0896511f, 1.1522149f, 1.2564876f,
                               1.3607605f, 1.4650333f});
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);  // eval does not count
}

TEST(BatchNorm2d, MomentumNoneIsACumulativeAverage) {
  // bn2 = nn.BatchNorm2d(2, momentum=None); bn2(x); bn2(x * 2)
  nn::BatchNorm2d bn(nn::BatchNorm2dOptions(2).momentum(std::nullopt));
  bn(bn_input());
  bn(bn_input() * 2);
  expect_near(bn->running_mean, {0.825f, 1.425f});
  expect_near(bn->running_var, {0.4928571f, 0.4928571f});
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 2);
}

TEST(BatchNorm2d, WithoutRunningStatsEvalStillUsesBatchStats) {
  nn::BatchNorm2d bn(nn::BatchNorm2dOptions(2).track_running_stats(false));
  Tensor train_out = bn(bn_input());
  bn->eval();
  EXPECT_TRUE(bn(bn_input()).allclose(train_out));
  EXPECT_FALSE(bn->running_mean.defined());
}

TEST(BatchNorm, InputChecksNameTheLayer) {
  nn::BatchNorm2d bn(3);
  EXPECT_EQ(message_of([&] { bn(zeros({8, 3, 4})); }),
            "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true): expected 4D input "
            "(got 3D input of size [8, 3, 4])");
  EXPECT_THROW(bn(zeros({8, 3, 4})), ShapeError);
  EXPECT_EQ(message_of([&] { bn(zeros({8, 4, 2, 2})); }),
            "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true): expected input[8, 4, 2, "
            "2] to have 3 channels (dim 1), but got 4 channels instead");
  // One value per channel has no variance in training (PyTorch refuses it too).
  nn::BatchNorm1d bn1(3);
  EXPECT_THROW(bn1(zeros({1, 3})), ValueError);
  EXPECT_THROW(bn1(zeros({2, 3, 4, 5})), ShapeError);
  EXPECT_EQ(bn1(randn({4, 3})).sizes(), IntArrayRef({4, 3}));
  EXPECT_EQ(bn1(randn({4, 3, 5})).sizes(), IntArrayRef({4, 3, 5}));
  bn1->eval();
  EXPECT_EQ(bn1(zeros({1, 3})).sizes(), IntArrayRef({1, 3}));
}

// ---- convolution -----------------------------------------------------------------------------

namespace {
nn::Conv2d conv3x3(nn::Conv2dOptions::padding_mode_t mode) {
  // c = nn.Conv2d(1, 1, 3, padding=1, padding_mode=mode, bias=False)
  // c.weight = torch.arange(9.).reshape(1, 1, 3, 3) / 10
  nn::Conv2d c(nn::Conv2dOptions(1, 1, 3).padding(1).padding_mode(mode).bias(false));
  NoGradGuard g;
  c->weight.copy_(arange(9, kFloat).reshape({1, 1, 3, 3}) / 10);
  return c;
}
}  // namespace

TEST(Conv2d, PaddingModesMatchTorch) {
  expect_near(conv3x3(kReflect)(small_image()), {9.6f, 11.4f, 12.0f, 18.6f, 20.4f, 21.0f, 16.8f, 18.6f, 19.2f}, 1e-4f);
  expect_near(conv3x3(kCircular)(small_image()), {11.4f, 12.3f, 11.4f, 19.5f, 20.4f, 19.5f, 11.4f, 12.3f, 11.4f},
              1e-4f);
  expect_near(conv3x3(kReplicate)(small_image()), {7.8f, 10.5f, 12.6f, 17.7f, 20.4f, 22.5f, 22.2f, 24.9f, 27.0f},
              1e-4f);
}

TEST(Conv2d, SamePaddingWithEvenKernelPadsBottomRight) {
  // c2 = nn.Conv2d(1, 1, (2, 3), padding='same', bias=False); c2.weight = arange(6.)
  nn::Conv2d c(nn::Conv2dOptions(1, 1, {2, 3}).padding(kSame).bias(false));
  EXPECT_EQ(c->_reversed_padding_repeated_twice, (std::vector<int64_t>{1, 1, 0, 1}));
  {
    NoGradGuard g;
    c->weight.copy_(arange(6, kFloat).reshape({1, 1, 2, 3}));
  }
  expect_near(c(small_image()), {34, 55, 34, 70, 100, 58, 20, 23, 8});
  // The same through reflect padding goes through F::pad with those four numbers.
  nn::Conv2d r(nn::Conv2dOptions(1, 1, {2, 3}).padding(kSame).padding_mode(kReflect).bias(false));
  EXPECT_EQ(r(small_image()).sizes(), IntArrayRef({1, 1, 3, 3}));
}

TEST(Conv2d, InputChecksNameTheLayer) {
  nn::Conv2d conv(3, 64, 3);
  EXPECT_EQ(message_of([&] { conv(zeros({8, 4, 32, 32})); }),
            "Conv2d(3, 64, kernel_size=[3, 3], stride=[1, 1]): expected input[8, 4, 32, 32] to have 3 channels, but "
            "got 4 channels instead");
  EXPECT_THROW(conv(zeros({8, 4, 32, 32})), ShapeError);
  EXPECT_EQ(message_of([&] { conv(zeros({8, 5})); }),
            "Conv2d(3, 64, kernel_size=[3, 3], stride=[1, 1]): expected 3D (unbatched) or 4D (batched) input, but "
            "got input of size: [8, 5]");
  EXPECT_EQ(conv(zeros({3, 8, 8})).sizes(), IntArrayRef({64, 6, 6}));  // unbatched
}

TEST(Conv2d, OptionChecks) {
  EXPECT_THROW(nn::Conv2d(nn::Conv2dOptions(3, 4, 3).groups(2)), ValueError);
  EXPECT_THROW(nn::Conv2d(nn::Conv2dOptions(4, 3, 3).groups(2)), ValueError);
  EXPECT_THROW(nn::Conv2d(nn::Conv2dOptions(0, 3, 3)), ValueError);
  EXPECT_EQ(message_of([] { nn::Conv2d(nn::Conv2dOptions(1, 1, 3).stride(2).padding(kSame)); }),
            "padding='same' is not supported for strided convolutions (stride=[2, 2])");
  nn::Conv2d grouped(nn::Conv2dOptions(4, 6, 3).groups(2));
  EXPECT_EQ(grouped->weight.sizes(), IntArrayRef({6, 2, 3, 3}));
}

// ---- linear, flatten, identity ---------------------------------------------------------------

TEST(Linear, ComputesXWtPlusB) {
  // l.weight = [[1, 2, 3], [4, 5, 6]], l.bias = [0.5, -1]; l([[1, 0, -1], [2, 1, 0]])
  nn::Linear fc(3, 2);
  {
    NoGradGuard g;
    fc->weight.copy_(tensor({{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}}));
    fc->bias.copy_(tensor({0.5f, -1.f}));
  }
  expect_near(fc(tensor({{1.f, 0.f, -1.f}, {2.f, 1.f, 0.f}})), {-1.5f, -3.f, 4.5f, 12.f});
  EXPECT_EQ(message_of([&] { fc(zeros({8, 5})); }),
            "Linear(in_features=3, out_features=2, bias=true): expected input[8, 5] to have 3 features in its last "
            "dimension, but got 5");
  EXPECT_THROW(fc(zeros({8, 5})), ShapeError);
  EXPECT_EQ(fc(zeros({4, 7, 3})).sizes(), IntArrayRef({4, 7, 2}));
}

TEST(Flatten, FlattensTheGivenRange) {
  nn::Flatten flat;
  EXPECT_EQ(flat(zeros({2, 3, 4, 5})).sizes(), IntArrayRef({2, 60}));
  nn::Flatten inner(nn::FlattenOptions().start_dim(1).end_dim(2));
  EXPECT_EQ(inner(zeros({2, 3, 4, 5})).sizes(), IntArrayRef({2, 12, 5}));
  nn::Identity id;
  Tensor x = randn({3});
  EXPECT_TRUE(id(x).is_same(x));
}

// ---- other normalisations --------------------------------------------------------------------

TEST(LayerNorm, NormalisesTrailingDims) {
  // nn.LayerNorm([2])(torch.tensor([[1., 3], [2, 6]]))
  nn::LayerNorm ln(nn::LayerNormOptions({2}));
  expect_near(ln(tensor({{1.f, 3.f}, {2.f, 6.f}})), {-0.999995f, 0.999995f, -0.9999988f, 0.9999988f});
  EXPECT_EQ(message_of([&] { ln(zeros({4, 3})); }),
            "LayerNorm([2], eps=1e-05, elementwise_affine=true): Given normalized_shape=[2], expected input with "
            "shape [*, 2], but got input of size[4, 3]");
}

TEST(GroupNorm, NormalisesChannelGroups) {
  // nn.GroupNorm(2, 4)(torch.arange(8.).reshape(1, 4, 2, 1))
  nn::GroupNorm gn(2, 4);
  expect_near(gn(arange(8, kFloat).reshape({1, 4, 2, 1})),
              {-1.3416355f, -0.4472118f, 0.4472119f, 1.3416355f, -1.3416355f, -0.4472118f, 0.4472119f, 1.3416355f});
  EXPECT_THROW(gn(zeros({1, 6, 2})), ShapeError);
  EXPECT_THROW(nn::GroupNorm(3, 4), ValueError);
}

TEST(InstanceNorm2d, NormalisesEachSampleAndChannel) {
  // nn.InstanceNorm2d(2)(x)
  nn::InstanceNorm2d in(2);
  Tensor y = in(bn_input());
  expect_near(y, {-1.3411045f, -0.4470348f, 0.4470349f, 1.3411046f, -1.3411045f, -0.4470348f, 0.4470350f, 1.3411044f,
                  -1.3411043f, -0.4470350f, 0.4470348f, 1.3411046f, -1.3411049f, -0.4470359f, 0.4470341f, 1.3411040f},
              1e-4f);
  EXPECT_EQ(in(bn_input()[0]).sizes(), IntArrayRef({2, 2, 2}));  // unbatched
  EXPECT_THROW(in(zeros({2, 4})), ShapeError);
  nn::InstanceNorm2d affine(nn::InstanceNorm2dOptions(3).affine(true));
  EXPECT_THROW(affine(zeros({1, 2, 2, 2})), ShapeError);
}

// ---- activations, pooling, dropout -------------------------------------------------------------

TEST(Activation, ModulesCallTheirOps) {
  Tensor x = tensor({-2.f, -0.5f, 0.f, 1.5f});
  expect_near(nn::ReLU()(x), {0.f, 0.f, 0.f, 1.5f});
  expect_near(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2))(x), {-0.4f, -0.1f, 0.f, 1.5f});
  expect_near(nn::Softmax(0)(tensor({0.f, std::log(3.f)})), {0.25f, 0.75f});
  expect_near(nn::LogSoftmax(0)(tensor({0.f, 0.f})), {std::log(0.5f), std::log(0.5f)});
  // nn.PReLU(2)(torch.tensor([[-1., 2], [3, -4]]))
  nn::PReLU prelu(nn::PReLUOptions().num_parameters(2));
  expect_near(prelu(tensor({{-1.f, 2.f}, {3.f, -4.f}})), {-0.25f, 2.f, 3.f, -1.f});
  EXPECT_THROW(prelu(zeros({2, 3})), ShapeError);
  EXPECT_THROW(nn::GELU(nn::GELUOptions().approximate("fast")), ValueError);
  EXPECT_THROW(nn::Hardtanh(nn::HardtanhOptions().min_val(1).max_val(0)), ValueError);
}

TEST(Activation, InplaceWritesIntoTheInputWithoutAutograd) {
  Tensor x = tensor({-1.f, 2.f});
  Tensor y = nn::ReLU(nn::ReLUOptions().inplace(true))(x);
  EXPECT_EQ(x.to_vector(), (std::vector<float>{0.f, 2.f}));
  EXPECT_TRUE(y.is_same(x));
  Tensor z = tensor({-1.f, 2.f});
  nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.5).inplace(true))(z);
  EXPECT_EQ(z.to_vector(), (std::vector<float>{-0.5f, 2.f}));
  // With a gradient to record, the result is out of place and the gradient is right.
  Tensor w = tensor({-1.f, 2.f}).requires_grad_();
  Tensor out = nn::ReLU(nn::ReLUOptions().inplace(true))(w);
  out.sum().backward();
  EXPECT_EQ(w.grad().to_vector(), (std::vector<float>{0.f, 1.f}));
  EXPECT_EQ(w.detach().to_vector(), (std::vector<float>{-1.f, 2.f}));
}

TEST(Pooling, ShapesAndRankChecks) {
  Tensor x = randn({2, 3, 8, 8});
  EXPECT_EQ(nn::MaxPool2d(2)(x).sizes(), IntArrayRef({2, 3, 4, 4}));
  EXPECT_EQ(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1).ceil_mode(true))(x).sizes(),
            IntArrayRef({2, 3, 5, 5}));  // PyTorch: ceil((8 + 2 - 3) / 2) + 1 = 5
  EXPECT_EQ(nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(1))(x).sizes(), IntArrayRef({2, 3, 7, 7}));
  EXPECT_EQ(nn::AdaptiveAvgPool2d(1)(x).sizes(), IntArrayRef({2, 3, 1, 1}));
  auto [values, indices] = nn::AdaptiveMaxPool2d(nn::AdaptiveMaxPool2dOptions({2, 4}))->forward_with_indices(x);
  EXPECT_EQ(values.sizes(), IntArrayRef({2, 3, 2, 4}));
  EXPECT_EQ(indices.dtype(), kLong);
  // F.adaptive_avg_pool2d(torch.arange(12.).reshape(1, 1, 3, 4), (2, None))
  expect_near(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({2, std::nullopt}))(
                  arange(12, kFloat).reshape({1, 1, 3, 4})),
              {2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_EQ(message_of([] { nn::MaxPool2d(2)(zeros({4, 4})); }),
            "MaxPool2d(kernel_size=[2, 2], stride=[2, 2], padding=[0, 0], dilation=[1, 1], ceil_mode=false): expected "
            "3D (C, H, W) or 4D (N, C, H, W) input, but got input of size: [4, 4]");
}

TEST(Dropout, ActiveOnlyInTraining) {
  manual_seed(1);
  nn::Dropout drop(0.5);
  Tensor x = ones({10000});
  Tensor y = drop(x);
  auto v = y.to_vector();
  size_t zeros_count = 0;
  for (float e : v) {
    if (e == 0.f)
      ++zeros_count;
    else
      EXPECT_EQ(e, 2.f);  // survivors scaled by 1 / (1 - p)
  }
  EXPECT_NEAR(static_cast<double>(zeros_count) / 10000, 0.5, 0.03);
  drop->eval();
  EXPECT_TRUE(drop(x).equal(x));
  EXPECT_THROW(nn::Dropout(1.5), ValueError);
  EXPECT_THROW(nn::Dropout2d(-0.1), ValueError);
}

TEST(Dropout2d, ZeroesWholeChannels) {
  manual_seed(3);
  nn::Dropout2d drop(0.5);
  Tensor y = drop(ones({4, 16, 3, 3}));
  auto v = y.to_vector();
  for (size_t plane = 0; plane < 64; ++plane) {
    const float first = v[plane * 9];
    EXPECT_TRUE(first == 0.f || first == 2.f);
    for (size_t i = 1; i < 9; ++i) EXPECT_EQ(v[plane * 9 + i], first);
  }
  EXPECT_EQ(drop(ones({16, 3, 3})).sizes(), IntArrayRef({16, 3, 3}));  // unbatched
}
