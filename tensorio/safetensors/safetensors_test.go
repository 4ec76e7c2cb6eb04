package safetensors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/nndl/cnn/tensorio"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// sameTensor reports whether a and b are identical, comparing floats bit
// for bit (so NaN equals NaN and -0 differs from +0).
func sameTensor(a, b Tensor) bool {
	if a.DType != b.DType || !reflect.DeepEqual(append([]int{}, a.Shape...), append([]int{}, b.Shape...)) {
		return false
	}
	switch a.DType {
	case F32:
		if len(a.F32) != len(b.F32) {
			return false
		}
		for i := range a.F32 {
			if math.Float32bits(a.F32[i]) != math.Float32bits(b.F32[i]) {
				return false
			}
		}
		return true
	case F64:
		if len(a.F64) != len(b.F64) {
			return false
		}
		for i := range a.F64 {
			if math.Float64bits(a.F64[i]) != math.Float64bits(b.F64[i]) {
				return false
			}
		}
		return true
	case I64:
		return slicesEqual(a.I64, b.I64)
	case I32:
		return slicesEqual(a.I32, b.I32)
	case U8:
		return slicesEqual(a.U8, b.U8)
	}
	return false
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameFile(t *testing.T, got, want *File) {
	t.Helper()
	if !reflect.DeepEqual(got.Names, want.Names) {
		t.Errorf("Names = %q, want %q", got.Names, want.Names)
	}
	if len(got.Tensors) != len(want.Tensors) {
		t.Errorf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	for name, w := range want.Tensors {
		if g, ok := got.Tensors[name]; !ok || !sameTensor(g, w) {
			t.Errorf("tensor %q = %+v, want %+v", name, g, w)
		}
	}
	if len(got.Metadata) != len(want.Metadata) || (len(want.Metadata) > 0 && !reflect.DeepEqual(got.Metadata, want.Metadata)) {
		t.Errorf("Metadata = %q, want %q", got.Metadata, want.Metadata)
	}
}

// fixtureWant is what testdata/gen_fixture.py stores (through the reference
// Python writer) in testdata/fixture.safetensors.
func fixtureWant() *File {
	f32 := func(bits uint32) float32 { return math.Float32frombits(bits) }
	return &File{
		Tensors: map[string]Tensor{
			"caf\u00e9":    tensorio.NewFloat32([]int{3, 1, 1}, []float32{1, 2, 3}),
			"conv1.nan":    tensorio.NewFloat32([]int{1}, []float32{float32(math.NaN())}),
			"conv1.weight": tensorio.NewFloat32([]int{2, 3}, []float32{1.5, f32(0x80000000), f32(1), math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1))}),
			"empty":        tensorio.NewFloat32([]int{0, 3}, []float32{}),
			"f64":          tensorio.NewFloat64([]int{3}, []float64{math.Pi, -2.5, 1e-300}),
			"i32":          {DType: I32, Shape: []int{2, 2}, I32: []int32{1, -2, math.MaxInt32, math.MinInt32}},
			"labels":       tensorio.NewInt64([]int{4}, []int64{-1, 1 << 62, math.MinInt64, 7}),
			// numpy.ascontiguousarray makes the writer's 0-d array 1-d.
			"scalar": tensorio.NewFloat32([]int{1}, []float32{0.25}),
			"u8":     {DType: U8, Shape: []int{5}, U8: []uint8{0, 1, 127, 128, 255}},
		},
		Names:    []string{"caf\u00e9", "conv1.nan", "conv1.weight", "empty", "f64", "i32", "labels", "scalar", "u8"},
		Metadata: map[string]string{"model": "fixture", "note": "caf\u00e9 \"quoted\"\ttab"},
	}
}

func TestReadFixture(t *testing.T) {
	f, err := ReadFile("testdata/fixture.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	want := fixtureWant()
	sameFile(t, f, want)
	// NaN is read as a NaN with the writer's exact bits.
	if b := math.Float32bits(f.Tensors["conv1.nan"].F32[0]); b != math.Float32bits(float32(math.NaN())) && b&0x7f800000 != 0x7f800000 {
		t.Errorf("conv1.nan bits %#x, want a NaN", b)
	}
}

// Writing what was read reproduces the reference writer's bytes exactly.
func TestWriteMatchesReferenceWriter(t *testing.T) {
	raw, err := os.ReadFile("testdata/fixture.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Read(bytes.NewReader(raw), int64(len(raw)), "fixture")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), raw) {
		t.Errorf("rewritten file differs from the reference writer's:\ngot  %q\nwant %q", buf.Bytes(), raw)
	}
}

// The golden files of the project are read and rewritten to the same data.
// They live outside the module, so the test is skipped where they are
// absent.
func TestGoldenFiles(t *testing.T) {
	paths, _ := filepath.Glob("../../../shared/golden/*.safetensors")
	if len(paths) == 0 {
		t.Skip("no ../../../shared/golden/*.safetensors here")
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Write(&buf, f); err != nil {
			t.Fatal(err)
		}
		// The reference writer keeps metadata in insertion order and ours
		// sorts it, so compare the data bytes and what the header says.
		n := binary.LittleEndian.Uint64(raw)
		out := buf.Bytes()
		if m := binary.LittleEndian.Uint64(out); m != n || !bytes.Equal(out[8+m:], raw[8+n:]) {
			t.Errorf("%s: rewritten data section differs", p)
		}
		back, err := Read(bytes.NewReader(out), int64(len(out)), "rewritten")
		if err != nil {
			t.Fatal(err)
		}
		sameFile(t, back, f)
		if filepath.Base(p) == "lenet.safetensors" {
			w, err := f.Tensor("conv1.weight")
			if err != nil || w.DType != F32 || !reflect.DeepEqual(w.Shape, []int{6, 1, 5, 5}) || len(w.F32) != 150 {
				t.Errorf("lenet conv1.weight = %v %v %d values (%v)", w.DType, w.Shape, len(w.F32), err)
			}
			if l := f.Tensors["labels"]; l.DType != I64 || len(l.I64) != 4 {
				t.Errorf("lenet labels = %v %v", l.DType, l.Shape)
			}
			if f.Metadata["model"] != "lenet" {
				t.Errorf("lenet metadata = %q", f.Metadata)
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		file *File
	}{
		{"no tensors", &File{Tensors: map[string]Tensor{}}},
		{"metadata only", &File{Tensors: map[string]Tensor{}, Metadata: map[string]string{"k": "v"}}},
		{"0-d", &File{Tensors: map[string]Tensor{"loss": tensorio.NewFloat32(nil, []float32{2.5})}}},
		{"all dtypes", &File{Tensors: map[string]Tensor{
			"a": tensorio.NewFloat32([]int{2, 2}, []float32{1, -1, 0.5, float32(math.Inf(-1))}),
			"b": tensorio.NewFloat64([]int{1, 1, 2}, []float64{math.SmallestNonzeroFloat64, math.MaxFloat64}),
			"c": tensorio.NewInt64([]int{3}, []int64{math.MinInt64, 0, math.MaxInt64}),
			"d": {DType: I32, Shape: []int{1}, I32: []int32{-7}},
			"e": {DType: U8, Shape: []int{2, 0}, U8: []uint8{}},
			"f": {DType: U8, Shape: []int{3}, U8: []uint8{9, 8, 7}},
			"g": tensorio.NewInt64([]int{0}, []int64{}),
		}, Metadata: map[string]string{"z": "last", "a": "first", "uni": "\u2603 \U0001F600 \x01\x7f"}}},
		{"odd names", &File{Tensors: map[string]Tensor{
			"":          tensorio.NewFloat32([]int{0}, []float32{}),
			"quote\"\\": tensorio.NewFloat32([]int{1}, []float32{1}),
			"line\nnew": tensorio.NewFloat32([]int{1}, []float32{2}),
		}}},
		{"large", &File{Tensors: map[string]Tensor{"big": tensorio.NewFloat32([]int{300, 100}, make([]float32, 30000))}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.file); err != nil {
				t.Fatal(err)
			}
			n := binary.LittleEndian.Uint64(buf.Bytes())
			if n%8 != 0 {
				t.Errorf("header length %d is not a multiple of 8", n)
			}
			got, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			want := *tt.file
			want.Names = want.sortedNames()
			sameFile(t, got, &want)
		})
	}
}

// header builds a file from a header (padded to a multiple of 8 as writers
// do) and data bytes.
func header(h string, data int) []byte {
	for len(h)%8 != 0 {
		h += " "
	}
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	b = append(b, h...)
	return append(b, make([]byte, data)...)
}

// zeroTail is a ReaderAt of a given size whose bytes past prefix are zero,
// to present huge files without allocating them.
type zeroTail struct {
	prefix []byte
	size   int64
}

func (z zeroTail) ReadAt(p []byte, off int64) (int, error) {
	for i := range p {
		o := off + int64(i)
		switch {
		case o >= z.size:
			return i, os.ErrClosed
		case o < int64(len(z.prefix)):
			p[i] = z.prefix[o]
		default:
			p[i] = 0
		}
	}
	return len(p), nil
}

// malformedCase is a broken file and a fragment of the error it must give.
type malformedCase struct {
	name string
	file []byte
	want string
}

// malformedCases builds the broken files, some from the valid fixture.
func malformedCases(t testing.TB) []malformedCase {
	fixture, err := os.ReadFile("testdata/fixture.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	const one = `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`
	return []malformedCase{
		{"empty file", nil, "file has 0 bytes, too short for the 8-byte header length"},
		{"short file", []byte{1, 2, 3}, "file has 3 bytes, too short"},
		{"truncated data", fixture[:len(fixture)-1], `tensor "u8": data_offsets [116 121] run past the 120 data bytes`},
		{"truncated header", fixture[:100], "header claims 632 bytes, file has 100"},
		{"lying header length", binary.LittleEndian.AppendUint64(make([]byte, 0, 1234), 10_000_000_000)[:8:8], "header claims 10000000000 bytes, file has 8"},
		{"header length past 2^63", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "header claims 18446744073709551615 bytes, file has 8"},
		{"bad JSON", header(`{"a":{"dtype":"F32",`, 0), "header is not valid JSON: unexpected end of JSON input"},
		{"bad JSON char", header(`{"a":{"dtype":'F32'}}`, 0), `header is not valid JSON: invalid character '\'' looking for beginning of value at header byte 15`},
		{"trailing JSON", header(`{} {}`, 0), "header is not valid JSON"},
		{"not an object", header(`[1,2]`, 0), "header is an array, want a JSON object"},
		{"invalid UTF-8", header("{\"\xff\":{}}", 0), "header is not valid UTF-8"},
		{"record not an object", header(`{"a":5}`, 0), `tensor "a": record is a number, want a JSON object`},
		{"duplicate tensor", header(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, 0), `header has key "a" twice`},
		{"duplicate field", header(`{"a":{"dtype":"U8","dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, 0), `tensor "a": record has key "dtype" twice`},
		{"missing shape", header(`{"a":{"dtype":"U8","data_offsets":[0,0]}}`, 0), `tensor "a": missing "shape"`},
		{"unknown field", header(`{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1],"foo":1}}`, 1), `tensor "a": unknown field "foo"`},
		{"case-folded field", header(`{"a":{"DTYPE":"U8","shape":[],"data_offsets":[0,1]}}`, 1), `tensor "a": unknown field "DTYPE"`},
		{"bad dtype", header(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, 4), `tensor "a": unsupported dtype "F16" (want F32, F64, I64, I32 or U8)`},
		{"dtype not a string", header(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "a": dtype is a number, want a string`},
		{"shape not an array", header(`{"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}`, 4), `tensor "a": shape is a string, want an array of integers`},
		{"negative dimension", header(`{"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,4]}}`, 4), `tensor "a": shape element 1 is negative (-1)`},
		{"fractional dimension", header(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, 4), `tensor "a": shape element 0 is not an integer (1.5)`},
		{"exponent dimension", header(`{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}`, 4), `shape element 0 is not an integer (1e0)`},
		{"nested dimension", header(`{"a":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}}`, 4), `shape element 0 is an array, want an integer`},
		{"huge dimension", header(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, 4), `shape element 0 is too large (99999999999999999999)`},
		{"shape overflow", header(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}`, 0), `tensor "a": shape [4294967296 4294967296 0] has too many elements`},
		{"bytes overflow", header(`{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}}`, 0), `has too many elements`},
		{"three offsets", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 8), `tensor "a": data_offsets has more than 2 numbers`},
		{"one offset", header(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0]}}`, 0), `tensor "a": data_offsets [0]: want 2 numbers, got 1`},
		{"offsets reversed", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, 4), `tensor "a": data_offsets [4 0] end before they begin`},
		{"offsets out of range", header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4), `tensor "a": data_offsets [0 8] run past the 4 data bytes`},
		{"offset too large", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}}`, 4), `tensor "a": data_offsets element 1 is too large (18446744073709551616)`},
		{"wrong size for shape", header(`{"conv1.weight":{"dtype":"F32","shape":[6,1,5,5],"data_offsets":[0,596]}}`, 596), `tensor "conv1.weight": data_offsets [0 596] give 596 bytes, shape [6 1 5 5] F32 needs 600`},
		{"overlap", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}`, 6), `tensors "a" [0 4] and "b" [2 6] overlap`},
		{"same offsets", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), `tensors "a" [0 4] and "b" [0 4] overlap`},
		{"hole", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), `data bytes [0 4) belong to no tensor (next tensor "a" starts at 4)`},
		{"trailing bytes", header(one+`}`, 5), `data bytes [4 5) after the last tensor belong to no tensor`},
		{"metadata not an object", header(`{"__metadata__":[1]}`, 0), `__metadata__ is an array, want a JSON object`},
		{"metadata key twice", header(`{"__metadata__":{"n":"1","n":"2"}}`, 0), `__metadata__ has key "n" twice`},
		{"metadata twice", header(`{"__metadata__":{},"__metadata__":{}}`, 0), `header has key "__metadata__" twice`},
		{"long dtype is clipped", header(`{"a":{"dtype":"`+strings.Repeat("F", 1000)+`","shape":[1],"data_offsets":[0,4]}}`, 4), `unsupported dtype "FFFFFFFFFFFFFFFFFFFFFFFFFFFFF..." (want`},
		{"metadata not a string", header(`{"__metadata__":{"n":1}}`, 0), `__metadata__ "n" is a number, want a string`},
		{"long name is clipped", header(`{"`+strings.Repeat("n", 100_000)+`":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`, 2), `tensor "nnnnnnnnnnnnnnnnnnnnnnnnnnnnn...": unsupported dtype "F16"`},
		{"long names overlapping are clipped", header(`{"`+strings.Repeat("a", 100_000)+`":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"`+strings.Repeat("b", 100_000)+`":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`, 3),
			`tensors "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa..." [0 2] and "bbbbbbbbbbbbbbbbbbbbbbbbbbbbb..." [1 3] overlap`},
		{"newlines in the header", header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,\n1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,-1],\"data_offsets\":[0,4]}}", 4), `shape element 37 is negative (-1)`},
	}
}

// emptyTensors is a file whose header lists n empty tensors.
func emptyTensors(n int) []byte {
	var h strings.Builder
	h.WriteString("{")
	for i := range n {
		if i > 0 {
			h.WriteString(",")
		}
		fmt.Fprintf(&h, `"t%d":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}`, i)
	}
	h.WriteString("}")
	return header(h.String(), 0)
}

// TestReadTensorCount: a header of a million empty tensors is refused with a short line,
// its parse stopping at MaxTensors (before the bound it took 17.5 s and 526 MB, and a
// loader listed every name in an error line of 8.9 MB); MaxTensors of them are read.
func TestReadTensorCount(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{1_000_000, "x.safetensors: header has more than 100000 tensors"},
		{MaxTensors + 1, "x.safetensors: header has more than 100000 tensors"},
		{MaxTensors, ""},
	}
	for _, tt := range tests {
		file := emptyTensors(tt.n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f, err := Read(bytes.NewReader(file), int64(len(file)), "x.safetensors")
		runtime.ReadMemStats(&after)
		grew := after.TotalAlloc - before.TotalAlloc
		switch {
		case tt.want == "" && (err != nil || len(f.Tensors) != tt.n):
			t.Errorf("%d tensors: error %v", tt.n, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("%d tensors: error %v, want %q", tt.n, err, tt.want)
		}
		// The header, read once, and at most MaxTensors records of 1 KB each (records,
		// the map of names seen, the tensors and their names).
		if limit := uint64(len(file)) + 1000*MaxTensors; grew > limit {
			t.Errorf("%d tensors (a %d-byte file): allocated %d bytes, want at most %d", tt.n, len(file), grew, limit)
		}
	}
}

func TestReadMalformed(t *testing.T) {
	tests := malformedCases(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Read(bytes.NewReader(tt.file), int64(len(tt.file)), "bad.safetensors")
			if err == nil {
				t.Fatalf("read %d tensors, want error %q", len(f.Tensors), tt.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "bad.safetensors: ") || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q\nwant one line starting with the file name and containing %q", msg, tt.want)
			}
		})
	}
}

// A header length over the limit is refused before it is allocated, even
// when the file is large enough to hold it.
func TestReadHeaderLimit(t *testing.T) {
	z := zeroTail{prefix: binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1), size: 1 << 40}
	_, err := Read(z, z.size, "huge.safetensors")
	want := "huge.safetensors: header claims 100000001 bytes, more than the limit of 100000000"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

// Claimed sizes never drive allocations: a small file that declares a
// terabyte tensor allocates no more than a few kilobytes before failing.
func TestReadDoesNotTrustSizes(t *testing.T) {
	files := [][]byte{
		header(`{"a":{"dtype":"F64","shape":[131072,1048576],"data_offsets":[0,1099511627776]}}`, 16),
		header(`{"a":{"dtype":"F64","shape":[131072,1048576],"data_offsets":[0,16]}}`, 16),
		binary.LittleEndian.AppendUint64(nil, 1<<40),
	}
	for i, file := range files {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Read(bytes.NewReader(file), int64(len(file)), "x")
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("file %d: no error", i)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
			t.Errorf("file %d: Read allocated %d bytes for a %d-byte file", i, grew, len(file))
		}
	}
}

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name string
		file *File
		want string
	}{
		{"short data", &File{Tensors: map[string]Tensor{"w": tensorio.NewFloat32([]int{2, 3}, make([]float32, 5))}}, `tensor "w": shape [2 3] needs 6 elements, F32 data has 5`},
		{"data in the wrong slice", &File{Tensors: map[string]Tensor{"w": {DType: F64, Shape: []int{1}, F32: []float32{1}}}}, `tensor "w": shape [1] needs 1 elements, F64 data has 0`},
		{"bad dtype", &File{Tensors: map[string]Tensor{"w": {DType: "BF16", Shape: []int{1}}}}, `tensor "w": unsupported dtype "BF16"`},
		{"negative shape", &File{Tensors: map[string]Tensor{"w": tensorio.NewFloat32([]int{-1}, nil)}}, `tensor "w": shape [-1] is negative or has too many elements`},
		{"reserved name", &File{Tensors: map[string]Tensor{"__metadata__": tensorio.NewFloat32([]int{0}, nil)}}, `tensor name "__metadata__" is reserved`},
		{"invalid UTF-8 name", &File{Tensors: map[string]Tensor{"\xff": tensorio.NewFloat32([]int{0}, nil)}}, `tensor name "\xff" is not valid UTF-8`},
		{"invalid UTF-8 metadata", &File{Metadata: map[string]string{"k": "\xff"}}, `__metadata__ "k" is not valid UTF-8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

func TestConversions(t *testing.T) {
	tests := []struct {
		t   Tensor
		f32 []float32
		f64 []float64
	}{
		{tensorio.NewFloat32([]int{2}, []float32{1.5, -2}), []float32{1.5, -2}, []float64{1.5, -2}},
		{tensorio.NewFloat64([]int{2}, []float64{0.1, 3}), []float32{0.1, 3}, []float64{0.1, 3}},
		{tensorio.NewInt64([]int{2}, []int64{-3, 1 << 40}), []float32{-3, 1 << 40}, []float64{-3, 1 << 40}},
		{Tensor{DType: I32, Shape: []int{1}, I32: []int32{-9}}, []float32{-9}, []float64{-9}},
		{Tensor{DType: U8, Shape: []int{2}, U8: []uint8{0, 255}}, []float32{0, 255}, []float64{0, 255}},
		{Tensor{DType: "BF16"}, nil, nil},
	}
	for _, tt := range tests {
		if got := tt.t.Float32(); !reflect.DeepEqual(got, tt.f32) {
			t.Errorf("%s Float32() = %v, want %v", tt.t.DType, got, tt.f32)
		}
		if got := tt.t.Float64(); !reflect.DeepEqual(got, tt.f64) {
			t.Errorf("%s Float64() = %v, want %v", tt.t.DType, got, tt.f64)
		}
	}
	lens := map[int][]int{1: nil, 6: {2, 3}, 0: {4, 0, 1 << 62}, -1: {-1}}
	for want, shape := range lens {
		if got := (Tensor{Shape: shape}).Len(); got != want {
			t.Errorf("Len of shape %v = %d, want %d", shape, got, want)
		}
	}
	if got := (Tensor{Shape: []int{1 << 62, 1 << 62}}).Len(); got != -1 {
		t.Errorf("Len of overflowing shape = %d, want -1", got)
	}
}

func TestFileTensor(t *testing.T) {
	f := fixtureWant()
	if _, err := f.Tensor("labels"); err != nil {
		t.Error(err)
	}
	if _, err := f.Tensor("nope"); err == nil || err.Error() != `no tensor "nope"` {
		t.Errorf("error %v", err)
	}
}
