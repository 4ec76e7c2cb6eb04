package kernels

import "fmt"

// The choice for each call: the first entry of the operation's table that is enabled and
// accepts the call, else the fallback (purego, which accepts everything). The predicate
// does not escape, so a call allocates nothing (TestDispatchAllocates).

// pick returns the kernel of t to run: the first enabled one that accepts (nil: any), else
// the fallback.
func pick[K any](t table[K], op string, accepts func(K) bool) K {
	for _, e := range t {
		if e.m.enabled() && (accepts == nil || accepts(e.k)) {
			e.m.mark()
			return e.k
		}
	}
	for _, e := range t {
		if e.m.Fallback {
			e.m.mark()
			return e.k
		}
	}
	panic(fmt.Sprintf("kernels: no implementation of %s is registered (import github.com/nndl/cnn/kernels/all)", op))
}

// GemmFor returns the matrix product to run.
func GemmFor[T Float]() Gemm[T] { return pick(setOf[T]().gemm, "gemm", nil) }

// ConvFor returns the implementation to run convolution d on.
func ConvFor[T Float](d ConvDims) Conv[T] {
	return pick(setOf[T]().conv, "conv", func(k Conv[T]) bool { return k.AcceptsConv(d) })
}

// PoolFor returns the implementation to run pooling d on.
func PoolFor[T Float](d PoolDims) Pool[T] {
	return pick(setOf[T]().pool, "pool", func(k Pool[T]) bool { return k.AcceptsPool(d) })
}

// ReLUFor returns the ReLU to run.
func ReLUFor[T Float]() ReLU[T] { return pick(setOf[T]().relu, "relu", nil) }

// ChannelSumFor returns the implementation to sum dy [n,c,inner] per channel on.
func ChannelSumFor[T Float](n, c, inner int) ChannelSum[T] {
	return pick(setOf[T]().sum, "channel-sum", func(k ChannelSum[T]) bool { return k.AcceptsChannelSum(n, c, inner) })
}

// AxpyFor returns the update to run.
func AxpyFor[T Float]() Axpy[T] { return pick(setOf[T]().axpy, "axpy", nil) }

// Kernels are one implementation's kernels of element type T, nil where it offers none.
type Kernels[T Float] struct {
	Gemm       Gemm[T]
	Conv       Conv[T]
	Pool       Pool[T]
	ReLU       ReLU[T]
	ChannelSum ChannelSum[T]
	Axpy       Axpy[T]
	BatchNorm  BatchNorm[T]
}

// Named returns implementation name's kernels of type T, whether or not this machine runs
// them (see List): the conformance tests call each one directly.
func Named[T Float](name string) Kernels[T] {
	s := setOf[T]()
	return Kernels[T]{
		Gemm: named(s.gemm, name), Conv: named(s.conv, name), Pool: named(s.pool, name),
		ReLU: named(s.relu, name), ChannelSum: named(s.sum, name), Axpy: named(s.axpy, name),
		BatchNorm: named(s.bn, name),
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
