package npy

import (
	"bytes"
	"encoding/binary"
	"github.com/nndl/cnn/tensorio"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// sameArray reports whether a and b are identical, comparing floats bit
// for bit (so NaN equals NaN and -0 differs from +0).
func sameArray(a, b *Array) bool {
	if a.DType != b.DType || len(a.Shape) != len(b.Shape) || a.DataLen() != b.DataLen() {
		return false
	}
	for i := range a.Shape {
		if a.Shape[i] != b.Shape[i] {
			return false
		}
	}
	for i := range a.DataLen() {
		switch a.DType {
		case tensorio.F32:
			if math.Float32bits(a.F32[i]) != math.Float32bits(b.F32[i]) {
				return false
			}
		case tensorio.F64:
			if math.Float64bits(a.F64[i]) != math.Float64bits(b.F64[i]) {
				return false
			}
		case tensorio.I64:
			if a.I64[i] != b.I64[i] {
				return false
			}
		case tensorio.I32:
			if a.I32[i] != b.I32[i] {
				return false
			}
		case tensorio.U8:
			if a.U8[i] != b.U8[i] {
				return false
			}
		}
	}
	return true
}

// TestReadFixtures reads files written by NumPy (testdata/gen_fixtures.py)
// and checks every element, then checks that writing them back gives
// NumPy's bytes exactly (version 1.0 files) or at least the same data.
func TestReadFixtures(t *testing.T) {
	f32 := math.Float32frombits
	tests := []struct {
		file string
		want *Array
	}{
		{"f4.npy", NewFloat32([]int{2, 3}, []float32{1.5, f32(0x80000000), f32(1), math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1))})},
		{"nan.npy", NewFloat32([]int{1}, []float32{f32(0x7fc00000)})},
		{"f8.npy", NewFloat64([]int{3}, []float64{math.Pi, -2.5, 1e-300})},
		{"i8.npy", NewInt64([]int{2, 2}, []int64{-1, 1 << 62, math.MinInt64, 7})},
		{"i4.npy", &Array{DType: tensorio.I32, Shape: []int{4}, I32: []int32{1, -2, math.MaxInt32, math.MinInt32}}},
		{"u1.npy", &Array{DType: tensorio.U8, Shape: []int{5}, U8: []uint8{0, 1, 127, 128, 255}}},
		{"scalar.npy", NewFloat32([]int{}, []float32{0.25})},
		{"empty.npy", NewFloat32([]int{0, 3}, []float32{})},
		{"rank5.npy", NewFloat64([]int{1, 2, 1, 3, 2}, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})},
		{"v2.npy", NewFloat32([]int{2, 2}, []float32{1, 2, 3, 4})},
		{"v3.npy", NewFloat32([]int{2, 2}, []float32{1, 2, 3, 4})},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			got, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !sameArray(got, tt.want) {
				t.Fatalf("read %+v, want %+v", got, tt.want)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Write(&buf, got); err != nil {
				t.Fatal(err)
			}
			if raw[6] == 1 {
				if !bytes.Equal(buf.Bytes(), raw) {
					t.Errorf("rewritten file differs from NumPy's:\ngot  %q\nwant %q", buf.Bytes(), raw)
				}
			} else if dataLen := len(tt.want.Float64()) * tensorio.Size(tt.want.DType); !bytes.Equal(buf.Bytes()[buf.Len()-dataLen:], raw[len(raw)-dataLen:]) {
				t.Errorf("rewritten data differs")
			}
		})
	}
}

func TestReadFloat(t *testing.T) {
	shape, f32, err := ReadFloat32("testdata/i8.npy")
	if err != nil || !reflect.DeepEqual(shape, []int{2, 2}) || !reflect.DeepEqual(f32, []float32{-1, 1 << 62, -(1 << 63), 7}) {
		t.Errorf("ReadFloat32 = %v %v %v", shape, f32, err)
	}
	shape, f64, err := ReadFloat64("testdata/f4.npy")
	if err != nil || !reflect.DeepEqual(shape, []int{2, 3}) || f64[0] != 1.5 || f64[3] != math.MaxFloat32 {
		t.Errorf("ReadFloat64 = %v %v %v", shape, f64, err)
	}
	if _, _, err := ReadFloat32("testdata/missing.npy"); err == nil {
		t.Error("no error for a missing file")
	}
	if _, _, err := ReadFloat64("testdata/bool.npy"); err == nil {
		t.Error("no error for a bool file")
	}
}

// npyFile builds a file of the given version from header text and a number
// of zero data bytes, without any padding.
func npyFile(major byte, header string, data int) []byte {
	b := append([]byte(magic), major, 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	}
	b = append(b, header...)
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

func malformedCases(t testing.TB) []malformedCase {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	f4 := read("f4.npy")
	const ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n"
	withHeader := func(h string) []byte { return npyFile(1, h, 8) }
	return []malformedCase{
		{"empty", nil, "file has 0 bytes, too short for the 10-byte .npy preamble"},
		{"bad magic", []byte("PK\x03\x04NUMPY\x01\x00\x00\x00"), `offset 0: not a .npy file: starts with "PK\x03\x04NU", want "\x93NUMPY"`},
		{"version 4.0", npyFile(4, ok, 8), "offset 6: unsupported format version 4.0 (want 1.0, 2.0 or 3.0)"},
		{"version 1.1", append(append([]byte(magic), 1, 1), f4[8:]...), "offset 6: unsupported format version 1.1"},
		{"short version 2 preamble", append([]byte(magic), 2, 0, 0, 0), "file has 10 bytes, too short for the 12-byte version 2.0 preamble"},
		{"truncated header", f4[:100], "offset 8: header claims 118 bytes, file has 100"},
		{"lying header length", npyFile(2, "", 0)[:8:8], ""},
		{"truncated data", f4[:len(f4)-1], "offset 128: shape [2 3] <f4 needs 24 data bytes, file has 23"},
		{"trailing bytes", append(append([]byte{}, f4...), 0), "offset 128: shape [2 3] <f4 needs 24 data bytes, file has 25"},
		{"fortran order", read("fortran.npy"), "offset 44: header: fortran_order is True: only C-order arrays are supported"},
		{"big-endian", read("bigendian.npy"), `offset 20: header: descr ">f4" is big-endian; only little-endian data is supported`},
		{"bool", read("bool.npy"), `offset 20: header: unsupported descr "|b1" (want '<f4', '<f8', '<i8', '<i4' or '|u1')`},
		{"structured dtype", withHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"), "offset 20: header: descr is a list, want a dtype string such as '<f4'"},
		{"not a dict", withHeader("['descr']"), "offset 10: header: expected a dict literal '{', found '['"},
		{"empty header", withHeader(""), "offset 10: header: expected a dict literal '{', found end of header"},
		{"unterminated dict", withHeader("{'descr': '<f4'"), "offset 25: header: expected ',' or '}', found end of header"},
		{"junk after dict", withHeader(ok[:len(ok)-1] + "x"), `offset 67: header: unexpected 'x' after the dict`},
		{"missing colon", withHeader("{'descr' '<f4'}"), `offset 19: header: expected ':' after key "descr", found '\''`},
		{"missing key", withHeader("{'descr': '<f4', 'shape': (2,)}"), `offset 10: header: missing key "fortran_order"`},
		{"extra key", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}"), `offset 66: header: unexpected key "x" (want descr, fortran_order, shape)`},
		{"duplicate key", withHeader("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}"), `offset 27: header: key "descr" appears twice`},
		{"key not a string", withHeader("{1: 2}"), "offset 11: header: dict key is the integer 1, want a string"},
		{"descr not a string", withHeader("{'descr': 4, 'fortran_order': False, 'shape': (2,)}"), "offset 20: header: descr is the integer 4, want a dtype string"},
		{"fortran_order not a bool", withHeader("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}"), "offset 44: header: fortran_order is the integer 0, want True or False"},
		{"shape not a tuple", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}"), "offset 60: header: shape is the integer 2, want a tuple of integers"},
		{"shape a list", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}"), "shape is a list, want a tuple of integers"},
		{"shape of strings", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': ('2',)}"), `offset 60: header: shape element 0 is the string "2", want an integer`},
		{"negative dimension", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1)}"), "offset 60: header: shape element 1 is negative (-1)"},
		{"fractional dimension", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}"), "offset 61: header: number is not an integer"},
		{"huge dimension", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"), "offset 61: header: integer 99999999999999999999 is too large"},
		{"shape overflow", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}"), "offset 10: header: shape [4294967296 4294967296] has too many elements"},
		{"bytes overflow", withHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,)}"), "has too many elements"},
		{"claimed size", withHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,)}"), "needs 8000000000000 data bytes, file has 8"},
		{"unterminated string", withHeader("{'descr': '<f4"), "offset 20: header: string never ends"},
		{"newline in string", withHeader("{'descr': '<f4\n'}"), "offset 24: header: newline inside the string that starts at offset 20"},
		{"bare word", withHeader("{'descr': float32}"), "offset 20: header: expected a value, found 'f'"},
		{"deep nesting", withHeader("{'descr': " + strings.Repeat("(", 100)), "header: nested more than 16 deep"},
		{"long suffix in version 3", npyFile(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", 8), "offset 63: header: number is not an integer"},
		{"invalid UTF-8 in version 3", npyFile(3, "{'descr': '\xff'}", 0), "offset 12: version 3.0 header is not valid UTF-8"},
	}
}

func TestReadMalformed(t *testing.T) {
	for _, tt := range malformedCases(t) {
		if tt.want == "" {
			continue // fuzz seed only
		}
		t.Run(tt.name, func(t *testing.T) {
			a, err := Read(bytes.NewReader(tt.file), int64(len(tt.file)), "bad.npy")
			if err == nil {
				t.Fatalf("read %v %v, want error %q", a.DType, a.Shape, tt.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "bad.npy: ") || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q\nwant one line starting with the file name and containing %q", msg, tt.want)
			}
		})
	}
}

// A version 1.0 or 2.0 header may carry Python 2 long suffixes, as NumPy
// accepts.
func TestReadLongSuffix(t *testing.T) {
	file := npyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }", 8)
	a, err := Read(bytes.NewReader(file), int64(len(file)), "py2.npy")
	if err != nil || !reflect.DeepEqual(a.Shape, []int{2, 1}) {
		t.Fatalf("Read = %v, %v", a, err)
	}
}

func TestReadLimits(t *testing.T) {
	big := npyFile(2, "", 0)
	binary.LittleEndian.PutUint32(big[8:], MaxHeaderSize+1)
	z := zeroTail{prefix: big, size: 1 << 40}
	_, err := Read(z, z.size, "huge.npy")
	if want := "huge.npy: offset 8: header claims 1048577 bytes, more than the limit of 1048576"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}

	binary.LittleEndian.PutUint32(big[8:], math.MaxUint32)
	_, err = Read(bytes.NewReader(big), int64(len(big)), "lie.npy")
	if want := "lie.npy: offset 8: header claims 4294967295 bytes, file has 12"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}

	// Claimed sizes never drive allocations.
	claim := npyFile(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,)}", 8)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Read(bytes.NewReader(claim), int64(len(claim)), "claim.npy")
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Error("no error for a file shorter than its shape")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
		t.Errorf("Read allocated %d bytes for a %d-byte file", grew, len(claim))
	}
}

func TestRoundTrip(t *testing.T) {
	highRank := make([]int, 25000) // header over 65535 bytes: version 2.0
	for i := range highRank {
		highRank[i] = 1
	}
	tests := []struct {
		name    string
		a       *Array
		version byte
	}{
		{"0-d", NewFloat32(nil, []float32{2.5}), 1},
		{"empty", NewFloat64([]int{3, 0}, []float64{}), 1},
		{"float32", NewFloat32([]int{2, 1, 2}, []float32{1, -1, float32(math.NaN()), float32(math.Inf(1))}), 1},
		{"float64", NewFloat64([]int{2}, []float64{math.SmallestNonzeroFloat64, math.MaxFloat64}), 1},
		{"int64", NewInt64([]int{1, 3}, []int64{math.MinInt64, 0, math.MaxInt64}), 1},
		{"int32", &Array{DType: tensorio.I32, Shape: []int{1}, I32: []int32{-7}}, 1},
		{"uint8", &Array{DType: tensorio.U8, Shape: []int{3}, U8: []uint8{9, 0, 255}}, 1},
		{"uint8 empty", &Array{DType: tensorio.U8, Shape: []int{0}, U8: []uint8{}}, 1},
		{"rank 7", NewFloat32([]int{1, 1, 1, 1, 1, 1, 2}, []float32{3, 4}), 1},
		{"long first axis", NewFloat32([]int{100000, 0}, []float32{}), 1},
		{"large", NewFloat32([]int{200, 300}, make([]float32, 60000)), 1},
		{"high rank", NewFloat32(highRank, []float32{5}), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tt.a); err != nil {
				t.Fatal(err)
			}
			b := buf.Bytes()
			if b[6] != tt.version {
				t.Errorf("version %d, want %d", b[6], tt.version)
			}
			hlen := int(binary.LittleEndian.Uint16(b[8:]))
			prefix := 10
			if b[6] == 2 {
				hlen, prefix = int(binary.LittleEndian.Uint32(b[8:])), 12
			}
			if (prefix+hlen)%64 != 0 || b[prefix+hlen-1] != '\n' {
				t.Errorf("data starts at %d, want a multiple of 64 after a newline", prefix+hlen)
			}
			got, err := Read(bytes.NewReader(b), int64(len(b)), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			want := *tt.a
			if want.Shape == nil {
				want.Shape = []int{}
			}
			if !sameArray(got, &want) {
				t.Errorf("read back %+v, want %+v", got, tt.a)
			}
		})
	}
}

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name string
		a    *Array
		want string
	}{
		{"short data", NewFloat32([]int{2, 3}, make([]float32, 5)), "shape [2 3] needs 6 elements, F32 data has 5"},
		{"data in the wrong slice", &Array{DType: tensorio.F64, Shape: []int{1}, F32: []float32{1}}, "shape [1] needs 1 elements, F64 data has 0"},
		{"bad dtype", &Array{DType: ">f4", Shape: []int{0}}, `unsupported dtype ">f4"`},
		{"negative shape", NewFloat32([]int{-1}, nil), "shape [-1] is negative or has too many elements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tt.a)
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
		a   *Array
		f32 []float32
		f64 []float64
	}{
		{NewFloat32([]int{2}, []float32{1.5, -2}), []float32{1.5, -2}, []float64{1.5, -2}},
		{NewFloat64([]int{2}, []float64{0.1, 3}), []float32{0.1, 3}, []float64{0.1, 3}},
		{NewInt64([]int{2}, []int64{-3, 1 << 40}), []float32{-3, 1 << 40}, []float64{-3, 1 << 40}},
		{&Array{DType: tensorio.I32, Shape: []int{1}, I32: []int32{-9}}, []float32{-9}, []float64{-9}},
		{&Array{DType: tensorio.U8, Shape: []int{2}, U8: []uint8{0, 255}}, []float32{0, 255}, []float64{0, 255}},
		{&Array{DType: "|b1"}, nil, nil},
	}
	for _, tt := range tests {
		if got := tt.a.Float32(); !reflect.DeepEqual(got, tt.f32) {
			t.Errorf("%s Float32() = %v, want %v", tt.a.DType, got, tt.f32)
		}
		if got := tt.a.Float64(); !reflect.DeepEqual(got, tt.f64) {
			t.Errorf("%s Float64() = %v, want %v", tt.a.DType, got, tt.f64)
		}
	}
	lens := map[int][]int{1: nil, 6: {2, 3}, 0: {4, 0, 1 << 62}, -1: {-1}}
	for want, shape := range lens {
		if got := (&Array{Shape: shape}).Len(); got != want {
			t.Errorf("Len of shape %v = %d, want %d", shape, got, want)
		}
	}
	if got := (&Array{Shape: []int{1 << 62, 1 << 62}}).Len(); got != -1 {
		t.Errorf("Len of overflowing shape = %d, want -1", got)
	}
}
