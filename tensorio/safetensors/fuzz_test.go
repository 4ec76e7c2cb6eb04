package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"github.com/nndl/cnn/tensorio"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// FuzzRead checks that Read never panics, that its errors are one line,
// that it never allocates out of proportion to the input, that what it
// accepts is consistent (data lengths match shapes and fit in the file),
// that encoding/json reads the same names, dtypes, shapes and metadata
// from the header, and that what it accepts survives a Write and Read
// unchanged. Inputs
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
	if err := Write(&buf, &File{Tensors: map[string]Tensor{"s": tensorio.NewFloat32(nil, []float32{1})}, Metadata: map[string]string{"a": "b"}}); err != nil {
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
			if tn.Len() != tn.DataLen() {
				t.Fatalf("tensor %q: shape %v but %d values", name, tn.Shape, tn.DataLen())
			}
			total += tn.DataLen() * DTypeSize(tn.DType)
		}
		if total > len(data) {
			t.Fatalf("tensors hold %d bytes, input has %d", total, len(data))
		}
		checkWithEncodingJSON(t, data, file)
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

// checkWithEncodingJSON decodes the header of an accepted file with
// encoding/json and compares it with what Read made of it.
func checkWithEncodingJSON(t *testing.T, data []byte, file *File) {
	t.Helper()
	n := binary.LittleEndian.Uint64(data)
	var header map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &header); err != nil {
		t.Fatalf("encoding/json rejects an accepted header: %v", err)
	}
	meta := map[string]string{}
	if raw, ok := header["__metadata__"]; ok {
		if err := json.Unmarshal(raw, &meta); err != nil {
			t.Fatalf("encoding/json rejects accepted metadata: %v", err)
		}
		if meta == nil {
			meta = map[string]string{}
		}
		delete(header, "__metadata__")
	}
	if !reflect.DeepEqual(meta, file.Metadata) {
		t.Fatalf("metadata %q, encoding/json reads %q", file.Metadata, meta)
	}
	if len(header) != len(file.Names) {
		t.Fatalf("%d tensors, encoding/json reads %d", len(file.Names), len(header))
	}
	for name, raw := range header {
		tn, ok := file.Tensors[name]
		if !ok {
			t.Fatalf("encoding/json reads tensor %q, Read does not", name)
		}
		var rec map[string]json.RawMessage
		var dtype string
		var shape []int
		if json.Unmarshal(raw, &rec) != nil || json.Unmarshal(rec["dtype"], &dtype) != nil || json.Unmarshal(rec["shape"], &shape) != nil {
			t.Fatalf("encoding/json cannot decode accepted record %s", raw)
		}
		if dtype != tn.DType || !slices.Equal(shape, tn.Shape) {
			t.Fatalf("tensor %q is %s %v, encoding/json reads %s %v", name, tn.DType, tn.Shape, dtype, shape)
		}
	}
}
