"""Makes the BatchNorm test files of this folder with PyTorch 1.13 and torchvision 0.14 (CPU):
torchvision models at small sizes exported by torch.onnx.export (opset 13, dynamic batch,
eval mode) with training=TrainingMode.PRESERVE, which keeps every BatchNorm as a
BatchNormalization node (NAME_bn.onnx), and the ResNet also as torchref/export_onnx.py
exports, with the exporter's default TrainingMode.EVAL, which folds each BatchNorm into the
convolution before it (NAME_folded.onnx). Beside each: an input batch (NAME.input.npy), PyTorch's logits for it
(NAME.logits.npy) and torch's own counts of the model's parameters and BatchNorm buffers
(NAME.counts.json: sum of numel over parameters(), and over the running statistics).

Run from this folder with Debian's python3-torch:
    /usr/bin/python3 make_bn.py ../../../shared/torchref"""
import json, os, sys

sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else "../../../shared/torchref")
import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import BasicBlock
from export_onnx import save_npy
from zoo import ResNetW, mnv3_small, randomize_bn

torch.set_num_threads(2)


def models():
    """(name, constructor, input shape [C,H,W], also folded): torchvision's MobileNetV3-small
    at width 0.5 (BatchNorm eps 0.001, momentum 0.01) and its ResNet18 (BasicBlock,
    [2, 2, 2, 2]) at base width 8, both with 10 classes."""
    return [("mobilenet_v3_small_05", lambda: mnv3_small(0.5, 10), (3, 64, 64), False),
            ("resnet18_w8", lambda: ResNetW(BasicBlock, [2, 2, 2, 2], 8, 10), (3, 64, 64), True)]


def main():
    for i, (name, ctor, shape, folded) in enumerate(models()):
        torch.manual_seed(31 + i)
        g = torch.Generator().manual_seed(131 + i)
        m = ctor()
        momenta = {n: b.momentum for n, b in m.named_modules() if isinstance(b, nn.BatchNorm2d)}
        randomize_bn(m, g, shape)  # running statistics away from 0 and 1, biases non-zero
        for n, b in m.named_modules():
            if n in momenta:
                b.momentum = momenta[n]  # torchvision's, which the file records
        m.eval()
        x = torch.randn(2, *shape, generator=g)
        kinds = [("bn", torch.onnx.TrainingMode.PRESERVE)] + [("folded", torch.onnx.TrainingMode.EVAL)] * folded
        for kind, mode in kinds:
            torch.onnx.export(m, x, f"{name}_{kind}.onnx", input_names=["x"], output_names=["logits"],
                              dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=13, training=mode,
                              do_constant_folding=mode == torch.onnx.TrainingMode.EVAL)
        save_npy(name + ".input.npy", x)
        with torch.no_grad():
            save_npy(name + ".logits.npy", m(x))
        counts = {"parameters": sum(p.numel() for p in m.parameters()),
                  "buffers": sum(b.numel() for n, b in m.named_buffers() if "num_batches" not in n),
                  "made_with": f"torch {torch.__version__}, torchvision {torchvision.__version__}"}
        with open(name + ".counts.json", "w") as f:
            json.dump(counts, f, indent=1)
            f.write("\n")
        print(name, counts, {k: os.path.getsize(f"{name}_{k}.onnx") for k, _ in kinds})


if __name__ == "__main__":
    main()
