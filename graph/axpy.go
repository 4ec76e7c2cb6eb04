package graph

// Axpy computes y += a*x, each product rounded before it is added (no fused multiply-add, so
// every build updates parameters alike). Long vectors are split between the workers: it is
// the optimisers' update of the parameters, which at that point of a step have often left
// the cache.
func Axpy[T Float](a T, x, y []T) {
	y = y[:len(x)]
	if len(x) < 1<<13 {
		axpy(a, x, y)
		return
	}
	parallel(len(x), func(_, lo, hi int) { axpy(a, x[lo:hi], y[lo:hi]) })
}

func axpy[T Float](a T, x, y []T) {
	if axpyNative(a, x, y) {
		return
	}
	for i, v := range x {
		y[i] += T(a * v) // the conversion rounds the product: no fused multiply-add
	}
}
