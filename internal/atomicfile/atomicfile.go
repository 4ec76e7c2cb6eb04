// Package atomicfile writes files so that a reader sees either the old content or the
// whole new content, never a part: the data goes to a temporary file in the same directory,
// which is synced and then renamed over the target.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// Write creates or replaces path with what write produces, through a buffer. It writes a
// temporary file named ".BASE.tmp*" in path's directory, syncs and closes it, renames it
// over path and syncs the directory. A new file gets mode 0644; an existing regular file
// keeps its permission bits. A path that exists and is not a regular file (a directory, a
// symbolic link, a named pipe, a device or a socket) is refused before anything is
// written: a rename would replace it with a regular file.
//
// On any error before the rename the temporary file is removed and an existing file at
// path is left as it was. An error from the final directory sync means the new file is in
// place but may not survive a crash; a file system that cannot sync a directory at all is
// not an error. Every error names path. If write panics, the temporary file is removed
// before the panic goes on.
func Write(path string, write func(w io.Writer) error) error {
	wrap := func(err error) error { return fmt.Errorf("%s: %w", path, err) }
	dir := filepath.Dir(path)
	perm := os.FileMode(0o644)
	if fi, err := os.Lstat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return wrap(fmt.Errorf("%s, not a regular file; not replacing it", Kind(fi.Mode())))
		}
		perm = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		// Name the folder, not the temporary file: its random name would only confuse.
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return wrap(fmt.Errorf("creating a file in %s: %w", dir, err))
	}
	renamed := false
	defer func() { // also when write panics
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if err := write(bw); err != nil {
		return wrap(err)
	}
	if err := bw.Flush(); err != nil {
		return wrap(err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return wrap(err)
	}
	if err := tmp.Sync(); err != nil {
		return wrap(err)
	}
	if err := tmp.Close(); err != nil {
		return wrap(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) {
			err = le.Err // the temporary file's name would only confuse
		}
		return wrap(fmt.Errorf("replacing it: %w", err))
	}
	renamed = true
	// The new file is in place; make the rename itself durable.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("%s: written, but syncing its directory failed: %w", path, err)
	}
	return nil
}

// syncDir syncs a directory, where the platform and the file system allow it.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	if errors.Is(err, errors.ErrUnsupported) || errors.Is(err, syscall.EINVAL) {
		return nil // the file system cannot sync a directory
	}
	return err
}

// WriteBytes writes b to path atomically (see Write).
func WriteBytes(path string, b []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// Kind names the type of file a mode describes, for error messages: "a directory",
// "a symbolic link", "a named pipe", "a character device", "a device", "a socket", or
// "a regular file".
func Kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeSymlink != 0:
		return "a symbolic link"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m.IsRegular():
		return "a regular file"
	}
	return "not a regular file"
}
