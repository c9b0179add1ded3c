// The layers a convolutional autoencoder, a U-Net or a segmentation head adds:
// padding layers, pixel (un)shuffle, Unflatten, Upsample / F::interpolate and
// ConvTranspose2d, as LibTorch code writes them: construction, printing, small values from
// PyTorch 1.13 (snippets beside them), errors, configs that build them. The golden tests
// (padding, upsample, conv_transpose) check values and gradients on many more shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "cnnkit/cnnkit.h"
#include "cnnkit/models/builder.h"
#include "cnnkit/models/summary.h"
#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"
#include "test_util.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;
using cnnkit::test::contains;
using cnnkit::test::error_of;

namespace {

template <typename M>
std::string str(const M& module) {
  std::ostringstream os;
  os << module;
  return os.str();
}

std::vector<float> values(const Tensor& t) { return t.contiguous().to_vector(); }

// torch.arange(6.).reshape(1, 1, 2, 3)
Tensor small() { return arange(6, kFloat).reshape({1, 1, 2, 3}); }

}  // namespace

TEST(PaddingLayers, PrintLikeLibTorch) {
  EXPECT_EQ(str(nn::ZeroPad2d(1)), "cnnkit::nn::ZeroPad2d(padding=[1, 1, 1, 1])");
  EXPECT_EQ(str(nn::ReflectionPad2d(nn::ReflectionPad2dOptions({1, 2, 3, 0}))),
            "cnnkit::nn::ReflectionPad2d(padding=[1, 2, 3, 0])");
  EXPECT_EQ(str(nn::ReplicationPad2d(2)), "cnnkit::nn::ReplicationPad2d(padding=[2, 2, 2, 2])");
  EXPECT_EQ(str(nn::ConstantPad2d(nn::ConstantPad2dOptions(1, 0.5))),
            "cnnkit::nn::ConstantPad2d(padding=[1, 1, 1, 1], value=0.5)");
  EXPECT_EQ(str(nn::PixelShuffle(2)), "cnnkit::nn::PixelShuffle(upscale_factor=2)");
  EXPECT_EQ(str(nn::PixelUnshuffle(3)), "cnnkit::nn::PixelUnshuffle(downscale_factor=3)");
  EXPECT_EQ(str(nn::Unflatten(1, std::vector<int64_t>{16, 7, 7})),
            "cnnkit::nn::Unflatten(dim=1, unflattened_size=[16, 7, 7])");
}

TEST(PaddingLayers, ValuesMatchTorch) {
  // nn.ReflectionPad2d((1, 0, 1, 0))(x): [[4,3,4,5],[1,0,1,2],[4,3,4,5]]
  EXPECT_EQ(values(nn::ReflectionPad2d(nn::ReflectionPad2dOptions({1, 0, 1, 0}))(small())),
            (std::vector<float>{4, 3, 4, 5, 1, 0, 1, 2, 4, 3, 4, 5}));
  // nn.ReplicationPad2d((0, 1, 0, 1))(x): [[0,1,2,2],[3,4,5,5],[3,4,5,5]]
  EXPECT_EQ(values(nn::ReplicationPad2d(nn::ReplicationPad2dOptions({0, 1, 0, 1}))(small())),
            (std::vector<float>{0, 1, 2, 2, 3, 4, 5, 5, 3, 4, 5, 5}));
  // nn.ConstantPad2d((1, 0, 0, 0), -1.)(x): [[-1,0,1,2],[-1,3,4,5]]
  EXPECT_EQ(values(nn::ConstantPad2d(nn::ConstantPad2dOptions({1, 0, 0, 0}, -1.0))(small())),
            (std::vector<float>{-1, 0, 1, 2, -1, 3, 4, 5}));
  // nn.ZeroPad2d((0, 0, -1, 0))(x) crops the first row: [[3,4,5]]
  EXPECT_EQ(values(nn::ZeroPad2d(nn::ZeroPad2dOptions({0, 0, -1, 0}))(small())), (std::vector<float>{3, 4, 5}));
  // F.pixel_shuffle(torch.arange(8.).reshape(1, 4, 1, 2), 2).flatten(): [0,2,1,3,4,6,5,7]
  const Tensor x = arange(8, kFloat).reshape({1, 4, 1, 2});
  const Tensor y = F::pixel_shuffle(x, 2);
  EXPECT_EQ(y.sizes(), IntArrayRef({1, 1, 2, 4}));
  EXPECT_EQ(values(y), (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
  EXPECT_TRUE(F::pixel_unshuffle(y, 2).equal(x));
  EXPECT_EQ(nn::Unflatten(1, std::vector<int64_t>{2, -1})(zeros({3, 8})).sizes(), IntArrayRef({3, 2, 4}));
}

TEST(PaddingLayers, GradientsFlowBack) {
  Tensor x = small().clone();
  x.set_requires_grad(true);
  nn::ReplicationPad2d pad(nn::ReplicationPad2dOptions({0, 1, 0, 0}));
  pad(x).sum().backward();
  // The last column is read twice.
  EXPECT_EQ(values(x.grad()), (std::vector<float>{1, 1, 2, 1, 1, 2}));
  Tensor z = arange(8, kFloat).reshape({1, 4, 1, 2});
  z.set_requires_grad(true);
  (F::pixel_shuffle(z, 2) * arange(8, kFloat).reshape({1, 1, 2, 4})).sum().backward();
  // d/dz of sum(shuffle(z) * w) is w unshuffled.
  EXPECT_TRUE(z.grad().equal(F::pixel_unshuffle(arange(8, kFloat).reshape({1, 1, 2, 4}), 2)));
}

TEST(PaddingLayers, ErrorsNameTheProblem) {
  // torch: "Argument #4: Padding size should be less than the corresponding input dimension"
  EXPECT_TRUE(contains(error_of([] { nn::ReflectionPad2d(3)(small()); }),
                       "Padding size should be less than the corresponding input dimension"));
  EXPECT_TRUE(contains(error_of([] { nn::ReflectionPad2d(1)(zeros({4})); }), "Padding length too large"));
  EXPECT_TRUE(contains(error_of([] { nn::ReflectionPad2d(1)(zeros({4, 4})); }), "expects a 3-d or 4-d input"));
  EXPECT_TRUE(contains(error_of([] { nn::PixelShuffle(2)(zeros({1, 6, 2, 2})); }),
                       "input.size(-3)=6 is not divisible by 4"));
  EXPECT_TRUE(contains(error_of([] { nn::PixelUnshuffle(2)(zeros({1, 1, 3, 4})); }),
                       "input.size(-2)=3 is not divisible by 2"));
  EXPECT_TRUE(contains(error_of([] { nn::PixelShuffle(0)(zeros({1, 1, 1, 1})); }), "positive upscale_factor"));
  EXPECT_TRUE(contains(error_of([] { nn::PixelShuffle(2)(zeros({4, 2})); }), "at least 3 dimensions"));
  EXPECT_TRUE(contains(error_of([] { nn::Unflatten(1, std::vector<int64_t>{3, 3})(zeros({2, 8})); }), "don't multiply up to the size of dim 1 (8)"));
}

TEST(PaddingLayers, AConfigBuildsThem) {
  nn::Sequential net = models::build_from_yaml(R"(
model:
  input_shape: [1, 8, 8]
  layers:
    - ReflectionPad2d: {padding: 1}
    - Conv2d: {out_channels: 8, kernel_size: 3}
    - PixelUnshuffle: {downscale_factor: 2}
    - ConstantPad2d: {padding: [0, 1, 0, 1], value: 0.5}
    - ZeroPad2d: {padding: [1, 0, 1, 0]}
    - ReplicationPad2d: {padding: 0}
    - PixelShuffle: {upscale_factor: 2}
    - Flatten
    - Unflatten: {dim: 1, unflattened_size: [8, -1]}
)",
                                               "x.yaml");
  EXPECT_EQ(net->size(), 9u);
  EXPECT_EQ(net->forward(zeros({2, 1, 8, 8})).sizes(), IntArrayRef({2, 8, 144}));
  EXPECT_TRUE(contains(error_of([] { models::build_from_yaml("model: {layers: [ConstantPad2d: {padding: 1}]}", "y.yaml"); }),
                       "value"));
}

// ---- Upsample / F::interpolate ------------------------------------------------------------

TEST(Upsample, PrintsAndMatchesTorch) {
  EXPECT_EQ(str(nn::Upsample(nn::UpsampleOptions().scale_factor(std::vector<double>{2, 2}))),
            "cnnkit::nn::Upsample(scale_factor=[2, 2], mode=kNearest)");
  EXPECT_EQ(str(nn::Upsample(nn::UpsampleOptions().size(std::vector<int64_t>{4, 6}).mode(kBilinear))),
            "cnnkit::nn::Upsample(size=[4, 6], mode=kBilinear)");
  // F.interpolate(x, scale_factor=2): each pixel repeated 2 x 2; one value stands for both dims.
  const Tensor x = arange(4, kFloat).reshape({1, 1, 2, 2});
  EXPECT_EQ(values(F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2}))),
            (std::vector<float>{0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3}));
  // F.interpolate(x, size=3, mode="bilinear", align_corners=True): [[0,.5,1],[1,1.5,2],[2,2.5,3]]
  EXPECT_EQ(values(F::interpolate(
                x, F::InterpolateFuncOptions().size(std::vector<int64_t>{3, 3}).mode(kBilinear).align_corners(true))),
            (std::vector<float>{0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3}));
  // F.interpolate(x, size=3, mode="bilinear"): the same but for the corner, 2.9999998 (the
  // sampling point (2 + 0.5) * 2/3 - 0.5 rounded in float)
  const std::vector<float> hp =
      values(F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{3, 3}).mode(kBilinear)));
  const std::vector<float> want = {0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 2.9999998f};
  ASSERT_EQ(hp.size(), want.size());
  for (size_t i = 0; i < hp.size(); ++i) EXPECT_NEAR(hp[i], want[i], 1e-6) << i;
}

// A scale factor that keeps a size: F.interpolate(torch.tensor([[[0., 1.]]]), scale_factor=1.25)
// is [0, 0] (sampled at 1 / 1.25). PyTorch 1.13's backward of that call sends the gradient to
// both inputs, as if the dim had been kept; here the gradient is the forward's own.
TEST(Upsample, AScaleThatKeepsTheSizeStillSamples) {
  Tensor x = tensor({0.0f, 1.0f}).view({1, 1, 2});
  x.set_requires_grad(true);
  const Tensor y = F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{1.25}));
  EXPECT_EQ(values(y), (std::vector<float>{0, 0}));
  y.sum().backward();
  EXPECT_EQ(values(x.grad()), (std::vector<float>{2, 0}));
}

TEST(Upsample, ErrorsAsPyTorchWordsThem) {
  const Tensor x = zeros({1, 1, 4, 4});
  EXPECT_TRUE(contains(error_of([&] { F::interpolate(x, F::InterpolateFuncOptions()); }),
                       "either size or scale_factor should be defined"));
  EXPECT_TRUE(contains(error_of([&] {
                         F::interpolate(x, F::InterpolateFuncOptions()
                                               .size(std::vector<int64_t>{2, 2})
                                               .scale_factor(std::vector<double>{2}));
                       }),
                       "only one of size or scale_factor should be defined"));
  EXPECT_TRUE(contains(error_of([&] {
                         F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{2, 2, 2}));
                       }),
                       "spatial dimensions of [4, 4] and output size of [2, 2, 2]"));
  EXPECT_TRUE(contains(error_of([&] {
                         F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{8}).align_corners(true));
                       }),
                       "align_corners option can only be set with the interpolating modes"));
  EXPECT_TRUE(contains(error_of([&] {
                         F::interpolate(zeros({1, 1, 4}), F::InterpolateFuncOptions().size(std::vector<int64_t>{8})
                                                              .mode(kBilinear));
                       }),
                       "Got 3D input, but bilinear mode needs 4D input"));
  EXPECT_TRUE(contains(error_of([&] {
                         F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{0.1}));
                       }),
                       "Input and output sizes should be greater than 0"));
  EXPECT_TRUE(contains(error_of([&] {
                         F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{-2}));
                       }),
                       "scale_factor must be positive"));
  EXPECT_TRUE(contains(error_of([] { models::build_from_yaml("model: {layers: [Upsample: {size: 4, mode: bicubic}]}", "u.yaml"); }),
                       "expected one of nearest, linear, bilinear, got 'bicubic'"));
}

TEST(Upsample, AnAutoencoderConfigBuildsAndTrainsThroughIt) {
  nn::Sequential net = models::build_from_yaml(R"(
model:
  input_shape: [1, 8, 8]
  layers:
    - Conv2d: {out_channels: 4, kernel_size: 3, stride: 2, padding: 1}
    - ReLU
    - Upsample: {scale_factor: 2, mode: bilinear}
    - Conv2d: {out_channels: 1, kernel_size: 3, padding: 1}
)",
                                               "ae.yaml");
  Tensor x = randn({2, 1, 8, 8});
  Tensor y = net->forward(x);
  EXPECT_EQ(y.sizes(), x.sizes());
  F::mse_loss(y, x).backward();
  for (const auto& p : net->parameters()) EXPECT_TRUE(p.grad().defined());
}

// ---- ConvTranspose2d ----------------------------------------------------------------------

TEST(ConvTranspose2d, PrintsShapesAndChecksLikeLibTorch) {
  nn::ConvTranspose2d up(nn::ConvTranspose2dOptions(16, 8, 3).stride(2).padding(1).output_padding(1));
  EXPECT_EQ(str(up), "cnnkit::nn::ConvTranspose2d(16, 8, kernel_size=[3, 3], stride=[2, 2], padding=[1, 1], "
                     "output_padding=[1, 1])");
  EXPECT_EQ(up->weight.sizes(), IntArrayRef({16, 8, 3, 3}));
  EXPECT_EQ(up(zeros({2, 16, 7, 7})).sizes(), IntArrayRef({2, 8, 14, 14}));
  // output_size picks the output padding: 13 or 14 rows from 7 at stride 2.
  nn::ConvTranspose2d plain(nn::ConvTranspose2dOptions(16, 8, 3).stride(2).padding(1));
  EXPECT_EQ(plain->forward(zeros({2, 16, 7, 7}), std::vector<int64_t>{14, 13}).sizes(), IntArrayRef({2, 8, 14, 13}));
  EXPECT_TRUE(contains(error_of([&] { plain->forward(zeros({2, 16, 7, 7}), std::vector<int64_t>{15, 13}); }),
                       "valid sizes range from 13 to 14"));
  // torch: "output padding must be smaller than either stride or dilation"
  EXPECT_TRUE(contains(error_of([] { nn::ConvTranspose2d(nn::ConvTranspose2dOptions(2, 2, 3).stride(2).output_padding(2)); }),
                       "output padding must be smaller than either stride or dilation"));
  EXPECT_TRUE(contains(error_of([&] { up(zeros({2, 8, 7, 7})); }), "to have 16 channels, but got 8 channels instead"));
  EXPECT_TRUE(contains(error_of([] {
                         F::conv_transpose2d(zeros({1, 2, 1, 1}), zeros({2, 2, 1, 1}),
                                             F::ConvTranspose2dFuncOptions().padding(1));
                       }),
                       "Output size is too small"));
  EXPECT_TRUE(contains(error_of([] {
                         nn::ConvTranspose2d(nn::ConvTranspose2dOptions(2, 2, 3).padding_mode(kReflect));
                       }),
                       "Only \"zeros\" padding mode is supported for ConvTranspose2d"));
}

// conv_transpose2d is conv2d's input gradient: <conv2d(x, w), y> == <x, conv_transpose2d(y, w)>
// for the same stride, padding and dilation (output_padding restoring x's size).
TEST(ConvTranspose2d, IsTheAdjointOfConv2d) {
  manual_seed(3);
  const Tensor x = randn({2, 4, 9, 8}), w = randn({6, 2, 3, 2});
  const Tensor y = conv2d(x, w, {}, {2, 3}, {1, 0}, {1, 2}, /*groups=*/2);
  const Tensor v = randn(y.sizes());
  const Tensor back = F::conv_transpose2d(
      v, w, F::ConvTranspose2dFuncOptions().stride({2, 3}).padding({1, 0}).dilation({1, 2}).groups(2).output_padding({0, 2}));
  ASSERT_EQ(back.sizes(), x.sizes());
  const double lhs = (y * v).sum().item<float>(), rhs = (x * back).sum().item<float>();
  EXPECT_NEAR(lhs, rhs, 1e-3 * std::fabs(lhs));
}

TEST(ConvTranspose2d, AConvolutionalAutoencoderTrains) {
  nn::Sequential net = models::build_from_yaml(R"(
model:
  input_shape: [1, 28, 28]
  layers:
    - Conv2d: {out_channels: 8, kernel_size: 3, stride: 2, padding: 1}
    - ReLU
    - Conv2d: {out_channels: 16, kernel_size: 3, stride: 2, padding: 1}
    - ReLU
    - ConvTranspose2d: {out_channels: 8, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}
    - ReLU
    - ConvTranspose2d: {out_channels: 1, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}
    - Sigmoid
)",
                                               "ae.yaml");
  manual_seed(1);
  const Tensor x = rand({4, 1, 28, 28});
  optim::Adam opt(net->parameters(), optim::AdamOptions(1e-2));
  double first = 0, last = 0;
  for (int step = 0; step < 80; ++step) {
    opt.zero_grad();
    Tensor loss = F::mse_loss(net->forward(x), x);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item<float>();
  }
  EXPECT_LT(last, 0.6 * first) << first << " -> " << last;
}
