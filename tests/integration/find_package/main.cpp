// A user program built against the installed package: forward and backward run.
#include <cnnkit/cnnkit.h>
#include <iostream>
// CMakeLists.txt asks for C++17; the cxx_std_20 usage requirement of cnnkit's targets wins.
static_assert(__cplusplus >= 202002L, "cnnkit::cnnkit must carry cxx_std_20 to its users");
int main() {
  auto net = cnnkit::nn::Sequential(cnnkit::nn::Conv2d(cnnkit::nn::Conv2dOptions(1, 4, 3).padding(1)),
                                    cnnkit::nn::ReLU(), cnnkit::nn::Flatten(), cnnkit::nn::Linear(4 * 8 * 8, 2));
  auto y = net->forward(cnnkit::randn({2, 1, 8, 8}));
  y.sum().backward();
  std::cout << y.sizes() << "\n";
}
