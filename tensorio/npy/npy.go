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

import "github.com/nndl/cnn/tensorio"

// MaxHeaderSize is the largest header accepted, in bytes. NumPy itself
// writes headers of well under a kilobyte for any realistic rank.
const MaxHeaderSize = 1 << 20

// The dtypes read and written, spelled as NumPy's descr, and the element type each holds.
const (
	descrF32 = "<f4" // little-endian float32
	descrF64 = "<f8" // little-endian float64
	descrI64 = "<i8" // little-endian int64
	descrI32 = "<i4" // little-endian int32
	descrU8  = "|u1" // uint8
)

var dtypeOf = map[string]string{
	descrF32: tensorio.F32, descrF64: tensorio.F64, descrI64: tensorio.I64, descrI32: tensorio.I32, descrU8: tensorio.U8,
}

var descrOf = map[string]string{
	tensorio.F32: descrF32, tensorio.F64: descrF64, tensorio.I64: descrI64, tensorio.I32: descrI32, tensorio.U8: descrU8,
}

// Array is the content of an .npy file: one tensor, its DType one of tensorio's.
type Array = tensorio.Tensor

// NewFloat32 returns a float32 array of the given shape holding data.
func NewFloat32(shape []int, data []float32) *Array {
	a := tensorio.NewFloat32(shape, data)
	return &a
}

// NewFloat64 returns a float64 array of the given shape holding data.
func NewFloat64(shape []int, data []float64) *Array {
	a := tensorio.NewFloat64(shape, data)
	return &a
}

// NewInt64 returns an int64 array of the given shape holding data.
func NewInt64(shape []int, data []int64) *Array {
	a := tensorio.NewInt64(shape, data)
	return &a
}
