package viz

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/resnet"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// declareResNet18 declares the chapter's ResNet18 at width 16 (the blocks are those of
// width 64) for one 1x32x32 image.
func declareResNet18(t *testing.T, residual bool) ([]*graph.Layer, *gorgonia.Node) {
	t.Helper()
	m := resnet.New(resnet.Config{InChannels: 1, Classes: 10, Width: 16, Residual: residual, StemBias: true})
	n, x, _, err := graph.Declare(m, graph.NewParams(tensor.Float32, 1), graph.Fast, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	return n.Layers(), x
}

var resnetBlocks = []string{"layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1"}

// nodeTitle is the bold name in a node's label.
var nodeTitle = regexp.MustCompile(`<B>([^<]*)</B>`)

func TestBlockDOTResNet18(t *testing.T) {
	for _, residual := range []bool{true, false} {
		t.Run(fmt.Sprintf("residual=%v", residual), func(t *testing.T) {
			layers, x := declareResNet18(t, residual)
			dot, err := BlockDOT("resnet18", layers, x, graph.UnitPaddle)
			if err != nil {
				t.Fatal(err)
			}
			g := parse(t, dot)
			// The input, the stem's conv1, bn1, relu_1 and maxpool, eight blocks, then
			// avgpool, flatten and fc.
			if got := len(g.Nodes.Nodes); got != 16 {
				t.Errorf("%d nodes, want 16", got)
			}
			if got := len(g.SubGraphs.SubGraphs); got != 0 {
				t.Errorf("%d clusters, want none", got)
			}
			titles := map[string]int{}
			byID := map[string]string{}
			var params int64
			inBlocks := 0
			for _, n := range g.Nodes.Nodes {
				m := nodeTitle.FindStringSubmatch(n.Attrs["label"])
				if m == nil {
					t.Fatalf("node %s has no title: %s", n.Name, n.Attrs["label"])
				}
				titles[m[1]]++
				byID[n.Name] = m[1]
				if p := regexp.MustCompile(`params ([0-9,]+),`).FindStringSubmatch(n.Attrs["label"]); p != nil {
					v, _ := strconv.ParseInt(strings.ReplaceAll(p[1], ",", ""), 10, 64)
					params += v
				}
				if c := regexp.MustCompile(`>(\d+) layers: `).FindStringSubmatch(n.Attrs["label"]); c != nil {
					v, _ := strconv.Atoi(c[1])
					inBlocks += v
				}
			}
			for _, b := range resnetBlocks {
				if titles[b] != 1 {
					t.Errorf("block %s drawn %d times, want once", b, titles[b])
				}
			}
			for title := range titles {
				if strings.Contains(title, "downsample") || strings.HasPrefix(title, "layer") && !strings.Contains(strings.Join(resnetBlocks, " "), title) {
					t.Errorf("node %q is inside a block", title)
				}
			}
			sum := graph.Summarize(layers, tensor.Float32)
			if params != int64(sum.TotalParams) {
				t.Errorf("the nodes' params add up to %d, want the network's %d", params, sum.TotalParams)
			}
			if want := len(layers) - 7; inBlocks != want { // 7 layers outside the blocks
				t.Errorf("the blocks hold %d layers, want %d", inBlocks, want)
			}

			// The main path is one chain of solid edges; every block has one dashed shortcut
			// from the node before it when residual, none without.
			var solid []string
			shortcuts := map[string]string{}
			for _, e := range g.Edges.Edges {
				src, dst := byID[e.Src], byID[e.Dst]
				if e.Attrs["style"] == "dashed" {
					if e.Attrs["color"] != `"`+ShortcutColor+`"` {
						t.Errorf("shortcut %s -> %s is %s", src, dst, e.Attrs["color"])
					}
					shortcuts[dst] = strings.Trim(e.Attrs["label"], `"`)
					continue
				}
				solid = append(solid, src+">"+dst)
			}
			chain := append(append([]string{"input", "conv1", "bn1", "relu_1", "maxpool"}, resnetBlocks...), "avgpool", "flatten", "fc")
			var want []string
			for i := 1; i < len(chain); i++ {
				want = append(want, chain[i-1]+">"+chain[i])
			}
			if strings.Join(solid, " ") != strings.Join(want, " ") {
				t.Errorf("solid edges\n%v\nwant\n%v", solid, want)
			}
			wantShortcuts := map[string]string{}
			if residual {
				for _, b := range resnetBlocks {
					wantShortcuts[b] = "identity"
					if strings.HasSuffix(b, ".0") && b != "layer1.0" {
						wantShortcuts[b] = "downsample"
					}
				}
			}
			if fmt.Sprint(shortcuts) != fmt.Sprint(wantShortcuts) {
				t.Errorf("shortcuts into %v, want %v", shortcuts, wantShortcuts)
			}
			if !strings.Contains(dot, "[1, 16, 8, 8] &#8594; [1, 32, 4, 4]") {
				t.Error("layer2.0's label lacks its in and out shapes")
			}
			renderIfDot(t, dot)
		})
	}
}

func TestBlockDOTWithoutBlocks(t *testing.T) {
	n, x := declareLeNet(t, 1)
	full, err := LayerDOT("lenet", n.Layers(), x, graph.UnitMACs)
	if err != nil {
		t.Fatal(err)
	}
	collapsed, err := BlockDOT("lenet", n.Layers(), x, graph.UnitMACs)
	if err != nil {
		t.Fatal(err)
	}
	if collapsed != full {
		t.Errorf("a network without blocks collapses to\n%s\nwant\n%s", collapsed, full)
	}
}

// A block's exit is the layer read outside it, and a shortcut between top-level layers
// stays dashed without a label.
func TestBlockDOTHandBuilt(t *testing.T) {
	layers, x := handBuilt(t, []layerSpec{
		{"stem", "Conv2D", "", []string{"x"}, 1},
		{"b.conv", "Conv2D", "b", []string{"stem"}, 1},
		{"b.side", "Conv2D", "b.side", []string{"stem"}, 1},
		{"b.add", "Add", "b", []string{"b.conv", "b.side"}, 0},
		{"b.unused", "ReLU", "b", []string{"b.conv"}, 0},
		{"relu", "ReLU", "", []string{"b.add"}, 0},
		{"add", "Add", "", []string{"relu", "stem"}, 0},
	})
	dot, err := BlockDOT("hand", layers, x, "")
	if err != nil {
		t.Fatal(err)
	}
	g := parse(t, dot)
	var edges []string
	for _, e := range g.Edges.Edges {
		s := e.Src + ">" + e.Dst
		if e.Attrs["style"] == "dashed" {
			s += " dashed " + e.Attrs["label"]
		}
		edges = append(edges, s)
	}
	want := []string{"input>L0", "L0>B0", `L0>B0 dashed "side"`, "B0>L5", "L5>L6", "L0>L6 dashed "}
	if strings.Join(edges, "|") != strings.Join(want, "|") {
		t.Errorf("edges\n%q\nwant\n%q", edges, want)
	}
	if got := len(g.Nodes.Nodes); got != 5 {
		t.Errorf("%d nodes, want input, stem, b, relu and add", got)
	}
	if !strings.Contains(dot, "4 layers: Conv2D x2, Add, ReLU") {
		t.Errorf("block label lacks its layers:\n%s", dot)
	}
	f, err := dataflow(layers, x)
	if err != nil {
		t.Fatal(err)
	}
	blocks, blockOf := outerBlocks(layers)
	if len(blocks) != 1 || blocks[0].name != "b" || fmt.Sprint(blockOf) != "[-1 0 0 0 0 -1 -1]" {
		t.Errorf("blocks %v, blockOf %v", blocks, blockOf)
	}
	if got := blocks[0].exit(f, blockOf); got != 3 {
		t.Errorf("block b leaves at layer %d, want 3 (b.add, which relu reads)", got)
	}
	renderIfDot(t, dot)
	if _, err := BlockDOT("bad", append(layers, nil), x, ""); err == nil || !strings.Contains(err.Error(), "layer 7 is nil") {
		t.Errorf("nil layer: error %v", err)
	}
	if _, err := BlockDOT("bad", layers, x, "watts"); err == nil {
		t.Error("unknown unit accepted")
	}
}
