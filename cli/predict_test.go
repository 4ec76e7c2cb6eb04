package cli

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nndl/cnn/data"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"github.com/nndl/cnn/resnet"
	"github.com/nndl/cnn/tensorio"
	"github.com/nndl/cnn/tensorio/npy"
	"github.com/nndl/cnn/tensorio/safetensors"
	"github.com/nndl/cnn/trainer"
	"gorgonia.org/tensor"
)

// testSet is the chapter's test split as the models see it.
func testSet(t *testing.T) *data.Dataset {
	t.Helper()
	s, err := data.ChapterSubset()
	if err != nil {
		t.Fatal(err)
	}
	_, _, test := s.Datasets(32, 32)
	return test
}

// loadRunner returns a LeNet runner on the weights of a checkpoint.
func loadRunner(t *testing.T, path string) *trainer.Runner {
	t.Helper()
	r := trainer.New(lenet.New(1, 10), graph.NewParams(tensor.Float32, 0), graph.Fast, nil)
	if _, err := r.Program(1, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := trainer.LoadWeights(path, r.Params, true); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPredictIndex(t *testing.T) {
	dir := trainedRun(t)
	outDir := t.TempDir()
	pngPath := filepath.Join(outDir, "x.png")
	out, errOut, st := cnn("predict", "--weights", filepath.Join(dir, "best.safetensors"), "--index", "1", "--out", pngPath)
	if st != 0 || errOut != "" {
		t.Fatalf("status %d, stderr %q", st, errOut)
	}
	if !strings.HasPrefix(out, "The true category is 2 and the predicted category is ") {
		t.Errorf("predict --index 1 printed:\n%s", out)
	}
	// The printed class is the argmax of the checkpoint's logits, and the ten
	// probabilities add up to 1.
	test := testSet(t)
	logits, err := loadRunner(t, filepath.Join(dir, "best.safetensors")).Predict(test.Sample(1), 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("the predicted category is %d\n", trainer.Argmax(logits)); !strings.Contains(out, want) {
		t.Errorf("predict printed:\n%s\nwant %q", out, want)
	}
	var sum float64
	var n int
	for _, line := range strings.Split(out, "\n") {
		var class int
		var p float64
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "%d: %f", &class, &p); err == nil {
			sum += p
			n++
		}
	}
	if n != 10 || math.Abs(sum-1) > 1e-3 {
		t.Errorf("%d class probabilities adding up to %v, want 10 adding up to 1", n, sum)
	}

	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("x.png: %v", err)
	}
	if g, ok := img.(*image.Gray); !ok || g.Bounds().Dx() != 32 || g.Bounds().Dy() != 32 {
		t.Errorf("x.png is a %T of %v, want a 32x32 grey image", img, img.Bounds())
	}
	if names := dirNames(t, outDir); !slices.Equal(names, []string{"x.png"}) {
		t.Errorf("the output folder holds %q, want only x.png", names)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestPredictNPY: a batch of tensors from a .npy file gives the logits that the
// checkpoint's inference program computes for the same batch, to the bit, and nearly the
// ones eval's batch-64 program computes for those images.
func TestPredictNPY(t *testing.T) {
	dir := trainedRun(t)
	weights := filepath.Join(dir, "best.safetensors")
	test := testSet(t)
	const n = 5
	x := test.X[:n*test.SampleSize()]
	io := t.TempDir()
	in, outPath := filepath.Join(io, "x.npy"), filepath.Join(io, "logits.npy")
	if err := npy.WriteFloat32(in, []int{n, 1, 32, 32}, x); err != nil {
		t.Fatal(err)
	}
	out, errOut, st := cnn("predict", "--weights", weights, "--input", in, "--out", outPath)
	if st != 0 || errOut != "" {
		t.Fatalf("status %d, stderr %q", st, errOut)
	}
	if want := fmt.Sprintf("wrote logits [5,10] to %s\n", outPath); out != want {
		t.Errorf("printed %q, want %q", out, want)
	}
	shape, got, err := npy.ReadFloat32(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shape, []int{n, 10}) || len(got) != n*10 {
		t.Fatalf("logits.npy has shape %v, want [5 10]", shape)
	}

	r := loadRunner(t, weights)
	p, err := r.Program(n, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Feed(x, test.Y[:n]); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	for i, v := range p.LogitsValue() {
		if math.Float32bits(float32(v)) != math.Float32bits(got[i]) || math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("logit %d: file %v, program %v", i, got[i], v)
		}
	}

	// eval runs the test split in batches of 64; its first batch holds these images.
	p64, err := r.Program(64, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := p64.Feed(test.X[:64*test.SampleSize()], test.Y[:64]); err != nil {
		t.Fatal(err)
	}
	if err := p64.Run(); err != nil {
		t.Fatal(err)
	}
	for i, v := range p64.LogitsValue()[:n*10] {
		if d := math.Abs(v - float64(got[i])); d > 1e-4*(1+math.Abs(v)) {
			t.Errorf("logit %d: file %v, eval's batch-64 program %v", i, got[i], v)
		}
	}
	for i := 0; i < n; i++ {
		row := make([]float64, 10)
		for j := range row {
			row[j] = float64(got[i*10+j])
		}
		t.Logf("image %d: label %d, predicted %d", i, test.Y[i], trainer.Argmax(row))
	}
}

// TestPredictEvalBadInput: a wrong-shape .npy, a checkpoint of another model, a truncated
// checkpoint and a file that is not an image are each one line on stderr naming the file,
// with status 2; nothing is written and no earlier output is lost.
func TestPredictEvalBadInput(t *testing.T) {
	dir := trainedRun(t)
	weights := filepath.Join(dir, "best.safetensors")
	tmp := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	wrongNPY := filepath.Join(tmp, "mnist28.npy")
	if err := npy.WriteFloat32(wrongNPY, []int{2, 1, 28, 28}, make([]float32, 2*28*28)); err != nil {
		t.Fatal(err)
	}
	flatNPY := filepath.Join(tmp, "flat.npy")
	if err := npy.WriteFloat32(flatNPY, []int{1024}, make([]float32, 1024)); err != nil {
		t.Fatal(err)
	}
	notNPY := file("not.npy", []byte("hello"))

	// An earlier output that a failing command must leave as it is.
	earlier := file("logits.npy", []byte("earlier logits"))

	// A checkpoint whose metadata says lenet but whose classifier has 7 classes.
	seven := trainer.New(lenet.New(1, 7), graph.NewParams(tensor.Float32, 1), graph.Fast, nil)
	if _, err := seven.Program(1, false); err != nil {
		t.Fatal(err)
	}
	wrongShapes := filepath.Join(tmp, "seven.safetensors")
	if err := trainer.SaveWeights(wrongShapes, seven.Params, map[string]string{"model": "lenet"}); err != nil {
		t.Fatal(err)
	}
	// A checkpoint of some other network.
	otherModel := filepath.Join(tmp, "mlp.safetensors")
	if err := safetensors.WriteFile(otherModel, &safetensors.File{
		Tensors:  map[string]safetensors.Tensor{"fc1.weight": tensorio.NewFloat32([]int{10, 784}, make([]float32, 7840))},
		Metadata: map[string]string{"model": "lenet"},
	}); err != nil {
		t.Fatal(err)
	}
	unknownModel := filepath.Join(tmp, "googlenet.safetensors")
	if err := safetensors.WriteFile(unknownModel, &safetensors.File{
		Tensors:  map[string]safetensors.Tensor{"x": tensorio.NewFloat32([]int{1}, []float32{1})},
		Metadata: map[string]string{"model": "googlenet"},
	}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(weights)
	if err != nil {
		t.Fatal(err)
	}
	truncated := file("truncated.safetensors", b[:len(b)*2/3])
	headerOnly := file("header.safetensors", b[:20])
	notImage := file("digit.png", []byte("this is not an image\n"))

	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"predict", "--weights", weights, "--input", wrongNPY, "--out", earlier}, []string{wrongNPY, "[2 1 28 28]", "layer conv5"}},
		{[]string{"predict", "--weights", weights, "--input", flatNPY, "--out", earlier}, []string{flatNPY, "[1024]"}},
		{[]string{"predict", "--weights", weights, "--input", notNPY, "--out", earlier}, []string{notNPY}},
		{[]string{"predict", "--weights", weights, "--input", filepath.Join(tmp, "none.npy"), "--out", earlier}, []string{"none.npy"}},
		{[]string{"predict", "--weights", weights, "--input", wrongNPY}, []string{"--out"}},
		{[]string{"predict", "--weights", weights, "--image", notImage, "--out", earlier}, []string{notImage, "not a PNG, JPEG or GIF image"}},
		{[]string{"predict", "--weights", weights, "--image", filepath.Join(tmp, "none.png"), "--out", earlier}, []string{"none.png"}},
		{[]string{"predict", "--weights", weights, "--index", "200", "--out", earlier}, []string{"--index 200"}},
		{[]string{"predict", "--weights", weights}, []string{"--index", "--image", "--input"}},
		{[]string{"predict", "--weights", wrongShapes, "--index", "1", "--out", earlier}, []string{wrongShapes, "linear7.weight"}},
		{[]string{"eval", "--weights", wrongShapes}, []string{wrongShapes, "wrong shapes", "linear7.weight"}},
		{[]string{"eval", "--weights", otherModel}, []string{otherModel, "missing conv1.weight", "unexpected fc1.weight"}},
		{[]string{"eval", "--weights", unknownModel}, []string{unknownModel, `unknown model "googlenet"`}},
		{[]string{"eval", "--weights", truncated}, []string{truncated}},
		{[]string{"eval", "--weights", headerOnly}, []string{headerOnly}},
		{[]string{"eval", "--weights", filepath.Join(tmp, "none.safetensors")}, []string{"none.safetensors"}},
		{[]string{"eval", "--weights", weights, "--split", "val"}, []string{`--split "val"`}},
		{[]string{"eval", "--weights", weights, "--batch", "0"}, []string{"--batch 0"}},
		{[]string{"eval"}, []string{"--weights"}},
	} {
		stdout, stderr, st := cnn(c.args...)
		oneLineError(t, c.args, stdout, stderr, st, c.want...)
		t.Logf("%s", strings.TrimSpace(stderr))
	}
	if got, err := os.ReadFile(earlier); err != nil || !bytes.Equal(got, []byte("earlier logits")) {
		t.Errorf("the earlier output changed: %q, %v", got, err)
	}
	noTempFiles(t, tmp)
	if _, err := os.Stat("digit.png"); err == nil {
		t.Error("a failing predict wrote digit.png in the working folder")
	}
}

// TestPredictNPYOwnSize: a fully convolutional network (ResNet18 ends in a global average)
// predicts a .npy of another height and width than it was declared for, compiled for the
// file's shape on the same weights; the logits are those of the model declared at that size.
func TestPredictNPYOwnSize(t *testing.T) {
	dir := t.TempDir()
	m := resnet.New(resnet.Config{InChannels: 1, Classes: 10, Width: 8, Residual: true})
	params, err := graph.NewParamsFor(m, tensor.Float32, 7)
	if err != nil {
		t.Fatal(err)
	}
	weights := filepath.Join(dir, "w.safetensors")
	if err := trainer.SaveWeights(weights, params, nil); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2*1*48*40)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	in, outPath := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	if err := npy.WriteFloat32(in, []int{2, 1, 48, 40}, x); err != nil {
		t.Fatal(err)
	}
	if _, errOut, st := cnn("predict", "resnet18", "--width", "8", "--stem-bias=false", "--weights", weights, "--input", in, "--out", outPath); st != 0 {
		t.Fatalf("status %d: %s", st, errOut)
	}
	_, got, err := npy.ReadFloat32(outPath)
	if err != nil {
		t.Fatal(err)
	}
	m.Input = []int{1, 48, 40}
	r := trainer.New(m, params, graph.Fast, nil)
	want, err := r.Predict(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if math.Abs(float64(got[i])-w) > 1e-5*(1+math.Abs(w)) {
			t.Fatalf("logit %d: %v, the model declared at 48x40 gives %v", i, got[i], w)
		}
	}
}
