package npy

import (
	"encoding/binary"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/nndl/cnn/internal/fileio"
	"github.com/nndl/cnn/tensorio"
)

// magic starts every .npy file.
const magic = "\x93NUMPY"

// ReadFile reads and validates the .npy file at path. Errors are one line
// and start with path.
func ReadFile(path string) (*Array, error) {
	fh, st, err := fileio.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return Read(fh, st.Size(), path)
}

// ReadFloat32 reads the .npy file at path and returns its shape and its
// elements as float32, converting other dtypes (see Array.Float32).
func ReadFloat32(path string) (shape []int, data []float32, err error) {
	a, err := ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return a.Shape, a.Float32(), nil
}

// ReadFloat64 reads the .npy file at path and returns its shape and its
// elements as float64, converting other dtypes (see Array.Float64).
func ReadFloat64(path string) (shape []int, data []float64, err error) {
	a, err := ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return a.Shape, a.Float64(), nil
}

// Read reads and validates a .npy file of size bytes from r. name
// identifies the file in error messages. The preamble and header are
// checked before the data is allocated, and the data must be exactly as
// long as the shape calls for: no allocation depends on a size that the
// file does not actually contain. Use bytes.NewReader to read from memory.
func Read(r io.ReaderAt, size int64, name string) (*Array, error) {
	fail := func(format string, args ...any) (*Array, error) {
		return nil, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
	}
	if size < 10 {
		return fail("file has %d bytes, too short for the 10-byte .npy preamble", size)
	}
	var pre [12]byte
	if _, err := r.ReadAt(pre[:min(size, 12)], 0); err != nil {
		return fail("offset 0: reading the preamble: %v", err)
	}
	if string(pre[:6]) != magic {
		return fail("offset 0: not a .npy file: starts with %q, want %q", pre[:6], magic)
	}
	major, minor := pre[6], pre[7]
	var hlen, start int64
	switch {
	case major == 1 && minor == 0:
		hlen, start = int64(binary.LittleEndian.Uint16(pre[8:])), 10
	case (major == 2 || major == 3) && minor == 0:
		if size < 12 {
			return fail("file has %d bytes, too short for the 12-byte version %d.0 preamble", size, major)
		}
		hlen, start = int64(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		return fail("offset 6: unsupported format version %d.%d (want 1.0, 2.0 or 3.0)", major, minor)
	}
	if hlen > size-start {
		return fail("offset 8: header claims %d bytes, file has %d", hlen, size)
	}
	if hlen > MaxHeaderSize {
		return fail("offset 8: header claims %d bytes, more than the limit of %d", hlen, MaxHeaderSize)
	}
	hb := make([]byte, hlen)
	if _, err := r.ReadAt(hb, start); err != nil {
		return fail("offset %d: reading the %d-byte header: %v", start, hlen, err)
	}
	if major == 3 && !utf8.Valid(hb) {
		return fail("offset %d: version 3.0 header is not valid UTF-8", start)
	}
	// Versions 1.0 and 2.0 are Latin-1; bytes above 0x7f can only appear
	// inside strings, where they make the descr unsupported anyway.
	h, err := parseHeader(string(hb), int(start), major < 3)
	if err != nil {
		return fail("%v", err)
	}

	dataStart := start + hlen
	item := tensorio.Size(dtypeOf[h.dtype])
	count, ok := tensorio.Count(h.shape, item)
	if !ok {
		return fail("offset %d: header: shape %v has too many elements", start, h.shape)
	}
	need := int64(count) * int64(item)
	if have := size - dataStart; have != need {
		return fail("offset %d: shape %v %s needs %d data bytes, file has %d", dataStart, h.shape, h.dtype, need, have)
	}
	a := &Array{DType: dtypeOf[h.dtype], Shape: h.shape}
	if err := readData(r, dataStart, a, count); err != nil {
		return fail("offset %d: reading %d data bytes: %v", dataStart, need, err)
	}
	return a, nil
}

// readData fills a's data slice with count elements read from r at off,
// in chunks so that only the result is allocated in full.
func readData(r io.ReaderAt, off int64, a *Array, count int) error {
	if tensorio.Size(a.DType) == 0 {
		return fmt.Errorf("unsupported dtype %q", a.DType)
	}
	d, err := tensorio.ReadAt(r, off, a.DType, count)
	a.F32, a.F64, a.I64, a.I32, a.U8 = d.F32, d.F64, d.I64, d.I32, d.U8
	return err
}
