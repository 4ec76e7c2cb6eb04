package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nndl/cnn/internal/atomicfile"
)

// runFiles are the files 'cnn train' writes into its run folder.
var runFiles = []string{"best.safetensors", checkpointName, "metrics.csv", "summary.json", "curves.png", "curves.svg"}

// lockName is the lock file of a run folder, held for the life of a training run.
const lockName = ".cnn-train.lock"

// probeName is the target name of the temporary file that checks, before training, that
// the run folder takes new files.
const probeName = "write-check"

// folderMode is how a run treats the files of an earlier run in its folder.
type folderMode int

const (
	modeFresh  folderMode = iota // refuse a folder holding an earlier run
	modeForce                    // remove the earlier run's files and start afresh
	modeResume                   // continue the run whose checkpoint is in the folder
)

// runFolder is a run folder held by this process.
type runFolder struct {
	dir  string
	lock *os.File
}

// earlierRun lists the files of an earlier run in dir.
func earlierRun(dir string) []string {
	var found []string
	for _, name := range runFiles {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			found = append(found, name)
		}
	}
	return found
}

// refuseEarlier is the error of a fresh run into a folder holding files of another.
func refuseEarlier(dir string, found []string) error {
	return fmt.Errorf("--out %s holds an earlier run (%s); continue it with --resume %s or start afresh with --force",
		dir, strings.Join(found, ", "), shellQuote(dir))
}

// checkFolder refuses, before anything is loaded or written, an --out that cannot be a run
// folder: a file, or for a fresh run a folder holding an earlier run.
func checkFolder(dir string, mode folderMode) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("--out %s: %w", dir, pathErr(err))
	case !fi.IsDir():
		return fmt.Errorf("--out %s: %s, want a folder for the run", dir, atomicfile.Kind(fi.Mode()))
	}
	if found := earlierRun(dir); mode == modeFresh && len(found) > 0 {
		return refuseEarlier(dir, found)
	}
	return nil
}

// openRunFolder creates dir if need be, checks that it takes new files, takes its lock
// (a second process into the same folder fails at once), removes the temporary files that
// killed runs left, and then for a fresh run refuses a folder holding an earlier run and for
// a forced one removes that run's files. Release the folder when the run ends.
func openRunFolder(dir string, mode folderMode) (*runFolder, error) {
	if err := checkFolder(dir, mode); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--out %s: %w", dir, pathErr(err))
	}
	probe, err := os.CreateTemp(dir, "."+probeName+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("--out %s: cannot write into the folder: %w", dir, pathErr(err))
	}
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return nil, fmt.Errorf("--out %s: removing a test file: %w", dir, pathErr(err))
	}
	f, err := lockFolder(dir)
	if err != nil {
		return nil, err
	}
	rf := &runFolder{dir: dir, lock: f}
	// Under the lock no other run writes here: every temporary file of ours is stale.
	if _, err := atomicfile.RemoveStale(dir, append([]string{probeName}, runFiles...), time.Now()); err != nil {
		rf.release()
		return nil, fmt.Errorf("--out %s: removing temporary files of an interrupted run: %w", dir, pathErr(err))
	}
	found := earlierRun(dir) // again, under the lock
	switch {
	case mode == modeFresh && len(found) > 0:
		rf.release()
		return nil, refuseEarlier(dir, found)
	case mode == modeForce:
		for _, name := range found {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				rf.release()
				return nil, fmt.Errorf("--force: removing the earlier run's %s: %w", name, pathErr(err))
			}
		}
	}
	return rf, nil
}

// release unlocks the folder.
func (rf *runFolder) release() {
	if rf.lock != nil {
		rf.lock.Close()
		rf.lock = nil
	}
}

// pathErr drops the path of an *fs.PathError, for messages that name the path themselves.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
