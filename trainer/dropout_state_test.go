package trainer

import (
	"errors"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/tensorio/safetensors"
)

// dropNet is a small CNN with two Dropout layers of p 0.5 and 0.3 for the 3x32x32 images of
// synthetic.
var dropNet = graph.Model{
	Name: "dropnet", Input: []int{3, 32, 32}, Classes: 10,
	Forward: func(n *graph.Net, x *gorgonia.Node) *gorgonia.Node {
		x = n.ReLU(n.Conv2D("conv", x, graph.Conv{Out: 4, Kernel: 3, Padding: 1}))
		x = n.Flatten("flatten", n.MaxPool2D("pool", x, graph.Pool{Kernel: 4}))
		x = n.ReLU(n.Linear("fc1", n.Dropout("drop1", x, 0.5), 32))
		return n.Linear("fc2", n.Dropout("drop2", x, 0.3), 10)
	},
}

// tinyDropNet returns a runner for dropNet with Adam, its parameters declared.
func tinyDropNet(t *testing.T, seed uint64) *Runner {
	t.Helper()
	r := New(dropNet, graph.NewParams(tensor.Float32, seed), graph.Fast, NewAdam(0.01, 0))
	if _, err := r.Program(8, true); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestResumeDropoutMatchesUninterrupted trains dropNet for 15 steps without a break, and
// again stopping after k steps, saving a checkpoint and resuming it in a fresh runner of
// the same seed: the checkpoint records the Dropout layers' run counts, and the resumed
// run draws the uninterrupted run's masks, so that its losses, final weights, Adam's
// moments, evaluations and run counts are the same bit for bit.
func TestResumeDropoutMatchesUninterrupted(t *testing.T) {
	full := &resumeRun{r: tinyDropNet(t, 5)}
	full.train(t, Config{})
	if full.err != nil {
		t.Fatal(full.err)
	}
	// Evaluations run in inference mode and draw no mask.
	if got := full.r.Params.DropoutRuns(); !maps.Equal(got, map[string]uint64{"drop1": 15, "drop2": 15}) {
		t.Fatalf("after 15 steps: run counts %v, want 15 for drop1 and drop2", got)
	}
	wantOpt, wantOptMeta := full.r.Opt.(*Adam).State()
	for _, k := range []int{3, 5, 9} {
		path := filepath.Join(t.TempDir(), "checkpoint.safetensors")
		first := &resumeRun{r: tinyDropNet(t, 5)}
		first.train(t, Config{
			Checkpoint: func(int) error { return first.r.SaveCheckpoint(path, map[string]string{"model": "dropnet"}) },
			Stop:       func() bool { return first.r.StepsDone == k },
		})
		var intr *Interrupted
		if !errors.As(first.err, &intr) || intr.StepsDone != k || !intr.Saved {
			t.Fatalf("k=%d: error %v, want an interruption after step %d with the checkpoint saved", k, first.err, k)
		}
		second := &resumeRun{r: tinyDropNet(t, 5), saves: slices.Clone(first.saves)}
		meta, err := second.r.LoadCheckpoint(path)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(meta, map[string]string{"model": "dropnet"}) {
			t.Errorf("k=%d: metadata %v, want the configuration alone", k, meta)
		}
		if got, want := second.r.Params.DropoutRuns(), first.r.Params.DropoutRuns(); !maps.Equal(got, want) {
			t.Errorf("k=%d: restored run counts %v, the saved run's %v", k, got, want)
		}
		second.train(t, Config{})
		if second.err != nil {
			t.Fatal(second.err)
		}
		sameRunHistory(t, second.r.History, full.r.History)
		sameTensors(t, second.r.Params.Tensors(), full.r.Params.Tensors())
		gotOpt, gotOptMeta := second.r.Opt.(*Adam).State()
		sameTensors(t, gotOpt, wantOpt)
		if !reflect.DeepEqual(gotOptMeta, wantOptMeta) || !slices.Equal(second.saves, full.saves) {
			t.Errorf("k=%d: Adam state %v, best saved at %v; uninterrupted %v, %v", k, gotOptMeta, second.saves, wantOptMeta, full.saves)
		}
		if got := second.r.Params.DropoutRuns(); !maps.Equal(got, full.r.Params.DropoutRuns()) {
			t.Errorf("k=%d: run counts %v at the end, uninterrupted %v", k, got, full.r.Params.DropoutRuns())
		}
	}
}

// dropCheckpoint trains dropNet for 4 steps and saves its checkpoint in dir.
func dropCheckpoint(t *testing.T, dir string) string {
	t.Helper()
	src := &resumeRun{r: tinyDropNet(t, 5)}
	path := filepath.Join(dir, "good.safetensors")
	src.train(t, Config{
		Checkpoint: func(int) error { return src.r.SaveCheckpoint(path, map[string]string{"model": "dropnet"}) },
		Stop:       func() bool { return src.r.StepsDone == 4 },
	})
	if intr := (*Interrupted)(nil); !errors.As(src.err, &intr) || !intr.Saved {
		t.Fatalf("error %v, want an interruption with the checkpoint saved", src.err)
	}
	return path
}

// rewriteDropoutRuns writes src to dst with the value of DropoutRunsKey set to v (removed
// when v is nil), sealed again so that only the check of the value can catch it.
func rewriteDropoutRuns(t *testing.T, src, dst string, v *string) {
	t.Helper()
	f, err := safetensors.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	delete(f.Metadata, DropoutRunsKey)
	if v != nil {
		f.Metadata[DropoutRunsKey] = *v
	}
	seal(f)
	if err := safetensors.WriteFile(dst, f); err != nil {
		t.Fatal(err)
	}
}

// TestLoadCheckpointDropoutRuns: the checkpoint records every Dropout layer's count; a
// malformed value of DropoutRunsKey is refused with one line naming the file, the key and
// what is wrong, and leaves the runner as it was; a checkpoint without the key (of an
// earlier version) loads with every count at 0.
func TestLoadCheckpointDropoutRuns(t *testing.T) {
	dir := t.TempDir()
	good := dropCheckpoint(t, dir)
	f, err := safetensors.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if v := f.Metadata[DropoutRunsKey]; v != `{"drop1":4,"drop2":4}` {
		t.Fatalf("the checkpoint's %s is %q, want 4 runs of drop1 and drop2", DropoutRunsKey, v)
	}
	if meta, err := CheckpointMeta(good); err != nil || !maps.Equal(meta, map[string]string{"model": "dropnet"}) {
		t.Errorf("CheckpointMeta: %v, %v; want the configuration alone", meta, err)
	}

	for _, c := range []struct{ value, want string }{
		{``, "want a JSON object"},
		{`4`, "want a JSON object"},
		{`[1, 2]`, "want a JSON object"},
		{`{"drop1":4,"drop2":4`, "not JSON"},
		{`{"drop1":4,"drop2":4}{}`, "more after the JSON object"},
		{`{"drop1":4,"drop2":4} x`, "more after the JSON object"},
		{`{"drop1":-1,"drop2":4}`, `layer "drop1": run count "-1", want a whole number`},
		{`{"drop1":4.5,"drop2":4}`, `run count "4.5"`},
		{`{"drop1":4e0,"drop2":4}`, `run count "4e0"`},
		{`{"drop1":18446744073709551616,"drop2":4}`, `from 0 to 2^64-1`},
		{`{"drop1":"4","drop2":4}`, `run count the string "4"`},
		{`{"drop1":null,"drop2":4}`, `run count null`},
		{`{"drop1":{},"drop2":4}`, `run count an object`},
		{`{"drop1":4,"drop1":5,"drop2":4}`, `layer "drop1" named twice`},
		{`{"drop1":4,"drop2":4,"fc1":4}`, `names "fc1", no Dropout layer of the model`},
		{`{"drop1":4}`, `no run count for the model's Dropout layer "drop2"`},
		{`{}`, `"drop1", "drop2"`},
	} {
		bad := filepath.Join(dir, "bad.safetensors")
		rewriteDropoutRuns(t, good, bad, &c.value)
		r := tinyDropNet(t, 6)
		r.Params.SetDropoutRuns(map[string]uint64{"drop1": 2, "drop2": 3})
		before := r.Params.Tensors()
		_, err := r.LoadCheckpoint(bad)
		if err == nil || !strings.Contains(err.Error(), bad+": metadata "+DropoutRunsKey+": ") || !strings.Contains(err.Error(), c.want) ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("%s %s: error %v, want one line naming the file, the key and %q", DropoutRunsKey, c.value, err, c.want)
			continue
		}
		sameTensors(t, r.Params.Tensors(), before)
		if got := r.Params.DropoutRuns(); r.StepsDone != 0 || r.Opt.(*Adam).Steps() != 0 || !maps.Equal(got, map[string]uint64{"drop1": 2, "drop2": 3}) {
			t.Errorf("%s %s: the runner changed: %d steps, Adam %d, run counts %v", DropoutRunsKey, c.value, r.StepsDone, r.Opt.(*Adam).Steps(), got)
		}
	}

	old := filepath.Join(dir, "old.safetensors")
	rewriteDropoutRuns(t, good, old, nil)
	r := tinyDropNet(t, 6)
	r.Params.SetDropoutRuns(map[string]uint64{"drop1": 2, "drop2": 3})
	if _, err := r.LoadCheckpoint(old); err != nil {
		t.Fatalf("a checkpoint without %s: %v", DropoutRunsKey, err)
	}
	if got := r.Params.DropoutRuns(); r.StepsDone != 4 || !maps.Equal(got, map[string]uint64{"drop1": 0, "drop2": 0}) {
		t.Errorf("a checkpoint without %s: %d steps, run counts %v; want 4 and 0", DropoutRunsKey, r.StepsDone, got)
	}

	if err := r.SaveCheckpoint(filepath.Join(dir, "x.safetensors"), map[string]string{DropoutRunsKey: "{}"}); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("SaveCheckpoint with %s in the configuration: error %v, want it reserved", DropoutRunsKey, err)
	}
}

// FuzzParseDropoutRuns: any value is read or refused without a panic, and a value read
// formats to one that reads back the same.
func FuzzParseDropoutRuns(f *testing.F) {
	for _, s := range []string{`{}`, `{"drop1":4,"drop2":4}`, `{"a":18446744073709551615}`, `{"a":-1}`, `{"a":1,"a":2}`, `[{}]`, `{"a":{"b":1}}`, ` {"\u00e9":0} `} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		runs, err := parseDropoutRuns(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: error of several lines: %v", s, err)
			}
			return
		}
		again, err := parseDropoutRuns(formatDropoutRuns(runs))
		if err != nil || !maps.Equal(again, runs) {
			t.Errorf("%q read as %v, formatted as %s, read back as %v, %v", s, runs, formatDropoutRuns(runs), again, err)
		}
	})
}
