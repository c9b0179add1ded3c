#!/usr/bin/env python3
"""PyTorch twin of `cnnkit bench`: training steps of BENCH.md's W1 (LeNet-5) and W3
(ResNet-20) on synthetic data, CrossEntropyLoss + SGD(lr 0.01, momentum 0.9), after a
warm-up, printing images/s in the same one-line format as cnnkit so that
bench/run_train_compare.sh can pair them.

    /usr/bin/python3 bench/torch_train.py --model lenet5 --batch 64 --steps 300 --threads 1
    -> bench framework=torch model=lenet5 batch=64 threads=1 steps=300 images_per_s=4012.3
    /usr/bin/python3 bench/torch_train.py --model resnet20 --batch 1 --steps 300 --eval
    -> ... mode=eval ms_per_batch=3.2901 images_per_s=303.9   (the median forward, W3i)
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tools"))
from torch_models import ResNet20  # noqa: E402  (the shared PyTorch twins)


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="lenet5", choices=["lenet5", "resnet20"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=200, help="timed steps")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval", action="store_true",
                   help="time inference instead: eval mode under torch.no_grad(), forward only")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model == "lenet5":
        net, shape = lenet5(), (1, 28, 28)
    else:
        net, shape = ResNet20(), (3, 32, 32)
    if args.eval:
        return bench_eval(net, shape, args)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    # A few distinct synthetic batches, cycled, as cnnkit bench does.
    xs = [torch.randn(args.batch, *shape) for _ in range(4)]
    ys = [torch.randint(0, 10, (args.batch,)) for _ in range(4)]

    def step(i):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(xs[i % 4]), ys[i % 4])
        loss.backward()
        opt.step()
        return loss

    for i in range(args.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(args.steps):
        step(i)
    dt = time.perf_counter() - t0
    print(f"bench framework=torch model={args.model} batch={args.batch} threads={args.threads} "
          f"steps={args.steps} images_per_s={args.steps * args.batch / dt:.1f}")


def bench_eval(net, shape, args):
    """W3i: each forward timed alone; the median is the latency (as `cnnkit bench --eval`)."""
    net.eval()
    xs = [torch.randn(args.batch, *shape) for _ in range(4)]
    times = []
    with torch.no_grad():
        for i in range(args.warmup):
            net(xs[i % 4])[0, 0].item()
        for i in range(args.steps):
            t0 = time.perf_counter()
            net(xs[i % 4])[0, 0].item()
            times.append(time.perf_counter() - t0)
    ms = 1e3 * sorted(times)[len(times) // 2]
    print(f"bench framework=torch model={args.model} batch={args.batch} threads={args.threads} "
          f"steps={args.steps} mode=eval ms_per_batch={ms:.4f} images_per_s={1e3 * args.batch / ms:.1f}")


if __name__ == "__main__":
    main()
