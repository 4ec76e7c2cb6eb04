// Package data reads MNIST, builds the chapter's train/dev/test subset, preprocesses images
// (bilinear resize and normalisation to [-1, 1]) and serves them in batches.
package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Magic numbers of the two idx file kinds used by MNIST: unsigned bytes in 3 dimensions
// (images) and in 1 dimension (labels).
const (
	MagicImages = 0x00000803
	MagicLabels = 0x00000801
)

// maxIDXBytes bounds the data size a header may claim, whatever the file holds.
const maxIDXBytes = 1 << 31

// IDX is the content of one idx file of unsigned bytes.
type IDX struct {
	Magic uint32 // MagicImages or MagicLabels
	Dims  []int  // [n, rows, cols] for images, [n] for labels
	Data  []byte // the values in row-major order; len(Data) is the product of Dims
}

// N returns the number of items (images or labels), the first dimension.
func (x *IDX) N() int { return x.Dims[0] }

// describe names what the header claims, e.g. "10000 images of 28x28 (7840000 bytes)";
// the byte count is left out when size is negative.
func describe(magic uint32, dims []int, size int64) string {
	s := fmt.Sprintf("%d labels", dims[0])
	if magic == MagicImages {
		s = fmt.Sprintf("%d images of %dx%d", dims[0], dims[1], dims[2])
	}
	if size >= 0 {
		s += fmt.Sprintf(" (%d bytes)", size)
	}
	return s
}

// ReadIDX reads one idx file of MNIST images or labels from r, raw or gzip-compressed
// (recognised by the gzip magic bytes). name is used in error messages only. It checks
// the magic number, the dimensions and that the data is exactly as long as the header
// claims. A header claiming more data than r holds is refused before the data buffer is
// allocated: if r has a Len method (bytes.Reader, strings.Reader) the claim is checked
// against it, otherwise at most the claimed size plus one byte is read and the buffer
// grows only as data actually arrives. Every error is one line starting with name.
func ReadIDX(r io.Reader, name string) (*IDX, error) {
	remaining := int64(-1)
	if l, ok := r.(interface{ Len() int }); ok {
		remaining = int64(l.Len())
	}
	br := bufio.NewReader(r)
	head, _ := br.Peek(2)
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: reading gzip header: %v", name, err)
		}
		return readIDX(zr, name, -1)
	}
	return readIDX(br, name, remaining)
}

// readIDX decodes an uncompressed idx stream. remaining is the number of bytes r holds,
// or -1 when unknown.
func readIDX(r io.Reader, name string, remaining int64) (*IDX, error) {
	var word [4]byte
	if n, err := io.ReadFull(r, word[:]); err != nil {
		return nil, fmt.Errorf("%s: truncated at offset %d: want a 4-byte magic number (0x%08x images or 0x%08x labels)%s",
			name, n, MagicImages, MagicLabels, readErr(err))
	}
	magic := binary.BigEndian.Uint32(word[:])
	var ndim int
	switch magic {
	case MagicImages:
		ndim = 3
	case MagicLabels:
		ndim = 1
	default:
		return nil, fmt.Errorf("%s: bad magic number 0x%08x at offset 0: want 0x%08x (images) or 0x%08x (labels)",
			name, magic, MagicImages, MagicLabels)
	}
	dims := make([]int, ndim)
	for i := range dims {
		off := 4 + 4*i
		if n, err := io.ReadFull(r, word[:]); err != nil {
			return nil, fmt.Errorf("%s: truncated at offset %d: want %d 4-byte dimensions after the magic number%s",
				name, off+n, ndim, readErr(err))
		}
		dims[i] = int(binary.BigEndian.Uint32(word[:]))
		if dims[i] == 0 && i > 0 {
			return nil, fmt.Errorf("%s: bad dimension 0 at offset %d: want image rows and columns of at least 1", name, off)
		}
	}
	size := int64(1)
	for _, d := range dims {
		size *= int64(d) // at most 2^31 * 2^32 before the check below stops the loop
		if size > maxIDXBytes {
			return nil, fmt.Errorf("%s: too large at offset 4: header claims %s, over the limit of %d bytes",
				name, describe(magic, dims, -1), int64(maxIDXBytes))
		}
	}
	header := int64(4 + 4*ndim)
	if remaining >= 0 {
		have := remaining - header
		if have < size {
			return nil, fmt.Errorf("%s: truncated at offset %d: header claims %s, file has %d",
				name, remaining, describe(magic, dims, size), have)
		}
		if have > size {
			return nil, fmt.Errorf("%s: unexpected data at offset %d: header claims %s, file has %d",
				name, header+size, describe(magic, dims, size), have)
		}
		data := make([]byte, size)
		if n, err := io.ReadFull(r, data); err != nil {
			return nil, fmt.Errorf("%s: truncated at offset %d: header claims %s%s",
				name, header+int64(n), describe(magic, dims, size), readErr(err))
		}
		return &IDX{Magic: magic, Dims: dims, Data: data}, nil
	}
	data, err := io.ReadAll(io.LimitReader(r, size+1))
	have := int64(len(data))
	if err != nil {
		return nil, fmt.Errorf("%s: reading data at offset %d: %v", name, header+have, err)
	}
	if have < size {
		return nil, fmt.Errorf("%s: truncated at offset %d: header claims %s, file has %d",
			name, header+have, describe(magic, dims, size), have)
	}
	if have > size {
		return nil, fmt.Errorf("%s: unexpected data at offset %d: header claims %s, file is longer",
			name, header+size, describe(magic, dims, size))
	}
	return &IDX{Magic: magic, Dims: dims, Data: data}, nil
}

// readErr describes a read error other than a plain end of file, as a suffix.
func readErr(err error) string {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ""
	}
	return " (" + oneLine(err.Error()) + ")"
}

// oneLine keeps an error text on a single line.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
}

// LoadIDX reads the idx file at path, raw or gzip-compressed. Errors name the path. For a
// raw file the header's claim is checked against the file size before anything is
// allocated.
func LoadIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError names the file
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var head [2]byte
	n, _ := io.ReadFull(f, head[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if n == 2 && head[0] == 0x1f && head[1] == 0x8b {
		return ReadIDX(f, path)
	}
	if !st.Mode().IsRegular() {
		return readIDX(bufio.NewReader(f), path, -1)
	}
	return readIDX(bufio.NewReader(f), path, st.Size())
}
