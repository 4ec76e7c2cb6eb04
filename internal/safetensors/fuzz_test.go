package safetensors

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"testing"
)

// FuzzRead checks that Read never panics, that its errors are one line,
// that it never allocates out of proportion to the input, that what it
// accepts is consistent (data lengths match shapes and fit in the file),
// and that what it accepts survives a Write and Read unchanged. Inputs
// that once failed are kept under testdata/fuzz/FuzzRead.
func FuzzRead(f *testing.F) {
	fixture, err := os.ReadFile("testdata/fixture.safetensors")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fixture)
	for _, c := range malformedCases(f) {
		f.Add(c.file)
	}
	var buf bytes.Buffer
	if err := Write(&buf, &File{Tensors: map[string]Tensor{"s": NewFloat32(nil, []float32{1})}, Metadata: map[string]string{"a": "b"}}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())

	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		file, err := Read(bytes.NewReader(data), int64(len(data)), "fuzz.safetensors")
		runtime.ReadMemStats(&after)
		// JSON decoding costs a bounded multiple of the header; nothing
		// may scale with sizes the file only claims.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64*uint64(len(data))+1<<20 {
			t.Fatalf("Read allocated %d bytes for a %d-byte input", grew, len(data))
		}
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "fuzz.safetensors: ") || strings.Contains(msg, "\n") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			return
		}
		total := 0
		for _, name := range file.Names {
			tn, ok := file.Tensors[name]
			if !ok {
				t.Fatalf("name %q has no tensor", name)
			}
			if tn.Len() != tn.dataLen() {
				t.Fatalf("tensor %q: shape %v but %d values", name, tn.Shape, tn.dataLen())
			}
			total += tn.dataLen() * DTypeSize(tn.DType)
		}
		if total > len(data) {
			t.Fatalf("tensors hold %d bytes, input has %d", total, len(data))
		}
		var out bytes.Buffer
		if err := Write(&out, file); err != nil {
			t.Fatalf("cannot write what was read: %v", err)
		}
		back, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()), "rewritten")
		if err != nil {
			t.Fatalf("cannot read what was written: %v", err)
		}
		sameFile(t, back, file)
	})
}
