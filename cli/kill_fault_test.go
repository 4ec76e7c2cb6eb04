package cli

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"github.com/nndl/cnn/trainer"
	"gorgonia.org/tensor"
)

// TestKilledTrainingKeepsCheckpoint kills training runs with SIGKILL after seeded random
// delays, all into the same folder (each with --force, which removes the earlier run's
// files), and checks after each kill that nothing is lost: every file under its final name
// is complete (best.safetensors loads into a LeNet, metrics.csv and summary.json parse,
// curves.png decodes, curves.svg is whole), and the checkpoint is the last one the killed
// run reported saved, or a later one of the same run. Temporary files of interrupted writes
// may remain under their own names until the next run into the folder removes them.
func TestKilledTrainingKeepsCheckpoint(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	bin := buildCNN(t)
	dir := filepath.Join(t.TempDir(), "run")
	rng := rand.New(rand.NewPCG(2024, 7))
	saved := regexp.MustCompile(`\[Evaluate\] step (\d+): .*\(best so far, saved\)`)
	const runs = 8
	var killed, finished, withBest, tempLeft int
	start := time.Now()
	// Run 0 is not killed: it times a whole run, and the kills of the others fall anywhere
	// in that time, from the start (compiling) to the end (the test and the curves).
	var whole time.Duration
	var temps []string // temporary files the previous run left
	for i := range runs + 1 {
		seed := 100 + i
		delay := time.Duration(1<<62 - 1)
		if i > 0 {
			delay = time.Duration(float64(whole) * (0.05 + 1.0*rng.Float64()))
		}
		cmd := exec.Command(bin, "train", "lenet", "--epochs", "3", "--eval-steps", "2", "--log-steps", "0",
			"--seed", strconv.Itoa(seed), "--out", dir, "--force")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		began := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d ended before the kill: %v\n%s", i, err, stderr.String())
			}
			if i == 0 {
				whole = time.Since(began)
			} else {
				finished++
			}
		case <-time.After(delay):
			cmd.Process.Kill() // it may have just ended: the wait status tells
			err := <-done
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				killed++
			} else if err != nil {
				t.Fatalf("run %d: %v\n%s", i, err, stderr.String())
			} else {
				finished++
			}
		}
		if strings.Contains(stderr.String(), "panic") || strings.Contains(stderr.String(), "goroutine") {
			t.Errorf("run %d: stderr %q", i, stderr.String())
		}

		// The last save this run reported, if any.
		lastSaved := -1
		for _, m := range saved.FindAllStringSubmatch(stdout.String(), -1) {
			lastSaved, _ = strconv.Atoi(m[1])
		}
		state := checkRunFolder(t, dir)
		tempLeft = len(state.temps)
		if strings.HasPrefix(stdout.String(), "lenet (") { // the run got past preparing its folder
			for _, name := range temps {
				if slices.Contains(state.temps, name) {
					t.Errorf("run %d: the stale temporary file %s of the run before is still there", i, name)
				}
			}
		}
		temps = state.temps
		if state.best && i > 0 {
			withBest++
		}
		switch {
		case lastSaved >= 0 && !state.best:
			t.Errorf("run %d (killed after %v) reported a save at step %d, and best.safetensors is gone", i, delay, lastSaved)
		case lastSaved >= 0 && (state.seed != seed || state.step < lastSaved):
			t.Errorf("run %d (seed %d, killed after %v) reported a save at step %d; best.safetensors is seed %d step %d", i, seed, delay, lastSaved, state.seed, state.step)
		}
		if i == 0 {
			t.Logf("run 0: seed %d, not killed: %v for a whole run; best.safetensors: %v (seed %d, step %d)", seed, whole.Round(time.Millisecond), state.best, state.seed, state.step)
			continue
		}
		t.Logf("run %d: seed %d, killed after %v: reported last save at step %d; best.safetensors: %v (seed %d, step %d); %d temporary files",
			i, seed, delay.Round(time.Millisecond), lastSaved, state.best, state.seed, state.step, len(state.temps))
	}
	t.Logf("%d runs after the whole one, in %v: %d killed, %d finished before the kill; a loadable best.safetensors after %d; %d temporary files left",
		runs, time.Since(start).Round(time.Millisecond), killed, finished, withBest, tempLeft)
	if killed == 0 {
		t.Error("no run was killed: the delays are longer than a whole run")
	}
}

// runState is what checkRunFolder found.
type runState struct {
	best       bool
	seed, step int      // of best.safetensors' metadata
	temps      []string // temporary files of interrupted writes
}

// checkRunFolder fails unless every file of a run folder under its final name is
// complete. A missing folder is an empty one.
func checkRunFolder(t *testing.T, dir string) runState {
	t.Helper()
	var s runState
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return s
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		name := e.Name()
		path := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp") {
			s.temps = append(s.temps, name)
			continue
		}
		if name == lockName {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		switch name {
		case "best.safetensors":
			r := trainer.New(lenet.New(1, 10), graph.NewParams(tensor.Float32, 0), graph.Fast, nil)
			if _, err := r.Program(1, false); err != nil {
				t.Fatal(err)
			}
			meta, _, err := trainer.LoadWeights(path, r.Params, true)
			if err != nil {
				t.Errorf("best.safetensors (%d bytes) does not load: %v", len(b), err)
				continue
			}
			s.best = true
			s.seed, _ = strconv.Atoi(meta["seed"])
			s.step, _ = strconv.Atoi(meta["step"])
		case checkpointName: // a finished run's last state
			r := trainer.New(lenet.New(1, 10), graph.NewParams(tensor.Float32, 0), graph.Fast, &trainer.SGD{LR: 0.1})
			if _, err := r.Program(64, true); err != nil {
				t.Fatal(err)
			}
			if _, err := r.LoadCheckpoint(path); err != nil {
				t.Errorf("%s (%d bytes) does not load: %v", name, len(b), err)
			}
		case "metrics.csv":
			if _, err := trainer.ReadCSV(path); err != nil {
				t.Errorf("metrics.csv: %v", err)
			}
		case "summary.json":
			var sum trainSummary
			if err := json.Unmarshal(b, &sum); err != nil {
				t.Errorf("summary.json: %v", err)
			}
		case "curves.png":
			if _, err := png.Decode(bytes.NewReader(b)); err != nil {
				t.Errorf("curves.png: %v", err)
			}
		case "curves.svg":
			if !bytes.HasSuffix(bytes.TrimSpace(b), []byte("</svg>")) {
				t.Errorf("curves.svg (%d bytes) is not a whole SVG", len(b))
			}
		default:
			t.Errorf("unexpected file %s in the run folder", name)
		}
	}
	return s
}
