package npy

import (
	"fmt"
	"math"
	"strings"
)

// pyTuple and pyList are parsed Python tuples and lists.
type (
	pyTuple []any
	pyList  []any
)

// pyDict is a parsed Python dict, keys in source order with their offsets.
type pyDict struct {
	keys    []string
	keyOffs []int // position of each key
	offs    []int // position of each value
	vals    []any
}

// litParser parses the subset of Python literal syntax that .npy headers
// use: dicts, tuples, lists, strings, integers, True, False and None.
// Offsets in its errors are file offsets (base plus the position).
type litParser struct {
	s      string
	pos    int
	base   int
	allowL bool // accept Python 2 long suffixes (3L), as NumPy does for versions 1.0 and 2.0
	depth  int
}

// maxDepth bounds nesting, so a header of brackets cannot exhaust the
// stack.
const maxDepth = 16

func (p *litParser) errorf(pos int, format string, args ...any) error {
	return fmt.Errorf("offset %d: header: %s", p.base+pos, fmt.Sprintf(format, args...))
}

// found describes what is at p.pos, for errors.
func (p *litParser) found() string {
	if p.pos >= len(p.s) {
		return "end of header"
	}
	return fmt.Sprintf("%q", p.s[p.pos])
}

func (p *litParser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			p.pos++
		default:
			return
		}
	}
}

// value parses one literal.
func (p *litParser) value() (any, error) {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return nil, p.errorf(p.pos, "expected a value, found end of header")
	}
	switch c := p.s[p.pos]; {
	case c == '{':
		return p.dict()
	case c == '(':
		return p.sequence('(', ')')
	case c == '[':
		return p.sequence('[', ']')
	case c == '\'' || c == '"':
		return p.str()
	case c == '-' || c == '+' || (c >= '0' && c <= '9'):
		return p.integer()
	}
	for _, w := range []struct {
		word string
		v    any
	}{{"True", true}, {"False", false}, {"None", nil}} {
		if strings.HasPrefix(p.s[p.pos:], w.word) && !isIdent(p.s, p.pos+len(w.word)) {
			p.pos += len(w.word)
			return w.v, nil
		}
	}
	return nil, p.errorf(p.pos, "expected a value, found %s", p.found())
}

// isIdent reports whether s[i] continues an identifier.
func isIdent(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	c := s[i]
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func (p *litParser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf(p.pos, "nested more than %d deep", maxDepth)
	}
	return nil
}

func (p *litParser) dict() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.pos++ // '{'
	var d pyDict
	seen := make(map[string]bool)
	for {
		p.skipSpace()
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			return d, nil
		}
		keyPos := p.pos
		k, err := p.value()
		if err != nil {
			return nil, err
		}
		key, ok := k.(string)
		if !ok {
			return nil, p.errorf(keyPos, "dict key is %s, want a string", kind(k))
		}
		if seen[key] {
			return nil, p.errorf(keyPos, "key %q appears twice", key)
		}
		seen[key] = true
		p.skipSpace()
		if p.pos >= len(p.s) || p.s[p.pos] != ':' {
			return nil, p.errorf(p.pos, "expected ':' after key %q, found %s", key, p.found())
		}
		p.pos++
		p.skipSpace()
		valPos := p.pos
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		d.keys, d.keyOffs = append(d.keys, key), append(d.keyOffs, keyPos)
		d.offs, d.vals = append(d.offs, valPos), append(d.vals, v)
		p.skipSpace()
		switch {
		case p.pos < len(p.s) && p.s[p.pos] == ',':
			p.pos++
		case p.pos < len(p.s) && p.s[p.pos] == '}':
		default:
			return nil, p.errorf(p.pos, "expected ',' or '}', found %s", p.found())
		}
	}
}

// sequence parses a tuple or a list. A parenthesized single value without
// a comma is that value, as in Python: (3) is 3, (3,) is a tuple.
func (p *litParser) sequence(open, closing byte) (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.pos++
	var items []any
	comma := false
	for {
		p.skipSpace()
		if p.pos < len(p.s) && p.s[p.pos] == closing {
			p.pos++
			break
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		p.skipSpace()
		switch {
		case p.pos < len(p.s) && p.s[p.pos] == ',':
			p.pos++
			comma = true
		case p.pos < len(p.s) && p.s[p.pos] == closing:
		default:
			return nil, p.errorf(p.pos, "expected ',' or %q, found %s", closing, p.found())
		}
	}
	if open == '[' {
		if items == nil {
			items = []any{}
		}
		return pyList(items), nil
	}
	if len(items) == 1 && !comma {
		return items[0], nil
	}
	if items == nil {
		items = []any{}
	}
	return pyTuple(items), nil
}

// str parses a quoted string. Backslash escapes are kept literally except
// \\ and escaped quotes: the headers this package accepts contain none.
func (p *litParser) str() (any, error) {
	start := p.pos
	q := p.s[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == q:
			p.pos++
			return b.String(), nil
		case c == '\n':
			return nil, p.errorf(p.pos, "newline inside the string that starts at offset %d", p.base+start)
		case c == '\\' && p.pos+1 < len(p.s) && (p.s[p.pos+1] == q || p.s[p.pos+1] == '\\'):
			b.WriteByte(p.s[p.pos+1])
			p.pos += 2
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return nil, p.errorf(start, "string never ends")
}

// integer parses an optionally signed decimal integer that fits in an int.
func (p *litParser) integer() (any, error) {
	start := p.pos
	neg := false
	if c := p.s[p.pos]; c == '-' || c == '+' {
		neg = c == '-'
		p.pos++
	}
	digits := p.pos
	for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		p.pos++
	}
	if p.pos == digits {
		return nil, p.errorf(p.pos, "expected digits, found %s", p.found())
	}
	v := 0
	for _, c := range []byte(p.s[digits:p.pos]) {
		d := int(c - '0')
		if v > (math.MaxInt-d)/10 {
			text := p.s[start:p.pos]
			if len(text) > 32 {
				text = text[:29] + "..."
			}
			return nil, p.errorf(start, "integer %s is too large", text)
		}
		v = v*10 + d
	}
	if p.allowL && p.pos < len(p.s) && (p.s[p.pos] == 'L' || p.s[p.pos] == 'l') {
		p.pos++
	}
	if isIdent(p.s, p.pos) || p.pos < len(p.s) && (p.s[p.pos] == '.') {
		return nil, p.errorf(start, "number is not an integer")
	}
	if neg {
		v = -v
	}
	return v, nil
}

// kind names the Python type of a parsed value, for errors.
func kind(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int:
		return fmt.Sprintf("the integer %d", v)
	case string:
		return fmt.Sprintf("the string %q", v)
	case pyTuple:
		return "a tuple"
	case pyList:
		return "a list"
	case pyDict:
		return "a dict"
	}
	return fmt.Sprintf("%T", v)
}

// header is the validated content of a .npy header.
type header struct {
	dtype string
	shape []int
}

// parseHeader parses and validates the header text h, which starts at file
// offset base. Errors carry offsets but not the file name.
func parseHeader(h string, base int, allowL bool) (header, error) {
	p := &litParser{s: h, base: base, allowL: allowL}
	p.skipSpace()
	if p.pos >= len(h) || h[p.pos] != '{' {
		return header{}, p.errorf(p.pos, "expected a dict literal '{', found %s", p.found())
	}
	v, err := p.value()
	if err != nil {
		return header{}, err
	}
	p.skipSpace()
	if p.pos != len(h) {
		return header{}, p.errorf(p.pos, "unexpected %s after the dict", p.found())
	}
	d := v.(pyDict)
	var out header
	var have [3]bool
	for i, key := range d.keys {
		at, val := d.offs[i], d.vals[i]
		switch key {
		case "descr":
			have[0] = true
			s, ok := val.(string)
			if !ok {
				return header{}, p.errorf(at, "descr is %s, want a dtype string such as '<f4'", kind(val))
			}
			if out.dtype, err = parseDescr(s); err != nil {
				return header{}, p.errorf(at, "%v", err)
			}
		case "fortran_order":
			have[1] = true
			b, ok := val.(bool)
			if !ok {
				return header{}, p.errorf(at, "fortran_order is %s, want True or False", kind(val))
			}
			if b {
				return header{}, p.errorf(at, "fortran_order is True: only C-order arrays are supported")
			}
		case "shape":
			have[2] = true
			t, ok := val.(pyTuple)
			if !ok {
				return header{}, p.errorf(at, "shape is %s, want a tuple of integers", kind(val))
			}
			out.shape = make([]int, len(t))
			for j, e := range t {
				n, ok := e.(int)
				if !ok {
					return header{}, p.errorf(at, "shape element %d is %s, want an integer", j, kind(e))
				}
				if n < 0 {
					return header{}, p.errorf(at, "shape element %d is negative (%d)", j, n)
				}
				out.shape[j] = n
			}
		default:
			return header{}, p.errorf(d.keyOffs[i], "unexpected key %q (want descr, fortran_order, shape)", key)
		}
	}
	for i, key := range []string{"descr", "fortran_order", "shape"} {
		if !have[i] {
			return header{}, p.errorf(0, "missing key %q", key)
		}
	}
	return out, nil
}

// parseDescr maps a NumPy descr to one of the supported dtypes.
func parseDescr(s string) (string, error) {
	switch s {
	case descrF32, descrF64, descrI64, descrI32, descrU8:
		return s, nil
	case "<u1", ">u1", "=u1", "u1", "B":
		return descrU8, nil
	}
	if len(s) == 3 && s[0] == '>' {
		return "", fmt.Errorf("descr %q is big-endian; only little-endian data is supported", s)
	}
	return "", fmt.Errorf("unsupported descr %q (want '<f4', '<f8', '<i8', '<i4' or '|u1')", s)
}
