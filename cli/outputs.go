package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nndl/cnn/internal/atomicfile"
)

// namedPath is a file given by a flag.
type namedPath struct{ flag, path string }

// checkOutput refuses an output file, given by flag, that would replace something it must
// not: an existing path that is not a regular file (a directory, a symbolic link, a named
// pipe, a device), or one of the command's inputs, compared by the file they name
// (os.SameFile, so also through links) and by cleaned absolute path. Inputs with an empty
// path are not given and are skipped.
func checkOutput(flag, path string, inputs ...namedPath) error {
	out, err := os.Lstat(path)
	if err == nil && !out.Mode().IsRegular() {
		return fmt.Errorf("%s %s: %s, not a regular file; refusing to replace it", flag, path, atomicfile.Kind(out.Mode()))
	}
	outAbs, absErr := filepath.Abs(path)
	for _, in := range inputs {
		if in.path == "" {
			continue
		}
		same := false
		if fi, err := os.Stat(in.path); err == nil && out != nil {
			same = os.SameFile(fi, out)
		}
		if inAbs, err := filepath.Abs(in.path); err == nil && absErr == nil && inAbs == outAbs {
			same = true
		}
		if same {
			return fmt.Errorf("%s %s is also the %s file; refusing to replace an input of the command", flag, path, in.flag)
		}
	}
	return nil
}

// checkInputFile refuses an input given by flag that is a directory, with a message that
// says so, before a reader gives a less helpful one.
func checkInputFile(flag, path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s %s: is a directory, want a file", flag, path)
	}
	return nil
}
