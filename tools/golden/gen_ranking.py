"""Golden ranking and calibration metrics from scikit-learn 1.2 (python3-sklearn): per class
roc_auc_score(y == c, scores[:, c]) and average_precision_score(y == c, scores[:, c]) on
random class scores, some rounded to 2 decimals so that many tie, and the expected
calibration error of the top-1 softmax probability in 15 equal-width bins (b/15, (b+1)/15]
(Guo et al. 2017; numpy, as sklearn has no ECE), with each bin's count, mean confidence and
accuracy. Keys: <case>/scores (N, C) float32, <case>/targets (N) int64, <case>/roc_auc (C),
<case>/average_precision (C), <case>/ece (1), <case>/bin_count, bin_confidence,
bin_accuracy (15; NaN for empty bins). Cases temp_*: <case>/logits (N, C), <case>/targets and
in the options the temperature minimising the NLL (scipy's bounded scalar minimiser over
1 / T) and the NLL at T = 1 and at it. Writes tests/golden/data/ranking.safetensors.
"""
import numpy as np
import torch
from scipy.optimize import minimize_scalar
from sklearn.metrics import average_precision_score, roc_auc_score

from golden_common import Golden, seed_for

g = Golden("ranking", "tools/golden/gen_ranking.py")
BINS = 15


def ece(probs, y):
    conf = probs.max(1)
    pred = probs.argmax(1)
    count = np.zeros(BINS, dtype=np.int64)
    mean_conf = np.full(BINS, np.nan)
    acc = np.full(BINS, np.nan)
    total = 0.0
    for b in range(BINS):
        lo, hi = b / BINS, (b + 1) / BINS
        m = (conf > lo) & (conf <= hi)
        if b == 0:
            m |= conf == 0
        count[b] = m.sum()
        if count[b]:
            mean_conf[b] = conf[m].astype(np.float64).mean()
            acc[b] = (pred[m] == y[m]).mean()
            total += count[b] / len(y) * abs(acc[b] - mean_conf[b])
    return total, count, mean_conf, acc


def case(name, n, c, decimals, temperature):
    seed_for(name)
    logits = torch.randn(n, c) * temperature
    y = torch.randint(0, c, (n,))
    logits[torch.arange(n), y] += 1.0  # better than chance
    scores = torch.softmax(logits, 1)
    if decimals is not None:
        scores = torch.round(scores * 10**decimals) / 10**decimals
    s = scores.numpy().astype(np.float32)
    yn = y.numpy()
    auc = [roc_auc_score(yn == k, s[:, k]) for k in range(c)]
    ap = [average_precision_score(yn == k, s[:, k]) for k in range(c)]
    e, count, conf, acc = ece(s.astype(np.float64), yn)
    g.put(name, "scores", torch.from_numpy(s))
    g.put(name, "targets", y)
    g.put(name, "roc_auc", torch.tensor(auc, dtype=torch.float64))
    g.put(name, "average_precision", torch.tensor(ap, dtype=torch.float64))
    g.put(name, "ece", torch.tensor([e], dtype=torch.float64))
    g.put(name, "bin_count", torch.from_numpy(count))
    g.put(name, "bin_confidence", torch.from_numpy(conf))
    g.put(name, "bin_accuracy", torch.from_numpy(acc))
    g.add_case(name, {"n": n, "classes": c, "decimals": decimals, "bins": BINS})


def temperature_case(name, n, c, scale, margin):
    """Temperature scaling (Guo et al. 2017): scipy's bounded minimiser of the mean NLL of
    softmax(b * logits) over b = 1 / T, in float64 from the float32 logits."""
    seed_for(name)
    logits = torch.randn(n, c) * scale
    y = torch.randint(0, c, (n,))
    logits[torch.arange(n), y] += margin
    z = logits.numpy().astype(np.float32).astype(np.float64)
    yn = y.numpy()

    def nll(b):
        s = b * z
        m = s.max(1, keepdims=True)
        lse = (m[:, 0] + np.log(np.exp(s - m).sum(1)))
        return float(np.mean(lse - s[np.arange(n), yn]))

    r = minimize_scalar(nll, bounds=(0.01, 100.0), method="bounded", options={"xatol": 1e-12, "maxiter": 2000})
    t = 1.0 / r.x
    g.put(name, "logits", logits)
    g.put(name, "targets", y)
    g.add_case(name, {"kind": "temperature", "temperature": t, "nll_raw": nll(1.0), "nll_scaled": nll(r.x)})


case("distinct", 300, 5, None, 1.5)
case("ties", 400, 4, 2, 1.0)
case("heavy_ties", 250, 3, 1, 0.7)
case("confident", 300, 10, None, 4.0)
temperature_case("temp_overconfident", 500, 10, 5.0, 3.0)   # T > 1
temperature_case("temp_underconfident", 400, 4, 0.3, 0.8)   # T < 1
temperature_case("temp_two_classes", 300, 2, 2.0, 1.0)
g.write()
