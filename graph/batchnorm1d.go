package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/kernels/purego"
)

// BatchNorm1D adds a batch normalisation layer over the features of x [N,C], PyTorch's
// BatchNorm1d on a 2-D input: y = (x - mean) / sqrt(var + eps) * scale + shift, per
// feature, with eps = 1e-5. Parameters, modes, running statistics and momentum are
// BatchNorm2D's: name.weight, name.bias (trainable), name.running_mean, name.running_var
// (buffers); in training mode the batch statistics (biased variance) normalise and
// running = 0.9*running + 0.1*batch updates the buffers (the unbiased variance), which
// needs a batch of more than one sample; in inference mode the buffers normalise.
//
// Accounting: 2C trainable values and 2C buffers; 2 FLOPs per element; 0 under paddle.flops,
// which has no rule for BatchNorm1D. The receptive field is unchanged.
func (n *Net) BatchNorm1D(name string, x *gorgonia.Node) *gorgonia.Node {
	name = n.fullName(name, "BatchNorm1D")
	if n.err != nil {
		return x
	}
	_, counts, err := cost.BatchNorm1D(x.Shape())
	if err != nil {
		n.fail(name, "BatchNorm1D", x, err)
		return x
	}
	bn := purego.BatchNorm{Training: n.training, Eps: BatchNormEpsilon, Momentum: BatchNormMomentum}
	c := x.Shape()[1]
	in := []*gorgonia.Node{x}
	for _, p := range []struct {
		suffix    string
		trainable bool
		init      Init
	}{
		{".weight", true, Ones},
		{".bias", true, Zeros},
		{".running_mean", false, Zeros},
		{".running_var", false, Ones},
	} {
		node, err := n.param(name+p.suffix, tensor.Shape{c}, p.trainable, p.init, 0, 0)
		if err != nil {
			n.fail(name, "BatchNorm1D", x, err)
			return x
		}
		in = append(in, node)
	}
	l := &Layer{Name: name, Type: "BatchNorm1D", Counts: counts,
		Attrs: fmt.Sprintf("%d eps %g momentum %g", c, bn.Eps, bn.Momentum)}
	if bn.Training {
		l.Attrs += " batch statistics"
	} else {
		l.Attrs += " running statistics"
	}
	return n.add(l, n.typed.batchNorm1D(bn), in...)
}

// batchNorm1D normalises x [N,C] per feature: batchNorm's computation on [N,C,1,1]. Inputs:
// x, scale, shift, running mean, running variance; the first three are differentiated.
type batchNorm1D[T kernels.Float] struct{ purego.BatchNorm }

func (k batchNorm1D[T]) kind() string { return "BatchNorm1D" }
func (k batchNorm1D[T]) String() string {
	return "BatchNorm1D" + batchNorm[T](k).String()[len("BatchNorm2D"):]
}
func (k batchNorm1D[T]) dims() ([]int, int) { return []int{2, 1, 1, 1, 1}, 2 }
func (k batchNorm1D[T]) diffWRT() []bool    { return []bool{true, true, true, false, false} }
func (k batchNorm1D[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	if len(in[0]) != 2 {
		return nil, fmt.Errorf("input shape %v is not [N,C]", in[0])
	}
	if err := channelShapes(in[0], in[1:5]...); err != nil {
		return nil, err
	}
	return in[0].Clone(), nil
}

// as4D is x's shape [N,C] as the [N,C,1,1] the BatchNorm kernels take.
func as4D(s tensor.Shape) []int { return []int{s[0], s[1], 1, 1} }

func (k batchNorm1D[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := in[0].Shape()
	if k.Training && s[0] < 2 {
		return fmt.Errorf("batch statistics need more than one value per feature, got a batch of %d", s[0])
	}
	purego.BatchNormForward(k.BatchNorm, as4D(s), data[T](in[0]), data[T](in[1]), data[T](in[2]), data[T](in[3]), data[T](in[4]), data[T](out))
	return nil
}

func (k batchNorm1D[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	args := gorgonia.Nodes{in[0], in[1], in[3], in[4], grad}
	dx, err := apply(batchNorm1DGrad[T]{k, false}, args...)
	if err != nil {
		return nil, err
	}
	dscale, err := apply(batchNorm1DGrad[T]{k, true}, args...)
	if err != nil {
		return nil, err
	}
	dshift, err := apply(biasGrad[T]{rank: 2}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dscale, dshift, nil, nil}, nil
}

// batchNorm1DGrad computes d(loss)/dx, or d(loss)/d(scale) when scale is set, from x,
// scale, running mean, running variance and dy.
type batchNorm1DGrad[T kernels.Float] struct {
	bn    batchNorm1D[T]
	scale bool
}

func (k batchNorm1DGrad[T]) kind() string { return "BatchNorm1DGrad" }
func (k batchNorm1DGrad[T]) String() string {
	wrt := "x"
	if k.scale {
		wrt = "scale"
	}
	return fmt.Sprintf("BatchNorm1DGrad(%s, %v)", wrt, k.bn)
}
func (k batchNorm1DGrad[T]) dims() ([]int, int) {
	if k.scale {
		return []int{2, 1, 1, 1, 2}, 1
	}
	return []int{2, 1, 1, 1, 2}, 2
}
func (k batchNorm1DGrad[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	x := in[0]
	if len(x) != 2 || !in[4].Eq(x) {
		return nil, fmt.Errorf("input %v and gradient %v: want the same [N,C] shape", x, in[4])
	}
	if err := channelShapes(x, in[1:4]...); err != nil {
		return nil, err
	}
	if k.scale {
		return tensor.Shape{x[1]}, nil
	}
	return x.Clone(), nil
}
func (k batchNorm1DGrad[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	purego.BatchNormBackward(k.bn.BatchNorm, k.scale, as4D(in[0].Shape()), data[T](in[0]), data[T](in[1]), data[T](in[2]), data[T](in[3]), data[T](in[4]), data[T](out))
	return nil
}
