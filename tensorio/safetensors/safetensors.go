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

	"github.com/nndl/cnn/tensorio"
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
	F32 = tensorio.F32 // float32
	F64 = tensorio.F64 // float64
	I64 = tensorio.I64 // int64
	I32 = tensorio.I32 // int32
	U8  = tensorio.U8  // uint8
)

// DTypeSize returns the size in bytes of one element of dtype, or 0 if the
// dtype is not supported by this package.
func DTypeSize(dtype string) int { return tensorio.Size(dtype) }

// Tensor is one named array of a file.
type Tensor = tensorio.Tensor

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
