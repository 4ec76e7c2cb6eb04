package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
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

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestWriteNewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.txt")
	if err := WriteBytes(path, []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); string(got) != "hello\n" {
		t.Errorf("file holds %q", got)
	}
	if p := perm(t, path); runtime.GOOS != "windows" && p != 0o644 {
		t.Errorf("new file mode %v, want 0644", p)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"a.txt"}) {
		t.Errorf("directory holds %q, want only a.txt", names)
	}
}

// Content larger than the buffer, written in small pieces, arrives whole.
func TestWriteLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.bin")
	want := bytes.Repeat([]byte("0123456789abcdef"), 20_000) // 320 kB
	err := Write(path, func(w io.Writer) error {
		for i := 0; i < len(want); i += 7 {
			if _, err := w.Write(want[i:min(i+7, len(want))]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); !bytes.Equal(got, want) {
		t.Errorf("read back %d bytes, want %d", len(got), len(want))
	}
}

// Replacing renames a new file over the old one: while the new content is being written
// the target still holds the old content, whole, and a reader that opened the old file
// keeps reading it.
func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "best.safetensors")
	old := bytes.Repeat([]byte("old "), 50_000)
	if err := WriteBytes(path, old); err != nil {
		t.Fatal(err)
	}
	reader, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()

	neu := bytes.Repeat([]byte("new!"), 60_000)
	err = Write(path, func(w io.Writer) error {
		if _, err := w.Write(neu[:len(neu)/2]); err != nil {
			return err
		}
		// Half written (and more than a buffer's worth flushed to the temporary file).
		if got := readFile(t, path); !bytes.Equal(got, old) {
			t.Errorf("mid-write the target holds %d bytes, not the old content", len(got))
		}
		if names := dirNames(t, dir); len(names) != 2 {
			t.Errorf("mid-write the directory holds %q, want the target and one temporary file", names)
		} else if tmp := names[0]; !strings.HasPrefix(tmp, ".best.safetensors.tmp") {
			t.Errorf("temporary file %q, want .best.safetensors.tmp*", tmp)
		}
		_, err := w.Write(neu[len(neu)/2:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); !bytes.Equal(got, neu) {
		t.Errorf("target holds %d bytes, not the new content", len(got))
	}
	if got, err := io.ReadAll(reader); err != nil || !bytes.Equal(got, old) {
		t.Errorf("a reader of the old file got %d bytes (%v), want the old content whole", len(got), err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"best.safetensors"}) {
		t.Errorf("directory holds %q, want only best.safetensors", names)
	}
}

func TestWriteKeepsMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	path := filepath.Join(t.TempDir(), "m.csv")
	for _, mode := range []os.FileMode{0o600, 0o640, 0o755} {
		if err := WriteBytes(path, []byte("a")); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if err := WriteBytes(path, []byte("b")); err != nil {
			t.Fatal(err)
		}
		if p := perm(t, path); p != mode {
			t.Errorf("replaced file mode %v, want the old %v", p, mode)
		}
		if got := readFile(t, path); string(got) != "b" {
			t.Errorf("file holds %q, want b", got)
		}
	}
}

// Every way of failing leaves the existing target byte for byte as it was, with its mode,
// and no temporary file behind.
func TestWriteFailureKeepsOldFile(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name  string
		write func(w io.Writer) error
	}{
		{"error at once", func(w io.Writer) error { return errBoom }},
		{"error mid-write", func(w io.Writer) error {
			if _, err := w.Write(bytes.Repeat([]byte("x"), 200_000)); err != nil {
				return err
			}
			return errBoom
		}},
		{"error after a small write", func(w io.Writer) error {
			if _, err := w.Write([]byte("partial")); err != nil {
				return err
			}
			return errBoom
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "metrics.csv")
			old := []byte("split,step\ntrain,0\n")
			if err := WriteBytes(path, old); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o600); err != nil {
				t.Fatal(err)
			}
			err := Write(path, tt.write)
			if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want one wrapping boom and naming %s", err, path)
			}
			if got := readFile(t, path); !bytes.Equal(got, old) {
				t.Errorf("existing file changed to %q", got)
			}
			if p := perm(t, path); runtime.GOOS != "windows" && p != 0o600 {
				t.Errorf("existing file mode changed to %v", p)
			}
			if names := dirNames(t, dir); !slices.Equal(names, []string{"metrics.csv"}) {
				t.Errorf("directory holds %q, want only metrics.csv", names)
			}
		})
	}
}

// A writer that panics leaves no temporary file and the old file intact; the panic goes on.
func TestWritePanicCleansUp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.bin")
	if err := WriteBytes(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if r := recover(); r != "oops" {
				t.Errorf("recovered %v, want the writer's panic", r)
			}
		}()
		Write(path, func(w io.Writer) error {
			w.Write(bytes.Repeat([]byte("x"), 100_000))
			panic("oops")
		})
	}()
	if got := readFile(t, path); string(got) != "old" {
		t.Errorf("existing file changed to %d bytes", len(got))
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"a.bin"}) {
		t.Errorf("directory holds %q, want only a.bin", names)
	}
}

// A rename that fails (the target is a non-empty directory) removes the temporary file and
// leaves the directory alone.
func TestWriteRenameFails(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.png")
	if err := os.MkdirAll(filepath.Join(target, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := WriteBytes(target, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), target) {
		t.Fatalf("error %v, want one naming %s", err, target)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"out.png"}) {
		t.Errorf("directory holds %q, want only out.png", names)
	}
	if names := dirNames(t, target); !slices.Equal(names, []string{"keep"}) {
		t.Errorf("target directory holds %q", names)
	}
}

func TestWriteMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "x.json")
	err := WriteBytes(path, []byte("{}"))
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("error %v, want a not-exist error starting with %s", err, path)
	}
}

// A bare file name is written in the current directory.
func TestWriteBareName(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := WriteBytes("summary.json", []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "summary.json")); string(got) != "{}\n" {
		t.Errorf("file holds %q", got)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"summary.json"}) {
		t.Errorf("directory holds %q, want only summary.json", names)
	}
}
