package npy

import (
	"bytes"
	"github.com/nndl/cnn/tensorio"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// FuzzRead checks that Read never panics, that its errors are one line,
// that it never allocates out of proportion to the input, that what it
// accepts is consistent (data length matches the shape and fits in the
// file), and that what it accepts survives a Write and Read unchanged.
// Inputs that once failed are kept under testdata/fuzz/FuzzRead.
func FuzzRead(f *testing.F) {
	paths, err := filepath.Glob("testdata/*.npy")
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed files: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, c := range malformedCases(f) {
		f.Add(c.file)
	}
	f.Add(npyFile(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1L,), }", 8))

	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		a, err := Read(bytes.NewReader(data), int64(len(data)), "fuzz.npy")
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64*uint64(len(data))+1<<20 {
			t.Fatalf("Read allocated %d bytes for a %d-byte input", grew, len(data))
		}
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "fuzz.npy: ") || strings.Contains(msg, "\n") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			return
		}
		if a.Len() != a.DataLen() {
			t.Fatalf("shape %v but %d values", a.Shape, a.DataLen())
		}
		if a.DataLen()*tensorio.Size(a.DType) > len(data) {
			t.Fatalf("array holds %d bytes, input has %d", a.DataLen()*tensorio.Size(a.DType), len(data))
		}
		var out bytes.Buffer
		if err := Write(&out, a); err != nil {
			t.Fatalf("cannot write what was read: %v", err)
		}
		back, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()), "rewritten")
		if err != nil {
			t.Fatalf("cannot read what was written: %v", err)
		}
		if !sameArray(back, a) {
			t.Fatalf("round trip changed %+v into %+v", a, back)
		}
	})
}
