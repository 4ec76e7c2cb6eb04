// Package fileio opens the files the tool reads from outside so that no path can make it
// hang or read without end: only regular files are opened, a FIFO or a device is refused
// before it is opened, and whole-file reads are bounded.
package fileio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Open opens the regular file at path for reading and returns it with its FileInfo. It
// stats the path first, so that a FIFO, a socket or a device is refused without being
// opened (opening a FIFO blocks until a writer comes; opening a device can act on it),
// then opens it with O_NONBLOCK, which keeps the open from blocking should the path have
// been replaced in between, and checks the opened file again. A path that is not a
// regular file gets the one-line error "PATH: not a regular file"; a failed stat or open
// gets the *fs.PathError of opening the file ("open PATH: no such file or directory").
func Open(path string) (*os.File, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, nil, &fs.PathError{Op: "open", Path: path, Err: pe.Err}
		}
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, notRegular(path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|nonBlock, 0)
	if err != nil {
		return nil, nil, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = notRegular(path)
		}
		return nil, nil, err
	}
	return f, fi, nil
}

func notRegular(path string) error { return fmt.Errorf("%s: not a regular file", path) }

// OpenLimited is Open for a file that is read whole: it refuses a file of more than limit
// bytes from its size, and the reader it returns fails once it has read more than limit
// bytes (in case the file grows while it is read). The error names the file.
func OpenLimited(path string, limit int64) (io.ReadCloser, error) {
	f, fi, err := Open(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		f.Close()
		return nil, tooLarge(path, fi.Size(), limit)
	}
	return &limited{f: f, left: limit, limit: limit}, nil
}

func tooLarge(path string, size, limit int64) error {
	return fmt.Errorf("%s: %d bytes, more than the limit of %d", path, size, limit)
}

// limited reads f up to limit bytes and fails past them.
type limited struct {
	f           *os.File
	left, limit int64
}

func (l *limited) Read(p []byte) (int, error) {
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.f.Read(p)
	if int64(n) > l.left {
		return 0, fmt.Errorf("more than the limit of %d bytes (the file grew while it was read)", l.limit)
	}
	l.left -= int64(n)
	return n, err
}

func (l *limited) Close() error { return l.f.Close() }

// ReadFile reads the regular file at path whole, refusing one of more than limit bytes.
func ReadFile(path string, limit int64) ([]byte, error) {
	r, err := OpenLimited(path, limit)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}
