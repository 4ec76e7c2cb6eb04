package onnx

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/lenet"
	"github.com/nndl/cnn/onnx/onnxpb"
)

// TestExportLeNetGraph checks the graph written for LeNet-5 node by node: the operators and
// their settings, the initialisers under the parameters' names with their values, and the
// dynamic batch dimension.
func TestExportLeNetGraph(t *testing.T) {
	m := lenet.New(1, 10)
	r, err := withWeights(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Export(m, r.Params, &buf); err != nil {
		t.Fatal(err)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(buf.Bytes(), &mp); err != nil {
		t.Fatal(err)
	}
	if mp.GetOpsetImport()[0].GetVersion() != opset || mp.GetIrVersion() != irVersion {
		t.Errorf("opset %v, IR %d", mp.GetOpsetImport(), mp.GetIrVersion())
	}
	var ops []string
	for _, n := range mp.GetGraph().GetNode() {
		ops = append(ops, n.GetOpType()+"("+n.GetName()+")")
	}
	want := "Conv(conv1) Relu(relu_1) MaxPool(pool2) Conv(conv3) Relu(relu_2) AveragePool(pool4) Conv(conv5) Relu(relu_3) Flatten(flatten) Gemm(linear6) Relu(relu_4) Gemm(linear7)"
	if got := strings.Join(ops, " "); got != want {
		t.Errorf("nodes\n%s\nwant\n%s", got, want)
	}
	pool := mp.GetGraph().GetNode()[2]
	if got := attrString(pool); got != "kernel_shape=[2 2] strides=[2 2] pads=[0 0 0 0]" {
		t.Errorf("pool2 attributes %s", got)
	}
	var names []string
	for _, init := range mp.GetGraph().GetInitializer() {
		names = append(names, init.GetName())
		p := r.Params.Get(init.GetName())
		if p == nil || !bytes.Equal(init.GetRawData(), floatTensor("", nil, p.Value.Data().([]float32)).GetRawData()) {
			t.Errorf("initialiser %s does not hold the parameter's values", init.GetName())
		}
	}
	if got := strings.Join(names, " "); got != "conv1.weight conv1.bias conv3.weight conv3.bias conv5.weight conv5.bias linear6.weight linear6.bias linear7.weight linear7.bias" {
		t.Errorf("initialisers %s", got)
	}
	in, out := mp.GetGraph().GetInput()[0], mp.GetGraph().GetOutput()[0]
	if in.GetName() != InputName || out.GetName() != OutputName {
		t.Errorf("input %s, output %s", in.GetName(), out.GetName())
	}
	if d := in.GetType().GetTensorType().GetShape().GetDim(); d[0].GetDimParam() != "N" || d[1].GetDimValue() != 1 || d[3].GetDimValue() != 32 {
		t.Errorf("input dimensions %v", d)
	}
}

// attrString prints a node's integer attributes in order.
func attrString(n *onnxpb.NodeProto) string {
	var s []string
	for _, a := range n.GetAttribute() {
		s = append(s, fmt.Sprintf("%s=%v", a.GetName(), a.GetInts()))
	}
	return strings.Join(s, " ")
}

// TestExportRefuses lists what has no ONNX form; each error names the layer or the cause.
func TestExportRefuses(t *testing.T) {
	model := func(f func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node) graph.Model {
		return graph.Model{Name: "m", Input: []int{1, 7, 7}, Classes: 2, Forward: f}
	}
	head := func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node { return n.Linear("fc", n.Flatten("flat", x), 2) }
	for _, c := range []struct {
		name   string
		m      graph.Model
		dtype  tensor.Dtype
		expect string
	}{
		{"an operation outside the layers", model(func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
			return head(n, gorgonia.Must(gorgonia.Neg(x)))
		}), tensor.Float32, "m: layer flat (Flatten) reads "},
		{"float64", lenet.New(1, 10), tensor.Float64, "lenet: parameters in float64: ONNX export takes float32 parameters"},
		{"a shape that does not fit", graph.Model{Name: "lenet", Input: []int{1, 8, 8}, Classes: 10, Forward: lenet.New(1, 10).Forward},
			tensor.Float32, "lenet: layer conv3 (Conv2D)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Export(c.m, graph.NewParams(c.dtype, 1), &bytes.Buffer{})
			if err == nil || !strings.HasPrefix(err.Error(), c.expect) {
				t.Errorf("error %v, want one starting %q", err, c.expect)
			}
		})
	}
}

// TestWindowSettings reads the settings of the window layers, and refuses records that do
// not describe their shapes.
func TestWindowSettings(t *testing.T) {
	conv := func(s graph.ConvSettings, in, out []int) *graph.Layer {
		return &graph.Layer{Name: "c", Type: "Conv2D", Settings: s, InShape: in, OutShape: out}
	}
	sq := func(k int) kernels.ConvGeom { return kernels.Square(k, 1, 0) }
	for _, c := range []struct {
		l    *graph.Layer
		want window
		err  string
	}{
		{conv(graph.ConvSettings{Geom: sq(5), Out: 6, Bias: true}, []int{1, 1, 32, 32}, []int{1, 6, 28, 28}), window{out: 6, kh: 5, kw: 5, sh: 1, sw: 1, dh: 1, dw: 1, groups: 1}, ""},
		{conv(graph.ConvSettings{Geom: kernels.ConvGeom{KH: 3, KW: 5, SH: 1, SW: 2, PH: 1, PW: 2, DH: 2, DW: 2, Groups: 4}, Out: 8}, []int{1, 8, 16, 16}, []int{1, 8, 14, 6}),
			window{out: 8, kh: 3, kw: 5, sh: 1, sw: 2, ph: 1, pw: 2, dh: 2, dw: 2, groups: 4, noBias: true}, ""},
		{conv(graph.ConvSettings{Geom: sq(5), Out: 6, Bias: true}, []int{1, 1, 32, 32}, []int{1, 6, 30, 30}), window{}, "settings k5 s1 p0 give output 28x28"},
		{&graph.Layer{Name: "c", Type: "Conv2D", Attrs: "6@5x5 s1 p0", InShape: []int{1, 1, 32, 32}, OutShape: []int{1, 6, 28, 28}}, window{}, "records no convolution settings"},
	} {
		w, err := convWindow(c.l)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v: error %v, want %q", c.l.Settings, err, c.err)
			}
			continue
		}
		if err != nil || w != c.want {
			t.Errorf("%+v: %+v, %v; want %+v", c.l.Settings, w, err, c.want)
		}
	}
	p := &graph.Layer{Name: "p", Type: "AvgPool2D", Settings: graph.PoolSettings{Geom: kernels.ConvGeom{K: 3, S: 2, P: 1, Ceil: true}, Exclusive: true},
		InShape: []int{1, 4, 8, 4}, OutShape: []int{1, 4, 5, 3}}
	if w, err := poolWindow(p); err != nil || w != (window{kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1, dh: 1, dw: 1, groups: 1, ceil: true, exclus: true}) {
		t.Errorf("pool: %+v, %v", w, err)
	}
}
