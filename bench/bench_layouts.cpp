// Kept oneDNN layouts vs per-op reorders (kernels/onednn.h): one training step (forward +
// backward of every parameter, no optimiser) of LeNet-5 and of a ResNet-20, written with the
// functional ops, at 1 and 2 threads. Each pair of runs alternates keep / plain
// (onednn::set_keep_layouts) after warm-up and prints the median time per step of each, the
// median of the per-pair ratios, and the reorders one step runs in each mode.
//
//   build-x/bench/bench_layouts [rounds=15] [steps_per_round=5]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "cnnkit/core/rng.h"
#include "cnnkit/core/threads.h"
#include "kernels/onednn.h"
#include "cnnkit/ops/ops.h"

namespace {

using namespace cnnkit;
namespace dnn = kernels::onednn;

double now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

struct Model {
  std::vector<Tensor> params;
  std::function<Tensor(const Tensor&)> forward;
};

Tensor param(IntArrayRef sizes, Generator& g, double scale) {
  return (randn(sizes, g) * scale).set_requires_grad(true);
}

// BENCH.md's LeNet-5 (input 1x28x28).
Model lenet5(Generator& g) {
  Model m;
  Tensor c1w = param({6, 1, 5, 5}, g, 0.2), c1b = param({6}, g, 0.1);
  Tensor c2w = param({16, 6, 5, 5}, g, 0.08), c2b = param({16}, g, 0.1);
  Tensor f1w = param({120, 400}, g, 0.05), f1b = param({120}, g, 0.05);
  Tensor f2w = param({84, 120}, g, 0.09), f2b = param({84}, g, 0.05);
  Tensor f3w = param({10, 84}, g, 0.1), f3b = param({10}, g, 0.05);
  m.params = {c1w, c1b, c2w, c2b, f1w, f1b, f2w, f2b, f3w, f3b};
  m.forward = [=](const Tensor& x) {
    Tensor h = max_pool2d(relu(conv2d(x, c1w, c1b, 1, 2)), {2});
    h = max_pool2d(relu(conv2d(h, c2w, c2b)), {2});
    h = relu(linear(h.flatten(1), f1w, f1b));
    h = relu(linear(h, f2w, f2b));
    return linear(h, f3w, f3b);
  };
  return m;
}

// BENCH.md's ResNet-20 (CIFAR, input 3x32x32): BasicBlocks with a 1x1 conv + BN shortcut
// where the shape changes, batch norm in training mode.
Model resnet20(Generator& g) {
  Model m;
  struct Bn {
    Tensor w, b, rm, rv;
  };
  auto conv_w = [&](int64_t o, int64_t i, int64_t k) {
    Tensor w = param({o, i, k, k}, g, 1.0 / std::sqrt(double(i * k * k)));
    m.params.push_back(w);
    return w;
  };
  auto bn = [&](int64_t c) {
    Bn b{ones({c}).set_requires_grad(true), zeros({c}).set_requires_grad(true), zeros({c}), ones({c})};
    m.params.push_back(b.w);
    m.params.push_back(b.b);
    return b;
  };
  auto bn_apply = [](const Tensor& x, const Bn& b) {
    return batch_norm(x, b.w, b.b, b.rm, b.rv, true, 0.1, 1e-5);
  };
  struct Block {
    Tensor w1, w2, ws;
    Bn b1, b2, bs;
    int64_t stride;
  };
  std::vector<Block> blocks;
  Tensor stem = conv_w(16, 3, 3);
  Bn stem_bn = bn(16);
  int64_t in = 16;
  for (int64_t out : {16, 32, 64}) {
    for (int i = 0; i < 3; ++i) {
      Block b;
      b.stride = (i == 0 && out != 16) ? 2 : 1;
      b.w1 = conv_w(out, in, 3);
      b.b1 = bn(out);
      b.w2 = conv_w(out, out, 3);
      b.b2 = bn(out);
      if (b.stride != 1 || in != out) {
        b.ws = conv_w(out, in, 1);
        b.bs = bn(out);
      }
      blocks.push_back(b);
      in = out;
    }
  }
  Tensor fw = param({10, 64}, g, 0.1), fb = param({10}, g, 0.1);
  m.params.push_back(fw);
  m.params.push_back(fb);
  m.forward = [=](const Tensor& x) {
    Tensor h = relu(bn_apply(conv2d(x, stem, {}, 1, 1), stem_bn));
    for (const Block& b : blocks) {
      Tensor y = relu(bn_apply(conv2d(h, b.w1, {}, b.stride, 1), b.b1));
      y = bn_apply(conv2d(y, b.w2, {}, 1, 1), b.b2);
      Tensor s = b.ws.defined() ? bn_apply(conv2d(h, b.ws, {}, b.stride, 0), b.bs) : h;
      h = relu(y + s);
    }
    return linear(adaptive_avg_pool2d(h, {1}).flatten(1), fw, fb);
  };
  return m;
}

void step(const Model& m, const Tensor& x, const Tensor& r) {
  for (Tensor p : m.params) p.mutable_grad() = Tensor();
  (m.forward(x) * r).sum().backward();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void run(const char* name, const Model& m, const Tensor& x, int rounds, int steps) {
  const Tensor r = randn({x.size(0), 10});
  uint64_t reorders[2];
  for (bool keep : {false, true}) {
    dnn::set_keep_layouts(keep);
    for (int i = 0; i < 3; ++i) step(m, x, r);  // warm-up: primitives, buffers
    dnn::reset_reorder_count();
    step(m, x, r);
    reorders[keep] = dnn::reorder_count();
  }
  std::vector<double> t[2], ratio;
  for (int i = 0; i < rounds; ++i) {
    double ms[2];
    for (bool keep : {i % 2 == 0, i % 2 != 0}) {  // alternate which mode runs first
      dnn::set_keep_layouts(keep);
      step(m, x, r);
      const double t0 = now_ms();
      for (int s = 0; s < steps; ++s) step(m, x, r);
      ms[keep] = (now_ms() - t0) / steps;
      t[keep].push_back(ms[keep]);
    }
    ratio.push_back(ms[0] / ms[1]);
  }
  std::printf("%-10s batch %3ld threads %d: plain %8.3f ms  kept %8.3f ms  speed-up %.2fx  "
              "reorders/step plain %lu kept %lu\n",
              name, long(x.size(0)), get_num_threads(), median(t[0]), median(t[1]),
              median(ratio), (unsigned long)reorders[0], (unsigned long)reorders[1]);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 15;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 5;
  Generator g(0);
  const Model lenet = lenet5(g), resnet = resnet20(g);
  const Tensor x_lenet64 = randn({64, 1, 28, 28}, g), x_lenet256 = randn({256, 1, 28, 28}, g);
  const Tensor x_resnet = randn({64, 3, 32, 32}, g);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    run("lenet5", lenet, x_lenet64, rounds, steps);
    run("lenet5", lenet, x_lenet256, rounds, steps);
    run("resnet20", resnet, x_resnet, std::max(3, rounds / 3), 1);
  }
  return 0;
}
