#!/usr/bin/env bash
# Installs the references the ONNX export tests compare against, for CI and developers:
# ONNX Runtime's Node.js binding (onnxruntime-node, from npm, its CPU library inside the
# package) into CNN_ORT_DIR, by default the user's cache folder's cnn/ort, where the tests
# look for it; and, as root through apt, Node.js and npm where they are missing and Debian's
# python3-onnx, whose checker the tests run on every exported file. Whatever cannot be
# installed is said on stderr; the tests then skip that reference and say so.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${CNN_ORT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cnn/ort}
version=$(sed -n 's/.*"onnxruntime-node": *"\([^"]*\)".*/\1/p' testdata/onnx/ortref/package.json)

apt_install() {
  command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] || return 1
  echo "install-onnx-ref: installing $*" >&2
  apt-get install -y -q "$@" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$@" >/dev/null 2>&1; }
}

command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
  apt_install nodejs npm || echo "install-onnx-ref: no Node.js: ONNX Runtime is not installed" >&2
python3 -c 'import onnx' 2>/dev/null || /usr/bin/python3 -c 'import onnx' 2>/dev/null ||
  apt_install python3-onnx || echo "install-onnx-ref: could not install python3-onnx" >&2

if command -v npm >/dev/null 2>&1; then
  if [ -f "$dir/node_modules/onnxruntime-node/package.json" ] &&
    grep -q "\"version\": *\"$version\"" "$dir/node_modules/onnxruntime-node/package.json"; then
    echo "install-onnx-ref: onnxruntime-node $version is in $dir" >&2
  else
    mkdir -p "$dir"
    cp testdata/onnx/ortref/package.json "$dir/"
    # --ignore-scripts: the package's install step fetches GPU libraries from outside the
    # registry; the CPU library it ships is all the tests need.
    (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    echo "install-onnx-ref: onnxruntime-node $version installed in $dir" >&2
  fi
fi
