//go:build dnnl

// Package onednn runs float32 convolutions and matrix products on oneDNN, the library under
// PyTorch's CPU kernels: its convolution primitives (blocked AVX-512 or AVX2 loops that skip
// the zero padding instead of unrolling it) through a small C binding (conv.c), and its
// sgemm. It is built with -tags dnnl and links libdnnl; oneDNN picks its kernels for the CPU
// it runs on, capped by its own ONEDNN_MAX_CPU_ISA.
package onednn

import "github.com/nndl/cnn/kernels"

func init() {
	kernels.Register(kernels.Impl{Name: "onednn", Doc: "oneDNN's convolution primitives and sgemm", Priority: 30}, conv{}, sgemm{})
}
