package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/kernels"
)

// Concat joins its inputs along the channel axis (axis 1), in order, as torch.cat(xs, 1):
// the inputs of DenseNet's dense layers, SqueezeNet's fire modules and Inception's
// branches. Every input has the same rank (at least 2: [N,C] or [N,C,H,W]) and the same
// sizes but for the channels; a shape that differs is a declaration error naming both.
// The backward pass gives each input its slice of the gradient.
//
// Accounting: no parameters and no operations (a copy); the receptive field and jump are
// the largest of the inputs'.
func (n *Net) Concat(name string, xs ...*gorgonia.Node) *gorgonia.Node {
	name = n.fullName(name, "Concat")
	if len(xs) == 0 {
		if n.err == nil {
			n.err = fmt.Errorf("layer %s (Concat): nothing to concatenate: want at least one input", name)
		}
		return nil
	}
	if n.err != nil {
		return xs[0]
	}
	shapes := make([][]int, len(xs))
	for i, x := range xs {
		shapes[i] = x.Shape()
	}
	_, counts, err := cost.Concat(shapes...)
	if err != nil {
		n.fail(name, "Concat", xs[0], err)
		return xs[0]
	}
	channels := make([]int, len(xs))
	for i, s := range shapes {
		channels[i] = s[1]
	}
	l := &Layer{Name: name, Type: "Concat", Counts: counts, Attrs: fmt.Sprintf("%d inputs", len(xs))}
	return n.add(l, n.typed.concat(channels, xs[0].Dims()), xs...)
}

// concat joins inputs of the given channel counts along axis 1; every input has rank rank.
type concat[T kernels.Float] struct {
	channels []int
	rank     int
}

func (concat[T]) kind() string { return "Concat" }
func (k concat[T]) String() string {
	return fmt.Sprintf("Concat(channels %v, rank %d)", k.channels, k.rank)
}
func (k concat[T]) dims() ([]int, int) {
	in := make([]int, len(k.channels))
	for i := range in {
		in[i] = k.rank
	}
	return in, k.rank
}
func (k concat[T]) diffWRT() []bool {
	d := make([]bool, len(k.channels))
	for i := range d {
		d[i] = true
	}
	return d
}
func (k concat[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	shapes := make([][]int, len(in))
	for i, s := range in {
		if len(s) != k.rank || s[1] != k.channels[i] {
			return nil, fmt.Errorf("input %d has shape %v, want rank %d and %d channels", i, s, k.rank, k.channels[i])
		}
		shapes[i] = s
	}
	out, _, err := cost.Concat(shapes...)
	return tensor.Shape(out), err
}

// inner returns the elements of one channel of one sample, and the output's channels.
func (k concat[T]) inner(out tensor.Shape) (inner, total int) {
	inner = 1
	for _, d := range out[2:] {
		inner *= d
	}
	return inner, out[1]
}

func (k concat[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	inner, total := k.inner(out.Shape())
	y := data[T](out)
	n := out.Shape()[0]
	off := 0
	for i, v := range in {
		x, c := data[T](v), k.channels[i]*inner
		for s := 0; s < n; s++ {
			copy(y[s*total*inner+off:s*total*inner+off+c], x[s*c:(s+1)*c])
		}
		off += c
	}
	return nil
}

// grads slices the output gradient into each input's channels.
func (k concat[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	gs := make(gorgonia.Nodes, len(in))
	first := 0
	for i := range in {
		g, err := apply(concatGrad[T]{first: first, channels: k.channels[i], rank: k.rank}, grad)
		if err != nil {
			return nil, err
		}
		gs[i] = g
		first += k.channels[i]
	}
	return gs, nil
}

// concatGrad copies the channels [first, first+channels) of a gradient out.
type concatGrad[T kernels.Float] struct{ first, channels, rank int }

func (concatGrad[T]) kind() string { return "ConcatGrad" }
func (k concatGrad[T]) String() string {
	return fmt.Sprintf("ConcatGrad(channels %d-%d, rank %d)", k.first, k.first+k.channels-1, k.rank)
}
func (k concatGrad[T]) dims() ([]int, int) { return []int{k.rank}, k.rank }
func (k concatGrad[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	s := in[0].Clone()
	if len(s) < 2 || s[1] < k.first+k.channels {
		return nil, fmt.Errorf("gradient %v has no channels %d-%d", in[0], k.first, k.first+k.channels-1)
	}
	s[1] = k.channels
	return s, nil
}
func (k concatGrad[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	inner := 1
	for _, d := range s[2:] {
		inner *= d
	}
	dy, dx := data[T](in[0]), data[T](out)
	c, total := k.channels*inner, s[1]*inner
	for n := 0; n < s[0]; n++ {
		copy(dx[n*c:(n+1)*c], dy[n*total+k.first*inner:n*total+k.first*inner+c])
	}
	return nil
}
