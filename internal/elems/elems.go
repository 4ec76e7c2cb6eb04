// Package elems holds the element storage shared by the npy and
// safetensors packages: the supported element kinds, a holder for one typed
// slice of them, conversions to float32 and float64, an overflow-safe
// element count, and little-endian decoding and encoding.
package elems

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
)

// Kind is an element type.
type Kind uint8

// The supported kinds; Invalid (the zero value) stands for any other.
const (
	Invalid Kind = iota
	Float32
	Float64
	Int64
	Int32
	Uint8
)

// Size returns the size in bytes of one element of k, or 0 for Invalid.
func (k Kind) Size() int {
	switch k {
	case Float32, Int32:
		return 4
	case Float64, Int64:
		return 8
	case Uint8:
		return 1
	}
	return 0
}

// Data holds elements of one kind: only the slice that Kind selects is
// used.
type Data struct {
	Kind Kind
	F32  []float32
	F64  []float64
	I64  []int64
	I32  []int32
	U8   []uint8
}

// Len returns the length of the slice that Kind selects, or -1 for
// Invalid.
func (d Data) Len() int {
	switch d.Kind {
	case Float32:
		return len(d.F32)
	case Float64:
		return len(d.F64)
	case Int64:
		return len(d.I64)
	case Int32:
		return len(d.I32)
	case Uint8:
		return len(d.U8)
	}
	return -1
}

// Float32 returns the elements as float32: the F32 slice itself for
// Float32, a converted copy for the other kinds, nil for Invalid.
func (d Data) Float32() []float32 {
	switch d.Kind {
	case Float32:
		return d.F32
	case Float64:
		return convert[float32](d.F64)
	case Int64:
		return convert[float32](d.I64)
	case Int32:
		return convert[float32](d.I32)
	case Uint8:
		return convert[float32](d.U8)
	}
	return nil
}

// Float64 returns the elements as float64: the F64 slice itself for
// Float64, a converted copy for the other kinds, nil for Invalid.
func (d Data) Float64() []float64 {
	switch d.Kind {
	case Float32:
		return convert[float64](d.F32)
	case Float64:
		return d.F64
	case Int64:
		return convert[float64](d.I64)
	case Int32:
		return convert[float64](d.I32)
	case Uint8:
		return convert[float64](d.U8)
	}
	return nil
}

type number interface {
	~float32 | ~float64 | ~int64 | ~int32 | ~uint8
}

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

// Decode returns the elements of kind k held little-endian in b, whose
// length must be a whole number of elements. The result's slice is never
// nil, and does not share memory with b. Invalid gives an empty Data.
func Decode(k Kind, b []byte) Data {
	d := Data{Kind: k}
	switch k {
	case Float32:
		d.F32 = decode(b, 4, getF32)
	case Float64:
		d.F64 = decode(b, 8, getF64)
	case Int64:
		d.I64 = decode(b, 8, getI64)
	case Int32:
		d.I32 = decode(b, 4, getI32)
	case Uint8:
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

// ReadAt reads count elements of kind k (not Invalid) held little-endian
// in r at off. It reads in chunks, so that only the result is allocated in
// full. The result's slice is never nil.
func ReadAt(r io.ReaderAt, off int64, k Kind, count int) (Data, error) {
	d := Data{Kind: k}
	var err error
	switch k {
	case Float32:
		d.F32 = make([]float32, count)
		err = readChunks(r, off, d.F32, 4, getF32)
	case Float64:
		d.F64 = make([]float64, count)
		err = readChunks(r, off, d.F64, 8, getF64)
	case Int64:
		d.I64 = make([]int64, count)
		err = readChunks(r, off, d.I64, 8, getI64)
	case Int32:
		d.I32 = make([]int32, count)
		err = readChunks(r, off, d.I32, 4, getI32)
	case Uint8:
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
// whose capacity sets the chunk size. An Invalid d writes nothing.
func Write(w io.Writer, d Data, buf []byte) error {
	switch d.Kind {
	case Float32:
		return writeChunks(w, d.F32, buf, func(b []byte, v float32) []byte { return le.AppendUint32(b, math.Float32bits(v)) })
	case Float64:
		return writeChunks(w, d.F64, buf, func(b []byte, v float64) []byte { return le.AppendUint64(b, math.Float64bits(v)) })
	case Int64:
		return writeChunks(w, d.I64, buf, func(b []byte, v int64) []byte { return le.AppendUint64(b, uint64(v)) })
	case Int32:
		return writeChunks(w, d.I32, buf, func(b []byte, v int32) []byte { return le.AppendUint32(b, uint32(v)) })
	case Uint8:
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
