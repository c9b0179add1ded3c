"""Golden data for nn.ConvTranspose2d: kernel, stride, padding, output_padding (below the
stride, and below the dilation at stride 1), dilation, groups (incl. depthwise), bias off,
rectangular everything, unbatched input, and 24 seeded random configurations. Forward values,
input, weight and bias gradients. Writes tests/golden/data/conv_transpose.safetensors.
"""
import random

import torch

from golden_common import Golden, seed_for

g = Golden("conv_transpose", "tools/golden/gen_conv_transpose.py")
nn = torch.nn


def as_json(v):
    return list(v) if isinstance(v, tuple) else v


def ct(name, cin, cout, k, stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1,
       shape=None):
    seed_for(name)
    m = nn.ConvTranspose2d(cin, cout, k, stride=stride, padding=padding, output_padding=output_padding,
                           groups=groups, bias=bias, dilation=dilation)
    opts = dict(module="ConvTranspose2d", in_channels=cin, out_channels=cout, kernel_size=as_json(k),
                stride=as_json(stride), padding=as_json(padding), output_padding=as_json(output_padding),
                groups=groups, bias=bias, dilation=as_json(dilation))
    g.module_case(name, m, torch.randn(shape or (1, cin, 5, 6)), opts)


ct("k3", 3, 4, 3)
ct("k3_s2_p1_op1", 3, 4, 3, stride=2, padding=1, output_padding=1)
ct("k4_s2_p1", 4, 2, 4, stride=2, padding=1)
ct("k2_s2", 2, 3, 2, stride=2)
ct("rect", 3, 2, (2, 3), stride=(1, 2), padding=(1, 0), output_padding=(0, 1))
ct("groups2", 4, 6, 3, stride=2, groups=2)
ct("depthwise", 4, 4, 3, padding=1, groups=4)
ct("dilation2_op1", 2, 3, 3, dilation=2, output_padding=1)
ct("dilation_rect", 2, 2, (3, 2), dilation=(1, 3), padding=(1, 1))
ct("nobias", 3, 5, 3, stride=3, padding=2, output_padding=2, bias=False)
ct("pad_crops_all", 2, 2, 3, padding=2, shape=(1, 2, 4, 4))
ct("k1", 5, 3, 1)
ct("unbatched", 3, 2, 3, stride=2, padding=1, output_padding=1, shape=(3, 4, 4))
ct("big_stride", 2, 2, 2, stride=4, output_padding=3, shape=(1, 2, 3, 3))

rng = random.Random(17)
for i in range(24):
    groups = rng.choice([1, 1, 2])
    cin, cout = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
    k = (rng.randint(1, 4), rng.randint(1, 4))
    stride = (rng.randint(1, 3), rng.randint(1, 3))
    dilation = (rng.randint(1, 2), rng.randint(1, 2))
    op = tuple(rng.randint(0, max(s, d) - 1) for s, d in zip(stride, dilation))
    shape = (rng.randint(1, 3), cin, rng.randint(1, 6), rng.randint(1, 6))
    pad = []
    for d in range(2):
        full = (shape[2 + d] - 1) * stride[d] + dilation[d] * (k[d] - 1) + op[d] + 1
        pad.append(rng.randint(0, max(0, (full - 1) // 2)))
    ct(f"random_{i}", cin, cout, k, stride=stride, padding=tuple(pad), output_padding=op, groups=groups,
       bias=rng.random() < 0.7, dilation=dilation, shape=shape)

g.write()
