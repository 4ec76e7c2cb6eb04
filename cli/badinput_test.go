package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/nndl/cnn/tensorio"
	"hash/crc32"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/nndl/cnn/graph"
	"github.com/nndl/cnn/lenet"
	"github.com/nndl/cnn/tensorio/npy"
	"github.com/nndl/cnn/tensorio/safetensors"
	"github.com/nndl/cnn/trainer"
	"golang.org/x/image/tiff"
	"gorgonia.org/tensor"
)

var updateDoc = flag.Bool("update-doc", false, "rewrite the stderr column of docs/robustness.md from what the tool prints")

const robustnessDoc = "../docs/robustness.md"

// badRow is one row of the bad-input table of docs/robustness.md.
type badRow struct {
	num, what, command, stderr string
	line                       int // in the doc, 0-based
}

// args returns the row's command line without "cnn", $DIR replaced by dir.
func (r badRow) args(dir string) []string {
	f := strings.Fields(strings.ReplaceAll(r.command, "$DIR", dir))
	return f[1:]
}

// splitCells splits a Markdown table row at the pipes that are not escaped as \|.
func splitCells(line string) []string {
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// unquote strips the backticks of a code span.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '`' && s[len(s)-1] == '`' {
		return s[1 : len(s)-1]
	}
	return s
}

// readBadInputTable reads the rows between the table's markers, and the doc's lines.
func readBadInputTable(t *testing.T) ([]badRow, []string) {
	t.Helper()
	b, err := os.ReadFile(robustnessDoc)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var rows []badRow
	in := false
	for i, l := range lines {
		switch {
		case strings.Contains(l, "<!-- bad input table: begin -->"):
			in = true
		case strings.Contains(l, "<!-- bad input table: end -->"):
			in = false
		case in && strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| #"):
			c := splitCells(l)
			// "", #, what, command, stderr, ""
			if len(c) != 6 {
				t.Fatalf("%s:%d: %d cells, want 4: %q", robustnessDoc, i+1, len(c)-2, l)
			}
			rows = append(rows, badRow{num: c[1], what: c[2], command: unquote(c[3]), stderr: unquote(c[4]), line: i})
		}
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no rows between the table markers", robustnessDoc)
	}
	return rows, lines
}

// badFixtures writes every file and folder the table names into dir and returns their
// names. Names a row uses that are not here (no-such-folder, none.safetensors, run,
// digit.png, logits.npy, compare.png) must not exist, before or after.
func badFixtures(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	file := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(name, "/") {
			names = append(names, name)
		}
		return p
	}
	folder := func(name string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
		return p
	}

	file("empty", nil)
	file("text.safetensors", []byte("this is not a checkpoint\n"))
	file("text.png", []byte("this is not an image\n"))
	file("text.npy", []byte("this is not an array\n"))

	// Checkpoints.
	weights := func(name string, m graph.Model, meta map[string]string) []byte {
		t.Helper()
		r := trainer.New(m, graph.NewParams(tensor.Float32, 1), graph.Fast, nil)
		if _, err := r.Program(1, false); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := trainer.SaveWeights(p, r.Params, meta); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mf := &modelFlags{inChannels: 1, classes: 10, width: 64, stemBias: true}
	m, _, err := mf.model("lenet")
	if err != nil {
		t.Fatal(err)
	}
	good := weights("lenet.safetensors", m, mf.metadata("lenet", m))
	weights("seven.safetensors", lenet.New(1, 7), map[string]string{"model": "lenet"})
	file("truncated.safetensors", good[:len(good)*2/3])
	file("claims-10GB.safetensors", binary.LittleEndian.AppendUint64(nil, 10_000_000_000))
	sparse := file("sparse-10GB.safetensors", binary.LittleEndian.AppendUint64(nil, 10_000_000_000))
	if err := os.Truncate(sparse, 8+10_000_000_000); err != nil {
		t.Fatal(err)
	}
	header := func(h string, data int) []byte {
		for len(h)%8 != 0 {
			h += " "
		}
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
		return append(append(b, h...), make([]byte, data)...)
	}
	file("bad-json.safetensors", header(`{"conv1.weight":{"dtype":"F32",`, 0))
	file("claims-1TB-tensor.safetensors", header(`{"a":{"dtype":"F64","shape":[131072,1048576],"data_offsets":[0,1099511627776]}}`, 16))
	var many strings.Builder
	for i := range safetensors.MaxTensors + 1 {
		fmt.Fprintf(&many, `,"t%d":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}`, i)
	}
	file("100001-tensors.safetensors", header("{"+many.String()[1:]+"}", 0))
	st := func(name string, meta map[string]string, tensors map[string]safetensors.Tensor) {
		t.Helper()
		if tensors == nil {
			tensors = map[string]safetensors.Tensor{"x": tensorio.NewFloat32([]int{1}, []float32{1})}
		}
		if err := safetensors.WriteFile(filepath.Join(dir, name), &safetensors.File{Tensors: tensors, Metadata: meta}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	st("no-model.safetensors", nil, nil)
	st("googlenet.safetensors", map[string]string{"model": "googlenet"}, nil)
	st("classes-ten.safetensors", map[string]string{"model": "lenet", "classes": "ten"}, nil)
	st("classes-0.safetensors", map[string]string{"model": "lenet", "classes": "0"}, nil)
	st("input-bad.safetensors", map[string]string{"model": "lenet", "input": "32x32"}, nil)
	ints := lenet.New(1, 10)
	ir := trainer.New(ints, graph.NewParams(tensor.Float32, 1), graph.Fast, nil)
	if _, err := ir.Program(1, false); err != nil {
		t.Fatal(err)
	}
	intTensors := ir.Params.Tensors()
	w := intTensors["conv1.weight"]
	intTensors["conv1.weight"] = safetensors.Tensor{DType: safetensors.I32, Shape: w.Shape, I32: make([]int32, len(w.F32))}
	st("int32.safetensors", map[string]string{"model": "lenet"}, intTensors)
	file("flipped.safetensors", append(good[:len(good)-1:len(good)-1], good[len(good)-1]^0x10))
	st("mlp.safetensors", map[string]string{"model": "lenet"}, map[string]safetensors.Tensor{"fc1.weight": tensorio.NewFloat32([]int{10, 784}, make([]float32, 7840))})

	// MNIST folders.
	idx := func(magic uint32, dims []uint32, data []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, magic)
		for _, d := range dims {
			b = binary.BigEndian.AppendUint32(b, d)
		}
		return append(b, data...)
	}
	images3 := idx(0x803, []uint32{3, 28, 28}, make([]byte, 3*28*28))
	labels3 := idx(0x801, []uint32{3}, []byte{1, 2, 3})
	folder("mnist-empty")
	mnist := func(name string, images, labels []byte) {
		folder(name)
		file(name+"/train-images-idx3-ubyte", images)
		file(name+"/train-labels-idx1-ubyte", labels)
	}
	mnist("mnist-2e31", idx(0x803, []uint32{1 << 31, 28, 28}, make([]byte, 100)), labels3)
	mnist("mnist-magic", idx(0x802, []uint32{3, 28, 28}, make([]byte, 3*28*28)), labels3)
	mnist("mnist-short", images3[:100], labels3)
	mnist("mnist-swapped", images3, images3)
	mnist("mnist-label12", images3, idx(0x801, []uint32{3}, []byte{1, 12, 3}))
	folder("mnist-gzcut")
	gz := gzipped(images3)
	file("mnist-gzcut/train-images-idx3-ubyte.gz", gz[:len(gz)/2])
	file("mnist-gzcut/train-labels-idx1-ubyte", labels3)

	// Images.
	var pb bytes.Buffer
	if err := png.Encode(&pb, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	file("cut.png", pb.Bytes()[:pb.Len()/2])
	huge := bytes.Clone(pb.Bytes())
	binary.BigEndian.PutUint32(huge[16:], 100000) // IHDR width
	binary.BigEndian.PutUint32(huge[20:], 100000) // IHDR height
	binary.BigEndian.PutUint32(huge[29:], crc32.ChecksumIEEE(huge[12:29]))
	file("claims-100000x100000.png", huge)
	var tb bytes.Buffer
	if err := tiff.Encode(&tb, image.NewGray(image.Rect(0, 0, 8, 8)), &tiff.Options{Compression: tiff.Deflate}); err != nil {
		t.Fatal(err)
	}
	file("deflate.tiff", tb.Bytes())
	pb.Reset()
	if err := png.Encode(&pb, image.NewRGBA64(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	wide := bytes.Clone(pb.Bytes())
	binary.BigEndian.PutUint32(wide[16:], 1<<26) // IHDR width
	binary.BigEndian.PutUint32(wide[20:], 1)     // IHDR height
	binary.BigEndian.PutUint32(wide[29:], crc32.ChecksumIEEE(wide[12:29]))
	file("wide-16bit.png", wide)

	// Files that are not regular files: a FIFO, which blocks an open until a writer comes,
	// and a link to /dev/zero, which never ends.
	fifo := func(name string) {
		t.Helper()
		if err := syscall.Mkfifo(filepath.Join(dir, name), 0o644); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(name, "/") {
			names = append(names, name)
		}
	}
	fifo("fifo")

	// Tensors.
	arr := func(name string, shape []int) {
		t.Helper()
		n := 1
		for _, d := range shape {
			n *= d
		}
		if err := npy.WriteFloat32(filepath.Join(dir, name), shape, make([]float32, n)); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	arr("x28.npy", []int{2, 1, 28, 28})
	arr("x32.npy", []int{1, 1, 32, 32})
	if err := os.Symlink("x32.npy", filepath.Join(dir, "link.npy")); err != nil {
		t.Fatal(err)
	}
	names = append(names, "link.npy")
	npyFile := func(major byte, h string, data int) []byte {
		b := append([]byte("\x93NUMPY"), major, 0)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(h)))
		return append(append(b, h...), make([]byte, data)...)
	}
	file("claims-8TB.npy", npyFile(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }      \n", 8))
	file("claims-4GB-header.npy", binary.LittleEndian.AppendUint32(append([]byte("\x93NUMPY"), 2, 0), math.MaxUint32))
	fortran, err := os.ReadFile("../tensorio/npy/testdata/fortran.npy")
	if err != nil {
		t.Fatal(err)
	}
	file("fortran.npy", fortran)

	// Run folders for compare.
	h := &trainer.History{Train: []trainer.StepLoss{{Step: 0, Loss: 2.3}, {Step: 1, Loss: 2.1}}, Dev: []trainer.Eval{{Step: 1, Loss: 2.0, Acc: 0.3}}}
	var csv bytes.Buffer
	if err := h.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	summary, err := json.Marshal(trainSummary{Model: "lenet", Config: map[string]any{"lr": 0.1}, BestStep: 1, BestDevAcc: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	run := func(name, metrics, sum string) {
		folder(name)
		file(name+"/metrics.csv", []byte(metrics))
		file(name+"/summary.json", []byte(sum))
	}
	const head = "split,step,epoch,loss,accuracy\n"
	run("run-ok", csv.String(), string(summary))
	run("run-garbage", "PK\x03\x04 this is a zip file\n", string(summary))
	run("run-badnumber", head+"train,0,0,2.3,\ntrain,1,0,two,\n", string(summary))
	run("run-badsummary", csv.String(), "{")
	run("run-short", head+"train,0,0\n", string(summary))
	folder("run-fifo")
	fifo("run-fifo/metrics.csv")
	file("run-fifo/summary.json", summary)
	folder("run-fifosummary")
	file("run-fifosummary/metrics.csv", csv.Bytes())
	fifo("run-fifosummary/summary.json")
	folder("run-devzero")
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "run-devzero", "metrics.csv")); err != nil {
		t.Fatal(err)
	}
	file("run-devzero/summary.json", summary)
	folder("run-hugecsv")
	if err := os.Truncate(file("run-hugecsv/metrics.csv", []byte(head)), 1<<30); err != nil { // sparse
		t.Fatal(err)
	}
	file("run-hugecsv/summary.json", summary)
	return names
}

func gzipped(b []byte) []byte {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	w.Close()
	return z.Bytes()
}

// badOutcome checks one row's result: status 2, one line on stderr that is the documented
// one, no panic or stack trace, and nothing on stdout unless the row says "(stdout: ...)".
func badOutcome(t *testing.T, r badRow, dir, stdout, stderr string, status int) (got string) {
	t.Helper()
	got = strings.ReplaceAll(strings.TrimSuffix(stderr, "\n"), dir, "$DIR")
	got = strings.ReplaceAll(got, strings.Join(modelNames(), ", "), "$MODELS")
	if *updateDoc {
		return got
	}
	switch {
	case status != 2:
		t.Errorf("row %s (%s): status %d, want 2; stderr %q", r.num, r.command, status, stderr)
	case stdout != "" && !strings.Contains(r.what, "(stdout: "):
		t.Errorf("row %s (%s): printed %q on stdout, want nothing", r.num, r.command, stdout)
	case !strings.HasSuffix(stderr, "\n") || strings.Contains(got, "\n"):
		t.Errorf("row %s (%s): stderr %q is not one line", r.num, r.command, stderr)
	case strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "internal error"):
		t.Errorf("row %s (%s): a crash: %q", r.num, r.command, stderr)
	case got != r.stderr:
		t.Errorf("row %s (%s):\n got stderr %q\nthe doc says %q", r.num, r.command, got, r.stderr)
	}
	return got
}

// checkFixtures fails unless every fixture is named by some row, and checks that the
// fixture folder holds the fixtures and nothing else (no failing command wrote a file).
func checkFixtures(t *testing.T, rows []badRow, dir string, names []string) {
	t.Helper()
	used := map[string]bool{}
	re := regexp.MustCompile(`\$DIR/([^/\s]+)`)
	for _, r := range rows {
		for _, m := range re.FindAllStringSubmatch(r.command, -1) {
			used[m[1]] = true
		}
	}
	for _, n := range names {
		if !used[n] {
			t.Errorf("fixture %s is not used by any row of %s", n, robustnessDoc)
		}
	}
	got := dirNames(t, dir)
	want := slices.Clone(names)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the fixture folder holds %q, want only the fixtures %q", got, want)
	}
}

// TestBadInputTable runs every row of the table in docs/robustness.md in process.
func TestBadInputTable(t *testing.T) {
	rows, lines := readBadInputTable(t)
	dir := t.TempDir()
	names := badFixtures(t, dir)
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.command] {
			t.Errorf("row %s repeats the command of an earlier row: %s", r.num, r.command)
		}
		seen[r.command] = true
		stdout, stderr, st := cnn(r.args(dir)...)
		got := badOutcome(t, r, dir, stdout, stderr, st)
		if *updateDoc {
			if strings.Contains(got, "`") {
				t.Fatalf("row %s: stderr %q has a backtick", r.num, got)
			}
			c := splitCells(lines[r.line])
			lines[r.line] = "| " + strings.Join([]string{c[1], c[2], c[3], "`" + strings.ReplaceAll(got, "|", `\|`) + "`"}, " | ") + " |"
		}
	}
	checkFixtures(t, rows, dir, names)
	if *updateDoc {
		if err := os.WriteFile(robustnessDoc, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", robustnessDoc)
	}
	t.Logf("%d bad inputs, each one line on stderr with status 2", len(rows))
}

// buildCNN builds the tool into a temporary folder and returns its path; it skips the
// test under -short.
func buildCNN(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "cnn")
	args := []string{"build", "-o", bin}
	// The build tags of this test binary (-tags dnnl under make test), so that the
	// binary runs the same kernels.
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-tags" && s.Value != "" {
				args = append(args, "-tags", s.Value)
			}
		}
	}
	cmd := exec.Command("go", append(args, "../cmd/cnn")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBadInputBinary runs every row of the table as a subprocess of the built binary: the
// exit status, stdout and stderr a user sees.
func TestBadInputBinary(t *testing.T) {
	bin := buildCNN(t)
	rows, _ := readBadInputTable(t)
	dir := t.TempDir()
	names := badFixtures(t, dir)
	work := t.TempDir() // the working folder: nothing may be written there either
	for _, r := range rows {
		cmd := exec.Command(bin, r.args(dir)...)
		cmd.Dir = work
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		status := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			status = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("row %s: %v", r.num, err)
		}
		badOutcome(t, r, dir, stdout.String(), stderr.String(), status)
	}
	checkFixtures(t, rows, dir, names)
	if left := dirNames(t, work); len(left) > 0 {
		t.Errorf("the working folder holds %q after the failing commands", left)
	}
}
