"""Golden mixed targets and images for cnnkit's Mixup/CutMix (timm.data.Mixup's arithmetic,
written with torch 1.13 ops as timm writes it: timm itself is not packaged for Debian).
Per case: <case>/target (N) int64, <case>/lam (1) or (N, 1) float32, <case>/out =
lam * onehot(target) + (1 - lam) * onehot(target.flip(0)) with one-hot rows smoothed to
(1 - s + s / C, s / C); options hold num_classes and smoothing. Case "blend": <case>/x and <case>/out = x.mul_(lam).add_(x.flip(0).mul_(1 - lam)) with lam a Python
float, as timm's batch mode. Case "paste": <case>/x and <case>/out with rows [yl, yh) and
columns [xl, xh) of every image taken from its partner N - 1 - i.
Writes tests/golden/data/mixup.safetensors.
"""
import torch

from golden_common import Golden, seed_for

g = Golden("mixup", "tools/golden/gen_mixup.py")


def one_hot(x, num_classes, on_value=1.0, off_value=0.0):
    x = x.long().view(-1, 1)
    return torch.full((x.size()[0], num_classes), off_value).scatter_(1, x, on_value)


def mixup_target(target, num_classes, lam=1.0, smoothing=0.0):
    off_value = smoothing / num_classes
    on_value = 1.0 - smoothing + off_value
    y1 = one_hot(target, num_classes, on_value=on_value, off_value=off_value)
    y2 = one_hot(target.flip(0), num_classes, on_value=on_value, off_value=off_value)
    return y1 * lam + y2 * (1.0 - lam)


def target_case(name, n, c, lam, smoothing):
    seed_for(name)
    target = torch.randint(0, c, (n,))
    g.put(name, "target", target)
    if isinstance(lam, float):
        g.put(name, "lam", torch.tensor([lam], dtype=torch.float32))
        out = mixup_target(target, c, lam, smoothing)
    else:  # per element, float32 (N, 1) as timm's elem and pair modes
        lam_t = torch.tensor(lam, dtype=torch.float32).unsqueeze(1)
        g.put(name, "lam", lam_t)
        out = mixup_target(target, c, lam_t, smoothing)
    g.put(name, "out", out)
    opts = {"kind": "target", "num_classes": c, "smoothing": smoothing}
    if isinstance(lam, float):
        opts["lam"] = lam  # the Python float timm passes: 1 - lam is rounded from double
    g.add_case(name, opts)


target_case("batch_plain", 8, 10, 0.7310585786300049, 0.0)
target_case("batch_smooth", 8, 10, 0.3141592653589793, 0.1)
target_case("batch_odd", 7, 3, 0.123456789, 0.2)
target_case("batch_one", 5, 4, 1.0, 0.1)
target_case("elem_smooth", 6, 5, [0.9, 0.25, 1.0, 0.5, 0.0625, 0.3333333], 0.1)
target_case("pair_plain", 6, 7, [0.61, 0.2, 0.77, 0.77, 0.2, 0.61], 0.0)

seed_for("blend")
x = torch.randn(5, 2, 4, 3)
lam = 0.6180339887498949
g.put("blend", "x", x)
y = x.clone()
y_flipped = y.flip(0).mul_(1.0 - lam)
y.mul_(lam).add_(y_flipped)
g.put("blend", "out", y)
g.add_case("blend", {"kind": "blend", "lam": lam})

seed_for("paste")
x = torch.randn(4, 3, 7, 6)
yl, yh, xl, xh = 1, 5, 2, 6
y = x.clone()
y[:, :, yl:yh, xl:xh] = x.flip(0)[:, :, yl:yh, xl:xh]
g.put("paste", "x", x)
g.put("paste", "out", y)
g.add_case("paste", {"kind": "paste", "box": [yl, yh, xl, xh]})

g.write()
