"""Golden data for double backward (create_graph=True): WGAN-GP gradient penalties through
conv/LeakyReLU/Linear critics, one with InstanceNorm, SiLU, GELU, AvgPool and MaxPool, one
through ConvTranspose2d and Softplus, and a Hessian-vector product of an MLP with BatchNorm1d,
Tanh and label-smoothed cross entropy. For each case: the state_dict, the inputs, the penalty
or the product, the first-order gradient that the penalty is built from, and every parameter's
gradient after the second backward. Writes tests/golden/data/double_backward.safetensors.
"""
import random

import torch

from golden_common import Golden, seed_for

g = Golden("double_backward", "tools/golden/gen_double_backward.py")
nn = torch.nn


def record_state(name, m):
    for k, v in m.state_dict().items():
        g.put(name, k, v)


def record_grads(name, m):
    for k, p in m.named_parameters():
        g.put(name, "grad." + k, p.grad if p.grad is not None else torch.zeros_like(p))


def wgan_gp(name, critic, shape, lam=10.0):
    """loss = D(fake).mean() - D(real).mean() + lam * ((||dD(x_hat)/dx_hat||_2 - 1)^2).mean()."""
    seed_for(name)
    critic.train()
    real, fake = torch.randn(shape), torch.randn(shape)
    eps = torch.rand(shape[0], *([1] * (len(shape) - 1)))
    record_state(name, critic)
    g.put(name, "real", real)
    g.put(name, "fake", fake)
    g.put(name, "eps", eps)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    d_hat = critic(x_hat)
    (grad,) = torch.autograd.grad(d_hat.sum(), x_hat, create_graph=True)
    gp = ((grad.reshape(shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()
    loss = critic(fake).mean() - critic(real).mean() + lam * gp
    loss.backward()
    g.put(name, "grad_xhat", grad)
    g.put(name, "gp", gp)
    g.put(name, "loss", loss)
    record_grads(name, critic)
    g.add_case(name, dict(kind="wgan_gp", shape=list(shape), lam=lam))


def hvp(name, model, x, target, label_smoothing):
    """v . H: the gradient of sum_p <dL/dp, v_p> with respect to every parameter p."""
    seed_for(name)
    model.train()
    record_state(name, model)
    g.put(name, "input", x)
    g.put(name, "target", target)
    params = list(model.named_parameters())
    vs = [torch.randn_like(p) for _, p in params]
    for (k, _), v in zip(params, vs):
        g.put(name, "v." + k, v)
    loss = nn.functional.cross_entropy(model(x), target, label_smoothing=label_smoothing)
    grads = torch.autograd.grad(loss, [p for _, p in params], create_graph=True)
    for (k, _), gr in zip(params, grads):
        g.put(name, "first." + k, gr)
    dot = sum((gr * v).sum() for gr, v in zip(grads, vs))
    dot.backward()
    g.put(name, "loss", loss)
    record_grads(name, model)
    g.add_case(name, dict(kind="hvp", label_smoothing=label_smoothing))


seed_for("critic_conv")
wgan_gp("critic_conv", nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                                     nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                                     nn.Flatten(), nn.Linear(32, 1)), (4, 1, 8, 8))
seed_for("critic_norm_pool")
wgan_gp("critic_norm_pool", nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.InstanceNorm2d(4, affine=True),
                                          nn.SiLU(), nn.AvgPool2d(2), nn.Conv2d(4, 4, 3, padding=1, groups=2),
                                          nn.GELU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 1)),
        (3, 2, 8, 8))
seed_for("critic_transpose")
wgan_gp("critic_transpose", nn.Sequential(nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
                                          nn.Softplus(), nn.Conv2d(3, 2, 3, padding=1), nn.Tanh(),
                                          nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(8, 1)),
        (2, 2, 4, 4), lam=5.0)
seed_for("hvp_mlp")
hvp("hvp_mlp", nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 3)),
    torch.randn(8, 6), torch.tensor([0, 2, 1, 1, 0, 2, 2, 1]), 0.1)


def conv_second_order(name, transposed, n, cin, cout, k, h, w, **kw):
    """S = <dL/dx, vx> + <dL/dw, vw> for L = <conv(x, w, b), u>; records dS/dx, dS/dw, dS/db
    (zero: the bias does not reach the first-order gradients) and dS/du."""
    seed_for(name)
    groups = kw.get("groups", 1)
    x = torch.randn(n, cin, h, w, requires_grad=True)
    if transposed:
        wt = torch.randn(cin, cout // groups, k[0], k[1], requires_grad=True)
    else:
        wt = torch.randn(cout, cin // groups, k[0], k[1], requires_grad=True)
    b = torch.randn(cout, requires_grad=True)
    f = nn.functional.conv_transpose2d if transposed else nn.functional.conv2d
    y = f(x, wt, b, **kw)
    u = torch.randn_like(y).requires_grad_(True)
    vx, vw = torch.randn_like(x), torch.randn_like(wt)
    gx, gw = torch.autograd.grad(y, [x, wt], u, create_graph=True)
    s = (gx * vx).sum() + (gw * vw).sum()
    dx, dw, db, du = torch.autograd.grad(s, [x, wt, b, u], allow_unused=True)
    for what, t in [("x", x), ("weight", wt), ("bias", b), ("u", u), ("vx", vx), ("vw", vw), ("s", s),
                    ("dx", dx), ("dw", dw), ("du", du)]:
        g.put(name, what, t)
    assert db is None
    opts = dict(kind="conv_transpose2d" if transposed else "conv2d", **kw)
    g.add_case(name, opts)


rng = random.Random(31)
for i in range(12):
    groups = rng.choice([1, 1, 2])
    cin, cout = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
    k = (rng.randint(1, 3), rng.randint(1, 3))
    stride, dilation, padding = rng.randint(1, 2), rng.randint(1, 2), rng.randint(0, 2)
    h = rng.randint(dilation * (k[0] - 1) + 1, 7)
    w = rng.randint(dilation * (k[1] - 1) + 1, 7)
    conv_second_order(f"conv2d_random_{i}", False, rng.randint(1, 2), cin, cout, k, h, w, stride=stride,
                      padding=padding, dilation=dilation, groups=groups)
for i in range(8):
    groups = rng.choice([1, 2])
    cin, cout = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
    k = (rng.randint(1, 3), rng.randint(1, 3))
    stride, dilation = rng.randint(1, 2), rng.randint(1, 2)
    padding = rng.randint(0, min(k) - 1)
    output_padding = rng.randint(0, max(stride, dilation) - 1)
    conv_second_order(f"conv_transpose2d_random_{i}", True, rng.randint(1, 2), cin, cout, k, rng.randint(2, 5),
                      rng.randint(2, 5), stride=stride, padding=padding, output_padding=output_padding,
                      groups=groups, dilation=dilation)
g.write()
