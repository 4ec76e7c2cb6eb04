package onnx

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/onnx/onnxpb"
	"github.com/nndl/cnn/tensorio/npy"
	"github.com/nndl/cnn/trainer"
)

// TestRoundTrip exports every test model, imports the file and runs both: the layers, the
// parameter counts and the logits must be the same.
func TestRoundTrip(t *testing.T) {
	roundTrip(t, testModels())
}

// roundTrip exports each model, imports the file and compares the two.
func roundTrip(t *testing.T, models []graph.Model) {
	t.Helper()
	for _, m := range models {
		t.Run(m.Name, func(t *testing.T) {
			r, err := withWeights(m, 9)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Export(m, r.Params, &buf); err != nil {
				t.Fatal(err)
			}
			im, ip, err := Import(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if im.Name != m.Name || im.Classes != m.Classes || !slices.Equal(im.Input, m.Input) {
				t.Errorf("imported %s %v %d classes, want %s %v %d", im.Name, im.Input, im.Classes, m.Name, m.Input, m.Classes)
			}
			if got, want := layerSettings(t, im, ip), layerSettings(t, m, r.Params); got != want {
				t.Errorf("imported layers\n%s\nwant\n%s", got, want)
			}
			tr, bu := r.Params.Count()
			itr, ibu := ip.Count()
			if tr != itr || bu != ibu {
				t.Errorf("imported %d trainable, %d buffers; want %d, %d", itr, ibu, tr, bu)
			}
			const n = 2
			x := batch(m, n, 4)
			want, err := r.Predict(x, n)
			if err != nil {
				t.Fatal(err)
			}
			got, err := trainer.New(im, ip, graph.Fast, nil).Predict(x, n)
			if err != nil {
				t.Fatal(err)
			}
			// The same weights through the same operators: equal but for float32 rounding
			// (a layer's kernel may add in another order once re-declared).
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-6*(1+math.Abs(want[i])) {
					t.Fatalf("logit %d: %g after the round trip, %g before", i, got[i], want[i])
				}
			}
		})
	}
}

// layerSettings declares m in training mode (where BatchNorm's momentum counts) and lists
// its layers' types and settings, one a line, but for Dropout's and average poolings'.
func layerSettings(t *testing.T, m graph.Model, p *graph.Params) string {
	t.Helper()
	net, _, _, err := graph.Declare(m, p, graph.Fast, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range net.Layers() {
		switch l.Type {
		case "Dropout":
			continue // an Identity in the file: its probability is not kept
		case "AdaptiveAvgPool2D", "GlobalAvgPool2D", "AvgPool2D":
			// An adaptive pooling is written as the GlobalAveragePool or AveragePool it
			// equals, and read back as that.
			fmt.Fprintf(&b, "average pooling %v\n", l.OutShape[1:])
			continue
		}
		fmt.Fprintf(&b, "%s %s %v\n", l.Type, l.Attrs, l.OutShape[1:])
	}
	return b.String()
}

// checkTorchFile imports an ONNX file and compares its logits on the batch stem.input.npy
// with PyTorch's, stem.logits.npy, within 1e-4 of their largest magnitude; it returns the
// file's Notes too.
func checkTorchFile(t *testing.T, path, stem string) (graph.Model, *graph.Params, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mp, err := ReadModel(f)
	if err != nil {
		t.Fatal(err)
	}
	m, p, err := FromProto(mp)
	if err != nil {
		t.Fatal(err)
	}
	xs, x, err := npy.ReadFloat32(stem + ".input.npy")
	if err != nil {
		t.Fatal(err)
	}
	_, ref, err := npy.ReadFloat32(stem + ".logits.npy")
	if err != nil {
		t.Fatal(err)
	}
	got, err := trainer.New(m, p, graph.Fast, nil).Predict(x, xs[0])
	if err != nil {
		t.Fatal(err)
	}
	g32 := make([]float32, len(got))
	want := make([]float64, len(ref))
	for i := range got {
		g32[i], want[i] = float32(got[i]), float64(ref[i])
	}
	if len(got) != len(ref) {
		t.Fatalf("%d logits, PyTorch gives %d", len(got), len(ref))
	}
	if e := relErr(g32, want); e > 1e-4 {
		t.Errorf("logits differ from PyTorch's by %.3g of their magnitude, want at most 1e-4", e)
	} else {
		t.Logf("logits within %.2g of PyTorch's", e)
	}
	return m, p, Notes(mp)
}

// TestImportPyTorchLeNet imports the chapter's LeNet-5 as torch.onnx.export wrote it: its
// logits are PyTorch's, its parameters keep PyTorch's names.
func TestImportPyTorchLeNet(t *testing.T) {
	m, p, notes := checkTorchFile(t, "../testdata/onnx/lenet.onnx", "../testdata/onnx/lenet")
	if len(notes) != 0 {
		t.Errorf("notes %q", notes)
	}
	var names []string
	for _, q := range p.List() {
		names = append(names, q.Name)
	}
	if got := strings.Join(names, " "); got != "conv1.weight conv1.bias conv3.weight conv3.bias conv5.weight conv5.bias linear6.weight linear6.bias linear7.weight linear7.bias" {
		t.Errorf("parameters %s", got)
	}
	if tr, _ := p.Count(); tr != 61706 || m.Classes != 10 || !slices.Equal(m.Input, []int{1, 32, 32}) {
		t.Errorf("%d parameters, input %v, %d classes", tr, m.Input, m.Classes)
	}
}

// TestImportPyTorchExports imports every file that torchref/export_onnx.py wrote into
// CNN_TORCH_ONNX (the chapter's LeNet-5 and ResNet18, torchvision's resnet18 and
// mobilenet_v2; too large to keep in the repository).
func TestImportPyTorchExports(t *testing.T) {
	dir := os.Getenv("CNN_TORCH_ONNX")
	if dir == "" {
		t.Skip("CNN_TORCH_ONNX is not set: run torchref/export_onnx.py DIR and set it to DIR")
	}
	for _, name := range []string{"lenet", "resnet18_chapter", "tv_resnet18", "tv_mobilenet_v2"} {
		t.Run(name, func(t *testing.T) {
			m, p, notes := checkTorchFile(t, filepath.Join(dir, name+".onnx"), filepath.Join(dir, name))
			tr, bu := p.Count()
			t.Logf("%s: input %v, %d classes, %d trainable, %d buffers; notes %q", name, m.Input, m.Classes, tr, bu, notes)
		})
	}
}

// TestNormOf reads BatchNormalization's epsilon and momentum as the layers take them:
// PyTorch's defaults as the layer's defaults (zero), others as the decimals the float32
// attributes were written from.
func TestNormOf(t *testing.T) {
	for _, c := range []struct {
		eps, mom []float64 // an absent attribute when nil
		want     graph.Norm
		err      string
	}{
		{nil, nil, graph.Norm{}, ""},
		{[]float64{1e-5}, []float64{0.9}, graph.Norm{}, ""},
		{[]float64{0.001}, []float64{0.99}, graph.Norm{Eps: 0.001, Momentum: 0.99}, ""}, // torchvision's MobileNetV3
		{[]float64{1e-3}, nil, graph.Norm{Eps: 0.001}, ""},
		{[]float64{0}, nil, graph.Norm{}, "epsilon 0, momentum 0.9: want both between 0 and 1"},
		{nil, []float64{1}, graph.Norm{}, "epsilon 1e-05, momentum 1: want both between 0 and 1"},
		{[]float64{math.NaN()}, nil, graph.Norm{}, "epsilon NaN"},
	} {
		node := &onnxpb.NodeProto{}
		if c.eps != nil {
			node.Attribute = append(node.Attribute, attrFloat("epsilon", c.eps[0]))
		}
		if c.mom != nil {
			node.Attribute = append(node.Attribute, attrFloat("momentum", c.mom[0]))
		}
		got, err := normOf(nodeAttrs(node))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("eps %v momentum %v: error %v, want %q", c.eps, c.mom, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("eps %v momentum %v: %+v, %v; want %+v", c.eps, c.mom, got, err, c.want)
		}
	}
}
