"""Goldens for cnnkit's image transforms: each deterministic op of
torchvision.transforms.functional (0.14) on small uint8 and float32 images.
The four input images are stored once as "images/<image>"; case "<name>" holds
"<name>/out" and its options (metadata) name the op, the input image and the arguments as
cnnkit's functional:: call takes them. Random transforms are not here:
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

g.write()
