package onnx

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/zoo"
)

// torchCounts are torch's own counts of a model's parameters and BatchNorm running
// statistics (testdata/onnx/NAME.counts.json, written by make_bn.py).
type torchCounts struct {
	Parameters int `json:"parameters"`
	Buffers    int `json:"buffers"`
}

func readCounts(t *testing.T, path string) torchCounts {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c torchCounts
	if err := json.Unmarshal(b, &c); err != nil || c.Parameters == 0 || c.Buffers == 0 {
		t.Fatalf("%s: %+v, %v", path, c, err)
	}
	return c
}

// TestImportTorchvisionBatchNorm imports torchvision models that torch.onnx.export wrote
// with BatchNorm kept (training=TrainingMode.PRESERVE) and with BatchNorm folded into the
// convolutions (its default), as testdata/onnx/make_bn.py made them. Each gives PyTorch's
// logits within 1e-4 and has the layers of the zoo's declaration of the model, but for
// Dropout (an Identity in the file) and, folded, BatchNorm. With BatchNorm kept, the
// summary counts torch's parameters and running statistics exactly, the BatchNorms keep
// their epsilon and momentum, the parameters keep torchvision's names, and there is no
// note. Folded, each BatchNorm's scale and shift became a bias of its convolution (so the
// trainable count is torch's less half the statistics' count, and there are no
// statistics), and Notes says so.
func TestImportTorchvisionBatchNorm(t *testing.T) {
	const dir = "../testdata/onnx/"
	mnv3 := zoo.Spec{Family: "mobilenet_v3_small", WidthMult: 0.5, NumClasses: 10, Input: []int{3, 64, 64}}
	r18 := zoo.Spec{Family: "resnet", Block: "basic", Layers: []int{2, 2, 2, 2}, Width: 8, NumClasses: 10, Input: []int{3, 64, 64}}
	for _, c := range []struct {
		file, model string
		folded      bool
		spec        zoo.Spec // the zoo's declaration of the model, whose layers the import must have
		firstNorm   string   // the first BatchNorm's settings in training mode
	}{
		{"mobilenet_v3_small_05_bn", "mobilenet_v3_small_05", false, mnv3, "eps 0.001 momentum 0.99"},
		{"resnet18_w8_bn", "resnet18_w8", false, r18, "eps 1e-05 momentum 0.9"},
		{"resnet18_w8_folded", "resnet18_w8", true, r18, ""},
	} {
		t.Run(c.file, func(t *testing.T) {
			m, p, notes := checkTorchFile(t, dir+c.file+".onnx", dir+c.model)
			want := readCounts(t, dir+c.model+".counts.json")
			n, _, _, err := graph.Declare(m, p, graph.Fast, 1, true)
			if err != nil {
				t.Fatal(err)
			}
			s := graph.Summarize(n.Layers(), tensor.Float32)
			if tr, bu := p.Count(); tr != s.TrainableParams || bu != s.BufferParams {
				t.Errorf("the store holds %d and %d, the summary counts %d and %d", tr, bu, s.TrainableParams, s.BufferParams)
			}
			wantTr, wantBu := want.Parameters, want.Buffers
			if c.folded {
				wantTr, wantBu = want.Parameters-want.Buffers/2, 0
			}
			if s.TrainableParams != wantTr || s.BufferParams != wantBu {
				t.Errorf("summary: %s trainable, %s buffers; want %s and %s (torch counts %s and %s)", graph.Comma(int64(s.TrainableParams)),
					graph.Comma(int64(s.BufferParams)), graph.Comma(int64(wantTr)), graph.Comma(int64(wantBu)),
					graph.Comma(int64(want.Parameters)), graph.Comma(int64(want.Buffers)))
			}
			types, norm := layerTypes(n.Layers())
			zm, err := c.spec.Model()
			if err != nil {
				t.Fatal(err)
			}
			zp := graph.NewParams(tensor.Float32, 1)
			zn, _, _, err := graph.Declare(zm, zp, graph.Fast, 1, false)
			if err != nil {
				t.Fatal(err)
			}
			zoos, _ := layerTypes(zn.Layers())
			delete(zoos, "Dropout") // an Identity in the file
			if c.folded {
				delete(zoos, "BatchNorm2D")
			}
			if fmt.Sprint(types) != fmt.Sprint(zoos) {
				t.Errorf("layers %v, the zoo's %v", types, zoos)
			}
			if got, want := paramNames(p), paramNames(zp); !c.folded && got != want {
				t.Errorf("parameters\n%s\nthe zoo's (torchvision's names)\n%s", got, want)
			}
			if !strings.Contains(norm, c.firstNorm) {
				t.Errorf("first BatchNorm: %q, want %q", norm, c.firstNorm)
			}
			if got := strings.Join(notes, "\n"); c.folded != strings.HasPrefix(got, "BatchNorm was folded into the convolutions by the exporter (20 of the 20 convolutions") {
				t.Errorf("notes %q", got)
			}
		})
	}
}

// layerTypes counts the layers of each type and returns the first BatchNorm's settings.
func layerTypes(layers []*graph.Layer) (map[string]int, string) {
	types, norm := map[string]int{}, ""
	for _, l := range layers {
		types[l.Type]++
		if l.Type == "BatchNorm2D" && norm == "" {
			norm = l.Attrs
		}
	}
	return types, norm
}

// paramNames lists a store's parameter names, sorted.
func paramNames(p *graph.Params) string {
	var names []string
	for _, q := range p.List() {
		names = append(names, q.Name)
	}
	slices.Sort(names)
	return strings.Join(names, " ")
}
