"""Golden lr sequences of every LR scheduler: the lr of each parameter group right after
construction and after each of 100 step() calls (for ReduceLROnPlateau, step(metric) over
a fixed float32 metric sequence); for OneCycleLR also the cycled momentum (SGD's momentum
or Adam's betas[0]). The sequences are doubles and need ~1e-12 agreement, but the C++
safetensors reader widens nothing beyond float32, so they are stored as JSON numbers (repr:
exact round trip) in each case's metadata: {"scheduler": ..., "optimizer": ..., "groups":
[lr, ...], "lrs": [[group lrs after construction], [after step 1], ...], "momentums": ...,
"metrics": [...]}. Writes tests/golden/data/lr_scheduler.safetensors.
"""
import math

import torch
from torch.optim import lr_scheduler as S

from golden_common import Golden

g = Golden("lr_scheduler", "tools/golden/gen_lr_scheduler.py")
STEPS = 100


def make_optimizer(kind, group_lrs):
    params = [torch.zeros(1, requires_grad=True) for _ in group_lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, group_lrs)]
    if kind == "SGD":
        return torch.optim.SGD(groups, lr=group_lrs[0], momentum=0.9, foreach=False)
    if kind == "Adam":
        return torch.optim.Adam(groups, lr=group_lrs[0], foreach=False)
    if kind == "Adagrad":
        return torch.optim.Adagrad(groups, lr=group_lrs[0], foreach=False)
    raise ValueError(kind)


def build(opt, spec):
    kind = spec["scheduler"]
    a = spec.get("args", {})
    if kind == "StepLR":
        return S.StepLR(opt, **a)
    if kind == "MultiStepLR":
        return S.MultiStepLR(opt, **a)
    if kind == "ExponentialLR":
        return S.ExponentialLR(opt, **a)
    if kind == "ConstantLR":
        return S.ConstantLR(opt, **a)
    if kind == "LinearLR":
        return S.LinearLR(opt, **a)
    if kind == "CosineAnnealingLR":
        return S.CosineAnnealingLR(opt, **a)
    if kind == "CosineAnnealingWarmRestarts":
        return S.CosineAnnealingWarmRestarts(opt, **a)
    if kind == "OneCycleLR":
        return S.OneCycleLR(opt, **a)
    if kind == "SequentialLR":
        subs = [build(opt, s) for s in spec["schedulers"]]
        return S.SequentialLR(opt, subs, milestones=spec["milestones"])
    if kind == "ReduceLROnPlateau":
        return S.ReduceLROnPlateau(opt, **a)
    raise ValueError(kind)


def momentum_of(opt):
    out = []
    for group in opt.param_groups:
        out.append(group["betas"][0] if "betas" in group else group.get("momentum", 0.0))
    return out


# Metric sequences: float32 values (C++ step(float)), improving, then plateaus and noise.
def metric_sequence(kind):
    vals = []
    for i in range(STEPS):
        if kind == "falling":
            v = 2.0 - 0.05 * min(i, 15) + (0.001 if i % 7 == 3 else 0.0) * (i % 3)
            v += 0.0002 * ((i * 37) % 11) if i > 40 else 0.0
        else:  # "rising" (accuracy-like), with stalls
            v = 0.5 + 0.02 * min(i, 12) + 0.004 * ((i * 13) % 5 == 0) * (i > 30)
        vals.append(float(torch.tensor(v, dtype=torch.float32).item()))
    return vals


def case(name, spec, optimizer="SGD", group_lrs=(0.1,), metrics=None):
    opt = make_optimizer(optimizer, list(group_lrs))
    sched = build(opt, spec)
    lrs = [[grp["lr"] for grp in opt.param_groups]]
    moms = [momentum_of(opt)]
    for i in range(STEPS):
        if metrics is not None:
            sched.step(metrics[i])
        else:
            sched.step()
        lrs.append([grp["lr"] for grp in opt.param_groups])
        moms.append(momentum_of(opt))
    for row in lrs:
        for v in row:
            if not math.isfinite(v):
                raise ValueError(f"{name}: non-finite lr")
    opts = dict(spec)
    opts.update(optimizer=optimizer, groups=list(group_lrs), lrs=lrs)
    if spec["scheduler"] == "OneCycleLR":
        opts["momentums"] = moms
    if metrics is not None:
        opts["metrics"] = metrics
    g.add_case(name, opts)


case("step_lr", {"scheduler": "StepLR", "args": {"step_size": 7, "gamma": 0.5}})
case("step_lr_default_gamma_2groups", {"scheduler": "StepLR", "args": {"step_size": 30}}, group_lrs=(0.1, 0.03))
case("multi_step_lr", {"scheduler": "MultiStepLR", "args": {"milestones": [60, 10, 25, 25], "gamma": 0.3}})
case("exponential_lr", {"scheduler": "ExponentialLR", "args": {"gamma": 0.97}}, group_lrs=(0.1, 0.5))
case("constant_lr", {"scheduler": "ConstantLR", "args": {"factor": 0.5, "total_iters": 10}})
case("constant_lr_default", {"scheduler": "ConstantLR"})
case("linear_lr_default", {"scheduler": "LinearLR"})
case("linear_lr", {"scheduler": "LinearLR", "args": {"start_factor": 0.1, "end_factor": 0.9, "total_iters": 20}},
     group_lrs=(0.1, 0.02))
case("cosine_annealing_lr", {"scheduler": "CosineAnnealingLR", "args": {"T_max": 100}})
case("cosine_annealing_lr_wraps", {"scheduler": "CosineAnnealingLR", "args": {"T_max": 30, "eta_min": 0.001}},
     group_lrs=(0.1, 0.05))
case("warm_restarts", {"scheduler": "CosineAnnealingWarmRestarts", "args": {"T_0": 10}})
case("warm_restarts_tmult2", {"scheduler": "CosineAnnealingWarmRestarts",
                              "args": {"T_0": 5, "T_mult": 2, "eta_min": 0.001}}, group_lrs=(0.1, 0.02))
case("sequential_linear_cosine", {"scheduler": "SequentialLR", "milestones": [5], "schedulers": [
    {"scheduler": "LinearLR", "args": {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 5}},
    {"scheduler": "CosineAnnealingLR", "args": {"T_max": 95}}]})
case("sequential_three", {"scheduler": "SequentialLR", "milestones": [4, 40], "schedulers": [
    {"scheduler": "LinearLR", "args": {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 4}},
    {"scheduler": "StepLR", "args": {"step_size": 10, "gamma": 0.5}},
    {"scheduler": "CosineAnnealingWarmRestarts", "args": {"T_0": 7, "T_mult": 2}}]}, group_lrs=(0.1, 0.01))
case("one_cycle_cos", {"scheduler": "OneCycleLR", "args": {"max_lr": 0.5, "total_steps": 100}})
case("one_cycle_linear", {"scheduler": "OneCycleLR", "args": {
    "max_lr": 0.5, "total_steps": 120, "pct_start": 0.25, "anneal_strategy": "linear", "div_factor": 10.0,
    "final_div_factor": 100.0}}, group_lrs=(0.1, 0.01))
case("one_cycle_three_phase", {"scheduler": "OneCycleLR", "args": {
    "max_lr": 1.0, "total_steps": 100, "three_phase": True}})
case("one_cycle_three_phase_linear", {"scheduler": "OneCycleLR", "args": {
    "max_lr": 1.0, "total_steps": 110, "three_phase": True, "anneal_strategy": "linear", "pct_start": 0.4}})
case("one_cycle_adam", {"scheduler": "OneCycleLR", "args": {
    "max_lr": 0.01, "total_steps": 100, "base_momentum": 0.8, "max_momentum": 0.9}}, optimizer="Adam")
case("one_cycle_no_momentum", {"scheduler": "OneCycleLR", "args": {
    "max_lr": 0.05, "total_steps": 100, "cycle_momentum": False}}, optimizer="Adagrad")
case("plateau_default", {"scheduler": "ReduceLROnPlateau"}, metrics=metric_sequence("falling"))
case("plateau_max_abs", {"scheduler": "ReduceLROnPlateau", "args": {
    "mode": "max", "threshold_mode": "abs", "threshold": 0.01, "patience": 3, "factor": 0.5}},
    metrics=metric_sequence("rising"))
case("plateau_cooldown_min_lr", {"scheduler": "ReduceLROnPlateau", "args": {
    "patience": 2, "cooldown": 3, "factor": 0.5, "min_lr": 0.01}}, metrics=metric_sequence("falling"))
case("plateau_min_lr_groups", {"scheduler": "ReduceLROnPlateau", "args": {
    "mode": "max", "patience": 1, "factor": 0.3, "min_lr": [0.002, 0.0005], "threshold": 0.001}},
    group_lrs=(0.1, 0.02), metrics=metric_sequence("rising"))

g.write()
