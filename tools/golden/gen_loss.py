"""Golden data for the loss modules: MSELoss, L1Loss, SmoothL1Loss (beta 1, 0.5, 0), HuberLoss
(delta 1, 0.3, 2), BCELoss (weights; inputs at exactly 0 and 1 for the log clamp),
BCEWithLogitsLoss (weight, pos_weight, logits of +-30), MultiLabelSoftMarginLoss, NLLLoss and
CrossEntropyLoss ((N, C), (C), (N, C, H, W); class weights; ignore_index present in the
targets; label smoothing with and without weights; probability targets), each under every
reduction. Per case: input, target, [weight], [pos_weight], out, grad_input (backward of
out.sum() for 'none', of the scalar otherwise) and grad_target for float targets.
Writes tests/golden/data/loss.safetensors.
"""
import torch

from golden_common import Golden, seed_for

g = Golden("loss", "tools/golden/gen_loss.py")
nn = torch.nn
REDUCTIONS = ("mean", "sum", "none")


def record(name, module, x, t, opts, weight=None, pos_weight=None, grad_target=True):
    x = x.detach().clone().requires_grad_(True)
    float_target = t.is_floating_point()
    t = t.detach().clone().requires_grad_(float_target and grad_target)
    out = module(x, t)
    (out.sum() if out.dim() > 0 else out).backward()
    g.put(name, "input", x)
    g.put(name, "target", t)
    if weight is not None:
        g.put(name, "weight", weight)
    if pos_weight is not None:
        g.put(name, "pos_weight", pos_weight)
    g.put(name, "out", out)
    g.put(name, "grad_input", x.grad)
    if t.requires_grad:
        g.put(name, "grad_target", t.grad)
    g.add_case(name, opts)


def regression(kind, make, extra, shapes=((4, 5), (2, 3, 4)), scale=2.0):
    for r in REDUCTIONS:
        for shape in shapes:
            name = f"{kind}_{'x'.join(map(str, shape))}_{r}" + "".join(f"_{k}{v}" for k, v in extra.items())
            seed_for(name)
            x = torch.randn(shape) * scale
            t = torch.randn(shape) * scale
            record(name, make(r), x, t, dict(module=kind, reduction=r, **extra))


regression("MSELoss", lambda r: nn.MSELoss(reduction=r), {})
regression("L1Loss", lambda r: nn.L1Loss(reduction=r), {})
for beta in (1.0, 0.5, 0.0):
    regression("SmoothL1Loss", lambda r, b=beta: nn.SmoothL1Loss(reduction=r, beta=b), dict(beta=beta),
               shapes=((4, 5),))
for delta in (1.0, 0.3, 2.0):
    regression("HuberLoss", lambda r, d=delta: nn.HuberLoss(reduction=r, delta=d), dict(delta=delta),
               shapes=((4, 5),))

# ---- BCE ---------------------------------------------------------------------------------
for r in REDUCTIONS:
    for wshape in (None, (5,), (4, 5)):
        name = f"BCELoss_{r}_w{'' if wshape is None else 'x'.join(map(str, wshape))}"
        seed_for(name)
        x = torch.sigmoid(torch.randn(4, 5) * 2)
        t = torch.rand(4, 5)
        w = None if wshape is None else torch.rand(wshape) + 0.5
        record(name, nn.BCELoss(weight=w, reduction=r), x, t, dict(module="BCELoss", reduction=r), weight=w)
    # exact 0 and 1 inputs: PyTorch clamps the logs at -100 and the gradient's denominator at 1e-12
    name = f"BCELoss_{r}_edges"
    x = torch.tensor([[0.0, 1.0, 0.0, 1.0, 0.5], [1e-30, 1 - 1e-7, 0.25, 0.75, 0.999]])
    t = torch.tensor([[0.0, 1.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.5, 0.5, 0.0]])
    record(name, nn.BCELoss(reduction=r), x, t, dict(module="BCELoss", reduction=r), grad_target=False)

for r in REDUCTIONS:
    for w_on, pw_on in ((False, False), (True, False), (False, True), (True, True)):
        name = f"BCEWithLogitsLoss_{r}_w{int(w_on)}_pw{int(pw_on)}"
        seed_for(name)
        x = torch.randn(4, 5) * 3
        x[0, 0], x[1, 1] = 30.0, -30.0
        t = torch.rand(4, 5)
        w = torch.rand(4, 5) + 0.5 if w_on else None
        pw = torch.rand(5) * 3 + 0.2 if pw_on else None
        record(name, nn.BCEWithLogitsLoss(weight=w, pos_weight=pw, reduction=r), x, t,
               dict(module="BCEWithLogitsLoss", reduction=r), weight=w, pos_weight=pw)

for r in REDUCTIONS:
    for w_on in (False, True):
        name = f"MultiLabelSoftMarginLoss_{r}_w{int(w_on)}"
        seed_for(name)
        x = torch.randn(4, 6) * 2
        t = (torch.rand(4, 6) > 0.5).float()
        w = torch.rand(6) + 0.5 if w_on else None
        record(name, nn.MultiLabelSoftMarginLoss(weight=w, reduction=r), x, t,
               dict(module="MultiLabelSoftMarginLoss", reduction=r), weight=w)


# ---- NLL and cross entropy -----------------------------------------------------------------
def class_targets(shape, C, ignore_index, n_ignored):
    t = torch.randint(0, C, shape)
    if n_ignored:
        flat = t.view(-1)
        flat[torch.randperm(flat.numel())[:n_ignored]] = ignore_index
    return t


def class_case(kind, r, shape, weighted=False, ignore_index=-100, n_ignored=0, label_smoothing=0.0):
    N_C = shape[:2] if len(shape) > 1 else (None, shape[0])
    C = N_C[1]
    name = f"{kind}_{'x'.join(map(str, shape))}_{r}" + ("_w" if weighted else "") + \
        (f"_ign{ignore_index}x{n_ignored}" if n_ignored or ignore_index != -100 else "") + (f"_ls{label_smoothing}" if label_smoothing else "")
    seed_for(name)
    x = torch.randn(shape) * 2
    tshape = (shape[0],) + tuple(shape[2:]) if len(shape) > 1 else ()
    t = class_targets(tshape, C, ignore_index, n_ignored)
    w = torch.rand(C) + 0.5 if weighted else None
    opts = dict(module=kind, reduction=r, ignore_index=ignore_index)
    if kind == "NLLLoss":
        x = torch.log_softmax(x, 1 if len(shape) > 1 else 0)
        m = nn.NLLLoss(weight=w, ignore_index=ignore_index, reduction=r)
    else:
        opts["label_smoothing"] = label_smoothing
        m = nn.CrossEntropyLoss(weight=w, ignore_index=ignore_index, reduction=r, label_smoothing=label_smoothing)
    record(name, m, x, t, opts, weight=w)


for r in REDUCTIONS:
    for kind in ("NLLLoss", "CrossEntropyLoss"):
        class_case(kind, r, (16, 10))
        class_case(kind, r, (16, 10), weighted=True)
        class_case(kind, r, (16, 10), weighted=True, n_ignored=4)
        class_case(kind, r, (16, 10), ignore_index=3, n_ignored=0)   # 3 occurs as a real class
        class_case(kind, r, (2, 4, 3, 5), weighted=True, n_ignored=5)
        class_case(kind, r, (2, 4, 3, 5), ignore_index=1)
        class_case(kind, r, (7,))
    for ls in (0.1, 0.3):
        class_case("CrossEntropyLoss", r, (16, 10), label_smoothing=ls)
        class_case("CrossEntropyLoss", r, (16, 10), weighted=True, n_ignored=3, label_smoothing=ls)
        class_case("CrossEntropyLoss", r, (2, 4, 3, 5), weighted=True, n_ignored=4, label_smoothing=ls)
    # ignore_index inside [0, C) together with smoothing and weights
    class_case("CrossEntropyLoss", r, (16, 10), weighted=True, ignore_index=2, n_ignored=3, label_smoothing=0.2)


def prob_case(r, shape, weighted=False, label_smoothing=0.0):
    C = shape[1] if len(shape) > 1 else shape[0]
    name = f"CrossEntropyLoss_prob_{'x'.join(map(str, shape))}_{r}" + ("_w" if weighted else "") + \
        (f"_ls{label_smoothing}" if label_smoothing else "")
    seed_for(name)
    x = torch.randn(shape) * 2
    t = torch.softmax(torch.randn(shape), 1 if len(shape) > 1 else 0)
    w = torch.rand(C) + 0.5 if weighted else None
    m = nn.CrossEntropyLoss(weight=w, reduction=r, label_smoothing=label_smoothing)
    record(name, m, x, t, dict(module="CrossEntropyLoss", reduction=r, ignore_index=-100,
                               label_smoothing=label_smoothing), weight=w)


for r in REDUCTIONS:
    prob_case(r, (8, 5))
    prob_case(r, (8, 5), weighted=True)
    prob_case(r, (8, 5), weighted=True, label_smoothing=0.2)
    prob_case(r, (2, 3, 2, 4), weighted=True)
    prob_case(r, (6,), label_smoothing=0.1)

g.write()
