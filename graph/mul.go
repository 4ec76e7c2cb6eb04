package graph

import (
	"fmt"
	"slices"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/kernels"
)

// Mul multiplies a and b element by element: two tensors of the same shape, or one
// [N,C,1,1] tensor (either one) scaling every map of the other [N,C,H,W], as PyTorch
// broadcasts them: the excitation of a squeeze-and-excitation block, x * s. Both inputs are
// the layer's Inputs, a first; shapes that fit neither rule are a declaration error naming
// both. The backward pass gives the broadcast input the gradient summed over each map.
//
// Accounting: no parameters; one FLOP per output element under the FLOPs convention and
// none under paddle.flops. The receptive field and jump are the larger of the two inputs'.
func (n *Net) Mul(name string, a, b *gorgonia.Node) *gorgonia.Node {
	name = n.fullName(name, "Mul")
	if n.err != nil {
		return a
	}
	_, counts, err := cost.Mul(a.Shape(), b.Shape())
	if err != nil {
		n.fail(name, "Mul", a, err)
		return a
	}
	bcast := -1 // which input, if any, is the broadcast [N,C,1,1] one
	switch {
	case a.Shape().Eq(b.Shape()):
	case a.Shape()[2] == 1 && a.Shape()[3] == 1:
		bcast = 0
	default:
		bcast = 1
	}
	l := &Layer{Name: name, Type: "Mul", Counts: counts}
	if bcast >= 0 {
		l.Attrs = fmt.Sprintf("input %d broadcast over H,W", bcast)
	}
	return n.add(l, n.typed.mul(bcast, a.Dims()), a, b)
}

// mul computes a * b element-wise: the same shape (bcast -1), or input bcast [N,C,1,1]
// broadcast over the maps of the other, [N,C,H,W].
type mul[T kernels.Float] struct{ bcast, rank int }

func (mul[T]) kind() string { return "Mul" }
func (k mul[T]) String() string {
	return fmt.Sprintf("Mul(broadcast %d, rank %d)", k.bcast, k.rank)
}
func (k mul[T]) dims() ([]int, int) { return []int{k.rank, k.rank}, k.rank }
func (k mul[T]) diffWRT() []bool    { return []bool{true, true} }
func (k mul[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	out, _, err := cost.Mul(in[0], in[1])
	if err != nil {
		return nil, err
	}
	if (k.bcast < 0) != in[0].Eq(in[1]) || k.bcast >= 0 && !in[1-k.bcast].Eq(tensor.Shape(out)) {
		return nil, fmt.Errorf("shapes %v and %v do not fit %v", in[0], in[1], k)
	}
	return tensor.Shape(out), nil
}

// operands returns the full input, the other one and the size of a map (1 when both have
// the same shape).
func (k mul[T]) operands(in []gorgonia.Value) (full, other []T, hw int) {
	if k.bcast < 0 {
		return data[T](in[0]), data[T](in[1]), 1
	}
	s := in[1-k.bcast].Shape()
	return data[T](in[1-k.bcast]), data[T](in[k.bcast]), s[2] * s[3]
}

func (k mul[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	full, other, hw := k.operands(in)
	y := data[T](out)
	if hw == 1 {
		for i, v := range full {
			y[i] = v * other[i]
		}
		return nil
	}
	for p, s := range other { // one scale per map
		for i := p * hw; i < (p+1)*hw; i++ {
			y[i] = full[i] * s
		}
	}
	return nil
}

// grads: d(a) = dy * b and d(b) = dy * a, each summed over the maps for a broadcast input.
func (k mul[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	gs := make(gorgonia.Nodes, 2)
	for wrt := range gs {
		g, err := apply(mulGrad[T]{mul: k, wrt: wrt}, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		gs[wrt] = g
	}
	return gs, nil
}

// mulGrad computes the gradient of mul with respect to input wrt from a, b and dy.
type mulGrad[T kernels.Float] struct {
	mul[T]
	wrt int
}

func (mulGrad[T]) kind() string { return "MulGrad" }
func (k mulGrad[T]) String() string {
	return fmt.Sprintf("MulGrad(input %d, broadcast %d, rank %d)", k.wrt, k.bcast, k.rank)
}
func (k mulGrad[T]) dims() ([]int, int) { return []int{k.rank, k.rank, k.rank}, k.rank }
func (k mulGrad[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	out, err := k.mul.shape(in[0], in[1])
	if err != nil {
		return nil, err
	}
	if !in[2].Eq(out) {
		return nil, fmt.Errorf("gradient %v does not fit output %v", in[2], out)
	}
	return slices.Clone(in[k.wrt]), nil
}
func (k mulGrad[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	full, other, hw := k.operands(in[:2])
	dy, dx := data[T](in[2]), data[T](out)
	switch {
	case hw == 1:
		o := other
		if k.wrt == 1 {
			o = full
		}
		for i, g := range dy {
			dx[i] = g * o[i]
		}
	case k.wrt != k.bcast: // the full input: dy times its map's scale
		for p, s := range other {
			for i := p * hw; i < (p+1)*hw; i++ {
				dx[i] = dy[i] * s
			}
		}
	default: // the broadcast input: dy * full summed over each map
		for p := range dx {
			var acc float64
			for i := p * hw; i < (p+1)*hw; i++ {
				acc += float64(dy[i]) * float64(full[i])
			}
			dx[p] = T(acc)
		}
	}
	return nil
}
