package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nndl/cnn/tensorio/npy"
)

// TestExportImportCLI trains LeNet-5 for an epoch, exports it, and runs the ONNX file in
// place of the model name: summary reads it, predict gives the logits of the checkpoint.
func TestExportImportCLI(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	if _, stderr, st := cnn("train", "lenet", "--epochs", "1", "--out", run); st != 0 {
		t.Fatalf("train: %s", stderr)
	}
	weights, model := filepath.Join(run, "best.safetensors"), filepath.Join(dir, "lenet.onnx")
	stdout, stderr, st := cnn("export", "lenet", "--weights", weights, "-o", model)
	if st != 0 || !strings.Contains(stdout, "61,706 parameters") {
		t.Fatalf("export: status %d: %s%s", st, stdout, stderr)
	}
	if stdout, _, st := cnn("summary", model); st != 0 || !strings.Contains(stdout, "Total params: 61,706") || !strings.Contains(stdout, "conv5 (Conv2D)") {
		t.Errorf("summary of the ONNX file: status %d:\n%s", st, stdout)
	}
	x, err := os.ReadFile("../testdata/onnx/lenet.input.npy")
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "x.npy")
	if err := os.WriteFile(in, x, 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.npy"), filepath.Join(dir, "b.npy")
	if _, stderr, st := cnn("predict", "--weights", weights, "--input", in, "--out", a); st != 0 {
		t.Fatalf("predict with the checkpoint: %s", stderr)
	}
	if _, stderr, st := cnn("predict", model, "--input", in, "--out", b); st != 0 {
		t.Fatalf("predict with the ONNX file: %s", stderr)
	}
	_, ya, err := npy.ReadFloat32(a)
	if err != nil {
		t.Fatal(err)
	}
	_, yb, err := npy.ReadFloat32(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ya {
		if ya[i] != yb[i] {
			t.Fatalf("logit %d: %g from the ONNX file, %g from the checkpoint", i, yb[i], ya[i])
		}
	}
}

// TestExportImportErrors: refusals are one line with status 2.
func TestExportImportErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.onnx")
	if err := os.WriteFile(bad, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"summary", bad}, "cnn summary: " + bad + ": not an ONNX model (11 bytes): "},
		{[]string{"export", "lenet", "--weights", bad}, "cnn export: -o FILE.onnx is required"},
		{[]string{"export", bad, "--weights", bad, "-o", bad}, "cnn export: -o " + bad + " is also the --weights file; refusing to replace an input of the command"},
		{[]string{"predict", filepath.Join(dir, "missing.onnx"), "--input", bad, "--out", filepath.Join(dir, "y.npy")}, "cnn predict: open " + filepath.Join(dir, "missing.onnx")},
	} {
		_, stderr, st := cnn(c.args...)
		if st != 2 || !strings.HasPrefix(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: status %d, stderr %q; want 2 and a line starting %q", c.args, st, stderr, c.want)
		}
	}
}

// TestONNXModelCommands: an ONNX file from PyTorch stands in for a model name in flops, dot,
// bench and train (fine-tuning from its weights), as in summary and predict.
func TestONNXModelCommands(t *testing.T) {
	const model = "../testdata/onnx/lenet.onnx"
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"flops", model, "--unit", "macs"}, "416,520"},
		{[]string{"dot", model, "-o", filepath.Join(dir, "lenet.dot")}, "wrote"},
		{[]string{"bench", model, "--min-time", "50ms", "--min-runs", "2"}, "lenet.onnx"},
		{[]string{"train", model, "--epochs", "1", "--out", filepath.Join(dir, "run")}, "[Test] accuracy/loss"},
	} {
		out, errOut, st := cnn(c.args...)
		if st != 0 || !strings.Contains(out, c.want) {
			t.Errorf("cnn %s: status %d, stderr %q; want %q in:\n%s", strings.Join(c.args, " "), st, errOut, c.want, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "lenet.dot")); err != nil || !strings.Contains(string(b), "61,706 params") {
		t.Errorf("the DOT (error %v) does not count LeNet-5's 61,706 parameters", err)
	}
}

// TestONNXSummaryNotes: the summary of a file torch.onnx.export folded BatchNorm into says
// so, and that of a file with BatchNormalization does not.
func TestONNXSummaryNotes(t *testing.T) {
	for _, c := range []struct {
		file string
		note bool
	}{
		{"../testdata/onnx/resnet18_w8_folded.onnx", true},
		{"../testdata/onnx/resnet18_w8_bn.onnx", false},
		{"../testdata/onnx/lenet.onnx", false},
	} {
		out, errOut, st := cnn("summary", c.file)
		if st != 0 {
			t.Fatalf("cnn summary %s: status %d, stderr %q", c.file, st, errOut)
		}
		if got := strings.Contains(out, "note: BatchNorm was folded"); got != c.note {
			t.Errorf("cnn summary %s: note of folding %v, want %v:\n%s", c.file, got, c.note, out)
		}
	}
}
