package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/kernels"
)

// Freeze returns the operation that computes o with its parameters fixed at their values in
// in (o's inputs, in order; the first, the data, may be nil), for an inference program
// that runs the same weights many times: a convolution, fused or not, then runs on weights
// its kernel laid out once (kernels.PrepareConv) and no longer reads its other inputs, so
// later changes to them do not reach it. xs is the shape of the data input. Operations with
// nothing to prepare are returned as they are, with false.
func Freeze(o gorgonia.Op, xs tensor.Shape, in []gorgonia.Value) (gorgonia.Op, bool, error) {
	op, ok := o.(op)
	if !ok {
		return o, false, nil
	}
	var (
		k   kernel
		err error
	)
	switch c := op.k.(type) {
	case convFast[float32]:
		k, err = freeze(convFused[float32]{conv: c}, xs, in)
	case convFast[float64]:
		k, err = freeze(convFused[float64]{conv: c}, xs, in)
	case convFused[float32]:
		k, err = freeze(c, xs, in)
	case convFused[float64]:
		k, err = freeze(c, xs, in)
	default:
		return o, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%v: %w", o, err)
	}
	op.k = k
	return op, true, nil
}

func freeze[T kernels.Float](c convFused[T], xs tensor.Shape, in []gorgonia.Value) (kernel, error) {
	for i, v := range in[1:] {
		if v == nil {
			return nil, fmt.Errorf("input %d has no value to freeze", i+1)
		}
	}
	ep, buf := c.epilogue(in)
	if buf != nil {
		defer kernels.GiveBack(buf)
	}
	d := kernels.NewConvDims(c.conv.g, xs, in[1].Shape())
	var b []T
	if c.conv.bias {
		b = data[T](in[2])
	}
	var epp *kernels.Epilogue
	if ep.Mean != nil || ep.ReLU {
		epp = &ep
	}
	p, err := kernels.PrepareConv(d, data[T](in[1]), b, epp)
	if err != nil {
		return nil, err
	}
	return convFrozen[T]{c, p}, nil
}

// convFrozen is a convolution (with its fused epilogue, if any) on prepared weights: it
// reads only its first input, and ignores the others. It fuses with nothing further.
type convFrozen[T kernels.Float] struct {
	c        convFused[T]
	prepared kernels.PreparedConv[T]
}

func (k convFrozen[T]) kind() string                                   { return k.c.kind() }
func (k convFrozen[T]) String() string                                 { return k.c.String() + " frozen" }
func (k convFrozen[T]) dims() ([]int, int)                             { return k.c.dims() }
func (k convFrozen[T]) shape(in ...tensor.Shape) (tensor.Shape, error) { return k.c.shape(in...) }

func (k convFrozen[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	return k.prepared.Forward(k.c.conv.ws, data[T](in[0]), data[T](out))
}
