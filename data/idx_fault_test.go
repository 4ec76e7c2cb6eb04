package data

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestIDXRefusesHugeClaimsBeforeAllocating: headers claiming 2^31 images or labels are
// refused without allocating anything of the claimed size, whether the length of the input
// is known (a file, a bytes.Reader), unknown (a pipe) or hidden by gzip.
func TestIDXRefusesHugeClaimsBeforeAllocating(t *testing.T) {
	images := idxBytes(MagicImages, []uint32{1 << 31, 28, 28}, make([]byte, 64))
	labels := idxBytes(MagicLabels, []uint32{1 << 31}, make([]byte, 64))
	maxDims := idxBytes(MagicImages, []uint32{0xffffffff, 0xffffffff, 0xffffffff}, nil)
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"2^31 images", images, "f: too large at offset 4: header claims 2147483648 images of 28x28, over the limit of 2147483648 bytes"},
		{"2^31 images gzip", gzipBytes(images), "f: too large at offset 4: header claims 2147483648 images of 28x28"},
		{"2^32-1 in every dimension", maxDims, "f: too large at offset 4: header claims 4294967295 images of 4294967295x4294967295"},
		// 2^31 labels are 2^31 bytes, at the limit: refused for the data that is not there.
		{"2^31 labels", labels, "f: truncated at offset "},
		{"2^31 labels gzip", gzipBytes(labels), "f: truncated at offset 72: header claims 2147483648 labels (2147483648 bytes), file has 64"},
	}
	for _, tt := range tests {
		for _, hide := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(tt.in)
			if hide {
				r = onlyReader{r}
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := ReadIDX(r, "f")
			runtime.ReadMemStats(&after)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("%s (length hidden: %v): error %v, want %q", tt.name, hide, err, tt.want)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
				t.Errorf("%s (length hidden: %v): allocated %d bytes for a %d-byte input", tt.name, hide, grew, len(tt.in))
			}
		}
	}

	// The same files on disk, through LoadIDX.
	dir := t.TempDir()
	for name, b := range map[string][]byte{"images": images, "labels": labels, "images.gz": gzipBytes(images), "labels.gz": gzipBytes(labels)} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := LoadIDX(path)
		runtime.ReadMemStats(&after)
		if err == nil || !strings.HasPrefix(err.Error(), path+": ") {
			t.Errorf("LoadIDX(%s): error %v, want one naming the file", name, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Errorf("LoadIDX(%s): allocated %d bytes for a %d-byte file", name, grew, len(b))
		}
	}
}
