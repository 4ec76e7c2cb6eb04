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
	params := in[1:]
	if c.add {
		params = params[:len(params)-1] // the residual is data
	}
	for i, v := range params {
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
	return convFrozen[T]{c: c}.with(p), nil
}

// convFrozen is a convolution (with its fused epilogue, if any) on prepared weights: it
// reads only its first input (and its last, the residual, when it adds one: see Data), and
// ignores the others. It fuses with nothing further. Its input and output (and with it the
// residual) may be in a channel-blocked layout, l (see Relayout).
type convFrozen[T kernels.Float] struct {
	c        convFused[T]
	prepared kernels.PreparedConv[T]
	residual kernels.ResidualConv[T] // the pass with the residual sum, when c adds one
	l        kernels.ConvLayout
}

// with returns k running on p.
func (k convFrozen[T]) with(p kernels.PreparedConv[T]) convFrozen[T] {
	k.prepared, k.residual = p, nil
	if k.c.add {
		k.residual = kernels.Residual(p, k.c.relu)
	}
	return k
}

// Data reports whether input j of o is data that o reads at every run, not a parameter that
// Freeze fixes: the first input, and a residual a fused convolution adds.
func Data(o gorgonia.Op, j int) bool {
	if j == 0 {
		return true
	}
	op, ok := o.(op)
	if !ok {
		return false
	}
	in, _ := op.k.dims()
	r, ok := op.k.(residualAdder)
	return ok && r.addsResidual() && j == len(in)-1
}

// residualAdder is a kernel that may add its last input, a residual, to its output.
type residualAdder interface{ addsResidual() bool }

func (k convFused[T]) addsResidual() bool  { return k.add }
func (k convFrozen[T]) addsResidual() bool { return k.c.add }

func (k convFrozen[T]) kind() string { return k.c.kind() }
func (k convFrozen[T]) String() string {
	return k.c.String() + " frozen" + layoutString(k.l)
}
func (k convFrozen[T]) dims() ([]int, int)                             { return k.c.dims() }
func (k convFrozen[T]) shape(in ...tensor.Shape) (tensor.Shape, error) { return k.c.shape(in...) }

func (k convFrozen[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	if k.residual != nil {
		return k.residual.ForwardResidual(k.c.conv.ws, data[T](in[0]), data[T](in[len(in)-1]), data[T](out))
	}
	return k.prepared.Forward(k.c.conv.ws, data[T](in[0]), data[T](out))
}

// blocking: the input and output may each be blocked, in the block of the prepared kernel;
// a residual it adds, in the output's layout.
func (k convFrozen[T]) blocking(in []tensor.Shape) Blocking {
	bc, ok := k.prepared.(kernels.BlockedConv[T])
	if !ok {
		return Blocking{}
	}
	l, out := layouts(len(in), NCHW), Either
	l[0] = Either
	if k.c.add {
		l[len(in)-1], out = Joined, Joined
	}
	return Blocking{Block: bc.ChannelBlock(), In: l, Out: out}
}

func (k convFrozen[T]) relayout(b int, in []bool, out bool) (kernel, error) {
	bc, ok := k.prepared.(kernels.BlockedConv[T])
	if !ok || bc.ChannelBlock() != b {
		return nil, fmt.Errorf("its kernel takes no channel blocks of %d", b)
	}
	if k.c.add && in[len(in)-1] != out {
		return nil, fmt.Errorf("its residual and output cannot be laid out apart")
	}
	p, err := bc.Blocked(in[0], out)
	if err != nil {
		return nil, err
	}
	k = k.with(p)
	k.l = kernels.ConvLayout{X: blockOf(b, in[0]), Y: blockOf(b, out)}
	return k, nil
}
