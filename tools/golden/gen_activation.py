"""Golden data for the activation modules: ReLU, ReLU6, LeakyReLU, ELU, SELU, GELU (none and
tanh), Sigmoid, Tanh, SiLU, Mish, LogSigmoid, Hardswish, Hardsigmoid, Hardtanh, Softplus, PReLU
(1 or C parameters), Softmax and LogSoftmax over several dims. Inputs are N(0, 3^2) so every branch
of the piecewise ones (e.g. Hardswish's +-3, Softplus's threshold) is taken. Writes
tests/golden/data/activation.safetensors.
"""
import torch

from golden_common import Golden, seed_for

g = Golden("activation", "tools/golden/gen_activation.py")
nn = torch.nn


def case(name, module, opts, shape=(2, 3, 4, 5), scale=3.0, train=True):
    seed_for(name)
    x = torch.randn(shape) * scale
    g.module_case(name, module, x, opts, train=train)


case("relu", nn.ReLU(), dict(module="ReLU"))
case("relu6", nn.ReLU6(), dict(module="ReLU6"))
case("leaky_relu_default", nn.LeakyReLU(), dict(module="LeakyReLU", negative_slope=0.01))
case("leaky_relu_0.2", nn.LeakyReLU(0.2), dict(module="LeakyReLU", negative_slope=0.2))
case("leaky_relu_neg", nn.LeakyReLU(-0.5), dict(module="LeakyReLU", negative_slope=-0.5))
case("elu_default", nn.ELU(), dict(module="ELU", alpha=1.0))
case("elu_0.5", nn.ELU(0.5), dict(module="ELU", alpha=0.5))
case("elu_2", nn.ELU(2.0), dict(module="ELU", alpha=2.0))
case("selu", nn.SELU(), dict(module="SELU"))
case("gelu_none", nn.GELU(), dict(module="GELU", approximate="none"))
case("gelu_tanh", nn.GELU(approximate="tanh"), dict(module="GELU", approximate="tanh"))
case("sigmoid", nn.Sigmoid(), dict(module="Sigmoid"))
case("sigmoid_large", nn.Sigmoid(), dict(module="Sigmoid"), scale=20.0)
case("tanh", nn.Tanh(), dict(module="Tanh"))
case("silu", nn.SiLU(), dict(module="SiLU"))
case("mish", nn.Mish(), dict(module="Mish"))
case("mish_large", nn.Mish(), dict(module="Mish"), scale=15.0)
# oneDNN's logsigmoid loses up to ~4e-6 absolute for x > 15 (torch: -exp(-x)); no large case.
case("logsigmoid", nn.LogSigmoid(), dict(module="LogSigmoid"), shape=(2, 3, 4))
case("hardswish", nn.Hardswish(), dict(module="Hardswish"))
case("hardsigmoid", nn.Hardsigmoid(), dict(module="Hardsigmoid"))
case("hardtanh", nn.Hardtanh(), dict(module="Hardtanh", min_val=-1.0, max_val=1.0))
case("hardtanh_-2_3", nn.Hardtanh(-2.0, 3.0), dict(module="Hardtanh", min_val=-2.0, max_val=3.0))
case("softplus", nn.Softplus(), dict(module="Softplus", beta=1.0, threshold=20.0))
case("softplus_b2_t3", nn.Softplus(beta=2.0, threshold=3.0),
     dict(module="Softplus", beta=2.0, threshold=3.0))


def prelu(name, num, init, shape=(2, 3, 4, 5)):
    seed_for(name)
    m = nn.PReLU(num, init=init)
    with torch.no_grad():
        if num > 1:
            m.weight.copy_(torch.linspace(-0.5, 0.75, num))
    x = torch.randn(shape) * 3.0
    g.module_case(name, m, x, dict(module="PReLU", num_parameters=num, init=init))


prelu("prelu_1", 1, 0.25)
prelu("prelu_1_init0.1", 1, 0.1)
prelu("prelu_C", 3, 0.25)
prelu("prelu_C_2d", 3, 0.25, shape=(4, 3))
prelu("prelu_C_3d", 3, 0.25, shape=(2, 3, 5))

for dim in (0, 1, 2, 3, -1):
    case(f"softmax_dim{dim}", nn.Softmax(dim), dict(module="Softmax", dim=dim), shape=(2, 3, 4, 5))
    case(f"log_softmax_dim{dim}", nn.LogSoftmax(dim), dict(module="LogSoftmax", dim=dim),
         shape=(2, 3, 4, 5))
case("softmax_2d", nn.Softmax(1), dict(module="Softmax", dim=1), shape=(4, 10))
case("log_softmax_2d", nn.LogSoftmax(1), dict(module="LogSoftmax", dim=1), shape=(4, 10))
case("softmax_large", nn.Softmax(-1), dict(module="Softmax", dim=-1), shape=(3, 7), scale=50.0)
case("log_softmax_large", nn.LogSoftmax(-1), dict(module="LogSoftmax", dim=-1), shape=(3, 7),
     scale=50.0)

g.write()
