#!/usr/bin/python3
"""PyTorch twin of bench/bench_conv.cpp's W4 part (BENCH.md): one Conv2d, forward (no grad)
and forward+backward (input, weight and bias gradients), configs a..g, 1 and 2 threads,
GFLOP/s with the same FLOP count. Prints a table; --json FILE also writes {name: GFLOP/s}
with bench_conv's names, which bench/run_conv_compare.sh pairs up.

    /usr/bin/python3 bench/torch_conv.py [--min-time 0.5] [--json out.json] [--filter REGEX]
                                         [--cpu-time]

--cpu-time times with the process's CPU time instead of the wall clock: on a machine shared
with other jobs that removes the time slices lost to them, but it is only a fair measure for
one thread (two threads add up their CPU time, spin-waits included).
"""
import argparse
import json
import re
import time

import torch
import torch.nn.functional as F

# name, N, C_in, C_out, kernel, stride, padding, dilation, groups, H (= W)
CONFIGS = [
    ("a_3x3", 32, 64, 64, 3, 1, 1, 1, 1, 32),
    ("b_stem7x7", 8, 3, 64, 7, 2, 3, 1, 1, 112),
    ("c_depthwise", 32, 128, 128, 3, 1, 1, 1, 128, 28),
    ("d_dilated", 32, 64, 64, 3, 1, 2, 2, 1, 32),
    ("e_grouped", 32, 128, 128, 3, 1, 1, 1, 4, 28),
    ("f_pointwise", 32, 128, 256, 1, 1, 0, 1, 1, 28),
    ("g_lenet_conv2", 64, 6, 16, 5, 1, 0, 1, 1, 14),
]
# Beyond BENCH.md's list: LeNet-5's first layer as W1 runs it (no input gradient).
LENET_CONV1 = ("h_lenet_conv1", 64, 1, 6, 5, 1, 2, 1, 1, 28)


def filled(shape, scale):
    # the same values as bench_conv.cpp's filled()
    n = 1
    for s in shape:
        n *= s
    i = torch.arange(n, dtype=torch.int64)
    return (scale * ((i * 7) % 19 - 9).float()).reshape(shape)


def measure(cfg, backward, threads, min_time, clock, input_grad=True):
    name, n, cin, cout, k, stride, pad, dil, groups, h = cfg
    torch.set_num_threads(threads)
    x = filled((n, cin, h, h), 0.1)
    w = filled((cout, cin // groups, k, k), 0.01)
    b = filled((cout,), 0.1)
    o = (h + 2 * pad - dil * (k - 1) - 1) // stride + 1
    gy = filled((n, cout, o, o), 0.01)
    if backward:
        for t in ((x, w, b) if input_grad else (w, b)):
            t.requires_grad_(True)

    def step():
        if backward:
            y = F.conv2d(x, w, b, stride, pad, dil, groups)
            y.backward(gy)
        else:
            with torch.no_grad():
                F.conv2d(x, w, b, stride, pad, dil, groups)

    step()  # warm-up
    iters, t0 = 0, clock()
    while True:
        step()
        iters += 1
        elapsed = clock() - t0
        if elapsed >= min_time:
            break
    flops = 2.0 * n * cout * o * o * (cin // groups) * k * k * (1 if not backward else 3 if input_grad else 2)
    return elapsed / iters, flops * iters / elapsed * 1e-9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--json")
    ap.add_argument("--filter", default=".")
    ap.add_argument("--cpu-time", action="store_true")
    args = ap.parse_args()
    results = {}
    print(f"torch {torch.__version__}, oneDNN {torch.backends.mkldnn.is_available() and 'on'}")
    print(f"{'benchmark':<40} {'ms':>10} {'GFLOP/s':>10}")
    for cfg in CONFIGS:
        for threads in (1, 2):
            for backward in (False, True):
                name = f"W4/{cfg[0]}/{'fwd_bwd' if backward else 'fwd'}/threads:{threads}"
                if not re.search(args.filter, name):
                    continue
                clock = time.process_time if args.cpu_time else time.perf_counter
                t, gflops = measure(cfg, backward, threads, args.min_time, clock)
                results[name] = gflops
                print(f"{name:<40} {t * 1e3:>10.3f} {gflops:>10.2f}", flush=True)
    for threads in (1, 2):
        for backward in (False, True):
            name = f"W4/{LENET_CONV1[0]}/{'fwd_bwd_weights' if backward else 'fwd'}/threads:{threads}"
            if not re.search(args.filter, name):
                continue
            clock = time.process_time if args.cpu_time else time.perf_counter
            t, gflops = measure(LENET_CONV1, backward, threads, args.min_time, clock, input_grad=False)
            results[name] = gflops
            print(f"{name:<40} {t * 1e3:>10.3f} {gflops:>10.2f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
