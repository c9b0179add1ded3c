"""Golden data for double backward (create_graph=True): WGAN-GP gradient penalties through
conv/LeakyReLU/Linear critics, one with InstanceNorm, SiLU, GELU, AvgPool and MaxPool, one
through ConvTranspose2d and Softplus, and a Hessian-vector product of an MLP with BatchNorm1d,
Tanh and label-smoothed cross entropy. For each case: the state_dict, the inputs, the penalty
or the product, the first-order gradient that the penalty is built from, and every parameter's
gradient after the second backward. Writes tests/golden/data/double_backward.safetensors.
"""
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
g.write()
