package kernels

import "fmt"

// The choice for each call: the first entry of the operation's table that is enabled and
// accepts the call, else the fallback (purego, which accepts everything). Each is a plain
// loop rather than one generic one with a predicate, so that a call allocates nothing.

func fallback[K any](t table[K], op string) K {
	for _, e := range t {
		if e.m.Fallback {
			e.m.mark()
			return e.k
		}
	}
	panic(fmt.Sprintf("kernels: no implementation of %s is registered (import github.com/nndl/cnn/kernels/all)", op))
}

// GemmFor returns the matrix product to run.
func GemmFor[T Float]() Gemm[T] {
	t := setOf[T]().gemm
	for _, e := range t {
		if e.m.enabled() {
			e.m.mark()
			return e.k
		}
	}
	return fallback(t, "gemm")
}

// ConvFor returns the implementation to run convolution d on.
func ConvFor[T Float](d ConvDims) Conv[T] {
	t := setOf[T]().conv
	for _, e := range t {
		if e.m.enabled() && e.k.AcceptsConv(d) {
			e.m.mark()
			return e.k
		}
	}
	return fallback(t, "conv")
}

// PoolFor returns the implementation to run pooling d on.
func PoolFor[T Float](d PoolDims) Pool[T] {
	t := setOf[T]().pool
	for _, e := range t {
		if e.m.enabled() && e.k.AcceptsPool(d) {
			e.m.mark()
			return e.k
		}
	}
	return fallback(t, "pool")
}

// ReLUFor returns the ReLU to run.
func ReLUFor[T Float]() ReLU[T] {
	t := setOf[T]().relu
	for _, e := range t {
		if e.m.enabled() {
			e.m.mark()
			return e.k
		}
	}
	return fallback(t, "relu")
}

// ChannelSumFor returns the implementation to sum dy [n,c,inner] per channel on.
func ChannelSumFor[T Float](n, c, inner int) ChannelSum[T] {
	t := setOf[T]().sum
	for _, e := range t {
		if e.m.enabled() && e.k.AcceptsChannelSum(n, c, inner) {
			e.m.mark()
			return e.k
		}
	}
	return fallback(t, "channel-sum")
}

// AxpyFor returns the update to run.
func AxpyFor[T Float]() Axpy[T] {
	t := setOf[T]().axpy
	for _, e := range t {
		if e.m.enabled() {
			e.m.mark()
			return e.k
		}
	}
	return fallback(t, "axpy")
}

// Kernels are one implementation's kernels of element type T, nil where it offers none.
type Kernels[T Float] struct {
	Gemm       Gemm[T]
	Conv       Conv[T]
	Pool       Pool[T]
	ReLU       ReLU[T]
	ChannelSum ChannelSum[T]
	Axpy       Axpy[T]
}

// Named returns implementation name's kernels of type T, whether or not this machine runs
// them (see List): the conformance tests call each one directly.
func Named[T Float](name string) Kernels[T] {
	s := setOf[T]()
	return Kernels[T]{
		Gemm: named(s.gemm, name), Conv: named(s.conv, name), Pool: named(s.pool, name),
		ReLU: named(s.relu, name), ChannelSum: named(s.sum, name), Axpy: named(s.axpy, name),
	}
}

func named[K any](t table[K], name string) K {
	for _, e := range t {
		if e.m.Name == name {
			return e.k
		}
	}
	var zero K
	return zero
}
