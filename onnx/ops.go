package onnx

import (
	"fmt"
	"slices"
	"strconv"

	"gorgonia.org/gorgonia"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/onnx/onnxpb"
)

// node maps one operator onto a layer, or makes its output another name of its input.
func (b *importer) node(node *onnxpb.NodeProto) error {
	if d := node.GetDomain(); d != "" && d != "ai.onnx" {
		return fmt.Errorf("operator %s of domain %q has no layer", node.GetOpType(), d)
	}
	if len(node.GetOutput()) < 1 || node.GetOutput()[0] == "" {
		return fmt.Errorf("no output")
	}
	out := node.GetOutput()[0]
	if _, ok := b.slot[out]; ok {
		return fmt.Errorf("writes %s, which an earlier node already computes", out)
	}
	if _, ok := b.consts[out]; ok {
		return fmt.Errorf("writes %s, which an initialiser already holds", out)
	}
	for _, o := range node.GetOutput()[1:] {
		if o != "" && node.GetOpType() != "Dropout" {
			return fmt.Errorf("has %d outputs: the layer gives one", len(node.GetOutput()))
		}
	}
	in := node.GetInput()
	if len(in) < minInputs[node.GetOpType()] {
		return fmt.Errorf("%d inputs, want at least %d", len(in), minInputs[node.GetOpType()])
	}
	a := nodeAttrs(node)
	switch op := node.GetOpType(); op {
	case "Identity", "Dropout":
		return b.alias(out, in[0])
	case "Constant":
		t, ok := a["value"]
		if !ok || t.GetT() == nil {
			return fmt.Errorf("a Constant without a tensor value has no layer")
		}
		b.consts[out] = t.GetT()
		return nil
	case "Conv":
		return b.conv(node, a, out)
	case "MaxPool", "AveragePool":
		return b.pool(node, a, out)
	case "BatchNormalization":
		return b.batchNorm(node, a, out)
	case "Gemm", "MatMul":
		return b.linear(node, a, out)
	case "Flatten", "Reshape":
		return b.flatten(node, a, out)
	case "Clip":
		return b.clip(node, a, out)
	case "Pad":
		return b.pad(node, a, out)
	case "Add", "Mul", "Concat":
		return b.join(node, a, out)
	case "GlobalAveragePool":
		return b.unary(out, in[0], func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node { return n.GlobalAvgPool2D("", x) })
	case "LeakyRelu":
		return b.activation(out, in[0], graph.LeakyReLU(shortest(a.float("alpha", 0.01))))
	case "HardSigmoid":
		if !pytorchHardsigmoid(a) {
			return fmt.Errorf("alpha %g, beta %g: the Hardsigmoid layer is alpha 1/6, beta 0.5 (PyTorch's)", a.float("alpha", 0.2), a.float("beta", 0.5))
		}
		return b.activation(out, in[0], graph.Hardsigmoid)
	}
	if act, ok := activations[node.GetOpType()]; ok {
		return b.activation(out, in[0], act)
	}
	return fmt.Errorf("operator %s has no layer", node.GetOpType())
}

// minInputs are the inputs each operator needs; the others need one.
var minInputs = map[string]int{"Constant": 0, "Conv": 2, "BatchNormalization": 5, "Gemm": 2, "MatMul": 2,
	"Reshape": 2, "Add": 2, "Mul": 2, "Concat": 1, "Identity": 1, "Dropout": 1, "Relu": 1}

// activations are the operators that are an activation layer without settings.
var activations = map[string]graph.Act{"Relu": graph.ReLU, "Sigmoid": graph.Sigmoid, "Tanh": graph.Tanh, "HardSwish": graph.Hardswish}

func init() {
	for _, op := range []string{"Flatten", "Clip", "Pad", "GlobalAveragePool", "LeakyRelu", "HardSigmoid", "MaxPool", "AveragePool", "Sigmoid", "Tanh", "HardSwish"} {
		minInputs[op] = 1
	}
}

// unary declares a layer of one computed input.
func (b *importer) unary(out, in string, f func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node) error {
	s, err := b.value(in)
	if err != nil {
		return err
	}
	return b.layer(out, []int{s}, func(n *graph.Net, x []*gorgonia.Node) *gorgonia.Node { return f(n, x[0]) })
}

func (b *importer) activation(out, in string, a graph.Act) error {
	return b.unary(out, in, func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node { return n.Activation("", x, a) })
}

// window reads the kernel, strides, symmetric pads and dilations of a Conv or pooling node.
func window2D(a attrs, kernel []int) (k, s, p, d [2]int, err error) {
	ap := a.str("auto_pad")
	if ap != "" && ap != "NOTSET" && ap != "VALID" {
		return k, s, p, d, fmt.Errorf("auto_pad %s: want explicit pads", ap)
	}
	get := func(name string, def ...int) ([2]int, error) {
		v, err := a.ints(name, def...)
		if err == nil && len(v) != 2 {
			err = fmt.Errorf("attribute %s = %v: want 2 values (a 2-D window)", name, v)
		}
		if err != nil {
			return [2]int{}, err
		}
		return [2]int{v[0], v[1]}, nil
	}
	if k, err = get("kernel_shape", kernel...); err != nil {
		return
	}
	if s, err = get("strides", 1, 1); err != nil {
		return
	}
	if d, err = get("dilations", 1, 1); err != nil {
		return
	}
	pads, err := a.ints("pads", 0, 0, 0, 0)
	if err != nil {
		return
	}
	if len(pads) != 4 || pads[0] != pads[2] || pads[1] != pads[3] {
		return k, s, p, d, fmt.Errorf("pads %v: want 4 values, the same at the start and the end of each axis", pads)
	}
	if min(k[0], k[1], s[0], s[1], d[0], d[1]) < 1 {
		return k, s, p, d, fmt.Errorf("kernel %v, strides %v, dilations %v: want at least 1", k, s, d)
	}
	return k, s, [2]int{pads[0], pads[1]}, d, nil
}

func (b *importer) conv(node *onnxpb.NodeProto, a attrs, out string) error {
	in := node.GetInput()
	x, err := b.value(in[0])
	if err != nil {
		return err
	}
	wt, err := b.constant(in[1])
	if err != nil {
		return err
	}
	wd, w, err := floats(wt)
	if err != nil {
		return err
	}
	if len(wd) != 4 {
		return fmt.Errorf("weight %s has shape %v, want [out, in/groups, kh, kw]", in[1], wd)
	}
	k, s, p, d, err := window2D(a, wd[2:])
	if err != nil {
		return err
	}
	groups := a.int("group", 1)
	if groups < 1 || groups > 1<<20 {
		return fmt.Errorf("group %d: want at least 1", groups)
	}
	if xs := b.shape(x); len(xs) == 4 && xs[1]%int(groups) == 0 { // else the layer names the misfit
		if err := fits(in[1], wd, wd[0], xs[1]/int(groups), k[0], k[1]); err != nil {
			return err
		}
	}
	bias := len(in) > 2 && in[2] != ""
	name := b.layerName(node, in[1])
	c := graph.Conv{Out: wd[0], KernelHW: k, StrideHW: s, PaddingHW: p, Dilation: d, Groups: int(groups), NoBias: !bias}
	if err := b.layer(out, []int{x}, func(n *graph.Net, x []*gorgonia.Node) *gorgonia.Node { return n.Conv2D(name, x[0], c) }); err != nil {
		return err
	}
	if err := b.set(name+".weight", in[1], wd, w); err != nil || !bias {
		return err
	}
	return b.load(name+".bias", in[2])
}

func (b *importer) pool(node *onnxpb.NodeProto, a attrs, out string) error {
	k, s, p, d, err := window2D(a, nil)
	if err != nil {
		return err
	}
	if d != [2]int{1, 1} || a.int("storage_order", 0) != 0 {
		return fmt.Errorf("dilations %v, storage_order %d: the pooling layers have neither", d, a.int("storage_order", 0))
	}
	pool := graph.Pool{KernelHW: k, StrideHW: s, PaddingHW: p, Ceil: a.int("ceil_mode", 0) != 0,
		Exclusive: a.int("count_include_pad", 0) == 0}
	if node.GetOpType() == "MaxPool" {
		return b.unary(out, node.GetInput()[0], func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node { return n.MaxPool2D("", x, pool) })
	}
	return b.unary(out, node.GetInput()[0], func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node { return n.AvgPool2D("", x, pool) })
}

func (b *importer) batchNorm(node *onnxpb.NodeProto, a attrs, out string) error {
	in := node.GetInput()
	norm, err := normOf(a)
	if err != nil {
		return err
	}
	if a.int("training_mode", 0) != 0 {
		return fmt.Errorf("training_mode 1: want an inference graph")
	}
	x, err := b.value(in[0])
	if err != nil {
		return err
	}
	rank := len(b.shape(x))
	for _, t := range in[1:5] {
		c, err := b.constant(t)
		var dims []int
		if err == nil {
			dims, _, err = floats(c)
		}
		if err == nil && rank >= 2 {
			err = fits(t, dims, b.shape(x)[1])
		}
		if err != nil {
			return err
		}
	}
	name := b.layerName(node, in[1])
	if rank == 2 && norm != (graph.Norm{}) {
		return fmt.Errorf("epsilon %g, momentum %g on a [N, features] input: the BatchNorm1D layer has PyTorch's defaults, %g and %g",
			a.float("epsilon", 1e-5), a.float("momentum", 0.9), graph.BatchNormEpsilon, graph.BatchNormMomentum)
	}
	err = b.layer(out, []int{x}, func(n *graph.Net, x []*gorgonia.Node) *gorgonia.Node {
		if rank == 2 {
			return n.BatchNorm1D(name, x[0])
		}
		return n.BatchNorm2DWith(name, x[0], norm)
	})
	for i, suffix := range []string{".weight", ".bias", ".running_mean", ".running_var"} {
		if err == nil {
			err = b.load(name+suffix, in[1+i])
		}
	}
	return err
}

// normOf reads a BatchNormalization's epsilon and momentum (ONNX's momentum is the old
// running statistics' weight, as graph.Norm's is). Each is a float32 in the file: it is
// taken as the shortest decimal that rounds to it (0.001, not 0.0010000000474974513), and
// left at zero, the layer's default, when that is the default.
func normOf(a attrs) (graph.Norm, error) {
	eps := shortest(a.float("epsilon", 1e-5))
	mom := shortest(a.float("momentum", 0.9))
	if !(eps > 0 && eps < 1) || !(mom > 0 && mom < 1) {
		return graph.Norm{}, fmt.Errorf("epsilon %g, momentum %g: want both between 0 and 1", eps, mom)
	}
	var n graph.Norm
	if float32(eps) != float32(graph.BatchNormEpsilon) {
		n.Eps = eps
	}
	if float32(mom) != float32(graph.BatchNormMomentum) {
		n.Momentum = mom
	}
	return n, nil
}

// shortest returns the shortest decimal that rounds to f in float32.
func shortest(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}

// linear maps Gemm (alpha = beta = 1, A not transposed, C a bias of the outputs) and MatMul
// by a constant onto Linear layers.
func (b *importer) linear(node *onnxpb.NodeProto, a attrs, out string) error {
	in := node.GetInput()
	x, err := b.value(in[0])
	if err != nil {
		return err
	}
	if a.float("alpha", 1) != 1 || a.float("beta", 1) != 1 || a.int("transA", 0) != 0 {
		return fmt.Errorf("alpha %g, beta %g, transA %d: the Linear layer is alpha 1, beta 1, transA 0", a.float("alpha", 1), a.float("beta", 1), a.int("transA", 0))
	}
	wt, err := b.constant(in[1])
	if err != nil {
		return err
	}
	wd, w, err := floats(wt)
	if err != nil {
		return err
	}
	if len(wd) != 2 {
		return fmt.Errorf("weight %s has shape %v, want 2 dimensions", in[1], wd)
	}
	if node.GetOpType() == "MatMul" || a.int("transB", 0) == 0 { // B is [in,out]: the layer keeps [out,in]
		t := make([]float32, len(w))
		for i := 0; i < wd[0]; i++ {
			for j := 0; j < wd[1]; j++ {
				t[j*wd[0]+i] = w[i*wd[1]+j]
			}
		}
		wd, w = []int{wd[1], wd[0]}, t
	}
	if xs := b.shape(x); len(xs) == 2 {
		if err := fits(in[1], wd, wd[0], xs[1]); err != nil {
			return err
		}
	}
	bias := node.GetOpType() == "Gemm" && len(in) > 2 && in[2] != ""
	name, features := b.layerName(node, in[1]), wd[0]
	err = b.layer(out, []int{x}, func(n *graph.Net, x []*gorgonia.Node) *gorgonia.Node {
		if bias {
			return n.Linear(name, x[0], features)
		}
		return n.LinearNoBias(name, x[0], features)
	})
	if err == nil {
		err = b.set(name+".weight", in[1], wd, w)
	}
	if err != nil || !bias {
		return err
	}
	ct, err := b.constant(in[2])
	if err != nil {
		return err
	}
	cd, c, err := floats(ct)
	if err != nil {
		return err
	}
	if len(cd) == 2 && cd[0] == 1 {
		cd = cd[1:]
	}
	return b.set(name+".bias", in[2], cd, c)
}

// fits checks an initialiser's shape against the parameter a layer will declare for it,
// before the layer is: the layer allocates its parameters from its settings and its input's
// shape, which a hostile file can make far larger than the initialisers it holds.
func fits(init string, dims []int, want ...int) error {
	if !slices.Equal(dims, want) {
		return fmt.Errorf("initialiser %s has shape %v, the layer wants %v", init, dims, want)
	}
	return nil
}
