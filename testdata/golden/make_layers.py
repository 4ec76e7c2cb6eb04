"""Writes layer_cases.safetensors: PyTorch's forward outputs and input gradients for the
element-wise activations, Concat, Mul, BatchNorm1D, Linear without bias and Dropout(p=0).

Run from this directory with PyTorch 1.13 (Debian's python3-torch):

    /usr/bin/python3 make_layers.py

For case NAME the file holds NAME.<input> for every input, NAME.upstream (the gradient
flowing into the output), NAME.out, NAME.grad.<input> for every differentiated input, and
for BatchNorm1D NAME.after.running_mean and NAME.after.running_var (the buffers after the
forward pass). __metadata__["cases"] is a JSON list of {name, op, inputs, attrs}.
"""
import json
import struct

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(13)


def save(path, tensors, metadata):
    """The safetensors format: an 8-byte little-endian header length, a JSON header of name ->
    {dtype, shape, data_offsets} (and __metadata__), then the raw little-endian data."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype=np.float32)
        b = a.astype("<f4", copy=False).tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


tensors, cases = {}, []


def record(name, op, inputs, fn, attrs=None, diff=None):
    """Runs fn on the named inputs (a dict of arrays), backpropagates a random upstream
    gradient and records everything under name."""
    ts = {k: torch.tensor(v, dtype=torch.float32, requires_grad=(diff is None or k in diff)) for k, v in inputs.items()}
    out = fn(**ts)
    up = torch.randn(out.shape)
    out.backward(up)
    for k, t in ts.items():
        tensors[f"{name}.{k}"] = inputs[k]
        if t.requires_grad:
            tensors[f"{name}.grad.{k}"] = t.grad.numpy().copy()
    tensors[f"{name}.out"] = out.detach().numpy().copy()
    tensors[f"{name}.upstream"] = up.numpy()
    cases.append({"name": name, "op": op, "inputs": list(inputs), "attrs": attrs or {}})
    return ts


# Activations: the kinks (0, 6, -3, 3), points beside them, large magnitudes and random values.
special = [-1000, -100, -20, -6.5, -6, -3.5, -3.0001, -3, -2.9999, -1, -0.5, -1e-3, -1e-7, 0,
           1e-7, 1e-3, 0.5, 1, 2.9999, 3, 3.0001, 3.5, 5.9999, 6, 6.0001, 6.5, 20, 100, 1000]
x = np.concatenate([np.array(special), 5 * np.random.default_rng(13).standard_normal(2 * 3 * 4 * 4 - len(special))])
x = x.astype(np.float32).reshape(2, 3, 4, 4)
activations = [
    ("relu6", "ReLU6", {}, F.relu6),
    ("leaky_relu_default", "LeakyReLU", {"slope": 0.01}, F.leaky_relu),
    ("leaky_relu_0.2", "LeakyReLU", {"slope": 0.2}, lambda t: F.leaky_relu(t, 0.2)),
    ("sigmoid", "Sigmoid", {}, torch.sigmoid),
    ("tanh", "Tanh", {}, torch.tanh),
    ("silu", "SiLU", {}, F.silu),
    ("gelu", "GELU", {}, F.gelu),
    ("hardswish", "Hardswish", {}, F.hardswish),
    ("hardsigmoid", "Hardsigmoid", {}, F.hardsigmoid),
]
for name, typ, attrs, fn in activations:
    record(name, typ, {"x": x}, lambda x, fn=fn: fn(x), attrs)

rnd = lambda *shape: torch.randn(*shape).numpy()

# Concat along the channels: three 4-D inputs, and two 2-D ones.
record("concat4d", "Concat", {"a": rnd(2, 3, 4, 5), "b": rnd(2, 1, 4, 5), "c": rnd(2, 5, 4, 5)},
       lambda a, b, c: torch.cat([a, b, c], 1))
record("concat2d", "Concat", {"a": rnd(3, 4), "b": rnd(3, 2)}, lambda a, b: torch.cat([a, b], 1))

# Mul: broadcast [N,C,1,1] over [N,C,H,W] on either side, and the same shape.
record("mul_bcast_b", "Mul", {"a": rnd(2, 3, 4, 5), "b": rnd(2, 3, 1, 1)}, lambda a, b: a * b)
record("mul_bcast_a", "Mul", {"a": rnd(2, 3, 1, 1), "b": rnd(2, 3, 4, 5)}, lambda a, b: a * b)
record("mul_same", "Mul", {"a": rnd(2, 3, 4, 5), "b": rnd(2, 3, 4, 5)}, lambda a, b: a * b)

# BatchNorm1d over [N,C] in both modes, from random running statistics; momentum 0.1.
for training in (True, False):
    name = "batchnorm1d_" + ("train" if training else "eval")
    inputs = {"x": (2 + 3 * torch.randn(8, 5)).numpy(), "weight": (1 + 0.2 * torch.randn(5)).numpy(),
              "bias": (0.2 * torch.randn(5)).numpy(), "running_mean": torch.randn(5).numpy(),
              "running_var": (0.5 + torch.rand(5)).numpy()}
    bufs = {}

    def bn(x, weight, bias, running_mean, running_var, training=training):
        rm, rv = running_mean.detach().clone(), running_var.detach().clone()
        y = F.batch_norm(x, rm, rv, weight, bias, training=training, momentum=0.1, eps=1e-5)
        bufs["rm"], bufs["rv"] = rm, rv
        return y

    record(name, "BatchNorm1D", inputs, bn, {"training": training}, diff={"x", "weight", "bias"})
    tensors[name + ".after.running_mean"] = bufs["rm"].numpy()
    tensors[name + ".after.running_var"] = bufs["rv"].numpy()

# Linear without a bias.
record("linear_nobias", "LinearNoBias", {"x": rnd(4, 6), "weight": rnd(3, 6)}, lambda x, weight: F.linear(x, weight))

# Dropout with p = 0 in training mode: the identity, forward and backward.
record("dropout_p0", "Dropout", {"x": rnd(2, 3, 4, 5)}, lambda x: F.dropout(x, 0.0, training=True), {"p": 0.0})

save("layer_cases.safetensors", tensors, {"cases": json.dumps(cases), "torch": torch.__version__})
print(f"layer_cases.safetensors: {len(cases)} cases, {len(tensors)} tensors (torch {torch.__version__})")
