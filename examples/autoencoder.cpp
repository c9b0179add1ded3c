// A convolutional autoencoder on Fashion-MNIST, written as LibTorch code (torch:: -> cnnkit::):
// two strided Conv2d layers encode a 28x28 image into 32 maps of 7x7, two ConvTranspose2d
// layers decode it back, and MSELoss compares the reconstruction with the input. Prints the
// mean squared reconstruction error of the test split after each epoch, and writes a PNG of
// 8 test images above their reconstructions.
//   build/examples/autoencoder [epochs=3] [data_dir=/usr/share/datasets/fashion-mnist] [out=autoencoder.png]
#include <cnnkit/cnnkit.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

using namespace cnnkit;

struct AutoencoderImpl : nn::Module {
  AutoencoderImpl() {
    encoder = register_module(
        "encoder", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 16, 3).stride(2).padding(1)), nn::ReLU(),
                                  nn::Conv2d(nn::Conv2dOptions(16, 32, 3).stride(2).padding(1)), nn::ReLU()));
    decoder = register_module(
        "decoder",
        nn::Sequential(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(32, 16, 3).stride(2).padding(1).output_padding(1)),
                       nn::ReLU(),
                       nn::ConvTranspose2d(nn::ConvTranspose2dOptions(16, 1, 3).stride(2).padding(1).output_padding(1)),
                       nn::Sigmoid()));
  }
  // (N, 1, 28, 28) in [0, 1] -> (N, 32, 7, 7) -> (N, 1, 28, 28) in [0, 1]
  Tensor forward(const Tensor& x) { return decoder(encoder(x)); }

  nn::Sequential encoder{nullptr}, decoder{nullptr};
};
CNNKIT_MODULE(Autoencoder);

// The test split's mean squared error per pixel.
template <typename Loader>
double test_mse(Autoencoder& model, Loader& loader) {
  NoGradGuard no_grad;
  model->eval();
  double sum = 0;
  int64_t pixels = 0;
  for (auto& batch : loader) {
    sum += nn::functional::mse_loss(model(batch.data), batch.data, nn::functional::MSELossFuncOptions(kSum))
               .template item<double>();
    pixels += batch.data.numel();
  }
  model->train();
  return sum / static_cast<double>(pixels);
}

int main(int argc, char** argv) {
  const int64_t epochs = argc > 1 ? std::stoll(argv[1]) : 3;
  const std::string root = argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist";
  const std::string out = argc > 3 ? argv[3] : "autoencoder.png";
  try {
    // uint8 images -> float in [0, 1] (ToTensor); the labels are not used.
    const data::transforms::ToTensor to_unit;
    auto train_set = data::datasets::FashionMNIST(root, data::datasets::MNIST::Mode::kTrain)
                         .map(to_unit)
                         .map(data::transforms::Stack<>());
    auto test_set = data::datasets::FashionMNIST(root, data::datasets::MNIST::Mode::kTest)
                        .map(to_unit)
                        .map(data::transforms::Stack<>());
    auto train_loader = data::make_data_loader<data::samplers::RandomSampler>(
        std::move(train_set), data::DataLoaderOptions().batch_size(64).workers(2));
    auto test_loader = data::make_data_loader(std::move(test_set), data::DataLoaderOptions().batch_size(256));

    manual_seed(0);
    Autoencoder model;
    std::cout << models::summary(model, {1, 1, 28, 28}).table();
    optim::Adam optimizer(model->parameters(), optim::AdamOptions(1e-3));
    std::printf("epoch 0: test reconstruction MSE %.5f (untrained)\n", test_mse(model, *test_loader));
    for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      double train_sum = 0;
      int64_t batches = 0;
      for (auto& batch : *train_loader) {
        optimizer.zero_grad();
        Tensor loss = nn::functional::mse_loss(model(batch.data), batch.data);
        loss.backward();
        optimizer.step();
        train_sum += loss.item<double>();
        ++batches;
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("epoch %lld: train MSE %.5f, test reconstruction MSE %.5f (%.1f s)\n", static_cast<long long>(epoch),
                  train_sum / static_cast<double>(batches), test_mse(model, *test_loader), seconds);
    }

    // 8 test images (top row) and their reconstructions (bottom row), 2x enlarged.
    NoGradGuard no_grad;
    model->eval();
    auto first = data::datasets::FashionMNIST(root, data::datasets::MNIST::Mode::kTest);
    std::vector<Tensor> images;
    for (size_t i = 0; i < 8; ++i) images.push_back(to_unit(first.get(i).data));
    const Tensor x = stack(images);                                    // (8, 1, 28, 28)
    const Tensor y = model(x);
    const Tensor top = cat(x.unbind(0), 2), bottom = cat(y.unbind(0), 2);  // (1, 28, 224) each
    Tensor grid = cat({top, bottom}, 1);                                    // (1, 56, 224)
    grid = nn::functional::interpolate(grid.unsqueeze(0), nn::functional::InterpolateFuncOptions().scale_factor(
                                                              std::vector<double>{2, 2}))
               .squeeze(0);
    data::write_png(out, grid.mul(255.0).round().clamp(0, 255).to(kByte));
    std::cout << "wrote " << out << "\n";
  } catch (const Error& e) {
    std::cerr << "autoencoder: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
