"""Golden cross-validation folds: scikit-learn's KFold and StratifiedKFold (shuffle=False, so
fully determined by the labels and k) on label vectors chosen for the corner cases: n not
divisible by k, uneven classes, classes whose first appearance is not their sorted order
(sklearn numbers classes by first appearance), k equal to the smallest class's count, and
random ones. Each case records <case>/labels (int64, n) and <case>/test_fold (int64, n: the
validation fold of each example, sklearn's test_folds), and its options {"kind": "kfold" |
"stratified", "k": k}. Metadata adds "sklearn_version". Writes
tests/golden/data/folds.safetensors.
"""
import random

import numpy as np
import sklearn
import torch
from sklearn.model_selection import KFold, StratifiedKFold

from golden_common import Golden

g = Golden("folds", "tools/golden/gen_folds.py")


def case(name, kind, labels, k):
    labels = np.asarray(labels, dtype=np.int64)
    splitter = KFold(n_splits=k) if kind == "kfold" else StratifiedKFold(n_splits=k)
    test_fold = np.full(len(labels), -1, dtype=np.int64)
    for f, (_, test) in enumerate(splitter.split(np.zeros((len(labels), 1)), labels)):
        test_fold[test] = f
    assert (test_fold >= 0).all()
    g.put(name, "labels", torch.from_numpy(labels))
    g.put(name, "test_fold", torch.from_numpy(test_fold))
    g.add_case(name, {"kind": kind, "k": k})


rng = random.Random(20240901)

case("kfold_10_5", "kfold", [0] * 10, 5)
case("kfold_11_3", "kfold", [0] * 11, 3)          # n % k = 2: folds of 4, 4, 3
case("kfold_7_7", "kfold", [0] * 7, 7)            # leave-one-out
case("kfold_2_2", "kfold", [0] * 2, 2)
case("kfold_101_10", "kfold", [0] * 101, 10)

# Uneven classes, n not divisible by k.
case("strat_uneven", "stratified", [0] * 13 + [1] * 5 + [2] * 7, 5)
# First appearance 3, 1, 0, 2 (not sorted); interleaved.
case("strat_first_appearance", "stratified", [3, 3, 1, 0, 3, 1, 2, 0, 2, 1, 3, 0, 2, 1, 0, 3, 2, 2, 1, 0, 3], 3)
# The same classes sorted vs. reversed in the data: allocation depends on the order.
case("strat_order_a", "stratified", [5] * 4 + [9] * 7 + [1] * 6, 4)
case("strat_order_b", "stratified", [1] * 6 + [9] * 7 + [5] * 4, 4)
# k equal to the smallest class's count.
case("strat_k_eq_min", "stratified", [2, 0, 1, 0, 1, 0, 1, 2, 0, 1, 0, 2, 0], 3)
case("strat_binary", "stratified", [1, 0] * 9 + [1] * 5, 2)
case("strat_ten_classes", "stratified", [c for c in range(9, -1, -1) for _ in range(5 + c)], 5)
for i in range(4):
    n_classes = rng.randint(2, 6)
    k = rng.randint(2, 6)
    labels = [c for c in range(n_classes) for _ in range(rng.randint(k, 3 * k + 4))]
    rng.shuffle(labels)
    case(f"strat_random{i}", "stratified", labels, k)

g.meta["sklearn_version"] = sklearn.__version__
g.write()
