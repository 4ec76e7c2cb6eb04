package graph

import (
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/kernels"
)

// typed makes the kernels the layers declare, in one element type: a network computes in
// the element type of its parameters, fixed when it is declared, so each kernel is
// instantiated for it once instead of testing the type at every call.
type typed interface {
	conv(g convGeom, bias bool, ws *kernels.Scratch) kernel
	convNaive(g convGeom, bias bool) kernel
	pool(g convGeom, mode poolMode) kernel
	poolNaive(g convGeom, mode poolMode) kernel
	adaptiveAvg(oh, ow int) kernel
	globalAvg() kernel
	linear(bias bool) kernel
	relu(rank int) kernel
	reshape(from, to tensor.Shape) kernel
	loss() kernel
	batchNorm(bn kernels.BatchNormSpec, rank int) kernel
	add(rank int) kernel
	activation(a Act, rank int) kernel
	dropout(d dropoutSpec, rank int) kernel
	concat(channels []int, rank int) kernel
	mul(bcast, rank int) kernel
}

// typedFor returns the kernels of element type dt (float32 or float64).
func typedFor(dt tensor.Dtype) typed {
	if dt == tensor.Float64 {
		return typedAs[float64]{}
	}
	return typedAs[float32]{}
}

type typedAs[T kernels.Float] struct{}

func (typedAs[T]) conv(g convGeom, bias bool, ws *kernels.Scratch) kernel {
	return convFast[T]{g: g, bias: bias, ws: ws}
}
func (typedAs[T]) convNaive(g convGeom, bias bool) kernel     { return convNaive[T]{g, bias} }
func (typedAs[T]) pool(g convGeom, mode poolMode) kernel      { return poolFast[T]{g: g, mode: mode} }
func (typedAs[T]) poolNaive(g convGeom, mode poolMode) kernel { return poolNaive[T]{g, mode} }
func (typedAs[T]) adaptiveAvg(oh, ow int) kernel              { return adaptiveAvg[T]{oh, ow} }
func (typedAs[T]) globalAvg() kernel                          { return globalAvg[T]{} }
func (typedAs[T]) linear(bias bool) kernel                    { return linear[T]{bias} }
func (typedAs[T]) relu(rank int) kernel                       { return relu[T]{rank} }
func (typedAs[T]) reshape(from, to tensor.Shape) kernel       { return reshape[T]{from, to} }
func (typedAs[T]) loss() kernel                               { return softmaxCE[T]{} }
func (typedAs[T]) batchNorm(bn kernels.BatchNormSpec, rank int) kernel {
	return batchNorm[T]{BatchNormSpec: bn, rank: rank}
}
func (typedAs[T]) add(rank int) kernel                    { return add[T]{rank: rank} }
func (typedAs[T]) activation(a Act, rank int) kernel      { return activation[T]{a, rank} }
func (typedAs[T]) dropout(d dropoutSpec, rank int) kernel { return dropout[T]{d, rank} }
func (typedAs[T]) concat(channels []int, rank int) kernel { return concat[T]{channels, rank} }
func (typedAs[T]) mul(bcast, rank int) kernel             { return mul[T]{bcast, rank} }
