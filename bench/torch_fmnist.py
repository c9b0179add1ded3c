#!/usr/bin/env python3
"""PyTorch twin of cnnkit's default run (configs/lenet5-fashion-mnist.yaml, W2/W6 of BENCH.md):
LeNet-5 on Fashion-MNIST, 54,000 training / 6,000 validation images (stratified, 600 a
class), normalised by the training split's mean and std, SGD(lr 0.03, momentum 0.9,
weight_decay 5e-4), CosineAnnealingLR over the epochs, batch 64 shuffled, 10 epochs, a
validation pass after each epoch and the test set at the end. One line per epoch and a last
line in the format bench/compare reads:

    /usr/bin/python3 bench/torch_fmnist.py --threads 1
    -> epoch=1 seconds=5.91 val_accuracy=0.8598 ...
    -> run framework=torch epochs=10 seconds=58.2 seconds_to_90=41.0 best_val=0.9082 test_accuracy=0.9051

seconds are an epoch's time, its validation pass included, as cnnkit's metrics.csv `seconds`
column; seconds_to_90 is the time until the end of the first epoch whose validation accuracy
reaches 90% (-1 if none does). The twin batches from tensors held in memory (no DataLoader):
the easiest data path PyTorch has.
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">i", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "i" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def accuracy(net, x, y, batch=500):
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (net(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    net.train()
    return correct / len(x)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    images = read_idx(os.path.join(args.root, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(args.root, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    test_x = read_idx(os.path.join(args.root, "t10k-images-idx3-ubyte.gz"))
    test_y = read_idx(os.path.join(args.root, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    val_idx = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:600] for c in range(10)])
    train_mask = np.ones(len(labels), bool)
    train_mask[val_idx] = False
    to_float = lambda a: torch.from_numpy(a.astype(np.float32) / 255.0).unsqueeze(1)
    train_x, train_y = to_float(images[train_mask]), torch.from_numpy(labels[train_mask])
    val_x, val_y = to_float(images[val_idx]), torch.from_numpy(labels[val_idx])
    mean, std = train_x.mean().item(), train_x.std().item()
    norm = lambda t: (t - mean) / std
    train_x, val_x, tx = norm(train_x), norm(val_x), norm(to_float(test_x))
    ty = torch.from_numpy(test_y)

    net = lenet5()
    opt = torch.optim.SGD(net.parameters(), lr=0.03, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss()
    train_seconds, to_90, best = 0.0, -1.0, 0.0
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        order = torch.randperm(len(train_x))
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(train_x[idx]), train_y[idx]).backward()
            opt.step()
        sched.step()
        val = accuracy(net, val_x, val_y)
        seconds = time.perf_counter() - t0
        train_seconds += seconds
        best = max(best, val)
        if to_90 < 0 and val >= 0.90:
            to_90 = train_seconds
        print(f"epoch={epoch} seconds={seconds:.2f} val_accuracy={val:.4f}", flush=True)
    test = accuracy(net, tx, ty)
    print(f"run framework=torch epochs={args.epochs} seconds={train_seconds:.1f} "
          f"seconds_to_90={to_90:.1f} best_val={best:.4f} test_accuracy={test:.4f}")


if __name__ == "__main__":
    main()
