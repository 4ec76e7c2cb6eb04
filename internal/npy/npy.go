// Package npy reads and writes NumPy .npy files (format versions 1.0, 2.0
// and 3.0) holding one C-order array of little-endian float32, float64,
// int64 or int32, or of uint8, of any rank.
//
// A file is the magic string "\x93NUMPY", a major and minor version byte,
// the header length (2 bytes little-endian in version 1.0, 4 bytes in 2.0
// and 3.0), a header that is a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
// spaces and a newline, then the raw array data.
//
// Reading checks the whole preamble and header before allocating anything
// large: the header length against the file and MaxHeaderSize, the header
// syntax, the keys, the dtype, the order and the shape, and that the data
// is exactly as long as the shape calls for. Errors are one line that
// names the file and the byte offset of the problem.
package npy

import "github.com/nndl/cnn/internal/elems"

// MaxHeaderSize is the largest header accepted, in bytes. NumPy itself
// writes headers of well under a kilobyte for any realistic rank.
const MaxHeaderSize = 1 << 20

// Supported dtypes, spelled as NumPy's descr.
const (
	Float32 = "<f4" // little-endian float32
	Float64 = "<f8" // little-endian float64
	Int64   = "<i8" // little-endian int64
	Int32   = "<i4" // little-endian int32
	Uint8   = "|u1" // uint8
)

// kinds maps each supported dtype to its element kind.
var kinds = map[string]elems.Kind{
	Float32: elems.Float32,
	Float64: elems.Float64,
	Int64:   elems.Int64,
	Int32:   elems.Int32,
	Uint8:   elems.Uint8,
}

// itemSize returns the size in bytes of one element of dtype, or 0 if the
// dtype is not supported.
func itemSize(dtype string) int {
	return kinds[dtype].Size()
}

// Array is the content of an .npy file. Exactly one of the data slices is
// used, the one that matches DType; it holds the elements in C (row-major)
// order and its length is the product of Shape (1 for a 0-d array).
type Array struct {
	DType string // Float32, Float64, Int64, Int32 or Uint8
	Shape []int
	F32   []float32
	F64   []float64
	I64   []int64
	I32   []int32
	U8    []uint8
}

// NewFloat32 returns a float32 array of the given shape holding data.
func NewFloat32(shape []int, data []float32) *Array {
	return &Array{DType: Float32, Shape: shape, F32: data}
}

// NewFloat64 returns a float64 array of the given shape holding data.
func NewFloat64(shape []int, data []float64) *Array {
	return &Array{DType: Float64, Shape: shape, F64: data}
}

// NewInt64 returns an int64 array of the given shape holding data.
func NewInt64(shape []int, data []int64) *Array {
	return &Array{DType: Int64, Shape: shape, I64: data}
}

// Len returns the number of elements that Shape calls for: the product of
// its dimensions, 1 for a 0-d array. It returns -1 if a dimension is
// negative or the product overflows an int.
func (a *Array) Len() int {
	n, ok := elems.Count(a.Shape, 1)
	if !ok {
		return -1
	}
	return n
}

// data returns a's data slices with the kind that DType selects.
func (a *Array) data() elems.Data {
	return elems.Data{Kind: kinds[a.DType], F32: a.F32, F64: a.F64, I64: a.I64, I32: a.I32, U8: a.U8}
}

// dataLen returns the length of the data slice that DType selects, or -1
// if DType is not supported.
func (a *Array) dataLen() int {
	return a.data().Len()
}

// Float32 returns the elements as float32. For a float32 array it returns
// the F32 slice itself (not a copy); other dtypes are converted into a new
// slice, rounding float64 and large integers to the nearest float32.
func (a *Array) Float32() []float32 {
	return a.data().Float32()
}

// Float64 returns the elements as float64. For a float64 array it returns
// the F64 slice itself (not a copy); other dtypes are converted into a new
// slice (exactly, except int64 values beyond 2^53).
func (a *Array) Float64() []float64 {
	return a.data().Float64()
}
