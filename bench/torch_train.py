#!/usr/bin/env python3
"""PyTorch twin of `cnnkit bench`: training steps of BENCH.md's W1 (LeNet-5) and W3
(ResNet-20) on synthetic data, CrossEntropyLoss + SGD(lr 0.01, momentum 0.9), after a
warm-up, printing images/s in the same one-line format as cnnkit so that
bench/run_train_compare.sh can pair them.

    /usr/bin/python3 bench/torch_train.py --model lenet5 --batch 64 --steps 300 --threads 1
    -> bench framework=torch model=lenet5 batch=64 threads=1 steps=300 images_per_s=4012.3
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    """BENCH.md's CIFAR ResNet-20: 3 stages x 3 BasicBlocks (16, 32, 64), 1x1 conv+BN shortcut."""

    def __init__(self, in_channels=3, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for i, cout in enumerate((16, 32, 64)):
            for j in range(3):
                stride = 2 if (i > 0 and j == 0) else 1
                layers.append(BasicBlock(cin, cout, stride))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="lenet5", choices=["lenet5", "resnet20"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=200, help="timed steps")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model == "lenet5":
        net, shape = lenet5(), (1, 28, 28)
    else:
        net, shape = ResNet20(), (3, 32, 32)
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


if __name__ == "__main__":
    main()
