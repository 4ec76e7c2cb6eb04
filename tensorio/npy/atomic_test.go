package npy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/nndl/cnn/internal/atomicfile"
)

// dirNames lists the entries of dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.npy")
	if err := WriteFloat32(path, []int{2, 2}, []float32{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	shape, data, err := ReadFloat32(path)
	if err != nil || !slices.Equal(shape, []int{2, 2}) || !slices.Equal(data, []float32{1, 2, 3, 4}) {
		t.Fatalf("read back %v %v %v", shape, data, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v, want 0644", fi.Mode().Perm())
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"x.npy"}) {
		t.Errorf("directory holds %q, want only x.npy", names)
	}

	// Replacing keeps the old file's mode.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFloat64(path, []int{1}, []float64{9}); err != nil {
		t.Fatal(err)
	}
	shape, data64, err := ReadFloat64(path)
	if err != nil || !slices.Equal(shape, []int{1}) || !slices.Equal(data64, []float64{9}) {
		t.Fatalf("read back %v %v %v", shape, data64, err)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced file mode %v, want 0600", fi.Mode().Perm())
	}
}

// Every way of failing leaves the existing target byte for byte as it was
// and no temporary file behind.
func TestWriteFileFailureKeepsOldFile(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name  string
		write func(path string) error
	}{
		{"invalid array", func(path string) error { return WriteFloat32(path, []int{3}, []float32{1}) }},
		{"failure mid-write", func(path string) error {
			return atomicfile.Write(path, func(w io.Writer) error {
				if _, err := w.Write(bytes.Repeat([]byte("x"), 200_000)); err != nil {
					return err
				}
				return errBoom
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "x.npy")
			if err := WriteFloat32(path, []int{3}, []float32{1, 2, 3}); err != nil {
				t.Fatal(err)
			}
			old, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.write(path); err == nil {
				t.Fatal("no error")
			}
			now, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(now, old) {
				t.Error("existing file changed")
			}
			if names := dirNames(t, dir); !slices.Equal(names, []string{"x.npy"}) {
				t.Errorf("directory holds %q, want only x.npy", names)
			}
		})
	}
}
