"""Golden data for nn::Conv2d: strides, paddings (ints, pairs, 'same', 'valid'), padding
modes, dilations, groups (incl. depthwise), rectangular kernels, bias on/off, unbatched
input, and 30 seeded random configurations with up to 32 channels. Writes
tests/golden/data/conv2d.safetensors. Run: /usr/bin/python3 tools/golden/gen_conv2d.py
"""
import random

import torch

from golden_common import Golden, seed_for

g = Golden("conv2d", "tools/golden/gen_conv2d.py")


def case(name, cin, cout, k, stride=1, padding=0, dilation=1, groups=1, bias=True,
         padding_mode="zeros", n=2, hw=(7, 7), unbatched=False):
    seed_for(name)
    m = torch.nn.Conv2d(cin, cout, k, stride=stride, padding=padding, dilation=dilation,
                        groups=groups, bias=bias, padding_mode=padding_mode)
    shape = (cin,) + tuple(hw) if unbatched else (n, cin) + tuple(hw)
    x = torch.randn(shape)
    opts = dict(module="Conv2d", in_channels=cin, out_channels=cout, kernel_size=k, stride=stride,
                padding=padding, dilation=dilation, groups=groups, bias=bias,
                padding_mode=padding_mode)
    g.module_case(name, m, x, opts)


# stride x padding grid, 3x3 kernel
for s in (1, 2, 3):
    for p in (0, 1, 2, 3):
        case(f"k3_s{s}_p{p}", 3, 4, 3, stride=s, padding=p)
# bias off
case("k3_nobias", 3, 4, 3, padding=1, bias=False)
case("k3_s2_nobias", 3, 2, 3, stride=2, bias=False)
# dilation
for d in (1, 2, 3):
    case(f"k3_d{d}", 2, 3, 3, dilation=d, padding=d - 1)
case("k2_d3_s2_p1", 2, 3, 2, stride=2, padding=1, dilation=3)
# 'same' and 'valid' (same pads asymmetrically for even effective kernels)
case("same_k3", 3, 4, 3, padding="same")
case("same_k4", 3, 4, 4, padding="same")
case("same_k3_d2", 2, 3, 3, padding="same", dilation=2)
case("same_k2_d3", 2, 3, 2, padding="same", dilation=3)
case("same_k2x5", 2, 3, (2, 5), padding="same")
case("valid_k3", 3, 4, 3, padding="valid")
case("valid_k3_s2", 3, 4, 3, stride=2, padding="valid")
# padding modes
for mode in ("zeros", "reflect", "replicate", "circular"):
    case(f"mode_{mode}_p1", 2, 3, 3, padding=1, padding_mode=mode)
    case(f"mode_{mode}_p2_s2", 2, 3, 3, stride=2, padding=2, padding_mode=mode)
    case(f"mode_{mode}_p12", 2, 3, (3, 2), padding=(1, 2), padding_mode=mode, hw=(5, 6))
case("mode_reflect_same", 2, 3, 3, padding="same", padding_mode="reflect")
case("mode_circular_same_k4", 2, 3, 4, padding="same", padding_mode="circular")
case("mode_replicate_d2", 2, 3, 3, padding=2, dilation=2, padding_mode="replicate")
# groups
case("groups2", 4, 6, 3, padding=1, groups=2)
case("groups2_s2_nobias", 4, 2, 3, stride=2, groups=2, bias=False)
case("groups4_depthwise", 4, 4, 3, padding=1, groups=4)
case("depthwise_mult2", 3, 6, 3, padding=1, groups=3)
case("depthwise_s2_d2", 4, 4, 3, stride=2, padding=2, dilation=2, groups=4)
case("depthwise_k5_reflect", 2, 2, 5, padding=2, groups=2, padding_mode="reflect")
# rectangular kernels, strides, paddings, dilations
case("rect_k2x3", 3, 4, (2, 3))
case("rect_k3x1_p10", 3, 4, (3, 1), padding=(1, 0))
case("rect_k1x5_p02", 3, 2, (1, 5), padding=(0, 2))
case("rect_s12", 3, 4, 3, stride=(1, 2), padding=1)
case("rect_s31_p21", 2, 3, (2, 3), stride=(3, 1), padding=(2, 1))
case("rect_d21", 2, 3, 3, dilation=(2, 1), padding=(2, 1))
case("rect_input_5x7", 2, 3, 3, stride=2, padding=1, hw=(5, 7))
# 1x1, kernel = input, single pixel output
case("k1", 4, 3, 1)
case("k1_s2", 4, 3, 1, stride=2)
case("k_full", 2, 3, 5, hw=(5, 5))
case("n1_c1", 1, 1, 3, n=1, padding=1)
case("n3", 2, 2, 3, n=3, padding=1)
# unbatched (C, H, W) input
case("unbatched", 3, 4, 3, padding=1, unbatched=True)

# 3x3 stride-1 convolutions with channels in and out multiples of 8: on AVX2 machines these run
# in the Winograd kernels (src/kernels/winograd.h), forward and both gradients
case("wino_8_16_p1", 8, 16, 3, padding=1, n=2, hw=(10, 7))
case("wino_16_8_p0", 16, 8, 3, padding=0, n=3, hw=(6, 9), bias=False)
case("wino_8_8_p2", 8, 8, 3, padding=2, n=2, hw=(5, 6))
case("wino_24_8_same", 24, 8, 3, padding="same", n=1, hw=(9, 5))
case("wino_8_8_1x1", 8, 8, 3, padding=1, n=2, hw=(1, 1))

# random configurations (seeded): wider channel counts, where oneDNN's blocked kernels run
rng = random.Random(20261129)
made = 0
while made < 30:
    groups = rng.choice([1, 1, 1, 2, 3, 4, 8])
    cin, cout = groups * rng.choice([1, 2, 3, 4]), groups * rng.choice([1, 2, 4])
    k = rng.choice([1, 2, 3, 3, 5, (3, 1), (2, 3), (1, 5)])
    stride = rng.choice([1, 1, 2, 3, (1, 2), (2, 1)])
    dilation = rng.choice([1, 1, 2, 3, (2, 1)])
    mode = rng.choice(["zeros", "zeros", "reflect", "replicate", "circular"])
    padding = "same" if stride == 1 and rng.random() < 0.25 else rng.choice([0, 1, 2, (1, 0), (0, 2)])
    hw, n, bias = (rng.randint(4, 8), rng.randint(4, 8)), rng.randint(1, 2), rng.random() < 0.7
    try:
        torch.nn.Conv2d(cin, cout, k, stride=stride, padding=padding, dilation=dilation, groups=groups,
                        padding_mode=mode)(torch.zeros((1, cin) + hw))
    except (RuntimeError, ValueError):
        continue  # e.g. a kernel larger than the padded input, reflect padding >= the input
    case(f"random_{made:02d}", cin, cout, k, stride=stride, padding=padding, dilation=dilation,
         groups=groups, bias=bias, padding_mode=mode, n=n, hw=hw)
    made += 1

g.write()
