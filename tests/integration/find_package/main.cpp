// A user program built against the installed package: forward and backward run.
#include <cnnkit/cnnkit.h>
#include <iostream>
int main() {
  auto net = cnnkit::nn::Sequential(cnnkit::nn::Conv2d(cnnkit::nn::Conv2dOptions(1, 4, 3).padding(1)),
                                    cnnkit::nn::ReLU(), cnnkit::nn::Flatten(), cnnkit::nn::Linear(4 * 8 * 8, 2));
  auto y = net->forward(cnnkit::randn({2, 1, 8, 8}));
  y.sum().backward();
  std::cout << y.sizes() << "\n";
}
