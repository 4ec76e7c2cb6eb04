package trainer

import (
	"fmt"
	"testing"

	"github.com/nndl/cnn/data"
	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"gorgonia.org/tensor"
)

func chapterLoaders(t *testing.T, seed uint64) (train, dev, test *data.Loader) {
	t.Helper()
	s, err := data.ChapterSubset()
	if err != nil {
		t.Fatal(err)
	}
	tr, dv, te := s.Datasets(32, 32)
	mk := func(d *data.Dataset, shuffle bool) *data.Loader {
		l, err := data.NewLoader(d, 64, shuffle, seed)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	return mk(tr, true), mk(dv, false), mk(te, false)
}

// TestLossFalls trains LeNet with the chapter's recipe (80 steps, about a second) and checks
// that the training loss drops and the schedule of evaluations is RunnerV3's.
func TestLossFalls(t *testing.T) {
	train, dev, _ := chapterLoaders(t, 100)
	r := New(lenet.New(1, 10), graph.NewParams(tensor.Float32, 100), graph.Fast, &SGD{LR: 0.1})
	if err := r.Train(train, dev, Config{Epochs: 5, EvalSteps: 15}); err != nil {
		t.Fatal(err)
	}
	h := r.History.Train
	if len(h) != 80 {
		t.Fatalf("%d steps, want 80 (16 an epoch, the last batch of 40 kept)", len(h))
	}
	mean := func(s []StepLoss) float64 {
		var m float64
		for _, x := range s {
			m += x.Loss
		}
		return m / float64(len(s))
	}
	first, last := mean(h[:5]), mean(h[70:])
	if !(last < first*0.5) {
		t.Errorf("loss did not fall: first steps %.4f, last steps %.4f", first, last)
	}
	var steps []int
	for _, e := range r.History.Dev {
		steps = append(steps, e.Step)
	}
	if fmt.Sprint(steps) != "[15 30 45 60 75 79]" {
		t.Errorf("evaluations at steps %v, want [15 30 45 60 75 79]", steps)
	}
	if best := r.History.Dev[len(r.History.Dev)-1].Acc; best < 0.6 {
		t.Errorf("dev accuracy after 5 epochs %.3f, want at least 0.6", best)
	}
	t.Logf("loss %.4f -> %.4f, dev %+v", first, last, r.History.Dev)
}
