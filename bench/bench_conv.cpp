// W4 of BENCH.md: one Conv2d, forward (no grad) and forward+backward (input, weight and
// bias gradients), on configs a..g, at 1 and 2 threads, reporting GFLOP/s as a counter
// (counter "GFLOP" as a rate, i.e. GFLOP/s; forward FLOPs = 2*N*C_out*H_out*W_out*
// (C_in/groups)*kH*kW, forward+backward = 3x).
// Also "Algo/...": each conv pass by each kernel algorithm, the measurements behind the
// registry in kernels/conv.cpp; "Wgrad3x3/...": ResNet-20's weight gradients by oneDNN, by
// kernels/wgrad3x3 and by kernels/winograd's F(2x2, 3x3); "Winograd3x3/..." and "Direct3x3/...": their forward and
// backward-data passes by kernels/winograd, kernels/direct3x3 and oneDNN; "WinogradWeights/...":
// the Winograd weight transform; "BatchNormReluBackward/...": the fused batch norm backward
// writing dx into a fresh buffer or over dy. bench/torch_conv.py is the PyTorch twin of the W4 part;
// bench/run_conv_compare.sh runs both and prints ratios.
#include <benchmark/benchmark.h>
#include <oneapi/dnnl/dnnl.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/threads.h"
#include "kernels/conv.h"
#include "kernels/direct3x3.h"
#include "kernels/norm.h"
#include "kernels/wgrad3x3.h"
#include "kernels/winograd.h"
#include "cnnkit/ops/conv.h"

namespace {

using cnnkit::Tensor;

struct Config {
  const char* name;
  int64_t N, C_in, C_out, k, stride, padding, dilation, groups, H;
};
// BENCH.md, "W4 conv configs" (square inputs and kernels).
const Config kConfigs[] = {
    {"a_3x3", 32, 64, 64, 3, 1, 1, 1, 1, 32},
    {"b_stem7x7", 8, 3, 64, 7, 2, 3, 1, 1, 112},
    {"c_depthwise", 32, 128, 128, 3, 1, 1, 1, 128, 28},
    {"d_dilated", 32, 64, 64, 3, 1, 2, 2, 1, 32},
    {"e_grouped", 32, 128, 128, 3, 1, 1, 1, 4, 28},
    {"f_pointwise", 32, 128, 256, 1, 1, 0, 1, 1, 28},
    {"g_lenet_conv2", 64, 6, 16, 5, 1, 0, 1, 1, 14},
};

int64_t out_size(const Config& c) {
  return (c.H + 2 * c.padding - c.dilation * (c.k - 1) - 1) / c.stride + 1;
}
double forward_flops(const Config& c) {
  const double o = static_cast<double>(out_size(c));
  return 2.0 * c.N * c.C_out * o * o * (c.C_in / c.groups) * c.k * c.k;
}

Tensor filled(const std::vector<int64_t>& sizes, float scale) {
  Tensor t = cnnkit::empty(sizes);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = scale * static_cast<float>((i * 7) % 19 - 9);
  return t;
}

// input_grad false: a first layer, whose backward computes only the weight and bias gradients
// (forward+backward FLOPs = 2x forward then).
void conv_benchmark(benchmark::State& state, const Config& c, bool backward, int threads,
                    bool input_grad = true) {
  cnnkit::set_num_threads(threads);
  Tensor x = filled({c.N, c.C_in, c.H, c.H}, 0.1f);
  Tensor w = filled({c.C_out, c.C_in / c.groups, c.k, c.k}, 0.01f);
  Tensor b = filled({c.C_out}, 0.1f);
  const int64_t o = out_size(c);
  Tensor gy = filled({c.N, c.C_out, o, o}, 0.01f);
  if (backward) {
    x.set_requires_grad(input_grad);
    w.set_requires_grad(true);
    b.set_requires_grad(true);
  }
  auto step = [&] {
    if (backward) {
      Tensor y = cnnkit::conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
      y.backward(gy);
    } else {
      cnnkit::NoGradGuard no_grad;
      Tensor y = cnnkit::conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
      benchmark::DoNotOptimize(y.data_ptr());
    }
  };
  step();  // warm-up: primitive creation (JIT) and first-touch of buffers
  for (auto _ : state) step();
  const double flops = forward_flops(c) * (!backward ? 1.0 : input_grad ? 3.0 : 2.0);
  state.counters["GFLOP"] = benchmark::Counter(flops * 1e-9 * static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate);
}

// One pass of one shape by one algorithm, straight on the kernels (no autograd).
enum class Pass { forward, backward_data, backward_weights };
void algo_benchmark(benchmark::State& state, const Config& c, Pass pass,
                    cnnkit::kernels::ConvAlgo algo, int threads) {
  cnnkit::set_num_threads(threads);
  namespace k = cnnkit::kernels;
  k::Conv2dShape s;
  s.N = c.N, s.C_in = c.C_in, s.H = s.W = c.H, s.C_out = c.C_out, s.kH = s.kW = c.k;
  s.groups = c.groups, s.stride_h = s.stride_w = c.stride, s.dil_h = s.dil_w = c.dilation;
  s.pad_t = s.pad_l = s.pad_b = s.pad_r = c.padding, s.H_out = s.W_out = out_size(c);
  s.has_bias = true;
  Tensor x = filled({c.N, c.C_in, c.H, c.H}, 0.1f), w = filled({c.C_out, c.C_in / c.groups, c.k, c.k}, 0.01f);
  Tensor b = filled({c.C_out}, 0.1f), y = filled({c.N, c.C_out, s.H_out, s.W_out}, 0.01f);
  Tensor gx = cnnkit::empty(x.sizes()), gw = cnnkit::empty(w.sizes()), gb = cnnkit::empty(b.sizes());
  auto step = [&] {
    switch (pass) {
      case Pass::forward:
        k::conv2d_forward(y.data_ptr<float>(), x.data_ptr<float>(), w.data_ptr<float>(),
                          b.data_ptr<float>(), s, algo, true);
        break;
      case Pass::backward_data:
        k::conv2d_backward(gx.data_ptr<float>(), nullptr, nullptr, y.data_ptr<float>(),
                           x.data_ptr<float>(), w.data_ptr<float>(), s, algo, algo, nullptr);
        break;
      case Pass::backward_weights:
        k::conv2d_backward(nullptr, gw.data_ptr<float>(), gb.data_ptr<float>(), y.data_ptr<float>(),
                           x.data_ptr<float>(), w.data_ptr<float>(), s, algo, algo, nullptr);
        break;
    }
  };
  step();
  for (auto _ : state) step();
  state.counters["GFLOP"] = benchmark::Counter(
      forward_flops(c) * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The core clock, from a chain of dependent adds (one per cycle on every x86 core since the
// Pentium Pro), timed in this thread's CPU time so that a busy machine does not skew it.
double measure_clock_ghz() {
  const long iters = 100'000'000;
  const double t0 = thread_cpu_seconds();
  long n = iters, acc = 0;
  asm volatile(
      "1:\n\t"
      "add $1, %1\n\tadd $1, %1\n\tadd $1, %1\n\tadd $1, %1\n\t"
      "add $1, %1\n\tadd $1, %1\n\tadd $1, %1\n\tadd $1, %1\n\t"
      "dec %0\n\tjnz 1b"
      : "+r"(n), "+r"(acc));
  const double s = thread_cpu_seconds() - t0;
  return 8.0 * static_cast<double>(iters) / s * 1e-9;
}

}  // namespace

// The fused batch norm + ReLU backward (kernels/norm.h) on ResNet-20's first-stage shape at
// batch 64 (nChw16c where the CPU has AVX-512, else nChw8c), writing dx into a fresh buffer or
// over dy (as ops/norm.cpp does when nothing else reads dy). Before each call dy is restored
// and a 64 MiB sweep pushes the operands out of L2, as the step's other passes do; only the
// call is timed.
void batch_norm_backward_benchmark(benchmark::State& state, bool over_dy, int threads) {
  cnnkit::set_num_threads(threads);
  namespace k = cnnkit::kernels;
  const int64_t N = 64, C = 16, S = 32 * 32;
  const int block = k::batch_norm_relu_blocked_supported(C, 16) ? 16 : 8;
  const Tensor x = filled({N, C, S}, 0.5f), dy0 = filled({N, C, S}, 0.25f);
  Tensor dy = cnnkit::empty(dy0.sizes()), dx = cnnkit::empty(dy0.sizes()), sweep = filled({16 << 20}, 1.0f);
  const Tensor mean = filled({C}, 0.1f), var = filled({C}, 1.0f), scale = filled({C}, 1.0f), shift = filled({C}, 0.0f);
  Tensor dw = cnnkit::empty({C}), db = cnnkit::empty({C});
  float* out = over_dy ? dy.data_ptr<float>() : dx.data_ptr<float>();
  volatile float sink = 0;
  for (auto _ : state) {
    std::copy(dy0.data_ptr<float>(), dy0.data_ptr<float>() + dy0.numel(), dy.data_ptr<float>());
    float sum = 0;
    for (int64_t i = 0; i < sweep.numel(); i += 16) sum += sweep.data_ptr<float>()[i];
    sink = sink + sum;
    const auto t0 = std::chrono::steady_clock::now();
    k::batch_norm_relu_backward_blocked(out, nullptr, dw.data_ptr<float>(), db.data_ptr<float>(), dy.data_ptr<float>(),
                                        x.data_ptr<float>(), nullptr, mean.data_ptr<float>(), var.data_ptr<float>(),
                                        scale.data_ptr<float>(), shift.data_ptr<float>(), scale.data_ptr<float>(),
                                        1e-5, N, C, S, block);
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}

int main(int argc, char** argv) {
  for (const Config& c : kConfigs) {
    for (int threads : {1, 2}) {
      const std::string t = "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(("W4/" + std::string(c.name) + "/fwd" + t).c_str(),
                                   [c, threads](benchmark::State& s) { conv_benchmark(s, c, false, threads); })
          ->UseRealTime()->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("W4/" + std::string(c.name) + "/fwd_bwd" + t).c_str(),
                                   [c, threads](benchmark::State& s) { conv_benchmark(s, c, true, threads); })
          ->UseRealTime()->Unit(benchmark::kMillisecond);
    }
  }
  // Beyond BENCH.md's list: LeNet-5's first layer as W1 runs it (no input gradient).
  const Config lenet_conv1{"h_lenet_conv1", 64, 1, 6, 5, 1, 2, 1, 1, 28};
  for (int threads : {1, 2}) {
    const std::string t = "/threads:" + std::to_string(threads);
    benchmark::RegisterBenchmark(("W4/h_lenet_conv1/fwd" + t).c_str(),
                                 [=](benchmark::State& s) { conv_benchmark(s, lenet_conv1, false, threads); })
        ->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("W4/h_lenet_conv1/fwd_bwd_weights" + t).c_str(),
                                 [=](benchmark::State& s) { conv_benchmark(s, lenet_conv1, true, threads, false); })
        ->UseRealTime()->Unit(benchmark::kMillisecond);
  }
  // Shapes at the edge of the registry's rules: few input channels (first layers).
  const Config algo_shapes[] = {
      {"lenet_conv1", 64, 1, 6, 5, 1, 2, 1, 1, 28},
      {"c1_32_3x3", 64, 1, 32, 3, 1, 1, 1, 1, 28},
      {"c2_8_3x3", 64, 2, 8, 3, 1, 1, 1, 1, 28},
      {"resnet_stem", 64, 3, 16, 3, 1, 1, 1, 1, 32},
      {"lenet_conv2", 64, 6, 16, 5, 1, 0, 1, 1, 14},
  };
  const char* pass_names[] = {"fwd", "bwd_data", "bwd_weights"};
  for (const Config& c : algo_shapes)
    for (int p = 0; p < 3; ++p)
      for (auto algo : {cnnkit::kernels::ConvAlgo::onednn, cnnkit::kernels::ConvAlgo::im2col_gemm,
                        cnnkit::kernels::ConvAlgo::direct})
        for (int threads : {1, 2}) {
          // direct is a backward-weights kernel; the other passes would rerun oneDNN's
          if (algo == cnnkit::kernels::ConvAlgo::direct && p != 2) continue;
          const std::string name = "Algo/" + std::string(c.name) + "/" + pass_names[p] + "/" +
                                   cnnkit::kernels::to_string(algo) + "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), [c, p, algo, threads](benchmark::State& s) {
            algo_benchmark(s, c, static_cast<Pass>(p), algo, threads);
          })->UseRealTime()->Unit(benchmark::kMillisecond);
        }

  // ResNet-20's 3x3 stride-1 weight gradients at batch 64, by oneDNN, by kernels/wgrad3x3's direct
  // sums and by kernels/winograd's F(2x2, 3x3) tiles (all after the same reorders of the plain
  // operands to nChw8c, or nChw16c on AVX-512).
  const Config resnet_shapes[] = {
      {"resnet20_16ch", 64, 16, 16, 3, 1, 1, 1, 1, 32},
      {"resnet20_32ch", 64, 32, 32, 3, 1, 1, 1, 1, 16},
      {"resnet20_64ch", 64, 64, 64, 3, 1, 1, 1, 1, 8},
  };
  const char* wgrad_names[] = {"onednn", "wgrad3x3", "winograd2x2"};
  for (const Config& c : resnet_shapes)
    for (int variant = 0; variant < 3; ++variant)
      for (int threads : {1, 2}) {
        const std::string name = "Wgrad3x3/" + std::string(c.name) + "/" + wgrad_names[variant] +
                                 "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), [c, variant, threads](benchmark::State& s) {
          namespace wg = cnnkit::kernels::wgrad3x3;
          namespace wino = cnnkit::kernels::winograd;
          wg::set_use(variant == 1 ? wg::Use::always : wg::Use::never);
          wino::set_weight_grad_use(variant == 2 ? wino::WeightGrad::always : wino::WeightGrad::never);
          if (variant == 2) wino::set_tile(2);
          algo_benchmark(s, c, Pass::backward_weights, cnnkit::kernels::ConvAlgo::onednn, threads);
          wino::set_tile(0);
          wino::set_weight_grad_use(wino::WeightGrad::automatic);
          wg::set_use(wg::Use::automatic);
        })->UseRealTime()->Unit(benchmark::kMillisecond);
      }

  for (bool over_dy : {false, true})
    for (int threads : {1, 2}) {
      const std::string name = std::string("BatchNormReluBackward/resnet20_16ch/") +
                               (over_dy ? "over_dy" : "fresh") + "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), [over_dy, threads](benchmark::State& s) {
        batch_norm_backward_benchmark(s, over_dy, threads);
      })->UseManualTime()->Unit(benchmark::kMillisecond);
    }

  // The same shapes' forward and backward-data passes: kernels/winograd against oneDNN's.
  for (const Config& c : resnet_shapes)
    for (int p = 0; p < 2; ++p)
      for (bool kernel : {false, true})
        for (int threads : {1, 2}) {
          const std::string name = "Winograd3x3/" + std::string(c.name) + "/" + pass_names[p] +
                                   (kernel ? "/winograd" : "/onednn") + "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), [c, p, kernel, threads](benchmark::State& s) {
            cnnkit::kernels::winograd::set_enabled(kernel);
            cnnkit::kernels::direct3x3::set_enabled(false);
            algo_benchmark(s, c, static_cast<Pass>(p), cnnkit::kernels::ConvAlgo::onednn, threads);
            cnnkit::kernels::winograd::set_enabled(true);
            cnnkit::kernels::direct3x3::set_enabled(true);
          })->UseRealTime()->Unit(benchmark::kMillisecond);
        }

  // And kernels/direct3x3 against oneDNN's on them (where conv2d sends it: the 16-channel
  // shape in nChw16c; elsewhere the rows show what the Winograd kernel replaced it with).
  for (const Config& c : resnet_shapes)
    for (int p = 0; p < 2; ++p)
      for (bool kernel : {false, true})
        for (int threads : {1, 2}) {
          const std::string name = "Direct3x3/" + std::string(c.name) + "/" + pass_names[p] +
                                   (kernel ? "/direct3x3" : "/onednn") + "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), [c, p, kernel, threads](benchmark::State& s) {
            cnnkit::kernels::winograd::set_enabled(false);
            cnnkit::kernels::direct3x3::set_enabled(kernel);
            algo_benchmark(s, c, static_cast<Pass>(p), cnnkit::kernels::ConvAlgo::onednn, threads);
            cnnkit::kernels::winograd::set_enabled(true);
            cnnkit::kernels::direct3x3::set_enabled(true);
          })->UseRealTime()->Unit(benchmark::kMillisecond);
        }

  // The Winograd weight transform that every training call runs (F(4x4, 3x3), C -> C channels).
  for (int64_t channels : {16, 32, 64})
    for (int threads : {1, 2}) {
      const std::string name =
          "WinogradWeights/" + std::to_string(channels) + "ch/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), [channels, threads](benchmark::State& s) {
        cnnkit::set_num_threads(threads);
        const Tensor w = filled({channels, channels, 3, 3}, 0.01f);
        cnnkit::kernels::winograd::Weights u;
        for (auto _ : s) {
          cnnkit::kernels::winograd::transform_weights_into(u, w.data_ptr<float>(), channels, channels, 4);
          benchmark::DoNotOptimize(u.U.data());
        }
      })->UseRealTime()->Unit(benchmark::kMicrosecond);
    }

  const double ghz = measure_clock_ghz();
  // 32 FLOP/cycle with two 256-bit FMA units (AVX2, the Zen 3 machines of BENCH.md); a core
  // with two 512-bit FMA units does 64 (oneDNN then runs its avx512_core kernels).
  const auto isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
  const bool avx512 = (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
  const double per_cycle = avx512 ? 64 : 32;
  char buf[200];
  std::snprintf(buf, sizeof buf, "%.2f GHz, %s -> fp32 FMA peak %.0f GFLOP/s per core, %.0f for 2 "
                "cores (%.0f FLOP/cycle)", ghz, avx512 ? "AVX-512" : "AVX2", ghz * per_cycle,
                ghz * per_cycle * 2, per_cycle);
  benchmark::AddCustomContext("clock", buf);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
