package graph

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/kernels"
)

// BatchNorm settings of the chapter's code (Paddle's defaults, docs/reference.md section 4).
const (
	// BatchNormEpsilon is added to the variance before its square root.
	BatchNormEpsilon = 1e-5
	// BatchNormMomentum is the weight of the old running statistics in Paddle's sense:
	// running = 0.9*running + 0.1*batch (PyTorch calls the same layer momentum 0.1).
	BatchNormMomentum = 0.9
)

// BatchNorm2D adds a batch normalisation layer over the channels of x [N,C,H,W]:
// y = (x - mean) / sqrt(var + eps) * scale + shift, per channel, with eps = 1e-5.
//
// Its parameters use PyTorch's names: name.weight (the scale, starting at 1) and name.bias
// (the shift, starting at 0) are trainable; name.running_mean (starting at 0) and
// name.running_var (starting at 1) are buffers, saved with the weights but not trained.
//
// In training mode (Net.Training) the layer normalises with the statistics of the batch
// (biased variance) and, as a side effect of every forward pass, updates the buffers:
// running = 0.9*running + 0.1*batch, with the batch variance unbiased (divided by n-1).
// Batch statistics need more than one value per channel (N*H*W > 1): otherwise running the
// forward pass fails, as PyTorch's does. In inference mode the layer normalises with the
// buffers and leaves them alone. Both modes have exact gradients.
//
// Accounting: 2C trainable values and 2C buffers. paddle.flops counts 2 per input element;
// FLOPs counts the same, one multiply and one add per element once each channel's
// normalisation and affine map are folded into y = a*x + b (the per-channel statistics,
// O(C) work, and the statistics pass over the batch in training are not counted).
// The receptive field is unchanged.
func (n *Net) BatchNorm2D(name string, x *gorgonia.Node) *gorgonia.Node {
	return n.BatchNorm2DWith(name, x, Norm{})
}

// Norm sets a batch normalisation's epsilon and momentum where a model differs from
// PyTorch's defaults (torchvision's MobileNetV3: eps 0.001, PyTorch momentum 0.01, which is
// Momentum 0.99 here). A field left at zero takes BatchNormEpsilon or BatchNormMomentum.
type Norm struct {
	Eps      float64 // added to the variance; BatchNormEpsilon when 0
	Momentum float64 // the old running statistics' weight (1 - PyTorch's momentum); BatchNormMomentum when 0
}

// BatchNorm2DWith is BatchNorm2D with the epsilon and momentum of o.
func (n *Net) BatchNorm2DWith(name string, x *gorgonia.Node, o Norm) *gorgonia.Node {
	return n.batchNorm(name, x, "BatchNorm2D", 4, cost.BatchNorm2D, o)
}

// batchNorm adds a batch normalisation layer of type typ over the channels of x, of the
// given rank, accounted by counts, with o's epsilon and momentum.
func (n *Net) batchNorm(name string, x *gorgonia.Node, typ string, rank int, counts func([]int) ([]int, cost.Counts, error), o Norm) *gorgonia.Node {
	name = n.fullName(name, typ)
	if n.err != nil {
		return x
	}
	_, c, err := counts(x.Shape())
	if err != nil {
		n.fail(name, typ, x, err)
		return x
	}
	bn := kernels.BatchNormSpec{Training: n.training, Eps: BatchNormEpsilon, Momentum: BatchNormMomentum}
	if o.Eps != 0 {
		bn.Eps = o.Eps
	}
	if o.Momentum != 0 {
		bn.Momentum = o.Momentum
	}
	if !(bn.Eps > 0 && bn.Eps < 1) || !(bn.Momentum > 0 && bn.Momentum < 1) {
		n.fail(name, typ, x, fmt.Errorf("eps %v, momentum %v: want both between 0 and 1", bn.Eps, bn.Momentum))
		return x
	}
	ch := x.Shape()[1]
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
		node, err := n.param(name+p.suffix, tensor.Shape{ch}, p.trainable, p.init, 0, 0)
		if err != nil {
			n.fail(name, typ, x, err)
			return x
		}
		in = append(in, node)
	}
	l := &Layer{Name: name, Type: typ, Counts: c, Attrs: fmt.Sprintf("%d eps %g momentum %g", ch, bn.Eps, bn.Momentum),
		Settings: Norm{Eps: bn.Eps, Momentum: bn.Momentum}}
	if bn.Training {
		l.Attrs += " batch statistics"
	} else {
		l.Attrs += " running statistics"
	}
	return n.add(l, n.typed.batchNorm(bn, rank), in...)
}

// batchNorm normalises x [N,C,H,W] per channel. Inputs: x, scale [C], shift [C], running
// mean [C], running variance [C]; only the first three are differentiated. In training mode
// the forward pass normalises with the batch statistics and updates the running statistics
// in place; in inference mode it reads them. Its maps (x, y, and dy and dx in the gradient's
// passes) may be in the channel-blocked layout of block (0: NCHW).
type batchNorm[T kernels.Float] struct {
	kernels.BatchNormSpec
	rank  int // of the input: 4 for BatchNorm2D's [N,C,H,W], 2 for BatchNorm1D's [N,C]
	block int
}

func (k batchNorm[T]) kind() string { return k.layer() + reluSuffix(k.ReLU) }

// layer is the layer type: BatchNorm2D or BatchNorm1D.
func (k batchNorm[T]) layer() string {
	if k.rank == 2 {
		return "BatchNorm1D"
	}
	return "BatchNorm2D"
}

// as4D is an input shape as the [N,C,H,W] the kernels take ([N,C] as [N,C,1,1]).
func as4D(s tensor.Shape) []int {
	if len(s) == 2 {
		return []int{s[0], s[1], 1, 1}
	}
	return s
}
func (k batchNorm[T]) String() string {
	mode := "inference"
	if k.Training {
		mode = "training"
	}
	return fmt.Sprintf("%s(%s eps=%g momentum=%g)%s%s", k.layer(), mode, k.Eps, k.Momentum, blocksString("maps", k.block), reluSuffix(k.ReLU))
}

// blocking: BatchNorm2D works on each channel's map alone, its input and output in one
// layout; in the gradient's passes (batchNormSums, batchNormGradX) x and dy too.
func (k batchNorm[T]) blocking(in []tensor.Shape) Blocking { return k.mapsBlocking(len(in), Joined, 0) }

// mapsBlocking is the Blocking of a pass of n inputs, of which those at maps are Joined maps,
// and the output out.
func (k batchNorm[T]) mapsBlocking(n int, out Layout, maps ...int) Blocking {
	if k.rank != 4 {
		return Blocking{}
	}
	l := layouts(n, NCHW)
	for _, j := range maps {
		l[j] = Joined
	}
	return Blocking{In: l, Out: out}
}

// relaid returns k on maps in the channel-blocked layout of block b if in marks its maps, at
// maps, blocked, and out the same of its output.
func (k batchNorm[T]) relaid(b int, in []bool, out bool, maps ...int) (batchNorm[T], error) {
	var err error
	k.block, err = joined(b, in, out, maps...)
	return k, err
}

func (k batchNorm[T]) relayout(b int, in []bool, out bool) (kernel, error) {
	r, err := k.relaid(b, in, out, 0)
	return r, err
}

func (k batchNorm[T]) dims() ([]int, int) { return []int{k.rank, 1, 1, 1, 1}, k.rank }
func (k batchNorm[T]) diffWRT() []bool    { return []bool{true, true, true, false, false} }

func (k batchNorm[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	if len(in[0]) != k.rank {
		return nil, fmt.Errorf("input shape %v is not %s", in[0], map[int]string{2: "[N,C]", 4: "[N,C,H,W]"}[k.rank])
	}
	if err := channelShapes(in[0], in[1:5]...); err != nil {
		return nil, err
	}
	return in[0].Clone(), nil
}

// channelShapes checks that each of per is [C] for x [N,C,H,W].
func channelShapes(x tensor.Shape, per ...tensor.Shape) error {
	for _, s := range per {
		if len(s) != 1 || s[0] != x[1] {
			return fmt.Errorf("per-channel shape %v does not fit input %v (want [%d])", s, x, x[1])
		}
	}
	return nil
}

func (k batchNorm[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s := as4D(in[0].Shape())
	switch m := s[0] * s[2] * s[3]; {
	case k.Training && m < 2 && k.rank == 2:
		return fmt.Errorf("batch statistics need more than one value per feature, got a batch of %d", s[0])
	case k.Training && m < 2:
		return fmt.Errorf("batch statistics need more than one value per channel, got %d (batch %d of %dx%d maps)", m, s[0], s[2], s[3])
	}
	if k.block != 0 {
		kernels.BatchNormForwardBlocked(k.BatchNormSpec, s, kernels.BlockOf(k.block, s[1]), data[T](in[0]), data[T](in[1]), data[T](in[2]), data[T](in[3]), data[T](in[4]), data[T](out))
		return nil
	}
	kernels.BatchNormForward(k.BatchNormSpec, s, data[T](in[0]), data[T](in[1]), data[T](in[2]), data[T](in[3]), data[T](in[4]), data[T](out))
	return nil
}

// grads differentiates through one summary: a pass over x and dy computes, per channel, the
// sums both parameter gradients are and the statistics that normalised x (batchNormSums, a
// [6,C] node); the input gradient reads it in a second pass, and the parameter gradients are
// two of its rows. Each step thus reads x and dy twice, whatever the order the ops run in.
func (k batchNorm[T]) grads(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	sums, err := apply(batchNormSums[T]{k}, in[0], in[3], in[4], grad)
	if err != nil {
		return nil, err
	}
	dx, err := apply(batchNormGradX[T]{k}, in[0], in[1], sums, grad)
	if err != nil {
		return nil, err
	}
	dscale, err := apply(batchNormRow[T]{k, 1}, sums)
	if err != nil {
		return nil, err
	}
	dshift, err := apply(batchNormRow[T]{k, 0}, sums)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dscale, dshift, nil, nil}, nil
}

// batchNormSums computes the summary [6,C] of kernels.BatchNormGradSums from x, the running
// mean, the running variance and dy.
type batchNormSums[T kernels.Float] struct{ bn batchNorm[T] }

func (k batchNormSums[T]) kind() string { return k.bn.layer() + "Grad" }
func (k batchNormSums[T]) String() string {
	return fmt.Sprintf("%sGradSums(%v)", k.bn.layer(), k.bn)
}
func (k batchNormSums[T]) dims() ([]int, int) { r := k.bn.rank; return []int{r, 1, 1, r}, 2 }
func (k batchNormSums[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	x := in[0]
	if err := k.bn.sameShape(x, in[3]); err != nil {
		return nil, err
	}
	if err := channelShapes(x, in[1:3]...); err != nil {
		return nil, err
	}
	return tensor.Shape{kernels.BatchNormGradRows, x[1]}, nil
}
func (k batchNormSums[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s, x, rmean, rvar, dy := as4D(in[0].Shape()), data[T](in[0]), data[T](in[1]), data[T](in[2]), data[T](in[3])
	if b := k.bn.block; b != 0 {
		kernels.BatchNormGradSumsBlocked(k.bn.BatchNormSpec, s, kernels.BlockOf(b, s[1]), x, rmean, rvar, dy, data[T](out))
		return nil
	}
	kernels.BatchNormGradSums(k.bn.BatchNormSpec, s, x, rmean, rvar, dy, data[T](out))
	return nil
}

func (k batchNormSums[T]) blocking(in []tensor.Shape) Blocking {
	return k.bn.mapsBlocking(len(in), NCHW, 0, 3)
}

func (k batchNormSums[T]) relayout(b int, in []bool, _ bool) (kernel, error) {
	var err error
	k.bn, err = k.bn.relaid(b, in, in[0], 0, 3) // its output is no map
	return k, err
}

// sameShape checks that the input x and the gradient dy have the same shape of the layer's rank.
func (k batchNorm[T]) sameShape(x, dy tensor.Shape) error {
	if len(x) != k.rank || !dy.Eq(x) {
		return fmt.Errorf("input %v and gradient %v: want the same %s shape", x, dy, map[int]string{2: "[N,C]", 4: "[N,C,H,W]"}[k.rank])
	}
	return nil
}

// batchNormGradX computes d(loss)/dx from x, scale, the summary of batchNormSums and dy.
type batchNormGradX[T kernels.Float] struct{ bn batchNorm[T] }

func (k batchNormGradX[T]) kind() string { return k.bn.layer() + "Grad" }
func (k batchNormGradX[T]) String() string {
	return fmt.Sprintf("%sGrad(x, %v)", k.bn.layer(), k.bn)
}
func (k batchNormGradX[T]) dims() ([]int, int) { r := k.bn.rank; return []int{r, 1, 2, r}, r }
func (k batchNormGradX[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	x := in[0]
	if err := k.bn.sameShape(x, in[3]); err != nil {
		return nil, err
	}
	if err := channelShapes(x, in[1]); err != nil {
		return nil, err
	}
	if want := (tensor.Shape{kernels.BatchNormGradRows, x[1]}); !in[2].Eq(want) {
		return nil, fmt.Errorf("summary shape %v does not fit input %v (want %v)", in[2], x, want)
	}
	return x.Clone(), nil
}
func (k batchNormGradX[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s, x, scale, sums, dy := as4D(in[0].Shape()), data[T](in[0]), data[T](in[1]), data[T](in[2]), data[T](in[3])
	if b := k.bn.block; b != 0 {
		kernels.BatchNormGradXBlocked(k.bn.BatchNormSpec, s, kernels.BlockOf(b, s[1]), x, scale, sums, dy, data[T](out))
		return nil
	}
	kernels.BatchNormGradX(k.bn.BatchNormSpec, s, x, scale, sums, dy, data[T](out))
	return nil
}

func (k batchNormGradX[T]) blocking(in []tensor.Shape) Blocking {
	return k.bn.mapsBlocking(len(in), Joined, 0, 3)
}

func (k batchNormGradX[T]) relayout(b int, in []bool, out bool) (kernel, error) {
	var err error
	k.bn, err = k.bn.relaid(b, in, out, 0, 3)
	return k, err
}

// batchNormRow copies one row of the summary of batchNormSums: row 0 is d(loss)/d(shift),
// row 1 d(loss)/d(scale).
type batchNormRow[T kernels.Float] struct {
	bn  batchNorm[T]
	row int
}

func (k batchNormRow[T]) kind() string { return k.bn.layer() + "Grad" }
func (k batchNormRow[T]) String() string {
	return fmt.Sprintf("%sGrad(%s, %v)", k.bn.layer(), [...]string{"shift", "scale"}[k.row], k.bn)
}
func (k batchNormRow[T]) dims() ([]int, int) { return []int{2}, 1 }
func (k batchNormRow[T]) shape(in ...tensor.Shape) (tensor.Shape, error) {
	if len(in[0]) != 2 || in[0][0] != kernels.BatchNormGradRows {
		return nil, fmt.Errorf("summary shape %v: want [%d,C]", in[0], kernels.BatchNormGradRows)
	}
	return tensor.Shape{in[0][1]}, nil
}
func (k batchNormRow[T]) do(out gorgonia.Value, in ...gorgonia.Value) error {
	s, c := data[T](in[0]), in[0].Shape()[1]
	copy(data[T](out), s[k.row*c:(k.row+1)*c])
	return nil
}
