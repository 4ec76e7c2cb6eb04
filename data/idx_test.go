package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// idxBytes builds an idx file: magic, dims, then data.
func idxBytes(magic uint32, dims []uint32, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// onlyReader hides a reader's Len method, as a network stream or a pipe would.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestReadIDX(t *testing.T) {
	pix := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	images := idxBytes(MagicImages, []uint32{2, 2, 3}, pix)
	labels := idxBytes(MagicLabels, []uint32{3}, []byte{5, 0, 4})
	tests := []struct {
		name    string
		in      []byte
		dims    []int
		wantErr string // empty: no error
	}{
		{"images", images, []int{2, 2, 3}, ""},
		{"labels", labels, []int{3}, ""},
		{"gzip images", gzipBytes(images), []int{2, 2, 3}, ""},
		{"no labels", idxBytes(MagicLabels, []uint32{0}, nil), []int{0}, ""},
		{"empty", nil, nil, "f: truncated at offset 0: want a 4-byte magic number"},
		{"short magic", []byte{0, 0, 8}, nil, "f: truncated at offset 3: want a 4-byte magic number"},
		{"bad magic", idxBytes(0x00000802, []uint32{1}, []byte{1}), nil, "f: bad magic number 0x00000802 at offset 0: want 0x00000803 (images) or 0x00000801 (labels)"},
		{"short dims", images[:10], nil, "f: truncated at offset 10: want 3 4-byte dimensions after the magic number"},
		{"zero rows", idxBytes(MagicImages, []uint32{1, 0, 3}, nil), nil, "f: bad dimension 0 at offset 8: want image rows and columns of at least 1"},
		{"2^31 images", idxBytes(MagicImages, []uint32{1 << 31, 28, 28}, pix), nil, "f: too large at offset 4: header claims 2147483648 images of 28x28, over the limit of 2147483648 bytes"},
		{"truncated data", images[:len(images)-2], nil, "f: truncated at offset 26: header claims 2 images of 2x3 (12 bytes), file has 10"},
		{"extra data", append(append([]byte(nil), images...), 0), nil, "f: unexpected data at offset 28: header claims 2 images of 2x3 (12 bytes), file has 13"},
		{"truncated labels", labels[:9], nil, "f: truncated at offset 9: header claims 3 labels (3 bytes), file has 1"},
		{"gzip truncated data", gzipBytes(images[:len(images)-2]), nil, "f: truncated at offset 26: header claims 2 images of 2x3 (12 bytes), file has 10"},
		{"gzip extra data", gzipBytes(append(append([]byte(nil), images...), 0)), nil, "f: unexpected data at offset 28: header claims 2 images of 2x3 (12 bytes), file is longer"},
		{"gzip cut", gzipBytes(images)[:20], nil, "f: "},
		{"gzip bad header", []byte{0x1f, 0x8b, 0}, nil, "f: reading gzip header: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, hideLen := range []bool{false, true} {
				var r io.Reader = bytes.NewReader(tt.in)
				if hideLen {
					r = onlyReader{r}
				}
				x, err := ReadIDX(r, "f")
				if tt.wantErr == "" {
					if err != nil {
						t.Fatalf("ReadIDX: %v", err)
					}
					if !equalInts(x.Dims, tt.dims) {
						t.Errorf("dims %v, want %v", x.Dims, tt.dims)
					}
					continue
				}
				if err == nil {
					t.Fatalf("ReadIDX: no error, want %q", tt.wantErr)
				}
				msg := err.Error()
				if strings.Contains(msg, "\n") {
					t.Errorf("error spans lines: %q", msg)
				}
				// The gzip stream's length is unknown, so "file is longer" replaces the count.
				want := tt.wantErr
				if hideLen && strings.HasSuffix(want, "file has 13") {
					want = strings.TrimSuffix(want, "file has 13") + "file is longer"
				}
				if !strings.HasPrefix(msg, want) {
					t.Errorf("error %q, want %q", msg, want)
				}
			}
		})
	}
	x, err := ReadIDX(bytes.NewReader(images), "f")
	if err != nil || !bytes.Equal(x.Data, pix) || x.Magic != MagicImages || x.N() != 2 {
		t.Errorf("ReadIDX(images) = %+v, %v", x, err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLoadIDX(t *testing.T) {
	dir := t.TempDir()
	images := idxBytes(MagicImages, []uint32{2, 2, 3}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	claim := idxBytes(MagicImages, []uint32{10000, 28, 28}, make([]byte, 5000))
	tests := []struct {
		file    string
		content []byte
		wantErr string
	}{
		{"raw", images, ""},
		{"zipped.gz", gzipBytes(images), ""},
		{"t10k-images-idx3-ubyte", claim, "t10k-images-idx3-ubyte: truncated at offset 5016: header claims 10000 images of 28x28 (7840000 bytes), file has 5000"},
		{"t10k-images-idx3-ubyte.gz", gzipBytes(claim), "t10k-images-idx3-ubyte.gz: truncated at offset 5016: header claims 10000 images of 28x28 (7840000 bytes), file has 5000"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			if err := os.WriteFile(path, tt.content, 0o644); err != nil {
				t.Fatal(err)
			}
			x, err := LoadIDX(path)
			if tt.wantErr == "" {
				if err != nil || !equalInts(x.Dims, []int{2, 2, 3}) {
					t.Fatalf("LoadIDX = %v, %v", x, err)
				}
				return
			}
			if err == nil || err.Error() != filepath.Join(dir, tt.wantErr) {
				t.Errorf("LoadIDX error %v, want %q", err, filepath.Join(dir, tt.wantErr))
			}
		})
	}
	if _, err := LoadIDX(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("LoadIDX(missing) error %v, want one naming the file", err)
	}
}

// TestReadIDXHugeClaim checks that a header claiming far more data than follows is
// refused without allocating for the claim, also when the stream's length is unknown.
func TestReadIDXHugeClaim(t *testing.T) {
	// 2,000,000 images of 28x28: 1.5 GB claimed, 100 bytes present.
	claim := idxBytes(MagicImages, []uint32{2000000, 28, 28}, make([]byte, 100))
	for _, in := range [][]byte{claim, gzipBytes(claim)} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := ReadIDX(onlyReader{bytes.NewReader(in)}, "big")
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "truncated at offset 116") {
			t.Errorf("error %v, want truncated at offset 116", err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("allocated %d bytes for a 1.5 GB claim", n)
		}
	}
}

// FuzzReadIDX checks that no input makes ReadIDX panic, and that what it accepts is
// consistent with its header.
func FuzzReadIDX(f *testing.F) {
	images := idxBytes(MagicImages, []uint32{2, 2, 3}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add(images)
	f.Add(gzipBytes(images))
	f.Add(idxBytes(MagicLabels, []uint32{3}, []byte{5, 0, 4}))
	f.Add(idxBytes(MagicImages, []uint32{1 << 31, 28, 28}, nil))
	f.Add(idxBytes(MagicImages, []uint32{0xffffffff, 0xffffffff, 0xffffffff}, nil))
	f.Add(gzipBytes(idxBytes(MagicImages, []uint32{100000, 28, 28}, make([]byte, 1000))))
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, r := range []io.Reader{bytes.NewReader(in), onlyReader{bytes.NewReader(in)}} {
			x, err := ReadIDX(r, "fuzz")
			if err != nil {
				if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "fuzz: ") {
					t.Errorf("bad error text %q", err)
				}
				continue
			}
			n := 1
			for _, d := range x.Dims {
				n *= d
			}
			if n != len(x.Data) {
				t.Errorf("dims %v but %d data bytes", x.Dims, len(x.Data))
			}
		}
	})
}
