package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteErrorNamesTheFolder: when the temporary file cannot be created, the error names
// the target and its folder, never the temporary file's random name, so that the same
// mistake always prints the same line.
func TestWriteErrorNamesTheFolder(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-folder")
	path := filepath.Join(missing, "out.npy")
	err := WriteBytes(path, []byte("x"))
	want := path + ": creating a file in " + missing + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v is not os.ErrNotExist", err)
	}
}
