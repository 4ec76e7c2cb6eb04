package data

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// FuzzReadCIFAR checks that no bytes make the CIFAR-10 reader panic, through both ways in:
// ReadCIFAR on a stream, told to expect n records (fuzzed, so that the stream may hold
// fewer or more than it is said to), and LoadCIFAR on a file, which sizes it first.
// Errors are one line naming the input; what is accepted has labels 0-9 and the pixels
// normalised from the bytes; nothing allocates in proportion to a claim.
func FuzzReadCIFAR(f *testing.F) {
	rec := cifarRecord(3, func(c, i, j int) byte { return byte(c*80 + i*3 + j) })
	two := append(bytes.Clone(rec), cifarRecord(9, func(c, i, j int) byte { return 255 })...)
	for _, s := range []struct {
		b []byte
		n uint16
	}{
		{rec, 1}, {two, 2}, {two, 1}, {two, 3}, {rec[:1000], 1}, {append([]byte{10}, rec[1:]...), 1},
		{append(bytes.Clone(rec), rec[:3074-CIFARRecordBytes]...), 1}, {nil, 0}, {nil, 1}, {[]byte{0}, 1},
	} {
		f.Add(s.b, s.n)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, in []byte, claim uint16) {
		n := int(claim % 8) // records the stream is said to hold
		x := make([]float32, n*CIFARImageBytes)
		y := make([]int, n)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := ReadCIFAR(bytes.NewReader(in), "fuzz", n, x, y)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Fatalf("ReadCIFAR allocated %d bytes", grew)
		}
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "fuzz: ") || strings.Contains(msg, "\n") {
				t.Fatalf("error is not one line naming the input: %q", msg)
			}
		} else {
			if len(in) < n*CIFARRecordBytes {
				t.Fatalf("read %d records from %d bytes", n, len(in))
			}
			checkCIFAR(t, in, x, y)
		}

		path := filepath.Join(dir, "data_batch_1.bin")
		if err := os.WriteFile(path, in, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := LoadCIFAR(dir, []string{"data_batch_1.bin"}, -1)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, path+": ") || strings.Contains(msg, "\n") {
				t.Fatalf("LoadCIFAR: error is not one line naming the file: %q", msg)
			}
			return
		}
		if len(in) == 0 || len(in)%CIFARRecordBytes != 0 || d.N() != len(in)/CIFARRecordBytes || d.C != 3 || d.H != 32 || d.W != 32 {
			t.Fatalf("LoadCIFAR accepted %d bytes as %d images of %dx%dx%d", len(in), d.N(), d.C, d.H, d.W)
		}
		checkCIFAR(t, in, d.X, d.Y)
	})
}

// checkCIFAR compares decoded records with the bytes they came from.
func checkCIFAR(t *testing.T, in []byte, x []float32, y []int) {
	t.Helper()
	for i, label := range y {
		r := in[i*CIFARRecordBytes : (i+1)*CIFARRecordBytes]
		if label < 0 || label > 9 || label != int(r[0]) {
			t.Fatalf("record %d: label %d from byte %d", i, label, r[0])
		}
		for j, p := range r[1:] {
			v := x[i*CIFARImageBytes+j]
			if v != CIFARNormalize(p, j/(CIFARSide*CIFARSide)) || math.IsNaN(float64(v)) {
				t.Fatalf("record %d value %d: %v from byte %d", i, j, v, p)
			}
		}
	}
}
