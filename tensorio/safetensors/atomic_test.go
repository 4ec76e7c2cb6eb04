package safetensors

import (
	"bytes"
	"errors"
	"github.com/nndl/cnn/tensorio"
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
	path := filepath.Join(dir, "m.safetensors")
	want := fixtureWant()
	if err := WriteFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sameFile(t, got, want)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v, want 0644", fi.Mode().Perm())
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"m.safetensors"}) {
		t.Errorf("directory holds %q, want only m.safetensors", names)
	}

	// Replacing keeps the old file's mode.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	small := &File{Tensors: map[string]Tensor{"x": tensorio.NewFloat32([]int{1}, []float32{7})}}
	if err := WriteFile(path, small); err != nil {
		t.Fatal(err)
	}
	got, err = ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	small.Names = []string{"x"}
	sameFile(t, got, small)
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
		{"invalid tensor", func(path string) error {
			return WriteFile(path, &File{Tensors: map[string]Tensor{"w": tensorio.NewFloat32([]int{3}, nil)}})
		}},
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
			path := filepath.Join(dir, "best.safetensors")
			if err := WriteFile(path, fixtureWant()); err != nil {
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
			if names := dirNames(t, dir); !slices.Equal(names, []string{"best.safetensors"}) {
				t.Errorf("directory holds %q, want only best.safetensors", names)
			}
		})
	}
}
