package fileio

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// within runs f and fails the test if it does not return in time (a blocked open).
func within(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("still blocked after 10 s")
		return nil
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "zero-link")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		path, want string // want "" for success
	}{
		{regular, ""},
		{fifo, fifo + ": not a regular file"},
		{"/dev/zero", "/dev/zero: not a regular file"},
		{link, link + ": not a regular file"},
		{dir, dir + ": not a regular file"},
		{missing, "open " + missing + ": no such file or directory"},
	}
	for _, tt := range tests {
		err := within(t, func() error {
			f, fi, err := Open(tt.path)
			if err == nil {
				defer f.Close()
				if fi.Size() != 5 {
					t.Errorf("%s: size %d, want 5", tt.path, fi.Size())
				}
			}
			return err
		})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.path, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("%s: error %v, want %q", tt.path, err, tt.want)
		}
	}
}

func TestReadFileLimit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(path, 10); err != nil || string(b) != "0123456789" {
		t.Errorf("at the limit: %q, %v", b, err)
	}
	if _, err := ReadFile(path, 9); err == nil || err.Error() != path+": 10 bytes, more than the limit of 9" {
		t.Errorf("over the limit: error %v", err)
	}
	if err := within(t, func() error { _, err := ReadFile("/dev/zero", 1<<20); return err }); err == nil || err.Error() != "/dev/zero: not a regular file" {
		t.Errorf("/dev/zero: error %v", err)
	}
	// A file that grows after the size was checked is cut at the limit.
	r, err := OpenLimited(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.WriteFile(path, []byte("0123456789 and more"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 4)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if !strings.Contains(err.Error(), "more than the limit of 10 bytes") {
				t.Errorf("growing file: error %v", err)
			}
			break
		}
		if len(got) > 10 {
			t.Fatalf("read %d bytes past a limit of 10", len(got))
		}
	}
}
