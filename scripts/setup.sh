#!/usr/bin/env bash
# Installs what the fast build needs (oneDNN's development files, from Debian's packages:
# the library PyTorch's CPU kernels are built on) and downloads the Go modules. Prints the Go
# build tags to use: "dnnl" when oneDNN is available, else "openblas" when OpenBLAS is, else
# nothing (the pure-Go fallback). CNN_BLAS=dnnl|openblas|gonum chooses instead.
set -euo pipefail

# links reports whether a C program including header $1 links against library $2.
links() {
  command -v "${CC:-cc}" >/dev/null 2>&1 || return 1
  printf '#include <%s>\nint main(void) { return 0; }\n' "$1" |
    "${CC:-cc}" -x c - -o /dev/null "-l$2" >/dev/null 2>&1
}
have_dnnl() { links oneapi/dnnl/dnnl.h dnnl; }
have_openblas() { links cblas.h openblas; }

install() {
  command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] || return 1
  echo "setup: installing $1" >&2
  apt-get install -y -q "$1" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$1" >/dev/null 2>&1; }
}

want=${CNN_BLAS:-dnnl}
case $want in
dnnl | openblas | gonum) ;;
*) echo "setup: CNN_BLAS=$want: want dnnl, openblas or gonum" >&2; exit 2 ;;
esac
case $want in
dnnl)
  have_dnnl || install libdnnl-dev || echo "setup: could not install libdnnl-dev" >&2
  if ! have_dnnl; then want=openblas; fi
  ;;
esac
case $want in
openblas)
  have_openblas || install libopenblas-dev || echo "setup: could not install libopenblas-dev" >&2
  if ! have_openblas; then want=gonum; fi
  ;;
esac
go mod download >&2
case $want in
dnnl | openblas) echo "$want" ;;
gonum) echo "setup: using the pure-Go BLAS (CNN_BLAS=gonum)" >&2 ;;
*) echo "setup: neither oneDNN nor OpenBLAS found; using the pure-Go BLAS" >&2 ;;
esac
