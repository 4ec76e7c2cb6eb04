package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nndl/cnn/data"
	"github.com/nndl/cnn/tensorio/safetensors"
)

// writeCIFARFiles writes the six CIFAR-10 binary batch files into a new folder, n random
// records each, and returns the folder.
func writeCIFARFiles(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(10, 10))
	files := append(append(append([]string{}, data.CIFARTrainFiles...), data.CIFARDevFiles...), data.CIFARTestFiles...)
	for _, name := range files {
		b := make([]byte, n*data.CIFARRecordBytes)
		for r := range n {
			rec := b[r*data.CIFARRecordBytes : (r+1)*data.CIFARRecordBytes]
			label := rng.IntN(10)
			rec[0] = byte(label)
			for j := range rec[1:] {
				// A little signal: the label shifts the red plane.
				rec[1+j] = byte(rng.IntN(200))
				if j < 1024 {
					rec[1+j] += byte(5 * label)
				}
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cifarArgs is a short run of the CIFAR recipe: ResNet18 of width 8 (1,000-way head),
// 48 training images in batches of 8 for 2 epochs (12 steps), evaluated every 4 steps.
func cifarArgs(dataDir, out string, extra ...string) []string {
	return append([]string{"train", "resnet18-cifar", "--width", "8", "--data", dataDir, "--batch", "8", "--epochs", "2",
		"--eval-steps", "4", "--log-steps", "1", "--out", out}, extra...)
}

// TestTrainCIFARRecipe: resnet18-cifar trains on CIFAR-10 with the chapter's recipe as
// its defaults (Adam, lr 0.001, L2 decay 0.005) and records it; --checkpoint-every writes
// the training checkpoint.
func TestTrainCIFARRecipe(t *testing.T) {
	dataDir := writeCIFARFiles(t, 12)
	out := filepath.Join(t.TempDir(), "run")
	stdout, stderr, st := cnn(cifarArgs(dataDir, out, "--checkpoint-every", "5")...)
	if st != 0 {
		t.Fatalf("status %d: %s\n%s", st, stderr, stdout)
	}
	for _, want := range []string{
		"48 train / 12 dev / 12 test CIFAR-10 images, 2 epochs of 6 steps, Adam(lr=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08, weight_decay=L2Decay(0.005))",
		"[Test] accuracy/loss: ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	var s trainSummary
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil || json.Unmarshal(b, &s) != nil {
		t.Fatalf("summary.json: %v", err)
	}
	for k, v := range map[string]string{"model": "resnet18-cifar", "in_channels": "3", "classes": "1000", "stem_bias": "false",
		"optimizer": "adam", "lr": "0.001", "weight_decay": "0.005", "dataset": "cifar10", "train_size": "48"} {
		if fmt.Sprint(s.Config[k]) != v {
			t.Errorf("summary config %s = %v, want %q", k, s.Config[k], v)
		}
	}
	// Checkpoints after steps 5 and 10: the last holds 10 steps done.
	f, err := safetensors.ReadFile(filepath.Join(out, checkpointName))
	if err != nil {
		t.Fatal(err)
	}
	if done := checkpointSteps(t, filepath.Join(out, checkpointName)); done != 12 {
		t.Errorf("checkpoint: %d steps done; want all 12 (the finished run's)", done)
	}
	if _, ok := f.Tensors["optimizer.fc.weight.moment2"]; !ok || f.Tensors["fc.weight"].Shape[0] != 1000 {
		t.Errorf("checkpoint tensors: no Adam moments or no 1,000-way head")
	}
	noTempFiles(t, out)
}

// TestTrainResumeAfterSignal interrupts the short CIFAR run with SIGINT (and SIGTERM, and
// SIGHUP, as when the terminal closes) sent to the process after step k, checks the one-line
// message, resumes with the command it prints, and compares with an uninterrupted run: the same best weights, metrics and test numbers,
// byte for byte.
func TestTrainResumeAfterSignal(t *testing.T) {
	dataDir := writeCIFARFiles(t, 12)
	root := t.TempDir()
	whole := filepath.Join(root, "whole")
	if stdout, stderr, st := cnn(cifarArgs(dataDir, whole)...); st != 0 {
		t.Fatalf("uninterrupted run: status %d: %s\n%s", st, stderr, stdout)
	}
	if done := checkpointSteps(t, filepath.Join(whole, checkpointName)); done != 12 {
		t.Errorf("the finished run's checkpoint holds %d steps done, want all 12", done)
	}
	want := snapshotDir(t, whole)
	var wantSummary trainSummary
	json.Unmarshal(want["summary.json"], &wantSummary)

	for _, c := range []struct {
		sig syscall.Signal
		k   int
	}{{syscall.SIGINT, 5}, {syscall.SIGTERM, 8}, {syscall.SIGHUP, 3}} {
		out := filepath.Join(root, c.sig.String())
		afterStep = func(done int, in *interrupts) {
			if done != c.k {
				return
			}
			syscall.Kill(os.Getpid(), c.sig)
			for deadline := time.Now().Add(10 * time.Second); !in.requested() && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
		args := cifarArgs(dataDir, out)
		stdout, stderr, st := cnn(args...)
		afterStep = nil
		if st != 130 {
			t.Errorf("interrupted run: status %d, want 130 (128 + SIGINT)", st)
		}
		oneLineError(t, args, stdout, stderr, 2, "interrupted after step "+strconv.Itoa(c.k)+" of 12", checkpointName, "resume with: cnn train --resume "+out)
		_, cmdline, ok := strings.Cut(strings.TrimSpace(stderr), "resume with: ")
		if !ok {
			t.Fatalf("no resume command in %q", stderr)
		}
		resumeArgs := strings.Fields(cmdline)[1:] // without "cnn"
		if !slices.Equal(resumeArgs, []string{"train", "--resume", out}) {
			t.Fatalf("resume command %q: want cnn train --resume %s", cmdline, out)
		}
		stdout, stderr, st = cnn(resumeArgs...)
		if st != 0 {
			t.Fatalf("%s: resumed run: status %d: %s\n%s", c.sig, st, stderr, stdout)
		}
		if !strings.Contains(stdout, "[Resume] "+filepath.Join(out, checkpointName)+": "+strconv.Itoa(c.k)+" of 12 steps done") {
			t.Errorf("%s: stdout of the resumed run lacks the [Resume] line:\n%s", c.sig, stdout)
		}
		got := snapshotDir(t, out)
		for _, name := range []string{"best.safetensors", "metrics.csv"} {
			if !bytes.Equal(got[name], want[name]) {
				t.Errorf("%s: %s differs from the uninterrupted run's", c.sig, name)
			}
		}
		var s trainSummary
		json.Unmarshal(got["summary.json"], &s)
		if s.TestAcc != wantSummary.TestAcc || s.TestLoss != wantSummary.TestLoss || s.BestStep != wantSummary.BestStep ||
			s.BestDevAcc != wantSummary.BestDevAcc || s.Steps != 12 || s.ResumedAt != c.k {
			t.Errorf("%s: summary %+v\nuninterrupted %+v", c.sig, s, wantSummary)
		}
		noTempFiles(t, out)
	}
}

// TestTrainCIFARBadInput: missing data, a broken batch file and a resumption with other
// settings are one-line errors with status 2.
func TestTrainCIFARBadInput(t *testing.T) {
	dataDir := writeCIFARFiles(t, 12)
	out := filepath.Join(t.TempDir(), "run")
	if stdout, stderr, st := cnn(cifarArgs(dataDir, out, "--epochs", "1", "--checkpoint-every", "3")...); st != 0 {
		t.Fatalf("status %d: %s\n%s", st, stderr, stdout)
	}
	broken := writeCIFARFiles(t, 2)
	b, _ := os.ReadFile(filepath.Join(broken, "data_batch_3.bin"))
	os.WriteFile(filepath.Join(broken, "data_batch_3.bin"), b[:len(b)-7], 0o644)
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"train", "resnet18-cifar", "--out", filepath.Join(empty, "x")}, []string{"cifar10 needs --data DIR"}},
		{cifarArgs(broken, filepath.Join(empty, "y")), []string{"data_batch_3.bin: 6139 bytes is not a whole number", "offset 3073"}},
		{cifarArgs(empty, filepath.Join(empty, "z")), []string{"data_batch_1.bin: no such file"}},
		{[]string{"train", "lenet", "--dataset", "cifar10", "--data", dataDir, "--in-channels", "1"}, []string{"CIFAR-10 images are 3x32x32"}},
		{[]string{"train", "lenet", "--dataset", "imagenet"}, []string{`--dataset "imagenet"`}},
		{[]string{"train", "lenet", "--optimizer", "rmsprop"}, []string{`--optimizer "rmsprop"`}},
		{[]string{"train", "lenet", "--weight-decay", "-1"}, []string{"--weight-decay -1"}},
		{[]string{"train", "lenet", "--checkpoint-every", "-1"}, []string{"--checkpoint-every -1"}},
		{cifarArgs(dataDir, out, "--epochs", "1", "--lr", "0.01", "--resume", out), []string{checkpointName, `lr "0.001" (now "0.01")`}},
		{cifarArgs(dataDir, out, "--epochs", "1", "--optimizer", "sgd", "--resume", out), []string{checkpointName, `optimizer "adam" (now "sgd")`}},
		{cifarArgs(dataDir, filepath.Join(empty, "w"), "--resume", out), []string{"--out", "--resume"}},
		{cifarArgs(dataDir, "", "--resume", empty), []string{filepath.Join(empty, checkpointName), "no training checkpoint"}},
	} {
		args := c.args
		if args[len(args)-2] == "--resume" && args[len(args)-1] == empty {
			// No --out: drop the empty one.
			args = slicesDelete(args, "--out", "")
		}
		stdout, stderr, st := cnn(args...)
		oneLineError(t, args, stdout, stderr, st, c.want...)
		t.Logf("%s", strings.TrimSpace(stderr))
	}
}

// slicesDelete removes the adjacent pair a, b from s.
func slicesDelete(s []string, a, b string) []string {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == a && s[i+1] == b {
			return append(append([]string{}, s[:i]...), s[i+2:]...)
		}
	}
	return s
}

// checkpointSteps returns the steps done that a training checkpoint records.
func checkpointSteps(t *testing.T, path string) int {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		StepsDone int `json:"steps_done"`
	}
	if err := json.Unmarshal([]byte(f.Metadata["train_state"]), &state); err != nil {
		t.Fatal(err)
	}
	return state.StepsDone
}
