package graph

import (
	"fmt"
	"strings"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph/cost"
	"github.com/nndl/cnn/kernels"
)

// Impl selects the implementation behind Conv2D and the pooling layers.
type Impl int

const (
	// Fast uses the fast convolution (oneDNN's kernels in the dnnl build, im2col + GEMM
	// otherwise; see FastConv) and single-pass pooling.
	Fast Impl = iota
	// Naive uses the chapter's hand-written nested-loop Conv2D and Pool2D.
	Naive
)

func (i Impl) String() string {
	if i == Naive {
		return "naive"
	}
	return "fast"
}

// Net declares a network on a Gorgonia expression graph. Each layer method adds the layer's
// nodes, checks its shapes and records its accounting. The first error (a shape that does not
// fit, say) stops the declaration: later calls do nothing and Err reports it, so a model reads
// as a plain list of layers.
type Net struct {
	g        *gorgonia.ExprGraph
	params   *Params
	impl     Impl
	training bool

	layers  []*Layer
	rf      map[*gorgonia.Node]cost.Field // receptive field and jump of each node (height)
	rfW     map[*gorgonia.Node]cost.Field // the same along the width
	scope   []string
	counts  map[string]int
	nodes   []*gorgonia.Node // trainable parameter nodes in declaration order
	paramOf map[*gorgonia.Node]*Param
	ws      *kernels.Scratch // work buffers shared by the network's kernels (see BeginRun)
	typed   typed            // makes its kernels, in its parameters' element type
	// batchInit defers the parameters' initialisers to one parallel pass at the end of
	// Declare; a network built directly with New initialises each parameter as declared.
	batchInit bool
	err       error
}

// New starts an empty network whose parameters live in params.
func New(params *Params, impl Impl) *Net {
	return &Net{
		g:       gorgonia.NewGraph(),
		params:  params,
		impl:    impl,
		rf:      map[*gorgonia.Node]cost.Field{},
		rfW:     map[*gorgonia.Node]cost.Field{},
		counts:  map[string]int{},
		paramOf: map[*gorgonia.Node]*Param{},
		ws:      kernels.NewScratch(),
		typed:   typedFor(params.dtype),
	}
}

// SetTraining chooses the mode of the layers declared from now on: training (BatchNorm on
// the batch's statistics, Dropout active) or inference. Declare sets it from its argument.
func (n *Net) SetTraining(on bool) { n.training = on }

// Graph returns the expression graph.
func (n *Net) Graph() *gorgonia.ExprGraph { return n.g }

// Params returns the parameter store.
func (n *Net) Params() *Params { return n.params }

// Impl returns the implementation the network's Conv2D and pooling layers use.
func (n *Net) Impl() Impl { return n.impl }

// Training reports whether the network is declared in training mode (BatchNorm normalises
// with the batch statistics and updates its running statistics).
func (n *Net) Training() bool { return n.training }

// Layers returns the declared layers in order.
func (n *Net) Layers() []*Layer { return n.layers }

// Err returns the first declaration error.
func (n *Net) Err() error { return n.err }

// ParamNodes returns the nodes of the trainable parameters in declaration order.
func (n *Net) ParamNodes() []*gorgonia.Node { return n.nodes }

// ParamOf returns the parameter bound to a node, or nil.
func (n *Net) ParamOf(node *gorgonia.Node) *Param { return n.paramOf[node] }

// Input adds the network's input: a tensor of the given shape, batch first.
//
// The input must be within MaxTensorElements; Declare checks it before calling Input.
func (n *Net) Input(name string, shape ...int) *gorgonia.Node {
	x := gorgonia.NewTensor(n.g, n.params.dtype, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name), gorgonia.WithInit(gorgonia.Zeroes()))
	n.rf[x] = cost.Field{RF: 1, Jump: 1}
	n.rfW[x] = cost.Field{RF: 1, Jump: 1}
	return x
}

// Block runs body with every layer name prefixed by name and the layers grouped under it
// (ResNet's "layer2.0", say).
func (n *Net) Block(name string, body func()) {
	n.scope = append(n.scope, name)
	body()
	n.scope = n.scope[:len(n.scope)-1]
}

func (n *Net) fullName(name, typ string) string {
	if name == "" {
		n.counts[typ]++
		name = fmt.Sprintf("%s_%d", strings.ToLower(typ), n.counts[typ])
	}
	return strings.Join(append(n.scope[:len(n.scope):len(n.scope)], name), ".")
}

// fail records the first error, naming the layer.
func (n *Net) fail(name, typ string, x *gorgonia.Node, err error) {
	if n.err == nil {
		n.err = fmt.Errorf("layer %s (%s) on input %v: %w", name, typ, x.Shape(), err)
	}
}

// param binds the named parameter (created on first use) to a new node of the graph.
func (n *Net) param(name string, shape tensor.Shape, trainable bool, init Init, fanIn, fanOut int) (*gorgonia.Node, error) {
	if err := checkSize("parameter "+name, shape); err != nil {
		return nil, err
	}
	p, err := n.params.get(name, shape, trainable, init, fanIn, fanOut)
	if err != nil {
		return nil, err
	}
	if !n.batchInit {
		n.params.initPending()
	}
	node := gorgonia.NewTensor(n.g, n.params.dtype, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name), gorgonia.WithValue(p.Value))
	n.paramOf[node] = p
	if trainable {
		n.nodes = append(n.nodes, node)
	}
	return node, nil
}

// add applies a kernel, then records the layer with its accounting.
func (n *Net) add(l *Layer, k kernel, in ...*gorgonia.Node) *gorgonia.Node {
	out, err := apply(k, in...)
	if err != nil {
		n.fail(l.Name, l.Type, in[0], err)
		return in[0]
	}
	if err := checkSize("output", out.Shape()); err != nil {
		n.fail(l.Name, l.Type, in[0], err)
		return in[0]
	}
	l.Inputs = in
	l.InShape = in[0].Shape().Clone()
	l.Output = out
	l.OutShape = out.Shape().Clone()
	if len(l.Block) == 0 && len(n.scope) > 0 {
		l.Block = strings.Join(n.scope, ".")
	}
	// The receptive field grows from the widest of the inputs' (a residual join takes the
	// larger of its two; parameters have none).
	var f, fw cost.Field
	for _, x := range in {
		f.RF, f.Jump = max(f.RF, n.rf[x].RF), max(f.Jump, n.rf[x].Jump)
		fw.RF, fw.Jump = max(fw.RF, n.rfW[x].RF), max(fw.Jump, n.rfW[x].Jump)
	}
	f, fw = l.Grow(f), l.GrowW(fw)
	n.rf[out], n.rfW[out] = f, fw
	l.RF, l.Jump, l.RFW, l.JumpW = f.RF, f.Jump, fw.RF, fw.Jump
	n.layers = append(n.layers, l)
	return out
}

// Conv describes a 2-D convolution: Out filters of Kernel x Kernel over all input channels,
// or over their group's (Groups), as torch.nn.Conv2d takes it. Kernel, Stride and Padding
// are the square form; the HW pairs give the rectangular one (height, width), a pair left
// at zero taking the square value.
type Conv struct {
	Out     int  // output channels
	Kernel  int  // kernel side
	Stride  int  // 1 when 0
	Padding int  // zeros added on every side
	NoBias  bool // omit the bias
	Init    Init // weight initialiser; biases start at zero

	KernelHW, StrideHW, PaddingHW [2]int // the rectangular forms of Kernel, Stride and Padding
	Dilation                      [2]int // the distance between kernel taps; 1x1 when zero
	// Groups splits the input and output channels into that many groups, each filter
	// seeing only its group's inputs (Groups = input channels: depthwise); 1 when 0.
	Groups int
}

// Conv2D adds a convolution layer with parameters name.weight [Out,C,K,K] and name.bias [Out].
func (n *Net) Conv2D(name string, x *gorgonia.Node, c Conv) *gorgonia.Node {
	name = n.fullName(name, "Conv2D")
	if n.err != nil {
		return x
	}
	xs := x.Shape()
	g := c.geom()
	_, counts, err := cost.Conv2D(xs, c.Out, g, !c.NoBias)
	if err != nil {
		n.fail(name, "Conv2D", x, err)
		return x
	}
	// PyTorch's fans: the weights each filter (and each input channel) meets.
	d, kk := xs[1]/g.Groups, g.KH*g.KW
	w, err := n.param(name+".weight", tensor.Shape{c.Out, d, g.KH, g.KW}, true, c.Init, d*kk, c.Out/g.Groups*kk)
	if err != nil {
		n.fail(name, "Conv2D", x, err)
		return x
	}
	in := []*gorgonia.Node{x, w}
	if !c.NoBias {
		b, err := n.param(name+".bias", tensor.Shape{c.Out}, true, Zeros, 0, 0)
		if err != nil {
			n.fail(name, "Conv2D", x, err)
			return x
		}
		in = append(in, b)
	}
	k := n.typed.conv(g, !c.NoBias, n.ws)
	if n.impl == Naive {
		k = n.typed.convNaive(g, !c.NoBias)
	}
	l := &Layer{Name: name, Type: "Conv2D", Counts: counts, Attrs: convAttrs(c.Out, g),
		Settings: ConvSettings{Geom: g.Norm(), Out: c.Out, Bias: !c.NoBias}}
	if c.NoBias {
		l.Attrs += " no bias"
	}
	return n.add(l, k, in...)
}

// Pool describes a pooling window, as torch.nn.MaxPool2d and AvgPool2d take it. Kernel,
// Stride and Padding are the square form; the HW pairs give the rectangular one (height,
// width), a pair left at zero taking the square value.
type Pool struct {
	Kernel  int // window side
	Stride  int // the window side when 0
	Padding int // padding on every side, at most half the window
	// Exclusive averages over the pixels inside the image only (Paddle's default);
	// otherwise padded zeros count in the mean (PyTorch's default). Max pooling ignores it.
	Exclusive bool

	KernelHW, StrideHW, PaddingHW [2]int // the rectangular forms of Kernel, Stride and Padding
	// Ceil rounds the output size up (PyTorch's ceil_mode): the last window may run past the
	// input, as long as it starts inside the input or its left padding. An average then
	// divides by the part of the window inside the padded input.
	Ceil bool
}

func (n *Net) pool(typ, name string, x *gorgonia.Node, p Pool, mode poolMode) *gorgonia.Node {
	name = n.fullName(name, typ)
	if n.err != nil {
		return x
	}
	g := p.geom()
	_, counts, err := cost.Pool2D(x.Shape(), g, mode != kernels.PoolMax)
	if err != nil {
		n.fail(name, typ, x, err)
		return x
	}
	k := n.typed.pool(g, mode)
	if n.impl == Naive {
		if g.PH != 0 || g.PW != 0 {
			n.fail(name, typ, x, fmt.Errorf("the hand-written Pool2D has no padding"))
			return x
		}
		k = n.typed.poolNaive(g, mode)
	}
	l := &Layer{Name: name, Type: typ, Counts: counts, Attrs: poolAttrs(g),
		Settings: PoolSettings{Geom: g.Norm(), Exclusive: mode == kernels.PoolAvgExclusive}}
	if mode == kernels.PoolAvgExclusive {
		l.Attrs += " exclusive"
	}
	return n.add(l, k, x)
}

// MaxPool2D adds a max pooling layer.
func (n *Net) MaxPool2D(name string, x *gorgonia.Node, p Pool) *gorgonia.Node {
	return n.pool("MaxPool2D", name, x, p, kernels.PoolMax)
}

// AvgPool2D adds an average pooling layer (see Pool.Exclusive for the padding convention).
func (n *Net) AvgPool2D(name string, x *gorgonia.Node, p Pool) *gorgonia.Node {
	mode := kernels.PoolAvg
	if p.Exclusive {
		mode = kernels.PoolAvgExclusive
	}
	return n.pool("AvgPool2D", name, x, p, mode)
}

// GlobalAvgPool2D averages each channel's whole map: [N,C,H,W] -> [N,C,1,1].
func (n *Net) GlobalAvgPool2D(name string, x *gorgonia.Node) *gorgonia.Node {
	name = n.fullName(name, "GlobalAvgPool2D")
	if n.err != nil {
		return x
	}
	_, counts, err := cost.GlobalAvgPool2D(x.Shape())
	if err != nil {
		n.fail(name, "GlobalAvgPool2D", x, err)
		return x
	}
	return n.add(&Layer{Name: name, Type: "GlobalAvgPool2D", Counts: counts}, n.typed.globalAvg(), x)
}

// Flatten reshapes [N,C,H,W] to [N,C*H*W].
func (n *Net) Flatten(name string, x *gorgonia.Node) *gorgonia.Node {
	name = n.fullName(name, "Flatten")
	if n.err != nil {
		return x
	}
	xs := x.Shape()
	to, counts, err := cost.Flatten(xs)
	if err != nil {
		n.fail(name, "Flatten", x, err)
		return x
	}
	return n.add(&Layer{Name: name, Type: "Flatten", Counts: counts}, n.typed.reshape(xs.Clone(), to), x)
}

// Linear adds a fully connected layer y = x W^T + b with parameters name.weight [out,in]
// (PyTorch's layout) initialised XavierUniform and name.bias [out] at zero.
func (n *Net) Linear(name string, x *gorgonia.Node, out int) *gorgonia.Node {
	return n.linear(name, x, out, true)
}

// ReLU adds max(x, 0).
func (n *Net) ReLU(x *gorgonia.Node) *gorgonia.Node {
	name := n.fullName("", "ReLU")
	if n.err != nil {
		return x
	}
	l := &Layer{Name: name, Type: "ReLU", Counts: cost.Elementwise(x.Shape(), 1)}
	return n.add(l, n.typed.relu(x.Dims()), x)
}

// Loss returns the mean softmax cross-entropy of logits [N,K] against labels [N] (class
// indices stored as floats), computed stably.
func (n *Net) Loss(logits, labels *gorgonia.Node) (*gorgonia.Node, error) {
	if n.err != nil {
		return nil, n.err
	}
	loss, err := apply(n.typed.loss(), logits, labels)
	if err != nil {
		return nil, fmt.Errorf("loss on logits %v and labels %v: %w", logits.Shape(), labels.Shape(), err)
	}
	return loss, nil
}

// Limits on what a declaration may ask for, checked from the shapes before anything is
// allocated, so that a typo in a flag or a hostile checkpoint's metadata is an error and not
// an out-of-memory crash.
const (
	// MaxTensorElements bounds any one tensor: the input, a parameter, a layer's output
	// (2^28 elements, 1 GiB of float32).
	MaxTensorElements = 1 << 28
	// MaxActivationElements bounds the outputs of all the layers of one forward pass
	// together (2^30 elements, 4 GiB of float32).
	MaxActivationElements = 1 << 30
	// MaxParamElements bounds all the parameters and buffers of one store together (2^30
	// elements, 4 GiB of float32; torchvision's largest CNN, VGG19, holds 1.4e8).
	MaxParamElements = 1 << 30
)

// elements returns the number of elements of shape, or -1 when it is above
// MaxTensorElements (the product is never formed past the limit, so it cannot overflow).
func elements(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		if d != 0 && n > MaxTensorElements/d {
			return -1
		}
		n *= d
	}
	return n
}

func checkSize(what string, shape []int) error {
	if elements(shape) < 0 {
		return fmt.Errorf("%s of shape %s is larger than the limit of %s elements (1 GiB of float32)", what, shapeString(shape), Comma(MaxTensorElements))
	}
	return nil
}

// BeginRun tells the network's kernels that run number run (not 0) of a program starts,
// one in which each operation runs once and no kernel's input changes between the kernels
// that read it: they may then share what they derive from an input (kernels.Scratch.Run).
// A VM that runs the training pass calls it before each run.
func (n *Net) BeginRun(run uint64) { n.ws.Run = run }
