"""Golden data for the 1-d layers over (N, C, L): Conv1d (kernel, stride, padding as a number,
'same' and 'valid', dilation, groups incl. depthwise, bias off, reflect/replicate/circular
padding modes, unbatched), MaxPool1d (stride, padding, dilation, ceil_mode), AvgPool1d
(padding, ceil_mode, count_include_pad), AdaptiveAvgPool1d and AdaptiveMaxPool1d (outputs that
divide the length, that do not, and 1), and 24 seeded random Conv1d and 12 random pool
configurations. Forward values, input, weight and bias gradients. Writes
tests/golden/data/layers1d.safetensors.
"""
import random

import torch

from golden_common import Golden, seed_for

g = Golden("layers1d", "tools/golden/gen_layers1d.py")
nn = torch.nn


def run(name, m, opts, shape):
    seed_for(name)
    g.module_case(name, m, torch.randn(shape), opts)


def conv(name, cin, cout, k, shape=None, **kw):
    seed_for(name)
    m = nn.Conv1d(cin, cout, k, **kw)
    opts = dict(module="Conv1d", in_channels=cin, out_channels=cout, kernel_size=k, **kw)
    g.module_case(name, m, torch.randn(shape or (2, cin, 9)), opts)


conv("conv_k3", 3, 4, 3)
conv("conv_k3_p1", 3, 4, 3, padding=1)
conv("conv_k5_s2_p2", 2, 3, 5, stride=2, padding=2)
conv("conv_same_k4", 2, 2, 4, padding="same")
conv("conv_same_dil2", 2, 3, 3, padding="same", dilation=2)
conv("conv_valid", 3, 2, 4, padding="valid")
conv("conv_dil3", 2, 2, 3, dilation=3, shape=(1, 2, 11))
conv("conv_groups2", 4, 6, 3, groups=2, padding=1)
conv("conv_depthwise", 4, 4, 3, groups=4)
conv("conv_nobias", 3, 5, 2, stride=3, bias=False)
conv("conv_k1", 5, 3, 1)
conv("conv_unbatched", 3, 2, 3, padding=1, shape=(3, 7))
for mode in ("reflect", "replicate", "circular"):
    conv(f"conv_{mode}", 2, 3, 3, padding=1, padding_mode=mode)
    conv(f"conv_{mode}_same", 2, 2, 4, padding="same", padding_mode=mode)

rng = random.Random(23)
for i in range(24):
    groups = rng.choice([1, 1, 2, 3])
    cin, cout = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
    k, stride, dilation = rng.randint(1, 5), rng.randint(1, 3), rng.randint(1, 2)
    length = rng.randint(dilation * (k - 1) + 1, 14)
    kw = dict(stride=stride, dilation=dilation, groups=groups, bias=rng.random() < 0.7,
              padding=rng.randint(0, 2))
    if stride == 1 and rng.random() < 0.3:
        kw["padding"] = "same"
    if rng.random() < 0.3 and kw["padding"] != 0:
        kw["padding_mode"] = rng.choice(["reflect", "replicate", "circular"])
    conv(f"conv_random_{i}", cin, cout, k, shape=(rng.randint(1, 3), cin, length), **kw)


def max_pool(name, k, shape=(2, 3, 10), **kw):
    run(name, nn.MaxPool1d(k, **kw), dict(module="MaxPool1d", kernel_size=k, **kw), shape)


def avg_pool(name, k, shape=(2, 3, 10), **kw):
    run(name, nn.AvgPool1d(k, **kw), dict(module="AvgPool1d", kernel_size=k, **kw), shape)


max_pool("max_k2", 2)
max_pool("max_k3_s2_p1", 3, stride=2, padding=1)
max_pool("max_dil2", 3, dilation=2, shape=(1, 2, 11))
max_pool("max_ceil", 3, stride=2, ceil_mode=True, shape=(2, 2, 8))
max_pool("max_ceil_pad", 4, stride=3, padding=2, ceil_mode=True, shape=(1, 2, 9))
max_pool("max_unbatched", 2, shape=(3, 7))
avg_pool("avg_k2", 2)
avg_pool("avg_k3_s2_p1", 3, stride=2, padding=1)
avg_pool("avg_exclude_pad", 3, stride=2, padding=1, count_include_pad=False)
avg_pool("avg_ceil", 3, stride=2, ceil_mode=True, shape=(2, 2, 8))
avg_pool("avg_ceil_exclude", 4, stride=3, padding=2, ceil_mode=True, count_include_pad=False, shape=(1, 2, 9))
avg_pool("avg_unbatched", 4, shape=(2, 9))

for kind, cls in (("avg", nn.AdaptiveAvgPool1d), ("max", nn.AdaptiveMaxPool1d)):
    module = cls.__name__
    for out, length in ((1, 9), (3, 9), (4, 10), (7, 5), (5, 5)):
        run(f"adaptive_{kind}_{out}_of_{length}", cls(out), dict(module=module, output_size=out), (2, 3, length))
    run(f"adaptive_{kind}_unbatched", cls(3), dict(module=module, output_size=3), (2, 8))

for i in range(12):
    k = rng.randint(1, 4)
    stride = rng.randint(1, 3)
    padding = rng.randint(0, k // 2)
    ceil_mode = rng.random() < 0.4
    shape = (rng.randint(1, 2), rng.randint(1, 3), rng.randint(k + 2, 12))
    if i % 2 == 0:
        dilation = rng.randint(1, 2)
        max_pool(f"max_random_{i}", k, shape=shape, stride=stride, padding=padding, dilation=dilation,
                 ceil_mode=ceil_mode)
    else:
        avg_pool(f"avg_random_{i}", k, shape=shape, stride=stride, padding=padding, ceil_mode=ceil_mode,
                 count_include_pad=rng.random() < 0.5)

g.write()
