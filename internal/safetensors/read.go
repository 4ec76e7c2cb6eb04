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
	"os"
	"slices"
	"strings"
	"unicode/utf8"
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
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
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
			return nil, fmt.Errorf("%s: tensor %q: reading %d bytes at file offset %d: %v", name, e.name, len(b), dataStart+e.begin, err)
		}
		f.Tensors[e.name] = decode(e.dtype, e.shape, b)
	}
	return f, nil
}

// decode converts little-endian bytes to a tensor of dtype. len(b) has
// been checked to be a whole number of elements.
func decode(dtype string, shape []int, b []byte) Tensor {
	t := Tensor{DType: dtype, Shape: shape}
	le := binary.LittleEndian
	switch dtype {
	case F32:
		t.F32 = make([]float32, len(b)/4)
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case F64:
		t.F64 = make([]float64, len(b)/8)
		for i := range t.F64 {
			t.F64[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
	case I64:
		t.I64 = make([]int64, len(b)/8)
		for i := range t.I64 {
			t.I64[i] = int64(le.Uint64(b[8*i:]))
		}
	case I32:
		t.I32 = make([]int32, len(b)/4)
		for i := range t.I32 {
			t.I32[i] = int32(le.Uint32(b[4*i:]))
		}
	case U8:
		t.U8 = bytes.Clone(b)
		if t.U8 == nil {
			t.U8 = []uint8{}
		}
	}
	return t
}

// field is one member of a JSON object, in file order.
type field struct {
	key string
	raw json.RawMessage
}

// objectFields splits a JSON object into its members, rejecting anything
// that is not an object and duplicate keys. what names the object in
// errors.
func objectFields(raw []byte, what string) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%s is %s, want a JSON object", what, describe(raw))
	}
	var fields []field
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", what, err)
		}
		key := tok.(string) // inside an object, json.Decoder only yields string keys
		if seen[key] {
			return nil, fmt.Errorf("%s has key %q twice", what, key)
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: key %q: %v", what, key, err)
		}
		fields = append(fields, field{key, v})
	}
	return fields, nil
}

// describe names the JSON type of raw for error messages.
func describe(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
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

// parseHeader validates the JSON header against a data section of dataLen
// bytes. Errors do not carry the file name.
func parseHeader(header []byte, dataLen int64) ([]entry, map[string]string, error) {
	// Full syntax check first, so that errors carry a byte offset and the
	// token walk below only sees valid JSON (followed by padding).
	var raw json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, nil, fmt.Errorf("header is not valid JSON: %v at header byte %d", err, se.Offset)
		}
		return nil, nil, fmt.Errorf("header is not valid JSON: %v", err)
	}
	if !utf8.Valid(raw) {
		return nil, nil, fmt.Errorf("header is not valid UTF-8")
	}
	fields, err := objectFields(raw, "header")
	if err != nil {
		return nil, nil, err
	}
	meta := map[string]string{}
	entries := make([]entry, 0, len(fields))
	for _, fl := range fields {
		if fl.key == "__metadata__" {
			if meta, err = parseMetadata(fl.raw); err != nil {
				return nil, nil, err
			}
			continue
		}
		e, err := parseEntry(fl.key, fl.raw, dataLen)
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %v", fl.key, err)
		}
		entries = append(entries, e)
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
			return nil, nil, fmt.Errorf("tensors %q [%d %d] and %q [%d %d] overlap", p.name, p.begin, p.end, e.name, e.begin, e.end)
		}
		if e.begin > pos {
			return nil, nil, fmt.Errorf("data bytes [%d %d) belong to no tensor (next tensor %q starts at %d)", pos, e.begin, e.name, e.begin)
		}
		pos = e.end
	}
	if pos != dataLen {
		return nil, nil, fmt.Errorf("data bytes [%d %d) after the last tensor belong to no tensor", pos, dataLen)
	}
	return entries, meta, nil
}

// parseMetadata validates the "__metadata__" object of strings.
func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	meta := map[string]string{}
	if string(raw) == "null" {
		return meta, nil
	}
	fields, err := objectFields(raw, "__metadata__")
	if err != nil {
		return nil, err
	}
	for _, fl := range fields {
		var s string
		if fl.raw[0] != '"' || json.Unmarshal(fl.raw, &s) != nil {
			return nil, fmt.Errorf("__metadata__ %q is %s, want a string", fl.key, describe(fl.raw))
		}
		meta[fl.key] = s
	}
	return meta, nil
}

// parseEntry validates one tensor record. Errors do not carry the tensor
// name.
func parseEntry(name string, raw json.RawMessage, dataLen int64) (entry, error) {
	fields, err := objectFields(raw, "record")
	if err != nil {
		return entry{}, err
	}
	var dtypeRaw, shapeRaw, offRaw json.RawMessage
	for _, fl := range fields {
		switch fl.key {
		case "dtype":
			dtypeRaw = fl.raw
		case "shape":
			shapeRaw = fl.raw
		case "data_offsets":
			offRaw = fl.raw
		default:
			return entry{}, fmt.Errorf("unknown field %q (want dtype, shape, data_offsets)", fl.key)
		}
	}
	for _, req := range []struct {
		key string
		raw json.RawMessage
	}{{"dtype", dtypeRaw}, {"shape", shapeRaw}, {"data_offsets", offRaw}} {
		if req.raw == nil {
			return entry{}, fmt.Errorf("missing %q", req.key)
		}
	}

	e := entry{name: name}
	if dtypeRaw[0] != '"' || json.Unmarshal(dtypeRaw, &e.dtype) != nil {
		return entry{}, fmt.Errorf("dtype is %s, want a string", describe(dtypeRaw))
	}
	size := DTypeSize(e.dtype)
	if size == 0 {
		return entry{}, fmt.Errorf("unsupported dtype %q (want F32, F64, I64, I32 or U8)", e.dtype)
	}

	if e.shape, err = uintArray(shapeRaw, "shape"); err != nil {
		return entry{}, err
	}
	count, ok := numElements(e.shape)
	if !ok || count > math.MaxInt/size {
		return entry{}, fmt.Errorf("shape %v has too many elements", e.shape)
	}
	need := int64(count) * int64(size)

	offs, err := uintArray(offRaw, "data_offsets")
	if err != nil {
		return entry{}, err
	}
	if len(offs) != 2 {
		return entry{}, fmt.Errorf("data_offsets %v has %d numbers, want 2", offs, len(offs))
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

// snippet returns raw compacted to one line and cut to at most 64 bytes,
// for quoting header JSON in errors.
func snippet(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		b.Reset()
		b.Write(raw)
	}
	s := b.String()
	if len(s) > 64 {
		s = strings.ToValidUTF8(s[:61], "") + "..."
	}
	return s
}

// uintArray parses a JSON array of non-negative integers that fit in an
// int, each written as plain digits. raw is known to be valid JSON, so it
// is split on commas directly rather than decoded into an intermediate
// slice: this keeps memory at one int per element.
func uintArray(raw json.RawMessage, what string) ([]int, error) {
	if raw[0] != '[' {
		return nil, fmt.Errorf("%s is %s, want an array of integers", what, describe(raw))
	}
	body := bytes.TrimSpace(raw[1 : len(raw)-1])
	if len(body) == 0 {
		return []int{}, nil
	}
	out := make([]int, 0, bytes.Count(body, []byte{','})+1)
	for i := 0; len(body) > 0; i++ {
		el, rest, _ := bytes.Cut(body, []byte{','})
		body = rest
		el = bytes.TrimSpace(el)
		if len(el) > 0 && el[0] == '-' {
			return nil, fmt.Errorf("%s %s: element %d is negative", what, snippet(raw), i)
		}
		v, ok, tooLarge := parseDigits(el)
		if tooLarge {
			return nil, fmt.Errorf("%s %s: element %d is too large", what, snippet(raw), i)
		}
		if !ok {
			return nil, fmt.Errorf("%s %s: element %d is not an integer", what, snippet(raw), i)
		}
		out = append(out, v)
	}
	return out, nil
}

// parseDigits parses a non-empty run of decimal digits. ok is false if b
// holds anything else; tooLarge is true if the value exceeds math.MaxInt.
func parseDigits(b []byte) (v int, ok, tooLarge bool) {
	if len(b) == 0 {
		return 0, false, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	for _, c := range b {
		d := int(c - '0')
		if v > (math.MaxInt-d)/10 {
			return 0, false, true
		}
		v = v*10 + d
	}
	return v, true, false
}
