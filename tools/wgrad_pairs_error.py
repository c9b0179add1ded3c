#!/usr/bin/python3
"""Rounding model of the weight gradient by pairs of output columns (src/kernels/wgrad3x3_impl.h,
Winograd's F(3, 2) along the rows) against the direct sums it replaces, in NumPy float32.

For golden-sized 3x3 stride-1 cases it prints each weight gradient's worst error against the
float64 sum, and against PyTorch's (oneDNN's) float32 result in units of the conv2d goldens'
tolerance (|a - torch| / (1e-5 + 1e-5 |torch|)), for:
  - PyTorch itself (torch.nn.grad.conv2d_weight);
  - the direct sums as wgrad3x3's direct kernel takes them: float over 1024 outputs, then double;
  - the pairs as the new kernel takes them: x~ and d~ rounded to float, products summed in float
    over 256 pairs, then double, then dW = Gt M in double.
Inputs: post-ReLU activations (`relu`, as in a CNN) or signed ones (`signed`).
Run: /usr/bin/python3 tools/wgrad_pairs_error.py relu   (needs python3-numpy, python3-torch)
"""
import sys

import numpy as np
import torch


def chunked(terms, chunk):
    """terms (P, K, C) float32 -> sum in float32 over `chunk` rows at a time, then float64."""
    total = np.zeros(terms.shape[1:], np.float64)
    for i in range(0, terms.shape[0], chunk):
        acc = np.zeros(terms.shape[1:], np.float32)
        for t in terms[i:i + chunk]:
            acc = (acc + t).astype(np.float32)
        total += acc
    return total


def case(N, C, K, H, W, seed, relu):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    x = (np.maximum(x, 0) if relu else x).astype(np.float32)
    dy = (rng.standard_normal((N, K, H, W)) * 0.1).astype(np.float32)  # padding 1: H_out = H
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    exact = np.zeros((K, C, 3, 3))
    for r in range(3):
        for s in range(3):
            exact[:, :, r, s] = np.einsum('nkhw,nchw->kc', dy.astype(np.float64),
                                          xp[:, :, r:r + H, s:s + W].astype(np.float64))
    torch_w = torch.nn.grad.conv2d_weight(torch.from_numpy(x), (K, C, 3, 3), torch.from_numpy(dy),
                                          padding=1).numpy().astype(np.float64)
    direct = np.zeros((K, C, 3, 3))
    for r in range(3):
        for s in range(3):
            terms = (dy[:, :, None] * xp[:, None, :, r:r + H, s:s + W]).astype(np.float32)
            direct[:, :, r, s] = chunked(terms.transpose(0, 3, 4, 1, 2).reshape(-1, K, C), 1024)
    pairs = np.zeros((K, C, 3, 3))
    for r in range(3):
        row = xp[:, :, r:r + H, :]
        x0, x1, x2, x3 = [row[:, :, :, j:j + W:2] for j in range(4)]
        xt = [x0 - x2, x1 + x2, x2 - x1, x3 - x1]
        d0, d1 = dy[:, :, :, 0::2], dy[:, :, :, 1::2]
        dt = [d0, d0 + d1, d0 - d1, d1]
        m = []
        for e in range(4):
            terms = (dt[e].astype(np.float32)[:, :, None] * xt[e].astype(np.float32)[:, None]).astype(np.float32)
            m.append(chunked(terms.transpose(0, 3, 4, 1, 2).reshape(-1, K, C), 256))
        half = 0.5 * (m[1] + m[2])
        pairs[:, :, r, 0] = m[0] + half
        pairs[:, :, r, 1] = 0.5 * (m[1] - m[2])
        pairs[:, :, r, 2] = half + m[3]

    def errors(a):
        return np.max(np.abs(a - exact)), np.max(np.abs(a - torch_w) / (1e-5 + 1e-5 * np.abs(torch_w)))
    return errors(torch_w), errors(direct), errors(pairs)


def main():
    relu = len(sys.argv) > 1 and sys.argv[1] == 'relu'
    print(f"inputs: {'post-ReLU' if relu else 'signed'}; error against float64 (goldens' tolerance units)")
    for (N, C, K, H, W) in [(2, 16, 16, 12, 12), (2, 8, 16, 10, 10), (4, 24, 16, 8, 8), (2, 16, 32, 16, 16)]:
        t, d, p = case(N, C, K, H, W, 1, relu)
        print(f"N {N} C {C} K {K} {H}x{W}: torch {t[0]:.2e}; direct {d[0]:.2e} ({d[1]:.2f}); "
              f"pairs {p[0]:.2e} ({p[1]:.2f})")


if __name__ == '__main__':
    main()
