package lenet

import (
	"testing"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/tensor"
)

// The chapter's figures (docs/reference.md section 2), computed through the real accounting.
func TestAccounting(t *testing.T) {
	for _, impl := range []graph.Impl{graph.Fast, graph.Naive} {
		n, _, _, err := graph.Declare(New(1, 10), graph.NewParams(tensor.Float32, 1), impl, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			name          string
			params        int
			paddle, macs  int64
			out           tensor.Shape
			receptiveSide int
		}{
			{"conv1", 156, 122304, 117600, tensor.Shape{1, 6, 28, 28}, 5},
			{"relu_1", 0, 0, 0, tensor.Shape{1, 6, 28, 28}, 5},
			{"pool2", 0, 0, 0, tensor.Shape{1, 6, 14, 14}, 6},
			{"conv3", 2416, 241600, 240000, tensor.Shape{1, 16, 10, 10}, 14},
			{"relu_2", 0, 0, 0, tensor.Shape{1, 16, 10, 10}, 14},
			{"pool4", 0, 400, 0, tensor.Shape{1, 16, 5, 5}, 16},
			{"conv5", 48120, 48120, 48000, tensor.Shape{1, 120, 1, 1}, 32},
			{"relu_3", 0, 0, 0, tensor.Shape{1, 120, 1, 1}, 32},
			{"flatten", 0, 0, 0, tensor.Shape{1, 120}, 32},
			{"linear6", 10164, 10080, 10080, tensor.Shape{1, 84}, 32},
			{"relu_4", 0, 0, 0, tensor.Shape{1, 84}, 32},
			{"linear7", 850, 840, 840, tensor.Shape{1, 10}, 32},
		}
		layers := n.Layers()
		if len(layers) != len(want) {
			t.Fatalf("%v: %d layers, want %d", impl, len(layers), len(want))
		}
		for i, w := range want {
			l := layers[i]
			if l.Name != w.name || l.Params() != w.params || l.PaddleFLOPs != w.paddle || l.MACs != w.macs || !l.OutShape.Eq(w.out) || l.RF != w.receptiveSide {
				t.Errorf("%v layer %d: got %s params %d paddle %d macs %d out %v rf %d; want %+v",
					impl, i, l.Name, l.Params(), l.PaddleFLOPs, l.MACs, l.OutShape, l.RF, w)
			}
		}
		s := graph.Summarize(layers, tensor.Float32)
		if s.TotalParams != 61706 || s.TrainableParams != 61706 || s.Count(graph.UnitPaddle) != 423344 || s.Count(graph.UnitMACs) != 416520 {
			t.Errorf("%v: totals %d params (%d trainable), %d paddle FLOPs, %d MACs; want 61706, 61706, 423344, 416520",
				impl, s.TotalParams, s.TrainableParams, s.Count(graph.UnitPaddle), s.Count(graph.UnitMACs))
		}
	}
}
