//go:build unix

package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFolder takes an exclusive flock on dir's lock file, without waiting: it is held until
// the returned file is closed or the process ends, however it ends.
func lockFolder(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--out %s: cannot create the lock file %s: %w", dir, lockName, pathErr(err))
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("--out %s: another cnn train is writing into this folder (it holds %s); wait for it to end or choose another --out", dir, lockName)
		}
		return nil, fmt.Errorf("--out %s: locking %s: %w", dir, lockName, err)
	}
	return f, nil
}
