package graph

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/kernels"
)

// fuser is a kernel with fused forms: fuse returns the kernel that computes it followed by
// consumer, which reads its output as its input number arg, if the two have one.
type fuser interface {
	fuse(consumer kernel, arg int) (kernel, bool)
}

func reluSuffix(relu bool) string {
	if relu {
		return "+ReLU"
	}
	return ""
}

// Fuse returns the operation that computes producer followed by consumer in one pass over
// memory, where consumer reads producer's output as its input number arg and the two have a
// fused form:
//   - a ReLU after a BatchNorm2D, a residual Add or a convolution;
//   - an inference-mode BatchNorm2D after a convolution (with or without a ReLU after it);
//   - a residual Add (with or without its ReLU) after a convolution, with or without an
//     inference BatchNorm, that has no ReLU of its own;
//   - in the backward pass, a ReLU's gradient after a pooling's gradient (the ReLU before
//     the pooling).
//
// The fused operation takes producer's inputs followed by consumer's other inputs, in order,
// and computes consumer's output. Producer's own output is never formed, so a compiler fuses
// only where consumer is its one reader. Fused operations have no gradient: a compiler fuses
// after differentiating.
func Fuse(producer, consumer gorgonia.Op, arg int) (gorgonia.Op, bool) {
	p, ok := producer.(op)
	if !ok {
		return nil, false
	}
	c, ok := consumer.(op)
	if !ok || c.dt != p.dt {
		return nil, false
	}
	f, ok := p.k.(fuser)
	if !ok {
		return nil, false
	}
	k, ok := f.fuse(c.k, arg)
	if !ok {
		return nil, false
	}
	return op{k, p.dt}, true
}

// SinkReLU moves the ReLU that ends producer (a convolution or an inference BatchNorm fused
// with one) past consumer, a max pooling that reads producer's output as its input number
// arg: it returns producer without its ReLU and consumer followed by one. Max pooling and
// the ReLU commute, NaN and -0 included (relu(max(x)) = max(relu(x))), and the ReLU then runs
// over the pooled maps, a quarter of the size for a 3x3 window of stride 2, as the pooling
// writes them. Producer's output then holds the values before the ReLU, so a compiler moves it
// only where consumer is its one reader; like Fuse, only after differentiating.
func SinkReLU(producer, consumer gorgonia.Op, arg int) (p, c gorgonia.Op, ok bool) {
	po, ok := producer.(op)
	if !ok || arg != 0 {
		return nil, nil, false
	}
	co, ok := consumer.(op)
	if !ok || co.dt != po.dt {
		return nil, nil, false
	}
	pr, ok := po.k.(interface{ withoutReLU() (kernel, bool) })
	if !ok {
		return nil, nil, false
	}
	cr, ok := co.k.(interface{ withReLU() (kernel, bool) })
	if !ok {
		return nil, nil, false
	}
	pk, ok := pr.withoutReLU()
	if !ok {
		return nil, nil, false
	}
	ck, ok := cr.withReLU()
	if !ok {
		return nil, nil, false
	}
	return op{pk, po.dt}, op{ck, co.dt}, true
}

// withReLU returns a max pooling followed by a ReLU (SinkReLU); false for average pooling.
func (k poolFast[T]) withReLU() (kernel, bool) { return poolReLU[T]{g: k.g}, k.mode == kernels.PoolMax }

// withoutReLU returns k without its ReLU: the plain convolution when no BatchNorm is fused.
func (k convFused[T]) withoutReLU() (kernel, bool) {
	if !k.bn && !k.add {
		return k.conv, k.relu
	}
	ok := k.relu
	k.relu = false
	return k, ok
}

// withoutReLU returns k without its ReLU, for inference only.
func (k batchNorm[T]) withoutReLU() (kernel, bool) {
	ok := k.ReLU && !k.Training
	k.ReLU = false
	return k, ok
}

func (k batchNorm[T]) fuse(c kernel, arg int) (kernel, bool) {
	if _, ok := c.(relu[T]); ok && arg == 0 && !k.ReLU {
		k.ReLU = true
		return k, true
	}
	return nil, false
}

func (k add[T]) fuse(c kernel, arg int) (kernel, bool) {
	if _, ok := c.(relu[T]); ok && arg == 0 && !k.relu {
		k.relu = true
		return k, true
	}
	return nil, false
}

func (k convFast[T]) fuse(c kernel, arg int) (kernel, bool) {
	switch ck := c.(type) {
	case relu[T]:
		return convFused[T]{conv: k, relu: true}, arg == 0
	case batchNorm[T]:
		if !ck.Training && !ck.ReLU && arg == 0 {
			return convFused[T]{conv: k, bn: true, eps: ck.Eps}, true
		}
	case add[T]:
		return convFused[T]{conv: k}.fuse(c, arg)
	}
	return nil, false
}

func (k convFused[T]) fuse(c kernel, arg int) (kernel, bool) {
	switch ck := c.(type) {
	case relu[T]:
		if arg == 0 && !k.relu {
			k.relu = true
			return k, true
		}
	case add[T]:
		// Either input of the sum: the fused step takes the other, the residual, last.
		if ck.rank == 4 && !k.relu && !k.add {
			k.add, k.relu = true, ck.relu
			return k, true
		}
	}
	return nil, false
}

func (k poolFastGrad[T]) fuse(c kernel, arg int) (kernel, bool) {
	if _, ok := c.(reluGrad[T]); ok && arg == 1 {
		return poolGradReLU[T]{k}, true
	}
	return nil, false
}

// convFused is a convolution that applies, as it writes each chunk of images, an
// inference-mode BatchNorm (bn: its scale, shift, running mean and running variance follow
// the convolution's inputs), then a residual sum (add: the residual is the last input) and
// then a ReLU (relu). It only runs forward: a compiler forms it from the declared layers
// after their gradients are in the graph.
type convFused[T kernels.Float] struct {
	conv convFast[T]
	bn   bool
	eps  float64
	add  bool
	relu bool
}

func (k convFused[T]) kind() string {
	s := "Conv2D"
	if k.bn {
		s += "+BatchNorm2D"
	}
	if k.add {
		s += "+Add"
	}
	return s + reluSuffix(k.relu)
}

func (k convFused[T]) String() string {
	s := k.conv.String()
	if k.bn {
		s += fmt.Sprintf("+BatchNorm2D(inference eps=%g)", k.eps)
	}
	if k.add {
		s += "+Add"
	}
	return s + reluSuffix(k.relu)
}

func (k convFused[T]) dims() ([]int, int) {
	in, out := k.conv.dims()
	if k.bn {
		in = append(in, 1, 1, 1, 1)
	}
	if k.add {
		in = append(in, 4)
	}
	return in, out
}

func (k convFused[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	n := len(in)
	if k.add {
		n--
	}
	m := n
	if k.bn {
		m -= 4
	}
	y, err := k.conv.shape(in[:m]...)
	if err != nil {
		return nil, err
	}
	if k.bn {
		if err := channelShapes(y, in[m:n]...); err != nil {
			return nil, err
		}
	}
	if k.add && !in[n].Eq(y) {
		return nil, fmt.Errorf("%v: residual %v, want the output's %v", k, in[n], y)
	}
	return y, nil
}

// do computes y from the inputs x, w, the bias if the convolution has one, the BatchNorm's
// four per-channel values if it is fused, and the residual if one is added.
func (k convFused[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	ep, buf := k.epilogue(in)
	if buf != nil {
		defer kernels.GiveBack(buf)
	}
	if err := k.conv.forward(out, in[:len(convArity(k.conv.bias))], &ep); err != nil {
		return err
	}
	if k.add {
		kernels.ApplyAdd(data[T](out), data[T](in[len(in)-1]), data[T](out), k.relu)
	}
	return nil
}

// epilogue returns the epilogue of the inputs' BatchNorm values and ReLU (none when a
// residual is added first), and the buffer that holds its values, to give back
// (kernels.GiveBack) once it has been used (nil: none).
func (k convFused[T]) epilogue(in []gorgonia.Value) (kernels.Epilogue, *[]float64) {
	n := len(convArity(k.conv.bias))
	ep := kernels.Epilogue{ReLU: k.relu && !k.add}
	if !k.bn {
		return ep, nil
	}
	p := in[1].Shape()[0]
	buf, w := kernels.Borrow(3 * p)
	scale, shift, rmean, rvar := data[T](in[n]), data[T](in[n+1]), data[T](in[n+2]), data[T](in[n+3])
	ep.Mean, ep.A, ep.Shift = w[:p], w[p:2*p], w[2*p:]
	for q := range p {
		ep.Mean[q] = float64(rmean[q])
		ep.A[q] = float64(scale[q]) / math.Sqrt(float64(rvar[q])+k.eps)
		ep.Shift[q] = float64(shift[q])
	}
	return ep, buf
}
