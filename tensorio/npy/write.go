package npy

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/nndl/cnn/internal/atomicfile"
	"github.com/nndl/cnn/tensorio"
)

// Write writes a as a .npy file the way NumPy's np.save does: format
// version 1.0 (2.0 only if the header would not fit in 65535 bytes), the
// header dict with sorted keys and NumPy's spare space for growing the
// first axis, padded with spaces and a newline so that the data starts at a
// multiple of 64 bytes. The output is byte-for-byte what NumPy writes for
// the same array. a is checked before anything is written.
func Write(w io.Writer, a *Array) error {
	head, err := encodeHeader(a)
	if err != nil {
		return err
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	return tensorio.Write(w, *a, make([]byte, 0, 1<<16)) // encodeHeader accepted the dtype
}

// WriteFile writes a to path atomically (see Write for the layout): it
// writes a temporary file in the same directory, syncs it to disk and
// renames it over path, then syncs the directory. On any error the
// temporary file is removed and an existing file at path is left as it
// was. A new file gets mode 0644; an existing file keeps its mode.
func WriteFile(path string, a *Array) error {
	if _, err := encodeHeader(a); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, a) })
}

// WriteFloat32 writes a float32 array of the given shape to path
// atomically (see WriteFile).
func WriteFloat32(path string, shape []int, data []float32) error {
	return WriteFile(path, NewFloat32(shape, data))
}

// WriteFloat64 writes a float64 array of the given shape to path
// atomically (see WriteFile).
func WriteFloat64(path string, shape []int, data []float64) error {
	return WriteFile(path, NewFloat64(shape, data))
}

// growthAxisMaxDigits is NumPy's GROWTH_AXIS_MAX_DIGITS: the header leaves
// room for the first dimension to grow to this many digits.
const growthAxisMaxDigits = 21

// encodeHeader validates a and returns the preamble and padded header.
func encodeHeader(a *Array) ([]byte, error) {
	descr, known := descrOf[a.DType]
	if !known {
		return nil, fmt.Errorf("unsupported dtype %q (want F32, F64, I64, I32 or U8)", a.DType)
	}
	n, ok := tensorio.Count(a.Shape, tensorio.Size(a.DType))
	if !ok {
		return nil, fmt.Errorf("shape %v is negative or has too many elements", a.Shape)
	}
	if got := a.DataLen(); got != n {
		return nil, fmt.Errorf("shape %v needs %d elements, %s data has %d", a.Shape, n, a.DType, got)
	}

	// repr of the dict, as numpy.lib.format._write_array_header builds it.
	h := []byte("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (")
	for i, d := range a.Shape {
		if i > 0 {
			h = append(h, ", "...)
		}
		h = strconv.AppendInt(h, int64(d), 10)
	}
	if len(a.Shape) == 1 {
		h = append(h, ',')
	}
	h = append(h, "), }"...)
	if len(a.Shape) > 0 {
		for range growthAxisMaxDigits - len(strconv.Itoa(a.Shape[0])) {
			h = append(h, ' ')
		}
	}

	// _wrap_header: pad with spaces, then a newline, to a multiple of 64.
	hlen := len(h) + 1
	prefix := 10
	pad := 64 - (prefix+hlen)%64
	if hlen+pad > math.MaxUint16 {
		prefix = 12
		pad = 64 - (prefix+hlen)%64
	}
	if hlen+pad > MaxHeaderSize {
		return nil, fmt.Errorf("header would be %d bytes, more than the limit of %d", hlen+pad, MaxHeaderSize)
	}
	out := make([]byte, 0, prefix+hlen+pad)
	out = append(out, magic...)
	if prefix == 10 {
		out = append(out, 1, 0)
		out = binary.LittleEndian.AppendUint16(out, uint16(hlen+pad))
	} else {
		out = append(out, 2, 0)
		out = binary.LittleEndian.AppendUint32(out, uint32(hlen+pad))
	}
	out = append(out, h...)
	for range pad {
		out = append(out, ' ')
	}
	return append(out, '\n'), nil
}
