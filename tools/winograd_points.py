#!/usr/bin/env python3
"""Why src/kernels/winograd.cpp's F(4x4, 3x3) uses the points 0, 1, -1, 1/2, -2: the float32
rounding of F(m x m, 3x3) for a few point sets, against a double-precision direct
convolution, in the unit tests/ops/winograd_test.cpp bounds (1e-5 of each output's
sum of |w x| over its window).

  tools/winograd_points.py              the table of docs/performance.md (about a minute)
  tools/winograd_points.py --trials 200 fewer random tiles

Each trial: one tile of C input channels (inputs N(0, 1), or their ReLU; weights of He's
scale), transformed as the kernel does it: the weights in double, then rounded; the input
transform, the products summed over channels and the output transform in float32. The
matrices come from the points by the Cook-Toom construction (At and G from the points, Bt
solved so that the algorithm is exact), and are checked exact in double first.
Needs numpy (python3-numpy, which python3-torch pulls in).
"""
import argparse

import numpy as np


def matrices(points, m, r=3):
    """At (m x n), G (n x r), Bt (n x n) of F(m, r) for the finite points plus infinity."""
    n = m + r - 1
    assert len(points) == n - 1
    At = np.zeros((m, n))
    G = np.zeros((n, r))
    for j, p in enumerate(points):
        At[:, j] = [p**i for i in range(m)]
        f = np.prod([p - q for q in points if q != p])
        G[j] = [p**k / f for k in range(r)]
    At[m - 1, n - 1] = 1
    G[n - 1, r - 1] = 1
    # Bt: sum_j At[i, j] G[j, k] Bt[j, l] = [l == i + k] for every i, k, l.
    rows, rhs = [], []
    for i in range(m):
        for k in range(r):
            for l in range(n):
                coef = np.zeros((n, n))
                coef[:, l] = At[i, :] * G[:, k]
                rows.append(coef.ravel())
                rhs.append(1.0 if l == i + k else 0.0)
    Bt = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0].reshape(n, n)
    assert np.abs(np.array(rows) @ Bt.ravel() - rhs).max() < 1e-9, "the points give no exact algorithm"
    return At, G, Bt


def errors(At, G, Bt, m, C, trials, relu_inputs, rng):
    """Worst and 99th-percentile |winograd - direct| / sum |w x| over trials tiles."""
    a = m + 2
    B32, A32 = Bt.astype(np.float32), At.astype(np.float32)
    worst = []
    for _ in range(trials):
        d = rng.standard_normal((C, a, a)).astype(np.float32)
        if relu_inputs:
            d = np.maximum(d, 0)
        g = (rng.standard_normal((C, 3, 3)) * np.sqrt(2 / (9 * C))).astype(np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(d.astype(np.float64), (3, 3), axis=(1, 2))
        terms = windows * g.astype(np.float64)[:, None, None]
        direct, magnitude = terms.sum(axis=(0, 3, 4)), np.abs(terms).sum(axis=(0, 3, 4))
        U = np.einsum("ij,cjk,lk->cil", G, g.astype(np.float64), G).astype(np.float32)
        V = np.einsum("cik,lk->cil", np.einsum("ij,cjk->cik", B32, d, dtype=np.float32), B32, dtype=np.float32)
        M = np.zeros((a, a), np.float32)
        for c in range(C):
            M = M + V[c] * U[c]
        Y = A32 @ M @ A32.T
        worst.append((np.abs(Y - direct) / magnitude).max())
    return max(worst), np.percentile(worst, 99)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=1000, help="random tiles per row")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    sets = [
        (2, [0, 1, -1]),
        (4, [0, 1, -1, 2, -2]),
        (4, [0, 1, -1, 0.5, -0.5]),
        (4, [0, 1, -1, 0.5, -2]),
    ]
    print(f"float32 error / sum |w x| over {args.trials} random tiles a row (worst, 99th percentile)")
    print(f"{'tile':<14}{'points':<26}{'C':>4}  {'inputs':<8}{'worst':>10}{'p99':>10}")
    for m, points in sets:
        At, G, Bt = matrices(points, m)
        for C in (16, 64):
            for relu_inputs in (False, True):
                worst, p99 = errors(At, G, Bt, m, C, args.trials, relu_inputs, rng)
                name = f"F({m}x{m}, 3x3)"
                pts = ", ".join(f"{p:g}" for p in points)
                print(f"{name:<14}{pts:<26}{C:>4}  {'relu' if relu_inputs else 'normal':<8}{worst:>10.2e}{p99:>10.2e}")


if __name__ == "__main__":
    main()
