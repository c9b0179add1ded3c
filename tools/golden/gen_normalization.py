"""Golden data for BatchNorm1d/2d (train and eval, momentum incl. None = cumulative average,
affine on/off, track_running_stats on/off), LayerNorm over 1-3 dims (affine on/off),
InstanceNorm2d (affine, track_running_stats) and GroupNorm (several group counts), plus 24
seeded random configurations with 1 to 32 channels.
Affine parameters and running statistics start from random values so that each of them
matters. Writes tests/golden/data/normalization.safetensors.
"""
import random

import torch

from golden_common import Golden, seed_for

g = Golden("normalization", "tools/golden/gen_normalization.py")
nn = torch.nn


def randomise(m, batches_tracked=0):
    with torch.no_grad():
        if getattr(m, "weight", None) is not None:
            m.weight.copy_(torch.rand_like(m.weight) + 0.5)
            m.bias.copy_(torch.randn_like(m.bias) * 0.5)
        if getattr(m, "running_mean", None) is not None:
            m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.5)
            m.running_var.copy_(torch.rand_like(m.running_var) + 0.5)
            m.num_batches_tracked.fill_(batches_tracked)


def bn(name, kind, c, shape, train, momentum=0.1, affine=True, track=True, eps=1e-5,
       batches_tracked=0):
    seed_for(name)
    cls = nn.BatchNorm1d if kind == 1 else nn.BatchNorm2d
    m = cls(c, eps=eps, momentum=momentum, affine=affine, track_running_stats=track)
    randomise(m, batches_tracked)
    x = torch.randn(shape) * 2 + 1
    opts = dict(module=f"BatchNorm{kind}d", num_features=c, eps=eps, momentum=momentum,
                affine=affine, track_running_stats=track)
    g.module_case(name, m, x, opts, train=train)


for train in (True, False):
    t = "train" if train else "eval"
    bn(f"bn2d_{t}", 2, 3, (2, 3, 4, 5), train)
    bn(f"bn2d_{t}_noaffine", 2, 3, (2, 3, 4, 5), train, affine=False)
    bn(f"bn2d_{t}_notrack", 2, 3, (2, 3, 4, 5), train, track=False)
    bn(f"bn1d_{t}_2d", 1, 4, (5, 4), train)
    bn(f"bn1d_{t}_3d", 1, 3, (2, 3, 6), train)
bn("bn2d_train_momentum0.5", 2, 3, (2, 3, 4, 5), True, momentum=0.5)
bn("bn2d_train_momentum_none", 2, 3, (2, 3, 4, 5), True, momentum=None, batches_tracked=3)
bn("bn2d_eval_momentum_none", 2, 3, (2, 3, 4, 5), False, momentum=None, batches_tracked=3)
bn("bn2d_train_eps1e-2", 2, 3, (2, 3, 4, 5), True, eps=1e-2)
bn("bn2d_train_n1", 2, 4, (1, 4, 3, 3), True)
bn("bn1d_train_noaffine_notrack", 1, 4, (6, 4), True, affine=False, track=False)


def ln(name, shape, normalized, affine=True, eps=1e-5):
    seed_for(name)
    m = nn.LayerNorm(normalized, eps=eps, elementwise_affine=affine)
    randomise(m)
    x = torch.randn(shape) * 2 + 1
    opts = dict(module="LayerNorm", normalized_shape=list(normalized), eps=eps,
                elementwise_affine=affine)
    g.module_case(name, m, x, opts)


ln("ln_last1", (2, 3, 4, 5), [5])
ln("ln_last2", (2, 3, 4, 5), [4, 5])
ln("ln_last3", (2, 3, 4, 5), [3, 4, 5])
ln("ln_last1_noaffine", (2, 3, 4, 5), [5], affine=False)
ln("ln_last2_noaffine", (2, 3, 4, 5), [4, 5], affine=False)
ln("ln_2d", (4, 6), [6])
ln("ln_eps1e-3", (3, 8), [8], eps=1e-3)


def inorm(name, c, shape, train, affine=False, track=False, momentum=0.1):
    seed_for(name)
    m = nn.InstanceNorm2d(c, affine=affine, track_running_stats=track, momentum=momentum)
    randomise(m)
    x = torch.randn(shape) * 2 + 1
    opts = dict(module="InstanceNorm2d", num_features=c, eps=1e-5, momentum=momentum,
                affine=affine, track_running_stats=track)
    g.module_case(name, m, x, opts, train=train)


inorm("in2d", 3, (2, 3, 4, 5), True)
inorm("in2d_affine", 3, (2, 3, 4, 5), True, affine=True)
inorm("in2d_track_train", 3, (2, 3, 4, 5), True, track=True)
inorm("in2d_track_eval", 3, (2, 3, 4, 5), False, track=True)
inorm("in2d_affine_track_train", 3, (2, 3, 4, 5), True, affine=True, track=True, momentum=0.3)
inorm("in2d_affine_track_eval", 3, (2, 3, 4, 5), False, affine=True, track=True)
inorm("in2d_unbatched", 3, (3, 4, 5), True, affine=True)


def gn(name, groups, c, shape, affine=True, eps=1e-5):
    seed_for(name)
    m = nn.GroupNorm(groups, c, eps=eps, affine=affine)
    randomise(m)
    x = torch.randn(shape) * 2 + 1
    opts = dict(module="GroupNorm", num_groups=groups, num_channels=c, eps=eps, affine=affine)
    g.module_case(name, m, x, opts)


gn("gn_g1", 1, 6, (2, 6, 3, 4))
gn("gn_g2", 2, 6, (2, 6, 3, 4))
gn("gn_g3", 3, 6, (2, 6, 3, 4))
gn("gn_g6", 6, 6, (2, 6, 3, 4))
gn("gn_g2_noaffine", 2, 6, (2, 6, 3, 4), affine=False)
gn("gn_g2_2d", 2, 4, (3, 4))
gn("gn_g2_3d", 2, 4, (2, 4, 5))
gn("gn_eps1e-3", 2, 4, (2, 4, 3, 3), eps=1e-3)

# random configurations (seeded): channel counts oneDNN blocks by (8, 16, 32) and odd ones
rng = random.Random(20261129)
for i in range(24):
    kind = ("bn2d", "bn1d", "gn", "ln", "in")[i % 5]
    c = rng.choice([1, 3, 8, 16, 24, 32])
    n, h, w = rng.randint(1, 4), rng.randint(1, 7), rng.randint(1, 7)
    train = rng.random() < 0.6
    name = f"random_{i:02d}_{kind}"
    if kind == "bn2d":
        bn(name, 2, c, (max(n, 2), c, h, w), train, momentum=rng.choice([0.1, 0.3, None]),
           affine=rng.random() < 0.8, track=rng.random() < 0.8, batches_tracked=rng.randint(0, 5))
    elif kind == "bn1d":
        bn(name, 1, c, (max(n, 2), c) + ((w,) if rng.random() < 0.5 else ()), train,
           momentum=rng.choice([0.1, 0.5]), affine=rng.random() < 0.8)
    elif kind == "gn":
        groups = rng.choice([d for d in (1, 2, 3, 4, 8) if c % d == 0])
        gn(name, groups, c, (n, c, h, w), affine=rng.random() < 0.8, eps=rng.choice([1e-5, 1e-3]))
    elif kind == "ln":
        # at least 4 normalised elements: over 2 random values that happen to be close, the
        # op is so ill-conditioned that float32 PyTorch itself is 1e-4 off the float64 answer
        shape = (n, c, max(h, 2), max(w, 2))
        ln(name, shape, list(shape[-rng.randint(2, 3):]), affine=rng.random() < 0.8)
    else:
        inorm(name, c, (n, c, max(h, 2), max(w, 2)), train, affine=rng.random() < 0.5,
              track=rng.random() < 0.5, momentum=rng.choice([0.1, 0.3]))

g.write()
