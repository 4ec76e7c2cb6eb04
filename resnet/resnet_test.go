package resnet

import (
	"slices"
	"strings"
	"testing"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/tensor"
)

func summarize(t *testing.T, m graph.Model) (graph.Summary, *graph.Params) {
	t.Helper()
	params := graph.NewParams(tensor.Float32, 1)
	n, _, _, err := graph.Declare(m, params, graph.Fast, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	return graph.Summarize(n.Layers(), tensor.Float32), params
}

// TestAccounting checks the totals of docs/reference.md section 2 for 1x32x32 inputs and 10 classes.
func TestAccounting(t *testing.T) {
	for _, c := range []struct {
		name               string
		m                  graph.Model
		trainable, buffers int
		paddleFLOPs, macs  int64
	}{
		{"chapter", ResNet18(1, 10), 11175434, 9600, 35529728, 35410944},
		{"torchvision", New(Config{InChannels: 1, Classes: 10, Width: 64, Residual: true}), 11175370, 9600, 35513344, 35410944},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, params := summarize(t, c.m)
			if s.TrainableParams != c.trainable || s.BufferParams != c.buffers || s.TotalParams != c.trainable+c.buffers {
				t.Errorf("params: %d trainable + %d buffers = %d, want %d + %d", s.TrainableParams, s.BufferParams, s.TotalParams, c.trainable, c.buffers)
			}
			if s.PaddleFLOPs != c.paddleFLOPs || s.MACs != c.macs {
				t.Errorf("paddle FLOPs %d, MACs %d; want %d, %d", s.PaddleFLOPs, s.MACs, c.paddleFLOPs, c.macs)
			}
			tr, buf := params.Count()
			if tr != c.trainable || buf != c.buffers {
				t.Errorf("parameter store holds %d + %d", tr, buf)
			}
			if l := s.Layers[len(s.Layers)-1]; l.Name != "fc" || !l.OutShape.Eq(tensor.Shape{1, 10}) {
				t.Errorf("last layer %s %v", l.Name, l.OutShape)
			}
		})
	}
	if ResNet18(1, 10).Name != "resnet18" || !slices.Equal(ResNet18(3, 10).Input, []int{3, 32, 32}) {
		t.Errorf("model %+v", ResNet18(3, 10))
	}
}

// TestLayout checks the torchvision names, the downsample branches, block scopes and shapes.
func TestLayout(t *testing.T) {
	s, params := summarize(t, New(Config{InChannels: 1, Classes: 10, Width: 8, Residual: true}))
	var names []string
	for _, p := range params.List() {
		names = append(names, p.Name)
	}
	want := []string{"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
		"layer1.0.conv1.weight", "layer1.0.bn1.weight"}
	if !slices.Equal(names[:len(want)], want) {
		t.Errorf("first parameters %v, want %v", names[:len(want)], want)
	}
	for _, name := range []string{"layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", "layer4.1.bn2.bias", "fc.weight", "fc.bias"} {
		if params.Get(name) == nil {
			t.Errorf("no parameter %s", name)
		}
	}
	var downsample, adds int
	for _, l := range s.Layers {
		if strings.Contains(l.Name, "downsample") {
			downsample++
			if !strings.HasSuffix(l.Block, ".0.downsample") {
				t.Errorf("%s in block %q", l.Name, l.Block)
			}
		}
		if l.Type == "Add" {
			adds++
			if !l.Inputs[0].Shape().Eq(l.Inputs[1].Shape()) {
				t.Errorf("%s adds %v and %v", l.Name, l.Inputs[0].Shape(), l.Inputs[1].Shape())
			}
		}
	}
	if downsample != 6 || adds != 8 {
		t.Errorf("%d downsample layers and %d adds, want 6 and 8", downsample, adds)
	}
	for _, c := range []struct {
		name  string
		shape tensor.Shape
	}{{"conv1", tensor.Shape{1, 8, 16, 16}}, {"maxpool", tensor.Shape{1, 8, 8, 8}}, {"layer2.0.add", tensor.Shape{1, 16, 4, 4}}, {"layer4.1.bn2", tensor.Shape{1, 64, 1, 1}}, {"avgpool", tensor.Shape{1, 64, 1, 1}}} {
		i := slices.IndexFunc(s.Layers, func(l *graph.Layer) bool { return l.Name == c.name })
		if i < 0 || !s.Layers[i].OutShape.Eq(c.shape) {
			t.Errorf("layer %s: index %d, want output %v", c.name, i, c.shape)
		}
	}

	s, params = summarize(t, New(Config{InChannels: 1, Classes: 10, Width: 8}))
	for _, p := range params.List() {
		if strings.Contains(p.Name, "downsample") {
			t.Errorf("without residual connections the model has %s", p.Name)
		}
	}
	for _, l := range s.Layers {
		if l.Type == "Add" {
			t.Errorf("without residual connections the model has %s", l.Name)
		}
	}
}
