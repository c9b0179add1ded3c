"""Golden data for MaxPool2d and AvgPool2d (kernel, stride, padding, dilation, ceil_mode,
count_include_pad, divisor_override) and AdaptiveAvgPool2d / AdaptiveMaxPool2d (output
sizes 1, divisible, non-divisible, larger than the input, rectangular), and 36 seeded
random configurations of the four. Writes
tests/golden/data/pooling.safetensors.
"""
import random

import torch

from golden_common import Golden, seed_for

g = Golden("pooling", "tools/golden/gen_pooling.py")
nn = torch.nn


def run(name, m, opts, shape=(2, 3, 7, 7)):
    seed_for(name)
    x = torch.randn(shape)
    g.module_case(name, m, x, opts)


def maxpool(name, k, stride=None, padding=0, dilation=1, ceil_mode=False, shape=(2, 3, 7, 7)):
    m = nn.MaxPool2d(k, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    opts = dict(module="MaxPool2d", kernel_size=k, stride=stride, padding=padding,
                dilation=dilation, ceil_mode=ceil_mode)
    run(name, m, opts, shape)


def avgpool(name, k, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
            divisor_override=None, shape=(2, 3, 7, 7)):
    m = nn.AvgPool2d(k, stride=stride, padding=padding, ceil_mode=ceil_mode,
                     count_include_pad=count_include_pad, divisor_override=divisor_override)
    opts = dict(module="AvgPool2d", kernel_size=k, stride=stride, padding=padding,
                ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                divisor_override=divisor_override)
    run(name, m, opts, shape)


maxpool("max_k2", 2)
maxpool("max_k3", 3)
maxpool("max_k3_s1", 3, stride=1)
maxpool("max_k3_s2_p1", 3, stride=2, padding=1)
maxpool("max_k2_s1_p1", 2, stride=1, padding=1)
maxpool("max_k2_ceil", 2, ceil_mode=True)
maxpool("max_k3_s2_p1_ceil", 3, stride=2, padding=1, ceil_mode=True)
maxpool("max_k2_s3_ceil", 2, stride=3, ceil_mode=True, shape=(2, 2, 8, 8))
maxpool("max_k3_d2", 3, stride=1, dilation=2)
maxpool("max_k2_d2_s2_p1", 2, stride=2, padding=1, dilation=2)
maxpool("max_k3_d2_ceil", 3, stride=2, padding=1, dilation=2, ceil_mode=True)
maxpool("max_rect", (2, 3), stride=(1, 2), padding=(1, 1), shape=(2, 2, 5, 7))
maxpool("max_rect_d", (3, 2), stride=(2, 1), dilation=(1, 2), shape=(2, 2, 7, 6))
maxpool("max_unbatched", 2, shape=(3, 6, 6))

avgpool("avg_k2", 2)
avgpool("avg_k3", 3)
avgpool("avg_k3_s1", 3, stride=1)
avgpool("avg_k3_s2_p1", 3, stride=2, padding=1)
avgpool("avg_k3_s2_p1_nocount", 3, stride=2, padding=1, count_include_pad=False)
avgpool("avg_k2_ceil", 2, ceil_mode=True)
avgpool("avg_k3_s2_p1_ceil", 3, stride=2, padding=1, ceil_mode=True)
avgpool("avg_k3_s2_p1_ceil_nocount", 3, stride=2, padding=1, ceil_mode=True,
        count_include_pad=False)
avgpool("avg_k2_s3_ceil", 2, stride=3, ceil_mode=True, shape=(2, 2, 8, 8))
avgpool("avg_div5", 3, stride=2, divisor_override=5)
avgpool("avg_div3_p1", 3, stride=2, padding=1, divisor_override=3)
avgpool("avg_rect", (2, 3), stride=(1, 2), padding=(1, 1), shape=(2, 2, 5, 7))
avgpool("avg_rect_nocount", (2, 3), stride=(1, 2), padding=(1, 1), count_include_pad=False,
        shape=(2, 2, 5, 7))
avgpool("avg_unbatched", 2, shape=(3, 6, 6))


def adaptive(kind, name, out, shape=(2, 3, 7, 7)):
    m = nn.AdaptiveAvgPool2d(out) if kind == "avg" else nn.AdaptiveMaxPool2d(out)
    mod = "AdaptiveAvgPool2d" if kind == "avg" else "AdaptiveMaxPool2d"
    run(name, m, dict(module=mod, output_size=out), shape)


for kind in ("avg", "max"):
    adaptive(kind, f"adaptive_{kind}_1", 1)
    adaptive(kind, f"adaptive_{kind}_3", 3)
    adaptive(kind, f"adaptive_{kind}_7", 7)
    adaptive(kind, f"adaptive_{kind}_2x3", (2, 3))
    adaptive(kind, f"adaptive_{kind}_3x4_of_5x7", (3, 4), shape=(2, 2, 5, 7))
    adaptive(kind, f"adaptive_{kind}_4_of_8", 4, shape=(2, 2, 8, 8))
    adaptive(kind, f"adaptive_{kind}_9_of_7", 9)
    adaptive(kind, f"adaptive_{kind}_unbatched", (2, 3), shape=(3, 5, 5))

# random configurations (seeded), more channels than the grid above
rng = random.Random(20261129)
made = 0
while made < 36:
    kind = ("max", "avg", "adaptive_avg", "adaptive_max")[made % 4]
    shape = (rng.randint(1, 2), rng.choice([1, 3, 8, 16]), rng.randint(3, 8), rng.randint(3, 8))
    k = rng.choice([1, 2, 3, 4, (2, 3), (3, 1)])
    kk = k if isinstance(k, tuple) else (k, k)
    stride = rng.choice([None, 1, 2, 3, (1, 2)])
    padding = (rng.randint(0, kk[0] // 2), rng.randint(0, kk[1] // 2))
    padding = padding[0] if padding[0] == padding[1] else padding
    ceil_mode = rng.random() < 0.4
    name = f"random_{made:02d}_{kind}"
    try:
        if kind == "max":
            dilation = rng.choice([1, 1, 2])
            nn.MaxPool2d(k, stride, padding, dilation, ceil_mode=ceil_mode)(torch.zeros(shape))
            maxpool(name, k, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode, shape=shape)
        elif kind == "avg":
            count, div = rng.random() < 0.5, rng.choice([None, None, 1, 4])
            nn.AvgPool2d(k, stride, padding, ceil_mode, count, div)(torch.zeros(shape))
            avgpool(name, k, stride=stride, padding=padding, ceil_mode=ceil_mode, count_include_pad=count,
                    divisor_override=div, shape=shape)
        else:
            out = rng.choice([1, 2, 3, 5, (2, 4), (shape[2], 1)])
            adaptive(kind.split("_")[1], name, out, shape=shape)
    except RuntimeError:
        continue  # e.g. an output size that would be empty
    made += 1

g.write()
