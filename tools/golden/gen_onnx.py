"""Golden ONNX files for cnnkit's ONNX importer and exporter: small PyTorch models exported
with torch.onnx.export (torch 1.13), each with the PyTorch output for a fixed input, and two
fine-tuning trajectories. Writes tests/golden/data/onnx/:

  NAME.onnx              input "input" (float32, dynamic batch "batch"), output "output";
                         metadata_props {"generator": this file, "model": NAME}
  NAME.safetensors       "input" (batch 2 or 3; exported with batch 2, so batch 3 checks the
                         batch axis really is dynamic) and "output" (PyTorch, eval mode)
  NAME_finetune.safetensors  (lenet5, convbn_bn) "x" [8, ...], "y" int64 [8], "losses" [5]
                         and "step5/<initializer name of NAME.onnx>" for every parameter and
                         BN running statistic after 5 SGD steps (lr 0.05, momentum 0.9,
                         CrossEntropyLoss, train mode, the same batch every step)
  INDEX.md               each model's opset, export mode, op types and ORT/OpenCV status

Every .onnx is checked here: onnx.checker with full_check (tools/onnx/check_onnx.py), ONNX
Runtime (tools/onnx/ort_run.js, max abs difference to PyTorch <= 1e-4, required) and OpenCV
4.6's dnn (recorded in INDEX.md, not required). --no-verify skips the runtimes.

Export modes. torch.onnx.export's default (TrainingMode.EVAL) runs the eval peephole pass, which
folds every BatchNorm that follows a Conv into the Conv (weights renamed "onnx::Conv_N").
Models named *_bn are exported with TrainingMode.PRESERVE on a model in eval mode, which skips
that pass: BatchNormalization nodes stay, inference form (one output, epsilon and
momentum = 1 - PyTorch's momentum; no training_mode attribute below opset 15), and every
initializer keeps its state_dict name.

Ops torch 1.13 never writes by itself come from custom symbolics, spelled as other exporters
write them: Conv(padding='same') (torch: "aten::_convolution_mode is not supported") as
auto_pad=SAME_UPPER; Softsign, Identity and Dropout (inference form) in the model custom_ops.

Run: /usr/bin/python3 tools/golden/gen_onnx.py   (needs python3-onnx, python3-opencv, and
onnxruntime-node from scripts/install-deps; byte-identical output on reruns)
"""
import argparse
import collections
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torch_models import ResNet20  # noqa: E402  (the shared PyTorch twins)
from torch import nn
from torch.onnx import symbolic_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from golden_common import DATA_DIR, ROOT, seed_for  # noqa: E402

GENERATOR = "tools/golden/gen_onnx.py"
OUT_DIR = os.path.join(DATA_DIR, "onnx")
TOL = 1e-4
warnings.filterwarnings("ignore")  # the exporter's constant-folding and training-mode notes


# ---- custom symbolics ------------------------------------------------------------------------

def _conv_same_symbolic(g, input, weight, bias, stride, padding, dilation, groups):
    """aten::_convolution_mode (Conv2d with padding='same'/'valid') as a Conv with auto_pad:
    PyTorch's 'same' puts the odd extra pixel at the end, which is ONNX's SAME_UPPER. ONNX
    Runtime refuses auto_pad SAME_* with dilation, so a dilated one gets explicit pads."""
    stride = symbolic_helper._parse_arg(stride, "is")
    padding = symbolic_helper._parse_arg(padding, "s")
    dilation = symbolic_helper._parse_arg(dilation, "is")
    groups = symbolic_helper._parse_arg(groups, "i")
    kernel = symbolic_helper._get_tensor_sizes(weight)[2:]
    args = [input, weight] if symbolic_helper._is_none(bias) else [input, weight, bias]
    attrs = dict(kernel_shape_i=kernel, strides_i=stride, dilations_i=dilation, group_i=groups)
    if padding == "valid":
        attrs["auto_pad_s"] = "VALID"
    elif all(d == 1 for d in dilation):
        attrs["auto_pad_s"] = "SAME_UPPER"
    else:
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        attrs["pads_i"] = [t // 2 for t in total] + [t - t // 2 for t in total]
    return g.op("Conv", *args, **attrs)


torch.onnx.register_custom_op_symbolic("aten::_convolution_mode", _conv_same_symbolic, 13)


class OnnxSoftsign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return F.softsign(x)

    @staticmethod
    def symbolic(g, x):
        return g.op("Softsign", x)


class OnnxIdentity(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def symbolic(g, x):
        return g.op("Identity", x)


class OnnxDropout(torch.autograd.Function):
    """Inference-mode Dropout as Caffe2/TF exporters leave it in graphs: a no-op. with_ratio
    gives it the optional ratio input (0.25); otherwise it has the optional mask output."""

    @staticmethod
    def forward(ctx, x, with_ratio):
        return x.clone()

    @staticmethod
    def symbolic(g, x, with_ratio):
        if with_ratio:
            ratio = g.op("Constant", value_t=torch.tensor(0.25))
            return g.op("Dropout", x, ratio)
        out, _mask = g.op("Dropout", x, outputs=2)
        return out


# ---- models ----------------------------------------------------------------------------------

def lenet5():
    return nn.Sequential(collections.OrderedDict([
        ("conv1", nn.Conv2d(1, 6, 5, padding=2)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(6, 16, 5)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(400, 120)), ("relu3", nn.ReLU()),
        ("fc2", nn.Linear(120, 84)), ("relu4", nn.ReLU()),
        ("fc3", nn.Linear(84, 10)),
    ]))


def mobilenet():
    def conv_bn(cin, cout, k, stride, groups=1):
        return [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU6()]

    def separable(cin, cout, stride):
        return conv_bn(cin, cin, 3, stride, groups=cin) + conv_bn(cin, cout, 1, 1)

    return nn.Sequential(*conv_bn(3, 16, 3, 1), *separable(16, 32, 1), *separable(32, 64, 2),
                         *separable(64, 64, 1), *separable(64, 96, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(96, 10))


def convbn():
    """The fine-tuning net with BatchNorm: conv-BN-ReLU-pool-Linear on 3x8x8."""
    return nn.Sequential(collections.OrderedDict([
        ("conv", nn.Conv2d(3, 8, 3, padding=1)), ("bn", nn.BatchNorm2d(8)), ("relu", nn.ReLU()),
        ("pool", nn.MaxPool2d(2)), ("flatten", nn.Flatten()), ("fc", nn.Linear(8 * 4 * 4, 10)),
    ]))


class ConvOptions(nn.Module):
    """Conv2d's non-default options, one conv each, on 4x11x12."""

    def __init__(self):
        super().__init__()
        self.strided = nn.Conv2d(4, 6, 3, stride=2, padding=(1, 2), dilation=2, groups=2, bias=False)
        self.reflect = nn.Conv2d(6, 6, 3, padding=(1, 2), padding_mode="reflect")  # Pad + Conv
        self.same_even = nn.Conv2d(6, 4, 4, padding="same")  # asymmetric: SAME_UPPER
        self.same_dilated = nn.Conv2d(4, 4, 3, padding="same", dilation=2, bias=False)
        self.depthwise = nn.Conv2d(4, 8, 3, padding=1, groups=4)

    def forward(self, x):
        x = self.reflect(self.strided(x))
        return self.depthwise(self.same_dilated(self.same_even(x)))


class Activations(nn.Module):
    """Every activation on the same input, concatenated along channels (so each is checked on
    the full range of x, none squashed by another). Opset 14 for HardSwish."""

    def __init__(self, c):
        super().__init__()
        self.acts = nn.ModuleList([
            nn.ReLU(), nn.LeakyReLU(0.2), nn.PReLU(num_parameters=c), nn.ELU(0.5), nn.SELU(),
            nn.Sigmoid(), nn.Hardsigmoid(), nn.Tanh(), nn.Hardswish(), nn.Softplus(beta=2.0),
            nn.Softsign(), nn.ReLU6(), nn.Hardtanh(-2.0, 3.0), nn.GELU(), nn.Mish(), nn.SiLU(),
            nn.Softmax(dim=1), nn.LogSoftmax(dim=1),
        ])
        with torch.no_grad():
            self.acts[2].weight.copy_(torch.linspace(-0.5, 0.75, c))

    def forward(self, x):
        return torch.cat([a(x) for a in self.acts], 1)


class Pooling(nn.Module):
    def __init__(self):
        super().__init__()
        self.pools = nn.ModuleList([
            nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
            nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
            nn.AvgPool2d(3, 2, 1, count_include_pad=True),  # exported as Pad + AveragePool
            nn.AdaptiveAvgPool2d(1),  # GlobalAveragePool
            nn.AdaptiveMaxPool2d(1),  # with static H, W: MaxPool over the whole image
        ])

    def forward(self, x):
        return torch.cat([torch.flatten(p(x), 1) for p in self.pools], 1)


class GlobalPool(nn.Module):
    """Exported with dynamic H and W too: only then does AdaptiveMaxPool2d(1) become GlobalMaxPool."""

    def __init__(self, c):
        super().__init__()
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.max = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(2 * c, 5)

    def forward(self, x):
        return self.fc(torch.flatten(torch.cat([self.avg(x), self.max(x)], 1), 1))


class Norms(nn.Module):
    def __init__(self, c, h, w):
        super().__init__()
        self.bn = nn.BatchNorm2d(c)
        self.inorm = nn.InstanceNorm2d(c, affine=True)
        self.ln = nn.LayerNorm([c, h, w])  # opset 13: ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add
        self.gn = nn.GroupNorm(2, c)  # Reshape + InstanceNormalization + Reshape + Mul + Add
        self.fc = nn.Linear(4 * c * h * w, 12)
        self.bn1d = nn.BatchNorm1d(12)  # stays BatchNormalization: only Conv+BN is fused

    def forward(self, x):
        y = torch.cat([self.bn(x), self.inorm(x), self.ln(x), self.gn(x)], 1)
        return self.bn1d(self.fc(torch.flatten(y, 1)))


class LayerNorms(nn.Module):
    """LayerNorm over [C, H, W] and over W alone: LayerNormalization at opset 17, the
    decomposition at 13."""

    def __init__(self, c, h, w):
        super().__init__()
        self.chw = nn.LayerNorm([c, h, w])
        self.last = nn.LayerNorm(w, eps=1e-3)

    def forward(self, x):
        return self.last(self.chw(x))


class ShapeOps(nn.Module):
    """Linear/shape/elementwise ops on 4x6x6."""

    def __init__(self, c=4):
        super().__init__()
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, c).view(c, 1, 1))
        self.shift = nn.Parameter(torch.linspace(-1.0, 1.0, c).view(c, 1, 1))
        self.expo = nn.Parameter(torch.linspace(0.5, 2.0, c).view(c, 1, 1))
        self.w = nn.Parameter(torch.randn(9, 5) * 0.3)  # x @ w: MatMul, not Gemm
        self.drop2d = nn.Dropout2d(0.2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(c * 7 * 5 * 2 + c, 16)
        self.drop = nn.Dropout(0.3)
        self.ident = nn.Identity()
        self.fc2 = nn.Linear(16, 16)
        self.fc3 = nn.Linear(16, 6)

    def forward(self, x):  # x: (N, 4, 6, 6)
        p = (F.pad(x, (1, 2, 0, 1), value=0.5) + F.pad(x, (1, 2, 0, 1), mode="reflect")
             - F.pad(x, (1, 2, 0, 1), mode="replicate"))  # (N, 4, 7, 9)
        t = p.permute(0, 1, 3, 2).transpose(2, 3)  # (N, 4, 7, 9), two Transposes
        e = torch.cat([t[:, 1:3], p[:, 0:1], t[:, 3:]], 1)  # Slice + Concat, same shape
        e = (e + 1.5) * self.scale - self.shift / 2.0  # Add/Mul/Sub with a constant and per-channel
        e = torch.sqrt(e * e + 1.0) ** 0.5 + torch.pow(e * e * 0.1 + 0.5, self.expo) - e / 3.0
        e = e + torch.zeros_like(e)  # ConstantOfShape
        m = e @ self.w  # (N, 4, 7, 5)
        q = F.adaptive_avg_pool2d(m, 1).squeeze(3).squeeze(2)  # (N, 4), Squeeze with axes input
        h = torch.cat([m.view(m.size(0), -1), self.flatten(self.drop2d(m)), q], 1)
        h = self.drop(F.relu(self.fc1(h)))
        h = h + self.ident(F.relu(self.fc2(h)))  # residual add
        return self.fc3(h)


class CustomOps(nn.Module):
    """Softsign, Identity and Dropout nodes (custom symbolics; see the file header)."""

    def __init__(self, c=3):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        y = OnnxDropout.apply(self.conv(x), True)
        y = OnnxSoftsign.apply(OnnxIdentity.apply(y) * 2.0)
        return OnnxDropout.apply(y, False)


# ---- setup: non-default weights and BN statistics --------------------------------------------

NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d, nn.LayerNorm, nn.GroupNorm)


def prepare(model, in_shape, warmup_batch=4):
    """Gives every norm layer a non-default affine transform, then runs a few train-mode
    forwards on shifted, scaled random data so BN running stats are far from 0 and 1."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, NORM_TYPES) and getattr(m, "weight", None) is not None:
                m.weight.copy_(1.0 + 0.3 * torch.randn_like(m.weight))
                m.bias.copy_(0.2 * torch.randn_like(m.bias))
        if any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in model.modules()):
            model.train()
            for i in range(3):
                model(torch.randn((warmup_batch,) + tuple(in_shape)) * (1.5 + 0.5 * i) + 1.0)
    model.eval()
    return model


# ---- export and goldens ----------------------------------------------------------------------

def export(name, model, in_shape, opset, keep_bn=False, dynamic_hw=False):
    model.eval()
    dummy = torch.randn((2,) + tuple(in_shape))
    axes = {0: "batch", 2: "height", 3: "width"} if dynamic_hw else {0: "batch"}
    f = io.BytesIO()
    torch.onnx.export(model, dummy, f, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": axes, "output": {0: "batch"}}, opset_version=opset,
                      training=torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL)
    m = onnx.load_from_string(f.getvalue())
    for k, v in (("generator", GENERATOR), ("model", name)):
        p = m.metadata_props.add()
        p.key, p.value = k, v
    path = os.path.join(OUT_DIR, name + ".onnx")
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(m.SerializeToString())
    os.replace(tmp, path)
    return m


def write_safetensors(name, tensors, meta):
    meta = dict(meta, generator=GENERATOR, torch_version=torch.__version__)
    safetensors_io.save(os.path.join(OUT_DIR, name + ".safetensors"),
                        {k: v.detach().contiguous() for k, v in tensors.items()}, meta)


MODELS = []  # (name, opset, mode, input shape)


def golden(name, model, in_shape, opset=13, batch=3, keep_bn=False, dynamic_hw=False):
    """Exports `model` (eval mode) as NAME.onnx and writes NAME.safetensors with an input and
    PyTorch's output."""
    m = export(name, model, in_shape, opset, keep_bn=keep_bn, dynamic_hw=dynamic_hw)
    seed_for(name + "/input")
    x = torch.randn((batch,) + tuple(in_shape)) * 1.5
    with torch.no_grad():
        y = model(x)
    write_safetensors(name, {"input": x, "output": y},
                      {"onnx": name + ".onnx", "opset": str(opset),
                       "export": "preserve (BatchNormalization kept)" if keep_bn else "eval"})
    MODELS.append((name, opset, "keep BN" if keep_bn else "eval", [batch] + list(in_shape), m))
    return m


def initializer_map(onnx_model, torch_model):
    """state_dict key -> ONNX initializer name, for every parameter and BN running statistic.
    Exported with PRESERVE (or with no Conv+BN to fold), initializers keep their state_dict
    names; this checks that every tensor is there under its name with the same values."""
    inits = {i.name: numpy_helper.to_array(i) for i in onnx_model.graph.initializer}
    out = {}
    for k, v in torch_model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        if k not in inits:
            raise SystemExit(f"gen_onnx: {k} is not an initializer of the exported graph "
                             f"(initializers: {sorted(inits)})")
        if inits[k].shape != tuple(v.shape) or not np.array_equal(inits[k], v.numpy()):
            raise SystemExit(f"gen_onnx: initializer {k} differs from the PyTorch tensor")
        out[k] = k
    return out


def finetune(name, model, onnx_model, in_shape, classes=10):
    """5 SGD steps on one batch from the exported state; records the trajectory keyed by the
    .onnx's initializer names."""
    names = initializer_map(onnx_model, model)
    seed_for(name + "/finetune")
    x = torch.randn((8,) + tuple(in_shape))
    y = torch.randint(0, classes, (8,), dtype=torch.int64)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    tensors = {"x": x, "y": y, "losses": torch.tensor(losses, dtype=torch.float32)}
    state = model.state_dict()
    for k, init in names.items():
        tensors["step5/" + init] = state[k]
    write_safetensors(name + "_finetune", tensors,
                      {"onnx": name + ".onnx", "optimizer": "SGD(lr=0.05, momentum=0.9)",
                       "loss": "CrossEntropyLoss", "steps": "5",
                       "note": "train mode, same batch every step; step5/<initializer> after the 5th"})


def build():
    os.makedirs(OUT_DIR, exist_ok=True)

    seed_for("lenet5")
    net = prepare(lenet5(), (1, 28, 28))
    m = golden("lenet5", net, (1, 28, 28))
    finetune("lenet5", net, m, (1, 28, 28))

    seed_for("resnet20")
    net = prepare(ResNet20(), (3, 32, 32))
    # Kept with its BatchNormalization nodes only: the fused (eval) export has the same op
    # types as convbn, and a second 1.1 MB copy would not fit the golden folder's budget.
    golden("resnet20_bn", net, (3, 32, 32), batch=2, keep_bn=True)

    seed_for("mobilenet")
    golden("mobilenet", prepare(mobilenet(), (3, 32, 32)), (3, 32, 32), batch=2)

    seed_for("convbn")
    net = prepare(convbn(), (3, 8, 8))
    golden("convbn", net, (3, 8, 8))
    m = golden("convbn_bn", net, (3, 8, 8), keep_bn=True)
    finetune("convbn_bn", net, m, (3, 8, 8))

    seed_for("conv_options")
    golden("conv_options", ConvOptions(), (4, 11, 12))

    seed_for("activations")
    golden("activations", Activations(4).eval(), (4, 5, 6), opset=14)

    seed_for("pooling")
    golden("pooling", Pooling(), (3, 7, 8))
    seed_for("global_pool")
    golden("global_pool", GlobalPool(3), (3, 5, 7), dynamic_hw=True)

    seed_for("norms")
    golden("norms", prepare(Norms(4, 5, 6), (4, 5, 6)), (4, 5, 6))
    seed_for("layernorm")
    ln = prepare(LayerNorms(3, 4, 5), (3, 4, 5))
    golden("layernorm13", ln, (3, 4, 5), opset=13)
    golden("layernorm17", ln, (3, 4, 5), opset=17)

    seed_for("shape_ops")
    golden("shape_ops", ShapeOps(), (4, 6, 6))
    seed_for("custom_ops")
    golden("custom_ops", CustomOps(), (3, 5, 5))


# ---- verification and INDEX.md ---------------------------------------------------------------

def run(cmd):
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)


def verify(verify_runtimes):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, opset, mode, shape, m in MODELS:
            onnx_path = os.path.join(OUT_DIR, name + ".onnx")
            r = run([sys.executable, "tools/onnx/check_onnx.py", onnx_path, "--print-meta"])
            if r.returncode != 0:
                raise SystemExit(f"gen_onnx: {name}.onnx fails the checker:\n{r.stderr}")
            meta = json.loads(r.stdout)
            ort = cv = "not run"
            if verify_runtimes:
                t, _ = safetensors_io.load(os.path.join(OUT_DIR, name + ".safetensors"))
                x, want = t["input"].numpy(), t["output"].numpy()
                xin, yout = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
                np.save(xin, x)
                r = run(["node", "tools/onnx/ort_run.js", onnx_path, xin, yout])
                if r.returncode != 0:
                    raise SystemExit(f"gen_onnx: ONNX Runtime cannot run {name}.onnx:\n{r.stderr}")
                err = float(np.abs(np.load(yout) - want).max())
                if err > TOL:
                    raise SystemExit(f"gen_onnx: {name}: ONNX Runtime differs from PyTorch by {err:.3g}")
                ort = f"ok ({err:.1e})"
                os.remove(yout)
                r = run([sys.executable, "tools/onnx/check_onnx.py", onnx_path, "--opencv", xin, yout])
                if r.returncode != 0:
                    cv = "cannot load: " + opencv_reason(r.stderr)
                else:
                    got = np.load(yout)
                    if got.shape != want.shape:
                        cv = f"wrong shape {list(got.shape)}"
                    else:
                        e = float(np.abs(got - want).max())
                        cv = f"ok ({e:.1e})" if e <= TOL else f"differs by {e:.2g}"
            print(f"{name}: opset {opset}, {len(meta['ops'])} op types; ORT {ort}; OpenCV {cv}")
            rows.append((name, opset, mode, shape, meta["ops"], ort, cv))
    return rows


def opencv_reason(stderr):
    """The node and the failed check out of cv2.dnn's multi-line error."""
    text = " ".join(stderr.split())
    node = re.search(r"Node \[(\w+)@[^\]]*\]:\(([^)]*)\) parse error: (.*)", text)
    if not node:
        return text[-160:]
    why = re.search(r"error: \(-?\d+:[^)]*\) (.*?) ?in function", node.group(3))
    expected = re.search(r"\(expected: '([^']*)'\)", node.group(3))
    why = f"expects {expected.group(1)}" if expected else (why.group(1) if why else "")
    return f"{node.group(1)} ({node.group(2)}): {why}".replace("|", "/")


def write_index(rows):
    all_ops = sorted({op for r in rows for op in r[4]})
    lines = [
        "# ONNX goldens",
        "",
        f"Generated by `{GENERATOR}` (torch {torch.__version__}, onnx {onnx.__version__}); "
        "its docstring says how. Input `input`, output `output`, dynamic batch.",
        "ORT: onnxruntime-node from scripts/install-deps, max abs difference to PyTorch. OpenCV: "
        "cv2.dnn 4.6 (informative only).",
        "",
        "| model | opset | export | golden input | ORT | OpenCV | op types |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, opset, mode, shape, ops, ort, cv in rows:
        lines.append(f"| {name} | {opset} | {mode} | {shape} | {ort} | {cv} | {', '.join(ops)} |")
    lines += ["", f"All op types ({len(all_ops)}): {', '.join(all_ops)}", "", NOTES]
    path = os.path.join(OUT_DIR, "INDEX.md")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines))
    os.replace(path + ".tmp", path)


NOTES = """## What torch 1.13's exporter writes (for the importer)

- Eval export (the default) folds Conv+BatchNorm into the Conv (new bias; weights renamed
  `onnx::Conv_N`); a BatchNorm not after a Conv (norms: on the input, and BatchNorm1d after
  Gemm) stays. `*_bn` (TrainingMode.PRESERVE, model in eval): BatchNormalization with inputs
  X, scale, B, input_mean, input_var (state_dict names), one output, attributes epsilon and
  momentum (0.9 = 1 - PyTorch's 0.1); at opset 15+ also training_mode=0. TrainingMode.TRAINING
  gives 5 outputs at opset 13 (3 and training_mode=1 at 14+), and ORT then normalises with
  batch statistics, so no golden uses it.
- Arithmetic on parameters is folded into new initializers named `onnx::OP_N` (PReLU's slope as
  [C,1,1], GroupNorm's weight and bias as [C,1,1], `shift / 2.0` in shape_ops); scalars and
  shape vectors are Constant nodes, not initializers.
- Clip (ReLU6, Hardtanh): min and max are inputs (scalar Constants), never attributes.
- Pad: pads (and the constant value) are inputs; F.pad and padding_mode='reflect' compute
  pads with a Constant chain (ConstantOfShape, Concat, Reshape, Slice with step -1 and end
  -INT64_MAX, Transpose, Reshape, Cast) that the importer must fold. Modes are `constant`,
  `reflect`, `edge` (replicate).
- Squeeze, Unsqueeze and Slice take axes/starts/ends/steps as inputs (opset 13); an open slice
  end is INT64_MAX. x.view(x.size(0), -1) is Shape, Gather, Unsqueeze, Concat, Reshape.
- AvgPool2d(count_include_pad=True) with padding is Pad + AveragePool(pads 0);
  count_include_pad=False leaves the attribute at its default 0. AdaptiveMaxPool2d(1) is a
  MaxPool over the whole static image; GlobalMaxPool only when H, W are dynamic.
- GroupNorm: Reshape [0, G, -1] (0 copies the dimension), InstanceNormalization with unit
  scale and zero bias (Constants), Reshape back to Shape(input), Mul and Add by [C,1,1].
  LayerNorm below opset 17: ReduceMean (axes attribute), Sub, Pow 2, ReduceMean, Add eps,
  Sqrt, Div, Mul, Add; at 17: LayerNormalization with axis -3 (negative).
- Decompositions: GELU = Div(sqrt 2), Erf, Add 1, Mul, Mul 0.5; Softplus(beta) = Mul, Softplus,
  Div (threshold dropped); Softsign = Abs, Add, Div; SiLU = Sigmoid, Mul; Mish = Softplus,
  Tanh, Mul; Hardswish below opset 14 = HardSigmoid(alpha 1/6) + Mul.
- Dropout, Dropout2d and Identity vanish in eval export; Conv2d(padding='same') does not
  export at all. custom_ops and conv_options hold those forms via custom symbolics.
- OpenCV 4.6 (informative): no Clip with min/max inputs, Pow only by a scalar, Mul/Div
  broadcasting over the last axes fails, no LayerNormalization, and AveragePool with pads and
  count_include_pad=0 differs at the borders.
"""


REQUIRED_OPS = """Conv Relu LeakyRelu PRelu Elu Selu Sigmoid HardSigmoid Tanh HardSwish Softplus Softsign
Clip Erf Softmax LogSoftmax Add Sub Mul Div Pow Sqrt MaxPool AveragePool GlobalAveragePool
GlobalMaxPool BatchNormalization InstanceNormalization LayerNormalization ReduceMean Gemm MatMul
Flatten Reshape Shape Gather Unsqueeze Squeeze Concat Slice Transpose Pad Constant ConstantOfShape
Identity Dropout""".split()


def main():
    ap = argparse.ArgumentParser(description="Writes tests/golden/data/onnx/.")
    ap.add_argument("--no-verify", action="store_true",
                    help="skip ONNX Runtime and OpenCV (the checker still runs); keeps INDEX.md")
    args = ap.parse_args()
    build()
    rows = verify(not args.no_verify)
    missing = set(REQUIRED_OPS) - {op for r in rows for op in r[4]}
    if missing:
        raise SystemExit(f"gen_onnx: no model contains {sorted(missing)}")
    if not args.no_verify:
        write_index(rows)
    total = sum(os.path.getsize(os.path.join(OUT_DIR, f)) for f in os.listdir(OUT_DIR))
    print(f"{OUT_DIR}: {len(os.listdir(OUT_DIR))} files, {total} bytes")


if __name__ == "__main__":
    main()
