package graph

import (
	"gorgonia.org/gorgonia"

	"github.com/nndl/cnn/graph/cost"
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
	return n.batchNorm(name, x, "BatchNorm1D", 2, cost.BatchNorm1D, Norm{})
}
