"""Golden data for the padding and rearranging layers: ZeroPad2d, ConstantPad2d,
ReflectionPad2d and ReplicationPad2d (one size for every side, per-side sizes, negative sizes
that crop, unbatched inputs), PixelShuffle and PixelUnshuffle (factors 1 to 3, extra batch
dims), Unflatten (middle, last and negative dims, a -1 size), and 24 seeded random
configurations. Forward values and input gradients. Writes
tests/golden/data/padding.safetensors.
"""
import random

import torch

from golden_common import Golden, seed_for

g = Golden("padding", "tools/golden/gen_padding.py")
nn = torch.nn


def run(name, m, opts, shape):
    seed_for(name)
    g.module_case(name, m, torch.randn(shape), opts)


def as_json(p):
    return list(p) if isinstance(p, tuple) else p


PADS = {"ZeroPad2d": nn.ZeroPad2d, "ReflectionPad2d": nn.ReflectionPad2d,
        "ReplicationPad2d": nn.ReplicationPad2d}


def pad(kind, name, padding, shape=(1, 2, 5, 6), value=None):
    if kind == "ConstantPad2d":
        m = nn.ConstantPad2d(padding, value)
        run(name, m, dict(module=kind, padding=as_json(padding), value=value), shape)
    else:
        run(name, PADS[kind](padding), dict(module=kind, padding=as_json(padding)), shape)


for kind in ("ZeroPad2d", "ReflectionPad2d", "ReplicationPad2d"):
    short = kind[:-5].lower()
    pad(kind, f"{short}_1", 1)
    pad(kind, f"{short}_sides", (1, 2, 3, 0))
    pad(kind, f"{short}_unbatched", (2, 1, 0, 3), shape=(3, 5, 6))
    pad(kind, f"{short}_wide", (4, 5, 3, 4))  # reflect: up to size - 1
pad("ZeroPad2d", "zero_crop", (-1, 2, 1, -2))
pad("ReplicationPad2d", "replication_big", (7, 0, 0, 9), shape=(1, 2, 3, 4))
pad("ConstantPad2d", "constant_half", 2, value=0.5)
pad("ConstantPad2d", "constant_sides", (0, 3, 1, 2), value=-1.25)
pad("ConstantPad2d", "constant_unbatched", (1, 1, 2, 2), shape=(2, 4, 4), value=3.0)

for r in (1, 2, 3):
    run(f"pixel_shuffle_{r}", nn.PixelShuffle(r), dict(module="PixelShuffle", upscale_factor=r),
        (2, 2 * r * r, 3, 4))
    run(f"pixel_unshuffle_{r}", nn.PixelUnshuffle(r), dict(module="PixelUnshuffle", downscale_factor=r),
        (2, 3, 2 * r, 3 * r))
run("pixel_shuffle_unbatched", nn.PixelShuffle(2), dict(module="PixelShuffle", upscale_factor=2), (8, 3, 2))
run("pixel_shuffle_5d", nn.PixelShuffle(2), dict(module="PixelShuffle", upscale_factor=2), (2, 3, 4, 2, 3))
run("pixel_unshuffle_5d", nn.PixelUnshuffle(2), dict(module="PixelUnshuffle", downscale_factor=2), (2, 3, 1, 4, 6))

run("unflatten_1", nn.Unflatten(1, (4, 3, 2)), dict(module="Unflatten", dim=1, unflattened_size=[4, 3, 2]), (2, 24))
run("unflatten_last", nn.Unflatten(-1, (2, 5)), dict(module="Unflatten", dim=-1, unflattened_size=[2, 5]), (3, 4, 10))
run("unflatten_infer", nn.Unflatten(1, (2, -1)), dict(module="Unflatten", dim=1, unflattened_size=[2, -1]), (2, 12, 3))

rng = random.Random(15)
for i in range(24):
    kind = rng.choice(["ZeroPad2d", "ReflectionPad2d", "ReplicationPad2d", "ConstantPad2d",
                       "PixelShuffle", "PixelUnshuffle"])
    n, c = rng.randint(1, 2), rng.randint(1, 3)
    if kind in ("PixelShuffle", "PixelUnshuffle"):
        r = rng.randint(1, 3)
        h, w = rng.randint(1, 4), rng.randint(1, 4)
        if kind == "PixelShuffle":
            run(f"random_{i}", nn.PixelShuffle(r), dict(module=kind, upscale_factor=r), (n, c * r * r, h, w))
        else:
            run(f"random_{i}", nn.PixelUnshuffle(r), dict(module=kind, downscale_factor=r), (n, c, h * r, w * r))
        continue
    h, w = rng.randint(2, 8), rng.randint(2, 8)
    if kind == "ReflectionPad2d":
        p = (rng.randint(0, w - 1), rng.randint(0, w - 1), rng.randint(0, h - 1), rng.randint(0, h - 1))
    else:
        p = tuple(rng.randint(0, 4) for _ in range(4))
    value = round(rng.uniform(-2, 2), 3) if kind == "ConstantPad2d" else None
    pad(kind, f"random_{i}", p, shape=(n, c, h, w), value=value)

g.write()
