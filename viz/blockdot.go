package viz

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/awalterschulze/gographviz"
	"github.com/nndl/cnn/graph"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// blockColor fills the title cell of a block drawn as one node.
const blockColor = "#fff2cc"

// BlockDOT returns the layer graph of a declared network as LayerDOT does, but compact: each
// block is one node. A block is the outermost Block of its layers, so "layer2.0" holds the
// layers of "layer2.0.downsample" too; its node is labelled with the block's name, how many
// layers of each type it holds, the shape entering its first layer and the shape leaving it,
// and the sums of its parameters and operation counts in unit (graph.UnitPaddle when empty).
// A layer outside every block, and the network's input, are drawn as LayerDOT draws them.
//
// Edges inside a block are left out, and an edge between two nodes is drawn once for each
// kind. A data path that enters a block anywhere but at its first layer is a shortcut, drawn
// dashed in ShortcutColor and labelled by the way it takes: "identity" when it reaches an Add
// directly, the nested block's name when it passes one ("downsample"), otherwise the layer it
// enters; it leaves and enters the nodes on their right, beside the main edge between them.
// Every edge LayerDOT dashes is dashed here too. With no blocks, the graph is the one
// LayerDOT draws.
func BlockDOT(name string, layers []*graph.Layer, input *gorgonia.Node, unit graph.FLOPUnit) (string, error) {
	unit, err := parseUnit(unit)
	if err != nil {
		return "", err
	}
	f, err := dataflow(layers, input)
	if err != nil {
		return "", err
	}
	blocks, blockOf := outerBlocks(layers)
	sum := graph.Summarize(layers, tensor.Float32) // the dtype only sizes memory, unused here
	collapsed := ""
	if len(blocks) > 0 {
		collapsed = fmt.Sprintf(" (%d blocks drawn as one node each)", len(blocks))
	}
	title := fmt.Sprintf("%s: %d layers%s, %s params, %s",
		name, len(layers), collapsed, graph.Comma(int64(sum.TotalParams)), countString(sum.Count(unit), unit))
	g, gname, err := newLayerGraph(name, title)
	if err != nil {
		return "", err
	}
	if err := addInputs(g, gname, f.inputs); err != nil {
		return "", err
	}

	lw, bw := len(strconv.Itoa(len(layers))), len(strconv.Itoa(len(blocks)))
	id := func(s int) string { // the node that source s (as in flow.sources) is drawn in
		switch {
		case s < 0:
			return inputID(-1 - s)
		case blockOf[s] >= 0:
			return blockID(blockOf[s], bw)
		}
		return layerID(s, lw)
	}
	drawn := make([]bool, len(blocks))
	for i, l := range layers {
		if b := blockOf[i]; b < 0 {
			err = g.AddNode(gname, id(i), nodeAttrs(layerLabel(l, unit)))
		} else if !drawn[b] {
			drawn[b] = true
			err = g.AddNode(gname, id(i), nodeAttrs(blocks[b].label(layers, f, blockOf, unit)))
		}
		if err != nil {
			return "", err
		}
	}

	if err := addBlockEdges(g, layers, f, blocks, blockOf, id); err != nil {
		return "", err
	}
	return write(g)
}

// addBlockEdges adds BlockDOT's edges to g: those between different nodes (id names the node
// each layer or input is drawn in), each kind once, a path into a block at any but its first
// layer a labelled shortcut.
func addBlockEdges(g *gographviz.Graph, layers []*graph.Layer, f *flow, blocks []block, blockOf []int, id func(int) string) error {
	type edge struct {
		src, dst string
		shortcut bool
		label    string
	}
	seen := map[edge]bool{}
	for i := range layers {
		for _, s := range f.sources[i] {
			if s >= 0 && blockOf[s] >= 0 && blockOf[s] == blockOf[i] {
				continue // inside a block
			}
			e := edge{src: id(s), dst: id(i), shortcut: f.shortcut(s, i)}
			if b := blockOf[i]; b >= 0 && blocks[b].layers[0] != i {
				e.shortcut, e.label = true, blocks[b].pathLabel(layers[i])
			}
			if seen[e] {
				continue
			}
			seen[e] = true
			attrs := map[string]string{}
			if e.shortcut {
				attrs = shortcutAttrs(e.label)
				if e.label != "" {
					// Beside the main edge between the same nodes, not on top of it.
					attrs["tailport"], attrs["headport"] = "e", "e"
				}
			}
			if err := g.AddEdge(e.src, e.dst, true, attrs); err != nil {
				return err
			}
		}
	}
	return nil
}

// block is an outermost block and its layers' indexes, in declaration order.
type block struct {
	name   string
	layers []int
}

// outerBlocks groups the layers into their outermost blocks, in order of first appearance;
// blockOf[i] is the index of layer i's block, -1 for a layer outside every block. The
// outermost block of a layer is the shortest name among the layers' blocks that is its Block
// or a dotted prefix of it.
func outerBlocks(layers []*graph.Layer) (blocks []block, blockOf []int) {
	names := map[string]bool{}
	for _, l := range layers {
		if l.Block != "" {
			names[l.Block] = true
		}
	}
	index := map[string]int{}
	blockOf = make([]int, len(layers))
	for i, l := range layers {
		blockOf[i] = -1
		if l.Block == "" {
			continue
		}
		outer := l.Block
		for n := range names {
			if len(n) < len(outer) && strings.HasPrefix(l.Block, n+".") {
				outer = n
			}
		}
		b, ok := index[outer]
		if !ok {
			b = len(blocks)
			index[outer] = b
			blocks = append(blocks, block{name: outer})
		}
		blocks[b].layers = append(blocks[b].layers, i)
		blockOf[i] = b
	}
	return blocks, blockOf
}

// label is the block's node label: its name over the types of its layers, the shape
// entering it and the shape leaving it, and its parameters and operation count in unit.
func (b block) label(layers []*graph.Layer, f *flow, blockOf []int, unit graph.FLOPUnit) string {
	var types []string
	count := map[string]int{}
	params, ops := 0, int64(0)
	for _, i := range b.layers {
		l := layers[i]
		if count[l.Type] == 0 {
			types = append(types, l.Type)
		}
		count[l.Type]++
		params += l.Params()
		ops += l.Count(unit)
	}
	for k, t := range types {
		if count[t] > 1 {
			types[k] = fmt.Sprintf("%s x%d", t, count[t])
		}
	}
	in := layers[b.layers[0]].InShape
	out := layers[b.exit(f, blockOf)].OutShape
	rows := []string{
		fmt.Sprintf("%d layers: %s", len(b.layers), strings.Join(types, ", ")),
		shapeString(in) + " → " + shapeString(out),
		fmt.Sprintf("params %s, %s", graph.Comma(int64(params)), countString(ops, unit)),
	}
	return htmlTable(blockColor, b.name, "block", rows)
}

// exit is the layer whose output leaves the block: the last one that a layer outside the
// block reads, or the block's last layer when none is read outside.
func (b block) exit(f *flow, blockOf []int) int {
	self := blockOf[b.layers[0]]
	exit := b.layers[len(b.layers)-1]
	found := false
	for i := range f.sources {
		if blockOf[i] == self {
			continue
		}
		for _, s := range f.sources[i] {
			if s >= 0 && blockOf[s] == self && (!found || s > exit) {
				exit, found = s, true
			}
		}
	}
	return exit
}

// pathLabel names the way a shortcut into the block takes by the layer l it enters.
func (b block) pathLabel(l *graph.Layer) string {
	switch {
	case l.Block != b.name:
		return strings.TrimPrefix(l.Block, b.name+".")
	case l.Type == "Add":
		return "identity"
	}
	return strings.TrimPrefix(l.Name, b.name+".")
}

func blockID(b, width int) string { return fmt.Sprintf("B%0*d", width, b) }
