package trainer

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nndl/cnn/data"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/resnet"
	"github.com/nndl/cnn/tensorio/safetensors"
	"gorgonia.org/tensor"
)

// synthetic returns n random 3x32x32 samples with labels 0-9.
func synthetic(t *testing.T, n int, seed uint64) *data.Dataset {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, n*3*32*32)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(10)
	}
	d, err := data.NewDataset(x, y, 3, 32, 32)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// tinyResNet returns a runner for ResNet18 of width 8 (BatchNorm buffers included) with
// Adam and L2 decay, its parameters declared.
func tinyResNet(t *testing.T, seed uint64) *Runner {
	t.Helper()
	m := resnet.New(resnet.Config{InChannels: 3, Classes: 10, Width: 8, Residual: true})
	r := New(m, graph.NewParams(tensor.Float32, seed), graph.Fast, NewAdam(0.01, 0.005))
	if _, err := r.Program(8, true); err != nil {
		t.Fatal(err)
	}
	return r
}

// resumeRun is one training run of the resume tests: 3 epochs of 5 batches of 8.
type resumeRun struct {
	r     *Runner
	saves []int // steps at which the best weights were saved
	err   error
}

func (rr *resumeRun) train(t *testing.T, cfg Config) {
	t.Helper()
	trainSet, devSet := synthetic(t, 40, 1), synthetic(t, 16, 2)
	train, err := data.NewLoader(trainSet, 8, true, 5)
	if err != nil {
		t.Fatal(err)
	}
	dev, _ := data.NewLoader(devSet, 8, false, 0)
	cfg.Epochs, cfg.EvalSteps = 3, 4
	cfg.Save = func(step int) error {
		rr.saves = append(rr.saves, step)
		return nil
	}
	rr.err = rr.r.Train(train, dev, cfg)
}

func sameRunHistory(t *testing.T, got, want History) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("histories differ:\n got %+v\nwant %+v", got, want)
	}
	for i := range want.Train {
		if math.Float64bits(got.Train[i].Loss) != math.Float64bits(want.Train[i].Loss) {
			t.Errorf("step %d: loss %v, want %v", i, got.Train[i].Loss, want.Train[i].Loss)
		}
	}
}

// TestResumeMatchesUninterrupted trains ResNet18 (width 8, Adam with L2 decay) for 15
// steps without a break, and again stopping after k steps, saving a checkpoint and resuming
// it in a fresh runner whose parameters start from another seed: the final weights and
// BatchNorm statistics, Adam's moments, the history, the best accuracy and the steps at which
// the best weights were saved are the same bit for bit. k covers mid-epoch, an epoch
// boundary and the step after an evaluation.
func TestResumeMatchesUninterrupted(t *testing.T) {
	full := &resumeRun{r: tinyResNet(t, 3)}
	full.train(t, Config{})
	if full.err != nil {
		t.Fatal(full.err)
	}
	if len(full.r.History.Train) != 15 || full.r.StepsDone != 15 || len(full.r.History.Dev) != 4 {
		t.Fatalf("%d steps (done %d), %d evaluations; want 15 and 4", len(full.r.History.Train), full.r.StepsDone, len(full.r.History.Dev))
	}
	wantOpt, wantOptMeta := full.r.Opt.(*Adam).State()
	for _, k := range []int{3, 5, 9} {
		path := filepath.Join(t.TempDir(), "checkpoint.safetensors")
		first := &resumeRun{r: tinyResNet(t, 3)}
		first.train(t, Config{
			Checkpoint: func(done int) error {
				return first.r.SaveCheckpoint(path, map[string]string{"model": "resnet18", "seed": "3"})
			},
			Stop: func() bool { return first.r.StepsDone == k },
		})
		var intr *Interrupted
		if !errors.As(first.err, &intr) || intr.StepsDone != k || intr.Total != 15 || !intr.Saved {
			t.Fatalf("k=%d: error %v, want an interruption after step %d with the checkpoint saved", k, first.err, k)
		}

		second := &resumeRun{r: tinyResNet(t, 999), saves: slices.Clone(first.saves)}
		meta, err := second.r.LoadCheckpoint(path)
		if err != nil {
			t.Fatal(err)
		}
		if meta["model"] != "resnet18" || meta["seed"] != "3" || meta[StateKey] != "" {
			t.Errorf("k=%d: metadata %v", k, meta)
		}
		if second.r.StepsDone != k || len(second.r.History.Train) != k {
			t.Fatalf("k=%d: restored %d steps, history of %d", k, second.r.StepsDone, len(second.r.History.Train))
		}
		second.train(t, Config{})
		if second.err != nil {
			t.Fatal(second.err)
		}
		sameTensors(t, second.r.Params.Tensors(), full.r.Params.Tensors())
		sameRunHistory(t, second.r.History, full.r.History)
		if second.r.BestAcc != full.r.BestAcc || second.r.BestStep != full.r.BestStep || !slices.Equal(second.saves, full.saves) {
			t.Errorf("k=%d: best %v at %d saved at %v; uninterrupted %v at %d saved at %v", k,
				second.r.BestAcc, second.r.BestStep, second.saves, full.r.BestAcc, full.r.BestStep, full.saves)
		}
		gotOpt, gotOptMeta := second.r.Opt.(*Adam).State()
		sameTensors(t, gotOpt, wantOpt)
		if !reflect.DeepEqual(gotOptMeta, wantOptMeta) {
			t.Errorf("k=%d: Adam state %v, want %v", k, gotOptMeta, wantOptMeta)
		}
	}
	t.Logf("best dev accuracy %v at step %d, saved at %v", full.r.BestAcc, full.r.BestStep, full.saves)
}

// TestCheckpointEvery: the checkpoint is written after every N-th step, after that step's
// evaluation, and Stop without a Checkpoint reports that nothing was saved.
func TestCheckpointEvery(t *testing.T) {
	run := &resumeRun{r: tinyResNet(t, 3)}
	var at []int
	var devSeen []int
	run.train(t, Config{CheckpointEvery: 4, Checkpoint: func(done int) error {
		at = append(at, done)
		devSeen = append(devSeen, len(run.r.History.Dev))
		return nil
	}})
	if run.err != nil {
		t.Fatal(run.err)
	}
	// 15 steps: after steps 3, 7, 11 (4, 8, 12 done); evaluations at steps 4, 8, 12, 14.
	if !slices.Equal(at, []int{4, 8, 12}) || !slices.Equal(devSeen, []int{0, 1, 2}) {
		t.Errorf("checkpoints after %v steps with %v evaluations recorded; want [4 8 12] and [0 1 2]", at, devSeen)
	}

	stopped := &resumeRun{r: tinyResNet(t, 3)}
	stopped.train(t, Config{Stop: func() bool { return true }})
	var intr *Interrupted
	if !errors.As(stopped.err, &intr) || intr.StepsDone != 1 || intr.Saved || !strings.Contains(intr.Error(), "no checkpoint") {
		t.Errorf("error %v, want an interruption after step 1 with nothing saved", stopped.err)
	}

	// A Stop that fires at the last step is no interruption: the run is complete.
	last := &resumeRun{r: tinyResNet(t, 3)}
	last.train(t, Config{Stop: func() bool { return last.r.StepsDone == 15 }})
	if last.err != nil {
		t.Errorf("stop at the last step: %v", last.err)
	}
	// Training a finished runner again does nothing.
	n := len(last.r.History.Train)
	last.train(t, Config{})
	if last.err != nil || len(last.r.History.Train) != n {
		t.Errorf("a finished run trained again: %v, %d steps", last.err, len(last.r.History.Train))
	}
}

// TestLoadCheckpointErrors: files that do not fit the run are refused with an error naming
// the file and the reason, and leave the runner as it was.
func TestLoadCheckpointErrors(t *testing.T) {
	dir := t.TempDir()
	src := &resumeRun{r: tinyResNet(t, 3)}
	good := filepath.Join(dir, "good.safetensors")
	src.train(t, Config{Checkpoint: func(int) error { return src.r.SaveCheckpoint(good, nil) }, Stop: func() bool { return true }})
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	truncated := write("truncated.safetensors", b[:len(b)-100])
	weightsOnly := filepath.Join(dir, "best.safetensors")
	if err := SaveWeights(weightsOnly, src.r.Params, nil); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	delete(f.Tensors, "fc.bias")
	seal(f) // a file written without the tensor, not one damaged afterwards
	noBias := filepath.Join(dir, "nobias.safetensors")
	if err := safetensors.WriteFile(noBias, f); err != nil {
		t.Fatal(err)
	}

	if _, err := CheckpointMeta(weightsOnly); err == nil || !strings.Contains(err.Error(), "not a training checkpoint") {
		t.Errorf("CheckpointMeta of weights: error %v", err)
	}
	if _, err := CheckpointMeta(write("tiny", b[:5])); err == nil || !strings.Contains(err.Error(), "not a safetensors file") {
		t.Errorf("CheckpointMeta of 5 bytes: error %v", err)
	}
	if meta, err := CheckpointMeta(good); err != nil || len(meta) != 0 {
		t.Errorf("CheckpointMeta: %v, %v; want no error and no metadata", meta, err)
	}

	for _, c := range []struct {
		name, path, want string
		runner           func() *Runner
	}{
		{"truncated", truncated, "truncated.safetensors", nil},
		{"weights only", weightsOnly, "not a training checkpoint", nil},
		{"missing tensor", noBias, "missing fc.bias", nil},
		{"other optimiser", good, "this run uses SGD(lr=0.01)", func() *Runner {
			r := tinyResNet(t, 4)
			r.Opt = &SGD{LR: 0.01}
			return r
		}},
		{"other decay", good, "weight_decay=L2Decay(0.0005)", func() *Runner {
			r := tinyResNet(t, 4)
			r.Opt = NewAdam(0.01, 0.0005)
			return r
		}},
		{"other model", good, "do not match the model", func() *Runner {
			m := resnet.New(resnet.Config{InChannels: 3, Classes: 7, Width: 8, Residual: true})
			r := New(m, graph.NewParams(tensor.Float32, 4), graph.Fast, NewAdam(0.01, 0.005))
			if _, err := r.Program(8, true); err != nil {
				t.Fatal(err)
			}
			return r
		}},
		{"not declared", good, "compile a program first", func() *Runner {
			return New(src.r.Model, graph.NewParams(tensor.Float32, 4), graph.Fast, NewAdam(0.01, 0.005))
		}},
	} {
		r := tinyResNet(t, 4)
		if c.runner != nil {
			r = c.runner()
		}
		before := r.Params.Tensors()
		_, err := r.LoadCheckpoint(c.path)
		if err == nil || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming the file and %q", c.name, err, c.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error of several lines: %q", c.name, err)
		}
		sameTensors(t, r.Params.Tensors(), before)
		if r.StepsDone != 0 || len(r.History.Train) != 0 || r.BestStep != -1 {
			t.Errorf("%s: the runner changed", c.name)
		}
		if a, ok := r.Opt.(*Adam); ok && a.Steps() != 0 {
			t.Errorf("%s: Adam changed", c.name)
		}
	}
}
