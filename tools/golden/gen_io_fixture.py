"""A tiny safetensors file holding one tensor of every dtype cnnkit reads (F32, F16, BF16,
F64, I32, I64, U8, BOOL), a 0-dim and an empty tensor, and metadata; the values are
literals that tests/io/safetensors_test.cpp repeats. Writes
tests/golden/data/io_fixture.safetensors.
"""
import os

import torch

from golden_common import DATA_DIR
import safetensors_io

tensors = {
    "f32": torch.tensor([[1.5, -2.0, 3.25], [0.0, -0.0, 1e-3]], dtype=torch.float32),
    # 65504 = largest half, 2**-24 = smallest subnormal half, 2**-14 = smallest normal
    "f16": torch.tensor([1.5, -2.25, 65504.0, 2.0 ** -24, 2.0 ** -14, float("inf"), -0.0],
                        dtype=torch.float16),
    "bf16": torch.tensor([3.140625, -1.0, 1e30, 2.0 ** -130], dtype=torch.bfloat16),
    "f64": torch.tensor([[1.0 / 3.0], [-1e-40], [1e300]], dtype=torch.float64),
    "i32": torch.tensor([-7, 2 ** 31 - 1, -2 ** 31], dtype=torch.int32),
    "i64": torch.tensor([2 ** 40, -1, 0, 2 ** 62], dtype=torch.int64),
    "u8": torch.tensor([[0, 255], [128, 7]], dtype=torch.uint8),
    "bool": torch.tensor([True, False, True], dtype=torch.bool),
    "scalar": torch.tensor(42.5, dtype=torch.float32),
    "empty": torch.zeros(0, 3, dtype=torch.float32),
}
safetensors_io.save(os.path.join(DATA_DIR, "io_fixture.safetensors"), tensors,
                    {"format": "pt", "generator": "tools/golden/gen_io_fixture.py"})
for k, v in tensors.items():
    print(k, v.dtype, v.float().tolist() if v.numel() else [])
