package onnx

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/onnx/onnxpb"
)

// Import reads an ONNX CNN from r (see FromProto).
func Import(r io.Reader) (graph.Model, *graph.Params, error) {
	mp, err := ReadModel(r)
	if err != nil {
		return graph.Model{}, nil, err
	}
	return FromProto(mp)
}

// FromProto maps an ONNX model onto the layers of package graph and returns the model, its
// input [C,H,W] and classes taken from the graph's one input [N,C,H,W] and one output
// [N,classes], and a float32 store holding its initialisers as the layers' parameters.
// Parameter layers are named after the module path torch.onnx.export writes in the node
// names ("/layer1/layer1.0/conv1/Conv" is layer1.0.conv1, its weight layer1.0.conv1.weight),
// or after their weight's initialiser ("fc.weight" is fc). An operator or a setting with no
// layer, a tensor read before it is computed (so a cycle too), a missing initialiser or a
// shape that does not fit is an error naming the node.
func FromProto(mp *onnxpb.ModelProto) (graph.Model, *graph.Params, error) {
	if err := checkOpset(mp); err != nil {
		return graph.Model{}, nil, err
	}
	g := mp.GetGraph()
	b := &importer{params: graph.NewParams(tensor.Float32, 0), slot: map[string]int{},
		consts: map[string]*onnxpb.TensorProto{}, names: map[string]bool{}}
	for _, t := range g.GetInitializer() {
		b.consts[t.GetName()] = t
	}
	input, shape, err := graphInput(g, b.consts)
	if err != nil {
		return graph.Model{}, nil, err
	}
	if shape[0]*shape[1]*shape[2] > MaxInputElements {
		return graph.Model{}, nil, fmt.Errorf("input %s: %v is more than the limit of %s values per image", input, shape, graph.Comma(MaxInputElements))
	}
	b.net = graph.New(b.params, graph.Fast)
	b.vals = []*gorgonia.Node{b.net.Input(InputName, append([]int{1}, shape...)...)}
	b.slot[input] = 0
	if err := b.nodes(g); err != nil {
		return graph.Model{}, nil, err
	}
	if len(g.GetOutput()) != 1 {
		return graph.Model{}, nil, fmt.Errorf("the graph has %d outputs, want one: the logits", len(g.GetOutput()))
	}
	out := g.GetOutput()[0].GetName()
	o, ok := b.slot[out]
	if !ok {
		return graph.Model{}, nil, fmt.Errorf("the output %s is not computed by any node", out)
	}
	ys := b.vals[o].Shape()
	if len(ys) != 2 {
		return graph.Model{}, nil, fmt.Errorf("the output %s has shape %v, want [N,classes]", out, ys)
	}
	plan, slots := b.plan, len(b.vals)
	m := graph.Model{Name: modelName(mp), Input: shape, Classes: ys[1],
		Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			v := make([]*gorgonia.Node, slots)
			v[0] = x
			for _, s := range plan {
				s(n, v)
			}
			return v[o]
		}}
	return m, b.params, nil
}

// nodes maps the graph's nodes in order: the Constants first (they read nothing), then
// the others, a chain that spells an activation or an adaptive pooling as one layer.
func (b *importer) nodes(g *onnxpb.GraphProto) error {
	index, uses := map[*onnxpb.NodeProto]int{}, map[string]int{}
	for _, o := range g.GetOutput() {
		uses[o.GetName()]++
	}
	var ops []*onnxpb.NodeProto
	for i, n := range g.GetNode() {
		index[n] = i
		for _, in := range n.GetInput() {
			uses[in]++
		}
		if n.GetOpType() != "Constant" {
			ops = append(ops, n)
		} else if err := b.node(n); err != nil {
			return nodeError(n, i, err)
		}
	}
	for i := 0; i < len(ops); i++ {
		if act, x, out, k := b.matchActivation(ops[i:], uses); k > 0 {
			if err := b.activation(out, x, act); err != nil {
				return nodeError(ops[i], index[ops[i]], err)
			}
			i += k - 1
		} else if oh, ow, x, out, ok := b.matchAdaptive(ops[i:], uses); ok {
			pool := func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node { return n.AdaptiveAvgPool2D("", x, oh, ow) }
			if err := b.unary(out, x, pool); err != nil {
				return nodeError(ops[i], index[ops[i]], err)
			}
			i++
		} else if err := b.node(ops[i]); err != nil {
			return nodeError(ops[i], index[ops[i]], err)
		}
	}
	return nil
}

// nodeError names the node an error is about: by its name, else by its place.
func nodeError(n *onnxpb.NodeProto, i int, err error) error {
	name := n.GetName()
	if name == "" || len(name) > 200 {
		name = fmt.Sprintf("#%d", i)
	}
	return fmt.Errorf("node %s (%.40s): %w", name, n.GetOpType(), err)
}

// modelName is the model's name in its metadata (an Export), else its graph's, else "onnx".
func modelName(mp *onnxpb.ModelProto) string {
	for _, p := range mp.GetMetadataProps() {
		if p.GetKey() == "model" && p.GetValue() != "" {
			return p.GetValue()
		}
	}
	if n := mp.GetGraph().GetName(); n != "" && len(n) <= 64 {
		return n
	}
	return "onnx"
}

// graphInput returns the graph's one input that is not an initialiser and its per-sample
// shape [C,H,W], which must be fixed.
func graphInput(g *onnxpb.GraphProto, consts map[string]*onnxpb.TensorProto) (string, []int, error) {
	var in []*onnxpb.ValueInfoProto
	for _, v := range g.GetInput() {
		if consts[v.GetName()] == nil {
			in = append(in, v)
		}
	}
	if len(in) != 1 {
		return "", nil, fmt.Errorf("the graph has %d inputs besides its initialisers, want one: the images", len(in))
	}
	dims := in[0].GetType().GetTensorType().GetShape().GetDim()
	if et := in[0].GetType().GetTensorType().GetElemType(); et != int32(onnxpb.TensorProto_FLOAT) || len(dims) != 4 {
		return "", nil, fmt.Errorf("input %s: %d dimensions of %v, want float [N,C,H,W]", in[0].GetName(), len(dims), onnxpb.TensorProto_DataType(et))
	}
	shape := make([]int, 3)
	for i, d := range dims[1:] {
		v := d.GetDimValue()
		if v < 1 || v > 1<<16 {
			return "", nil, fmt.Errorf("input %s: dimension %d is %q, want a fixed size from 1 to 65536", in[0].GetName(), i+1, dimString(d))
		}
		shape[i] = int(v)
	}
	return in[0].GetName(), shape, nil
}

func dimString(d *onnxpb.TensorShapeProto_Dimension) string {
	if p := d.GetDimParam(); p != "" {
		return p
	}
	return fmt.Sprint(d.GetDimValue())
}

// step is one layer of an imported model: it reads value slots and fills one.
type step func(n *graph.Net, v []*gorgonia.Node)

// importer maps the nodes of a graph, in order, onto layers. It declares each layer on a
// network of batch 1 as it goes (the shapes decide some mappings, and the layers check
// them) and records it as a step that the model's Forward replays.
type importer struct {
	net    *graph.Net
	params *graph.Params
	plan   []step
	vals   []*gorgonia.Node // the declared nodes of the slots
	slot   map[string]int   // the slot of each computed tensor
	consts map[string]*onnxpb.TensorProto
	names  map[string]bool // layer names taken
}

// value returns the slot of a computed tensor the node reads.
func (b *importer) value(name string) (int, error) {
	if s, ok := b.slot[name]; ok {
		return s, nil
	}
	if _, ok := b.consts[name]; ok {
		return 0, fmt.Errorf("reads the constant %s where a tensor computed from the input is wanted", name)
	}
	return 0, fmt.Errorf("reads %s, which no earlier node computes and no initialiser holds", name)
}

// constant returns an initialiser or Constant output the node reads.
func (b *importer) constant(name string) (*onnxpb.TensorProto, error) {
	if t, ok := b.consts[name]; ok {
		return t, nil
	}
	if _, ok := b.slot[name]; ok {
		return nil, fmt.Errorf("reads %s, computed from the input, where an initialiser is wanted", name)
	}
	return nil, fmt.Errorf("reads %s, which no initialiser holds", name)
}

// alias makes out another name of the tensor in.
func (b *importer) alias(out, in string) error {
	if t, ok := b.consts[in]; ok {
		b.consts[out] = t
		return nil
	}
	s, err := b.value(in)
	if err != nil {
		return err
	}
	b.slot[out] = s
	return nil
}

// layer declares a layer on the slots in and records it; its output is the tensor out.
func (b *importer) layer(out string, in []int, f func(n *graph.Net, x []*gorgonia.Node) *gorgonia.Node) error {
	o := len(b.vals)
	b.vals = append(b.vals, nil)
	s := func(n *graph.Net, v []*gorgonia.Node) {
		x := make([]*gorgonia.Node, len(in))
		for i, j := range in {
			x[i] = v[j]
		}
		v[o] = f(n, x)
	}
	b.plan = append(b.plan, s)
	s(b.net, b.vals)
	if err := b.net.Err(); err != nil {
		return err
	}
	b.slot[out] = o
	return nil
}

// shape returns the declared shape of a slot, batch 1 first.
func (b *importer) shape(s int) []int { return b.vals[s].Shape() }

// load copies an initialiser into the named parameter, whose shape it must have.
func (b *importer) load(param, init string) error {
	t, err := b.constant(init)
	if err != nil {
		return err
	}
	dims, v, err := floats(t)
	if err != nil {
		return err
	}
	return b.set(param, init, dims, v)
}

// set copies values into the named parameter.
func (b *importer) set(param, init string, dims []int, v []float32) error {
	p := b.params.Get(param)
	if p == nil {
		return fmt.Errorf("no parameter %s for %s", param, init)
	}
	if !p.Value.Shape().Eq(tensor.Shape(dims)) {
		return fmt.Errorf("initialiser %s has shape %v, the layer wants %v", init, dims, []int(p.Value.Shape()))
	}
	copy(p.Value.Data().([]float32), v)
	return nil
}

// opSuffix is the last part of torch.onnx.export's node names: the operator, numbered.
var opSuffix = regexp.MustCompile(`^[A-Z][A-Za-z]*(_\d+)?$`)

// layerName names the layer of a node with parameters: after its weight's initialiser
// "X.weight", else after the module path in the node's name, else the operator; unique.
func (b *importer) layerName(node *onnxpb.NodeProto, weight string) string {
	name, ok := strings.CutSuffix(weight, ".weight")
	if !ok || name == "" || b.names[name] {
		name = modulePath(node.GetName())
	}
	if name == "" {
		name = strings.ToLower(node.GetOpType())
	}
	return unique(b.names, name)
}

// modulePath turns torch.onnx.export's "/layer2/layer2.0/downsample/downsample.0/Conv" into
// the module path "layer2.0.downsample.0"; a name without slashes stays as it is.
func modulePath(s string) string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '/' })
	if len(parts) > 1 && opSuffix.MatchString(parts[len(parts)-1]) {
		parts = parts[:len(parts)-1]
	}
	path, prev := "", ""
	for _, p := range parts {
		switch {
		case prev != "" && strings.HasPrefix(p, prev+"."):
			path += p[len(prev):]
		case path == "":
			path = p
		default:
			path += "." + p
		}
		prev = p
	}
	if len(path) > 200 || strings.ContainsAny(path, " \t\n") {
		return ""
	}
	return path
}
