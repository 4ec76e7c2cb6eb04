package trainer

import (
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

// TestLossFalls trains LeNet for a few steps of the chapter's recipe and checks that the
// training loss drops.
func TestLossFalls(t *testing.T) {
	train, dev, _ := chapterLoaders(t, 100)
	r := New(lenet.New(1, 10), graph.NewParams(tensor.Float32, 100), graph.Fast, &SGD{LR: 0.1})
	if err := r.Train(train, dev, Config{Epochs: 2, EvalSteps: 15}); err != nil {
		t.Fatal(err)
	}
	h := r.History.Train
	if len(h) != 32 {
		t.Fatalf("%d steps, want 32 (16 a epoch, the last batch of 40 kept)", len(h))
	}
	first := (h[0].Loss + h[1].Loss + h[2].Loss) / 3
	last := (h[29].Loss + h[30].Loss + h[31].Loss) / 3
	if !(last < first*0.8) {
		t.Errorf("loss did not fall: first steps %.4f, last steps %.4f", first, last)
	}
	if len(r.History.Dev) != 3 || r.History.Dev[2].Step != 31 {
		t.Errorf("evaluations at %+v, want steps 15, 30, 31", r.History.Dev)
	}
	t.Logf("loss %.4f -> %.4f, dev %+v", first, last, r.History.Dev)
}
