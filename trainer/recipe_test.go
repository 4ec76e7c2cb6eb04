package trainer

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"gorgonia.org/tensor"
)

// lenetRecipe returns the chapter's recipe for LeNet-5 on the built-in subset, for epochs
// epochs with evaluations every evalSteps steps, writing into dir ("" for none).
func lenetRecipe(t *testing.T, dir string, epochs, evalSteps int, opt Optimizer) *Recipe {
	t.Helper()
	train, dev, test := chapterLoaders(t, 100)
	r := New(lenet.New(1, 10), graph.NewParams(tensor.Float32, 100), graph.Fast, opt)
	if _, err := r.Program(64, true); err != nil {
		t.Fatal(err)
	}
	return &Recipe{Runner: r, Train: train, Dev: dev, Test: test, Dir: dir, Meta: map[string]string{"model": "lenet"},
		Config: Config{Epochs: epochs, EvalSteps: evalSteps}}
}

// TestRecipeFolderAndMemory: the recipe gives the same run with a folder and without one;
// with one it leaves the best weights (at the best step) and the metrics, without one
// nothing; the test figures are those of the best weights.
func TestRecipeFolderAndMemory(t *testing.T) {
	dir := t.TempDir()
	withDir := lenetRecipe(t, dir, 1, 5, &SGD{LR: 0.1})
	a, err := withDir.Run()
	if err != nil {
		t.Fatal(err)
	}
	mem := lenetRecipe(t, "", 1, 5, &SGD{LR: 0.1})
	wd := t.TempDir()
	t.Chdir(wd)
	b, err := mem.Run()
	if err != nil {
		t.Fatal(err)
	}
	if !a.Tested || !b.Tested || a.TestAcc != b.TestAcc || a.TestLoss != b.TestLoss {
		t.Errorf("with a folder test %v %v/%v, in memory %v %v/%v", a.Tested, a.TestAcc, a.TestLoss, b.Tested, b.TestAcc, b.TestLoss)
	}
	if withDir.Runner.BestStep != mem.Runner.BestStep || withDir.Runner.BestStep < 0 {
		t.Errorf("best steps %d and %d", withDir.Runner.BestStep, mem.Runner.BestStep)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{BestFile, CheckpointFile, MetricsFile}; !slices.Equal(names, want) {
		t.Errorf("the folder holds %q, want %q", names, want)
	}
	meta, err := ReadMeta(filepath.Join(dir, BestFile))
	if err != nil || meta["step"] == "" || meta["model"] != "lenet" {
		t.Errorf("best weights metadata %v (%v)", meta, err)
	}
	if ents, _ := os.ReadDir(wd); len(ents) != 0 {
		t.Errorf("a recipe without a folder wrote %d files into the working folder", len(ents))
	}

	// The test figures are the best weights' own: evaluate them afresh.
	r := New(lenet.New(1, 10), graph.NewParams(tensor.Float32, 1), graph.Fast, nil)
	if _, err := r.Program(64, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadWeights(filepath.Join(dir, BestFile), r.Params, true); err != nil {
		t.Fatal(err)
	}
	acc, loss, err := r.Evaluate(withDir.Test)
	if err != nil || acc != a.TestAcc || loss != a.TestLoss {
		t.Errorf("the best weights give %v/%v on test (%v), the recipe said %v/%v", acc, loss, err, a.TestAcc, a.TestLoss)
	}
}
