package zoo

import (
	"testing"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/tensor"
)

// TestFullSizeCounts declares each of torchvision's models at 3x224x224 and 1,000 classes
// and checks its trainable parameters (as torchvision counts them: BatchNorm's running
// statistics excluded) and the multiply-accumulates of its convolutions and linear layers,
// against torchref/zoo.py counts; macs 0 where only torchvision's parameter count
// (its model documentation's num_params) is known. VGG's four configurations appear with
// and without BatchNorm (each VGG allocates over 500 MB of weights, so not all eight).
func TestFullSizeCounts(t *testing.T) {
	for _, c := range []struct {
		name   string
		params int
		macs   int64
	}{
		{"alexnet", 61100840, 714188480},
		{"vgg11_bn", 132868840, 7609090048},
		{"vgg13_bn", 133053736, 0},
		{"vgg16", 138357544, 15470264320},
		{"vgg19", 143667240, 0},
		{"resnet18", 11689512, 1814073344},
		{"resnet34", 21797672, 3663761408},
		{"resnet50", 25557032, 4089184256},
		{"resnet101", 44549160, 0},
		{"resnext50_32x4d", 25028904, 4230479872},
		{"wide_resnet50_2", 68883240, 11398021120},
		{"mobilenet_v2", 3504872, 300774272},
		{"mobilenet_v3_small", 2542856, 56510400},
		{"densenet121", 7978856, 2834161664},
		{"squeezenet1_1", 1235496, 349151936},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec, ok := Lookup(c.name)
			if !ok {
				t.Fatalf("no standard model %s", c.name)
			}
			m, err := spec.Model()
			if err != nil {
				t.Fatal(err)
			}
			n, _, _, err := graph.Declare(m, graph.NewParams(tensor.Float32, 1), graph.Fast, 1, false)
			if err != nil {
				t.Fatal(err)
			}
			s := graph.Summarize(n.Layers(), tensor.Float32)
			if s.TrainableParams != c.params {
				t.Errorf("%s trainable parameters, want %s", graph.Comma(int64(s.TrainableParams)), graph.Comma(int64(c.params)))
			}
			if c.macs != 0 && s.MACs != c.macs {
				t.Errorf("%s MACs, want %s", graph.Comma(s.MACs), graph.Comma(c.macs))
			}
			if m.Name != c.name || m.Classes != 1000 || len(m.Input) != 3 || m.Input[0] != 3 || m.Input[1] != 224 || m.Input[2] != 224 {
				t.Errorf("model %s, input %v, %d classes", m.Name, m.Input, m.Classes)
			}
		})
	}
}
