// The article's PyTorch snippets (shared/seed, sections 2.1-3.5), one by one, in cnnkit.
// Each block quotes the Python line it mirrors. Run: build/examples/article_walkthrough
// Sections 3.1-3.4 (transforms, losses, optimisers, schedules) arrive with the training
// issue (#3); until then this walkthrough trains with a hand-written loss and SGD step,
// which is also how the article's custom layer and custom penalty are meant to be used.
#include <cnnkit/cnnkit.h>

#include <cmath>
#include <iostream>

using namespace cnnkit;

namespace {

void show(const char* python, const std::string& what, const Tensor& out) {
  std::cout << "  " << python << "\n    -> " << what << " output " << out.sizes() << "\n";
}

// class Swish(nn.Module):
//     def forward(self, x):
//         return x * torch.sigmoid(x)
struct SwishImpl : nn::Module {
  Tensor forward(const Tensor& x) { return x * cnnkit::sigmoid(x); }
};
TORCH_MODULE(Swish);

// A small net built from the article's pieces, to train with the custom layer and loss.
struct TinyNetImpl : nn::Module {
  TinyNetImpl() {
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(3, 8, 3).padding(1)));
    bn = register_module("bn", nn::BatchNorm2d(8));
    act = register_module("act", Swish());
    pool = register_module("pool", nn::AdaptiveAvgPool2d(1));
    fc = register_module("fc", nn::Linear(8, 1));
  }
  Tensor forward(Tensor x) {
    x = pool(act(bn(conv(x))));
    return fc(x.flatten(1));
  }
  nn::Conv2d conv{nullptr};
  nn::BatchNorm2d bn{nullptr};
  Swish act{nullptr};
  nn::AdaptiveAvgPool2d pool{nullptr};
  nn::Linear fc{nullptr};
};
TORCH_MODULE(TinyNet);

}  // namespace

int main() {
  manual_seed(0);
  Tensor image = randn({2, 3, 32, 32});  // a batch of two RGB 32x32 images

  std::cout << "2.1 Convolution layers\n";
  // conv_layer_small = nn.Conv2d(3, 64, 3)
  auto conv_layer_small = nn::Conv2d(3, 64, 3);
  show("nn.Conv2d(3, 64, 3)", "3x3 kernel", conv_layer_small(image));
  // conv_layer_large = nn.Conv2d(3, 5)
  // The article omits out_channels; its comment says "a 5x5 kernel", so: 3 -> 64, 5x5.
  auto conv_layer_large = nn::Conv2d(3, 64, 5);
  show("nn.Conv2d(3, 5)  [intent: nn.Conv2d(3, 64, 5)]", "5x5 kernel", conv_layer_large(image));
  // conv_layer_stride2 = nn.Conv2d(3, 3, stride=2)
  // Read as in=3, kernel 3 (out_channels omitted as in the lines around it): 3 -> 64.
  auto conv_layer_stride2 = nn::Conv2d(nn::Conv2dOptions(3, 64, 3).stride(2));
  show("nn.Conv2d(3, 3, stride=2)  [intent: nn.Conv2d(3, 64, 3, stride=2)]", "stride 2",
       conv_layer_stride2(image));
  // conv_layer_padding1 = nn.Conv2d(3, padding=1)
  auto conv_layer_padding1 = nn::Conv2d(nn::Conv2dOptions(3, 64, 3).padding(1));
  show("nn.Conv2d(3, padding=1)  [intent: nn.Conv2d(3, 64, 3, padding=1)]", "same size",
       conv_layer_padding1(image));
  // conv_layer_dilated = nn.Conv2d(3, dilation=2)
  auto conv_layer_dilated = nn::Conv2d(nn::Conv2dOptions(3, 64, 3).dilation(2));
  show("nn.Conv2d(3, dilation=2)  [intent: nn.Conv2d(3, 64, 3, dilation=2)]", "dilation 2",
       conv_layer_dilated(image));
  // conv_layer_grouped = nn.Conv2d(3, groups=2)
  // Two groups need channel counts divisible by 2; 3 input channels cannot be split, so
  // the grouped example takes 4 input channels: nn.Conv2d(4, 64, 3, groups=2).
  auto conv_layer_grouped = nn::Conv2d(nn::Conv2dOptions(4, 64, 3).groups(2));
  show("nn.Conv2d(3, groups=2)  [intent: nn.Conv2d(4, 64, 3, groups=2)]", "2 groups",
       conv_layer_grouped(randn({2, 4, 32, 32})));

  std::cout << "2.2 Activation functions\n";
  Tensor feature = conv_layer_small(image);
  auto relu = nn::ReLU();                 // relu = nn.ReLU()
  auto leaky_relu = nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.01));  // nn.LeakyReLU(0.01)
  auto sigmoid = nn::Sigmoid();           // sigmoid = nn.Sigmoid()
  auto tanh = nn::Tanh();                 // tanh = nn.Tanh()
  auto swish = Swish();                   // class Swish(nn.Module) ... (defined above)
  show("nn.ReLU()", "min " + std::to_string(relu(feature).min().item<float>()), relu(feature));
  show("nn.LeakyReLU(0.01)", "leaky", leaky_relu(feature));
  show("nn.Sigmoid()", "max " + std::to_string(sigmoid(feature).max().item<float>()), sigmoid(feature));
  show("nn.Tanh()", "tanh", tanh(feature));
  show("Swish()", "x * sigmoid(x)", swish(feature));
  // "Softmax, Mish, ELU ..." mentioned in the same section:
  show("nn.Softmax(1)", "softmax", nn::Softmax(1)(feature));
  show("nn.Mish()", "mish", nn::Mish()(feature));
  show("nn.ELU()", "elu", nn::ELU()(feature));

  std::cout << "2.3 Pooling layers\n";
  auto max_pooling = nn::MaxPool2d(2);                        // nn.MaxPool2d(2)
  auto average_pooling = nn::AvgPool2d(2);                    // nn.AvgPool2d(2)
  auto global_average_pooling = nn::AdaptiveAvgPool2d(1);     // nn.AdaptiveAvgPool2d(1)
  show("nn.MaxPool2d(2)", "2x2 max", max_pooling(feature));
  show("nn.AvgPool2d(2)", "2x2 average", average_pooling(feature));
  show("nn.AdaptiveAvgPool2d(1)", "global average", global_average_pooling(feature));

  std::cout << "2.4 Normalisation layers\n";
  auto batch_norm = nn::BatchNorm2d(nn::BatchNorm2dOptions(/*num_features=*/64));
  auto layer_norm = nn::LayerNorm(nn::LayerNormOptions({/*normalized_shape=*/64}));
  auto instance_norm = nn::InstanceNorm2d(nn::InstanceNorm2dOptions(/*num_features=*/64));
  auto group_norm = nn::GroupNorm(nn::GroupNormOptions(/*num_groups=*/32, /*num_channels=*/64));
  show("nn.BatchNorm2d(num_features=64)", "batch norm", batch_norm(feature));
  // LayerNorm(64) normalises the last dim, so give it channels last: (N, H, W, C).
  show("nn.LayerNorm(normalized_shape=64)", "layer norm (channels last)",
       layer_norm(feature.permute({0, 2, 3, 1})));
  show("nn.InstanceNorm2d(num_features=64)", "instance norm", instance_norm(feature));
  show("nn.GroupNorm(num_groups=32, num_channels=64)", "group norm", group_norm(feature));

  std::cout << "3.5 Regularisation: custom loss with L1 and L2 penalties, trained\n";
  // loss = loss + l1_lambda * torch.norm(weights, 1) + l2_lambda * torch.norm(weights, 2)
  const double l1_lambda = 0.0005, l2_lambda = 0.0001;
  auto model = TinyNet();
  Tensor x = randn({16, 3, 8, 8});
  Tensor target = x.mean({1, 2, 3}).unsqueeze(1) * 3.0;  // a learnable regression target
  const double lr = 0.05;
  float first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    Tensor loss = (model(x) - target).pow(2).mean();  // MSE, written by hand
    Tensor weights = model->conv->weight;
    loss = loss + l1_lambda * cnnkit::norm(weights, 1) + l2_lambda * cnnkit::norm(weights, 2);
    model->zero_grad();
    loss.backward();
    {
      NoGradGuard no_grad;  // a plain SGD step
      for (auto& p : model->parameters()) p.sub_(p.grad(), lr);
    }
    if (step == 0) first = loss.item<float>();
    last = loss.item<float>();
  }
  std::cout << "  loss " << first << " -> " << last << " after 60 SGD steps\n";
  if (!(last < first * 0.5f)) {
    std::cerr << "article_walkthrough: the custom loss did not decrease enough\n";
    return 1;
  }
  std::cout << "article walkthrough: all snippets ran\n";
  return 0;
}
