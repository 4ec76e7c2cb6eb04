package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nndl/cnn/trainer"
)

// readSummary reads a run folder's summary.json.
func readSummary(t *testing.T, dir string) trainSummary {
	t.Helper()
	var s trainSummary
	if err := json.Unmarshal(mustRead(t, filepath.Join(dir, "summary.json")), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTrainResumeAloneExtends: a finished run leaves its final checkpoint; "cnn train
// --resume DIR --epochs 2" alone (no model name, none of the first run's flags) extends the
// 1-epoch run with its own configuration (momentum, Nesterov, a warmed-up cosine schedule,
// clipping, the best by dev loss) to 2 epochs, and ends with the metrics, best weights and
// test numbers of one 2-epoch run; "--resume DIR" with a setting that differs is refused.
func TestTrainResumeAloneExtends(t *testing.T) {
	root := t.TempDir()
	flags := []string{"--eval-steps", "5", "--lr", "0.05", "--momentum", "0.9", "--nesterov", "--lr-schedule", "cosine",
		"--lr-period", "32", "--warmup-steps", "4", "--clip-grad-norm", "5", "--best", "dev-loss"}
	first, whole := filepath.Join(root, "first"), filepath.Join(root, "whole")
	if stdout, stderr, st := cnn(append([]string{"train", "lenet", "--epochs", "1", "--out", first}, flags...)...); st != 0 {
		t.Fatalf("first run: status %d: %s\n%s", st, stderr, stdout)
	}
	if done := checkpointSteps(t, filepath.Join(first, checkpointName)); done != 16 {
		t.Errorf("the finished run's checkpoint holds %d steps, want 16", done)
	}
	stdout, stderr, st := cnn("train", "--resume", first, "--epochs", "2")
	if st != 0 {
		t.Fatalf("resume --epochs 2: status %d: %s\n%s", st, stderr, stdout)
	}
	for _, want := range []string{"2 epochs of 16 steps, SGD(lr=0.05, momentum=0.9, nesterov=True), lr CosineAnnealingLR(T_max=32, eta_min=0) * LinearLR(",
		"gradients clipped to norm 5, best by dev-loss", "[Resume] " + filepath.Join(first, checkpointName) + ": 16 of 32 steps done"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the resumed run's stdout lacks %q:\n%s", want, stdout)
		}
	}
	if stdout, stderr, st := cnn(append([]string{"train", "lenet", "--epochs", "2", "--out", whole}, flags...)...); st != 0 {
		t.Fatalf("2-epoch run: status %d: %s\n%s", st, stderr, stdout)
	}
	if a, b := mustRead(t, filepath.Join(first, "metrics.csv")), mustRead(t, filepath.Join(whole, "metrics.csv")); !bytes.Equal(a, b) {
		t.Errorf("the extended run's metrics differ from the 2-epoch run's:\n%s\n%s", a, b)
	}
	got, want := readSummary(t, first), readSummary(t, whole)
	if got.TestAcc != want.TestAcc || got.TestLoss != want.TestLoss || got.BestStep != want.BestStep || got.BestMetric != "dev-loss" ||
		got.Steps != 32 || got.ResumedAt != 16 || got.Config["epochs"] != 2.0 || got.Config["momentum"] != 0.9 || got.Config["nesterov"] != true {
		t.Errorf("extended run's summary %+v\n2-epoch run's %+v", got, want)
	}
	h, err := trainer.ReadCSV(filepath.Join(whole, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if i := bestByLoss(h.Dev); h.Dev[i].Step != want.BestStep || h.Dev[i].Loss != want.BestDevLoss {
		t.Errorf("best by dev loss at step %d (%v), metrics.csv's lowest is at step %d (%v)", want.BestStep, want.BestDevLoss, h.Dev[i].Step, h.Dev[i].Loss)
	}

	before := sums(t, first)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--resume", first, "--lr", "0.2"}, `lr "0.05" (now "0.2")`},
		{[]string{"train", "--resume", first, "--nesterov=false"}, `nesterov "true" (now "false")`},
		{[]string{"train", "resnet18", "--resume", first}, `model "lenet" (now "resnet18")`},
		{[]string{"train", "--resume", first, "--epochs", "1"}, "32 steps done, more than the run's 16"},
	} {
		stdout, stderr, st := cnn(c.args...)
		oneLineError(t, c.args, stdout, stderr, st, c.want)
	}
	sameSums(t, "refused resumptions", first, before)
}

// bestByLoss is the index of the first lowest dev loss.
func bestByLoss(evals []trainer.Eval) int {
	bi := 0
	for i, e := range evals {
		if e.Loss < evals[bi].Loss {
			bi = i
		}
	}
	return bi
}

// TestTrainEarlyStopping: with --patience 2 a run stops at the first evaluation that is the
// second without a new best, says so, and records it; its metrics are the full run's up to
// there.
func TestTrainEarlyStopping(t *testing.T) {
	root := t.TempDir()
	full, early := filepath.Join(root, "full"), filepath.Join(root, "early")
	args := []string{"train", "lenet", "--epochs", "3", "--eval-steps", "2", "--best", "dev-loss", "--lr", "0.3"}
	if stdout, stderr, st := cnn(append(args, "--out", full)...); st != 0 {
		t.Fatalf("status %d: %s\n%s", st, stderr, stdout)
	}
	h, err := trainer.ReadCSV(filepath.Join(full, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	stop, since, best := -1, 0, 0
	for i, e := range h.Dev {
		if i == 0 || e.Loss < h.Dev[best].Loss {
			best, since = i, 0
		} else if since++; since == 2 {
			stop = e.Step
			break
		}
	}
	if stop < 0 {
		t.Skip("the full run never went two evaluations without a new best")
	}
	stdout, stderr, st := cnn(append(args, "--out", early, "--patience", "2")...)
	if st != 0 {
		t.Fatalf("status %d: %s\n%s", st, stderr, stdout)
	}
	if want := "[Train] stopped early after " + strconv.Itoa(stop+1) + " of 48 steps: 2 evaluations without a new best"; !strings.Contains(stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
	s := readSummary(t, early)
	if !s.EarlyStopped || s.Steps != stop+1 || s.Config["patience"] != 2.0 {
		t.Errorf("summary %+v: want early_stopped after %d steps", s, stop+1)
	}
	e, err := trainer.ReadCSV(filepath.Join(early, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Train) != stop+1 || e.Train[stop] != h.Train[stop] || e.Dev[len(e.Dev)-1] != h.Dev[len(e.Dev)-1] {
		t.Errorf("the early-stopped metrics are not the full run's first %d steps", stop+1)
	}
}

// TestTrainJSON: --json prints summary.json's content and nothing else on stdout.
func TestTrainJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	stdout, stderr, st := cnn("train", "lenet", "--epochs", "1", "--eval-steps", "5", "--json", "--out", out)
	if st != 0 || stderr != "" {
		t.Fatalf("status %d: %s", st, stderr)
	}
	var printed, written map[string]any
	if err := json.Unmarshal([]byte(stdout), &printed); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(out, "summary.json")), &written); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"model", "test_accuracy", "test_loss", "best_step", "config"} {
		if _, ok := printed[k]; !ok || !jsonEqual(printed[k], written[k]) {
			t.Errorf("%s: printed %v, summary.json %v", k, printed[k], written[k])
		}
	}
	cfg := printed["config"].(map[string]any)
	if cfg["lr"] != 0.1 || cfg["batch"] != 64.0 || cfg["input"] != "1x32x32" {
		t.Errorf("config %v: want numbers as numbers", cfg)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestTrainControlFlagsBad: the new flags' bad values are one line naming the flag, before
// anything is written.
func TestTrainControlFlagsBad(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--best", "accuracy"}, `--best "accuracy": want dev-accuracy or dev-loss`},
		{[]string{"--nesterov"}, "--nesterov=true: sgd: Nesterov momentum needs a momentum above 0 and no dampening"},
		{[]string{"--momentum", "-1"}, "--momentum -1"},
		{[]string{"--optimizer", "adam", "--momentum", "0.9"}, "--momentum, --dampening and --nesterov are sgd's"},
		{[]string{"--lr-schedule", "exp"}, `--lr-schedule exp: schedule "exp": want constant, step or cosine`},
		{[]string{"--lr-schedule", "step", "--lr-gamma", "0"}, "--lr-schedule step: step schedule: gamma 0"},
		{[]string{"--warmup-steps", "3", "--warmup-start", "0"}, "warm-up start factor 0"},
		{[]string{"--clip-grad-norm", "-1"}, "--clip-grad-norm -1"},
		{[]string{"--patience", "2", "--eval-steps", "0"}, "--patience 2: early stopping needs evaluations"},
	} {
		args := append([]string{"train", "lenet", "--out", out}, c.args...)
		stdout, stderr, st := cnn(args...)
		oneLineError(t, args, stdout, stderr, st, c.want)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused run made %s", out)
	}
}
