"""Golden cross-validation folds: scikit-learn's KFold and StratifiedKFold (shuffle=False, so
fully determined by the labels and k) on label vectors chosen for the corner cases: n not
divisible by k, uneven classes, classes whose first appearance is not their sorted order
(sklearn numbers classes by first appearance), k equal to the smallest class's count, and
random ones.

Kept small (tests/golden/files_test.cpp caps the data folder): all cases share two uint8
tensors, "labels" and "test_fold" (each example's validation fold, sklearn's test_folds),
concatenated in case order; the metadata "cases" is a JSON list of [name, kind, k, n] with
kind "kfold" or "stratified", each case taking the next n entries. Metadata also records
"generator" and "sklearn_version". Writes tests/golden/data/folds.safetensors.
"""
import json
import os
import random
import sys

import numpy as np
import sklearn
import torch
from sklearn.model_selection import KFold, StratifiedKFold

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from golden_common import DATA_DIR  # noqa: E402

cases, all_labels, all_folds = [], [], []


def case(name, kind, labels, k):
    labels = np.asarray(labels, dtype=np.int64)
    assert labels.min() >= 0 and labels.max() < 256
    splitter = KFold(n_splits=k) if kind == "kfold" else StratifiedKFold(n_splits=k)
    test_fold = np.full(len(labels), -1, dtype=np.int64)
    for f, (_, test) in enumerate(splitter.split(np.zeros((len(labels), 1)), labels)):
        test_fold[test] = f
    assert (test_fold >= 0).all()
    cases.append([name, kind, k, len(labels)])
    all_labels.extend(labels.tolist())
    all_folds.extend(test_fold.tolist())


rng = random.Random(20240901)

case("kfold_11_3", "kfold", [0] * 11, 3)          # n % k = 2: folds of 4, 4, 3
case("kfold_10_4", "kfold", [0] * 10, 4)
case("kfold_7_7", "kfold", [0] * 7, 7)            # leave-one-out
case("kfold_2_2", "kfold", [0] * 2, 2)
# Uneven classes, n not divisible by k.
case("strat_uneven", "stratified", [0] * 13 + [1] * 5 + [2] * 7, 5)
# First appearance 3, 1, 0, 2 (not sorted), interleaved: numbering the classes in sorted
# order instead would move two examples to other folds.
case("strat_first_appearance", "stratified", [3, 3, 1, 0, 3, 1, 2, 0, 2, 1, 3, 0, 2, 1, 0, 3, 2, 2, 1, 0, 3], 3)
case("strat_blocks", "stratified", [5] * 4 + [9] * 7 + [1] * 6, 4)
# k equal to the smallest class's count.
case("strat_k_eq_min", "stratified", [2, 0, 1, 0, 1, 0, 1, 2, 0, 1, 0, 2, 0], 3)
case("strat_binary", "stratified", [1, 0] * 9 + [1] * 5, 2)
case("strat_six_classes", "stratified", [c for c in range(5, -1, -1) for _ in range(3 + c)], 3)
for i in range(2):
    n_classes = rng.randint(3, 5)
    k = rng.randint(2, 4)
    labels = [c for c in range(n_classes) for _ in range(rng.randint(k, 2 * k + 4))]
    rng.shuffle(labels)
    case(f"strat_random{i}", "stratified", labels, k)

path = os.path.join(DATA_DIR, "folds.safetensors")
safetensors_io.save(path, {"labels": torch.tensor(all_labels, dtype=torch.uint8),
                           "test_fold": torch.tensor(all_folds, dtype=torch.uint8)},
                    {"generator": "tools/golden/gen_folds.py", "sklearn_version": sklearn.__version__,
                     "cases": json.dumps(cases, separators=(",", ":"))})
print(f"{path}: {len(cases)} cases, {len(all_labels)} examples, {os.path.getsize(path)} bytes")
