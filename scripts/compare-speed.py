#!/usr/bin/env python3
"""Times cnn against PyTorch and ONNX Runtime on the same rows, in alternating rounds, and
prints each row's ratios (ours / theirs) as a range and a median.

Usage: scripts/compare-speed.py [--rounds 3] [--avx2] [--tv] [--cnn bin/cnn]
  --avx2  caps every library at AVX2 on an AVX-512 machine: CNN_MAX_CPU_ISA=avx2 and
          ONEDNN_MAX_CPU_ISA=AVX2 (ours and PyTorch's oneDNN), OPENBLAS_CORETYPE=Haswell
          (PyTorch's OpenBLAS), and ONNX Runtime through a copy of its package whose
          MLAS skips its AVX-512 set-up (scripts/ort-avx2.py), since MLAS has no cap.
  --tv    adds torchvision's ResNet18 at 3x224x224 (inference b1 and b16, training b16).

The anchors come from the reference folder beside the clone (../shared by default,
CNN_SHARED): torchref/bench.py and bench_tv.py under Debian's python3-torch (install
libopenblas0-pthread first), and ONNX Runtime from scripts/install-onnx-ref.sh running
the ONNX files torchref/export_onnx.py writes. Every figure is the median of one run; the
CPU and the instruction sets are printed first."""
import argparse, json, os, re, statistics, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("CNN_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
ORT = os.environ.get("CNN_ORT_DIR", os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "cnn", "ort"))
TORCH_PY = "/usr/bin/python3"


def run(cmd, env=None, cwd=None):
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {out.returncode}: {out.stderr.strip()[-500:]}")
    return out.stdout


def cpu():
    model = flags = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line
    isa = "avx512" if " avx512f" in flags else "avx2" if " avx2" in flags else "no avx2"
    return f"{model}, {os.cpu_count()} CPUs, {isa}"


def ours(cnn, env, tv):
    rows = {}
    for r in json.loads(run([cnn, "bench", "lenet", "resnet18", "--json", "--min-time", "2s"], env)):
        rows[f"{r['name']} train b64"] = r["train_step_ms"]
        rows[f"{r['name']} infer b1"] = r["infer_batch1_ms"]
        rows[f"{r['name']} infer b64"] = r["infer_batch_ms"]
    if tv:
        r = json.loads(run([cnn, "bench", "resnet18-cifar", "--shape", "3x224x224", "--batch", "16", "--json",
                            "--min-time", "2s", "--min-runs", "5"], env))[0]
        rows["tv_resnet18 train b16"] = r["train_step_ms"]
        rows["tv_resnet18 infer b1"] = r["infer_batch1_ms"]
        rows["tv_resnet18 infer b16"] = r["infer_batch_ms"]
    return rows


def torch(env, tv):
    rows = {}
    out = run([TORCH_PY, "bench.py", "2"], env, os.path.join(SHARED, "torchref"))
    for name, what, b, ms in re.findall(r"threads=2 (\w+) (train step|inference) batch=(\d+): ([\d.]+) ms", out):
        rows[f"{name} {'train' if what == 'train step' else 'infer'} b{b}"] = float(ms)
    if tv:
        out = run([TORCH_PY, "bench_tv.py", "resnet18", "16", "2"], env, os.path.join(SHARED, "torchref"))
        for what, b, ms in re.findall(r"3x224x224 (train step|inference) batch=(\d+): ([\d.]+) ms", out):
            rows[f"tv_resnet18 {'train' if what == 'train step' else 'infer'} b{b}"] = float(ms)
    return rows


def ort(files, tv, modules):
    rows = {}
    jobs = [("lenet", "lenet.onnx", "1x32x32", (1, 64)), ("resnet18", "resnet18_chapter.onnx", "1x32x32", (1, 64))]
    if tv:
        jobs.append(("tv_resnet18", "tv_resnet18.onnx", "3x224x224", (1, 16)))
    for name, f, chw, batches in jobs:
        for b in batches:
            out = run(["node", os.path.join(SHARED, "ortref", "bench.js"), os.path.join(files, f), chw, str(b), "2"],
                      dict(os.environ, NODE_PATH=modules))
            rows[f"{name} infer b{b}"] = float(re.search(r": ([\d.]+) ms", out).group(1))
    return rows


def check_ort(files, modules):
    """Refuses an ONNX Runtime (the capped copy) whose logits on the exported models' inputs
    are not PyTorch's, within 1e-4 of their largest."""
    for m in ("lenet", "resnet18_chapter", "tv_resnet18"):
        got = os.path.join(files, m + ".ort.npy")
        run(["node", os.path.join(SHARED, "ortref", "run.js"), os.path.join(files, m + ".onnx"),
             os.path.join(files, m + ".input.npy"), got], dict(os.environ, NODE_PATH=modules))
        diff = run([TORCH_PY, "-c", "import numpy as n, sys; a, b = n.load(sys.argv[1]), n.load(sys.argv[2]); "
                    "print(abs(a - b).max() / max(abs(a).max(), 1e-30))", os.path.join(files, m + ".logits.npy"), got])
        if not float(diff) <= 1e-4:
            sys.exit(f"compare-speed: {modules}: {m}'s logits differ from PyTorch's by {float(diff):.3g} of their largest")


def spread(v):
    return f"{min(v):.2f}-{max(v):.2f}x (median {statistics.median(v):.2f})" if v else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--avx2", action="store_true")
    ap.add_argument("--tv", action="store_true")
    ap.add_argument("--cnn", default=os.path.join(ROOT, "bin", "cnn"))
    a = ap.parse_args()
    env = dict(os.environ)
    if a.avx2:
        env.update(CNN_MAX_CPU_ISA="avx2", ONEDNN_MAX_CPU_ISA="AVX2", OPENBLAS_CORETYPE="Haswell")
    files = tempfile.mkdtemp(prefix="cnn-onnx-")
    run([TORCH_PY, "export_onnx.py", files], cwd=os.path.join(SHARED, "torchref"))
    modules = os.path.join(ORT, "node_modules")
    if a.avx2:
        capped = os.path.join(files, "ort-avx2", "node_modules")
        run([sys.executable, os.path.join(ROOT, "scripts", "ort-avx2.py"), modules, capped])
        modules = capped
        check_ort(files, modules)
    print(f"CPU: {cpu()}; caps: {'AVX2 (ONNX Runtime too)' if a.avx2 else 'none'}; 2 threads", flush=True)
    got = {"ours": [], "torch": [], "ort": []}
    for i in range(a.rounds):
        got["ours"].append(ours(a.cnn, env, a.tv))
        got["torch"].append(torch(env, a.tv))
        got["ort"].append(ort(files, a.tv, modules))
        print(f"round {i + 1}: " + "; ".join(f"{k} {v:.3f}" for k, v in got["ours"][-1].items()), flush=True)
    print(f"{'row':24} {'ours ms':>16} {'PyTorch ms':>16} {'ORT ms':>16}  ours/PyTorch                     ours/ORT")
    for row in got["ours"][0]:
        o = [r[row] for r in got["ours"]]
        t = [r[row] for r in got["torch"] if row in r]
        x = [r[row] for r in got["ort"] if row in r]
        rng = lambda v: f"{min(v):.3f}-{max(v):.3f}" if v else "-"
        vs_t = [a / b for a, b in zip(o, t)] if t else []
        vs_x = [a / b for a, b in zip(o, x)] if x else []
        print(f"{row:24} {rng(o):>16} {rng(t):>16} {rng(x):>16}  {spread(vs_t):32} {spread(vs_x)}")


if __name__ == "__main__":
    main()
