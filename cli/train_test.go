package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nndl/cnn/tensorio/safetensors"
)

// The run that the train, eval and predict tests share: LeNet for one epoch of the
// chapter's subset (16 steps), evaluated on dev every 5 steps.
var shared struct {
	once           sync.Once
	dir            string
	stdout, stderr string
	status         int
	summary        trainSummary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// trainedRun trains the shared run on first use and returns its folder.
func trainedRun(t *testing.T) string {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "cnn-train-test-")
		if err != nil {
			t.Fatal(err)
		}
		shared.dir = filepath.Join(dir, "run")
		shared.stdout, shared.stderr, shared.status = cnn("train", "lenet", "--epochs", "1", "--eval-steps", "5", "--out", shared.dir)
		if b, err := os.ReadFile(filepath.Join(shared.dir, "summary.json")); err == nil {
			json.Unmarshal(b, &shared.summary)
		}
	})
	if shared.status != 0 {
		t.Fatalf("cnn train: status %d, stderr %q\nstdout:\n%s", shared.status, shared.stderr, shared.stdout)
	}
	return shared.dir
}

// noTempFiles fails if dir holds a temporary file of an atomic write.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(dir, ".*.tmp*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("temporary files left in %s: %q", dir, left)
	}
}

func TestTrainWritesRun(t *testing.T) {
	dir := trainedRun(t)
	if shared.stderr != "" {
		t.Errorf("stderr %q, want nothing", shared.stderr)
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range names {
		got = append(got, e.Name())
	}
	if want := []string{lockName, "best.safetensors", checkpointName, "curves.png", "curves.svg", "metrics.csv", "summary.json"}; !slices.Equal(got, want) {
		t.Errorf("the run folder holds %q, want %q", got, want)
	}
	noTempFiles(t, dir)

	// metrics.csv: the header, 16 training steps, evaluations at steps 5, 10 and the last, 15.
	f, err := os.Open(filepath.Join(dir, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], []string{"split", "step", "epoch", "loss", "accuracy"}) {
		t.Fatalf("metrics.csv header %q", rows[:min(1, len(rows))])
	}
	var trainSteps, devSteps []int
	bestAcc, bestStep := -1.0, -1
	for _, r := range rows[1:] {
		step, err := strconv.Atoi(r[1])
		if err != nil {
			t.Fatalf("metrics.csv row %q: %v", r, err)
		}
		loss, err := strconv.ParseFloat(r[3], 64)
		if err != nil || !(loss > 0) {
			t.Errorf("metrics.csv row %q: loss %v (%v)", r, loss, err)
		}
		switch r[0] {
		case "train":
			trainSteps = append(trainSteps, step)
			if r[2] != "0" || r[4] != "" {
				t.Errorf("metrics.csv train row %q: want epoch 0 and no accuracy", r)
			}
		case "dev":
			devSteps = append(devSteps, step)
			acc, err := strconv.ParseFloat(r[4], 64)
			if err != nil || acc < 0 || acc > 1 {
				t.Errorf("metrics.csv dev row %q: accuracy %v (%v)", r, acc, err)
			}
			if acc > bestAcc {
				bestAcc, bestStep = acc, step
			}
		default:
			t.Errorf("metrics.csv row %q: unknown split", r)
		}
	}
	if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}; !slices.Equal(trainSteps, want) {
		t.Errorf("metrics.csv train steps %v, want %v", trainSteps, want)
	}
	if want := []int{5, 10, 15}; !slices.Equal(devSteps, want) {
		t.Errorf("metrics.csv dev steps %v, want %v", devSteps, want)
	}

	// The curves.
	pf, err := os.Open(filepath.Join(dir, "curves.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if img, err := png.Decode(pf); err != nil || img.Bounds().Dx() < 100 || img.Bounds().Dy() < 100 {
		t.Errorf("curves.png: %v", err)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "curves.svg"))
	if err != nil || !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("dev accuracy")) {
		t.Errorf("curves.svg: %v, %d bytes, not an SVG of the curves", err, len(svg))
	}

	// summary.json agrees with the metrics and the checkpoint.
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s trainSummary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	if !(s.TestAcc >= 0 && s.TestAcc <= 1) || !(s.TestLoss > 0) || s.TestSize != 200 || s.Model != "lenet" || s.Steps != 16 {
		t.Errorf("summary.json: %+v", s)
	}
	if s.BestStep != bestStep || s.BestDevAcc != bestAcc {
		t.Errorf("summary.json: best %v at step %d, metrics.csv %v at step %d", s.BestDevAcc, s.BestStep, bestAcc, bestStep)
	}
	if s.Weights != filepath.Join(dir, "best.safetensors") || s.Config["epochs"] != 1.0 || s.Config["seed"] != 100.0 {
		t.Errorf("summary.json: weights %q, config %v", s.Weights, s.Config)
	}
	ck, err := safetensors.ReadFile(filepath.Join(dir, "best.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Metadata["model"] != "lenet" || ck.Metadata["step"] != strconv.Itoa(s.BestStep) || len(ck.Tensors) != 10 {
		t.Errorf("best.safetensors: metadata %v, %d tensors; want lenet at step %d, 10 tensors", ck.Metadata, len(ck.Tensors), s.BestStep)
	}
	for _, want := range []string{
		"1000 train / 200 dev / 200 test images, 1 epochs of 16 steps, SGD(lr=0.1)",
		fmt.Sprintf("[Evaluate] step %d: dev accuracy %.5f", s.BestStep, s.BestDevAcc),
		fmt.Sprintf("[Test] accuracy/loss: %.4f/%.4f", s.TestAcc, s.TestLoss),
	} {
		if !strings.Contains(shared.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, shared.stdout)
		}
	}
}

// TestEvalReproducesTest: eval on the best checkpoint gives the test accuracy and loss
// that train reported.
func TestEvalReproducesTest(t *testing.T) {
	dir := trainedRun(t)
	out, errOut, st := cnn("eval", "--weights", filepath.Join(dir, "best.safetensors"))
	if st != 0 || errOut != "" {
		t.Fatalf("status %d, stderr %q", st, errOut)
	}
	want := fmt.Sprintf("lenet on test (200 images): accuracy/loss: %.4f/%.4f\n", shared.summary.TestAcc, shared.summary.TestLoss)
	if out != want {
		t.Errorf("eval printed %q, want %q", out, want)
	}
	out, _, st = cnn("eval", "lenet", "--weights", filepath.Join(dir, "best.safetensors"), "--split", "dev", "--batch", "64")
	if want := fmt.Sprintf("lenet on dev (200 images): accuracy/loss: %.4f/", shared.summary.BestDevAcc); st != 0 || !strings.HasPrefix(out, want) {
		t.Errorf("eval --split dev printed %q (status %d), want the best dev accuracy: %q", out, st, want)
	}
	noTempFiles(t, dir)
}

// writeIDX writes an idx file of n items of the given per-item dims, holding only have
// data bytes (pass -1 for all of them), gzip-compressed when the name ends in .gz.
func writeIDX(t *testing.T, path string, magic uint32, n int, dims []int, have int) {
	t.Helper()
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	binary.Write(&b, binary.BigEndian, uint32(n))
	size := n
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
		size *= d
	}
	if have < 0 {
		have = size
	}
	for i := 0; i < have; i++ {
		if magic == 0x801 {
			b.WriteByte(byte(i % 10))
		} else {
			b.WriteByte(byte(i))
		}
	}
	out := b.Bytes()
	if strings.HasSuffix(path, ".gz") {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(out)
		w.Close()
		out = z.Bytes()
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// badDataDirs makes MNIST folders that cannot be read, by what is wrong with them, and
// the file each error must name.
func badDataDirs(t *testing.T) map[string][2]string {
	t.Helper()
	root := t.TempDir()
	mk := func(name string) string {
		d := filepath.Join(root, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	dirs := map[string][2]string{}

	empty := mk("empty")
	dirs["no idx files"] = [2]string{empty, "train-images-idx3-ubyte"}

	noTest := mk("no-test")
	writeIDX(t, filepath.Join(noTest, "train-images-idx3-ubyte"), 0x803, 3, []int{2, 2}, -1)
	writeIDX(t, filepath.Join(noTest, "train-labels-idx1-ubyte"), 0x801, 3, nil, -1)
	dirs["missing test images"] = [2]string{noTest, "t10k-images-idx3-ubyte"}

	trunc := mk("truncated")
	writeIDX(t, filepath.Join(trunc, "train-images-idx3-ubyte"), 0x803, 60000, []int{28, 28}, 1000)
	writeIDX(t, filepath.Join(trunc, "train-labels-idx1-ubyte"), 0x801, 60000, nil, -1)
	dirs["truncated images"] = [2]string{trunc, filepath.Join(trunc, "train-images-idx3-ubyte")}

	truncGz := mk("truncated-gz")
	writeIDX(t, filepath.Join(truncGz, "train-images-idx3-ubyte.gz"), 0x803, 60000, []int{28, 28}, -1)
	writeIDX(t, filepath.Join(truncGz, "train-labels-idx1-ubyte.gz"), 0x801, 60000, nil, -1)
	gz := filepath.Join(truncGz, "train-images-idx3-ubyte.gz")
	b, err := os.ReadFile(gz)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gz, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	dirs["truncated gzip images"] = [2]string{truncGz, gz}

	shortHeader := mk("short-header")
	if err := os.WriteFile(filepath.Join(shortHeader, "train-images-idx3-ubyte"), []byte{0, 0, 8, 3, 0}, 0o644); err != nil {
		t.Fatal(err)
	}
	writeIDX(t, filepath.Join(shortHeader, "train-labels-idx1-ubyte"), 0x801, 3, nil, -1)
	dirs["truncated header"] = [2]string{shortHeader, filepath.Join(shortHeader, "train-images-idx3-ubyte")}
	return dirs
}

// oneLineError fails unless a command failed with status 2 and one line on stderr that
// contains every one of want, and printed no stack trace.
func oneLineError(t *testing.T, args []string, stdout, stderr string, status int, want ...string) {
	t.Helper()
	line := strings.TrimSuffix(stderr, "\n")
	ok := status == 2 && line != "" && !strings.Contains(line, "\n") && strings.HasSuffix(stderr, "\n") &&
		!strings.Contains(stderr, "goroutine") && !strings.Contains(stderr, "panic") && !strings.Contains(stderr, "internal error")
	for _, w := range want {
		ok = ok && strings.Contains(line, w)
	}
	if !ok {
		t.Errorf("cnn %s: status %d, stderr %q; want status 2 and one line containing %q\nstdout: %s", strings.Join(args, " "), status, stderr, want, stdout)
	}
}

// snapshotDir returns every file of dir by name.
func snapshotDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

// copyRun copies the shared run into a fresh folder that a test may write into.
func copyRun(t *testing.T) string {
	t.Helper()
	src := trainedRun(t)
	dst := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range snapshotDir(t, src) {
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestTrainBadInput: a bad flag or unreadable data is one line on stderr naming the flag
// or the file, with status 2, and a second run into the folder of an earlier one leaves
// every file of it byte for byte as it was.
func TestTrainBadInput(t *testing.T) {
	out := copyRun(t)
	before := snapshotDir(t, out)
	type tc struct {
		args []string
		want []string
	}
	cases := []tc{
		{[]string{"--batch", "0"}, []string{"--batch 0"}},
		{[]string{"--batch", "-3"}, []string{"--batch -3"}},
		{[]string{"--epochs", "0"}, []string{"--epochs 0"}},
		{[]string{"--lr", "-1"}, []string{"--lr -1"}},
		{[]string{"--lr", "0"}, []string{"--lr 0"}},
		{[]string{"--lr", "NaN"}, []string{"--lr NaN"}},
		{[]string{"--eval-steps", "-1"}, []string{"--eval-steps -1"}},
		{[]string{"--train-size", "10"}, []string{"--train-size", "--data"}},
	}
	for what, d := range badDataDirs(t) {
		cases = append(cases, tc{[]string{"--data", d[0]}, []string{d[1]}})
		t.Logf("%s: %s", what, d[0])
	}
	cases = append(cases, tc{[]string{"--data", filepath.Join(out, "no-such-folder")}, []string{"no-such-folder"}})
	for _, c := range cases {
		args := append([]string{"train", "lenet", "--epochs", "1", "--out", out}, c.args...)
		stdout, stderr, st := cnn(args...)
		oneLineError(t, args, stdout, stderr, st, c.want...)
		t.Logf("%s", strings.TrimSpace(stderr))
	}
	after := snapshotDir(t, out)
	if len(after) != len(before) {
		t.Errorf("the run folder held %d files, now %d", len(before), len(after))
	}
	for name, b := range before {
		if !bytes.Equal(after[name], b) {
			t.Errorf("%s changed", name)
		}
	}
	noTempFiles(t, out)
}

// TestTrainDivergesKeepsCheckpoint: a run that diverges before its first evaluation stops
// with one line naming the step, writes no best checkpoint and leaves no temporary file.
func TestTrainDivergesKeepsCheckpoint(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"train", "lenet", "--epochs", "1", "--eval-steps", "5", "--lr", "1e6", "--out", out}
	stdout, stderr, st := cnn(args...)
	oneLineError(t, args, stdout, stderr, st, "step ", "NaN")
	t.Logf("%s", strings.TrimSpace(stderr))
	if _, err := os.Stat(filepath.Join(out, "best.safetensors")); err == nil {
		t.Errorf("a diverged run wrote best.safetensors")
	}
	noTempFiles(t, out)
}
