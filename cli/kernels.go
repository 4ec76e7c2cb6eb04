package cli

import (
	"runtime"

	"github.com/nndl/cnn/kernels"
)

// kernelPath names the implementations of the kernels the tool runs on.
func kernelPath() string { return kernels.Describe() }

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
