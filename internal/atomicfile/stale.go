package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// IsTemp reports whether name (a base name) is a temporary file that Write creates for a
// target of base name target: "." + target + ".tmp" followed by the digits os.CreateTemp
// puts in place of the "*".
func IsTemp(name, target string) bool {
	rest, ok := strings.CutPrefix(name, "."+target+".tmp")
	if !ok || rest == "" {
		return false
	}
	return strings.Trim(rest, "0123456789") == ""
}

// RemoveStale removes from dir the temporary files of interrupted writes (IsTemp) of the
// given targets that are regular files last modified before before, and returns the names
// it removed. A process killed during Write leaves such a file; removing one that another
// process is still writing would make that write fail, so the caller must know that no
// other process writes these targets in dir (hold a lock on the folder) and pass the time
// it took the lock as before.
func RemoveStale(dir string, targets []string, before time.Time) (removed []string, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		name := e.Name()
		ours := false
		for _, t := range targets {
			ours = ours || IsTemp(name, t)
		}
		if !ours {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(before) {
			continue // gone already, or written since the caller took its lock
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			return removed, err
		}
		removed = append(removed, name)
	}
	return removed, nil
}
