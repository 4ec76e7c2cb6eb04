package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/nndl/cnn/internal/atomicfile"
	"github.com/nndl/cnn/tensorio"
)

// Write writes f in the .safetensors format: tensors in sorted name order,
// data packed back to back in that order, "__metadata__" (if not empty)
// last with its keys sorted, and the JSON header padded with spaces to a
// multiple of 8 bytes. For ASCII names and metadata the output is
// byte-for-byte what the reference Python writer produces for the same
// tensors and metadata given in sorted key order; other text is escaped as
// \uXXXX as Python's json.dumps does. f.Names is ignored. Every tensor is
// checked before anything is written.
func Write(w io.Writer, f *File) error {
	names := f.sortedNames()
	header, err := encodeHeader(f, names)
	if err != nil {
		return err
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for _, name := range names {
		if err := writeData(w, f.Tensors[name], buf); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes f to path atomically (see Write for the layout): it
// writes a temporary file in the same directory, syncs it to disk and
// renames it over path, then syncs the directory. On any error the
// temporary file is removed and an existing file at path is left as it
// was. A new file gets mode 0644; an existing file keeps its mode.
func WriteFile(path string, f *File) error {
	// Validate before creating anything, so bad input never touches disk.
	if _, err := encodeHeader(f, f.sortedNames()); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, f) })
}

// encodeHeader validates f and returns its padded JSON header.
func encodeHeader(f *File, names []string) ([]byte, error) {
	h := []byte{'{'}
	var off int64
	for i, name := range names {
		t := f.Tensors[name]
		if name == "__metadata__" {
			return nil, fmt.Errorf("tensor name %q is reserved", name)
		}
		if !utf8.ValidString(name) {
			return nil, fmt.Errorf("tensor name %q is not valid UTF-8", name)
		}
		size := DTypeSize(t.DType)
		if size == 0 {
			return nil, fmt.Errorf("tensor %q: unsupported dtype %q (want F32, F64, I64, I32 or U8)", name, t.DType)
		}
		n, ok := tensorio.Count(t.Shape, size)
		if !ok {
			return nil, fmt.Errorf("tensor %q: shape %v is negative or has too many elements", name, t.Shape)
		}
		if got := t.DataLen(); got != n {
			return nil, fmt.Errorf("tensor %q: shape %v needs %d elements, %s data has %d", name, t.Shape, n, t.DType, got)
		}
		if i > 0 {
			h = append(h, ',')
		}
		h = appendPyString(h, name)
		h = append(h, `:{"dtype":`...)
		h = appendPyString(h, t.DType)
		h = append(h, `,"shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				h = append(h, ',')
			}
			h = strconv.AppendInt(h, int64(d), 10)
		}
		h = append(h, `],"data_offsets":[`...)
		h = strconv.AppendInt(h, off, 10)
		h = append(h, ',')
		off += int64(n * size)
		h = strconv.AppendInt(h, off, 10)
		h = append(h, "]}"...)
	}
	if len(f.Metadata) > 0 {
		if len(names) > 0 {
			h = append(h, ',')
		}
		h = append(h, `"__metadata__":{`...)
		keys := make([]string, 0, len(f.Metadata))
		for k := range f.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			v := f.Metadata[k]
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, fmt.Errorf("__metadata__ %q is not valid UTF-8", k)
			}
			if i > 0 {
				h = append(h, ',')
			}
			h = appendPyString(h, k)
			h = append(h, ':')
			h = appendPyString(h, v)
		}
		h = append(h, '}')
	}
	h = append(h, '}')
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	if len(h) > MaxHeaderSize {
		return nil, fmt.Errorf("header would be %d bytes, more than the limit of %d", len(h), MaxHeaderSize)
	}
	return h, nil
}

// appendPyString appends s as a JSON string the way Python's json.dumps
// does by default (ensure_ascii): only printable ASCII is written as is,
// everything else as a short escape or \uXXXX (surrogate pairs above
// U+FFFF). s must be valid UTF-8.
func appendPyString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	u4 := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15])
	}
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			b = append(b, '\\', '"')
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '\b':
			b = append(b, '\\', 'b')
		case r == '\f':
			b = append(b, '\\', 'f')
		case r >= 0x20 && r <= 0x7e:
			b = append(b, byte(r))
		case r > 0xffff:
			r -= 0x10000
			b = u4(b, 0xd800+(r>>10))
			b = u4(b, 0xdc00+(r&0x3ff))
		default:
			b = u4(b, r)
		}
	}
	return append(b, '"')
}

// writeData writes t's elements in little-endian order, staging them in
// buf (whose capacity sets the chunk size).
func writeData(w io.Writer, t Tensor, buf []byte) error {
	if tensorio.Size(t.DType) == 0 {
		return fmt.Errorf("unsupported dtype %q", t.DType)
	}
	return tensorio.Write(w, t, buf)
}
