"""Golden parameter trajectories of every optimiser: a small model (Linear(4, 3) -> Tanh ->
Linear(3, 2)) trained for 50 steps on fixed data with loss mean((model(x) - y)^2), which the
C++ test computes itself from the same inputs. One case per option combination (SGD
momentum/dampening/nesterov/weight_decay, Adam with/without amsgrad and weight decay, AdamW,
Adagrad, RMSprop), plus parameter groups with different options and clip_grad_norm_ in the
loop (norm_type "inf" is a string: JSON has no infinity). Per case: the initial parameters ("init.<name>"), x, y, the parameters after steps
1, 2, 3, 5, 10, 20 and 50 ("step<k>.<name>"), the loss of every step ("losses"), and the
optimiser's state after step 50 under PyTorch's state_dict names ("state.<i>.<name>", steps
as "state.<i>.step" in the options metadata). Writes tests/golden/data/optim.safetensors.
"""
import torch

from golden_common import Golden, seed_for

g = Golden("optim", "tools/golden/gen_optim.py")
STEPS = 50
RECORD = (1, 2, 3, 5, 10, 20, 50)
NAMES = ("0.weight", "0.bias", "2.weight", "2.bias")
KINDS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW,
         "Adagrad": torch.optim.Adagrad, "RMSprop": torch.optim.RMSprop}


def make_optimizer(kind, params, defaults, groups):
    if groups is None:
        return KINDS[kind](params, foreach=False, **defaults)
    # groups: list of (first parameter index, last + 1, options overriding the defaults)
    pg = [dict(params=params[a:b], **o) for a, b, o in groups]
    return KINDS[kind](pg, foreach=False, **defaults)


def case(name, kind, defaults, groups=None, clip=None):
    seed_for("optim/model")  # the same model and data for every case
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    x = torch.randn(8, 4)
    y = torch.randn(8, 2)
    params = list(model.parameters())
    for n, p in zip(NAMES, params):
        g.put(name, "init." + n, p)
    g.put(name, "x", x)
    g.put(name, "y", y)
    opt = make_optimizer(kind, params, defaults, groups)
    losses = []
    norms = []
    for step in range(1, STEPS + 1):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
        if clip is not None:
            norms.append(torch.nn.utils.clip_grad_norm_(params, clip["max_norm"],
                                                        float(clip["norm_type"])).item())
        opt.step()
        if step in RECORD:
            for n, p in zip(NAMES, params):
                g.put(name, f"step{step}.{n}", p)
    g.put(name, "losses", torch.tensor(losses))
    if norms:
        g.put(name, "norms", torch.tensor(norms))
    sd = opt.state_dict()
    steps = {}
    for i, st in sd["state"].items():
        for k, v in st.items():
            if k == "step":
                steps[str(i)] = float(v)
            elif v is not None:
                g.put(name, f"state.{i}.{k}", v)
    opts = dict(optimizer=kind, defaults=defaults, steps=steps, record=list(RECORD))
    if groups is not None:
        opts["groups"] = [dict(begin=a, end=b, options=o) for a, b, o in groups]
    if clip is not None:
        opts["clip"] = clip
    g.add_case(name, opts)


case("sgd_plain", "SGD", dict(lr=0.1))
case("sgd_momentum", "SGD", dict(lr=0.05, momentum=0.9))
case("sgd_momentum_dampening", "SGD", dict(lr=0.05, momentum=0.9, dampening=0.3))
case("sgd_nesterov", "SGD", dict(lr=0.05, momentum=0.8, nesterov=True))
case("sgd_weight_decay", "SGD", dict(lr=0.1, weight_decay=0.01))
case("sgd_all", "SGD", dict(lr=0.03, momentum=0.7, weight_decay=0.05, nesterov=True))
case("sgd_momentum_dampening_wd", "SGD", dict(lr=0.03, momentum=0.5, dampening=0.5, weight_decay=0.1))
case("adam", "Adam", dict(lr=0.01))
case("adam_betas_eps", "Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6))
case("adam_amsgrad", "Adam", dict(lr=0.01, amsgrad=True))
case("adam_weight_decay", "Adam", dict(lr=0.01, weight_decay=0.1))
case("adam_amsgrad_weight_decay", "Adam", dict(lr=0.02, weight_decay=0.05, amsgrad=True))
case("adamw", "AdamW", dict(lr=0.01))
case("adamw_amsgrad", "AdamW", dict(lr=0.02, weight_decay=0.1, amsgrad=True, betas=(0.85, 0.98)))
case("adagrad", "Adagrad", dict(lr=0.1))
case("adagrad_lr_decay", "Adagrad", dict(lr=0.2, lr_decay=0.05))
case("adagrad_all", "Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1,
                                    eps=1e-6))
case("rmsprop", "RMSprop", dict(lr=0.01))
case("rmsprop_momentum", "RMSprop", dict(lr=0.005, momentum=0.9))
case("rmsprop_centered", "RMSprop", dict(lr=0.005, centered=True, alpha=0.9))
case("rmsprop_all", "RMSprop", dict(lr=0.003, momentum=0.5, centered=True, weight_decay=0.05, eps=1e-6))
case("sgd_groups", "SGD", dict(lr=0.05, momentum=0.9),
     groups=[(0, 2, dict(lr=0.1, nesterov=True)), (2, 4, dict(momentum=0.5, weight_decay=0.02))])
case("adam_groups", "Adam", dict(lr=0.01),
     groups=[(0, 2, dict()), (2, 4, dict(lr=0.001, amsgrad=True, betas=(0.5, 0.9)))])
case("sgd_clip_norm", "SGD", dict(lr=0.2, momentum=0.9), clip=dict(max_norm=0.3, norm_type=2.0))
case("adam_clip_inf", "Adam", dict(lr=0.02), clip=dict(max_norm=0.1, norm_type="inf"))
case("sgd_clip_norm1", "SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.01), clip=dict(max_norm=0.5, norm_type=1.0))

g.write()
