#!/usr/bin/env bash
# Installs what the fast build needs (OpenBLAS's development files, from Debian's packages)
# and downloads the Go modules. Prints the Go build tags to use: "openblas" when OpenBLAS is
# available, nothing otherwise (the pure-Go fallback).
set -euo pipefail

have_openblas() {
  [ -e /usr/include/x86_64-linux-gnu/cblas.h ] || [ -e /usr/include/cblas.h ] || [ -e /usr/include/openblas/cblas.h ] || return 1
  local libs
  libs=$(ldconfig -p 2>/dev/null || true)
  [[ $libs == *"libopenblas.so "* ]]
}

if ! have_openblas && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "setup: installing libopenblas-dev" >&2
  (apt-get install -y -q libopenblas-dev >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libopenblas-dev >/dev/null 2>&1; }) ||
    echo "setup: could not install libopenblas-dev; using the pure-Go BLAS" >&2
fi
go mod download >&2
if have_openblas; then
  echo openblas
else
  echo "setup: OpenBLAS not found (apt-get install libopenblas-dev); using the pure-Go BLAS" >&2
fi
