package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/nndl/cnn/kernels"
	"github.com/nndl/cnn/reproduce"
	"github.com/nndl/cnn/trainer"
)

// TestVersion: "cnn --version" and "cnn version" print the build and every kernel of the
// binary with whether it runs; --json gives the same as data, kernels.List's and
// kernels.MaxISA's.
func TestVersion(t *testing.T) {
	a, errA, stA := cnn("--version")
	b, errB, stB := cnn("version")
	if stA != 0 || stB != 0 || a != b || errA+errB != "" {
		t.Fatalf("--version: status %d %q; version: status %d %q", stA, errA, stB, errB)
	}
	want := reproduce.ThisBuild()
	if !strings.HasPrefix(a, "cnn "+want.String()+"\n") || !strings.Contains(a, "SIMD instruction sets up to "+kernels.MaxISA().String()) {
		t.Errorf("version printed:\n%s\nwant the build %q and the ISA cap", a, want)
	}
	for _, k := range kernels.List() {
		line := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(k.Name) + ` .*$`).FindString(a)
		if line == "" || (k.Runnable != !strings.Contains(line, "cannot run")) || (!k.Runnable && !strings.Contains(line, k.Why)) {
			t.Errorf("kernel %s (runnable %v, %q): line %q", k.Name, k.Runnable, k.Why, line)
		}
	}
	out, _, st := cnn("version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil || st != 0 {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if v.Build != want || v.MaxISA != kernels.MaxISA().String() || len(v.Kernels) != len(kernels.List()) {
		t.Errorf("version --json: %+v", v)
	}
}

// TestBuildFrom: the build's version and VCS commit come from the build information.
func TestBuildFrom(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/nndl/cnn", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0c96668abc"}, {Key: "vcs.time", Value: "2026-12-01T21:59:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	b := reproduce.BuildFrom(bi, true)
	if want := "github.com/nndl/cnn v1.2.3, commit 0c96668abc (2026-12-01T21:59:00Z, modified), go1.26.8"; b.String() != want {
		t.Errorf("%q, want %q", b, want)
	}
	if b := reproduce.BuildFrom(nil, false); b.Commit != "" || !strings.Contains(b.String(), "commit unknown") {
		t.Errorf("no build information: %q", b)
	}
}

// TestVersionBinary: the built binary reports its own build information, as 'go version -m'
// reads it from the file.
func TestVersionBinary(t *testing.T) {
	bin := buildCNN(t)
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	m, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`(?m)^\s+mod\s+(\S+)\s+(\S+)`).FindSubmatch(m)
	if want == nil || !strings.HasPrefix(string(out), "cnn "+string(want[1])+" "+string(want[2])+", commit ") {
		t.Errorf("--version printed %q; go version -m says:\n%s", out, m)
	}
	if rev := regexp.MustCompile(`vcs\.revision=(\w+)`).FindSubmatch(m); rev != nil && !bytes.Contains(out, rev[1]) {
		t.Errorf("--version printed %q, not the commit %s", out, rev[1])
	}
}

// TestHelp: "cnn help train", "cnn train -h" and "cnn train --help" print train's usage and
// flags on stdout with status 0; a mistyped command gets a suggestion.
func TestHelp(t *testing.T) {
	var first string
	for _, args := range [][]string{{"help", "train"}, {"train", "-h"}, {"train", "--help"}} {
		out, errOut, st := cnn(args...)
		if st != 0 || errOut != "" || !strings.HasPrefix(out, "usage: cnn train MODEL") || !strings.Contains(out, "-resume string") || !strings.Contains(out, "-lr-schedule") {
			t.Errorf("%v: status %d, stderr %q, stdout:\n%s", args, st, errOut, out)
		}
		if first == "" {
			first = out
		} else if out != first {
			t.Errorf("%v printed another help", args)
		}
	}
	for _, c := range []struct{ typed, want string }{{"trian", `"train"`}, {"sumary", `"summary"`}, {"verison", `"version"`}, {"predcit", `"predict"`}} {
		_, errOut, st := cnn(c.typed)
		if st != 2 || !strings.Contains(errOut, "did you mean "+c.want+"?") {
			t.Errorf("cnn %s: status %d, stderr %q; want a suggestion of %s", c.typed, st, errOut, c.want)
		}
	}
	if _, errOut, _ := cnn("frobnicate"); strings.Contains(errOut, "did you mean") {
		t.Errorf("cnn frobnicate: %q suggests a command", errOut)
	}
	if out, errOut, st := cnn("help", "nope"); st != 2 || out != "" || !strings.Contains(errOut, `unknown command "nope"`) {
		t.Errorf("cnn help nope: status %d, %q %q", st, out, errOut)
	}
}

// TestJSONOutputs: flops, eval, predict and compare print JSON with --json that agrees with
// their text.
func TestJSONOutputs(t *testing.T) {
	out, _, st := cnn("flops", "lenet", "--json")
	var f flopsReport
	if err := json.Unmarshal([]byte(out), &f); err != nil || st != 0 {
		t.Fatalf("flops --json: %v\n%s", err, out)
	}
	if f.Total != 423344 || f.Unit != "paddle" || len(f.Layers) != 12 || f.Layers[0].Count != 122304 || f.Params != 61706 {
		t.Errorf("flops --json: %+v", f)
	}

	dir := trainedRun(t)
	weights := filepath.Join(dir, "best.safetensors")
	out, _, st = cnn("eval", "--weights", weights, "--json")
	var e evalReport
	if err := json.Unmarshal([]byte(out), &e); err != nil || st != 0 {
		t.Fatalf("eval --json: %v\n%s", err, out)
	}
	if e.Accuracy != shared.summary.TestAcc || e.Loss != shared.summary.TestLoss || e.Images != 200 || e.Split != "test" || e.Model != "lenet" {
		t.Errorf("eval --json %+v, summary %v/%v", e, shared.summary.TestAcc, shared.summary.TestLoss)
	}

	text, _, _ := cnn("predict", "--weights", weights, "--index", "1")
	out, _, st = cnn("predict", "--weights", weights, "--index", "1", "--json")
	var p predictReport
	if err := json.Unmarshal([]byte(out), &p); err != nil || st != 0 {
		t.Fatalf("predict --json: %v\n%s", err, out)
	}
	if p.PredClass == nil || p.TrueClass == nil || p.Index == nil || *p.Index != 1 || len(p.Probabilities) != 10 ||
		!strings.Contains(text, "predicted category is "+strconv.Itoa(*p.PredClass)) || !strings.Contains(text, "true category is "+strconv.Itoa(*p.TrueClass)) {
		t.Errorf("predict --json %s\ntext:\n%s", out, text)
	}

	other := copyRun(t)
	fig := filepath.Join(t.TempDir(), "c.png")
	out, errOut, st := cnn("compare", dir, other, "--names", "first, second", "--json", "-o", fig)
	var c struct {
		Runs   []compareRow `json:"runs"`
		Figure string       `json:"figure"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || st != 0 {
		t.Fatalf("compare --json: status %d %s: %v\n%s", st, errOut, err, out)
	}
	if len(c.Runs) != 2 || c.Runs[0].Label != "first" || c.Runs[1].Label != "second" || c.Runs[0].TestAcc != shared.summary.TestAcc || c.Runs[0].LR != "0.1" || c.Figure != fig {
		t.Errorf("compare --json: %+v", c)
	}
	if _, err := os.Stat(fig); err != nil {
		t.Errorf("compare --json wrote no figure: %v", err)
	}
	out, _, _ = cnn("compare", dir, other, "--names", "first,second", "-o", fig)
	if !regexp.MustCompile(`(?m)^\s+first\s+lenet`).MatchString(out) || !regexp.MustCompile(`(?m)^\s+second\s+lenet`).MatchString(out) {
		t.Errorf("compare --names: the table does not use the names:\n%s", out)
	}
	args := []string{"compare", dir, other, "--names", "only-one", "-o", fig}
	stdout, stderr, st := cnn(args...)
	oneLineError(t, args, stdout, stderr, st, `--names "only-one": 1 labels for 2 run folders`)
}

// TestSummaryBuild: summary.json records the binary's build.
func TestSummaryBuild(t *testing.T) {
	trainedRun(t)
	if shared.summary.Build != reproduce.ThisBuild() {
		t.Errorf("summary.json build %+v, want %+v", shared.summary.Build, reproduce.ThisBuild())
	}
}

// TestProgressBar: on a terminal the bar shows the epoch, the running loss of the last 20
// steps and, after an evaluation, the dev accuracy; it says when an evaluation runs; its
// first frame shows no rate; a notice (Ctrl-C's) starts on a line of its own; log lines
// come as without the bar.
func TestProgressBar(t *testing.T) {
	var w bytes.Buffer
	p := newProgressBar(&w, 32, 16, 2, true)
	var cfg trainer.Config
	p.attach(&cfg)
	cfg.OnStep(trainer.StepLoss{Step: 16, Epoch: 1, Loss: 2}, 32)
	first := w.String()
	if !strings.Contains(first, "epoch 1/2 | loss 2.0000") || strings.Contains(first, "steps/s") || !strings.Contains(first, "17/32") {
		t.Errorf("first frame %q: want the epoch, the loss, step 17 of 32 and no rate", first)
	}
	cfg.OnStep(trainer.StepLoss{Step: 17, Epoch: 1, Loss: 1}, 32)
	cfg.OnEvalStart(17)
	if s := w.String(); !strings.Contains(s[len(first):], "loss 1.5000 | evaluating on dev after step 17") {
		t.Errorf("during the evaluation the bar shows %q", s[len(first):])
	}
	cfg.OnEval(trainer.Eval{Step: 17, Epoch: 1, Loss: 1.2, Acc: 0.75}, true)
	if s := w.String(); !strings.Contains(s, "\n[Evaluate] step 17: dev accuracy 0.75000, dev loss 1.20000 (best so far, saved)\n") && !strings.Contains(s, "\r[Evaluate]") {
		t.Errorf("the evaluation line is not on a line of its own: %q", s)
	}
	cfg.OnStep(trainer.StepLoss{Step: 18, Epoch: 1, Loss: 3}, 32)
	if s := w.String(); !strings.Contains(s[strings.LastIndex(s, "[Evaluate]"):], "loss 2.0000 | dev acc 0.7500") {
		t.Errorf("after the evaluation the bar shows %q", s[strings.LastIndex(s, "[Evaluate]"):])
	}
	before := w.Len()
	p.notice(&w).Write([]byte("cnn train: interrupt: stopping after this step\n"))
	notice := w.String()[before:]
	i := strings.Index(notice, "cnn train: interrupt")
	if i <= 0 || !strings.ContainsAny(notice[i-1:i], "\r\n") {
		t.Errorf("the notice does not start a line: %q", notice)
	}

	var plain bytes.Buffer
	q := newProgressBar(&plain, 32, 0, 2, false)
	var c2 trainer.Config
	q.attach(&c2)
	c2.OnStep(trainer.StepLoss{Step: 0, Loss: 2.5}, 32)
	c2.OnLog(trainer.StepLoss{Step: 0, Loss: 2.5}, 32)
	c2.OnEvalStart(0)
	if plain.String() != "[Train] epoch: 0/2, step: 0/32, loss: 2.50000\n" {
		t.Errorf("without a terminal: %q", plain.String())
	}
}
