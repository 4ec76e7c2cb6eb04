package onnx

import (
	"fmt"
	"io"
	"math"
	"strconv"

	"google.golang.org/protobuf/proto"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/internal/atomicfile"
	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/onnx/onnxpb"
)

// InputName and OutputName are the names of an exported graph's input and output.
const (
	InputName  = "x"
	OutputName = "logits"
)

// maxFileBytes is what one protobuf message can hold (2 GiB less a byte); larger models
// would need ONNX's external data, which Export does not write.
const maxFileBytes = math.MaxInt32

// Export writes m with the parameters in params to w as an ONNX model (see Build).
func Export(m graph.Model, params *graph.Params, w io.Writer) error {
	mp, err := Build(m, params)
	if err != nil {
		return err
	}
	b, err := proto.Marshal(mp)
	if err != nil {
		return fmt.Errorf("%s: encoding the ONNX model: %w", m.Name, err)
	}
	_, err = w.Write(b)
	return err
}

// ExportFile writes m as an ONNX file at path, atomically: the file is either the whole
// model or what it was before.
func ExportFile(path string, m graph.Model, params *graph.Params) error {
	mp, err := Build(m, params)
	if err != nil {
		return err
	}
	b, err := proto.Marshal(mp)
	if err != nil {
		return fmt.Errorf("%s: encoding the ONNX model: %w", m.Name, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// Build declares m in inference mode on params (float32; parameters missing from the store
// start from their initialisers) and returns its ONNX model: input "x" [N,C,H,W] and output
// "logits" [N,classes], N free; one node or a short chain per layer, named after it; every
// parameter the layers read as an initialiser under its own name. A layer with no ONNX form,
// or an operation outside the layers, is an error naming it.
func Build(m graph.Model, params *graph.Params) (*onnxpb.ModelProto, error) {
	if params.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("%s: parameters in %v: ONNX export takes float32 parameters", m.Name, params.Dtype())
	}
	net, x, y, err := graph.Declare(m, params, graph.Fast, 1, false)
	if err != nil {
		return nil, err
	}
	e := &exporter{net: net, g: &onnxpb.GraphProto{Name: proto.String(m.Name)},
		used: map[string]bool{InputName: true, OutputName: true}, value: map[*gorgonia.Node]string{x: InputName},
		inits: map[string]bool{}, nodes: map[string]bool{}, logits: y}
	for _, p := range params.List() {
		e.used[p.Name] = true
	}
	for _, l := range net.Layers() {
		if err := e.layer(l); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	if e.value[y] != OutputName {
		return nil, fmt.Errorf("%s: the logits are not the output of a layer: an operation with no ONNX form", m.Name)
	}
	if e.bytes > maxFileBytes {
		return nil, fmt.Errorf("%s: the parameters take %s bytes, more than the 2 GiB an ONNX file without external data holds", m.Name, graph.Comma(e.bytes))
	}
	e.g.Input = []*onnxpb.ValueInfoProto{valueInfo(InputName, m.Input)}
	e.g.Output = []*onnxpb.ValueInfoProto{valueInfo(OutputName, []int{m.Classes})}
	return &onnxpb.ModelProto{
		IrVersion:    proto.Int64(irVersion),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}},
		ProducerName: proto.String("cnn"),
		DocString:    proto.String(fmt.Sprintf("%s, input %v, %d classes, inference mode", m.Name, m.Input, m.Classes)),
		Graph:        e.g,
		MetadataProps: []*onnxpb.StringStringEntryProto{
			{Key: proto.String("model"), Value: proto.String(m.Name)},
			{Key: proto.String("classes"), Value: proto.String(strconv.Itoa(m.Classes))},
		},
	}, nil
}

// exporter builds the ONNX graph of a declared network, layer by layer.
type exporter struct {
	net    *graph.Net
	g      *onnxpb.GraphProto
	used   map[string]bool           // tensor names taken
	nodes  map[string]bool           // node names taken
	value  map[*gorgonia.Node]string // the tensor each node of the network is
	inits  map[string]bool           // parameters already written as initialisers
	logits *gorgonia.Node
	bytes  int64 // initialiser data written
}

// fresh returns a tensor name: base, or base_2, base_3, ... when it is taken.
func (e *exporter) fresh(base string) string { return unique(e.used, base) }

// unique returns base, or base_2, base_3, ... when it is in taken, and adds it.
func unique(taken map[string]bool, base string) string {
	name := base
	for i := 2; taken[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	taken[name] = true
	return name
}

// node appends an operator node.
func (e *exporter) node(op, name string, in []string, out string, attrs ...*onnxpb.AttributeProto) {
	e.g.Node = append(e.g.Node, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(unique(e.nodes, name)),
		Input: in, Output: []string{out}, Attribute: attrs})
}

// constant adds a float32 scalar initialiser and returns its name.
func (e *exporter) constant(name string, v float32) string {
	name = e.fresh(name)
	e.g.Initializer = append(e.g.Initializer, floatTensor(name, nil, []float32{v}))
	return name
}

// inputs names the tensors a layer reads: earlier layers' outputs, the graph's input, or
// parameters, which become initialisers on first use.
func (e *exporter) inputs(l *graph.Layer) ([]string, error) {
	names := make([]string, len(l.Inputs))
	for i, in := range l.Inputs {
		if v, ok := e.value[in]; ok {
			names[i] = v
			continue
		}
		p := e.net.ParamOf(in)
		if p == nil {
			return nil, fmt.Errorf("layer %s (%s) reads %s, which no layer produced: an operation with no ONNX form", l.Name, l.Type, in.Name())
		}
		if !e.inits[p.Name] {
			e.inits[p.Name] = true
			e.g.Initializer = append(e.g.Initializer, floatTensor(p.Name, p.Value.Shape(), p.Value.Data().([]float32)))
			e.bytes += int64(4 * p.Value.Shape().TotalSize())
		}
		names[i] = p.Name
	}
	return names, nil
}

// layer writes one layer's nodes.
func (e *exporter) layer(l *graph.Layer) error {
	in, err := e.inputs(l)
	if err != nil {
		return err
	}
	out := OutputName
	if l.Output != e.logits {
		out = e.fresh(l.Name)
		e.g.ValueInfo = append(e.g.ValueInfo, valueInfo(out, l.OutShape[1:]))
	}
	e.value[l.Output] = out
	if op, ok := simpleOps[l.Type]; ok {
		e.node(op, l.Name, in, out)
		return nil
	}
	switch l.Type {
	case "Conv2D":
		return e.conv(l, in, out)
	case "MaxPool2D", "AvgPool2D":
		return e.pool(l, in, out)
	case "AdaptiveAvgPool2D":
		return e.adaptive(l, in, out)
	case "BatchNorm2D", "BatchNorm1D":
		return e.batchNorm(l, in, out)
	case "Linear":
		e.node("Gemm", l.Name, in, out, attrInt("transB", 1))
	case "Flatten", "Concat":
		e.node(l.Type, l.Name, in, out, attrInt("axis", 1))
	case "LeakyReLU":
		a, ok := l.Settings.(graph.Act)
		if !ok {
			return fmt.Errorf("layer %s (LeakyReLU) records no slope", l.Name)
		}
		e.node("LeakyRelu", l.Name, in, out, attrFloat("alpha", a.Slope()))
	case "ReLU6":
		e.node("Clip", l.Name, append(in, e.constant(l.Name+".min", 0), e.constant(l.Name+".max", 6)), out)
	case "Hardsigmoid":
		e.node("HardSigmoid", l.Name, in, out, attrFloat("alpha", 1.0/6), attrFloat("beta", 0.5))
	case "SiLU":
		s := e.fresh(l.Name + "/sigmoid")
		e.node("Sigmoid", l.Name+"/sigmoid", in, s)
		e.node("Mul", l.Name, []string{in[0], s}, out)
	case "GELU":
		e.gelu(l.Name, in[0], out)
	default:
		return fmt.Errorf("layer %s (%s) has no ONNX form", l.Name, l.Type)
	}
	return nil
}

// simpleOps are the layers that are one ONNX operator without attributes.
var simpleOps = map[string]string{
	"ReLU": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Hardswish": "HardSwish",
	"GlobalAvgPool2D": "GlobalAveragePool", "Add": "Add", "Mul": "Mul", "Dropout": "Identity",
}

// gelu writes x/2 * (1 + erf(x/sqrt(2))) as torch.onnx.export does before opset 20.
func (e *exporter) gelu(name, x, out string) {
	t := func(step string) string { return e.fresh(name + "/" + step) }
	div, erf, add, mul := t("div"), t("erf"), t("add"), t("mul")
	e.node("Div", name+"/div", []string{x, e.constant(name+".sqrt2", math.Sqrt2)}, div)
	e.node("Erf", name+"/erf", []string{div}, erf)
	e.node("Add", name+"/add", []string{erf, e.constant(name+".one", 1)}, add)
	e.node("Mul", name+"/mul", []string{x, add}, mul)
	e.node("Mul", name, []string{mul, e.constant(name+".half", 0.5)}, out)
}

func (e *exporter) conv(l *graph.Layer, in []string, out string) error {
	w, err := convWindow(l)
	if err != nil {
		return err
	}
	if ws := l.Inputs[1].Shape(); len(ws) != 4 || ws[2] != w.kh || ws[3] != w.kw || ws[1]*w.groups != l.InShape[1] {
		return fmt.Errorf("layer %s (Conv2D): weight %v does not match settings %+v on input %v", l.Name, ws, w, l.InShape)
	}
	e.node("Conv", l.Name, in, out, attrInts("kernel_shape", w.kh, w.kw), attrInts("strides", w.sh, w.sw),
		attrInts("pads", w.ph, w.pw, w.ph, w.pw), attrInts("dilations", w.dh, w.dw), attrInt("group", w.groups))
	return nil
}

func (e *exporter) pool(l *graph.Layer, in []string, out string) error {
	w, err := poolWindow(l)
	if err != nil {
		return err
	}
	attrs := []*onnxpb.AttributeProto{attrInts("kernel_shape", w.kh, w.kw), attrInts("strides", w.sh, w.sw),
		attrInts("pads", w.ph, w.pw, w.ph, w.pw)}
	if w.ceil {
		attrs = append(attrs, attrInt("ceil_mode", 1))
	}
	op := "MaxPool"
	if l.Type == "AvgPool2D" {
		op = "AveragePool"
		if !w.exclus {
			attrs = append(attrs, attrInt("count_include_pad", 1))
		}
	}
	e.node(op, l.Name, in, out, attrs...)
	return nil
}

// adaptive writes an adaptive average pooling as GlobalAveragePool (to 1x1), as the
// AveragePool it equals when the output divides the input, and otherwise (VGG's 7x7 of a
// smaller image, say) as the product it is: each output averages a rectangle of rows and
// columns, the mean over its rows of the mean over its columns, so y = rows · (x · cols)
// with rows [oh,H] and cols [W,ow] averaging matrices, two MatMuls that Import reads back.
func (e *exporter) adaptive(l *graph.Layer, in []string, out string) error {
	s, ok := l.Settings.(graph.AdaptiveSettings)
	if !ok || len(l.InShape) != 4 {
		return fmt.Errorf("layer %s (AdaptiveAvgPool2D) records no output size", l.Name)
	}
	oh, ow := s.OH, s.OW
	h, w := l.InShape[2], l.InShape[3]
	switch {
	case oh == 1 && ow == 1:
		e.node("GlobalAveragePool", l.Name, in, out)
	case h%oh == 0 && w%ow == 0:
		e.node("AveragePool", l.Name, in, out, attrInts("kernel_shape", h/oh, w/ow), attrInts("strides", h/oh, w/ow))
	default:
		rows, cols := e.fresh(l.Name+".rows"), e.fresh(l.Name+".cols")
		e.g.Initializer = append(e.g.Initializer, floatTensor(rows, []int{oh, h}, averaging(h, oh)),
			floatTensor(cols, []int{w, ow}, transpose(averaging(w, ow), ow, w)))
		mid := e.fresh(l.Name + "/cols")
		e.node("MatMul", l.Name+"/cols", []string{in[0], cols}, mid)
		e.node("MatMul", l.Name, []string{rows, mid}, out)
	}
	return nil
}

// averaging is the [out,in] matrix whose row i averages PyTorch's adaptive bin i of in
// values (kernels.AdaptiveBin).
func averaging(in, out int) []float32 {
	m := make([]float32, out*in)
	for i := range out {
		lo, hi := kernels.AdaptiveBin(i, in, out)
		for j := lo; j < hi; j++ {
			m[i*in+j] = float32(1 / float64(hi-lo))
		}
	}
	return m
}

// transpose returns the transpose of the row-major [r,c] matrix m.
func transpose(m []float32, r, c int) []float32 {
	t := make([]float32, len(m))
	for i := range r {
		for j := range c {
			t[j*r+i] = m[i*c+j]
		}
	}
	return t
}

func (e *exporter) batchNorm(l *graph.Layer, in []string, out string) error {
	s, ok := l.Settings.(graph.Norm)
	if !ok || len(in) != 5 {
		return fmt.Errorf("layer %s (%s) records no epsilon, or has %d inputs", l.Name, l.Type, len(in))
	}
	e.node("BatchNormalization", l.Name, in, out, attrFloat("epsilon", s.Eps), attrFloat("momentum", s.Momentum))
	return nil
}
