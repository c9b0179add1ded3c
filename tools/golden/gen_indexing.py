"""Golden data for tensor indexing, x[...] and x[...] = v, which C++ spells
x.index({...}) and x.index_put_({...}, v). Each case's options hold the subscript as a list
of items: {"int": k}, {"slice": [start, stop, step]} (null = omitted), {"none": 1},
{"ellipsis": 1}, {"bool": b}, {"tensor": "idxK"} (an int64 index stored under
<case>/idxK) or {"mask": "idxK"} (a bool mask stored as 0/1 int64). Recorded: input, out,
grad_out, grad_input (of out.backward(grad_out)), and where the subscript names each
element at most once, value and put (a copy of input after input[...] = value).
Hand-picked cases cover every kind of item and the placement rules of advanced indices;
random cases mix them on random shapes. Writes tests/golden/data/indexing.safetensors.
"""
import random

import torch

from golden_common import Golden, seed_for

g = Golden("indexing", "tools/golden/gen_indexing.py")


def subscript(items, tensors):
    out = []
    for it in items:
        if "int" in it:
            out.append(it["int"])
        elif "slice" in it:
            out.append(slice(*it["slice"]))
        elif "none" in it:
            out.append(None)
        elif "ellipsis" in it:
            out.append(Ellipsis)
        elif "bool" in it:
            out.append(bool(it["bool"]))
        elif "tensor" in it:
            out.append(tensors[it["tensor"]])
        else:
            out.append(tensors[it["mask"]].bool())
    return tuple(out)


def case(name, shape, items, tensors=None):
    tensors = tensors or {}
    seed_for(name)
    x = torch.randn(shape, requires_grad=True)
    sub = subscript(items, tensors)
    out = x[sub]
    grad_out = torch.randn_like(out)
    out.backward(grad_out)
    g.put(name, "input", x)
    for k, t in tensors.items():
        g.put(name, k, t.long())
    g.put(name, "out", out)
    g.put(name, "grad_out", grad_out)
    g.put(name, "grad_input", x.grad)
    # index_put_ only where no element is named twice (PyTorch leaves the winner unspecified)
    offsets = torch.arange(x.numel()).view(shape)[sub]
    put = offsets.numel() == offsets.unique().numel()
    if put:
        value = torch.randn(out.shape[-1:] if out.dim() and torch.rand(()) < 0.5 else out.shape)
        y = x.detach().clone()
        y[sub] = value
        g.put(name, "value", value)
        g.put(name, "put", y)
    g.add_case(name, dict(shape=list(shape), items=items, put=put))


L = lambda *v: torch.tensor(v, dtype=torch.long)  # noqa: E731

# basic indices: views
case("int", (3, 4, 5), [{"int": 1}])
case("int_negative", (3, 4, 5), [{"int": -1}, {"int": -4}])
case("slice_all_then_int", (3, 4, 5), [{"slice": [None, None, None]}, {"int": 0}])
case("ellipsis_slice", (3, 4, 5), [{"ellipsis": 1}, {"slice": [None, 2, None]}])
case("none_slice_step_int", (3, 4, 5), [{"none": 1}, {"slice": [1, None, 2]}, {"int": -1}])
case("slice_neg_none_ellipsis_int", (4, 3, 5), [{"slice": [-3, None, None]}, {"none": 1}, {"ellipsis": 1},
                                                {"int": 2}])
case("ellipsis_alone", (2, 3), [{"ellipsis": 1}])
case("ellipsis_middle", (2, 3, 4, 5), [{"int": 1}, {"ellipsis": 1}, {"slice": [1, 3, None]}])
case("step_3", (10, 2), [{"slice": [None, None, 3]}])
case("slice_out_of_range", (5, 2), [{"slice": [10, 20, None]}])
case("slice_clamped", (5, 2), [{"slice": [-100, 100, 2]}])
case("true", (2, 3), [{"bool": 1}])
case("false", (2, 3), [{"bool": 0}])
case("none_none", (2, 3), [{"none": 1}, {"slice": [None, None, None]}, {"none": 1}])
# advanced indices: copies
case("long_repeats_negative", (5, 3), [{"tensor": "idx0"}], dict(idx0=L(2, -1, 0, 2)))
case("long_2d_index", (3, 6), [{"slice": [None, None, None]}, {"tensor": "idx0"}], dict(idx0=L([0, 5, 1], [2, 2, 3])))
case("long_pair_adjacent", (4, 5, 2), [{"tensor": "idx0"}, {"tensor": "idx1"}], dict(idx0=L(0, 3, 1), idx1=L(4, 0, 2)))
case("long_pair_separated", (3, 4, 5), [{"tensor": "idx0"}, {"slice": [None, None, None]}, {"tensor": "idx1"}],
     dict(idx0=L([0], [2], [1]), idx1=L(4, 0, 1, 3)))
case("long_adjacent_inner", (2, 3, 4, 5), [{"slice": [None, None, None]}, {"tensor": "idx0"}, {"tensor": "idx1"}],
     dict(idx0=L(2, 0), idx1=L([1, 3], [0, 0])))
case("long_with_int_after", (3, 4, 5, 2), [{"slice": [None, None, None]}, {"tensor": "idx0"}, {"slice": [1, None, None]},
                                           {"int": 1}], dict(idx0=L(3, 3, 0)))
case("long_0dim", (3, 4), [{"slice": [None, None, None]}, {"tensor": "idx0"}], dict(idx0=torch.tensor(2)))
case("long_empty", (3, 4), [{"tensor": "idx0"}], dict(idx0=torch.zeros(0, dtype=torch.long)))
case("mask_full", (3, 4), [{"mask": "idx0"}], dict(idx0=torch.tensor([[1, 0, 1, 1], [0, 0, 0, 1], [1, 1, 0, 0]])))
case("mask_dim1", (3, 4, 2), [{"slice": [None, None, None]}, {"mask": "idx0"}], dict(idx0=torch.tensor([0, 1, 1, 0])))
case("mask_after_ellipsis", (2, 3, 5), [{"ellipsis": 1}, {"mask": "idx0"}], dict(idx0=torch.tensor([1, 0, 0, 1, 1])))
case("mask_none_true", (4, 3), [{"none": 1}, {"mask": "idx0"}], dict(idx0=torch.tensor([1, 1, 0, 1])))
case("mask_all_false", (3, 2), [{"mask": "idx0"}], dict(idx0=torch.zeros(3, 2, dtype=torch.long)))
case("mask_and_long", (3, 4, 5), [{"mask": "idx0"}, {"tensor": "idx1"}],
     dict(idx0=torch.tensor([1, 0, 1]), idx1=L(3, -2)))

# random mixes
rng = random.Random(20261129)
made = 0
attempt = 0
while made < 40:
    attempt += 1
    rank = rng.randint(1, 4)
    shape = [rng.randint(1, 5) for _ in range(rank)]
    items, tensors, dim, used_ellipsis = [], {}, 0, False
    while dim < rank:
        kind = rng.choice(["int", "slice", "slice", "none", "long", "mask", "ellipsis", "skip"])
        size = shape[dim]
        if kind == "int":
            items.append({"int": rng.randint(-size, size - 1)})
            dim += 1
        elif kind == "slice":
            pick = lambda: rng.choice([None, rng.randint(-size - 1, size + 1)])  # noqa: E731
            items.append({"slice": [pick(), pick(), rng.choice([None, 1, 2, 3])]})
            dim += 1
        elif kind == "none":
            items.append({"none": 1})
        elif kind == "long":
            key = f"idx{len(tensors)}"
            n = rng.randint(1, 4)
            tensors[key] = torch.tensor([rng.randint(-size, size - 1) for _ in range(n)])
            items.append({"tensor": key})
            dim += 1
        elif kind == "mask":
            key = f"idx{len(tensors)}"
            span = rng.randint(1, rank - dim)
            tensors[key] = (torch.rand(shape[dim:dim + span], generator=torch.Generator().manual_seed(attempt)) < 0.6).long()
            items.append({"mask": key})
            dim += span
        elif kind == "ellipsis" and not used_ellipsis:
            items.append({"ellipsis": 1})
            used_ellipsis = True
            dim = rank - rng.randint(0, rank - dim)
        else:
            break
    name = f"random_{made:02d}"
    try:
        torch.randn(shape)[subscript(items, tensors)]
    except (IndexError, RuntimeError):
        continue  # e.g. index tensors that do not broadcast together
    case(name, tuple(shape), items, tensors)
    made += 1

g.write()
