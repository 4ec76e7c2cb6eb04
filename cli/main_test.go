package cli

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/nndl/cnn/graph"
	"gorgonia.org/tensor"
)

func cnn(args ...string) (stdout, stderr string, status int) {
	var o, e bytes.Buffer
	status = run(args, &o, &e)
	return o.String(), e.String(), status
}

func TestSummaryTotals(t *testing.T) {
	out, errOut, st := cnn("summary", "lenet")
	if st != 0 {
		t.Fatalf("status %d: %s", st, errOut)
	}
	for _, want := range []string{"Total params: 61,706", "Total FLOPs: 423,344", "[1, 6, 28, 28]", "conv5 (Conv2D)"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	out, _, st = cnn("summary", "lenet", "--json", "--batch", "2")
	var js struct {
		Layers []struct {
			Name        string `json:"name"`
			OutputShape []int  `json:"output_shape"`
			Params      int    `json:"params"`
			FLOPs       int64  `json:"flops"`
		} `json:"layers"`
		TotalParams     int    `json:"total_params"`
		TrainableParams int    `json:"trainable_params"`
		FLOPs           int64  `json:"flops"`
		Unit            string `json:"flops_unit"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil || st != 0 {
		t.Fatalf("status %d, JSON %v:\n%s", st, err, out)
	}
	if js.TotalParams != 61706 || js.TrainableParams != 61706 || js.FLOPs != 2*423344 || js.Unit != "paddle" || len(js.Layers) != 12 || js.Layers[0].OutputShape[0] != 2 {
		t.Errorf("JSON totals: %+v", js)
	}
}

func TestFLOPsUnits(t *testing.T) {
	for unit, total := range map[string]string{"paddle": "423,344", "macs": "416,520"} {
		out, errOut, st := cnn("flops", "lenet", "--unit", unit)
		if st != 0 || !strings.Contains(out, total) || !strings.Contains(out, "Unit: ") {
			t.Errorf("flops --unit %s: status %d, %s%s", unit, st, out, errOut)
		}
	}
	out, _, _ := cnn("flops", "lenet", "--unit", "paddle")
	for _, row := range []string{"122,304", "241,600", "48,120", "400", "10,080", "840"} {
		if !strings.Contains(out, row) {
			t.Errorf("flops table lacks %s", row)
		}
	}
}

// TestBadInput: each mistake is one line on stderr and exit status 2.
func TestBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"summary", "googlenet"}, `unknown model "googlenet"`},
		{[]string{"summary", "lenet", "--shape", "1x28"}, "want CxHxW"},
		{[]string{"summary", "lenet", "--shape", "axbxc"}, "want CxHxW"},
		{[]string{"summary", "lenet", "--shape", "1x8x8"}, "layer conv3 (Conv2D)"},
		{[]string{"summary", "lenet", "--batch", "0"}, "--batch 0"},
		{[]string{"flops", "lenet", "--unit", "gflops"}, "unknown FLOPs unit"},
		{[]string{"summary"}, "want one model name"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"summary", "lenet", "--nope"}, "flag provided but not defined"},
	} {
		out, errOut, st := cnn(c.args...)
		if st != 2 || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || out != "" {
			t.Errorf("%v: status %d, stdout %q, stderr %q; want status 2 and one line containing %q", c.args, st, out, errOut, c.want)
		}
	}
}

func TestConvDemo(t *testing.T) {
	out, errOut, st := cnn("conv-demo")
	if st != 0 {
		t.Fatalf("status %d: %s", st, errOut)
	}
	for _, want := range []string{"[[25, 31], [43, 49]]", "8x8      3       1        2      4x4", "[[6, 8], [14, 16]]", "[[3.5, 5.5], [11.5, 13.5]]"} {
		if !strings.Contains(out, want) {
			t.Errorf("conv-demo lacks %q", want)
		}
	}
	if strings.Contains(out, "DIFFER") {
		t.Errorf("the two implementations differ:\n%s", out)
	}
}

func TestDOT(t *testing.T) {
	out, errOut, st := cnn("dot", "lenet")
	if st != 0 || !strings.HasPrefix(out, "digraph") || !strings.Contains(out, "conv1") || !strings.Contains(out, "61,706 params") {
		t.Fatalf("dot lenet: status %d, %s%s", st, errOut, out)
	}
	out, errOut, st = cnn("dot", "lenet", "--ops", "--train")
	if st != 0 || !strings.Contains(out, "Conv2DGradW") || !strings.Contains(out, "SoftmaxCrossEntropy") {
		t.Fatalf("dot lenet --ops --train: status %d, %s", st, errOut)
	}
	path := t.TempDir() + "/lenet.dot"
	if _, errOut, st = cnn("dot", "lenet", "-o", path); st != 0 {
		t.Fatalf("dot -o: status %d, %s", st, errOut)
	}
}

// TestResNet18Summary checks the chapter's totals (docs/reference.md section 2) and the ResNet flags.
func TestResNet18Summary(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"summary", "resnet18"}, []string{"Total params: 11,185,034", "Trainable params: 11,175,434", "Non-trainable params: 9,600", "Total FLOPs: 35,529,728", "layer2.0.downsample.0 (Conv2D)", "layer4.1.add (Add)"}},
		{[]string{"summary", "resnet18", "--stem-bias=false"}, []string{"Total params: 11,184,970", "Total FLOPs: 35,513,344"}},
		{[]string{"flops", "resnet18", "--unit", "macs"}, []string{"35,410,944"}},
		{[]string{"flops", "resnet18"}, []string{"35,529,728"}},
		{[]string{"summary", "resnet18", "--width", "8", "--no-residual"}, []string{"[1, 64, 1, 1]"}},
	} {
		out, errOut, st := cnn(c.args...)
		if st != 0 {
			t.Errorf("%v: status %d: %s", c.args, st, errOut)
			continue
		}
		for _, want := range c.want {
			if !strings.Contains(out, want) {
				t.Errorf("%v lacks %q:\n%s", c.args, want, out)
			}
		}
		if slices.Contains(c.args, "--no-residual") && (strings.Contains(out, "downsample") || strings.Contains(out, "(Add)")) {
			t.Errorf("%v has residual connections:\n%s", c.args, out)
		}
	}
	if _, errOut, st := cnn("summary", "resnet18", "--width", "0"); st != 2 || !strings.Contains(errOut, "--width 0") {
		t.Errorf("--width 0: status %d, %s", st, errOut)
	}
}

// TestResNet18Metadata rebuilds ResNets from checkpoint metadata: ours, and the PyTorch
// exports' keys (num_classes, width, use_residual and stem_bias as "True"/"False").
func TestResNet18Metadata(t *testing.T) {
	params := func(m graph.Model) *graph.Params {
		t.Helper()
		p := graph.NewParams(tensor.Float32, 0)
		if _, _, _, err := graph.Declare(m, p, graph.Fast, 1, false); err != nil {
			t.Fatal(err)
		}
		return p
	}
	torch := map[string]string{"model": "resnet18", "in_channels": "1", "num_classes": "7", "width": "8", "stem_bias": "False", "use_residual": "False"}
	name, m, _, err := fromMetadata("export.safetensors", torch)
	if err != nil {
		t.Fatal(err)
	}
	p := params(m)
	if name != "resnet18" || m.Classes != 7 || !slices.Equal(m.Input, []int{1, 32, 32}) || !p.Get("conv1.weight").Value.Shape().Eq(tensor.Shape{8, 1, 7, 7}) ||
		p.Get("conv1.bias") != nil || p.Get("layer2.0.downsample.0.weight") != nil {
		t.Errorf("from %v: %s %+v", torch, name, m)
	}

	mf := &modelFlags{inChannels: 3, classes: 5, width: 4, stemBias: true}
	m, _, err = mf.model("resnet18")
	if err != nil {
		t.Fatal(err)
	}
	meta := mf.metadata("resnet18", m)
	if meta["width"] != "4" || meta["use_residual"] != "True" || meta["stem_bias"] != "True" {
		t.Errorf("metadata %v", meta)
	}
	_, m, _, err = fromMetadata("ours.safetensors", meta)
	if err != nil {
		t.Fatal(err)
	}
	p = params(m)
	if m.Classes != 5 || !p.Get("conv1.weight").Value.Shape().Eq(tensor.Shape{4, 3, 7, 7}) || p.Get("conv1.bias") == nil || p.Get("layer2.0.downsample.0.weight") == nil {
		t.Errorf("from %v: %+v", meta, m)
	}

	meta["use_residual"] = "maybe"
	if _, _, _, err := fromMetadata("bad.safetensors", meta); err == nil || !strings.Contains(err.Error(), "use_residual") {
		t.Errorf("use_residual=maybe: error %v", err)
	}

	// The golden PyTorch file carries its configuration: predict rebuilds the model from it.
	out, errOut, st := cnn("predict", "--weights", "../testdata/golden/resnet18_w8_stembias.safetensors", "--strict=false", "--index", "0", "--out", t.TempDir()+"/digit.png")
	if st != 0 || !strings.Contains(out, "predicted category") || strings.Contains(out, "conv1.bias (not in the file") {
		t.Errorf("predict with the golden weights: status %d, %s%s", st, out, errOut)
	}
}

// TestBenchCommand: a short `cnn bench` gives a plausible JSON row, and --ops a profile in
// which the convolutions take part of the step's time.
func TestBenchCommand(t *testing.T) {
	out, errOut, st := cnn("bench", "lenet", "--json", "--min-time", "1ms", "--min-runs", "2")
	if st != 0 {
		t.Fatalf("status %d: %s", st, errOut)
	}
	var rows []struct {
		Name    string  `json:"name"`
		TrainMs float64 `json:"train_step_ms"`
		Infer1  float64 `json:"infer_batch1_ms"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(rows) != 1 || rows[0].Name != "lenet" || !(rows[0].TrainMs > 0) || !(rows[0].Infer1 > 0) {
		t.Errorf("bench lenet: %+v", rows)
	}
	out, errOut, st = cnn("bench", "lenet", "--ops", "--min-time", "1ms", "--min-runs", "2")
	if st != 0 {
		t.Fatalf("--ops: status %d: %s", st, errOut)
	}
	for _, want := range []string{"lenet training step, batch 64", "Conv2DGradW", "Pool2D"} {
		if !strings.Contains(out, want) {
			t.Errorf("--ops lacks %q:\n%s", want, out)
		}
	}
}
