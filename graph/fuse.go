package graph

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// reluFuser is a kernel that can apply a following ReLU to each value as it writes it,
// saving the ReLU's pass over memory.
type reluFuser interface {
	kernel
	withReLU() kernel
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
//   - in the backward pass, a ReLU's gradient after a pooling's gradient (the ReLU before
//     the pooling).
//
// The fused operation takes producer's inputs followed by consumer's other inputs, in order,
// and computes consumer's output. Producer's own output is never formed, so a compiler fuses
// only where consumer is its one reader.
func Fuse(producer, consumer gorgonia.Op, arg int) (gorgonia.Op, bool) {
	p, ok := producer.(op)
	if !ok {
		return nil, false
	}
	c, ok := consumer.(op)
	if !ok {
		return nil, false
	}
	if arg == 1 {
		pk, ok := p.k.(poolFastGrad)
		if _, isReLU := c.k.(reluGrad); ok && isReLU {
			return op{poolGradReLU{pk}}, true
		}
		return nil, false
	}
	if arg != 0 {
		return nil, false
	}
	switch ck := c.k.(type) {
	case relu:
		switch pk := p.k.(type) {
		case reluFuser:
			return op{pk.withReLU()}, true
		case convFast:
			return op{convFused{conv: pk, relu: true}}, true
		case convFused:
			if !pk.relu {
				pk.relu = true
				return op{pk}, true
			}
		}
	case batchNorm:
		if pk, ok := p.k.(convFast); ok && !ck.training && !ck.relu {
			return op{convFused{conv: pk, bn: true, eps: ck.eps}}, true
		}
	}
	return nil, false
}

// convFused is a convolution that applies, as it writes each chunk of images, an
// inference-mode BatchNorm (bn: its scale, shift, running mean and running variance follow
// the convolution's inputs) and then a ReLU (relu). It only runs forward: a compiler forms
// it from the declared layers after their gradients are in the graph.
type convFused struct {
	conv convFast
	bn   bool
	eps  float64
	relu bool
}

func (k convFused) String() string {
	s := k.conv.String()
	if k.bn {
		s += fmt.Sprintf("+BatchNorm2D(inference eps=%g)", k.eps)
	}
	return s + reluSuffix(k.relu)
}

func (k convFused) dims() ([]int, int) {
	in, out := k.conv.dims()
	if k.bn {
		in = append(in, 1, 1, 1, 1)
	}
	return in, out
}

func (k convFused) shape(in ...tensor.Shape) (tensor.Shape, error) {
	n := len(in)
	if k.bn {
		n -= 4
	}
	y, err := k.conv.shape(in[:n]...)
	if err != nil {
		return nil, err
	}
	if k.bn {
		if err := channelShapes(y, in[n:]...); err != nil {
			return nil, err
		}
	}
	return y, nil
}

func (k convFused) do(out gorgonia.Value, in ...gorgonia.Value) error {
	d := newConvDims(k.conv.g, in[0].Shape(), in[1].Shape())
	switch out.Dtype() {
	case tensor.Float32:
		return convFusedForward(k, d, in, data[float32](out))
	case tensor.Float64:
		return convFusedForward(k, d, in, data[float64](out))
	default:
		return fmt.Errorf("unsupported dtype %v", out.Dtype())
	}
}

// convFusedForward computes y from the inputs x, w, the bias if the convolution has one, and
// the BatchNorm's four per-channel values if it is fused.
func convFusedForward[T Float](k convFused, d convDims, in []gorgonia.Value, y []T) error {
	var b []T
	n := 2
	if k.conv.bias {
		b, n = data[T](in[2]), 3
	}
	ep := epilogue{relu: k.relu}
	if k.bn {
		buf, w := borrow(d.p)
		defer giveBack(buf)
		scale, shift, rmean, rvar := data[T](in[n]), data[T](in[n+1]), data[T](in[n+2]), data[T](in[n+3])
		ep.mean, ep.a, ep.shift = w[0], w[1], w[2]
		for q := range d.p {
			ep.mean[q] = float64(rmean[q])
			ep.a[q] = float64(scale[q]) / math.Sqrt(float64(rvar[q])+k.eps)
			ep.shift[q] = float64(shift[q])
		}
	}
	return convForward(k.conv.ws, d, data[T](in[0]), data[T](in[1]), b, y, &ep)
}

// epilogue is what a convolution applies to its output as it writes it: an inference-mode
// BatchNorm, y = (y - mean)*a + shift per channel (mean nil: none), then a ReLU (relu).
type epilogue struct {
	mean, a, shift []float64
	relu           bool
}

// applyEpilogue applies ep to y, whole images [P, OH*OW] of a convolution d.
func applyEpilogue[T Float](ep *epilogue, d convDims, y []T) {
	if ep == nil || ep.mean == nil && ep.relu && reluNative(y, y) {
		return
	}
	for o := 0; o < len(y); o += d.p * d.ohw {
		for q := 0; q < d.p; q++ {
			plane := y[o+q*d.ohw : o+(q+1)*d.ohw]
			switch {
			case ep.mean != nil && ep.relu:
				mu, a, b := ep.mean[q], ep.a[q], ep.shift[q]
				for j, v := range plane {
					plane[j] = max(T((float64(v)-mu)*a+b), 0)
				}
			case ep.mean != nil:
				mu, a, b := ep.mean[q], ep.a[q], ep.shift[q]
				for j, v := range plane {
					plane[j] = T((float64(v)-mu)*a + b)
				}
			case ep.relu:
				for j, v := range plane {
					plane[j] = max(v, 0)
				}
			}
		}
	}
}
