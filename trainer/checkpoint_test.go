package trainer

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nndl/cnn/data"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"github.com/nndl/cnn/tensorio/safetensors"
	"gorgonia.org/tensor"
)

// smallLoaders returns loaders over the first nTrain training and nDev dev images of the
// chapter's subset, in batches of batch, the training one shuffled with seed.
func smallLoaders(t *testing.T, nTrain, nDev, batch int, seed uint64) (train, dev *data.Loader, devSet *data.Dataset) {
	t.Helper()
	s, err := data.ChapterSubset()
	if err != nil {
		t.Fatal(err)
	}
	tr, dv, _ := s.Datasets(32, 32)
	head := func(d *data.Dataset, n int) *data.Dataset {
		h, err := data.NewDataset(d.X[:n*d.SampleSize()], d.Y[:n], d.C, d.H, d.W)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	devSet = head(dv, nDev)
	if train, err = data.NewLoader(head(tr, nTrain), batch, true, seed); err != nil {
		t.Fatal(err)
	}
	if dev, err = data.NewLoader(devSet, batch, false, 0); err != nil {
		t.Fatal(err)
	}
	return train, dev, devSet
}

// newRunner returns a LeNet runner on fresh float32 parameters.
func newRunner(seed uint64, opt Optimizer) *Runner {
	return New(lenet.New(1, 10), graph.NewParams(tensor.Float32, seed), graph.Fast, opt)
}

// sameBits reports the first index where a and b differ bit for bit, or -1.
func sameBits(a, b []float64) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return i
		}
	}
	return -1
}

// sameTensors fails unless got holds exactly the tensors of want, bit for bit.
func sameTensors(t *testing.T, got, want map[string]safetensors.Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Fatalf("tensor %s missing", name)
		}
		if !slicesEqual(g.Shape, w.Shape) {
			t.Fatalf("%s: shape %v, want %v", name, g.Shape, w.Shape)
		}
		gv, wv := g.Float32(), w.Float32()
		for i := range wv {
			if math.Float32bits(gv[i]) != math.Float32bits(wv[i]) {
				t.Fatalf("%s[%d] = %v, want %v", name, i, gv[i], wv[i])
			}
		}
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestBestCheckpointRoundTrip trains a few steps, saving the best weights on every
// improvement, and checks that the file holds the weights of the best step bit for bit:
// loaded into fresh parameters they give the very logits and dev accuracy the in-memory
// weights gave when they were saved, although training went on afterwards.
func TestBestCheckpointRoundTrip(t *testing.T) {
	train, dev, devSet := smallLoaders(t, 320, 64, 64, 4)
	path := filepath.Join(t.TempDir(), "best.safetensors")
	// With this seed the best dev accuracy comes at step 6 of 10: training goes on after
	// the best checkpoint is saved.
	r := newRunner(4, &SGD{LR: 0.1})
	x, n := devSet.X, devSet.N()

	type snapshot struct {
		step    int
		tensors map[string]safetensors.Tensor
		logits  []float64
	}
	var snaps []snapshot
	err := r.Train(train, dev, Config{Epochs: 2, EvalSteps: 3, Save: func(step int) error {
		logits, err := r.Predict(x, n) // the in-memory weights at the saved step
		if err != nil {
			return err
		}
		snaps = append(snaps, snapshot{step, r.Params.Tensors(), logits})
		return SaveWeights(path, r.Params, map[string]string{"model": "lenet", "step": strconv.Itoa(step)})
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) == 0 {
		t.Fatal("no checkpoint saved")
	}
	last := snaps[len(snaps)-1]
	if last.step != r.BestStep {
		t.Fatalf("last save at step %d, best step %d", last.step, r.BestStep)
	}
	if total := len(r.History.Train); r.BestStep == total-1 {
		t.Logf("best step is the last of %d; the final weights are the saved ones", total)
	} else if sameBits(mustPredict(t, r, x, n), last.logits) == -1 {
		t.Errorf("weights did not change after the best step %d of %d", r.BestStep, total)
	}

	// Fresh parameters with another seed: every value must come from the file.
	r2 := newRunner(999, nil)
	if _, err := r2.Program(n, false); err != nil {
		t.Fatal(err)
	}
	meta, skipped, err := LoadWeights(path, r2.Params, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 0 || meta["step"] != strconv.Itoa(r.BestStep) || meta["model"] != "lenet" {
		t.Errorf("metadata %v, skipped %v; want step %d and nothing skipped", meta, skipped, r.BestStep)
	}
	sameTensors(t, r2.Params.Tensors(), last.tensors)
	if i := sameBits(mustPredict(t, r2, x, n), last.logits); i != -1 {
		t.Errorf("logits of the loaded checkpoint differ from the saved step's at %d", i)
	}
	acc, _, err := r2.Evaluate(dev)
	if err != nil {
		t.Fatal(err)
	}
	if acc != r.BestAcc {
		t.Errorf("loaded checkpoint: dev accuracy %v, best recorded %v", acc, r.BestAcc)
	}
	t.Logf("saved at steps %v; best %.4f at step %d", func() (s []int) {
		for _, sn := range snaps {
			s = append(s, sn.step)
		}
		return
	}(), r.BestAcc, r.BestStep)
}

func mustPredict(t *testing.T, r *Runner, x []float32, n int) []float64 {
	t.Helper()
	logits, err := r.Predict(x, n)
	if err != nil {
		t.Fatal(err)
	}
	return logits
}

// TestLoadWeightsErrors: a checkpoint of another shape, a truncated file and a missing one
// are errors naming the file, and leave the parameters as they were.
func TestLoadWeightsErrors(t *testing.T) {
	dir := t.TempDir()
	r := newRunner(1, nil)
	if _, err := r.Program(1, false); err != nil {
		t.Fatal(err)
	}
	before := r.Params.Tensors()

	other := newRunner(1, nil)
	other.Model = lenet.New(1, 7) // seven classes: linear7 has other shapes
	if _, err := other.Program(1, false); err != nil {
		t.Fatal(err)
	}
	wrongShape := filepath.Join(dir, "seven.safetensors")
	if err := SaveWeights(wrongShape, other.Params, map[string]string{"model": "lenet"}); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.safetensors")
	if err := SaveWeights(good, r.Params, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.safetensors")
	if err := os.WriteFile(truncated, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{wrongShape, "linear7.weight"},
		{truncated, truncated},
		{filepath.Join(dir, "missing.safetensors"), "missing.safetensors"},
	} {
		_, _, err := LoadWeights(c.path, r.Params, true)
		if err == nil || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadWeights(%s): error %v, want one naming the file and %q", filepath.Base(c.path), err, c.want)
		}
		sameTensors(t, r.Params.Tensors(), before)
	}
}

// TestSameSeedSameHistory: two runs with one seed record the same training losses and dev
// evaluations, bit for bit; another seed gives other numbers.
func TestSameSeedSameHistory(t *testing.T) {
	run := func(seed uint64) History {
		train, dev, _ := smallLoaders(t, 200, 64, 32, seed)
		r := newRunner(seed, &SGD{LR: 0.1})
		if err := r.Train(train, dev, Config{Epochs: 2, EvalSteps: 4}); err != nil {
			t.Fatal(err)
		}
		return r.History
	}
	a, b := run(42), run(42)
	if len(a.Train) != 14 || len(a.Dev) != 4 {
		t.Fatalf("%d steps and %d evaluations, want 14 (7 a epoch) and 4 (steps 4, 8, 12, 13)", len(a.Train), len(a.Dev))
	}
	same := func(a, b History) bool {
		if len(a.Train) != len(b.Train) || len(a.Dev) != len(b.Dev) {
			return false
		}
		for i, s := range a.Train {
			u := b.Train[i]
			if s.Step != u.Step || s.Epoch != u.Epoch || math.Float64bits(s.Loss) != math.Float64bits(u.Loss) {
				return false
			}
		}
		for i, e := range a.Dev {
			u := b.Dev[i]
			if e.Step != u.Step || e.Epoch != u.Epoch || math.Float64bits(e.Loss) != math.Float64bits(u.Loss) || math.Float64bits(e.Acc) != math.Float64bits(u.Acc) {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Errorf("same seed, different histories:\n%+v\n%+v", a, b)
	}
	var csvA, csvB bytes.Buffer
	a.WriteCSV(&csvA)
	b.WriteCSV(&csvB)
	if !bytes.Equal(csvA.Bytes(), csvB.Bytes()) {
		t.Error("same seed, different metrics.csv")
	}
	if c := run(43); same(a, c) {
		t.Error("seeds 42 and 43 gave the same history")
	}
}

// nanAfter is SGD that writes NaN into the first weight after its update of step at.
type nanAfter struct {
	SGD
	at, calls int
}

func (o *nanAfter) Step(ups []Update) error {
	if err := o.SGD.Step(ups); err != nil {
		return err
	}
	if o.calls == o.at {
		ups[0].Param.Value.Data().([]float32)[0] = float32(math.NaN())
	}
	o.calls++
	return nil
}

func finiteFile(t *testing.T, path string) bool {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range f.Tensors {
		for _, v := range tn.Float32() {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return false
			}
		}
	}
	return true
}

// TestNaNStopsTraining: a loss that is not finite stops the run with an error naming the
// step, and the best checkpoint saved before stays byte for byte as it was. Weights that
// turn NaN in the update of an evaluation step are never saved as the best.
func TestNaNStopsTraining(t *testing.T) {
	for _, c := range []struct {
		name     string
		opt      Optimizer
		wantStep string
		// previous is the content of best.safetensors before the run; nil: none.
		previous []byte
	}{
		{"NaN weight after step 5", &nanAfter{SGD: SGD{LR: 0.1}, at: 5}, "step 6 ", nil},
		{"NaN weight in the update of eval step 2", &nanAfter{SGD: SGD{LR: 0.1}, at: 2}, "step 2 ", []byte("an earlier run's checkpoint")},
		{"NaN weight in the update of eval step 4", &nanAfter{SGD: SGD{LR: 0.1}, at: 4}, "step 4 ", nil},
		{"huge learning rate", &SGD{LR: 1e6}, "step ", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			train, dev, _ := smallLoaders(t, 256, 64, 32, 9)
			path := filepath.Join(t.TempDir(), "best.safetensors")
			if c.previous != nil {
				if err := os.WriteFile(path, c.previous, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := newRunner(9, c.opt)
			saved := c.previous
			err := r.Train(train, dev, Config{Epochs: 2, EvalSteps: 2, Save: func(step int) error {
				if err := SaveWeights(path, r.Params, map[string]string{"step": strconv.Itoa(step)}); err != nil {
					return err
				}
				var err error
				saved, err = os.ReadFile(path)
				return err
			}})
			if err == nil {
				t.Fatalf("no error; history %+v", r.History)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.wantStep) || !(strings.Contains(msg, "NaN") || strings.Contains(msg, "Inf")) {
				t.Errorf("error %q, want one naming %q and the NaN", msg, c.wantStep)
			}
			t.Logf("%v (after %d steps, best step %d)", err, len(r.History.Train), r.BestStep)
			for _, s := range r.History.Train {
				if math.IsNaN(s.Loss) || math.IsInf(s.Loss, 0) {
					t.Errorf("history records the loss %v of step %d", s.Loss, s.Step)
				}
			}
			for _, e := range r.History.Dev {
				if math.IsNaN(e.Loss) || math.IsInf(e.Loss, 0) {
					t.Errorf("history records the dev loss %v of step %d", e.Loss, e.Step)
				}
			}
			now, rerr := os.ReadFile(path)
			switch {
			case saved == nil && !errors.Is(rerr, os.ErrNotExist):
				t.Errorf("a checkpoint appeared (read error %v)", rerr)
			case saved != nil && !bytes.Equal(now, saved):
				t.Errorf("the best checkpoint changed after it was saved")
			case c.previous != nil && !bytes.Equal(now, c.previous):
				t.Errorf("the earlier checkpoint was replaced")
			case saved != nil && c.previous == nil && !finiteFile(t, path):
				t.Errorf("the best checkpoint holds non-finite weights")
			}
			if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) > 1 {
				t.Errorf("the folder holds %d entries, want at most the checkpoint", len(ents))
			}
		})
	}
}
