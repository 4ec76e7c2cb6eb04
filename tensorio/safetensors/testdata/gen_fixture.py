"""Writes fixture.safetensors with the reference writer (shared/torchref/safetensors_io.py).

Run from this directory: /usr/bin/python3 gen_fixture.py [path/to/torchref]
"""
import os, sys
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../../shared/torchref"))
from safetensors_io import save, load

tensors = {
    "conv1.weight": np.array([[1.5, -0.0, 1e-45], [3.4028235e38, np.inf, -np.inf]], dtype=np.float32),
    "conv1.nan": np.array([np.nan], dtype=np.float32),
    "f64": np.array([np.pi, -2.5, 1e-300], dtype=np.float64),
    "labels": np.array([-1, 2**62, -2**63, 7], dtype=np.int64),
    "i32": np.array([[1, -2], [2**31 - 1, -2**31]], dtype=np.int32),
    "u8": np.array([0, 1, 127, 128, 255], dtype=np.uint8),
    "scalar": np.array(0.25, dtype=np.float32),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "caf\u00e9": np.array([1, 2, 3], dtype=np.float32).reshape(3, 1, 1),
}
# Sorted keys, so the Go writer (which sorts metadata keys) matches byte for byte.
metadata = {"model": "fixture", "note": "caf\u00e9 \"quoted\"\ttab"}
out = os.path.join(here, "fixture.safetensors")
save(out, tensors, metadata)
back, meta = load(out)
assert meta == metadata and sorted(back) == sorted(tensors)
print(out, os.path.getsize(out))
