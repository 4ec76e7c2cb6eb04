package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
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
		{[]string{"summary", "resnet50"}, `unknown model "resnet50"`},
		{[]string{"summary", "lenet", "--input", "1x28"}, "want CxHxW"},
		{[]string{"summary", "lenet", "--input", "axbxc"}, "want CxHxW"},
		{[]string{"summary", "lenet", "--input", "1x8x8"}, "layer conv3 (Conv2D)"},
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
