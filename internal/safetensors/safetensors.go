// Package safetensors reads and writes .safetensors files: an 8-byte
// little-endian header length, a JSON header that maps each tensor name to
// {"dtype", "shape", "data_offsets"} (plus an optional "__metadata__" object
// of string to string), then the raw little-endian tensor bytes.
//
// The parser is written here rather than built on
// github.com/nlpodyssey/safetensors. That module validates offsets and
// sizes, but its errors do not say which tensor is wrong or what was
// expected ("metadata validation error: info data offsets mismatch"), it
// only parses a whole in-memory []byte, its writer orders tensors by dtype
// before name (so it cannot reproduce files written by the reference Python
// writer byte for byte), and its NewTensorView counts a 0-d tensor as having
// no elements, so scalars cannot be written with it. The format is small
// enough that a self-contained reader with one-line errors is simpler than
// re-validating around that API.
//
// Reading validates everything before allocating anything large: the header
// length against the file size and MaxHeaderSize, the JSON, every dtype,
// shape and data_offsets pair, and that the tensors cover the data section
// exactly, without overlaps, holes or trailing bytes. Tensor data is only
// allocated once the sizes are known to fit in the file.
package safetensors

import (
	"fmt"
	"slices"

	"github.com/nndl/cnn/internal/elems"
)

// MaxHeaderSize is the largest JSON header accepted, in bytes (100 MB, the
// limit of the reference implementation).
const MaxHeaderSize = 100_000_000

// MaxTensors is the most tensors a header may list. ResNet18 has 122 and the largest
// torchvision models a few thousand; without a bound a 60 MB header of a million empty
// tensors took 17 s and half a gigabyte to read.
const MaxTensors = 100_000

// Supported dtype names, as spelled in the header.
const (
	F32 = "F32" // float32
	F64 = "F64" // float64
	I64 = "I64" // int64
	I32 = "I32" // int32
	U8  = "U8"  // uint8
)

// kinds maps each supported dtype name to its element kind.
var kinds = map[string]elems.Kind{
	F32: elems.Float32,
	F64: elems.Float64,
	I64: elems.Int64,
	I32: elems.Int32,
	U8:  elems.Uint8,
}

// DTypeSize returns the size in bytes of one element of dtype, or 0 if the
// dtype is not supported by this package.
func DTypeSize(dtype string) int {
	return kinds[dtype].Size()
}

// Tensor is one named array of a file. Exactly one of the data slices is
// used, the one that matches DType; it holds the elements in row-major
// (C) order and its length is the product of Shape (1 for a 0-d tensor).
type Tensor struct {
	DType string // F32, F64, I64, I32 or U8
	Shape []int
	F32   []float32
	F64   []float64
	I64   []int64
	I32   []int32
	U8    []uint8
}

// File is the content of a .safetensors file.
type File struct {
	// Tensors maps each tensor name to its tensor.
	Tensors map[string]Tensor
	// Names lists the tensor names in sorted order. Read fills it in;
	// Write ignores it and always writes the names of Tensors sorted.
	Names []string
	// Metadata holds the optional "__metadata__" header entry.
	Metadata map[string]string
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

// Len returns the number of elements that Shape calls for: the product of
// its dimensions, 1 for a 0-d tensor. It returns -1 if a dimension is
// negative or the product overflows an int.
func (t Tensor) Len() int {
	n, ok := elems.Count(t.Shape, 1)
	if !ok {
		return -1
	}
	return n
}

// data returns t's data slices with the kind that DType selects.
func (t Tensor) data() elems.Data {
	return elems.Data{Kind: kinds[t.DType], F32: t.F32, F64: t.F64, I64: t.I64, I32: t.I32, U8: t.U8}
}

// dataLen returns the length of the data slice that DType selects, or -1 if
// DType is not supported.
func (t Tensor) dataLen() int {
	return t.data().Len()
}

// Float32 returns the elements as float32. For an F32 tensor it returns the
// F32 slice itself (not a copy); other dtypes are converted into a new
// slice, rounding F64 and large integers to the nearest float32.
func (t Tensor) Float32() []float32 {
	return t.data().Float32()
}

// Float64 returns the elements as float64. For an F64 tensor it returns the
// F64 slice itself (not a copy); other dtypes are converted into a new
// slice (exactly, except I64 values beyond 2^53).
func (t Tensor) Float64() []float64 {
	return t.data().Float64()
}

// Tensor returns the tensor called name, with an error naming the missing
// tensor if there is none.
func (f *File) Tensor(name string) (Tensor, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return Tensor{}, fmt.Errorf("no tensor %q", name)
	}
	return t, nil
}

// sortedNames returns the keys of f.Tensors in sorted order.
func (f *File) sortedNames() []string {
	names := make([]string, 0, len(f.Tensors))
	for name := range f.Tensors {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
