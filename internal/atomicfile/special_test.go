package atomicfile

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWriteRefusesNonRegular: a directory, a symbolic link, a named pipe or a character
// device at the target is refused with an error naming the target and what it is, and is
// left as it was, as is the file a link points to.
func TestWriteRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	pointee := filepath.Join(dir, "pointee")
	if err := os.WriteFile(pointee, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(pointee, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, kind string
		mode       os.FileMode
	}{
		{link, "a symbolic link", os.ModeSymlink},
		{fifo, "a named pipe", os.ModeNamedPipe},
		{sub, "a directory", os.ModeDir},
		{"/dev/null", "a character device", os.ModeCharDevice},
	} {
		err := WriteBytes(c.path, []byte("new"))
		want := c.path + ": " + c.kind + ", not a regular file; not replacing it"
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", c.path, err, want)
		}
		fi, err := os.Lstat(c.path)
		if err != nil || fi.Mode()&c.mode == 0 {
			t.Errorf("%s is now %v (%v)", c.path, fi.Mode(), err)
		}
	}
	if b, _ := os.ReadFile(pointee); string(b) != "keep" {
		t.Errorf("the link's target holds %q", b)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"fifo", "link", "pointee", "sub"}) {
		t.Errorf("directory holds %q", names)
	}
}

func TestIsTemp(t *testing.T) {
	for name, want := range map[string]bool{
		".best.safetensors.tmp123456": true,
		".best.safetensors.tmp1":      true,
		".best.safetensors.tmp":       false,
		".best.safetensors.tmp12x":    false,
		"best.safetensors.tmp12":      false,
		".other.csv.tmp12":            false,
		".best.safetensors":           false,
	} {
		if got := IsTemp(name, "best.safetensors"); got != want {
			t.Errorf("IsTemp(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestRemoveStale removes the temporary files of the named targets older than the cut-off,
// and nothing else: not other targets' temporaries, not files written after the cut-off,
// not look-alikes, not directories.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour)
	mk := func(name string, mtime time.Time) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	mk(".a.bin.tmp111", old)
	mk(".b.csv.tmp222", old)
	mk(".a.bin.tmp333", time.Now().Add(time.Hour)) // being written
	mk(".c.txt.tmp444", old)                       // not a target
	mk(".a.bin.tmpX", old)                         // not our pattern
	mk("a.bin", old)
	if err := os.Mkdir(filepath.Join(dir, ".a.bin.tmp555"), 0o755); err != nil {
		t.Fatal(err)
	}
	removed, err := RemoveStale(dir, []string{"a.bin", "b.csv"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if !slices.Equal(removed, []string{".a.bin.tmp111", ".b.csv.tmp222"}) {
		t.Errorf("removed %q", removed)
	}
	want := []string{".a.bin.tmp333", ".a.bin.tmp555", ".a.bin.tmpX", ".c.txt.tmp444", "a.bin"}
	if names := dirNames(t, dir); !slices.Equal(names, want) {
		t.Errorf("directory holds %q, want %q", names, want)
	}
	if _, err := RemoveStale(filepath.Join(dir, "none"), []string{"a.bin"}, time.Now()); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("missing folder: error %v", err)
	}
}
