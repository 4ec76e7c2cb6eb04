package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nndl/cnn/internal/fileio"
	"github.com/nndl/cnn/tensorio"
)

// entry is one validated tensor record of a header.
type entry struct {
	name       string
	dtype      string
	shape      []int
	begin, end int64 // offsets into the data section
}

// ReadFile reads and validates the .safetensors file at path. Errors are
// one line and start with path.
func ReadFile(path string) (*File, error) {
	fh, st, err := fileio.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return Read(fh, st.Size(), path)
}

// Read reads and validates a .safetensors file of size bytes from r. name
// identifies the file in error messages. The whole header is checked before
// any tensor data is allocated, and no allocation depends on a size that
// the file does not actually contain. Use bytes.NewReader to read from
// memory.
func Read(r io.ReaderAt, size int64, name string) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("%s: file has %d bytes, too short for the 8-byte header length", name, size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("%s: reading header length: %v", name, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > uint64(size-8) {
		return nil, fmt.Errorf("%s: header claims %d bytes, file has %d", name, n, size)
	}
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("%s: header claims %d bytes, more than the limit of %d", name, n, MaxHeaderSize)
	}
	header := make([]byte, n)
	if _, err := r.ReadAt(header, 8); err != nil {
		return nil, fmt.Errorf("%s: reading %d-byte header: %v", name, n, err)
	}
	dataStart := 8 + int64(n)
	dataLen := size - dataStart
	entries, meta, err := parseHeader(header, dataLen)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}

	f := &File{
		Tensors:  make(map[string]Tensor, len(entries)),
		Names:    make([]string, len(entries)),
		Metadata: meta,
	}
	var maxBytes int64
	for i, e := range entries {
		f.Names[i] = e.name
		maxBytes = max(maxBytes, e.end-e.begin)
	}
	slices.Sort(f.Names)
	// All sizes are now known to lie inside the file: one scratch buffer
	// as large as the largest tensor, then each tensor's own slice.
	buf := make([]byte, maxBytes)
	for _, e := range entries {
		b := buf[:e.end-e.begin]
		// Skip empty reads: some ReaderAts report io.EOF for them at the
		// end of the input.
		if _, err := r.ReadAt(b, dataStart+e.begin); err != nil && len(b) > 0 {
			return nil, fmt.Errorf("%s: tensor %q: reading %d bytes at file offset %d: %v", name, clip(e.name), len(b), dataStart+e.begin, err)
		}
		f.Tensors[e.name] = tensorio.Decode(e.dtype, e.shape, b) // b holds a whole number of elements
	}
	return f, nil
}

// scanner walks a header that json.Valid has accepted. Because the syntax
// is known to be right, it only needs to tell values apart and read the
// ones the format defines, which it does without intermediate copies:
// parsing costs a small constant multiple of the header's size, which
// encoding/json's token API does not (it allocates per token).
type scanner struct {
	b []byte
	i int
}

// peek skips whitespace and returns the next byte (0 at the end).
func (s *scanner) peek() byte {
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return c
		}
	}
	return 0
}

// skip consumes the next byte after whitespace; the caller knows what it
// is from the JSON syntax.
func (s *scanner) skip() {
	s.peek()
	s.i++
}

// next moves past the ',' that may follow a value in an object or array.
func (s *scanner) next() {
	if s.peek() == ',' {
		s.i++
	}
}

// str reads the string that starts at the next byte.
func (s *scanner) str() string {
	s.peek()
	start := s.i
	escaped := false
	j := start + 1
	for s.b[j] != '"' {
		if s.b[j] == '\\' {
			escaped = true
			j++
		}
		j++
	}
	s.i = j + 1
	if !escaped {
		return string(s.b[start+1 : j])
	}
	var out string
	json.Unmarshal(s.b[start:j+1], &out) // valid by construction
	return out
}

// number reads the number that starts at the next byte, as written.
func (s *scanner) number() []byte {
	s.peek()
	start := s.i
	for s.i < len(s.b) && strings.IndexByte("+-.0123456789eE", s.b[s.i]) >= 0 {
		s.i++
	}
	return s.b[start:s.i]
}

// kind names the JSON type of the next value for error messages.
func (s *scanner) kind() string {
	switch s.peek() {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// clip shortens s to at most 32 bytes for quoting in errors.
func clip(s string) string {
	if len(s) > 32 {
		return strings.ToValidUTF8(s[:29], "") + "..."
	}
	return s
}

// parseHeader validates the JSON header against a data section of dataLen
// bytes. Errors do not carry the file name.
func parseHeader(header []byte, dataLen int64) ([]entry, map[string]string, error) {
	// Full syntax check first, so that the token walk below only sees
	// valid JSON (followed by padding) and syntax errors carry an offset.
	if !json.Valid(header) {
		var v struct{}
		err := json.Unmarshal(header, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, nil, fmt.Errorf("header is not valid JSON: %v at header byte %d", err, se.Offset)
		}
		return nil, nil, fmt.Errorf("header is not valid JSON: %v", err)
	}
	if !utf8.Valid(header) {
		return nil, nil, fmt.Errorf("header is not valid UTF-8")
	}
	sc := &scanner{b: header}
	if sc.peek() != '{' {
		return nil, nil, fmt.Errorf("header is %s, want a JSON object", sc.kind())
	}
	sc.skip()
	meta := map[string]string{}
	var entries []entry
	seen := make(map[string]bool)
	for sc.peek() != '}' {
		name := sc.str()
		sc.skip() // ':'
		if seen[name] {
			return nil, nil, fmt.Errorf("header has key %q twice", clip(name))
		}
		seen[name] = true
		var err error
		if name == "__metadata__" {
			if meta, err = sc.metadata(); err != nil {
				return nil, nil, err
			}
		} else {
			if len(entries) == MaxTensors {
				return nil, nil, fmt.Errorf("header has more than %d tensors", MaxTensors)
			}
			e, err := sc.entry(name, dataLen)
			if err != nil {
				return nil, nil, fmt.Errorf("tensor %q: %v", clip(name), err)
			}
			entries = append(entries, e)
		}
		sc.next()
	}

	// The tensors must tile the data section exactly: no overlap, no hole,
	// no trailing bytes (as the format requires, so that no bytes hide in
	// a file unaccounted for).
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), cmp.Compare(a.name, b.name))
	})
	var pos int64
	for i, e := range entries {
		if e.begin < pos {
			p := entries[i-1]
			return nil, nil, fmt.Errorf("tensors %q [%d %d] and %q [%d %d] overlap", clip(p.name), p.begin, p.end, clip(e.name), e.begin, e.end)
		}
		if e.begin > pos {
			return nil, nil, fmt.Errorf("data bytes [%d %d) belong to no tensor (next tensor %q starts at %d)", pos, e.begin, clip(e.name), e.begin)
		}
		pos = e.end
	}
	if pos != dataLen {
		return nil, nil, fmt.Errorf("data bytes [%d %d) after the last tensor belong to no tensor", pos, dataLen)
	}
	if entries == nil {
		entries = []entry{}
	}
	return entries, meta, nil
}

// metadata reads the "__metadata__" value: an object of strings, or null.
func (s *scanner) metadata() (map[string]string, error) {
	meta := map[string]string{}
	switch s.peek() {
	case 'n':
		s.i += len("null")
		return meta, nil
	case '{':
		s.skip()
	default:
		return nil, fmt.Errorf("__metadata__ is %s, want a JSON object", s.kind())
	}
	for s.peek() != '}' {
		k := s.str()
		s.skip() // ':'
		if _, dup := meta[k]; dup {
			return nil, fmt.Errorf("__metadata__ has key %q twice", clip(k))
		}
		if s.peek() != '"' {
			return nil, fmt.Errorf("__metadata__ %q is %s, want a string", clip(k), s.kind())
		}
		meta[k] = s.str()
		s.next()
	}
	s.skip() // '}'
	return meta, nil
}

// entry reads and validates one tensor record. Errors do not carry the
// tensor name.
func (s *scanner) entry(name string, dataLen int64) (entry, error) {
	if s.peek() != '{' {
		return entry{}, fmt.Errorf("record is %s, want a JSON object", s.kind())
	}
	s.skip()
	e := entry{name: name}
	var offs []int
	var have [3]bool
	for s.peek() != '}' {
		field := s.str()
		s.skip() // ':'
		var i int
		switch field {
		case "dtype":
			i = 0
		case "shape":
			i = 1
		case "data_offsets":
			i = 2
		default:
			return entry{}, fmt.Errorf("unknown field %q (want dtype, shape, data_offsets)", clip(field))
		}
		if have[i] {
			return entry{}, fmt.Errorf("record has key %q twice", clip(field))
		}
		have[i] = true
		var err error
		switch i {
		case 0:
			if s.peek() != '"' {
				return entry{}, fmt.Errorf("dtype is %s, want a string", s.kind())
			}
			e.dtype = s.str()
			if DTypeSize(e.dtype) == 0 {
				return entry{}, fmt.Errorf("unsupported dtype %q (want F32, F64, I64, I32 or U8)", clip(e.dtype))
			}
		case 1:
			if e.shape, err = s.uintArray("shape", -1); err != nil {
				return entry{}, err
			}
		case 2:
			if offs, err = s.uintArray("data_offsets", 2); err != nil {
				return entry{}, err
			}
		}
		s.next()
	}
	s.skip() // '}'
	for i, field := range []string{"dtype", "shape", "data_offsets"} {
		if !have[i] {
			return entry{}, fmt.Errorf("missing %q", field)
		}
	}

	size := DTypeSize(e.dtype)
	count, ok := tensorio.Count(e.shape, size)
	if !ok {
		return entry{}, fmt.Errorf("shape %v has too many elements", e.shape)
	}
	need := int64(count) * int64(size)
	if len(offs) != 2 {
		return entry{}, fmt.Errorf("data_offsets %v: want 2 numbers, got %d", offs, len(offs))
	}
	e.begin, e.end = int64(offs[0]), int64(offs[1])
	switch {
	case e.end < e.begin:
		return entry{}, fmt.Errorf("data_offsets [%d %d] end before they begin", e.begin, e.end)
	case e.end > dataLen:
		return entry{}, fmt.Errorf("data_offsets [%d %d] run past the %d data bytes", e.begin, e.end, dataLen)
	case e.end-e.begin != need:
		return entry{}, fmt.Errorf("data_offsets [%d %d] give %d bytes, shape %v %s needs %d", e.begin, e.end, e.end-e.begin, e.shape, e.dtype, need)
	}
	return e, nil
}

// uintArray reads a JSON array of non-negative integers that fit in an
// int, each written as plain digits. If limit >= 0, reading stops with an
// error after limit+1 elements.
func (s *scanner) uintArray(what string, limit int) ([]int, error) {
	if s.peek() != '[' {
		return nil, fmt.Errorf("%s is %s, want an array of integers", what, s.kind())
	}
	s.skip()
	// Size the result from the commas up to the closing bracket (exact for
	// a flat array of numbers, the only kind accepted).
	n := 0
	if end := bytes.IndexByte(s.b[s.i:], ']'); end > 0 {
		n = bytes.Count(s.b[s.i:s.i+end], []byte{','}) + 1
	}
	if limit >= 0 {
		n = min(n, limit)
	}
	out := make([]int, 0, n)
	for i := 0; s.peek() != ']'; i++ {
		if limit >= 0 && i == limit {
			return nil, fmt.Errorf("%s has more than %d numbers", what, limit)
		}
		if c := s.peek(); c != '-' && (c < '0' || c > '9') {
			return nil, fmt.Errorf("%s element %d is %s, want an integer", what, i, s.kind())
		}
		num := s.number()
		v, ok, tooLarge := parseDigits(num)
		switch {
		case num[0] == '-':
			return nil, fmt.Errorf("%s element %d is negative (%s)", what, i, clip(string(num)))
		case tooLarge:
			return nil, fmt.Errorf("%s element %d is too large (%s)", what, i, clip(string(num)))
		case !ok:
			return nil, fmt.Errorf("%s element %d is not an integer (%s)", what, i, clip(string(num)))
		}
		out = append(out, v)
		s.next()
	}
	s.skip() // ']'
	return out, nil
}

// parseDigits parses a non-empty run of decimal digits. ok is false if s
// holds anything else; tooLarge is true if the value exceeds math.MaxInt.
func parseDigits(s []byte) (v int, ok, tooLarge bool) {
	if len(s) == 0 {
		return 0, false, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false, false
		}
	}
	for i := 0; i < len(s); i++ {
		d := int(s[i] - '0')
		if v > (math.MaxInt-d)/10 {
			return 0, false, true
		}
		v = v*10 + d
	}
	return v, true, false
}
