package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
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
	return n.add(l, n.typed.batchNorm(bn, 2), in...)
}
