package graph_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/nndl/cnn/build"
	"github.com/nndl/cnn/graph"
)

// dropoutRunner is dropoutModel's training program on a store of seed 21, fed a fixed
// sample.
func dropoutRunner(t *testing.T) (*graph.Params, *build.Program) {
	t.Helper()
	params := graph.NewParams(tensor.Float32, 21)
	p, err := build.Compile(dropoutModel, params, build.Options{Batch: 1, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 32)
	for i := range x {
		x[i] = float32(i%5) - 1.5
	}
	if err := p.Feed(x, []int{2}); err != nil {
		t.Fatal(err)
	}
	return params, p
}

// dropoutOutput runs p once and returns the dropout layer's output.
func dropoutOutput(t *testing.T, p *build.Program) []float32 {
	t.Helper()
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	return values(t, p, layerNamed(t, p, "drop").Output)
}

// TestDropoutRunsContinue: DropoutRuns counts the training runs; a new store of the same
// seed given those counts (SetDropoutRuns) draws the masks the first store draws next, and
// without them it starts again from the first mask.
func TestDropoutRunsContinue(t *testing.T) {
	first, p := dropoutRunner(t)
	if got := first.DropoutRuns(); !maps.Equal(got, map[string]uint64{"drop": 0}) {
		t.Fatalf("before any run: DropoutRuns %v, want drop 0", got)
	}
	var outs [][]float32
	for range 5 {
		outs = append(outs, dropoutOutput(t, p))
	}
	if got := first.DropoutRuns(); !maps.Equal(got, map[string]uint64{"drop": 5}) {
		t.Fatalf("after 5 runs: DropoutRuns %v, want drop 5", got)
	}
	for _, at := range []uint64{0, 2, 4} {
		second, q := dropoutRunner(t)
		if err := second.SetDropoutRuns(map[string]uint64{"drop": at}); err != nil {
			t.Fatal(err)
		}
		if got := dropoutOutput(t, q); !slices.Equal(got, outs[at]) {
			t.Errorf("set to %d runs: the next output is not the first store's of run %d", at, at+1)
		}
		if got := second.DropoutRuns()["drop"]; got != at+1 {
			t.Errorf("set to %d runs and run once: DropoutRuns %d", at, got)
		}
	}
}

// TestSetDropoutRunsRefuses: names that are no Dropout layer of the store are refused,
// named in the error, and nothing changes.
func TestSetDropoutRunsRefuses(t *testing.T) {
	params, p := dropoutRunner(t)
	dropoutOutput(t, p)
	for _, c := range []struct {
		runs map[string]uint64
		want []string
	}{
		{map[string]uint64{"fc1": 3}, []string{"no Dropout layer named fc1", "drop"}},
		{map[string]uint64{"drop": 7, "drop2": 1, "other": 2}, []string{"drop2, other"}},
	} {
		err := params.SetDropoutRuns(c.runs)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("SetDropoutRuns(%v): error %v, want one naming %q", c.runs, err, w)
			}
		}
		if got := params.DropoutRuns(); !maps.Equal(got, map[string]uint64{"drop": 1}) {
			t.Errorf("SetDropoutRuns(%v) failed and changed the counts to %v", c.runs, got)
		}
	}
	empty := graph.NewParams(tensor.Float32, 1)
	if err := empty.SetDropoutRuns(map[string]uint64{"drop": 1}); err == nil || !strings.Contains(err.Error(), "none declared") {
		t.Errorf("a store without dropout layers: error %v", err)
	}
	if err := empty.SetDropoutRuns(nil); err != nil || len(empty.DropoutRuns()) != 0 {
		t.Errorf("no counts on a store without dropout layers: error %v, counts %v", err, empty.DropoutRuns())
	}
}
