# Numbers for tests/integration/libtorch_compat_test.cpp: the same network and data in
# PyTorch (python3-torch). Run: /usr/bin/python3 tools/compat/libtorch_compat_reference.py
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, groups=2, padding_mode="reflect")
        self.fc1 = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, [2, 2])
        x = torch.tanh(self.conv2(x))
        x = x.view(x.size(0), -1)
        return F.log_softmax(self.fc1(x), dim=1)


torch.set_printoptions(precision=7)
net = Net()
with torch.no_grad():
    for name, p in net.named_parameters():
        p.copy_((torch.arange(p.numel(), dtype=torch.float32).reshape(p.shape) * 0.01 + 0.1).sin())
x = (torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8) * 0.1).cos()
out = net(x)
loss = -out[:, 2].mean()
loss.backward()
print("out[0]", out[0].tolist())
print("out[1]", out[1].tolist())
print("loss", loss.item())
print("conv1.weight.grad sum", net.conv1.weight.grad.sum().item())
print("conv1.weight.grad[0,0,0]", net.conv1.weight.grad[0, 0, 0].tolist())
print("fc1.bias.grad", net.fc1.bias.grad.tolist())
print("bn1.running_mean", net.bn1.running_mean.tolist())
print("bn1.running_var", net.bn1.running_var.tolist())
net.eval()
print("eval out[0]", net(x)[0].tolist())


# ---- tests/integration/libtorch_compat_test.cpp: AutoencoderWithTransposedConvsAndUpsampling
class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.dec = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
        self.pad = nn.ReflectionPad2d(1)
        self.head = nn.Conv2d(2, 4, 3)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x):
        x = F.relu(self.enc(x))
        x = F.relu(self.dec(x))
        x = self.head(self.pad(x))
        x = self.shuffle(x)
        return F.interpolate(x, size=[8, 8], mode="bilinear", align_corners=False)


ae = AutoEncoder()
with torch.no_grad():
    for name, p in ae.named_parameters():
        p.copy_((torch.arange(p.numel(), dtype=torch.float32).reshape(p.shape) * 0.03 + 0.2).sin() * 0.3)
x = (torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8) * 0.07).cos()
y = ae(x)
loss = F.mse_loss(y, (x + 1) / 2)
loss.backward()
print("ae out[0,0,0]", y[0, 0, 0].tolist())
print("ae loss", loss.item())
print("ae dec.weight.grad sum", ae.dec.weight.grad.sum().item())
print("ae dec.bias.grad", ae.dec.bias.grad.tolist())


# ---- tests/integration/libtorch_compat_test.cpp: GradientPenaltyThroughACustomFunction
class ScaledTanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        ctx.scale = scale
        return y * scale

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * ctx.scale * (1 - y * y), None


critic = nn.Sequential(nn.Conv2d(1, 3, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(3 * 4 * 4, 1))
with torch.no_grad():
    for name, p in critic.named_parameters():
        p.copy_((torch.arange(p.numel(), dtype=torch.float32).reshape(p.shape) * 0.05 + 0.3).sin() * 0.1)
real = (torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8) * 0.09).cos()
fake = (torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8) * 0.13).sin()
alpha = torch.tensor([0.3, 0.7]).view(2, 1, 1, 1)
x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
d = ScaledTanh.apply(critic(x_hat), 2.0)
(grad,) = torch.autograd.grad([d], [x_hat], [torch.ones_like(d)], retain_graph=True, create_graph=True)
gp = (grad.view(2, -1).norm(2, 1) - 1).pow(2).mean()
loss = ScaledTanh.apply(critic(fake), 2.0).mean() - ScaledTanh.apply(critic(real), 2.0).mean() + 10 * gp
loss.backward()
print("gp critic out", critic(x_hat).flatten().tolist())
print("gp", gp.item())
print("gp loss", loss.item())
print("gp conv.weight.grad sum", critic[0].weight.grad.sum().item())
print("gp conv.weight.grad[0,0,0]", critic[0].weight.grad[0, 0, 0].tolist())
print("gp linear.bias.grad", critic[3].bias.grad.tolist())


# ---- tests/integration/libtorch_compat_test.cpp: OneDimensionalSignals
signal_net = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.BatchNorm1d(4), nn.ReLU(), nn.MaxPool1d(2),
                           nn.AvgPool1d(2, stride=1), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(4, 3))
with torch.no_grad():
    for name, p in signal_net.named_parameters():
        p.copy_((torch.arange(p.numel(), dtype=torch.float32).reshape(p.shape) * 0.07 + 0.1).cos() * 0.5)
sig = (torch.arange(2 * 2 * 8, dtype=torch.float32).view(2, 2, 8) * 0.21).sin()
sig_out = signal_net(sig)
sig_loss = F.cross_entropy(sig_out, torch.tensor([2, 0]))
sig_loss.backward()
print("signal out", sig_out.flatten().tolist())
print("signal loss", sig_loss.item())
print("signal conv.weight.grad sum", signal_net[0].weight.grad.sum().item())
print("signal bn.running_mean", signal_net[1].running_mean.tolist())
