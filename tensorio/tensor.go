// Package tensorio holds the tensor type the weight and array files share: a shape and one
// typed slice of little-endian elements (float32, float64, int64, int32 or uint8), with
// conversions, an overflow-safe element count, and the encoding to and from bytes. Its
// subpackages read and write the formats: safetensors (PyTorch's and this project's weights)
// and npy (NumPy's arrays).
package tensorio

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
)

// The element types, spelled as safetensors spells them.
const (
	F32 = "F32" // float32
	F64 = "F64" // float64
	I64 = "I64" // int64
	I32 = "I32" // int32
	U8  = "U8"  // uint8
)

// Size returns the size in bytes of one element of dtype, or 0 for a dtype not listed above.
func Size(dtype string) int {
	switch dtype {
	case F32, I32:
		return 4
	case F64, I64:
		return 8
	case U8:
		return 1
	}
	return 0
}

// Tensor is one array: its element type, its shape, and its elements in row-major (C)
// order in the one slice that DType selects, of the length the shape calls for (1 for a
// 0-d tensor).
type Tensor struct {
	DType string // F32, F64, I64, I32 or U8
	Shape []int
	F32   []float32
	F64   []float64
	I64   []int64
	I32   []int32
	U8    []uint8
}

// NewFloat32 returns an F32 tensor of the given shape holding data.
func NewFloat32(shape []int, data []float32) Tensor {
	return Tensor{DType: F32, Shape: shape, F32: data}
}

// NewFloat64 returns an F64 tensor of the given shape holding data.
func NewFloat64(shape []int, data []float64) Tensor {
	return Tensor{DType: F64, Shape: shape, F64: data}
}

// NewInt64 returns an I64 tensor of the given shape holding data.
func NewInt64(shape []int, data []int64) Tensor {
	return Tensor{DType: I64, Shape: shape, I64: data}
}

// Len returns the number of elements that Shape calls for: the product of its dimensions,
// 1 for a 0-d tensor. It returns -1 if a dimension is negative or the product overflows an
// int.
func (t Tensor) Len() int {
	n, ok := Count(t.Shape, 1)
	if !ok {
		return -1
	}
	return n
}

// DataLen returns the length of the slice that DType selects, or -1 for a dtype not listed
// above.
func (t Tensor) DataLen() int {
	switch t.DType {
	case F32:
		return len(t.F32)
	case F64:
		return len(t.F64)
	case I64:
		return len(t.I64)
	case I32:
		return len(t.I32)
	case U8:
		return len(t.U8)
	}
	return -1
}

// Float32 returns the elements as float32: the F32 slice itself (not a copy) for an F32
// tensor; other dtypes are converted into a new slice, rounding F64 and large integers to
// the nearest float32. It returns nil for a dtype not listed above.
func (t Tensor) Float32() []float32 {
	switch t.DType {
	case F32:
		return t.F32
	case F64:
		return convert[float32](t.F64)
	case I64:
		return convert[float32](t.I64)
	case I32:
		return convert[float32](t.I32)
	case U8:
		return convert[float32](t.U8)
	}
	return nil
}

// Float64 returns the elements as float64: the F64 slice itself (not a copy) for an F64
// tensor; other dtypes are converted into a new slice (exactly, but for I64 values beyond
// 2^53). It returns nil for a dtype not listed above.
func (t Tensor) Float64() []float64 {
	switch t.DType {
	case F64:
		return t.F64
	case F32:
		return convert[float64](t.F32)
	case I64:
		return convert[float64](t.I64)
	case I32:
		return convert[float64](t.I32)
	case U8:
		return convert[float64](t.U8)
	}
	return nil
}

// number is an element type.
type number interface {
	~float32 | ~float64 | ~int64 | ~int32 | ~uint8
}

// convert returns s converted element by element.
func convert[T, S number](s []S) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = T(v)
	}
	return out
}

// Count returns the product of shape (1 for no dimensions), and false if a
// dimension is negative or the product times size (which must be at least
// 1) does not fit in an int. An overflowing prefix is an error even if a
// later dimension is 0.
func Count(shape []int, size int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d > 0 && n > math.MaxInt/d {
			return 0, false
		}
		n *= d
	}
	if n > math.MaxInt/size {
		return 0, false
	}
	return n, true
}

var le = binary.LittleEndian

func getF32(b []byte) float32 { return math.Float32frombits(le.Uint32(b)) }
func getF64(b []byte) float64 { return math.Float64frombits(le.Uint64(b)) }
func getI64(b []byte) int64   { return int64(le.Uint64(b)) }
func getI32(b []byte) int32   { return int32(le.Uint32(b)) }

// Decode returns the tensor of the given dtype and shape whose elements are held
// little-endian in b, whose length must be a whole number of elements. The result's slice is
// never nil, and does not share memory with b. A dtype not listed above gives a tensor with
// no elements.
func Decode(dtype string, shape []int, b []byte) Tensor {
	d := Tensor{DType: dtype, Shape: shape}
	switch dtype {
	case F32:
		d.F32 = decode(b, 4, getF32)
	case F64:
		d.F64 = decode(b, 8, getF64)
	case I64:
		d.I64 = decode(b, 8, getI64)
	case I32:
		d.I32 = decode(b, 4, getI32)
	case U8:
		d.U8 = bytes.Clone(b)
		if d.U8 == nil {
			d.U8 = []uint8{}
		}
	}
	return d
}

func decode[T any](b []byte, size int, get func([]byte) T) []T {
	out := make([]T, len(b)/size)
	for i := range out {
		out[i] = get(b[size*i:])
	}
	return out
}

// ReadAt reads count elements of type dtype (one listed above) held little-endian
// in r at off. It reads in chunks, so that only the result is allocated in
// full. The result's slice is never nil.
func ReadAt(r io.ReaderAt, off int64, dtype string, count int) (Tensor, error) {
	d := Tensor{DType: dtype}
	var err error
	switch dtype {
	case F32:
		d.F32 = make([]float32, count)
		err = readChunks(r, off, d.F32, 4, getF32)
	case F64:
		d.F64 = make([]float64, count)
		err = readChunks(r, off, d.F64, 8, getF64)
	case I64:
		d.I64 = make([]int64, count)
		err = readChunks(r, off, d.I64, 8, getI64)
	case I32:
		d.I32 = make([]int32, count)
		err = readChunks(r, off, d.I32, 4, getI32)
	case U8:
		d.U8 = make([]uint8, count)
		if count > 0 { // some ReaderAts report io.EOF for an empty read at the end
			_, err = r.ReadAt(d.U8, off)
		}
	}
	return d, err
}

// readChunks decodes len(dst) elements of size bytes each from r at off.
func readChunks[T any](r io.ReaderAt, off int64, dst []T, size int, get func([]byte) T) error {
	buf := make([]byte, min(len(dst)*size, 1<<16))
	step := len(buf) / size
	for len(dst) > 0 {
		n := min(len(dst), step)
		b := buf[:n*size]
		if _, err := r.ReadAt(b, off); err != nil {
			return err
		}
		for i := range n {
			dst[i] = get(b[i*size:])
		}
		dst, off = dst[n:], off+int64(len(b))
	}
	return nil
}

// Write writes the elements of d to w little-endian, staging them in buf,
// whose capacity sets the chunk size. A dtype not listed above writes nothing.
func Write(w io.Writer, d Tensor, buf []byte) error {
	switch d.DType {
	case F32:
		return writeChunks(w, d.F32, buf, func(b []byte, v float32) []byte { return le.AppendUint32(b, math.Float32bits(v)) })
	case F64:
		return writeChunks(w, d.F64, buf, func(b []byte, v float64) []byte { return le.AppendUint64(b, math.Float64bits(v)) })
	case I64:
		return writeChunks(w, d.I64, buf, func(b []byte, v int64) []byte { return le.AppendUint64(b, uint64(v)) })
	case I32:
		return writeChunks(w, d.I32, buf, func(b []byte, v int32) []byte { return le.AppendUint32(b, uint32(v)) })
	case U8:
		_, err := w.Write(d.U8)
		return err
	}
	return nil
}

// writeChunks encodes data with put into buf, at most cap(buf)/8 elements
// at a time, and writes each chunk to w.
func writeChunks[T any](w io.Writer, data []T, buf []byte, put func([]byte, T) []byte) error {
	step := max(cap(buf)/8, 1)
	for len(data) > 0 {
		n := min(len(data), step)
		b := buf[:0]
		for _, v := range data[:n] {
			b = put(b, v)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}
