package viz

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nndl/cnn/internal/atomicfile"
)

// DotProgram is the Graphviz program Render runs, looked up on PATH.
const DotProgram = "dot"

// ErrNoDot is wrapped by Render's error when the Graphviz dot program is not on PATH.
var ErrNoDot = errors.New(`the Graphviz "dot" program is not on PATH: install Graphviz (apt-get install graphviz) or write a .dot file instead`)

// Render writes the DOT text dot to path by the path's extension: .dot (or .gv) as is, and
// .svg, .png or .pdf as the output of Graphviz's dot program (dot -Tsvg, say), which must be
// on PATH; otherwise the error wraps ErrNoDot. The file is written atomically, so a failed
// render leaves any earlier file at path untouched.
func Render(dot string, path string) error {
	ext := strings.ToLower(filepath.Ext(path))
	switch ext {
	case ".dot", ".gv":
		return writeFile(path, func(w io.Writer) error {
			_, err := io.WriteString(w, dot)
			return err
		})
	case ".svg", ".png", ".pdf":
	default:
		return fmt.Errorf("viz: render %s: unknown extension %q: want .dot, .gv, .svg, .png or .pdf", path, ext)
	}
	prog, err := exec.LookPath(DotProgram)
	if err != nil {
		return fmt.Errorf("viz: render %s: %w", path, ErrNoDot)
	}
	cmd := exec.Command(prog, "-T"+ext[1:])
	cmd.Stdin = strings.NewReader(dot)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return fmt.Errorf("viz: render %s: %s: %w", path, DotProgram, err)
		}
		return fmt.Errorf("viz: render %s: %s: %w: %s", path, DotProgram, err, msg)
	}
	return writeFile(path, func(w io.Writer) error {
		_, err := w.Write(out.Bytes())
		return err
	})
}

// writeFile writes path atomically through atomicfile.Write.
func writeFile(path string, write func(io.Writer) error) error {
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("viz: write %w", err)
	}
	return nil
}
