"""Goldens for cnnkit's image transforms: each deterministic op of
torchvision.transforms.functional (0.14) on small uint8 and float32 images.
The four input images are stored once as "images/<image>"; case "<name>" holds
"<name>/out" and its options (metadata) name the op, the input image and the arguments as
cnnkit's functional:: call takes them. The geometric ops (affine, perspective), the colour ops
of the AutoAugment family and autoaugment._apply_op for every op name, and the magnitude bins
of AutoAugment / RandAugment / TrivialAugmentWide ("augmentation_space" cases) are here too.
Random transforms are not here:
tests/data/transforms_random_test.cpp checks them for determinism and distributions.
Writes tests/golden/data/transforms.safetensors.
"""
import warnings

import torch
import torchvision
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode

from golden_common import Golden

warnings.filterwarnings("ignore")
torch.manual_seed(0)

g = Golden("transforms", "tools/golden/gen_transforms.py")
g.meta["torchvision_version"] = torchvision.__version__

rgb_u8 = torch.randint(0, 256, (3, 10, 12), dtype=torch.uint8)
rgb_f = torch.rand(3, 10, 12)
gray_u8 = torch.randint(0, 256, (1, 9, 11), dtype=torch.uint8)
gray_f = torch.rand(1, 9, 11)
# flat regions and saturated pixels exercise the hue / saturation special cases
rgb_f[:, 0, :4] = 0.5
rgb_f[:, 1, :2] = torch.tensor([1.0, 0.0, 0.0]).view(3, 1)
rgb_u8[:, 0, :4] = 128
images = {"rgb_u8": rgb_u8, "rgb_f": rgb_f, "gray_u8": gray_u8, "gray_f": gray_f}
for k, v in images.items():
    g.put("images", k, v)


def case(name, op, img_name, out, **args):
    g.put(name, "out", out)
    opts = dict(args)
    opts["op"] = op
    opts["image"] = img_name
    g.add_case(name, opts)


for n in ("rgb_u8", "gray_u8"):
    x = images[n]
    case(f"to_tensor_{n}", "to_tensor", n, F.to_tensor(x.permute(1, 2, 0).numpy()))
case("normalize_rgb", "normalize", "rgb_f", F.normalize(rgb_f, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
     mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
case("normalize_scalar", "normalize", "gray_f", F.normalize(gray_f, [0.1307], [0.3081]), mean=[0.1307], std=[0.3081])

for n in images:
    x = images[n]
    case(f"hflip_{n}", "hflip", n, F.hflip(x))
    case(f"vflip_{n}", "vflip", n, F.vflip(x))
    case(f"rgb_to_grayscale_{n}", "rgb_to_grayscale", n, F.rgb_to_grayscale(x, 1) if x.shape[0] == 3 else x.clone(),
         num_output_channels=1)

for n in ("rgb_u8", "rgb_f"):
    x = images[n]
    case(f"crop_inside_{n}", "crop", n, F.crop(x, 2, 3, 5, 6), top=2, left=3, height=5, width=6)
    case(f"crop_outside_{n}", "crop", n, F.crop(x, -2, 9, 6, 5), top=-2, left=9, height=6, width=5)
    for mode in ("constant", "edge", "reflect", "symmetric"):
        for pad in ([2], [1, 3], [1, 2, 3, 4]):
            fill = 7 if (mode == "constant" and len(pad) == 2) else 0
            fill = fill if n.endswith("u8") else fill / 10.0
            tag = "_".join(str(p) for p in pad)
            case(f"pad_{mode}_{tag}_{n}", "pad", n, F.pad(x, pad, fill=fill, padding_mode=mode),
                 padding=pad, fill=fill, padding_mode=mode)
    for size in ([7, 9], [15, 20], [8], [5]):
        tag = "_".join(str(s) for s in size)
        case(f"resize_bilinear_{tag}_{n}", "resize", n, F.resize(x, size, InterpolationMode.BILINEAR),
             size=size, interpolation="bilinear")
    case(f"resize_nearest_7_9_{n}", "resize", n, F.resize(x, [7, 9], InterpolationMode.NEAREST),
         size=[7, 9], interpolation="nearest")
    case(f"resize_nearest_17_25_{n}", "resize", n, F.resize(x, [17, 25], InterpolationMode.NEAREST),
         size=[17, 25], interpolation="nearest")
    for size in ([6, 8], [5, 5], [12, 15], [7]):
        tag = "_".join(str(s) for s in size)
        case(f"center_crop_{tag}_{n}", "center_crop", n, F.center_crop(x, size), size=size)
    case(f"resized_crop_{n}", "resized_crop", n, F.resized_crop(x, 1, 2, 7, 8, [12, 12]),
         top=1, left=2, height=7, width=8, size=[12, 12])
    for angle in (90.0, 30.0, -17.5):
        case(f"rotate_nearest_{int(angle)}_{n}", "rotate", n, F.rotate(x, angle, InterpolationMode.NEAREST),
             angle=angle, interpolation="nearest")
    case(f"rotate_bilinear_45_{n}", "rotate", n, F.rotate(x, 45.0, InterpolationMode.BILINEAR),
         angle=45.0, interpolation="bilinear")
    fill = [10.0, 200.0, 30.0] if n.endswith("u8") else [0.5, 0.2, 0.1]
    case(f"rotate_bilinear_fill_{n}", "rotate", n, F.rotate(x, 20.0, InterpolationMode.BILINEAR, fill=fill),
         angle=20.0, interpolation="bilinear", fill=fill)
    case(f"rotate_nearest_fill_center_{n}", "rotate", n,
         F.rotate(x, 33.0, InterpolationMode.NEAREST, center=[3, 4], fill=fill),
         angle=33.0, interpolation="nearest", fill=fill, center=[3, 4])

for n in images:
    x = images[n]
    for f in (0.0, 0.6, 1.7):
        tag = str(f).replace(".", "_")
        case(f"brightness_{tag}_{n}", "adjust_brightness", n, F.adjust_brightness(x, f), factor=f)
        case(f"contrast_{tag}_{n}", "adjust_contrast", n, F.adjust_contrast(x, f), factor=f)
        case(f"saturation_{tag}_{n}", "adjust_saturation", n, F.adjust_saturation(x, f), factor=f)
    for h in (-0.5, -0.3, 0.0, 0.2, 0.5):
        tag = str(h).replace(".", "_").replace("-", "m")
        case(f"hue_{tag}_{n}", "adjust_hue", n, F.adjust_hue(x, h), factor=h)

for n in images:
    x = images[n]
    for ks, sigma in (((3, 3), (1.0, 1.0)), ((5, 3), (0.8, 1.7)), ((3, 5), (2.0, 0.5)), ((7, 7), (0.3, 0.3))):
        tag = f"{ks[0]}x{ks[1]}_{str(sigma[0]).replace('.', '_')}"
        case(f"gaussian_blur_{tag}_{n}", "gaussian_blur", n, F.gaussian_blur(x, list(ks), list(sigma)),
             kernel_size=list(ks), sigma=list(sigma))

# ---- affine, perspective, the AutoAugment family's ops ---------------------------------------
# More images, from their own generator so the ones above stay as they were: a larger RGB
# image with a skewed histogram (equalize needs > 255 pixels a channel to do anything), its
# gray sibling, and a flat one (autocontrast's infinite scale).
gen2 = torch.Generator().manual_seed(1)
big_u8 = (torch.rand(3, 24, 32, generator=gen2) ** 2 * 200 + 20).to(torch.uint8)
gray_big_u8 = (torch.rand(1, 24, 32, generator=gen2) ** 3 * 255).to(torch.uint8)
flat_u8 = torch.full((3, 5, 6), 77, dtype=torch.uint8)
flat_u8[1] = torch.randint(0, 256, (5, 6), generator=gen2, dtype=torch.uint8)
flat_f = flat_u8.float() / 255
more = {"big_u8": big_u8, "gray_big_u8": gray_big_u8, "flat_u8": flat_u8, "flat_f": flat_f}
for k, v in more.items():
    g.put("images", k, v)
images.update(more)


def fill_for(n, kind):
    if kind is None:
        return None
    scale = 1.0 if n.endswith("u8") else 1 / 255.0
    if kind == "scalar":
        return [77.0 * scale]
    return [10.0 * scale, 200.0 * scale, 30.0 * scale] if images[n].shape[0] == 3 else [150.0 * scale]


def interp(m):
    return InterpolationMode.NEAREST if m == "nearest" else InterpolationMode.BILINEAR


# (angle, translate, scale, shear, center)
affine_grid = [
    (30.0, [0, 0], 1.0, [0.0, 0.0], None),
    (-45.5, [2, -3], 1.2, [0.0, 0.0], None),
    (0.0, [0, 0], 0.8, [15.0, 0.0], None),
    (0.0, [0, 0], 1.0, [0.0, -20.0], None),
    (10.0, [1, 2], 1.1, [12.0, 7.0], None),
    (90.0, [-2, 1], 1.0, [0.0, 0.0], None),
    (25.0, [0, 0], 0.9, [5.0, 5.0], [3, 4]),
    (0.0, [3, 0], 1.0, [0.0, 0.0], None),
    (-170.0, [1.5, -0.5], 1.3, [-30.0, 10.0], [0, 0]),
]
for i, (angle, tr, sc, sh, center) in enumerate(affine_grid):
    for n in ("rgb_u8", "rgb_f", "gray_u8"):
        if n == "gray_u8" and i % 3:
            continue
        for m in ("nearest", "bilinear"):
            fills = [None]
            if i in (1, 4):
                fills.append("scalar")
            if i in (4, 6, 8):
                fills.append("channel")
            for fk in fills:
                fill = fill_for(n, fk)
                out = F.affine(images[n], angle, tr, sc, sh, interpolation=interp(m), fill=fill, center=center)
                args = dict(angle=angle, translate=[float(t) for t in tr], scale=sc, shear=sh, interpolation=m)
                if fill is not None:
                    args["fill"] = fill
                if center is not None:
                    args["center"] = [float(c) for c in center]
                case(f"affine_{i}_{m}_{fk or 'nofill'}_{n}", "affine", n, out, **args)

persp_points = [
    ([[0, 0], [11, 0], [11, 9], [0, 9]], [[1, 2], [10, 0], [11, 8], [2, 9]]),
    ([[0, 0], [11, 0], [11, 9], [0, 9]], [[3, 1], [9, 2], [8, 7], [2, 8]]),
    ([[1, 1], [10, 0], [9, 9], [0, 8]], [[0, 0], [11, 0], [11, 9], [0, 9]]),
]
for i, (sp, ep) in enumerate(persp_points):
    coeffs = torch.tensor(F._get_perspective_coeffs(sp, ep), dtype=torch.float32)
    case(f"perspective_coeffs_{i}", "perspective_coeffs", "gray_u8", coeffs, startpoints=sp, endpoints=ep)
    for n in ("rgb_u8", "rgb_f", "gray_u8"):
        for m in ("nearest", "bilinear"):
            for fk in (None, "scalar", "channel"):
                if fk is not None and n == "gray_u8":
                    continue
                fill = fill_for(n, fk)
                out = F.perspective(images[n], sp, ep, interpolation=interp(m), fill=fill)
                args = dict(startpoints=sp, endpoints=ep, interpolation=m)
                if fill is not None:
                    args["fill"] = fill
                case(f"perspective_{i}_{m}_{fk or 'nofill'}_{n}", "perspective", n, out, **args)

for n in ("rgb_u8", "rgb_f", "gray_u8", "gray_f", "flat_u8", "flat_f", "big_u8"):
    x = images[n]
    u8 = n.endswith("u8")
    case(f"invert_{n}", "invert", n, F.invert(x))
    case(f"autocontrast_{n}", "autocontrast", n, F.autocontrast(x))
    for t in ((0.0, 100.5, 200.0, 255.0) if u8 else (0.0, 0.3, 0.5, 1.0)):
        case(f"solarize_{str(t).replace('.', '_')}_{n}", "solarize", n, F.solarize(x, t), threshold=t)
    for f in (0.0, 0.5, 1.7):
        case(f"sharpness_{str(f).replace('.', '_')}_{n}", "adjust_sharpness", n, F.adjust_sharpness(x, f), factor=f)
    if u8:
        for b in (0, 1, 4, 8):
            case(f"posterize_{b}_{n}", "posterize", n, F.posterize(x, b), bits=b)
        case(f"equalize_{n}", "equalize", n, F.equalize(x))
case("equalize_gray_big_u8", "equalize", "gray_big_u8", F.equalize(gray_big_u8))
case("autocontrast_gray_big_u8", "autocontrast", "gray_big_u8", F.autocontrast(gray_big_u8))

# autoaugment._apply_op: every op at magnitudes of both signs (RandAugment / TrivialAugmentWide
# bins), on an RGB and a gray uint8 image; the geometric ops also bilinear with a fill.
from torchvision.transforms.autoaugment import _apply_op, AutoAugment, RandAugment, TrivialAugmentWide  # noqa: E402

bins31 = torch.linspace(0.0, 0.3, 31)
apply_ops = {
    "Identity": [0.0],
    "ShearX": [float(bins31[9]), -0.3, 0.99],
    "ShearY": [float(bins31[9]), -0.3, -0.99],
    "TranslateX": [4.35, -2.0, 32.0],
    "TranslateY": [3.9, -5.7, -1.0],
    "Rotate": [float(torch.linspace(0.0, 30.0, 31)[9]), -30.0, 135.0],
    "Brightness": [0.27, -0.9, 0.99],
    "Color": [0.27, -0.9, 0.99],
    "Contrast": [0.27, -0.9, 0.99],
    "Sharpness": [0.27, -0.9, 0.99],
    "Posterize": [8.0, 6.0, 2.0],
    "Solarize": [255.0, float(torch.linspace(255.0, 0.0, 31)[9]), 0.0],
    "AutoContrast": [0.0],
    "Equalize": [0.0],
    "Invert": [0.0],
}
for op_name, mags in apply_ops.items():
    for n in ("rgb_u8", "gray_big_u8"):
        for k, mag in enumerate(mags):
            out = _apply_op(images[n], op_name, mag, interpolation=InterpolationMode.NEAREST, fill=None)
            case(f"apply_op_{op_name}_{k}_{n}", "apply_op", n, out, op_name=op_name, magnitude=mag,
                 interpolation="nearest")
    if op_name in ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate"):
        fill = [10.0, 200.0, 30.0]
        out = _apply_op(rgb_u8, op_name, mags[1], interpolation=InterpolationMode.BILINEAR, fill=fill)
        case(f"apply_op_{op_name}_bilinear_fill_rgb_u8", "apply_op", "rgb_u8", out, op_name=op_name,
             magnitude=mags[1], interpolation="bilinear", fill=fill)
for op_name in ("AutoContrast", "Equalize"):
    case(f"apply_op_{op_name}_big_u8", "apply_op", "big_u8", _apply_op(big_u8, op_name, 0.0, InterpolationMode.NEAREST, None),
         op_name=op_name, magnitude=0.0, interpolation="nearest")

# The magnitude bins: torch.linspace in float32 (and posterize's rounded int bins), per op.
spaces = [
    ("RandAugment", 31, (10, 12), RandAugment()._augmentation_space(31, (10, 12))),
    ("RandAugment", 31, (224, 224), RandAugment()._augmentation_space(31, (224, 224))),
    ("RandAugment", 17, (32, 28), RandAugment()._augmentation_space(17, (32, 28))),
    ("RandAugment", 9, (10, 12), RandAugment()._augmentation_space(9, (10, 12))),
    ("TrivialAugmentWide", 31, (0, 0), TrivialAugmentWide()._augmentation_space(31)),
    ("TrivialAugmentWide", 51, (0, 0), TrivialAugmentWide()._augmentation_space(51)),
    ("TrivialAugmentWide", 7, (0, 0), TrivialAugmentWide()._augmentation_space(7)),
    ("AutoAugment", 10, (10, 12), AutoAugment()._augmentation_space(10, (10, 12))),
    ("AutoAugment", 10, (331, 331), AutoAugment()._augmentation_space(10, (331, 331))),
]
for kind, nb, (h, w), space in spaces:
    for op_name, (mags, signed) in space.items():
        if mags.ndim == 0:
            continue
        case(f"space_{kind}_{nb}_{h}x{w}_{op_name}", "augmentation_space", "gray_u8", mags.to(torch.float32),
             kind=kind, num_bins=nb, height=h, width=w, op_name=op_name, signed=bool(signed))

g.write()
