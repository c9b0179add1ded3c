"""Goldens for cnnkit's JPEG decoding (data::decode_image): torchvision.io.decode_jpeg
(0.14, libjpeg-turbo) in its three modes, UNCHANGED, GRAY and RGB, on JPEGs that Pillow
encodes here (4:4:4, 4:2:2, 4:2:0 and 4:1:1 chroma, progressive, restart intervals, optimised
Huffman tables, odd sizes that end in partial blocks, gray, quality 5 to 100) and on the
JPEGs of the image fuzzer's seed corpus. For CMYK (Adobe, inverted, as Pillow and Photoshop
write it; torchvision keeps its four channels) the RGB golden is Pillow's convert("RGB").
Case "<name>": "<name>/file" the JPEG's bytes, "<name>/unchanged", "<name>/gray",
"<name>/rgb" the decoded (C, H, W) uint8 tensors (CMYK: "<name>/rgb" only).
Writes tests/golden/data/image_decode.safetensors.
"""
import glob
import io
import os

import numpy
import PIL
import torch
import torchvision
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg

from golden_common import ROOT, Golden

torch.manual_seed(0)
g = Golden("image_decode", "tools/golden/gen_image_decode.py")
g.meta["torchvision_version"] = torchvision.__version__
g.meta["pillow_version"] = PIL.__version__


def smooth_image(h, w, channels):
    """A photo-like image: smooth gradients plus noise, so every coefficient band is busy."""
    y = torch.linspace(0, 1, h).view(h, 1)
    x = torch.linspace(0, 1, w).view(1, w)
    planes = []
    for c in range(channels):
        base = 127 + 100 * torch.sin(6.0 * x * (c + 1) + 4.0 * y) * torch.cos(3.0 * y * (c + 2))
        planes.append(base + 25 * torch.randn(h, w))
    return torch.stack(planes).clamp(0, 255).to(torch.uint8)


def encode(img, mode, **kw):
    buf = io.BytesIO()
    arr = img.permute(1, 2, 0).squeeze(-1).numpy()
    Image.fromarray(arr, mode=mode).save(buf, format="JPEG", **kw)
    return buf.getvalue()


def case(name, data, cmyk=False):
    t = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    g.put(name, "file", t.clone())
    if cmyk:
        rgb = Image.open(io.BytesIO(data)).convert("RGB")
        g.put(name, "rgb", torch.from_numpy(numpy.asarray(rgb).copy()).permute(2, 0, 1))
    else:
        g.put(name, "unchanged", decode_jpeg(t, ImageReadMode.UNCHANGED))
        g.put(name, "gray", decode_jpeg(t, ImageReadMode.GRAY))
        g.put(name, "rgb", decode_jpeg(t, ImageReadMode.RGB))
    g.add_case(name, {"cmyk": cmyk, "bytes": len(data)})


rgb = smooth_image(37, 23, 3)
for sub, tag in ((0, "444"), (1, "422"), (2, "420")):
    for q in (5, 75, 100):
        case(f"rgb_{tag}_q{q}_37x23", encode(rgb, "RGB", quality=q, subsampling=sub))
case("rgb_420_progressive_37x23", encode(rgb, "RGB", quality=90, subsampling=2, progressive=True))
case("rgb_444_progressive_optimised_37x23", encode(rgb, "RGB", quality=60, subsampling=0, progressive=True,
                                                  optimize=True))
case("rgb_420_optimised_37x23", encode(rgb, "RGB", quality=85, subsampling=2, optimize=True))
big = smooth_image(64, 80, 3)
case("rgb_420_64x80", encode(big, "RGB", quality=80, subsampling=2))
case("rgb_411_64x80", encode(big, "RGB", quality=80, subsampling="4:1:1"))
case("rgb_420_restart_64x80", encode(big, "RGB", quality=80, subsampling=2, restart_marker_blocks=3))
case("rgb_1x1", encode(smooth_image(1, 1, 3), "RGB", quality=90))
gray = smooth_image(19, 30, 1)
case("gray_19x30", encode(gray, "L", quality=80))
case("gray_progressive_19x30", encode(gray, "L", quality=80, progressive=True))
cmyk = smooth_image(21, 17, 4)
case("cmyk_21x17", encode(cmyk, "CMYK", quality=90), cmyk=True)
for path in sorted(glob.glob(os.path.join(ROOT, "tests", "fuzz", "corpus", "fuzz_image", "*.jpg"))):
    with open(path, "rb") as f:
        case("corpus_" + os.path.basename(path)[:-4].replace("-", "_"), f.read())
g.write()
