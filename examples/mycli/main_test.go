package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/nndl/cnn/cli"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/tensorio/npy"
	"github.com/nndl/cnn/tensorio/safetensors"
)

// The tests run every command on tinynet through cli.Main and cli.Register only, as a
// program of one's own does.

// TestMain registers tinynet as main does, and two models that refuse what they cannot take.
func TestMain(m *testing.M) {
	cli.Register("tinynet", tinyNetModel)
	registerRefusing()
	os.Exit(m.Run())
}

// run runs a command line through cli.Main.
func run(args ...string) (stdout, stderr string, status int) {
	var o, e bytes.Buffer
	status = cli.Main(args, &o, &e)
	return o.String(), e.String(), status
}

// mustRun runs a command line and fails the test unless it succeeds.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, st := run(args...)
	if st != 0 {
		t.Fatalf("%v: status %d, stderr %q\nstdout:\n%s", args, st, errOut, out)
	}
	return out
}

// TestOwnModelTrained trains tinynet for one epoch of the built-in MNIST subset (16
// steps, evaluated every 8), then runs eval, predict and export on its weights.
func TestOwnModelTrained(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	out := mustRun(t, "train", "tinynet", "--epochs", "1", "--eval-steps", "8", "--out", dir)
	if !strings.Contains(out, "tinynet (") || !strings.Contains(out, "[Test] accuracy/loss") {
		t.Errorf("train output:\n%s", out)
	}
	t.Run("eval", func(t *testing.T) { testOwnEval(t, dir) })
	t.Run("predict", func(t *testing.T) { testOwnPredict(t, dir) })
	t.Run("export", func(t *testing.T) { testOwnExport(t, dir) })
	t.Run("errors", func(t *testing.T) { testOwnErrors(t, dir) })
}

// TestOwnModelListed: 'cnn help' lists tinynet with its Doc, and an unknown model's error
// names it among the models.
func TestOwnModelListed(t *testing.T) {
	out := mustRun(t, "--help")
	if !strings.Contains(out, "tinynet    two 3x3 convolutions, global average pooling, a linear head") || !strings.Contains(out, "tinynet, ") {
		t.Errorf("help does not list tinynet:\n%s", out)
	}
	_, errOut, st := run("summary", "tinynets")
	if st != 2 || !strings.Contains(errOut, "tinynet,") {
		t.Errorf("unknown model: status %d, stderr %q", st, errOut)
	}
}

// TestOwnModelFlags: --shape, --in-channels and --classes reach Build; the counts are
// tinynet's by hand (conv1 8x(1x9)+8, conv2 16x(8x9)+16, fc 16x10+10; MACs 8x28x28x9 +
// 16x14x14x72 + 16x10).
func TestOwnModelFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"summary", "tinynet"}, []string{"tinynet, input [1 28 28]", "Total params: 1,418", "[1, 10]"}},
		{[]string{"summary", "tinynet", "--classes", "3", "--in-channels", "2"}, []string{"input [2 28 28]", "Total params: 1,371", "[1, 3]"}},
		{[]string{"summary", "tinynet", "--shape", "3x40x36", "--batch", "2"}, []string{"input [3 40 36]", "[2, 16, 20, 18]", "Total params: 1,562"}},
		{[]string{"flops", "tinynet", "--unit", "macs"}, []string{"282,400"}},
		{[]string{"flops", "tinynet", "--unit", "paddle"}, []string{"62,720", "228,928", "294,960"}},
	} {
		out := mustRun(t, c.args...)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v lacks %q:\n%s", c.args, w, out)
			}
		}
	}
}

func TestOwnModelDOT(t *testing.T) {
	out := mustRun(t, "dot", "tinynet")
	for _, w := range []string{"digraph", "conv1", "pool1", "conv2", "gap", "fc", "1,418 params"} {
		if !strings.Contains(out, w) {
			t.Errorf("dot tinynet lacks %q:\n%s", w, out)
		}
	}
	if out = mustRun(t, "dot", "tinynet", "--ops", "--train"); !strings.Contains(out, "Conv2DGradW") {
		t.Errorf("dot --ops --train lacks the gradient ops")
	}
}

// testOwnEval: the run names tinynet in its checkpoints, and eval of its best weights
// rebuilds tinynet from the file alone and gives the test numbers of the run's summary.
func testOwnEval(t *testing.T, dir string) {
	for _, name := range []string{"best.safetensors", "checkpoint.safetensors"} {
		f, err := safetensors.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if m := f.Metadata; m["model"] != "tinynet" || m["input"] != "1x28x28" || m["classes"] != "10" {
			t.Errorf("%s: metadata model %q input %q classes %q", name, m["model"], m["input"], m["classes"])
		}
		if _, ok := f.Tensors["fc.weight"]; !ok {
			t.Errorf("%s holds no fc.weight", name)
		}
	}
	var sum struct {
		Model    string  `json:"model"`
		TestAcc  float64 `json:"test_accuracy"`
		TestLoss float64 `json:"test_loss"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil || json.Unmarshal(b, &sum) != nil || sum.Model != "tinynet" {
		t.Fatalf("summary.json: %v %s", err, b)
	}
	out := mustRun(t, "eval", "--weights", filepath.Join(dir, "best.safetensors"))
	if want := fmt.Sprintf("tinynet on test (200 images): accuracy/loss: %.4f/%.4f\n", sum.TestAcc, sum.TestLoss); out != want {
		t.Errorf("eval: %q, want %q", out, want)
	}
}

// TestOwnModelResume: a finished run of tinynet resumes from its checkpoint for one more
// epoch, the model rebuilt from the checkpoint's name.
func TestOwnModelResume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	mustRun(t, "train", "tinynet", "--epochs", "1", "--eval-steps", "0", "--log-steps", "0", "--out", dir)
	out := mustRun(t, "train", "--resume", dir, "--epochs", "2", "--eval-steps", "0", "--log-steps", "0")
	if !strings.Contains(out, "tinynet (") {
		t.Errorf("resumed run:\n%s", out)
	}
}

// testOwnPredict: predict rebuilds tinynet from the weights' metadata, for the .npy's
// own height and width (20x24, not the 28x28 it was trained at), and its logits are those
// of tinynet computed here in float64 loops from the weights file.
func testOwnPredict(t *testing.T, dir string) {
	weights := filepath.Join(dir, "best.safetensors")
	mustRun(t, "predict", "--weights", weights, "--index", "3")
	shape := []int{2, 1, 20, 24}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 2*20*24)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	tmp := t.TempDir()
	xp, yp := filepath.Join(tmp, "x.npy"), filepath.Join(tmp, "y.npy")
	if err := npy.WriteFloat32(xp, shape, x); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "predict", "--weights", weights, "--input", xp, "--out", yp)
	yShape, y, err := npy.ReadFloat32(yp)
	if err != nil || len(yShape) != 2 || yShape[0] != 2 || yShape[1] != 10 {
		t.Fatalf("logits %v: %v", yShape, err)
	}
	f, err := safetensors.ReadFile(weights)
	if err != nil {
		t.Fatal(err)
	}
	want := tinyLogits(f, x, shape)
	for i := range want {
		if d := math.Abs(float64(y[i]) - want[i]); d > 1e-4*(1+math.Abs(want[i])) {
			t.Errorf("logit %d: %v, want %v", i, y[i], want[i])
		}
	}
}

// testOwnExport: the ONNX file of tinynet's weights, imported back as a model, gives
// predict's logits.
func testOwnExport(t *testing.T, dir string) {
	weights := filepath.Join(dir, "best.safetensors")
	tmp := t.TempDir()
	model := filepath.Join(tmp, "tinynet.onnx")
	if out := mustRun(t, "export", "--weights", weights, "-o", model); !strings.Contains(out, "tinynet, input [N 1 28 28], 10 classes, 1,418 parameters") {
		t.Errorf("export: %s", out)
	}
	x := make([]float32, 3*28*28)
	for i := range x {
		x[i] = float32(i%29) / 29
	}
	xp := filepath.Join(tmp, "x.npy")
	if err := npy.WriteFloat32(xp, []int{3, 1, 28, 28}, x); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "predict", "--weights", weights, "--input", xp, "--out", filepath.Join(tmp, "a.npy"))
	mustRun(t, "predict", model, "--input", xp, "--out", filepath.Join(tmp, "b.npy"))
	_, a, errA := npy.ReadFloat32(filepath.Join(tmp, "a.npy"))
	_, b, errB := npy.ReadFloat32(filepath.Join(tmp, "b.npy"))
	if errA != nil || errB != nil || len(a) != 30 || len(b) != 30 {
		t.Fatalf("logits: %v %v (%d, %d)", errA, errB, len(a), len(b))
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5*(1+math.Abs(float64(a[i]))) {
			t.Errorf("logit %d: %v from the weights, %v from the ONNX file", i, a[i], b[i])
		}
	}
}

func TestOwnModelBench(t *testing.T) {
	out := mustRun(t, "bench", "tinynet", "--batch", "4", "--min-time", "0", "--min-runs", "1")
	if !strings.Contains(out, "measured tinynet") {
		t.Errorf("bench:\n%s", out)
	}
}

// testOwnErrors: a file of a model this program does not register (weights, or a run to
// resume), and a model that cannot take the shape asked for, are one-line errors with
// status 2.
func testOwnErrors(t *testing.T, dir string) {
	f, err := safetensors.ReadFile(filepath.Join(dir, "best.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.safetensors")
	if err := safetensors.WriteFile(other, &safetensors.File{Tensors: f.Tensors, Metadata: map[string]string{"model": "othernet", "input": "1x28x28"}}); err != nil {
		t.Fatal(err)
	}
	// A run folder whose checkpoint names othernet.
	ck, err := safetensors.ReadFile(filepath.Join(dir, "checkpoint.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	ck.Metadata["model"] = "othernet"
	otherRun := t.TempDir()
	otherCk := filepath.Join(otherRun, "checkpoint.safetensors")
	if err := safetensors.WriteFile(otherCk, ck); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--resume", otherRun}, otherCk + `: unknown model "othernet": want one of `},
		{[]string{"eval", "--weights", other}, other + `: unknown model "othernet": want one of `},
		{[]string{"predict", "--weights", other, "--index", "0"}, `unknown model "othernet"`},
		{[]string{"summary", "fixed28", "--shape", "1x30x30"}, "fixed28: built for input 1x28x28 and 10 classes, asked for 1x30x30 and 10"},
		{[]string{"summary", "fixed28", "--classes", "4"}, "asked for 1x28x28 and 4"},
		{[]string{"summary", "refuses", "--in-channels", "3"}, "refuses: want one input channel, got 3"},
		{[]string{"summary", "noforward"}, "noforward: Build returned a model without Forward"},
		{[]string{"train", "tinynet", "--in-channels", "3", "--out", filepath.Join(t.TempDir(), "rgb")}, "tinynet: input [3 28 28]: MNIST needs one input channel (--in-channels 1; --dataset cifar10"},
	} {
		out, errOut, st := run(c.args...)
		if st != 2 || out != "" || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: status %d, stdout %q, stderr %q; want status 2 and one line with %q", c.args, st, out, errOut, c.want)
		}
	}
	if out := mustRun(t, "summary", "refuses"); !strings.Contains(out, "Total params: 1,418") {
		t.Errorf("refuses with its own channel:\n%s", out)
	}
}

// TestRegisterPanics: a name taken, empty or of a file, a nil Build and a bad Input are
// programming errors, reported when registering.
func TestRegisterPanics(t *testing.T) {
	build := func(cli.Config) (graph.Model, error) { return graph.Model{}, nil }
	for _, c := range []struct {
		name string
		m    cli.Model
		want string
	}{
		{"lenet", cli.Model{Build: build}, `"lenet" is a built-in model`},
		{"resnet50", cli.Model{Build: build}, `"resnet50" is a built-in model`},
		{"tinynet", cli.Model{Build: build}, `"tinynet" registered twice`},
		{"", cli.Model{Build: build}, "model name"},
		{"my net", cli.Model{Build: build}, "model name"},
		{"net.onnx", cli.Model{Build: build}, "model name"},
		{"nobuild", cli.Model{}, "Build is nil"},
		{"flat", cli.Model{Build: build, Input: []int{784}}, "want CxHxW"},
		{"zero", cli.Model{Build: build, Input: []int{1, 0, 28}}, "want CxHxW"},
		{"minus", cli.Model{Build: build, Classes: -1}, "Classes -1"},
	} {
		got := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			cli.Register(c.name, c.m)
			return ""
		}()
		if !strings.Contains(got, c.want) {
			t.Errorf("Register(%q): panic %q, want %q", c.name, got, c.want)
		}
	}
}

// registerRefusing registers fixed28, which builds for 1x28x28 and 10 classes whatever it
// is asked, refuses, which refuses more than one input channel, and noforward, whose Build
// forgets the Forward.
func registerRefusing() {
	fixed := func(cli.Config) (graph.Model, error) {
		m, _ := tinyNet(cli.Config{Input: []int{1, 28, 28}, Classes: 10})
		return m, nil
	}
	cli.Register("fixed28", cli.Model{Doc: "tinynet at 1x28x28 only", Input: []int{1, 28, 28}, Build: fixed})
	refuses := func(cfg cli.Config) (graph.Model, error) {
		if cfg.Input[0] != 1 {
			return graph.Model{}, fmt.Errorf("want one input channel, got %d", cfg.Input[0])
		}
		return tinyNet(cfg)
	}
	cli.Register("refuses", cli.Model{Doc: "tinynet on one channel", Input: []int{1, 28, 28}, Build: refuses})
	cli.Register("noforward", cli.Model{Build: func(cli.Config) (graph.Model, error) { return graph.Model{}, nil }})
}

// tinyLogits computes tinyNet's logits from the weights in f for the batch x of shape
// [N,1,H,W], in float64 loops that follow PyTorch's definitions of the layers.
func tinyLogits(f *safetensors.File, x []float32, shape []int) []float64 {
	w := func(name string) []float32 { return f.Tensors[name].F32 }
	n, h, wd := shape[0], shape[2], shape[3]
	var out []float64
	for s := range n {
		a := make([]float64, h*wd)
		for i := range a {
			a[i] = float64(x[s*h*wd+i])
		}
		a = convReLU(a, 1, h, wd, w("conv1.weight"), w("conv1.bias"), 8)
		a, ph, pw := maxPool2(a, 8, h, wd)
		a = convReLU(a, 8, ph, pw, w("conv2.weight"), w("conv2.bias"), 16)
		fcW, fcB := w("fc.weight"), w("fc.bias")
		for o := range 10 {
			v := float64(fcB[o])
			for c := range 16 {
				mean := 0.0
				for _, e := range a[c*ph*pw : (c+1)*ph*pw] {
					mean += e
				}
				v += float64(fcW[o*16+c]) * mean / float64(ph*pw)
			}
			out = append(out, v)
		}
	}
	return out
}

// convReLU is a 3x3 convolution with padding 1 and a bias, then max(., 0).
func convReLU(a []float64, in, h, w int, wt, b []float32, out int) []float64 {
	y := make([]float64, out*h*w)
	for o := range out {
		for i := range h {
			for j := range w {
				v := float64(b[o])
				for c := range in {
					for ki := range 3 {
						for kj := range 3 {
							ii, jj := i+ki-1, j+kj-1
							if ii >= 0 && ii < h && jj >= 0 && jj < w {
								v += float64(wt[((o*in+c)*3+ki)*3+kj]) * a[(c*h+ii)*w+jj]
							}
						}
					}
				}
				y[(o*h+i)*w+j] = max(v, 0)
			}
		}
	}
	return y
}

// maxPool2 is a 2x2 max pooling of stride 2 (floor mode).
func maxPool2(a []float64, c, h, w int) ([]float64, int, int) {
	oh, ow := h/2, w/2
	y := make([]float64, c*oh*ow)
	for k := range c {
		for i := range oh {
			for j := range ow {
				v := math.Inf(-1)
				for di := range 2 {
					for dj := range 2 {
						v = max(v, a[(k*h+2*i+di)*w+2*j+dj])
					}
				}
				y[(k*oh+i)*ow+j] = v
			}
		}
	}
	return y, oh, ow
}

// TestBinary builds the program and runs it: main registers tinynet before cli.Main. It is
// skipped under -short.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	bin := filepath.Join(t.TempDir(), "mycli")
	args := []string{"build", "-o", bin}
	if bi, ok := debug.ReadBuildInfo(); ok { // this test's build tags (-tags dnnl), for the same kernels
		for _, s := range bi.Settings {
			if s.Key == "-tags" && s.Value != "" {
				args = append(args, "-tags", s.Value)
			}
		}
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"summary", "tinynet"}, "Total params: 1,418"},
		{[]string{"help"}, "tinynet    two 3x3 convolutions"},
	} {
		out, err := exec.Command(bin, c.args...).Output()
		if err != nil || !strings.Contains(string(out), c.want) {
			t.Errorf("mycli %v: %v, stdout lacks %q:\n%s", c.args, err, c.want, out)
		}
	}
	// Registered by main only: the tests' fixed28 is not in the program.
	out, err := exec.Command(bin, "summary", "fixed28").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), `unknown model "fixed28"`) {
		t.Errorf("mycli summary fixed28: %v\n%s", err, out)
	}
}
