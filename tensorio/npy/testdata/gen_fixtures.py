"""Writes the .npy fixtures of this directory with NumPy (python3-numpy).

Run from anywhere: /usr/bin/python3 gen_fixtures.py
"""
import os
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))


def save(name, a, version=None):
    path = os.path.join(here, name)
    if version is None:
        np.save(path, a, allow_pickle=False)
    else:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, a, version=version, allow_pickle=False)
    print(name, a.dtype.str, a.shape, os.path.getsize(path))


f4 = np.array([[1.5, -0.0, 1e-45], [3.4028235e38, np.inf, -np.inf]], dtype=np.float32)
save("f4.npy", f4)
save("nan.npy", np.array([np.nan], dtype=np.float32))
save("f8.npy", np.array([np.pi, -2.5, 1e-300], dtype=np.float64))
save("i8.npy", np.array([[-1, 2**62], [-2**63, 7]], dtype=np.int64))
save("i4.npy", np.array([1, -2, 2**31 - 1, -2**31], dtype=np.int32))
save("u1.npy", np.array([0, 1, 127, 128, 255], dtype=np.uint8))
save("scalar.npy", np.array(0.25, dtype=np.float32))
save("empty.npy", np.zeros((0, 3), dtype=np.float32))
save("rank5.npy", np.arange(12, dtype=np.float64).reshape(1, 2, 1, 3, 2))
save("v2.npy", np.array([[1, 2], [3, 4]], dtype=np.float32), version=(2, 0))
save("v3.npy", np.array([[1, 2], [3, 4]], dtype=np.float32), version=(3, 0))
# Files this package must refuse with a clear error.
save("fortran.npy", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
save("bigendian.npy", np.array([1, 2], dtype=">f4"))
save("bool.npy", np.array([True, False]))
