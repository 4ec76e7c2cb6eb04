"""Writes conv_pool_cases2.safetensors: PyTorch's numbers for the convolution and pooling
geometries beyond the square ones of conv_pool_cases.safetensors (dilation, groups,
depthwise, rectangular kernels, strides and paddings, ceil mode, exclusive averages,
adaptive averages), forward and backward.

    python3 make_cases2.py        # PyTorch 1.13, CPU, float32; writes beside this file

__metadata__["cases"] is a JSON list of {name, op, kernel, stride, padding, dilation (pairs,
height first), groups, bias, ceil, exclusive, output (adaptive: the output size)}. For case
NAME: NAME.x, NAME.weight and NAME.bias (convolutions), NAME.out, NAME.upstream (the gradient
flowing into the output), NAME.grad.x, NAME.grad.weight, NAME.grad.bias.
"""
import json
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F


def save(path, tensors, metadata):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        b = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [off, off + len(b)]}
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


def pair(v):
    return list(v) if isinstance(v, (list, tuple)) else [v, v]


def conv(name, x, out, k, s=1, p=0, d=1, groups=1, bias=True):
    return dict(name=name, op="conv2d", x=x, out_channels=out, kernel=pair(k), stride=pair(s), padding=pair(p),
                dilation=pair(d), groups=groups, bias=bias)


def pool(name, op, x, k, s=None, p=0, ceil=False, exclusive=False):
    return dict(name=name, op=op, x=x, kernel=pair(k), stride=pair(k if s is None else s), padding=pair(p), ceil=ceil,
                exclusive=exclusive)


def adaptive(name, x, out):
    return dict(name=name, op="adaptiveavgpool2d", x=x, output=pair(out))


CASES = [
    conv("conv_dil2", [2, 3, 9, 9], 4, 3, p=2, d=2),
    conv("conv_dil_rect", [2, 3, 10, 12], 5, 3, s=(1, 2), p=(1, 3), d=(2, 3), bias=False),
    conv("conv_groups2", [2, 4, 7, 7], 6, 3, p=1, groups=2),
    conv("conv_depthwise", [2, 6, 8, 8], 6, 3, s=2, p=1, groups=6, bias=False),
    conv("conv_depthwise_x2", [2, 3, 6, 6], 6, 3, p=1, groups=3),
    conv("conv_depthwise_big", [2, 8, 20, 20], 8, 3, p=1, groups=8),
    conv("conv_1x3", [2, 3, 9, 11], 4, (1, 3), p=(0, 1)),
    conv("conv_3x5_s2x1", [1, 2, 8, 7], 3, (3, 5), s=(2, 1), p=(1, 2)),
    conv("conv_all", [2, 6, 11, 9], 9, (2, 3), s=(2, 1), p=(1, 1), d=(2, 1), groups=3),
    conv("conv_all_big", [2, 4, 20, 18], 8, 3, s=(2, 3), p=(1, 2), d=(2, 1), groups=2, bias=False),
    pool("max_ceil7", "maxpool2d", [2, 3, 7, 7], 2, ceil=True),
    pool("max_ceil_pad", "maxpool2d", [2, 3, 10, 10], 3, s=2, p=1, ceil=True),
    pool("max_ceil_drop", "maxpool2d", [1, 2, 5, 5], 2, s=2, p=1, ceil=True),
    pool("max_3x2", "maxpool2d", [2, 2, 9, 8], (3, 2), s=(2, 1)),
    pool("max_2x3_ceil", "maxpool2d", [1, 3, 6, 9], (2, 3), s=2, p=1, ceil=True),
    pool("avg_ceil_pad", "avgpool2d", [2, 3, 10, 10], 3, s=2, p=1, ceil=True),
    pool("avg_ceil_pad_excl", "avgpool2d", [2, 3, 10, 10], 3, s=2, p=1, ceil=True, exclusive=True),
    pool("avg_ceil7", "avgpool2d", [2, 3, 7, 7], 2, ceil=True),
    pool("avg_ceil_drop", "avgpool2d", [1, 2, 5, 5], 2, s=2, p=1, ceil=True),
    pool("avg_3x2_excl", "avgpool2d", [2, 2, 9, 8], (3, 2), s=(2, 1), p=(1, 1), exclusive=True),
    pool("avg_3x2", "avgpool2d", [2, 2, 9, 8], (3, 2), s=(2, 1), p=(1, 1)),
    pool("avg_excl_pad", "avgpool2d", [2, 2, 7, 6], 3, s=2, p=1, exclusive=True),
    adaptive("adaptive_7to3", [2, 3, 7, 7], 3),
    adaptive("adaptive_10x9to4x5", [2, 2, 10, 9], (4, 5)),
    adaptive("adaptive_5to7", [1, 2, 5, 5], 7),
    adaptive("adaptive_8to1", [2, 3, 8, 8], 1),
    adaptive("adaptive_6to3", [2, 2, 6, 6], 3),
    adaptive("adaptive_13to4x1", [1, 2, 13, 6], (4, 1)),
]


def run(c, tensors):
    x = torch.randn(*c["x"], dtype=torch.float32, requires_grad=True)
    inputs = {"x": x}
    if c["op"] == "conv2d":
        cin = c["x"][1] // c["groups"]
        w = torch.randn(c["out_channels"], cin, *c["kernel"], dtype=torch.float32, requires_grad=True)
        inputs["weight"] = w
        b = None
        if c["bias"]:
            b = torch.randn(c["out_channels"], dtype=torch.float32, requires_grad=True)
            inputs["bias"] = b
        y = F.conv2d(x, w, b, stride=c["stride"], padding=c["padding"], dilation=c["dilation"], groups=c["groups"])
    elif c["op"] == "maxpool2d":
        y = F.max_pool2d(x, c["kernel"], c["stride"], c["padding"], ceil_mode=c["ceil"])
    elif c["op"] == "avgpool2d":
        y = F.avg_pool2d(x, c["kernel"], c["stride"], c["padding"], ceil_mode=c["ceil"],
                         count_include_pad=not c["exclusive"])
    else:
        y = F.adaptive_avg_pool2d(x, c["output"])
    up = torch.randn(*y.shape, dtype=torch.float32)
    y.backward(up)
    n = c["name"]
    tensors[n + ".out"] = y.detach().numpy()
    tensors[n + ".upstream"] = up.numpy()
    for k, v in inputs.items():
        if k != "x":
            tensors[n + "." + k] = v.detach().numpy()
        tensors[n + ".grad." + k] = v.grad.numpy()
    tensors[n + ".x"] = x.detach().numpy()


def main():
    torch.manual_seed(13)
    tensors, meta = {}, []
    for c in CASES:
        run(c, tensors)
        meta.append({k: v for k, v in c.items() if k != "x"})
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv_pool_cases2.safetensors")
    save(path, tensors, {"cases": json.dumps(meta), "torch": torch.__version__})
    print("wrote", path, len(CASES), "cases")


if __name__ == "__main__":
    main()
