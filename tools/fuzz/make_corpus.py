#!/usr/bin/python3
"""Seed corpora for the libFuzzer targets of tests/fuzz: small valid files of every format
a cnnkit reader takes, plus a few edge cases (empty tensors, scalars, other dtypes and
byte orders, Fortran order, gzip, quoting, interlacing, ...), written into
tests/fuzz/corpus/<target>/. Python's standard library only, and byte-identical on reruns.

    /usr/bin/python3 tools/fuzz/make_corpus.py [--build build-san]

Sources other than this file: the .npy fixtures NumPy wrote (tests/data/fixtures/npy), the
ONNX goldens torch.onnx.export wrote (tests/golden/data/onnx, those under 8 KB), the run
configs of configs/. The training checkpoints are written by the fuzz_checkpoint target
itself (its CNNKIT_FUZZ_WRITE_SEEDS mode: the very Trainer it resumes), so they need a
build: --build names it; without it the checkpoint corpus is left as it is.

Files named regress-* are reproducers of bugs the fuzzers found; this script never writes
or removes them.
"""
import argparse
import gzip
import io
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


class Corpus:
    """Writes one target's seeds; removes the seeds it no longer writes."""

    def __init__(self, target):
        self.dir = os.path.join(CORPUS, target)
        os.makedirs(self.dir, exist_ok=True)
        self.written = set()

    def add(self, name, data):
        if isinstance(data, str):
            data = data.encode()
        assert len(data) <= 8192, f"{name}: {len(data)} bytes; seeds stay small"
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)
        self.written.add(name)

    def finish(self, keep_unlisted=False):
        for name in os.listdir(self.dir):
            if name not in self.written and not name.startswith("regress-") and not keep_unlisted:
                os.remove(os.path.join(self.dir, name))


# ---- safetensors ---------------------------------------------------------------------------

def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, raw bytes)] in buffer order."""
    header, buf = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(buf), len(buf) + len(raw)]}
        buf += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + buf


def f32(*v):
    return struct.pack(f"<{len(v)}f", *v)


def i64(*v):
    return struct.pack(f"<{len(v)}q", *v)


def make_safetensors():
    c = Corpus("fuzz_safetensors")
    c.add("weights.safetensors", safetensors(
        [("fc.weight", "F32", [2, 3], f32(0.5, -1, 2, 0.25, 3, -4)), ("fc.bias", "F32", [2], f32(1, -1)),
         ("bn.num_batches_tracked", "I64", [], i64(7))], {"format": "pt"}))
    c.add("dtypes.safetensors", safetensors(
        [("f16", "F16", [3], struct.pack("<3H", 0x3C00, 0x8001, 0x7C00)),
         ("bf16", "BF16", [2], struct.pack("<2H", 0x3F80, 0xFF80)),
         ("f64", "F64", [2], struct.pack("<2d", 0.1, -1e300)),
         ("i32", "I32", [2], struct.pack("<2i", -5, 2**31 - 1)),
         ("u8", "U8", [4], bytes([0, 1, 128, 255])),
         ("flags", "BOOL", [3], bytes([0, 1, 7]))]))
    c.add("empty-and-scalar.safetensors", safetensors(
        [("empty", "F32", [0, 3], b""), ("scalar", "F32", [], f32(2.5)), ("zero_dim", "I64", [4, 0, 2], b"")]))
    c.add("metadata-only.safetensors", safetensors([], {"cnnkit.format": "other", "k": "v"}))
    c.add("no-tensors.safetensors", struct.pack("<Q", 2) + b"{}")
    c.finish()


# ---- training checkpoints -------------------------------------------------------------------

def make_checkpoint(build):
    c = Corpus("fuzz_checkpoint")
    if build is None:
        print("fuzz_checkpoint: no --build, corpus left as it is")
        c.finish(keep_unlisted=True)
        return
    exe = os.path.join(build, "tests", "fuzz", "fuzz_checkpoint")
    env = dict(os.environ, CNNKIT_FUZZ_WRITE_SEEDS=c.dir, CNNKIT_NUM_THREADS="1")
    subprocess.run([exe], env=env, check=True)
    for name in os.listdir(c.dir):
        if name.startswith("epoch"):
            c.written.add(name)
    c.finish()


# ---- .npy ----------------------------------------------------------------------------------

def npy(descr, shape, raw, fortran=False, version=(1, 0)):
    shape_text = "(" + "".join(f"{d}, " for d in shape)[:-2] + ("," if len(shape) == 1 else "") + ")"
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_text}, }}"
    length_bytes = 2 if version == (1, 0) else 4
    total = 6 + 2 + length_bytes + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    length = struct.pack("<H" if length_bytes == 2 else "<I", len(header))
    return b"\x93NUMPY" + bytes(version) + length + header.encode("latin1") + raw


def make_npy():
    c = Corpus("fuzz_npy")
    fixtures = os.path.join(ROOT, "tests", "data", "fixtures", "npy")
    for name in sorted(os.listdir(fixtures)):  # written by NumPy itself
        if name.endswith(".npy") and os.path.getsize(os.path.join(fixtures, name)) <= 4096:
            c.add("numpy-" + name, open(os.path.join(fixtures, name), "rb").read())
    c.add("u2-be.npy", npy(">u2", [3], struct.pack(">3H", 1, 256, 65535)))
    c.add("u4.npy", npy("<u4", [2, 1], struct.pack("<2I", 7, 2**32 - 1)))
    c.add("i1.npy", npy("|i1", [4], bytes([0, 127, 128, 255])))
    c.add("f8-be-fortran.npy", npy(">f8", [2, 2], struct.pack(">4d", 1, 2, 3, 4), fortran=True))
    c.add("v3.npy", npy("<f4", [1, 2, 1], f32(1, 2), version=(3, 0)))
    c.add("images-u1.npy", npy("|u1", [2, 1, 3, 3], bytes(range(18))))
    c.finish()


# ---- IDX -----------------------------------------------------------------------------------

def idx(type_code, dims, raw):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + raw


def make_idx():
    c = Corpus("fuzz_idx")
    images = idx(0x08, [2, 4, 4], bytes((17 * i) % 256 for i in range(32)))
    labels = idx(0x08, [5], bytes([9, 0, 3, 1, 7]))
    c.add("images-idx3-ubyte", images)
    c.add("labels-idx1-ubyte", labels)
    c.add("images-idx3-ubyte.gz", gz(images))
    c.add("labels-idx1-ubyte.gz", gz(labels))
    c.add("i8-idx1", idx(0x09, [3], bytes([0, 0x7F, 0x80])))
    c.add("i16-idx2", idx(0x0B, [2, 2], struct.pack(">4h", 1, -1, 32767, -32768)))
    c.add("i32-idx1", idx(0x0C, [2], struct.pack(">2i", 100000, -7)))
    c.add("f32-idx2", idx(0x0D, [1, 3], struct.pack(">3f", 0.5, -2, 1e30)))
    c.add("f64-idx1.gz", gz(idx(0x0E, [2], struct.pack(">2d", 0.25, -1e-300))))
    c.add("empty-idx1", idx(0x08, [0], b""))
    c.add("scalar-idx0", idx(0x08, [], b"\x2a"))
    c.finish()


# ---- CIFAR ---------------------------------------------------------------------------------

def make_cifar():
    c = Corpus("fuzz_cifar")
    pixels = bytes((i * 7) % 256 for i in range(3072))
    c.add("cifar10-2-records.bin", bytes([3]) + pixels + bytes([9]) + pixels[::-1])
    c.add("cifar100-2-records.bin", bytes([4, 42]) + pixels + bytes([19, 99]) + pixels[::-1])
    c.add("cifar10-1-record.bin.gz", gz(bytes([0]) + pixels))
    c.finish()


# ---- images --------------------------------------------------------------------------------

def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(width, height, color_type, pixel_rows, bit_depth=8, palette=None, trns=None, interlace=False):
    """pixel_rows: packed scanline bytes per row (no filter byte)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    bpp = max(1, channels * bit_depth // 8)

    def filtered(rows):
        out, prev = b"", None
        for r, row in enumerate(rows):
            prev = prev or bytes(len(row))
            kind = r % 5  # every filter type in turn
            line = bytearray()
            for i, x in enumerate(row):
                a = row[i - bpp] if i >= bpp else 0
                b = prev[i]
                cc = prev[i - bpp] if i >= bpp else 0
                if kind == 0:
                    pred = 0
                elif kind == 1:
                    pred = a
                elif kind == 2:
                    pred = b
                elif kind == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - cc
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else cc)
                line.append((x - pred) % 256)
            out += bytes([kind]) + bytes(line)
            prev = row
        return out

    if interlace:  # Adam7, 8-bit pixels only here
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b""
        for x0, y0, dx, dy in passes:
            rows = []
            for y in range(y0, height, dy):
                row = b"".join(pixel_rows[y][x * bpp:(x + 1) * bpp] for x in range(x0, width, dx))
                if row:
                    rows.append(row)
            raw += filtered(rows)
    else:
        raw = filtered(pixel_rows)
    out = b"\x89PNG\r\n\x1a\n"
    out += png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, int(interlace)))
    if palette is not None:
        out += png_chunk(b"PLTE", palette)
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    out += png_chunk(b"tEXt", b"Comment\x00cnnkit fuzz seed")
    data = zlib.compress(raw, 9)
    out += png_chunk(b"IDAT", data[: len(data) // 2]) + png_chunk(b"IDAT", data[len(data) // 2:])
    return out + png_chunk(b"IEND", b"")


def bmp(width, height, bits, pixel_rows, palette=None, top_down=False):
    """pixel_rows top to bottom, packed bytes per row (no padding)."""
    stride = (width * bits + 31) // 32 * 4
    rows = pixel_rows if top_down else pixel_rows[::-1]
    data = b"".join(r + bytes(stride - len(r)) for r in rows)
    pal = palette or b""
    offset = 14 + 40 + len(pal)
    info = struct.pack("<IiiHHIIiiII", 40, width, -height if top_down else height, 1, bits, 0, len(data), 2835, 2835,
                       len(pal) // 4, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + info + pal + data


# Baseline and progressive JPEG (ITU T.81) with the standard tables of its Annex K.
ZIGZAG = sorted(range(64), key=lambda k: (k // 8 + k % 8, (k % 8) if (k // 8 + k % 8) % 2 == 0 else (k // 8)))
QT_LUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22,
           29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103,
           121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
QT_CHROMA = [17, 18, 24, 47] + [99] * 4 + [18, 21, 26, 66] + [99] * 4 + [24, 26, 56] + [99] * 5 + [47, 66] + [99] * 46
DC_LUMA = ([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], list(range(12)))
DC_CHROMA = ([0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], list(range(12)))
AC_LUMA = ([0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D], bytes.fromhex(
    "01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738"
    "393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4"
    "a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa"))
AC_CHROMA = ([0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77], bytes.fromhex(
    "000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a3536"
    "3738393a434445464748494a535455565758595a636465666768696a737475767778797a82838485868788898a92939495969798999a"
    "a2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa"))


def huffman_codes(table):
    bits, values = table
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[values[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


class BitWriter:
    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, value, length):
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)  # byte stuffing
                self.acc, self.n = 0, 0

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)
        return bytes(self.out)


def magnitude(v):
    size = abs(v).bit_length()
    return size, (v if v >= 0 else v + (1 << size) - 1)


def fdct_quantize(block, qt):
    """block: 64 samples (row-major, level-shifted); returns 64 quantised coefficients, zigzag order."""
    coef = [0] * 64
    for v in range(8):
        for u in range(8):
            s = 0.0
            for y in range(8):
                for x in range(8):
                    s += block[y * 8 + x] * math.cos((2 * x + 1) * u * math.pi / 16) * math.cos((2 * y + 1) * v * math.pi / 16)
            cu = 1 / math.sqrt(2) if u == 0 else 1
            cv = 1 / math.sqrt(2) if v == 0 else 1
            coef[v * 8 + u] = int(round(0.25 * cu * cv * s / qt[v * 8 + u]))
    return [coef[ZIGZAG[k]] for k in range(64)]


def jpeg(width, height, planes, sampling, progressive=False, restart=0):
    """planes: per component a function (x, y) -> 0..255 at full resolution; sampling: per
    component (h, v). One quantisation/Huffman table pair for luma, one for chroma."""
    hmax, vmax = max(s[0] for s in sampling), max(s[1] for s in sampling)
    mcux, mcuy = (width + 8 * hmax - 1) // (8 * hmax), (height + 8 * vmax - 1) // (8 * vmax)
    ncomp = len(planes)
    qts = [QT_LUMA if c == 0 else QT_CHROMA for c in range(ncomp)]
    tables = [(huffman_codes(DC_LUMA), huffman_codes(AC_LUMA)), (huffman_codes(DC_CHROMA), huffman_codes(AC_CHROMA))]

    # Every component's blocks on its own grid, as quantised zigzag coefficients.
    blocks = []
    for c, (plane, (h, v)) in enumerate(zip(planes, sampling)):
        bw, bh = mcux * h, mcuy * v
        fx, fy = hmax // h, vmax // v
        grid = {}
        for by in range(bh):
            for bx in range(bw):
                samples = []
                for y in range(8):
                    for x in range(8):
                        px = min((bx * 8 + x) * fx, width - 1)
                        py = min((by * 8 + y) * fy, height - 1)
                        samples.append(plane(px, py) - 128)
                grid[(bx, by)] = fdct_quantize(samples, qts[c])
        blocks.append(grid)

    def encode_block(w, coefs, c, pred, ss, se):
        dc, ac = tables[min(c, 1)]
        if ss == 0:
            size, bits = magnitude(coefs[0] - pred)
            w.put(*dc[size])
            w.put(bits, size)
        if se == 0:
            return
        run = 0
        for k in range(max(ss, 1), se + 1):
            if coefs[k] == 0:
                run += 1
                continue
            while run > 15:
                w.put(*ac[0xF0])
                run -= 16
            size, bits = magnitude(coefs[k])
            w.put(*ac[(run << 4) | size])
            w.put(bits, size)
            run = 0
        if run:
            w.put(*ac[0x00])  # EOB

    def scan(components, ss, se):
        header = struct.pack(">B", len(components))
        for c in components:
            header += struct.pack(">BB", c + 1, (min(c, 1) << 4) | min(c, 1))
        header += struct.pack(">BBB", ss, se, 0)
        out = b"\xff\xda" + struct.pack(">H", 2 + len(header)) + header
        w, preds, count, marker = BitWriter(), [0] * ncomp, 0, 0

        def restart_point():
            nonlocal w, preds, count, marker, out
            count += 1
            if restart and count % restart == 0:
                out += w.flush() + bytes([0xFF, 0xD0 + marker % 8])
                marker += 1
                w, preds = BitWriter(), [0] * ncomp

        if len(components) > 1 or ss == 0 and len(components) == ncomp:  # interleaved: MCU order
            units = [(mx, my) for my in range(mcuy) for mx in range(mcux)]
            for i, (mx, my) in enumerate(units):
                for c in components:
                    h, v = sampling[c]
                    for by in range(v):
                        for bx in range(h):
                            coefs = blocks[c][(mx * h + bx, my * v + by)]
                            encode_block(w, coefs, c, preds[c], ss, se)
                            preds[c] = coefs[0]
                if i + 1 < len(units):
                    restart_point()
        else:  # one component: its blocks that cover the image, row by row
            c = components[0]
            h, v = sampling[c]
            cw = (width * h + hmax - 1) // hmax
            chh = (height * v + vmax - 1) // vmax
            units = [(bx, by) for by in range((chh + 7) // 8) for bx in range((cw + 7) // 8)]
            for i, key in enumerate(units):
                coefs = blocks[c][key]
                encode_block(w, coefs, c, preds[c], ss, se)
                preds[c] = coefs[0]
                if i + 1 < len(units):
                    restart_point()
        return out + w.flush()

    out = b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H5sBBBHHBB", 16, b"JFIF\0", 1, 1, 0, 1, 1, 0, 0)
    for t, qt in enumerate([QT_LUMA, QT_CHROMA][: min(ncomp, 2)]):
        out += b"\xff\xdb" + struct.pack(">HB", 67, t) + bytes(qt[ZIGZAG[k]] for k in range(64))
    sof = struct.pack(">BHHB", 8, height, width, ncomp)
    for c in range(ncomp):
        sof += struct.pack(">BBB", c + 1, (sampling[c][0] << 4) | sampling[c][1], min(c, 1))
    out += (b"\xff\xc2" if progressive else b"\xff\xc0") + struct.pack(">H", 2 + len(sof)) + sof
    for t, (dc, ac) in enumerate([(DC_LUMA, AC_LUMA), (DC_CHROMA, AC_CHROMA)][: min(ncomp, 2)]):
        for cls, (bits, values) in ((0, dc), (1, ac)):
            body = bytes([(cls << 4) | t]) + bytes(bits) + bytes(values)
            out += b"\xff\xc4" + struct.pack(">H", 2 + len(body)) + body
    if restart:
        out += b"\xff\xdd" + struct.pack(">HH", 4, restart)
    if progressive:
        out += scan(list(range(ncomp)), 0, 0)
        for c in range(ncomp):
            out += scan([c], 1, 5) + scan([c], 6, 63)
    else:
        out += scan(list(range(ncomp)), 0, 63)
    return out + b"\xff\xd9"


def make_image():
    c = Corpus("fuzz_image")
    gray = [bytes((x * 40 + y * 20) % 256 for x in range(5)) for y in range(4)]
    rgb = [bytes(v for x in range(3) for v in ((x * 90) % 256, (y * 120) % 256, 200)) for y in range(2)]
    rgba = [bytes(v for x in range(4) for v in (x * 60, y * 60, 128, 255 - 60 * x)) for y in range(4)]
    c.add("gray-5x4.png", png(5, 4, 0, gray))
    c.add("rgb-3x2.png", png(3, 2, 2, rgb))
    c.add("rgba-4x4.png", png(4, 4, 6, rgba))
    c.add("gray-alpha-2x2.png", png(2, 2, 4, [bytes([10, 255, 20, 128]), bytes([30, 0, 40, 64])]))
    c.add("palette-4x2.png", png(4, 2, 3, [bytes([0, 1, 2, 3]), bytes([3, 2, 1, 0])],
                                   palette=bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]), trns=bytes([255, 128])))
    c.add("gray-1bit-10x2.png", png(10, 2, 0, [bytes([0b10110011, 0b01000000]), bytes([0xFF, 0xC0])], bit_depth=1))
    c.add("rgb-16bit-2x2.png", png(2, 2, 2, [bytes(range(12)), bytes(range(12, 24))], bit_depth=16))
    c.add("rgb-interlaced-9x9.png", png(9, 9, 2, [bytes((x * 28 + y * 3 + k * 50) % 256 for x in range(9) for k in range(3))
                                                for y in range(9)], interlace=True))
    c.add("rgb24-3x2.bmp", bmp(3, 2, 24, [bytes([0, 0, 255, 0, 255, 0, 255, 0, 0]), bytes([9, 9, 9, 99, 99, 99, 199, 199, 199])]))
    c.add("pal8-4x3.bmp", bmp(4, 3, 8, [bytes([0, 1, 1, 0]), bytes([1, 0, 0, 1]), bytes([1, 1, 1, 1])],
                              palette=bytes([0, 0, 0, 0, 255, 255, 255, 0])))
    c.add("bgra32-2x2-topdown.bmp", bmp(2, 2, 32, [bytes([1, 2, 3, 4, 5, 6, 7, 8]), bytes([9, 10, 11, 12, 13, 14, 15, 16])],
                                        top_down=True))

    def wave(k):
        return lambda x, y: (128 + 100 * math.sin(x * 0.7 + k) * math.cos(y * 0.5 - k)) // 1

    c.add("gray-8x8.jpg", jpeg(8, 8, [wave(0)], [(1, 1)]))
    c.add("ycbcr420-16x16.jpg", jpeg(16, 16, [wave(0), wave(1), wave(2)], [(2, 2), (1, 1), (1, 1)]))
    c.add("ycbcr444-11x7-restart.jpg", jpeg(11, 7, [wave(0), wave(1), wave(2)], [(1, 1)] * 3, restart=1))
    c.add("gray-16x16-progressive.jpg", jpeg(16, 16, [wave(3)], [(1, 1)], progressive=True))
    c.add("ycbcr-8x8-progressive.jpg", jpeg(8, 8, [wave(0), wave(1), wave(2)], [(1, 1)] * 3, progressive=True))
    # Formats stb_image also recognises.
    c.add("gray-3x2.pgm", b"P5\n# seed\n3 2\n255\n" + bytes([0, 128, 255, 1, 2, 3]))
    c.add("rgb-2x1.ppm", b"P6 2 1 255\n" + bytes([255, 0, 0, 0, 0, 255]))
    c.add("rgb-2x2.tga", struct.pack("<BBBHHBHHHHBB", 0, 0, 2, 0, 0, 0, 0, 0, 2, 2, 24, 0) + bytes(range(12)))
    c.add("rgb-rle-4x1.tga", struct.pack("<BBBHHBHHHHBB", 0, 0, 10, 0, 0, 0, 0, 0, 4, 1, 24, 0)
          + bytes([0x83, 10, 20, 30]))
    c.add("1x1.gif", bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"))
    c.finish()


# ---- CSV -----------------------------------------------------------------------------------

def make_csv():
    c = Corpus("fuzz_csv")
    c.add("iris-header.csv", "sepal_length,sepal_width,petal_length,petal_width,species\n"
          "5.1,3.5,1.4,0.2,setosa\n7.0,3.2,4.7,1.4,versicolor\n6.3,3.3,6.0,2.5,virginica\n4.9,3.0,1.4,0.2,setosa\n")
    c.add("numbers-no-header.csv", "0.5,1,2,0\n-1e3,2.5,3,1\n4,5,6,2\n")
    c.add("label-column.csv", "label,x0,x1\n1,0.25,0.5\n0,1,2\n1,nan,inf\n")
    c.add("quoted-crlf.csv", 'x,"y, quoted",label\r\n1,"2",a\r\n"3",4,"b"""\r\n\r\n5,6,c\r\n')
    c.add("semicolon-classes.csv", "f;target;g\n1.5;a;2\n2.5;c;3\n3.5;b;4\n")
    c.add("regression.csv", "y,a,b\n0.1,1,2\n-2.5,3,4\n1e-9,5,6\n")
    c.finish()


# ---- YAML run configs and --set overrides ---------------------------------------------------

CONFIGS = {
    "layers-csv.yaml": """\
data:
  dataset: csv
  paths: {train: /nonexistent/train.csv, test: /nonexistent/test.csv}
  label_column: label
  image_shape: [1, 4, 4]
  split: {val: 0.2, stratified: false, seed: 3}
  normalize: {mean: [0.5], std: [0.25]}
  batch_size: 16
  workers: 0
model:
  input_shape: [1, 4, 4]
  layers:
    - Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
    - BatchNorm2d
    - ReLU
    - Residual:
        body: [{Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}}, BatchNorm2d]
        activation: ReLU
    - Flatten
    - Dropout: {p: 0.25}
    - Linear: {out_features: 3}
loss: {name: CrossEntropyLoss, label_smoothing: 0.1}
optimizer: {name: AdamW, lr: 0.001, weight_decay: 0.01, betas: [0.9, 0.99]}
scheduler: {name: OneCycleLR, max_lr: 0.01}
regularization: {l1: 0.0001, params: all}
early_stopping: {monitor: val_accuracy, patience: 2, mode: max}
tta: [hflip, vflip]
epochs: 4
grad_clip_norm: 1.0
threads: 1
name: fuzz-seed
""",
    "cifar-swa.yaml": """\
data:
  dataset: cifar10
  root: /nonexistent/cifar
  subset: {train: 100, test: 50}
  clean: true
  transforms:
    train:
      - RandomCrop: {size: 32, padding: 4}
      - {name: RandomHorizontalFlip, p: 0.5}
      - ColorJitter: {brightness: 0.2}
    eval: []
model: {zoo: resnet20, num_classes: 10, width: 8}
optimizer: {name: SGD, lr: 0.1, momentum: 0.9, nesterov: true}
scheduler: {name: MultiStepLR, milestones: [2, 4], gamma: 0.1, warmup: {epochs: 1, start_factor: 0.25}}
swa: {swa_start: 3, swa_lr: 0.01, anneal_epochs: 1, anneal_strategy: linear}
early_stopping: {enabled: true, restore_best_weights: false}
epochs: 6
seed: 42
""",
    "npy-regression-ema.yaml": """\
data:
  dataset: npy
  paths: {train_images: /nonexistent/x.npy, train_labels: /nonexistent/y.npy,
          test_images: /nonexistent/xt.npy, test_labels: /nonexistent/yt.npy}
  split: {val: 0}
  normalize: none
model:
  layers: [Flatten, {Linear: {in_features: 8, out_features: 1}}]
loss: {name: HuberLoss, delta: 2.0}
optimizer: {name: RMSprop, lr: 0.01, alpha: 0.9}
scheduler: {name: ReduceLROnPlateau, factor: 0.5, patience: 1, monitor: val_mae}
ema: {decay: 0.99, warmup: true, every: 2}
epochs: 3
""",
    "shards-mixup.yaml": """\
data:
  dataset: shards
  paths: {train: "/nonexistent/train-{000000..000003}.tar", val: /nonexistent/train-000004.tar, test: /nonexistent/test-000000.tar}
  shuffle_buffer: 100
  eval_batch_size: 100
model: lenet5
mixup: {mixup_alpha: 0.2, cutmix_alpha: 1.0, switch_prob: 0.5, label_smoothing: 0.1}
optimizer: {name: Adam, lr: 0.002, amsgrad: true}
scheduler: {name: CosineAnnealingWarmRestarts, T_0: 2, T_mult: 2}
distributed: {bucket_cap_mb: 4, sync_batchnorm: true}
detect_anomaly: true
epochs: 5
""",
    "image-folder-multilabel.yaml": """\
data:
  dataset: image-folder
  root: /nonexistent/images
  transforms:
    train: [{Resize: {size: 36}}, {RandomResizedCrop: {size: 32}}, RandomVerticalFlip]
    eval: [{Resize: {size: 36}}, {CenterCrop: {size: 32}}]
model: {zoo: mobilenet, num_classes: 5, in_channels: 3}
loss: {name: BCEWithLogitsLoss}
optimizer: {name: Adagrad, lr: 0.05}
scheduler: {name: StepLR, step_size: 2, gamma: 0.5}
epochs: 3
output_dir: /nonexistent/runs/x
""",
    "minimal.yaml": "model: lenet5\n",
    "anchors-and-null.yaml": "data:\n  transforms: {train: &flip [RandomHorizontalFlip], eval: []}\n"
                             "model: lenet5\noptimizer: &sgd {name: SGD, lr: 0.5}\nscheduler: ~\nseed: 0x10\n",
}

OVERRIDES = {
    "numbers": "optimizer.lr=0.1\nepochs=3\nseed=7\n",
    "switch-optimizer": "optimizer.name=Adam\noptimizer.betas=[0.8, 0.9]\n",
    "switch-scheduler": "scheduler.name=StepLR\nscheduler.step_size=2\nscheduler.warmup={epochs: 1}\n",
    "delete": "early_stopping=null\nscheduler=~\ndata.split.val=0\n",
    "lists-and-maps": "data.transforms.train=[RandomHorizontalFlip, {RandomCrop: {size: 28, padding: 4}}]\n"
                      "mixup={mixup_alpha: 0.2}\ntta=[hflip]\n",
    "model": "model.zoo=resnet20\nmodel.width=4\nmodel.blocks=[1, 1, 1]\n",
    "ema": "early_stopping.restore_best_weights=false\nema.decay=0.999\nregularization.l2=0.001\n",
    "swa": "early_stopping=null\nswa={swa_start: 8, swa_lr: 0.01}\n",
    "loss": "loss.name=MSELoss\nloss.reduction=sum\n",
    "data": "data={dataset: csv, paths: {train: /nonexistent/a.csv, test: /nonexistent/b.csv}, label_column: y, image_shape: [1, 2, 2]}\n"
            "data.split.val=0.25\n",
    "quoted": "name='a=b'\noutput_dir=\"/tmp/x y\"\n",
}


def make_yaml():
    c = Corpus("fuzz_run_config")
    for name in sorted(os.listdir(os.path.join(ROOT, "configs"))):
        if name.endswith(".yaml"):
            c.add("configs-" + name, open(os.path.join(ROOT, "configs", name), "rb").read())
    for name, text in CONFIGS.items():
        c.add(name, text)
    c.finish()
    o = Corpus("fuzz_config_override")
    for name, text in OVERRIDES.items():
        o.add(name, text)
    o.finish()


# ---- ONNX ----------------------------------------------------------------------------------

def make_onnx():
    c = Corpus("fuzz_onnx")
    golden = os.path.join(ROOT, "tests", "golden", "data", "onnx")
    for name in sorted(os.listdir(golden)):  # written by torch.onnx.export (tools/golden/gen_onnx.py)
        path = os.path.join(golden, name)
        if name.endswith(".onnx") and os.path.getsize(path) <= 8192:
            c.add(name, open(path, "rb").read())
    c.finish()


# ---- shards and their index ----------------------------------------------------------------

def tar(members, fmt=tarfile.USTAR_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uname = info.gname = ""
            t.addfile(info, io.BytesIO(data))
        end = t.offset
    # The two zero blocks that end an archive, without tarfile's padding to 10 KiB records
    # (as cnnkit's own writer).
    return buf.getvalue()[:end] + bytes(1024)


def make_shards():
    c = Corpus("fuzz_shards")
    pixels = [[bytes([0, 50, 100]), bytes([150, 200, 250])], [bytes([255, 205, 155]), bytes([105, 55, 5])]]
    img = [png(3, 2, 0, rows) for rows in pixels]
    png2 = tar([("00000000.png", img[0]), ("00000000.cls", b"1"), ("00000001.png", img[1]), ("00000001.cls", b"0")])
    c.add("png2.tar", png2)
    c.add("npy-targets.tar", tar([
        ("a/00000000.npy", npy("<f4", [2, 2], f32(1, 2, 3, 4))),
        ("a/00000000.target.npy", npy("<f4", [1], f32(0.5))),
        ("a/00000001.npy", npy("|u1", [1, 2, 2], bytes([1, 2, 3, 4]))),
        ("a/00000001.cls", b" 3\n")]))
    long_key = "k" * 120
    c.add("gnu-longname.tar", tar([(long_key + ".png", img[0]), (long_key + ".cls", b"2")], tarfile.GNU_FORMAT))
    c.add("pax.tar", tar([("x/\u00e9t\u00e9.png", img[1]), ("x/\u00e9t\u00e9.cls", b"4")], tarfile.PAX_FORMAT))
    c.finish()

    values = [v for rows in pixels for row in rows for v in row]
    mean = sum(values) / len(values)
    stats = {"examples": 2, "count": [float(len(values))], "mean": [mean], "m2": [sum((v - mean) ** 2 for v in values)],
             "min": float(min(values)), "max": float(max(values)), "integral": True}
    index = {"format": "cnnkit-shards", "version": 1, "prefix": "train", "source": "fuzz seed", "samples": 2,
             "classes": ["zero", "one"], "shape": [1, 2, 3], "dtype": "uint8", "encoding": "png",
             "shards": [{"path": "train-000000.tar", "bytes": len(png2), "samples": 2, "stats": stats}]}
    i = Corpus("fuzz_shard_index")
    i.add("train.json", json.dumps(index, indent=1) + "\n")
    unindexed = dict(index, shards=[dict(index["shards"][0], bytes=1)])
    i.add("stale-size.json", json.dumps(unindexed) + "\n")
    i.add("no-stats.json", json.dumps(dict(index, shards=[{k: v for k, v in index["shards"][0].items() if k != "stats"}])))
    i.finish()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", help="a CNNKIT_FUZZ build (for the checkpoint seeds), e.g. build-san")
    args = ap.parse_args()
    make_safetensors()
    make_checkpoint(os.path.abspath(args.build) if args.build else None)
    make_npy()
    make_idx()
    make_cifar()
    make_image()
    make_csv()
    make_yaml()
    make_onnx()
    make_shards()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(CORPUS) for f in fs)
    print(f"{CORPUS}: {total} bytes")


if __name__ == "__main__":
    sys.exit(main())
