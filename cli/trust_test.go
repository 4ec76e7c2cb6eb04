package cli

import (
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nndl/cnn/tensorio/npy"
)

// sums returns the SHA-256 of every regular file in dir, by name.
func sums(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][32]byte{}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = sha256.Sum256(b)
	}
	return out
}

// sameSums fails unless dir's files have the checksums of before, and no file came or went.
func sameSums(t *testing.T, what, dir string, before map[string][32]byte) {
	t.Helper()
	after := sums(t, dir)
	for name, s := range before {
		if a, ok := after[name]; !ok || a != s {
			t.Errorf("%s: %s changed or is gone", what, name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("%s: wrote %s", what, name)
		}
	}
}

// TestOutputsNeverReplaceInputs: an output of predict or edge that is one of the command's
// inputs, under another spelling of its path, through a hard link, or from another working
// folder, is refused with one line naming the flags and the file, and every file keeps its
// checksum.
func TestOutputsNeverReplaceInputs(t *testing.T) {
	run := copyRun(t)
	weights := filepath.Join(run, "best.safetensors")
	dir := t.TempDir()
	x := filepath.Join(dir, "x.npy")
	if err := npy.WriteFloat32(x, []int{1, 1, 32, 32}, make([]float32, 1024)); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(dir, "hard.npy")
	if err := os.Link(x, hard); err != nil {
		t.Fatal(err)
	}
	pic := filepath.Join(dir, "pic.png")
	if _, _, st := cnn("predict", "--weights", weights, "--index", "0", "--out", pic); st != 0 {
		t.Fatal("predict --out pic.png failed")
	}
	t.Chdir(dir)
	beforeDir, beforeRun := sums(t, dir), sums(t, run)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"predict", "--weights", weights, "--input", x, "--out", x}, "--out " + x + " is also the --input file"},
		{[]string{"predict", "--weights", weights, "--input", "x.npy", "--out", "./sub/../x.npy"}, "--out ./sub/../x.npy is also the --input file"},
		{[]string{"predict", "--weights", weights, "--input", x, "--out", "hard.npy"}, "--out hard.npy is also the --input file"},
		{[]string{"predict", "--weights", weights, "--index", "3", "--out", weights}, "--out " + weights + " is also the --weights file"},
		{[]string{"predict", "--weights", weights, "--image", "pic.png", "--out", pic}, "--out " + pic + " is also the --image file"},
		{[]string{"edge", "--image", pic, "-o", "pic.png"}, "-o pic.png is also the --image file"},
	} {
		stdout, stderr, st := cnn(c.args...)
		oneLineError(t, c.args, stdout, stderr, st, c.want, "refusing to replace an input of the command")
		if stdout != "" {
			t.Errorf("cnn %s printed %q", strings.Join(c.args, " "), stdout)
		}
	}
	sameSums(t, "refused outputs", dir, beforeDir)
	sameSums(t, "refused outputs", run, beforeRun)
}

// TestPredictWritesOnlyWhatIsAsked: predict --index and --image without --out write no
// file at all, and a PNG that cannot be written is an error with no result printed.
func TestPredictWritesOnlyWhatIsAsked(t *testing.T) {
	weights := filepath.Join(trainedRun(t), "best.safetensors")
	work := t.TempDir()
	t.Chdir(work)
	stdout, stderr, st := cnn("predict", "--weights", weights, "--index", "1")
	if st != 0 || !strings.Contains(stdout, "predicted category") || strings.Contains(stdout, "wrote") {
		t.Errorf("predict --index 1: status %d, stdout %q, stderr %q", st, stdout, stderr)
	}
	if names := dirNames(t, work); len(names) > 0 {
		t.Errorf("predict without --out wrote %q", names)
	}
	args := []string{"predict", "--weights", weights, "--index", "1", "--out", filepath.Join(work, "none", "d.png")}
	stdout, stderr, st = cnn(args...)
	oneLineError(t, args, stdout, stderr, st, "none/d.png", "no such file or directory")
	if stdout != "" {
		t.Errorf("a failed write printed %q", stdout)
	}
}

// TestTrainRunFolderBelongsToOneRun: a run into a folder holding an earlier run is refused
// and changes nothing; --force removes the earlier run's files and starts afresh; a resumption
// whose folder holds another run's best weights is refused; a flipped byte in the checkpoint
// stops the resumption with an error naming it.
func TestTrainRunFolderBelongsToOneRun(t *testing.T) {
	out := copyRun(t)
	before := sums(t, out)
	args := []string{"train", "lenet", "--epochs", "1", "--seed", "7", "--out", out}
	stdout, stderr, st := cnn(args...)
	oneLineError(t, args, stdout, stderr, st, "--out "+out+" holds an earlier run", "--resume "+out, "--force")
	sameSums(t, "a refused run", out, before)

	// --force: afresh, with a checkpoint to resume later.
	args = append(args, "--force", "--eval-steps", "5", "--checkpoint-every", "5")
	if stdout, stderr, st := cnn(args...); st != 0 {
		t.Fatalf("--force: status %d: %s\n%s", st, stderr, stdout)
	}
	var s trainSummary
	b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(b, &s); err != nil || s.Config["seed"] != 7.0 || s.ResumedAt != 0 {
		t.Errorf("summary after --force: %+v (%v)", s, err)
	}
	ck := filepath.Join(out, checkpointName)
	if _, err := os.Stat(ck); err != nil {
		t.Fatal(err)
	}
	forced := sums(t, out)

	// Another run's best weights in the folder: the resumption refuses to mix them.
	resume := []string{"train", "lenet", "--epochs", "1", "--seed", "7", "--eval-steps", "5", "--resume", out}
	mixed := t.TempDir()
	if err := os.WriteFile(filepath.Join(mixed, checkpointName), mustRead(t, ck), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mixed, "best.safetensors"), mustRead(t, filepath.Join(trainedRun(t), "best.safetensors")), 0o644); err != nil {
		t.Fatal(err)
	}
	mixedArgs := append(slices.Clone(resume[:len(resume)-1]), mixed)
	stdout, stderr, st = cnn(mixedArgs...)
	oneLineError(t, mixedArgs, stdout, stderr, st, "best.safetensors is not the best weights this run saved", "mixes two runs")

	// A flipped byte in the checkpoint.
	ckb := mustRead(t, ck)
	if err := os.WriteFile(ck, append(ckb[:len(ckb)-1:len(ckb)-1], ckb[len(ckb)-1]^1), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, st = cnn(resume...)
	oneLineError(t, resume, stdout, stderr, st, ck+": damaged")
	if err := os.WriteFile(ck, ckb, 0o644); err != nil {
		t.Fatal(err)
	}
	sameSums(t, "refused resumptions", out, forced)

	// The folder's own run resumes.
	if stdout, stderr, st := cnn(resume...); st != 0 || !strings.Contains(stdout, "[Resume]") {
		t.Errorf("resume: status %d: %s\n%s", st, stderr, stdout)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTrainLockedFolder: while a process holds the run folder's lock, a second run into it
// fails at once with one line saying so, and writes nothing.
func TestTrainLockedFolder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	held, err := lockFolder(out)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	args := []string{"train", "lenet", "--epochs", "1", "--out", out}
	began := time.Now()
	stdout, stderr, st := cnn(args...)
	oneLineError(t, args, stdout, stderr, st, "--out "+out+": another cnn train is writing into this folder")
	if d := time.Since(began); d > 30*time.Second {
		t.Errorf("the locked run took %v to fail", d)
	}
	if names := dirNames(t, out); !slices.Equal(names, []string{lockName}) {
		t.Errorf("the folder holds %q", names)
	}
}

// TestTrainRemovesStaleTemps: the temporary files that a killed run left in its folder
// are removed by the next run into it; look-alikes that are not the run's are kept.
func TestTrainRemovesStaleTemps(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	for _, name := range []string{".checkpoint.safetensors.tmp123", ".best.safetensors.tmp9", ".metrics.csv.tmp42", ".notes.txt.tmp1"} {
		p := filepath.Join(out, name)
		if err := os.WriteFile(p, make([]byte, 1000), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, old, old)
	}
	if stdout, stderr, st := cnn("train", "lenet", "--epochs", "1", "--eval-steps", "0", "--out", out); st != 0 {
		t.Fatalf("status %d: %s\n%s", st, stderr, stdout)
	}
	want := []string{lockName, ".notes.txt.tmp1", checkpointName, "curves.png", "curves.svg", "metrics.csv"}
	if names := dirNames(t, out); !slices.Equal(names, want) {
		t.Errorf("the folder holds %q, want %q", names, want)
	}
}

// TestTrainUnwritableOut: an --out that takes no new files is an error naming the flag and
// the folder before training starts.
func TestTrainUnwritableOut(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(out, 0o555); err != nil {
		t.Fatal(err)
	}
	if f, err := os.CreateTemp(out, "probe"); err == nil { // root ignores the mode
		f.Close()
		os.Remove(f.Name())
		out = "/sys"
		if f, err := os.CreateTemp(out, "probe"); err == nil {
			f.Close()
			os.Remove(f.Name())
			t.Skip("no unwritable folder to try: running as root, and /sys takes files")
		}
	}
	args := []string{"train", "lenet", "--epochs", "1", "--out", out}
	stdout, stderr, st := cnn(args...)
	oneLineError(t, args, stdout, stderr, st, "--out "+out+": cannot write into the folder")
	if strings.Contains(stdout, "[Train]") {
		t.Errorf("training started: %s", stdout)
	}
}

// TestResumeCommand: the command that resumes a run names its folder alone, quoted for the
// shell: the checkpoint holds the run's configuration.
func TestResumeCommand(t *testing.T) {
	for dir, want := range map[string]string{"r": "cnn train --resume r", "my run": "cnn train --resume 'my run'", "it's": `cnn train --resume 'it'\''s'`} {
		if got := resumeCommand(dir); got != want {
			t.Errorf("resumeCommand(%q) = %q, want %q", dir, got, want)
		}
	}
}
