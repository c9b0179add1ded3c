#!/usr/bin/env python3
"""The scaling model of docs/scaling.md: modelled data-parallel efficiency at 2-64 nodes from
the step costs bench/bench_ddp measured (compute per step, backward window, gradient bytes,
buckets) and a ring all-reduce over a network of latency alpha and bandwidth 1/beta.

  tools/scaling_model.py            prints the tables of docs/scaling.md
  tools/scaling_model.py --speedup 16   node compute 16x this machine's core (a 16-core node)

Ring all-reduce of b bytes over N nodes, per bucket: 2(N-1) alpha + 2(N-1)/N beta b (each
node sends and receives 2(N-1)/N of the bytes in 2(N-1) steps). A step of a data-parallel run
takes compute + exposed, where exposed is the all-reduce time that backward did not hide:
  no overlap:   exposed = T_ar
  overlap:      exposed = max(T_last, T_ar - window), window = first gradient ready -> end of
                backward; T_last = the all-reduce of the last bucket (the first layers'
                gradients), which can only start when backward ends
Efficiency = compute / (compute + exposed): the throughput of N nodes over N times one's
(weak scaling: the per-node batch stays, the global batch grows with N).
Python 3 standard library only.
"""
import argparse

# Measured with bench/bench_ddp (docs/scaling.md gives the command and the machine):
# (name, per-rank batch, gradient bytes, buckets at 25 MiB (first 1 MiB), last bucket's bytes,
#  compute s, window s)
MODELS = [
    ("LeNet-5", 64, 0.25e6, 1, 0.25e6, 8.75e-3, 5.69e-3),
    ("ResNet-20", 64, 1.09e6, 2, 0.05e6, 432.66e-3, 255.68e-3),
    ("ResNet-18", 8, 46.76e6, 3, 25.29e6, 2006.67e-3, 1345.09e-3),
]

# (name, alpha: per-message latency in s, beta: s per byte)
NETWORKS = [
    ("10 Gb/s Ethernet (TCP)", 30e-6, 8 / 10e9),
    ("25 Gb/s Ethernet (RoCE)", 5e-6, 8 / 25e9),
    ("100 Gb/s InfiniBand EDR", 1.5e-6, 8 / 100e9),
]

NODES = [2, 4, 8, 16, 32, 64]


def allreduce_seconds(n, alpha, beta, nbytes, buckets):
    if n == 1:
        return 0.0
    return buckets * 2 * (n - 1) * alpha + 2 * (n - 1) / n * beta * nbytes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speedup", type=float, default=1.0,
                    help="node compute this many times one core of the measuring machine (default 1)")
    args = ap.parse_args()
    for name, batch, nbytes, buckets, last, compute, window in MODELS:
        compute /= args.speedup
        window /= args.speedup
        print(f"\n{name}: batch {batch} a node, {nbytes / 1e6:.2f} MB of gradients in {buckets} bucket(s), "
              f"compute {compute * 1e3:.1f} ms a step (backward window {window * 1e3:.1f} ms)")
        print("| network | overlap | " + " | ".join(f"{n} nodes" for n in NODES) + " |")
        print("|---|---|" + "---|" * len(NODES))
        for net, alpha, beta in NETWORKS:
            for overlap in (False, True):
                cells = []
                for n in NODES:
                    t_ar = allreduce_seconds(n, alpha, beta, nbytes, buckets)
                    t_last = allreduce_seconds(n, alpha, beta, last, 1)
                    exposed = max(t_last, t_ar - window) if overlap else t_ar
                    cells.append(f"{100 * compute / (compute + exposed):.0f}%")
                print(f"| {net} | {'yes' if overlap else 'no'} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
