#!/usr/bin/env python3
"""Makes a copy of ONNX Runtime's Node.js package whose CPU library runs its AVX2 kernels.

Usage: scripts/ort-avx2.py SRC_NODE_MODULES DST_NODE_MODULES

ONNX Runtime reads the CPU's features itself (MLAS's platform set-up: cpuid and xgetbv) and
has no setting to cap them, so on an AVX-512 machine it always runs its AVX-512 kernels. To
time it as it runs on an AVX2 CPU, this copies the package and, in the copy's x86-64
libonnxruntime.so.1 only, turns the one branch into MLAS's AVX-512 set-up into a no-op:

    test $0x10000,%r10d   ; cpuid(7).ebx AVX512F
    je   .no_avx512
    mov  %r8,%rax
    not  %rax
    test $0xe0,%al        ; xcr0: the OS saves the AVX-512 state
    je   .avx512          ; <- replaced by a 6-byte nop

MLAS then keeps the FMA3/AVX2 kernels it chose before that branch (NCHWc blocks of 8, as on
an AVX2 CPU). The instruction bytes must occur exactly once, or the script refuses: it is
made for the version testdata/onnx/ortref/package.json pins. The source is never written,
and DST must be new or a copy the script made before (it is replaced).
"""
import os, shutil, sys

LIB = os.path.join("onnxruntime-node", "bin", "napi-v6", "linux", "x64", "libonnxruntime.so.1")
PATTERN = bytes.fromhex("41f7c200000100" "740e" "4c89c0" "48f7d0" "a8e0" "0f84")
NOP6 = bytes.fromhex("660f1f440000")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    src, dst = (os.path.abspath(p) for p in sys.argv[1:])
    lib = os.path.join(src, LIB)
    if not os.path.isfile(lib):
        sys.exit(f"ort-avx2: {lib}: no such file; scripts/install-onnx-ref.sh installs ONNX Runtime")
    if os.path.realpath(dst) == os.path.realpath(src):
        sys.exit(f"ort-avx2: {dst}: the copy would replace the package itself")
    data = bytearray(open(lib, "rb").read())
    at = data.find(PATTERN)
    if at < 0 or data.find(PATTERN, at + 1) >= 0:
        sys.exit(f"ort-avx2: {lib}: MLAS's AVX-512 branch not found exactly once; "
                 "this ONNX Runtime is not the pinned version")
    jump = at + len(PATTERN) - 2
    data[jump:jump + 6] = NOP6
    mark = os.path.join(dst, ".ort-avx2")
    if os.path.exists(dst):
        if not os.path.isfile(mark):
            sys.exit(f"ort-avx2: {dst}: exists and is no copy this script made; name a new folder")
        shutil.rmtree(dst)
    os.makedirs(dst)
    open(mark, "w").close()
    for name in os.listdir(src):
        if name != "onnxruntime-node":
            os.symlink(os.path.join(src, name), os.path.join(dst, name))
    # A real copy: Node resolves a package's real path, and the binding finds the library
    # next to itself.
    shutil.copytree(os.path.join(src, "onnxruntime-node"), os.path.join(dst, "onnxruntime-node"),
                    ignore=shutil.ignore_patterns("arm64"))
    out = os.path.join(dst, LIB)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out)
    print(f"ort-avx2: {out}: AVX-512 set-up skipped at file offset {jump:#x}", file=sys.stderr)


if __name__ == "__main__":
    main()
