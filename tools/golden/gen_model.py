"""Golden data for whole small models, forward and backward:
  lenet5      LeNet-5 for 28x28 inputs (Fashion-MNIST) as one nn.Sequential, so state-dict
              keys are "0.weight", "3.weight", ...; upstream gradient grad_out;
  lenet5_ce   the same network under mean cross-entropy on int64 targets (loss, grads);
  small_cnn   Conv-BatchNorm-ReLU-MaxPool-Conv-BatchNorm-ReLU-AdaptiveAvgPool-Flatten-Linear
              in train mode (running statistics after the step in after.*).
Writes tests/golden/data/model.safetensors.
"""
import torch

from golden_common import Golden, seed_for

g = Golden("model", "tools/golden/gen_model.py")
nn = torch.nn


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))


seed_for("lenet5")
g.module_case("lenet5", lenet5(), torch.randn(2, 1, 28, 28), dict(module="LeNet5"))

seed_for("small_cnn")
g.module_case("small_cnn", small_cnn(), torch.randn(2, 3, 8, 8), dict(module="SmallCNN"))

# Cross-entropy: the loss is the output; no grad_out.
name = "lenet5_ce"
seed_for(name)
m = lenet5().train()
for k, v in m.state_dict().items():
    g.put(name, k, v)
x = torch.randn(4, 1, 28, 28).requires_grad_(True)
target = torch.tensor([3, 0, 9, 3])
logits = m(x)
loss = nn.functional.cross_entropy(logits, target)
loss.backward()
g.put(name, "input", x)
g.put(name, "target", target)
g.put(name, "out", logits)
g.put(name, "loss", loss)
g.put(name, "grad_input", x.grad)
for k, p in m.named_parameters():
    g.put(name, "grad." + k, p.grad)
g.add_case(name, dict(module="LeNet5", loss="cross_entropy", train=True, input_shape=list(x.shape)))

g.write()
