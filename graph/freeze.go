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
// ignores the others. It fuses with nothing further. Its input (xb) and output (yb, and
// with it the residual) may be in a channel-blocked layout of that many channels (see
// Relayout).
type convFrozen[T kernels.Float] struct {
	c        convFused[T]
	prepared kernels.PreparedConv[T]
	residual kernels.ResidualConv[T] // the pass with the residual sum, when c adds one
	xb, yb   int
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
	s := k.c.String() + " frozen"
	if k.xb != 0 || k.yb != 0 {
		s += fmt.Sprintf(" (channel blocks: in %d, out %d)", k.xb, k.yb)
	}
	return s
}
func (k convFrozen[T]) dims() ([]int, int)                             { return k.c.dims() }
func (k convFrozen[T]) shape(in ...tensor.Shape) (tensor.Shape, error) { return k.c.shape(in...) }

func (k convFrozen[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	if k.residual != nil {
		return k.residual.ForwardResidual(k.c.conv.ws, data[T](in[0]), data[T](in[len(in)-1]), data[T](out))
	}
	return k.prepared.Forward(k.c.conv.ws, data[T](in[0]), data[T](out))
}

// Blocking is how an operation of a frozen program can take maps in a channel-blocked layout
// ([N][C/b][H][W][b], see kernels.BlockedConv), which holds the same values as NCHW in
// another order.
type Blocking struct {
	// Block is the channel block of a frozen convolution that can read its input or write its
	// output blocked (Relayout), or 0.
	Block int
	// Elementwise: the operation reads its inputs and writes its output element by element,
	// all of one shape (the residual Add), so that they may all be in any one layout.
	Elementwise bool
	// Pool: the operation (global average pooling) can read its input blocked; its output
	// [N,C,1,1] is the same in both layouts.
	Pool bool
	// Planes: the operation (max pooling) works on each channel's map alone, so that it
	// can read and write them blocked, its input and output in one layout.
	Planes bool
	// Residual: the convolution adds its last input, the residual, to its output element by
	// element, so that the two are in one layout.
	Residual bool
}

// BlockingOf says how o can take a channel-blocked layout; the zero Blocking: not at all.
func BlockingOf(o gorgonia.Op) Blocking {
	op, ok := o.(op)
	if !ok {
		return Blocking{}
	}
	switch k := op.k.(type) {
	case convFrozen[float32]:
		if b, ok := k.prepared.(kernels.BlockedConv[float32]); ok {
			return Blocking{Block: b.ChannelBlock(), Residual: k.c.add}
		}
	case add[float32], add[float64]:
		return Blocking{Elementwise: true}
	case globalAvg[float32], globalAvg[float64]:
		return Blocking{Pool: true}
	case poolFast[float32]:
		return Blocking{Planes: k.mode == kernels.PoolMax}
	case poolFast[float64]:
		return Blocking{Planes: k.mode == kernels.PoolMax}
	case poolReLU[float32], poolReLU[float64]:
		return Blocking{Planes: true}
	}
	return Blocking{}
}

// Relayout returns o reading its first input (in) and writing its output (out) in the
// channel-blocked layout of block b where set: a frozen convolution whose BlockingOf has that
// Block, global average pooling (in only) or max pooling (both).
func Relayout(o gorgonia.Op, b int, in, out bool) (gorgonia.Op, error) {
	op, ok := o.(op)
	if !ok {
		return nil, fmt.Errorf("%v: not an operation that takes a blocked layout", o)
	}
	switch k := op.k.(type) {
	case convFrozen[float32]:
		bc, ok := k.prepared.(kernels.BlockedConv[float32])
		if !ok || bc.ChannelBlock() != b {
			return nil, fmt.Errorf("%v: its kernel takes no channel blocks of %d", o, b)
		}
		p, err := bc.Blocked(in, out)
		if err != nil {
			return nil, err
		}
		k = k.with(p)
		k.xb, k.yb = 0, 0
		if in {
			k.xb = b
		}
		if out {
			k.yb = b
		}
		op.k = k
		return op, nil
	case globalAvg[float32]:
		if in && !out && b > 0 {
			op.k = globalAvgBlocked[float32]{b}
			return op, nil
		}
	case globalAvg[float64]:
		if in && !out && b > 0 {
			op.k = globalAvgBlocked[float64]{b}
			return op, nil
		}
	case poolFast[float32]:
		if in && out && b > 0 && k.mode == kernels.PoolMax {
			op.k = maxPoolBlocked[float32]{k.g, b, false}
			return op, nil
		}
	case poolFast[float64]:
		if in && out && b > 0 && k.mode == kernels.PoolMax {
			op.k = maxPoolBlocked[float64]{k.g, b, false}
			return op, nil
		}
	case poolReLU[float32]:
		if in && out && b > 0 {
			op.k = maxPoolBlocked[float32]{k.g, b, true}
			return op, nil
		}
	case poolReLU[float64]:
		if in && out && b > 0 {
			op.k = maxPoolBlocked[float64]{k.g, b, true}
			return op, nil
		}
	}
	return nil, fmt.Errorf("%v: cannot take channel blocks of %d (input %v, output %v)", o, b, in, out)
}

// globalAvgBlocked is global average pooling of maps in the channel-blocked layout of block b.
type globalAvgBlocked[T kernels.Float] struct{ b int }

func (k globalAvgBlocked[T]) kind() string { return "GlobalAvgPool2D" }
func (k globalAvgBlocked[T]) String() string {
	return fmt.Sprintf("GlobalAvgPool2D (channel blocks: in %d)", k.b)
}
func (k globalAvgBlocked[T]) dims() ([]int, int) { return globalAvg[T]{}.dims() }
func (k globalAvgBlocked[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return globalAvg[T]{}.shape(in...)
}
func (k globalAvgBlocked[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	kernels.MeanPlanesBlocked(data[T](in[0]), data[T](out), s[0], s[1], s[2]*s[3], k.b)
	return nil
}

// maxPoolBlocked is max pooling of maps in the channel-blocked layout of block b, into maps
// in that layout, then the ReLU with relu (see poolReLU).
type maxPoolBlocked[T kernels.Float] struct {
	g    convGeom
	b    int
	relu bool
}

func (k maxPoolBlocked[T]) kind() string { return "Pool2D" + reluSuffix(k.relu) }
func (k maxPoolBlocked[T]) String() string {
	return fmt.Sprintf("Pool2D(%v %v, channel blocks: in and out %d)%s", k.g, kernels.PoolMax, k.b, reluSuffix(k.relu))
}
func (k maxPoolBlocked[T]) dims() ([]int, int) { return poolFast[T]{}.dims() }
func (k maxPoolBlocked[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	return poolShape(k.g, in[0])
}
func (k maxPoolBlocked[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	kernels.MaxPoolBlocked(kernels.NewPoolDims(k.g, kernels.PoolMax, in[0].Shape()), k.b, data[T](in[0]), data[T](out), k.relu)
	return nil
}
