package viz

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/awalterschulze/gographviz"
	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ShortcutColor is the colour of the dashed edges LayerDOT draws for connections that skip
// over layers (the identity or downsampling path of a residual block).
const ShortcutColor = "#d62728"

// maxLabel bounds the runes of any single text taken from the graph (an operator's String, a
// node's name), so that no label can grow with the data.
const maxLabel = 64

// typeColor fills the title cell of a layer by its type.
var typeColor = map[string]string{
	"Conv2D":          "#c6dbef",
	"MaxPool2D":       "#fdd0a2",
	"AvgPool2D":       "#fdd0a2",
	"GlobalAvgPool2D": "#fdd0a2",
	"Linear":          "#fcbba1",
	"ReLU":            "#e5f5e0",
	"Flatten":         "#eeeeee",
	"BatchNorm2D":     "#dadaeb",
	"Add":             "#c7e9c0",
}

// LayerDOT returns the layer graph of a declared network as Graphviz DOT text, laid out top
// to bottom. Every layer is one node labelled with its name, type, settings (Attrs), output
// shape, parameters and operation count in unit (graph.UnitPaddle when empty); the network's
// input is one more node. An edge runs from the layer (or input) that produced each data input
// of a layer: its first input, and any further input that some layer or the network input
// produced, so a residual Add gets two incoming edges. Parameter inputs are not drawn. An edge
// that skips over layers (its ends are more than one step apart along the longest path from
// the input) is dashed and coloured ShortcutColor. Layers sharing a Block are grouped in a
// cluster labelled with the block's name; a block whose name extends another's by a dotted
// suffix ("layer2.0.downsample" in "layer2.0") is nested inside it. The graph's label is name
// with the network's totals.
//
// input is the network's input node; it may be nil, and then, like any first input that no
// layer produced, it is drawn as an input node named after the Gorgonia node.
func LayerDOT(name string, layers []*graph.Layer, input *gorgonia.Node, unit graph.FLOPUnit) (string, error) {
	unit, err := parseUnit(unit)
	if err != nil {
		return "", err
	}
	f, err := dataflow(layers, input)
	if err != nil {
		return "", err
	}
	sum := graph.Summarize(layers, tensor.Float32) // the dtype only sizes memory, unused here
	title := fmt.Sprintf("%s: %d layers, %s params, %s", name, len(layers), graph.Comma(int64(sum.TotalParams)), countString(sum.Count(unit), unit))
	g, gname, err := newLayerGraph(name, title)
	if err != nil {
		return "", err
	}

	// Clusters, one per block, nested by dotted prefix.
	var blocks []string
	cluster := map[string]string{}
	for _, l := range layers {
		if l.Block != "" {
			if _, ok := cluster[l.Block]; !ok {
				cluster[l.Block] = ""
				blocks = append(blocks, l.Block)
			}
		}
	}
	width := len(strconv.Itoa(len(blocks)))
	for i, b := range blocks {
		cluster[b] = fmt.Sprintf("cluster_%0*d", width, i)
	}
	// Parents first, so a nested cluster's parent exists when it is added.
	ordered := append([]string(nil), blocks...)
	sort.SliceStable(ordered, func(i, j int) bool { return strings.Count(ordered[i], ".") < strings.Count(ordered[j], ".") })
	for _, b := range ordered {
		parent := gname
		best := -1
		for _, p := range blocks {
			if p != b && strings.HasPrefix(b, p+".") && len(p) > best {
				parent, best = cluster[p], len(p)
			}
		}
		if err := g.AddSubGraph(parent, cluster[b], map[string]string{
			"label":     quote(b),
			"style":     quote("rounded,dashed"),
			"color":     "gray50",
			"fontcolor": "gray30",
			"labeljust": "l",
		}); err != nil {
			return "", err
		}
	}

	if err := addInputs(g, gname, f.inputs); err != nil {
		return "", err
	}
	lw := len(strconv.Itoa(len(layers)))
	for i, l := range layers {
		parent := gname
		if l.Block != "" {
			parent = cluster[l.Block]
		}
		if err := g.AddNode(parent, layerID(i, lw), nodeAttrs(layerLabel(l, unit))); err != nil {
			return "", err
		}
	}

	for i := range layers {
		for _, s := range f.sources[i] {
			src := inputID(-1 - s)
			if s >= 0 {
				src = layerID(s, lw)
			}
			attrs := map[string]string{}
			if f.shortcut(s, i) {
				attrs = shortcutAttrs("")
			}
			if err := g.AddEdge(src, layerID(i, lw), true, attrs); err != nil {
				return "", err
			}
		}
	}
	return write(g)
}

// parseUnit reads a FLOPs unit, graph.UnitPaddle when empty.
func parseUnit(u graph.FLOPUnit) (graph.FLOPUnit, error) {
	if u == "" {
		return graph.UnitPaddle, nil
	}
	u, err := graph.ParseUnit(string(u))
	if err != nil {
		return "", fmt.Errorf("viz: %w", err)
	}
	return u, nil
}

// flow is the data flow between the layers of a network.
type flow struct {
	inputs  []*gorgonia.Node // the network's inputs, the given one first, then in order of use
	sources [][]int          // where layer i's data inputs come from: a layer, or -1-k for inputs[k]
	depth   []int            // each layer's position along the longest path from an input
}

// dataflow finds where every layer's data inputs come from: the layer that produced each
// input, or a network input. A layer's first input is always data; a further input is data
// when a layer or a network input produced it, and a parameter otherwise.
func dataflow(layers []*graph.Layer, input *gorgonia.Node) (*flow, error) {
	producer := map[*gorgonia.Node]int{}
	for i, l := range layers {
		if l == nil {
			return nil, fmt.Errorf("viz: layer %d is nil", i)
		}
		if l.Output == nil {
			continue
		}
		if j, ok := producer[l.Output]; ok {
			return nil, fmt.Errorf("viz: layers %s and %s both produce node %s", layers[j].Name, l.Name, l.Output.Name())
		}
		producer[l.Output] = i
	}
	f := &flow{sources: make([][]int, len(layers))}
	inputIndex := map[*gorgonia.Node]int{}
	addInput := func(x *gorgonia.Node) int {
		if k, ok := inputIndex[x]; ok {
			return k
		}
		inputIndex[x] = len(f.inputs)
		f.inputs = append(f.inputs, x)
		return len(f.inputs) - 1
	}
	if input != nil {
		addInput(input)
	}
	for i, l := range layers {
		for j, x := range l.Inputs {
			if x == nil {
				continue
			}
			if p, ok := producer[x]; ok {
				f.sources[i] = append(f.sources[i], p)
				continue
			}
			if _, ok := inputIndex[x]; ok || j == 0 {
				f.sources[i] = append(f.sources[i], -1-addInput(x))
			}
			// Otherwise x is a parameter (or other non-data) input: not drawn.
		}
	}
	var err error
	f.depth, err = depths(layers, f.sources)
	return f, err
}

// shortcut reports whether the edge from source s (as in flow.sources) to layer i skips
// over layers: its ends are more than one step apart along the longest path from the input.
func (f *flow) shortcut(s, i int) bool {
	from := 0
	if s >= 0 {
		from = f.depth[s]
	}
	return f.depth[i]-from > 1
}

// newLayerGraph starts a directed DOT graph laid out top to bottom, titled title, and
// returns it with its quoted name.
func newLayerGraph(name, title string) (*gographviz.Graph, string, error) {
	g := gographviz.NewGraph()
	gname := quote(name)
	if err := g.SetName(gname); err != nil {
		return nil, "", err
	}
	if err := g.SetDir(true); err != nil {
		return nil, "", err
	}
	for _, a := range [][2]string{
		{"rankdir", "TB"},
		{"label", quote(title)},
		{"labelloc", "t"},
		{"fontname", "Helvetica"},
		{"nodesep", "0.3"},
		{"ranksep", "0.35"},
	} {
		if err := g.AddAttr(gname, a[0], a[1]); err != nil {
			return nil, "", err
		}
	}
	return g, gname, nil
}

// addInputs adds one node per network input, named by inputID.
func addInputs(g *gographviz.Graph, gname string, inputs []*gorgonia.Node) error {
	for k, x := range inputs {
		label := htmlTable("#ffffff", "input", x.Name(), []string{shapeString(x.Shape()), dtypeString(x)})
		if err := g.AddNode(gname, inputID(k), nodeAttrs(label)); err != nil {
			return err
		}
	}
	return nil
}

// layerLabel is a layer's label: name and type over its settings, output shape, parameters
// and operation count in unit.
func layerLabel(l *graph.Layer, unit graph.FLOPUnit) string {
	rows := []string{}
	if l.Attrs != "" {
		rows = append(rows, l.Attrs)
	}
	rows = append(rows,
		shapeString(l.OutShape),
		fmt.Sprintf("params %s, %s", graph.Comma(int64(l.Params())), countString(l.Count(unit), unit)))
	color, ok := typeColor[l.Type]
	if !ok {
		color = "#ffffff"
	}
	return htmlTable(color, l.Name, l.Type, rows)
}

// nodeAttrs are the attributes of a node drawn as the HTML-like table label.
func nodeAttrs(label string) map[string]string {
	return map[string]string{"shape": "plaintext", "margin": "0", "fontname": "Helvetica", "label": label}
}

// shortcutAttrs are the attributes of a shortcut edge: dashed, in ShortcutColor, labelled
// label when it is not empty.
func shortcutAttrs(label string) map[string]string {
	a := map[string]string{"style": "dashed", "color": quote(ShortcutColor), "penwidth": "1.5"}
	if label != "" {
		a["label"] = quote(label)
		a["fontname"] = "Helvetica"
		a["fontsize"] = "10"
		a["fontcolor"] = quote(ShortcutColor)
	}
	return a
}

// depths returns each layer's position along the longest path from an input (the first
// layer after the input is at 1), and an error when the layers' data inputs form a cycle.
func depths(layers []*graph.Layer, sources [][]int) ([]int, error) {
	const (
		unseen = iota
		active
		done
	)
	state := make([]int, len(layers))
	depth := make([]int, len(layers))
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case done:
			return nil
		case active:
			return fmt.Errorf("viz: the data inputs of layer %s form a cycle", layers[i].Name)
		}
		state[i] = active
		d := 0
		for _, s := range sources[i] {
			if s < 0 {
				continue
			}
			if err := visit(s); err != nil {
				return err
			}
			d = max(d, depth[s])
		}
		depth[i], state[i] = d+1, done
		return nil
	}
	for i := range layers {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return depth, nil
}

// OpsDOT returns the whole operation graph g as Graphviz DOT text, laid out top to bottom:
// inputs and parameters (nodes without an operator) as ellipses labelled with their name and
// shape, operations as boxes labelled with the operator's String and the output shape, and an
// edge from each argument to the operation that reads it, numbered in argument order when an
// operation has more than one. Tensor values are never written, so the text stays small and
// parses back; unlike Gorgonia's own ToDot output.
func OpsDOT(name string, g *gorgonia.ExprGraph) (string, error) {
	if g == nil {
		return "", fmt.Errorf("viz: nil expression graph")
	}
	d := gographviz.NewGraph()
	gname := quote(name)
	if err := d.SetName(gname); err != nil {
		return "", err
	}
	if err := d.SetDir(true); err != nil {
		return "", err
	}
	for _, a := range [][2]string{{"rankdir", "TB"}, {"label", quote(name)}, {"labelloc", "t"}, {"fontname", "Helvetica"}} {
		if err := d.AddAttr(gname, a[0], a[1]); err != nil {
			return "", err
		}
	}
	nodes := g.AllNodes()
	var top int64
	for _, n := range nodes {
		top = max(top, n.ID())
	}
	width := len(strconv.FormatInt(top, 10))
	opID := func(n *gorgonia.Node) string { return fmt.Sprintf("n%0*d", width, n.ID()) }
	for _, n := range nodes {
		attrs := map[string]string{"fontname": "Helvetica", "fontsize": "10"}
		if n.Op() == nil {
			attrs["shape"] = "ellipse"
			attrs["style"] = "filled"
			attrs["fillcolor"] = quote("#f0f0f0")
			attrs["label"] = htmlLines("<B>"+htmlEscape(truncate(n.Name()))+"</B>", htmlEscape(shapeString(n.Shape())))
		} else {
			attrs["shape"] = "box"
			attrs["style"] = quote("rounded")
			attrs["label"] = htmlLines(htmlEscape(truncate(n.Op().String())), htmlEscape(shapeString(n.Shape())))
		}
		if err := d.AddNode(gname, opID(n), attrs); err != nil {
			return "", err
		}
	}
	for _, n := range nodes {
		var children []*gorgonia.Node
		for it := g.From(n.ID()); it != nil && it.Next(); {
			if c, ok := it.Node().(*gorgonia.Node); ok {
				children = append(children, c)
			}
		}
		for i, c := range children {
			attrs := map[string]string{}
			if len(children) > 1 {
				attrs["label"] = strconv.Itoa(i)
				attrs["fontsize"] = "9"
			}
			if err := d.AddEdge(opID(c), opID(n), true, attrs); err != nil {
				return "", err
			}
		}
	}
	return write(d)
}

// write renders the graph, reporting what gographviz's String would hide in its text.
func write(g *gographviz.Graph) (string, error) {
	a, err := g.WriteAst()
	if err != nil {
		return "", fmt.Errorf("viz: %w", err)
	}
	return a.String() + "\n", nil
}

func inputID(k int) string {
	if k == 0 {
		return "input"
	}
	return fmt.Sprintf("input_%d", k)
}

func layerID(i, width int) string { return fmt.Sprintf("L%0*d", width, i) }
