package main

import (
	"runtime"

	"github.com/nndl/cnn/graph"
)

// kernelPath names the matrix-multiply implementation the tool runs on.
func kernelPath() string { return graph.BLAS }

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
