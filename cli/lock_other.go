//go:build !unix

package cli

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockFolder opens dir's lock file. Only Unix systems lock it (flock); elsewhere two runs
// into one folder are not detected.
func lockFolder(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--out %s: cannot create the lock file %s: %w", dir, lockName, pathErr(err))
	}
	return f, nil
}
