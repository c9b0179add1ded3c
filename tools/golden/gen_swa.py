"""Golden trajectories of torch.optim.swa_utils (PyTorch 1.13): AveragedModel's averaged
weights after each update_parameters() over a sequence of random model states (SWA's
default average without buffers; an EMA with buffers, integer num_batches_tracked
included; an EMA whose decay warms up as min(decay, (1 + n) / (10 + n))), update_bn's
recomputed statistics, and SWALR's lr sequences (stored as JSON in the metadata, like
gen_lr_scheduler.py). The model is nn.Sequential(Conv2d(1, 3, 3), BatchNorm2d(3), ReLU,
Flatten, Linear(48, 2)) on (N, 1, 6, 6) input. Keys:
  <case>/init.<key>       the model's state dict when the AveragedModel is made
  <case>/state<k>.<key>   the model's state dict given to update k (k = 0..K-1)
  <case>/avg<k>.<key>     the AveragedModel's state dict after update k
  update_bn/<key>         the model's state, update_bn/batch<i> the loader's batches,
  update_bn/after.<key>   the state after update_bn
Writes tests/golden/data/swa.safetensors.
"""
import json

import torch
from torch import nn
from torch.optim import swa_utils

from golden_common import Golden, seed_for

g = Golden("swa", "tools/golden/gen_swa.py")
K = 6


def model():
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(48, 2))


def random_state(m):
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p))
        bn = m[1]
        bn.running_mean.copy_(torch.randn(3))
        bn.running_var.copy_(torch.rand(3) + 0.5)
        bn.num_batches_tracked.fill_(int(torch.randint(0, 50, ())))


def averaging_case(name, avg_fn, use_buffers, options):
    seed_for(name)
    m = model()
    random_state(m)
    for key, v in m.state_dict().items():
        g.put(name, f"init.{key}", v)
    avg = swa_utils.AveragedModel(m, avg_fn=avg_fn, use_buffers=use_buffers)
    for k in range(K):
        random_state(m)
        for key, v in m.state_dict().items():
            g.put(name, f"state{k}.{key}", v)
        avg.update_parameters(m)
        for key, v in avg.state_dict().items():
            g.put(name, f"avg{k}.{key}", v)
    g.add_case(name, dict(options, updates=K, use_buffers=use_buffers))


averaging_case("swa", None, False, {"avg": "swa"})
averaging_case("swa_buffers", None, True, {"avg": "swa"})
averaging_case("ema", lambda a, p, n: a * 0.9 + p * (1 - 0.9), True, {"avg": "ema", "decay": 0.9})


def ema_warmup(a, p, n):
    d = min(0.99, (1 + int(n)) / (10 + int(n)))
    return a * d + p * (1 - d)


averaging_case("ema_warmup", ema_warmup, True, {"avg": "ema", "decay": 0.99, "warmup": True})

# update_bn: the running statistics recomputed over three batches (the last one short).
seed_for("update_bn")
m = model()
random_state(m)
m[1].momentum = 0.3
for key, v in m.state_dict().items():
    g.put("update_bn", key, v)
batches = [torch.randn(n, 1, 6, 6) * 2 + 1 for n in (4, 4, 3)]  # a loader of 11 examples, batch 4
for i, b in enumerate(batches):
    g.put("update_bn", f"batch{i}", b)
m.eval()
swa_utils.update_bn(batches, m)
assert not m.training and m[1].momentum == 0.3
for key, v in m.state_dict().items():
    g.put("update_bn", "after." + key, v)
g.add_case("update_bn", {"batches": len(batches), "momentum": 0.3})

# SWALR: lrs after construction and after each of 15 steps.
STEPS = 15


def swalr_case(name, group_lrs, swa_lr, anneal_epochs, strategy):
    params = [torch.zeros(1, requires_grad=True) for _ in group_lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, group_lrs)], lr=group_lrs[0])
    s = swa_utils.SWALR(opt, swa_lr=swa_lr, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    lrs = [[grp["lr"] for grp in opt.param_groups]]
    for _ in range(STEPS):
        opt.step()
        s.step()
        lrs.append([grp["lr"] for grp in opt.param_groups])
    g.add_case(name, {"groups": list(group_lrs), "swa_lr": swa_lr, "anneal_epochs": anneal_epochs,
                      "anneal_strategy": strategy, "lrs": lrs})


swalr_case("swalr_cos", (0.1,), 0.05, 5, "cos")
swalr_case("swalr_default_anneal", (0.2, 0.02), 0.01, 10, "cos")
swalr_case("swalr_linear_groups", (0.1, 0.03), [0.02, 0.05], 4, "linear")
swalr_case("swalr_no_anneal", (0.1,), 0.04, 0, "linear")

g.write()
