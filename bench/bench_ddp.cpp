// Data-parallel step costs for docs/scaling.md: per model, the compute time of a training step
// (one process, no communication), the gradient bytes all-reduced per step, the time of that
// all-reduce alone, and under DistributedDataParallel the step time and the communication
// left over after backward (what the overlap did not hide).
//
//   mpirun --allow-run-as-root --oversubscribe -np 2 build/bench/bench_ddp [--steps 20] [--bucket-mb 25]
//   CNNKIT_NUM_THREADS=1 mpirun ... -np 2 build/bench/bench_ddp --models lenet5,resnet20
//
// Every rank measures; rank 0 prints the mean over ranks (a step is as slow as its slowest
// rank, so the maximum is printed too).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cnnkit/cnnkit.h"

namespace {

using namespace cnnkit;
using Clock = std::chrono::steady_clock;

double now_s() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

struct Workload {
  std::string name;
  nn::Sequential (*make)();
  std::vector<int64_t> input;  // (N, C, H, W) per rank
  int64_t classes;
};

nn::Sequential make_lenet() { return models::lenet5({.in_channels = 1, .num_classes = 10}); }
nn::Sequential make_resnet20() { return models::resnet20({.in_channels = 3, .num_classes = 10}); }
nn::Sequential make_resnet18() { return models::resnet18({.num_classes = 1000}); }

// Mean and max over ranks of a per-rank value.
std::pair<double, double> over_ranks(double v) {
  Tensor t = tensor({static_cast<float>(v)});
  Tensor m = t.clone();
  distributed::all_reduce(t);
  distributed::all_reduce(m, distributed::ReduceOp::MAX);
  return {t.item<double>() / distributed::get_world_size(), m.item<double>()};
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 20;
  double bucket_mb = 25;
  std::string only = "lenet5,resnet20,resnet18";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--steps") steps = std::stoi(argv[i + 1]);
    else if (a == "--bucket-mb") bucket_mb = std::stod(argv[i + 1]);
    else if (a == "--models") only = argv[i + 1];
    else {
      std::fprintf(stderr, "bench_ddp: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  try {
    if (distributed::launched_world_size() > 1) distributed::init_process_group();
    const int world = distributed::get_world_size();
    const bool speaker = distributed::get_rank() == 0;
    if (speaker)
      std::printf("bench_ddp: %d process(es), %d math thread(s) each, %d timed steps, buckets %.0f MiB\n", world,
                  get_num_threads(), steps, bucket_mb);
    const std::vector<Workload> all = {
        {"lenet5", make_lenet, {64, 1, 28, 28}, 10},
        {"resnet20", make_resnet20, {64, 3, 32, 32}, 10},
        {"resnet18", make_resnet18, {8, 3, 224, 224}, 1000},
    };
    if (speaker)
      std::printf("%-9s %6s %9s %12s %11s %11s %12s %16s %11s %8s\n", "model", "batch", "MB/step", "buckets/last",
                  "compute ms", "window ms", "allreduce ms", "ddp step ms/max", "exposed ms", "hidden");
    for (const Workload& w : all) {
      if (only.find(w.name) == std::string::npos) continue;
      manual_seed(0);
      nn::Sequential net = w.make();
      optim::SGD opt(net->parameters(), optim::SGDOptions(0.01).momentum(0.9));
      const Tensor x = randn(w.input);
      const Tensor y = randint(0, w.classes, {w.input[0]});
      auto step = [&](auto&& forward) {
        opt.zero_grad();
        nn::functional::cross_entropy(forward(x), y).backward();
        opt.step();
      };
      const int warm = 2, timed = w.name == "resnet18" ? std::max(2, steps / 5) : steps;
      // 1. compute alone
      for (int i = 0; i < warm; ++i) step([&](const Tensor& in) { return net->forward(in); });
      distributed::barrier();
      double t0 = now_s();
      for (int i = 0; i < timed; ++i) step([&](const Tensor& in) { return net->forward(in); });
      const double compute = (now_s() - t0) / timed;
      // 2. the step's all-reduce alone (every gradient, one flat buffer)
      int64_t numel = 0;
      for (const Tensor& p : net->parameters()) numel += p.numel();
      Tensor flat = randn({numel});
      double comm = 0;
      if (world > 1) {
        distributed::all_reduce(flat);
        distributed::barrier();
        t0 = now_s();
        for (int i = 0; i < timed; ++i) distributed::all_reduce(flat);
        comm = (now_s() - t0) / timed;
      }
      // 3. DDP: the step with the all-reduce overlapped with backward. The window is the time
      // from the first gradient ready to the end of backward (what overlap can hide behind).
      double ddp_step = 0, exposed = 0, window = 0;
      size_t buckets = 0;
      int64_t last_bucket = 0;  // elements of the bucket that can only start when backward ends
      {
        distributed::DistributedDataParallel ddp(net, distributed::DistributedDataParallelOptions().bucket_cap_mb(bucket_mb));
        const auto assignment = ddp.bucket_assignment();
        buckets = assignment.size();
        const auto params = net->parameters();
        for (size_t i : assignment.back()) last_bucket += params[i].numel();
        for (int i = 0; i < warm; ++i) step([&](const Tensor& in) { return ddp.forward(in); });
        const auto before = ddp.stats();
        double sum = 0;
        for (int i = 0; i < timed; ++i) {
          distributed::barrier();  // each step from aligned ranks: the wait is communication, not skew
          t0 = now_s();
          step([&](const Tensor& in) { return ddp.forward(in); });
          sum += now_s() - t0;
        }
        ddp_step = sum / timed;
        exposed = (ddp.stats().wait_seconds - before.wait_seconds) / timed;
        window = (ddp.stats().backward_seconds - before.backward_seconds) / timed;
      }
      const auto [c_mean, c_max] = over_ranks(compute);
      const auto [a_mean, a_max] = over_ranks(comm);
      const auto [d_mean, d_max] = over_ranks(ddp_step);
      const auto [e_mean, e_max] = over_ranks(exposed);
      const auto [w_mean, w_max] = over_ranks(window);
      (void)c_max;
      (void)a_max;
      (void)e_max;
      (void)w_max;
      if (speaker) {
        // The share of the all-reduce that backward hid: 1 - exposed / all-reduce alone.
        const std::string hidden =
            world > 1 && a_mean > 0 ? std::to_string(static_cast<int>(std::clamp(1.0 - e_mean / a_mean, 0.0, 1.0) * 100 + 0.5)) + "%"
                                    : "-";
        std::printf("%-9s %6lld %9.2f %3zu/%5.2f MB %11.2f %11.2f %12.2f %9.2f/%-6.2f %11.2f %8s\n", w.name.c_str(),
                    static_cast<long long>(w.input[0]), static_cast<double>(numel) * 4 / 1e6, buckets,
                    static_cast<double>(last_bucket) * 4 / 1e6, c_mean * 1e3,
                    w_mean * 1e3, a_mean * 1e3, d_mean * 1e3, d_max * 1e3, e_mean * 1e3, hidden.c_str());
      }
    }
    if (distributed::is_initialized()) distributed::destroy_process_group();
  } catch (const std::exception& e) {
    distributed::abort(std::string("bench_ddp: ") + e.what());
  }
  return 0;
}
