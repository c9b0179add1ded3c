"""Golden data for NaN / +Inf / -Inf propagation: every activation, softmax and log_softmax,
clamp, maximum / minimum, the max / min reductions and every pooling op, forward and
backward, on inputs that mix NaN, +-Inf, kink points (0, -3, 6, ...), large values and
ordinary N(0, 3^2) ones. Pooling inputs place NaN at different positions of the windows,
make whole windows NaN or -Inf and mix Inf with NaN. Writes
tests/golden/data/nonfinite.safetensors (tests/golden/nonfinite_test.cpp reads it); the
shapes are as small as the patterns allow (the file is ~90 KB) because the whole data
folder must stay under 3 MB (tests/golden/files_test.cpp).

Each case is a function call, not a module: its options name the op ("op") and its
arguments; tensors are input, [input2], out, [indices], grad_out (a fixed N(0, 1) upstream
gradient), grad_input, [grad_input2], [grad.weight].

PyTorch's CPU kernels have two paths: a vectorised one (AVX2 here) for the bulk of a
contiguous tensor and a scalar one for the tail (numel % 16 elements) and strided inputs.
They disagree at NaN for a few gradients (relu6 / hardtanh: 0 vs grad; elu / selu /
hardswish: NaN vs grad). cnnkit follows the vectorised path, which is what every element
of a real activation tensor takes, so every element-wise input here has a multiple of 32
elements and no element ever takes the scalar path. The one kink where the two paths also
disagree (hardswish's gradient at exactly +3) is left out: cnnkit keeps the scalar side
there (tests/ops/activation_test.cpp, GradientAtKinksFollowsTorch).
"""
import torch
import torch.nn.functional as F

from golden_common import Golden, seed_for

g = Golden("nonfinite", "tools/golden/gen_nonfinite.py")
NAN, INF = float("nan"), float("inf")

# Element-wise inputs: these values at random positions, the rest N(0, 3^2).
SPECIALS = [NAN, NAN, NAN, INF, INF, -INF, -INF, -INF, 0.0, -0.0, -3.0, 6.0, -6.0, 1.0, -1.0,
            20.0, 25.0, -25.0, 100.0, -100.0, 0.5, 2.0]


def special_input(name, shape=(2, 4, 2, 2)):
    seed_for(name + "/input")
    x = torch.randn(shape) * 3.0
    flat = x.view(-1)
    pos = torch.randperm(flat.numel())[: len(SPECIALS)]
    flat[pos] = torch.tensor(SPECIALS)
    assert x.numel() % 32 == 0, "keep every element on PyTorch's vectorised path"
    return x


def fn_case(name, opts, fn, inputs, params=None, extra_outputs=None):
    """Runs out = fn(*inputs, **params) (out may be a tuple (values, indices)), backward with
    a fixed N(0, 1) upstream gradient, and records inputs, out, indices and gradients."""
    seed_for(name)
    xs = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
    ps = {k: p.detach().clone().requires_grad_() for k, p in (params or {}).items()}
    res = fn(*xs, **ps)
    out, indices = (res if isinstance(res, tuple) else (res, None))
    grad_out = torch.randn_like(out)
    out.backward(grad_out)
    for i, x in enumerate(xs):
        g.put(name, "input" if i == 0 else f"input{i + 1}", x)
    for k, p in ps.items():
        g.put(name, k, p)
    g.put(name, "out", out)
    if indices is not None:
        g.put(name, "indices", indices)
    g.put(name, "grad_out", grad_out)
    for i, x in enumerate(xs):
        if x.requires_grad:
            gx = x.grad if x.grad is not None else torch.zeros_like(x)
            g.put(name, "grad_input" if i == 0 else f"grad_input{i + 1}", gx)
    for k, p in ps.items():
        g.put(name, "grad." + k, p.grad)
    o = dict(opts)
    o["input_shape"] = list(inputs[0].shape)
    g.add_case(name, o)


# ---- activations ---------------------------------------------------------------------------
def act(name, op, fn, **opts):
    fn_case(name, dict(op=op, **opts), fn, [special_input(name)])


act("relu", "relu", F.relu)
act("relu6", "relu6", F.relu6)
act("leaky_relu_default", "leaky_relu", F.leaky_relu, negative_slope=0.01)
act("leaky_relu_0.2", "leaky_relu", lambda x: F.leaky_relu(x, 0.2), negative_slope=0.2)
act("leaky_relu_neg", "leaky_relu", lambda x: F.leaky_relu(x, -0.5), negative_slope=-0.5)
act("leaky_relu_0", "leaky_relu", lambda x: F.leaky_relu(x, 0.0), negative_slope=0.0)
act("elu_default", "elu", F.elu, alpha=1.0)
act("elu_0.5", "elu", lambda x: F.elu(x, 0.5), alpha=0.5)
act("elu_neg", "elu", lambda x: F.elu(x, -0.5), alpha=-0.5)
act("selu", "selu", F.selu)
act("gelu_none", "gelu", F.gelu, approximate="none")
act("gelu_tanh", "gelu", lambda x: F.gelu(x, approximate="tanh"), approximate="tanh")
act("silu", "silu", F.silu)
act("mish", "mish", F.mish)
act("hardswish", "hardswish", F.hardswish)
act("hardsigmoid", "hardsigmoid", F.hardsigmoid)
act("hardtanh_default", "hardtanh", F.hardtanh, min_val=-1.0, max_val=1.0)
act("hardtanh_-2_3", "hardtanh", lambda x: F.hardtanh(x, -2.0, 3.0), min_val=-2.0, max_val=3.0)
act("hardtanh_0.5_2", "hardtanh", lambda x: F.hardtanh(x, 0.5, 2.0), min_val=0.5, max_val=2.0)
act("sigmoid", "sigmoid", torch.sigmoid)
act("tanh", "tanh", torch.tanh)
act("softplus_default", "softplus", F.softplus, beta=1.0, threshold=20.0)
act("softplus_b2_t3", "softplus", lambda x: F.softplus(x, 2.0, 3.0), beta=2.0, threshold=3.0)
act("softplus_b1_t30", "softplus", lambda x: F.softplus(x, 1.0, 30.0), beta=1.0, threshold=30.0)
for nw, w in (("1", [0.25]), ("C", [0.25, -0.5, 0.0, 1.5])):  # C = 4 channels
    name = f"prelu_{nw}"
    fn_case(name, dict(op="prelu"), F.prelu, [special_input(name)], params={"weight": torch.tensor(w)})


# ---- softmax / log_softmax: rows with NaN, +Inf, -Inf, all -Inf, Inf - Inf ------------------
def softmax_input(name, shape):
    seed_for(name + "/input")
    x = torch.randn(shape) * 3.0
    rows = x.view(-1, shape[-1])
    rows[0, 2] = NAN
    rows[1, 0] = INF
    rows[2, 5] = -INF
    rows[3, :] = -INF
    rows[4, 1] = rows[4, 6] = INF
    rows[5, 3], rows[5, 4] = INF, -INF
    rows[6, 0] = rows[6, 7] = -INF
    return x


for op, fn in (("softmax", torch.softmax), ("log_softmax", torch.log_softmax)):
    for shape, dim in (((8, 8), 1), ((8, 8), 0), ((2, 8, 8), 1)):
        name = f"{op}_{'x'.join(map(str, shape))}_dim{dim}"
        fn_case(name, dict(op=op, dim=dim), lambda x, d=dim, f=fn: f(x, d), [softmax_input(name, shape)])


# ---- clamp, maximum / minimum, max / min reductions ------------------------------------------
act("clamp_-2_2", "clamp", lambda x: torch.clamp(x, -2.0, 2.0), min=-2.0, max=2.0)
act("clamp_min_0.5", "clamp", lambda x: torch.clamp_min(x, 0.5), min=0.5)
act("clamp_max_0.5", "clamp", lambda x: torch.clamp_max(x, 0.5), max=0.5)


def pair_inputs(name):
    a = special_input(name + "/a")
    b = special_input(name + "/b")
    b.view(-1)[:8] = a.view(-1)[:8]  # ties, NaN against NaN, Inf against Inf
    return [a, b]


fn_case("maximum", dict(op="maximum"), torch.maximum, pair_inputs("maximum"))
fn_case("minimum", dict(op="minimum"), torch.minimum, pair_inputs("minimum"))


def reduce_input(name):
    """(6, 8): a NaN, two NaN, +Inf twice, all -Inf, -Inf with NaN, ordinary."""
    seed_for(name + "/input")
    x = torch.randn(6, 8)
    x[0, 3] = NAN
    x[1, 1] = x[1, 6] = NAN
    x[2, 2] = x[2, 5] = INF
    x[3, :] = -INF
    x[4, 0], x[4, 4], x[4, 7] = -INF, NAN, INF
    return x


def reduce_input_nonan(name):
    x = reduce_input(name)
    return torch.nan_to_num(x, nan=0.25, posinf=INF, neginf=-INF)


for op, fn in (("max", torch.max), ("min", torch.min)):
    fn_case(f"{op}_all", dict(op=op), fn, [reduce_input(f"{op}_all")])
    fn_case(f"{op}_all_inf", dict(op=op), fn, [reduce_input_nonan(f"{op}_all_inf")])
    fn_case(f"{op}_dim1", dict(op=op, dim=1), lambda x, f=fn: tuple(f(x, 1)), [reduce_input(f"{op}_dim1")])
    fn_case(f"{op}_dim0", dict(op=op, dim=0), lambda x, f=fn: tuple(f(x, 0)), [reduce_input(f"{op}_dim0")])
for op, fn in (("amax", torch.amax), ("amin", torch.amin)):
    fn_case(f"{op}_dim1", dict(op=op, dim=[1]), lambda x, f=fn: f(x, 1), [reduce_input(f"{op}_dim1")])
    fn_case(f"{op}_dim1_inf", dict(op=op, dim=[1]), lambda x, f=fn: f(x, 1), [reduce_input_nonan(f"{op}_dim1_inf")])


# ---- pooling ---------------------------------------------------------------------------------
def pool_input(name, shape=(2, 2, 6, 6)):
    """Image 0's channel 0 holds hand-placed patterns for 2x2 / stride-2 windows (rows 0-1,
    2-3, 4-5 x columns 0-1, 2-3, 4-5), image 1's channel 1 a window of -Inf and NaN; the other
    channels random NaN / Inf / -Inf sprinkled over N(0, 1)."""
    seed_for(name + "/input")
    x = torch.randn(shape if len(shape) == 4 else (2,) + tuple(shape))
    c = x[0, 0]
    c[0, 0] = NAN                                      # NaN first in its window
    c[1, 3] = NAN                                      # NaN last in its window
    c[0, 4] = c[0, 5] = c[1, 4] = c[1, 5] = NAN        # all NaN
    c[2, 0] = c[2, 1] = c[3, 0] = c[3, 1] = -INF       # all -Inf
    c[2, 2], c[3, 3] = INF, NAN                        # Inf and NaN
    c[2, 4], c[2, 5] = NAN, NAN                        # two NaN: the index is the last
    c[4, 0] = INF                                      # Inf alone
    c[4, 2], c[5, 3] = -INF, INF                       # both infinities
    c[5, 4] = -INF                                     # -Inf among finite values
    c2 = x[1, 1]
    c2[0, 0] = c2[0, 1] = c2[1, 0] = -INF
    c2[1, 1] = NAN
    c2[3, 3] = c2[4, 4] = NAN
    flat = x[:, 1:].reshape(-1)
    pos = torch.randperm(flat.numel())[:12]
    flat[pos] = torch.tensor([NAN, INF, -INF] * 4)
    x[:, 1:] = flat.view(x[:, 1:].shape)
    return x if len(shape) == 4 else x[1]


def pool(name, op, fn, shape=(2, 2, 6, 6), **opts):
    fn_case(name, dict(op=op, **opts), fn, [pool_input(name, shape)])


def maxpool(name, k, stride=None, padding=0, dilation=1, ceil_mode=False, shape=(2, 2, 6, 6)):
    pool(name, "max_pool2d",
         lambda x: F.max_pool2d(x, k, stride, padding, dilation, ceil_mode, return_indices=True),
         shape, kernel_size=k, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)


def avgpool(name, k, stride=None, padding=0, ceil_mode=False, count_include_pad=True, shape=(2, 2, 6, 6)):
    pool(name, "avg_pool2d", lambda x: F.avg_pool2d(x, k, stride, padding, ceil_mode, count_include_pad),
         shape, kernel_size=k, stride=stride, padding=padding, ceil_mode=ceil_mode,
         count_include_pad=count_include_pad)


maxpool("max_pool_k2", 2)
maxpool("max_pool_k3_s2_p1", 3, stride=2, padding=1)
maxpool("max_pool_k3_s1", 3, stride=1)
maxpool("max_pool_k2_s1_d2", 2, stride=1, dilation=2)
maxpool("max_pool_k2_ceil_c3", 2, ceil_mode=True, shape=(2, 3, 7, 7))
maxpool("max_pool_k2_unbatched", 2, shape=(2, 6, 6))
avgpool("avg_pool_k2", 2)
avgpool("avg_pool_k3_s2_p1", 3, stride=2, padding=1)
avgpool("avg_pool_k3_s2_p1_nocount", 3, stride=2, padding=1, count_include_pad=False)
avgpool("avg_pool_k2_ceil_c3", 2, ceil_mode=True, shape=(2, 3, 7, 7))
for out in (3, (2, 3), 1):  # non-divisible windows, rectangular, global
    tag = "x".join(map(str, out)) if isinstance(out, tuple) else str(out)
    pool(f"adaptive_max_pool_{tag}", "adaptive_max_pool2d",
         lambda x, o=out: F.adaptive_max_pool2d(x, o, return_indices=True), output_size=out)
    pool(f"adaptive_avg_pool_{tag}", "adaptive_avg_pool2d", lambda x, o=out: F.adaptive_avg_pool2d(x, o),
         output_size=out)

g.write()
