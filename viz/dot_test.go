package viz

import (
	"fmt"
	"strings"
	"testing"

	"github.com/awalterschulze/gographviz"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// declareLeNet declares LeNet-5 for one 1x32x32 image.
func declareLeNet(t testing.TB, batch int) (*graph.Net, *gorgonia.Node) {
	t.Helper()
	n := graph.New(graph.NewParams(tensor.Float32, 1), graph.Fast)
	x := n.Input("x", batch, 1, 32, 32)
	lenet.New(1, 10).Forward(n, x)
	if err := n.Err(); err != nil {
		t.Fatal(err)
	}
	return n, x
}

// parse reads DOT text back, failing the test when it does not parse.
func parse(t *testing.T, dot string) *gographviz.Graph {
	t.Helper()
	g, err := gographviz.Read([]byte(dot))
	if err != nil {
		t.Fatalf("DOT does not parse back: %v\n%s", err, dot)
	}
	return g
}

func TestLayerDOTLeNet(t *testing.T) {
	n, x := declareLeNet(t, 1)
	layers := n.Layers()
	if len(layers) != 12 {
		t.Fatalf("LeNet has %d layers, want 12", len(layers))
	}
	conv1 := layers[0]
	for _, tc := range []struct {
		unit graph.FLOPUnit
		want string // the operation count of conv1 as labelled
	}{
		{"", "FLOPs " + graph.Comma(conv1.PaddleFLOPs) + " (paddle)"},
		{graph.UnitPaddle, "FLOPs " + graph.Comma(conv1.PaddleFLOPs) + " (paddle)"},
		{graph.UnitMACs, "MACs " + graph.Comma(conv1.MACs)},
		{graph.UnitFLOPs, "FLOPs " + graph.Comma(conv1.FLOPs)},
		{"MACS", "MACs " + graph.Comma(conv1.MACs)},
	} {
		t.Run(string(tc.unit), func(t *testing.T) {
			dot, err := LayerDOT("lenet", layers, x, tc.unit)
			if err != nil {
				t.Fatal(err)
			}
			g := parse(t, dot)
			if got := len(g.Nodes.Nodes); got != 13 {
				t.Errorf("%d nodes, want 12 layers + input", got)
			}
			if got := len(g.SubGraphs.SubGraphs); got != 0 {
				t.Errorf("%d subgraphs, want none", got)
			}
			if g.Attrs["rankdir"] != "TB" {
				t.Errorf("rankdir %q, want TB", g.Attrs["rankdir"])
			}
			// A chain: input -> L00 -> L01 -> ... -> L11, all solid.
			if len(g.Edges.Edges) != 12 {
				t.Fatalf("%d edges, want 12", len(g.Edges.Edges))
			}
			for i, e := range g.Edges.Edges {
				src := "input"
				if i > 0 {
					src = layerID(i-1, 2)
				}
				if e.Src != src || e.Dst != layerID(i, 2) {
					t.Errorf("edge %d: %s -> %s, want %s -> %s", i, e.Src, e.Dst, src, layerID(i, 2))
				}
				if e.Attrs["style"] != "" {
					t.Errorf("edge %s -> %s has style %s in a plain chain", e.Src, e.Dst, e.Attrs["style"])
				}
			}
			label := g.Nodes.Lookup["L00"].Attrs["label"]
			for _, want := range []string{"conv1", "Conv2D", "6@5x5 s1 p0", "[1, 6, 28, 28]", "params 156", tc.want} {
				if !strings.Contains(label, want) {
					t.Errorf("conv1's label %s lacks %q", label, want)
				}
			}
			if label := g.Nodes.Lookup["input"].Attrs["label"]; !strings.Contains(label, "[1, 1, 32, 32]") {
				t.Errorf("input label %s lacks the input shape", label)
			}
			if !strings.Contains(g.Attrs["label"], "61,706 params") {
				t.Errorf("graph label %s lacks the parameter total", g.Attrs["label"])
			}
		})
	}
}

// layerSpec describes one layer of a hand-built network: its data inputs by layer name
// ("x" for the network input) and its parameter inputs by count.
type layerSpec struct {
	name, typ, block string
	inputs           []string
	params           int
}

// handBuilt makes layers by hand on a fresh expression graph, each with its own output node.
func handBuilt(t *testing.T, specs []layerSpec) ([]*graph.Layer, *gorgonia.Node) {
	t.Helper()
	g := gorgonia.NewGraph()
	shape := []int{1, 4, 8, 8}
	node := func(name string) *gorgonia.Node {
		return gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(shape...), gorgonia.WithName(name))
	}
	x := node("x")
	out := map[string]*gorgonia.Node{"x": x}
	var layers []*graph.Layer
	for _, s := range specs {
		l := &graph.Layer{Name: s.name, Type: s.typ, Block: s.block, InShape: shape, OutShape: shape}
		for _, in := range s.inputs {
			n, ok := out[in]
			if !ok {
				t.Fatalf("layer %s reads %s, not declared before", s.name, in)
			}
			l.Inputs = append(l.Inputs, n)
		}
		for p := 0; p < s.params; p++ {
			l.Inputs = append(l.Inputs, node(fmt.Sprintf("%s.param%d", s.name, p)))
			l.Trainable += 10
		}
		l.Output = node(s.name + ".out")
		out[s.name] = l.Output
		layers = append(layers, l)
	}
	return layers, x
}

// declaredBlock declares a stem convolution and a block on graph.Net, then appends an Add
// layer by hand (Net has no Add yet) reading the block's output and the stem's.
func declaredBlock(t *testing.T) ([]*graph.Layer, *gorgonia.Node) {
	t.Helper()
	n := graph.New(graph.NewParams(tensor.Float32, 1), graph.Fast)
	x := n.Input("x", 1, 3, 8, 8)
	conv := graph.Conv{Out: 4, Kernel: 3, Padding: 1, Init: graph.XavierUniform}
	stem := n.Conv2D("stem", x, conv)
	var y *gorgonia.Node
	n.Block("layer1.0", func() {
		y = n.Conv2D("conv1", stem, conv)
		y = n.ReLU(y)
		y = n.Conv2D("conv2", y, conv)
	})
	if err := n.Err(); err != nil {
		t.Fatal(err)
	}
	sum := gorgonia.NewTensor(n.Graph(), tensor.Float32, 4, gorgonia.WithShape(y.Shape()...), gorgonia.WithName("layer1.0.add.out"))
	add := &graph.Layer{
		Name: "layer1.0.add", Type: "Add", Block: "layer1.0",
		InShape: y.Shape().Clone(), OutShape: y.Shape().Clone(),
		Inputs: []*gorgonia.Node{y, stem}, Output: sum,
	}
	return append(n.Layers(), add), x
}

func TestLayerDOTBlocks(t *testing.T) {
	type edge struct{ src, dst string } // layer names, "input" for the input
	for _, tc := range []struct {
		name     string
		build    func(t *testing.T) ([]*graph.Layer, *gorgonia.Node)
		clusters map[string]string // block -> enclosing block ("" at the top)
		edges    int
		dashed   []edge
		into     map[string]int // incoming edges of some layers
	}{
		{
			name:     "declared residual block",
			build:    declaredBlock,
			clusters: map[string]string{"layer1.0": ""},
			edges:    6, // x->stem->conv1->relu->conv2->add, stem->add
			dashed:   []edge{{"stem", "layer1.0.add"}},
			into:     map[string]int{"layer1.0.add": 2, "layer1.0.conv1": 1},
		},
		{
			name: "identity shortcut from the input",
			build: func(t *testing.T) ([]*graph.Layer, *gorgonia.Node) {
				return handBuilt(t, []layerSpec{
					{"conv1", "Conv2D", "", []string{"x"}, 2},
					{"relu", "ReLU", "", []string{"conv1"}, 0},
					{"add", "Add", "", []string{"relu", "x"}, 0},
				})
			},
			clusters: map[string]string{},
			edges:    4,
			dashed:   []edge{{"input", "add"}},
			into:     map[string]int{"add": 2, "conv1": 1},
		},
		{
			name: "nested downsample block",
			build: func(t *testing.T) ([]*graph.Layer, *gorgonia.Node) {
				return handBuilt(t, []layerSpec{
					{"stem", "Conv2D", "", []string{"x"}, 1},
					{"layer2.0.conv1", "Conv2D", "layer2.0", []string{"stem"}, 1},
					{"layer2.0.relu", "ReLU", "layer2.0", []string{"layer2.0.conv1"}, 0},
					{"layer2.0.conv2", "Conv2D", "layer2.0", []string{"layer2.0.relu"}, 1},
					{"layer2.0.downsample.0", "Conv2D", "layer2.0.downsample", []string{"stem"}, 1},
					{"layer2.0.downsample.1", "BatchNorm2D", "layer2.0.downsample", []string{"layer2.0.downsample.0"}, 2},
					{"layer2.0.add", "Add", "layer2.0", []string{"layer2.0.conv2", "layer2.0.downsample.1"}, 0},
					{"layer2.0.relu2", "ReLU", "layer2.0", []string{"layer2.0.add"}, 0},
					{"layer3.0.conv1", "Conv2D", "layer3.0", []string{"layer2.0.relu2"}, 1},
				})
			},
			clusters: map[string]string{"layer2.0": "", "layer2.0.downsample": "layer2.0", "layer3.0": ""},
			edges:    10,
			// The downsampling path starts next to the stem and joins the add two steps early.
			dashed: []edge{{"layer2.0.downsample.1", "layer2.0.add"}},
			into:   map[string]int{"layer2.0.add": 2, "layer2.0.downsample.0": 1, "stem": 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layers, x := tc.build(t)
			dot, err := LayerDOT(tc.name, layers, x, graph.UnitFLOPs)
			if err != nil {
				t.Fatal(err)
			}
			g := parse(t, dot)
			if got, want := len(g.Nodes.Nodes), len(layers)+1; got != want {
				t.Errorf("%d nodes, want %d (no parameter nodes)", got, want)
			}
			id := map[string]string{"input": "input"}
			name := map[string]string{"input": "input"}
			width := len(fmt.Sprint(len(layers)))
			for i, l := range layers {
				id[l.Name] = layerID(i, width)
				name[layerID(i, width)] = l.Name
			}

			// Clusters: one per block, labelled with it, nested as expected, holding its layers.
			clusterOf := map[string]string{}
			for cid, sg := range g.SubGraphs.SubGraphs {
				if !strings.HasPrefix(cid, "cluster_") {
					t.Errorf("subgraph %s is not a cluster", cid)
				}
				clusterOf[strings.Trim(sg.Attrs["label"], `"`)] = cid
			}
			if len(clusterOf) != len(tc.clusters) {
				t.Errorf("clusters %v, want blocks %v", clusterOf, tc.clusters)
			}
			for block, parent := range tc.clusters {
				cid, ok := clusterOf[block]
				if !ok {
					t.Errorf("no cluster labelled %s", block)
					continue
				}
				pid := g.Name
				if parent != "" {
					pid = clusterOf[parent]
				}
				if !g.Relations.ParentToChildren[pid][cid] {
					t.Errorf("cluster of %s is not inside %s", block, pid)
				}
			}
			for _, l := range layers {
				parent := g.Name
				if l.Block != "" {
					parent = clusterOf[l.Block]
				}
				if !g.Relations.ParentToChildren[parent][id[l.Name]] {
					t.Errorf("layer %s is not in %s", l.Name, parent)
				}
			}

			// Edges: count, incoming per layer, and which are dashed shortcuts.
			if len(g.Edges.Edges) != tc.edges {
				t.Errorf("%d edges, want %d", len(g.Edges.Edges), tc.edges)
			}
			in := map[string]int{}
			var dashed []edge
			for _, e := range g.Edges.Edges {
				in[name[e.Dst]]++
				if e.Attrs["style"] == "dashed" {
					dashed = append(dashed, edge{name[e.Src], name[e.Dst]})
					if e.Attrs["color"] != quote(ShortcutColor) {
						t.Errorf("shortcut %s -> %s has colour %s", e.Src, e.Dst, e.Attrs["color"])
					}
				}
			}
			for l, want := range tc.into {
				if in[l] != want {
					t.Errorf("%s has %d incoming edges, want %d", l, in[l], want)
				}
			}
			if fmt.Sprint(dashed) != fmt.Sprint(tc.dashed) {
				t.Errorf("dashed edges %v, want %v", dashed, tc.dashed)
			}
		})
	}
}

func TestLayerDOTEscapes(t *testing.T) {
	layers, x := handBuilt(t, []layerSpec{
		{`odd<name>&"q"'`, "Conv2D", `blk "a"\b`, []string{"x"}, 1},
		{"relu", "ReLU", `blk "a"\b`, []string{`odd<name>&"q"'`}, 0},
	})
	layers[0].Attrs = "{|} <p> \\l 3×3 → ok\nnext"
	dot, err := LayerDOT(`net "quoted" \ name`, layers, x, graph.UnitPaddle)
	if err != nil {
		t.Fatal(err)
	}
	g := parse(t, dot)
	label := g.Nodes.Lookup["L0"].Attrs["label"]
	for _, want := range []string{"odd&lt;name&gt;&amp;&quot;q&quot;&#39;", "&lt;p&gt;", "&#215;", "&#8594;"} {
		if !strings.Contains(label, want) {
			t.Errorf("label %s lacks %q", label, want)
		}
	}
	if strings.Contains(label, "\n") {
		t.Errorf("label %q keeps a raw newline", label)
	}
	if len(g.SubGraphs.SubGraphs) != 1 {
		t.Errorf("%d clusters, want 1", len(g.SubGraphs.SubGraphs))
	}
	renderIfDot(t, dot)
}

func TestLayerDOTErrors(t *testing.T) {
	n, x := declareLeNet(t, 1)
	good := n.Layers()
	cyc, _ := handBuilt(t, []layerSpec{{"a", "ReLU", "", []string{"x"}, 0}, {"b", "ReLU", "", []string{"a"}, 0}})
	cyc[0].Inputs[0] = cyc[1].Output
	dup := []*graph.Layer{good[0], {Name: "copy", Type: "ReLU", Inputs: good[0].Inputs[:1], Output: good[0].Output}}
	for _, tc := range []struct {
		name   string
		layers []*graph.Layer
		unit   graph.FLOPUnit
		want   string
	}{
		{"unknown unit", good, "gflops", "unknown FLOPs unit"},
		{"nil layer", []*graph.Layer{good[0], nil}, graph.UnitMACs, "layer 1 is nil"},
		{"shared output", dup, graph.UnitMACs, "both produce"},
		{"cycle", cyc, graph.UnitMACs, "cycle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LayerDOT("bad", tc.layers, x, tc.unit)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestLayerDOTNoInput(t *testing.T) {
	// Without the input node the first layer's unmatched input still gets a node.
	n, _ := declareLeNet(t, 1)
	dot, err := LayerDOT("lenet", n.Layers(), nil, graph.UnitPaddle)
	if err != nil {
		t.Fatal(err)
	}
	g := parse(t, dot)
	if len(g.Nodes.Nodes) != 13 || len(g.Edges.Edges) != 12 {
		t.Errorf("%d nodes and %d edges, want 13 and 12", len(g.Nodes.Nodes), len(g.Edges.Edges))
	}
}

func TestOpsDOT(t *testing.T) {
	for _, batch := range []int{1, 64} {
		t.Run(fmt.Sprint("batch", batch), func(t *testing.T) {
			n, _ := declareLeNet(t, batch)
			eg := n.Graph()
			dot, err := OpsDOT("lenet ops", eg)
			if err != nil {
				t.Fatal(err)
			}
			if len(dot) >= 50<<10 {
				t.Errorf("DOT is %d bytes, want under 50 KB: values leaked into labels?", len(dot))
			}
			g := parse(t, dot)
			nodes := eg.AllNodes()
			if len(g.Nodes.Nodes) != len(nodes) {
				t.Errorf("%d DOT nodes, want %d", len(g.Nodes.Nodes), len(nodes))
			}
			edges, ops, leaves := 0, 0, 0
			for _, nd := range nodes {
				for it := eg.From(nd.ID()); it.Next(); {
					edges++
				}
				if nd.Op() == nil {
					leaves++
				} else {
					ops++
				}
			}
			if len(g.Edges.Edges) != edges {
				t.Errorf("%d DOT edges, want %d", len(g.Edges.Edges), edges)
			}
			shapes := map[string]int{}
			for _, nd := range g.Nodes.Nodes {
				shapes[nd.Attrs["shape"]]++
				if l := len(nd.Attrs["label"]); l > 200 {
					t.Errorf("node %s has a %d-byte label", nd.Name, l)
				}
			}
			if shapes["box"] != ops || shapes["ellipse"] != leaves {
				t.Errorf("shapes %v, want %d boxes and %d ellipses", shapes, ops, leaves)
			}
			for _, want := range []string{"conv1.weight", "[6, 1, 5, 5]", "Conv2D(k5 s1 p0 bias=true)", fmt.Sprintf("[%d, 10]", batch)} {
				if !strings.Contains(dot, want) {
					t.Errorf("DOT lacks %q", want)
				}
			}
			// Arguments are numbered in order: conv1's input, weight, bias.
			want := map[string]string{"<<B>x</B>": "0", "<<B>conv1.weight</B>": "1", "<<B>conv1.bias</B>": "2"}
			for _, e := range g.Edges.Edges {
				label := g.Nodes.Lookup[e.Src].Attrs["label"]
				for prefix, arg := range want {
					if strings.HasPrefix(label, prefix) {
						if e.Attrs["label"] != arg {
							t.Errorf("edge from %s labelled %q, want argument %s", label, e.Attrs["label"], arg)
						}
						delete(want, prefix)
					}
				}
			}
			if len(want) != 0 {
				t.Errorf("no edges from %v", want)
			}
		})
	}
	if _, err := OpsDOT("nil", nil); err == nil {
		t.Error("OpsDOT(nil) did not fail")
	}
}
