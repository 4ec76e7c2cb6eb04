#!/usr/bin/env bash
# Every build the README offers, beyond the one `make test` ran (oneDNN): each runs go vet,
# the whole test suite and the kernels' conformance listing (which implementations ran, and
# why the others were skipped). Then the pure-Go build is cross-compiled for the platforms
# users have. On an AVX-512 CPU the oneDNN build runs once more capped at AVX2
# (CNN_MAX_CPU_ISA for the project's kernels, ONEDNN_MAX_CPU_ISA for oneDNN's), as a CPU
# without AVX-512 runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

listing() { # listing TAGS [ENV...]: the conformance listing of one build
  env "${@:2}" go test -tags "$1" -count=1 -run 'TestConformance$' -v ./kernels/ | sed -n '/conformance against/,/^--- /p'
}

echo "== oneDNN build: conformance"
listing dnnl
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  echo "== oneDNN build capped at AVX2: vet, tests, conformance"
  CNN_MAX_CPU_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2 go test -tags dnnl -count=1 ./...
  listing dnnl CNN_MAX_CPU_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2
fi

tags=$(CNN_BLAS=openblas ./scripts/setup.sh)
if [ "$tags" = openblas ]; then
  echo "== OpenBLAS build: vet, tests, conformance"
  go vet -tags openblas ./...
  go test -tags openblas -count=1 ./...
  listing openblas
else
  echo "== OpenBLAS build: skipped (libopenblas-dev could not be installed)"
fi

echo "== pure Go with cgo (the SIMD kernels, gonum's GEMM): vet, tests, conformance"
go vet ./...
go test -count=1 ./...
listing ""

echo "== pure Go without cgo: vet, tests, conformance"
CGO_ENABLED=0 go vet ./...
CGO_ENABLED=0 go test -count=1 ./...
listing "" CGO_ENABLED=0

for target in linux/arm64 darwin/arm64 windows/amd64; do
  echo "== cross-compiling the pure-Go build for $target"
  GOOS=${target%/*} GOARCH=${target#*/} CGO_ENABLED=0 go build ./...
done
