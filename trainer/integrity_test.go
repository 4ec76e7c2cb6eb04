package trainer

import (
	"encoding/binary"
	"encoding/json"
	"github.com/nndl/cnn/tensorio"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nndl/cnn/tensorio/safetensors"
)

// flipByte returns b with one bit of byte i changed.
func flipByte(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x10
	return c
}

// dataStart is the offset of a safetensors file's data section.
func dataStart(b []byte) int { return 8 + int(binary.LittleEndian.Uint64(b)) }

// TestWeightsIntegrity: a flipped byte in the data of a file SaveWeights wrote is an error
// naming the file, and params are left as they were; a file without a digest (as PyTorch
// writes them) loads.
func TestWeightsIntegrity(t *testing.T) {
	dir := t.TempDir()
	r := newRunner(1, nil)
	if _, err := r.Program(1, false); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.safetensors")
	if err := SaveWeights(good, r.Params, map[string]string{"model": "lenet"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	other := newRunner(2, nil)
	if _, err := other.Program(1, false); err != nil {
		t.Fatal(err)
	}
	before := other.Params.Tensors()
	for _, at := range []int{dataStart(b), dataStart(b) + 1000, len(b) - 1} {
		bad := filepath.Join(dir, "flipped.safetensors")
		if err := os.WriteFile(bad, flipByte(b, at), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadWeights(bad, other.Params, true)
		want := bad + ": damaged: its tensors and metadata no longer match the SHA-256 recorded when it was written"
		if err == nil || err.Error() != want {
			t.Errorf("byte %d flipped: error %v, want %q", at, err, want)
		}
		sameTensors(t, other.Params.Tensors(), before)
	}
	meta, _, err := LoadWeights(good, other.Params, true)
	if err != nil || meta["model"] != "lenet" || meta[DigestKey] != "" {
		t.Errorf("good file: meta %v, error %v", meta, err)
	}
	f, err := safetensors.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	delete(f.Metadata, DigestKey)
	plain := filepath.Join(dir, "plain.safetensors")
	if err := safetensors.WriteFile(plain, f); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadWeights(plain, other.Params, true); err != nil {
		t.Errorf("a file without a digest: %v", err)
	}
}

// TestLoadWeightsRefusesIntegers: a parameter stored as I32, I64 or U8 is an error naming
// the tensor and its dtype, not a silent cast; PyTorch's I64 step counters of BatchNorm,
// which name no parameter, are still ignored.
func TestLoadWeightsRefusesIntegers(t *testing.T) {
	dir := t.TempDir()
	r := newRunner(1, nil)
	if _, err := r.Program(1, false); err != nil {
		t.Fatal(err)
	}
	before := r.Params.Tensors()
	shape := before["conv1.weight"].Shape
	n := len(before["conv1.weight"].F32)
	for _, c := range []safetensors.Tensor{
		{DType: safetensors.I32, Shape: shape, I32: make([]int32, n)},
		{DType: safetensors.I64, Shape: shape, I64: make([]int64, n)},
		{DType: safetensors.U8, Shape: shape, U8: make([]uint8, n)},
	} {
		tensors := r.Params.Tensors()
		tensors["conv1.weight"] = c
		path := filepath.Join(dir, c.DType+".safetensors")
		if err := safetensors.WriteFile(path, &safetensors.File{Tensors: tensors}); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadWeights(path, r.Params, true)
		want := path + `: tensor "conv1.weight" has dtype ` + c.DType + ": want F32 or F64 weights (integers are not cast)"
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", c.DType, err, want)
		}
		sameTensors(t, r.Params.Tensors(), before)
	}
	tensors := r.Params.Tensors()
	tensors["bn.num_batches_tracked"] = tensorio.NewInt64([]int{}, []int64{7})
	path := filepath.Join(dir, "counter.safetensors")
	if err := safetensors.WriteFile(path, &safetensors.File{Tensors: tensors}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadWeights(path, r.Params, true); err != nil {
		t.Errorf("an I64 step counter: %v", err)
	}
}

// rewriteState reads the checkpoint at src, lets change edit its training state (as JSON
// fields) and tensors, seals it again (so that only the state check can catch it) and writes
// it to dst.
func rewriteState(t *testing.T, src, dst string, change func(st map[string]any, f *safetensors.File)) {
	t.Helper()
	f, err := safetensors.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(f.Metadata[StateKey]), &st); err != nil {
		t.Fatal(err)
	}
	change(st, f)
	js, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	f.Metadata[StateKey] = string(js)
	seal(f)
	if err := safetensors.WriteFile(dst, f); err != nil {
		t.Fatal(err)
	}
}

// TestLoadCheckpointRefusesTampering: a checkpoint with a flipped byte, without its digest,
// of the old format, or with a training state that no run writes (resealed, so that the
// digest cannot catch it) is refused with an error naming the file and what is wrong, and
// the runner is left as it was.
func TestLoadCheckpointRefusesTampering(t *testing.T) {
	dir := t.TempDir()
	src := &resumeRun{r: tinyResNet(t, 3)}
	good := filepath.Join(dir, "good.safetensors")
	stopAt := 9 // after the evaluations of steps 4 and 8
	src.train(t, Config{Checkpoint: func(int) error { return src.r.SaveCheckpoint(good, nil) },
		Stop: func() bool { return src.r.StepsDone == stopAt }})
	if src.r.BestStep < 0 {
		t.Fatalf("no best step after %d steps: the cases below need one", stopAt)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	path := func(name string) string { return filepath.Join(dir, name) }
	if err := os.WriteFile(path("flipped"), flipByte(b, len(b)-3), 0o644); err != nil {
		t.Fatal(err)
	}
	set := func(key string, v any) func(map[string]any, *safetensors.File) {
		return func(st map[string]any, _ *safetensors.File) { st[key] = v }
	}
	cases := []struct {
		name, want string
		change     func(map[string]any, *safetensors.File)
	}{
		{"best accuracy 2", "best dev accuracy 2, want a fraction from 0 to 1", set("best_dev_accuracy", 2.0)},
		{"best accuracy -0.5", "best dev accuracy -0.5", set("best_dev_accuracy", -0.5)},
		{"best step -7", "best step -7 of 9 steps done", set("best_step", -7)},
		{"best step beyond", "best step 9 of 9 steps done", set("best_step", 9)},
		{"best step not the best", "the evaluations' best by dev-accuracy is", set("best_step", -1)},
		{"negative steps", "-3 steps done", set("steps_done", -3)},
		{"more steps than history", "12 steps done, 9 in the history", set("steps_done", 12)},
		{"epoch", "epoch 5 after 9 steps", set("epoch", 5)},
		{"old format", `training state format "cnn-train-state/1"`, set("format", "cnn-train-state/1")},
		{"adam steps", `Adam has taken "4" steps, the run 9`, func(st map[string]any, _ *safetensors.File) {
			st["optimizer_state"].(map[string]any)["steps"] = "4"
		}},
		{"dev accuracy 1.5", "history.dev row 0", func(_ map[string]any, f *safetensors.File) {
			f.Tensors[historyDev].F64[3] = 1.5
		}},
		{"dev step beyond", "history.dev row 1", func(_ map[string]any, f *safetensors.File) {
			f.Tensors[historyDev].F64[4] = 50
		}},
		{"history of three columns", "history.train is F64 [9 3]", func(_ map[string]any, f *safetensors.File) {
			tr := f.Tensors[historyTrain]
			f.Tensors[historyTrain] = tensorio.NewFloat64([]int{9, 3}, append(tr.F64, make([]float64, 9)...))
		}},
		{"no digest", "no sha256 checksum in the metadata", func(_ map[string]any, f *safetensors.File) {}},
	}
	for _, c := range cases {
		p := path(strings.ReplaceAll(c.name, " ", "-"))
		rewriteState(t, good, p, c.change)
		if c.name == "no digest" {
			f, _ := safetensors.ReadFile(p)
			delete(f.Metadata, DigestKey)
			safetensors.WriteFile(p, f)
		}
	}
	cases = append(cases, struct {
		name, want string
		change     func(map[string]any, *safetensors.File)
	}{"flipped", "damaged: its tensors and metadata no longer match the SHA-256", nil})
	for _, c := range cases {
		p := path(strings.ReplaceAll(c.name, " ", "-"))
		r := tinyResNet(t, 4)
		before := r.Params.Tensors()
		_, err := r.LoadCheckpoint(p)
		if err == nil || !strings.HasPrefix(err.Error(), p+": ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming the file and %q", c.name, err, c.want)
			continue
		}
		t.Logf("%s: %v", c.name, strings.TrimPrefix(err.Error(), dir))
		sameTensors(t, r.Params.Tensors(), before)
		if r.StepsDone != 0 || len(r.History.Train) != 0 || r.BestStep != -1 {
			t.Errorf("%s: the runner changed", c.name)
		}
	}
	r := tinyResNet(t, 4)
	if _, err := r.LoadCheckpoint(good); err != nil || r.StepsDone != stopAt {
		t.Errorf("the good checkpoint: %v, %d steps", err, r.StepsDone)
	}
}

// TestCheckpointLongHistory: a run of 1.6 million steps (whose history in the header would
// have passed the header limit) checkpoints with a header of a few kilobytes and restores
// the history exactly.
func TestCheckpointLongHistory(t *testing.T) {
	const steps = 1_600_000
	r := newRunner(1, &SGD{LR: 0.1})
	if _, err := r.Program(1, false); err != nil {
		t.Fatal(err)
	}
	r.History.Train = make([]StepLoss, steps)
	for i := range r.History.Train {
		r.History.Train[i] = StepLoss{Step: i, Epoch: i / 1000, Loss: 1 / float64(i+3)}
	}
	for s := 999; s < steps; s += 1000 {
		r.History.Dev = append(r.History.Dev, Eval{Step: s, Epoch: s / 1000, Loss: 0.5, Acc: 0.25})
	}
	r.StepsDone, r.BestStep, r.BestAcc = steps, 999, 0.25
	path := filepath.Join(t.TempDir(), "checkpoint.safetensors")
	if err := r.SaveCheckpoint(path, map[string]string{"model": "lenet"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var n [8]byte
	f.Read(n[:])
	f.Close()
	if h := binary.LittleEndian.Uint64(n[:]); h > 1<<14 {
		t.Errorf("header of %d bytes for %d steps", h, steps)
	}
	back := newRunner(2, &SGD{LR: 0.1})
	if _, err := back.Program(1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := back.LoadCheckpoint(path); err != nil {
		t.Fatal(err)
	}
	if back.StepsDone != steps || !reflect.DeepEqual(back.History, r.History) {
		t.Errorf("restored %d steps; histories equal: %v", back.StepsDone, reflect.DeepEqual(back.History, r.History))
	}
}
