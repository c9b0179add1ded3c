"""Golden data for Linear (bias on/off, 1-d, 2-d and 3-d inputs), Flatten (default and
explicit dims), Unflatten, Identity and Dropout / Dropout2d in eval mode (identity) and in
train mode with p = 0 (identity) and p = 1 (all zeros). Writes
tests/golden/data/linear.safetensors.
"""
import torch

from golden_common import Golden, seed_for

g = Golden("linear", "tools/golden/gen_linear.py")
nn = torch.nn


def run(name, m, opts, shape, train=True):
    seed_for(name)
    x = torch.randn(shape)
    g.module_case(name, m, x, opts, train=train)


def linear(name, i, o, shape, bias=True):
    seed_for(name + "/init")
    m = nn.Linear(i, o, bias=bias)
    run(name, m, dict(module="Linear", in_features=i, out_features=o, bias=bias), shape)


linear("linear", 5, 3, (4, 5))
linear("linear_nobias", 5, 3, (4, 5), bias=False)
linear("linear_1d", 6, 2, (6,))
linear("linear_3d", 4, 3, (2, 3, 4))
linear("linear_4d", 3, 5, (2, 2, 3, 3))
linear("linear_1to1", 1, 1, (7, 1))

run("flatten", nn.Flatten(), dict(module="Flatten", start_dim=1, end_dim=-1), (2, 3, 4, 5))
run("flatten_0", nn.Flatten(0), dict(module="Flatten", start_dim=0, end_dim=-1), (2, 3, 4))
run("flatten_1_2", nn.Flatten(1, 2), dict(module="Flatten", start_dim=1, end_dim=2), (2, 3, 4, 5))
run("flatten_-3_-2", nn.Flatten(-3, -2), dict(module="Flatten", start_dim=-3, end_dim=-2),
    (2, 3, 4, 5))
run("unflatten", nn.Unflatten(1, (3, 4)), dict(module="Unflatten", dim=1, sizes=[3, 4]), (2, 12, 5))
run("identity", nn.Identity(), dict(module="Identity"), (2, 3, 4))

run("dropout_eval", nn.Dropout(0.5), dict(module="Dropout", p=0.5), (2, 3, 4), train=False)
run("dropout_train_p0", nn.Dropout(0.0), dict(module="Dropout", p=0.0), (2, 3, 4), train=True)
run("dropout_train_p1", nn.Dropout(1.0), dict(module="Dropout", p=1.0), (2, 3, 4), train=True)
run("dropout2d_eval", nn.Dropout2d(0.3), dict(module="Dropout2d", p=0.3), (2, 3, 4, 4),
    train=False)
run("dropout2d_train_p0", nn.Dropout2d(0.0), dict(module="Dropout2d", p=0.0), (2, 3, 4, 4),
    train=True)

g.write()
