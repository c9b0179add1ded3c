"""Golden data for the model zoo (src/models/zoo.cpp), written as PyTorch modules with the
same child names, so state-dict keys must match exactly:
  resnet_tiny      CIFAR ResNet (width 4, one BasicBlock per stage, 5 classes), train mode,
                   forward + backward + running statistics; input 2x3x16x16
  vgg_tiny         VGG-style (width 4), train mode; input 2x3x8x8
  mobilenet_tiny   MobileNet-style (width 4), train mode; input 2x3x16x16
  resnet18_keys    torchvision.models.resnet18()'s state-dict keys and shapes (options only:
                   "keys" = [[key, shape], ...]), for the key-equality test.
Writes tests/golden/data/models.safetensors.
"""
from collections import OrderedDict

import torch
import torchvision

from golden_common import Golden, seed_for

g = Golden("models", "tools/golden/gen_models.py")
nn = torch.nn
BasicBlock = torchvision.models.resnet.BasicBlock


def conv3x3(i, o, s=1):
    return nn.Conv2d(i, o, 3, stride=s, padding=1, bias=False)


def cifar_resnet(c, w, blocks, classes):
    layers = [("conv1", conv3x3(c, w)), ("bn1", nn.BatchNorm2d(w)), ("relu", nn.ReLU())]
    inp, planes = w, w
    for s, n in enumerate(blocks):
        stage = []
        for b in range(n):
            stride = 2 if (s > 0 and b == 0) else 1
            down = None
            if stride != 1 or inp != planes:
                down = nn.Sequential(nn.Conv2d(inp, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))
            stage.append(BasicBlock(inp, planes, stride, down))
            inp = planes
        layers.append((f"layer{s + 1}", nn.Sequential(*stage)))
        planes *= 2
    layers += [("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(inp, classes))]
    return nn.Sequential(OrderedDict(layers))


def vgg_small(c, w, classes):
    feats, inp = [], c
    for out in [w, w, 0, 2 * w, 2 * w, 0, 4 * w, 4 * w, 0]:
        if out == 0:
            feats.append(nn.MaxPool2d(2))
            continue
        feats += [nn.Conv2d(inp, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
        inp = out
    return nn.Sequential(OrderedDict(features=nn.Sequential(*feats), avgpool=nn.AdaptiveAvgPool2d(1),
                              flatten=nn.Flatten(), classifier=nn.Linear(4 * w, classes)))


def mobilenet_small(c, w, classes):
    feats = [nn.Sequential(conv3x3(c, w), nn.BatchNorm2d(w), nn.ReLU())]
    inp = w
    for out, s in [(2 * w, 1), (4 * w, 2), (4 * w, 1), (8 * w, 2), (8 * w, 1), (16 * w, 2)]:
        feats.append(nn.Sequential(
            nn.Conv2d(inp, inp, 3, stride=s, padding=1, groups=inp, bias=False), nn.BatchNorm2d(inp), nn.ReLU(),
            nn.Conv2d(inp, out, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU()))
        inp = out
    return nn.Sequential(OrderedDict(features=nn.Sequential(*feats), avgpool=nn.AdaptiveAvgPool2d(1),
                              flatten=nn.Flatten(), classifier=nn.Linear(inp, classes)))


def randomize_bn(m):
    # Non-trivial affine parameters and running statistics, so key mix-ups show in the numbers.
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.5, 0.5)
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 1.5)
    return m


seed_for("resnet_tiny")
g.module_case("resnet_tiny", randomize_bn(cifar_resnet(3, 4, [1, 1, 1], 5)), torch.randn(2, 3, 16, 16),
              dict(module="resnet20", in_channels=3, width=4, blocks=[1, 1, 1], num_classes=5))

seed_for("vgg_tiny")
g.module_case("vgg_tiny", randomize_bn(vgg_small(3, 4, 5)), torch.randn(2, 3, 8, 8),
              dict(module="vgg_small", in_channels=3, width=4, num_classes=5))

seed_for("mobilenet_tiny")
g.module_case("mobilenet_tiny", randomize_bn(mobilenet_small(3, 4, 5)), torch.randn(2, 3, 16, 16),
              dict(module="mobilenet_small", in_channels=3, width=4, num_classes=5))

keys = [[k, list(v.shape)] for k, v in torchvision.models.resnet18().state_dict().items()]
g.add_case("resnet18_keys", dict(module="resnet18", keys=keys))

g.write()
