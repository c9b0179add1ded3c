"""Goldens for cnnkit's JPEG and PNG decoding (data::decode_image): torchvision.io.decode_jpeg
(0.14, libjpeg-turbo) in its three modes, UNCHANGED, GRAY and RGB, on JPEGs that Pillow
encodes here (4:4:4, 4:2:2, 4:2:0 and 4:1:1 chroma, progressive, restart intervals, optimised
Huffman tables, odd sizes that end in partial blocks, gray, quality 5 to 100) and on the
JPEGs of the image fuzzer's seed corpus. For CMYK (Adobe, inverted, as Pillow and Photoshop
write it; torchvision keeps its four channels) the RGB golden is Pillow's convert("RGB").
Case "<name>": "<name>/file" the JPEG's bytes, "<name>/unchanged", "<name>/gray",
"<name>/rgb" the decoded (C, H, W) uint8 tensors (CMYK: "<name>/rgb" only).
PNG cases (option "png"; RGB, RGBA, gray, gray + alpha, palette with and without
transparency, and the seed corpus's PNGs but its 16-bit one, which torchvision 0.14 refuses):
torchvision.io.decode_png in each mode the case's "modes" option lists (see png_case).
Where torchvision 0.14 has no answer (16-bit PNGs, which it refuses) or ignores the file's
transparency (a tRNS chunk in a gray or RGB file, which libpng, Pillow and the PNG standard
make an alpha channel), the listed modes' tensors are Pillow's (see pillow_png_case).
Writes tests/golden/data/image_decode.safetensors.
"""
import glob
import io
import os
import struct
import zlib

import numpy
import PIL
import torch
import torchvision
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg, decode_png

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


PNG_MODES = {"unchanged": ImageReadMode.UNCHANGED, "gray": ImageReadMode.GRAY, "gray_alpha": ImageReadMode.GRAY_ALPHA,
             "rgb": ImageReadMode.RGB, "rgb_alpha": ImageReadMode.RGB_ALPHA}


def png_case(name, data):
    """Every read mode, except those where torchvision 0.14 itself is wrong (not cnnkit's
    reference): a palette file's UNCHANGED is its palette indices; GRAY_ALPHA and RGB_ALPHA of
    a palette without transparency count an alpha that libpng never adds (the tensor is read
    short); those of a gray file of 1, 2 or 4 bits take alpha (1 << depth) - 1, added after the
    expansion to 8 bits (1 for a 1-bit file, not 255)."""
    t = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    depth, colour_type = data[24], data[25]  # IHDR, right after the signature
    palette = colour_type == 3
    has_trns = b"tRNS" in data
    skip = set()
    if palette:
        skip.add("unchanged")
        if not has_trns:
            skip.update({"gray_alpha", "rgb_alpha"})
    if colour_type == 0 and depth < 8:
        skip.update({"gray_alpha", "rgb_alpha"})
    g.put(name, "file", t.clone())
    modes = []
    for key, mode in PNG_MODES.items():
        if key in skip:
            continue
        g.put(name, key, decode_png(t, mode))
        modes.append(key)
    g.add_case(name, {"png": True, "bytes": len(data), "modes": modes})


PILLOW_MODES = {"unchanged": None, "gray": "L", "gray_alpha": "LA", "rgb": "RGB", "rgb_alpha": "RGBA"}


def pillow_png_case(name, data, modes):
    """Pillow's pixels in each of `modes`: "unchanged" the file's channels with its tRNS as
    alpha (Pillow's mode, or LA / RGBA when it has a transparency), the others
    Image.convert(). 16-bit samples are their high byte in Pillow, as in cnnkit. Pillow's
    convert("L") is not libpng's gray, so the gray modes are only listed for gray files."""
    im = Image.open(io.BytesIO(data))
    g.put(name, "file", torch.frombuffer(bytearray(data), dtype=torch.uint8).clone())
    for key in modes:
        mode = PILLOW_MODES[key]
        if mode is None:
            mode = {"L": "LA", "RGB": "RGBA"}[im.mode] if "transparency" in im.info else im.mode
        arr = numpy.asarray(im.convert(mode))
        if arr.ndim == 2:
            arr = arr[:, :, None]
        g.put(name, key, torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous())
    g.add_case(name, {"png": True, "bytes": len(data), "modes": list(modes), "reference": "Pillow"})


def raw_png(w, h, depth, colour_type, samples, trns=b""):
    """A PNG of (h, w, channels) `samples` (uint8, or uint16 for depth 16) written chunk by
    chunk, as Pillow writes no 16-bit colour PNG."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    big_endian = samples.astype(">u2") if depth == 16 else samples.astype(numpy.uint8)
    rows = b"".join(b"\x00" + big_endian[y].tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + (chunk(b"tRNS", trns) if trns else b"") +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def png(img, mode, **kw):
    buf = io.BytesIO()
    arr = img.permute(1, 2, 0).squeeze(-1).numpy()
    Image.fromarray(arr, mode=mode).save(buf, format="PNG", **kw)
    return buf.getvalue()


png_case("png_rgb_37x23", png(rgb, "RGB"))
png_case("png_rgba_21x17", png(cmyk, "RGBA"))
png_case("png_gray_19x30", png(gray, "L"))
png_case("png_gray_alpha_19x30", png(torch.cat([gray, gray.flip(2)]), "LA"))
pal = Image.fromarray(rgb.permute(1, 2, 0).numpy(), "RGB").quantize(colors=16)
buf = io.BytesIO()
pal.save(buf, format="PNG")
png_case("png_palette_37x23", buf.getvalue())
buf = io.BytesIO()
pal.save(buf, format="PNG", transparency=3)
png_case("png_palette_transparent_37x23", buf.getvalue())
# Transparency in a gray and an RGB file: one gray level, one colour (present 3 times in the
# RGB image) become transparent.
pillow_png_case("png_gray_trns_19x30", png(gray, "L", transparency=int(gray[0, 0, 0])), ["unchanged", "gray", "gray_alpha", "rgb", "rgb_alpha"])
rgb_t = rgb.clone()
rgb_t[:, 5, 0:3] = torch.tensor([12, 200, 7], dtype=torch.uint8)[:, None]
pillow_png_case("png_rgb_trns_37x23", png(rgb_t, "RGB", transparency=(12, 200, 7)), ["unchanged", "rgb", "rgb_alpha"])
# 16 bits a sample: values whose low byte differs from the high one.
wide = torch.randint(0, 65536, (23, 37, 4), dtype=torch.int32).numpy()
pillow_png_case("png_rgb16_37x23", raw_png(37, 23, 16, 2, wide[:, :, :3]), ["unchanged", "rgb", "rgb_alpha"])
pillow_png_case("png_rgba16_37x23", raw_png(37, 23, 16, 6, wide), ["unchanged", "rgb", "rgb_alpha"])
for path in sorted(glob.glob(os.path.join(ROOT, "tests", "fuzz", "corpus", "fuzz_image", "*.png"))):
    if "16bit" in path:
        continue  # torchvision 0.14 refuses PNGs of more than 8 bits
    with open(path, "rb") as f:
        png_case("corpus_" + os.path.basename(path)[:-4].replace("-", "_"), f.read())
g.write()
