//go:build !dnnl

package graph

// convKind is one of a convolution's three kernels.
type convKind int

const (
	convForwardKernel convKind = iota
	convGradXKernel
	convGradWKernel
)

// nativeConv reports false: without -tags dnnl every convolution runs on the Go kernels.
func nativeConv[T Float](ws *scratch, kind convKind, d convDims, a, b, bs, out []T, ep *epilogue) (bool, error) {
	return false, nil
}

// pool2Native reports false: without -tags dnnl pooling runs on the Go kernels.
func pool2Native[T Float](g convGeom, mode poolMode, s []int, x, dy, y, dx, relu []T) bool {
	return false
}

// reluNative reports false: without -tags dnnl the ReLU runs on the Go kernel.
func reluNative[T Float](x, y []T) bool { return false }

// reluGradNative reports false: without -tags dnnl the ReLU's gradient runs on the Go kernel.
func reluGradNative[T Float](y, dy, dx []T) bool { return false }

// sumChannelsNative reports false: without -tags dnnl bias gradients sum on the Go kernel.
func sumChannelsNative[T Float](n, c, inner int, dy, db []T) bool {
	return false
}

// axpyNative reports false: without -tags dnnl the update runs on the Go loop.
func axpyNative[T Float](a T, x, y []T) bool { return false }
