package main

import "runtime"

// kernelPath names the matrix-multiply implementation the tool runs on.
func kernelPath() string { return "gonum pure-Go BLAS" }

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
