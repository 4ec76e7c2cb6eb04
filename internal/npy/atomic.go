package npy

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// writeFileAtomic creates path with the bytes that write produces, without
// ever exposing a partial file: it writes a temporary file in the same
// directory, syncs and closes it, renames it over path and syncs the
// directory. On any error before the rename the temporary file is removed
// and an existing file at path is untouched; an error from the final
// directory sync means the new file is in place but may not survive a
// crash.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	perm := os.FileMode(0o644)
	if fi, statErr := os.Stat(path); statErr == nil && fi.Mode().IsRegular() {
		perm = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if err = write(bw); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The new file is in place; make the rename itself durable.
	if runtime.GOOS == "windows" {
		return nil
	}
	d, dirErr := os.Open(dir)
	if dirErr == nil {
		dirErr = d.Sync()
		d.Close()
	}
	if dirErr != nil {
		return fmt.Errorf("%s: written, but syncing its directory failed: %w", path, dirErr)
	}
	return nil
}
