"""Shared machinery of the golden generators: one Golden file per family, one case per
module configuration. For each case it records (keys "<case>/<what>"):
  input, [input2], the module's state_dict before the step (its own key names),
  out, grad_out (fixed random upstream gradient), grad_input, grad.<param> for every
  parameter, after.<buffer> for every buffer after the forward (running stats),
and the case's options as a JSON string in the metadata under "<case>". Metadata also
holds "generator", "torch_version" and "cases" (JSON list, generation order).
Every case seeds torch from a CRC of its name, so cases are independent and re-running
a generator gives byte-identical files.
"""
import copy
import json
import os
import sys
import warnings
import zlib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA_DIR = os.path.join(ROOT, "tests", "golden", "data")

torch.set_num_threads(1)
warnings.filterwarnings("ignore", category=UserWarning)
torch.use_deterministic_algorithms(True)

# GOLDEN_PRECISION=1: also run every case in float64 and print the float32 error.
PRECISION = os.environ.get("GOLDEN_PRECISION") == "1"

RESERVED = ("input", "input2", "out", "grad_out", "grad_input", "grad_input2", "target", "loss")


def seed_for(name):
    torch.manual_seed(zlib.crc32(name.encode()) & 0x7FFFFFFF)


class Golden:
    def __init__(self, family, generator):
        self.family = family
        self.generator = generator
        self.tensors = {}
        self.meta = {}
        self.cases = []

    def add_case(self, name, options):
        if name in self.meta or "/" in name:
            raise ValueError(f"bad or duplicate case name {name}")
        self.cases.append(name)
        self.meta[name] = json.dumps(options, sort_keys=True, separators=(",", ":"))

    def put(self, case, what, t):
        key = f"{case}/{what}"
        if key in self.tensors:
            raise ValueError(f"duplicate key {key}")
        t = t.detach().clone().contiguous()
        if t.is_floating_point():
            t = t.to(torch.float32)
        self.tensors[key] = t

    def module_case(self, name, module, x, options, train=True, grad_input=True, x2=None):
        """Runs forward and backward of `module` on `x` (in train or eval mode) and records
        everything the C++ test compares. `options` must let the C++ side rebuild it."""
        module.train(train)
        for k, v in module.state_dict().items():
            if k in RESERVED or k.startswith("grad.") or k.startswith("after."):
                raise ValueError(f"state dict key {k} collides with a reserved name")
            self.put(name, k, v)
        x = x.detach().clone().requires_grad_(grad_input)
        self.put(name, "input", x)
        args = [x]
        if x2 is not None:
            x2 = x2.detach().clone().requires_grad_(grad_input)
            self.put(name, "input2", x2)
            args.append(x2)
        module64 = copy.deepcopy(module).double() if PRECISION else None
        out = module(*args)
        g = torch.randn_like(out)
        self.put(name, "out", out)
        self.put(name, "grad_out", g)
        params = dict(module.named_parameters())
        if out.requires_grad:
            out.backward(g)
        if grad_input:
            self.put(name, "grad_input", x.grad if x.grad is not None else torch.zeros_like(x))
            if x2 is not None:
                self.put(name, "grad_input2", x2.grad if x2.grad is not None else torch.zeros_like(x2))
        for k, p in params.items():
            self.put(name, "grad." + k, p.grad if p.grad is not None else torch.zeros_like(p))
        for k, b in module.named_buffers():
            self.put(name, "after." + k, b)
        if PRECISION:
            self._precision(name, module64, args, out, g, params)
        opts = dict(options)
        opts["train"] = train
        opts["input_shape"] = list(x.shape)
        self.add_case(name, opts)

    def _precision(self, name, m64, args, out, g, params):
        """Prints how far torch's float32 results are from the same computation in float64:
        the floor under any tolerance the C++ tests can use."""
        xs = [a.detach().double().requires_grad_(a.requires_grad) for a in args]
        o64 = m64(*xs)
        if o64.requires_grad:
            o64.backward(g.double())
        pairs = [("out", out, o64)]
        for a, a64 in zip(args, xs):
            if a.grad is not None:
                pairs.append(("grad_input", a.grad, a64.grad))
        for (k, p), p64 in zip(params.items(), m64.parameters()):
            if p.grad is not None:
                pairs.append(("grad." + k, p.grad, p64.grad))
        worst = max(pairs, key=lambda t: (t[1].double() - t[2]).abs().max().item() if t[1].numel() else 0)
        d = (worst[1].double() - worst[2]).abs()
        rel = (d / (worst[2].abs() + 1e-6)).max().item() if d.numel() else 0
        self.max_dev = max(getattr(self, "max_dev", 0), d.max().item() if d.numel() else 0)
        print(f"  {name}: float32 vs float64 max abs {d.max().item() if d.numel() else 0:.2e} "
              f"({worst[0]}), max rel {rel:.2e}")

    def write(self):
        os.makedirs(DATA_DIR, exist_ok=True)
        meta = dict(self.meta)
        meta["generator"] = self.generator
        meta["torch_version"] = torch.__version__
        meta["cases"] = json.dumps(self.cases, separators=(",", ":"))
        path = os.path.join(DATA_DIR, self.family + ".safetensors")
        safetensors_io.save(path, self.tensors, meta)
        size = os.path.getsize(path)
        print(f"{path}: {len(self.cases)} cases, {len(self.tensors)} tensors, {size} bytes")
