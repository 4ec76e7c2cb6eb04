package cli

import (
	"github.com/nndl/cnn/tensorio"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nndl/cnn/internal/golden"
	"github.com/nndl/cnn/tensorio/npy"
	"github.com/nndl/cnn/tensorio/safetensors"
)

// TestPredictPyTorchExport runs a torchvision-style state_dict saved as safetensors (the golden
// ResNet18 of width 8, its tensors under torchvision's names, its metadata as written by
// PyTorch's side) in both BatchNorm modes and compares the logits with PyTorch's.
func TestPredictPyTorchExport(t *testing.T) {
	g, err := golden.Read("../testdata/golden/resnet18_w8.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	f := g.File
	dir := t.TempDir()
	weights := &safetensors.File{Tensors: g.Weights, Metadata: f.Metadata}
	// A real PyTorch export also carries BatchNorm step counters; they must be ignored.
	weights.Tensors["bn1.num_batches_tracked"] = tensorio.NewInt64(nil, []int64{1})
	wpath := filepath.Join(dir, "resnet18.safetensors")
	if err := safetensors.WriteFile(wpath, weights); err != nil {
		t.Fatal(err)
	}
	in := f.Tensors["input"]
	xpath := filepath.Join(dir, "x.npy")
	if err := npy.WriteFloat32(xpath, in.Shape, in.F32); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ mode, ref string }{{"eval", "eval.logits"}, {"train", "train.logits"}} {
		out := filepath.Join(dir, c.mode+".npy")
		stdout, stderr, st := cnn("predict", "--weights", wpath, "--input", xpath, "--out", out, "--mode", c.mode)
		if st != 0 {
			t.Fatalf("--mode %s: status %d: %s%s", c.mode, st, stdout, stderr)
		}
		shape, got, err := npy.ReadFloat32(out)
		if err != nil {
			t.Fatal(err)
		}
		want := f.Tensors[c.ref].F32
		if len(shape) != 2 || shape[0] != 4 || shape[1] != 10 {
			t.Fatalf("logits shape %v", shape)
		}
		if e := golden.RelErr(golden.Float64s(got), golden.Float64s(want)); e > 1e-4 {
			t.Errorf("--mode %s: relative error %.3g against PyTorch", c.mode, e)
		}
	}
	// Strict loading names what is missing and what is extra.
	delete(weights.Tensors, "layer2.0.downsample.1.weight")
	weights.Tensors["extra.thing"] = tensorio.NewFloat32([]int{1}, []float32{0})
	if err := safetensors.WriteFile(wpath, weights); err != nil {
		t.Fatal(err)
	}
	_, stderr, st := cnn("predict", "--weights", wpath, "--input", xpath, "--out", filepath.Join(dir, "l.npy"))
	if st != 2 || !strings.Contains(stderr, "missing layer2.0.downsample.1.weight") || !strings.Contains(stderr, "unexpected extra.thing") {
		t.Errorf("strict load: status %d, %q", st, stderr)
	}
	stdout, stderr, st := cnn("predict", "--weights", wpath, "--input", xpath, "--out", filepath.Join(dir, "l.npy"), "--strict=false")
	if st != 0 || !strings.Contains(stdout, "skipped: layer2.0.downsample.1.weight") {
		t.Errorf("--strict=false: status %d, %s%s", st, stdout, stderr)
	}
}
