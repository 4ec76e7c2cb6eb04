package viz

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nndl/cnn/graph"
)

// onlyFile fails the test unless dir holds exactly the named file: no temporary leftovers.
func onlyFile(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("directory holds %v, want %v", got, names)
	}
}

// renderIfDot renders dot to SVG when Graphviz is installed, failing on any error of dot's.
func renderIfDot(t *testing.T, dot string) {
	t.Helper()
	if _, err := exec.LookPath(DotProgram); err != nil {
		return
	}
	if err := Render(dot, filepath.Join(t.TempDir(), "g.svg")); err != nil {
		t.Errorf("Graphviz rejects the DOT: %v", err)
	}
}

func TestRenderDOT(t *testing.T) {
	const text = "digraph g {\n\ta->b;\n}\n"
	for _, tc := range []struct {
		file    string
		wantErr string
	}{
		{"g.dot", ""},
		{"g.GV", ""},
		{"g.txt", "unknown extension"},
		{"g", "unknown extension"},
		{filepath.Join("missing", "g.dot"), "no such file"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			err := Render(text, path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				onlyFile(t, dir)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != text {
				t.Errorf("wrote %q, want %q", got, text)
			}
			onlyFile(t, dir, tc.file)
		})
	}
}

func TestRenderWithoutDot(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, ext := range []string{".svg", ".png", ".pdf"} {
		dir := t.TempDir()
		err := Render("digraph g { a->b }", filepath.Join(dir, "g"+ext))
		if !errors.Is(err, ErrNoDot) {
			t.Fatalf("%s: error %v, want ErrNoDot", ext, err)
		}
		for _, want := range []string{"apt-get install graphviz", ".dot"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		onlyFile(t, dir)
	}
}

func TestRenderGraphviz(t *testing.T) {
	if _, err := exec.LookPath(DotProgram); err != nil {
		t.Skip("Graphviz is not installed (apt-get install graphviz)")
	}
	n, x := declareLeNet(t, 1)
	layerDot, err := LayerDOT("lenet", n.Layers(), x, graph.UnitPaddle)
	if err != nil {
		t.Fatal(err)
	}
	opsDot, err := OpsDOT("lenet ops", n.Graph())
	if err != nil {
		t.Fatal(err)
	}
	blocks, bx := declaredBlock(t)
	blockDot, err := LayerDOT("block", blocks, bx, graph.UnitMACs)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dot, file string
		check           func(t *testing.T, b []byte)
	}{
		{"layers svg", layerDot, "lenet.svg", func(t *testing.T, b []byte) {
			for _, want := range []string{"<svg", "conv1", "[1, 6, 28, 28]"} {
				if !bytes.Contains(b, []byte(want)) {
					t.Errorf("SVG lacks %q", want)
				}
			}
		}},
		{"ops svg", opsDot, "ops.svg", func(t *testing.T, b []byte) {
			if !bytes.Contains(b, []byte("conv1.weight")) {
				t.Error("SVG lacks conv1.weight")
			}
		}},
		{"block svg", blockDot, "block.svg", func(t *testing.T, b []byte) {
			for _, want := range []string{"layer1.0", `stroke-dasharray`} {
				if !bytes.Contains(b, []byte(want)) {
					t.Errorf("SVG lacks %q", want)
				}
			}
		}},
		{"layers png", layerDot, "lenet.png", func(t *testing.T, b []byte) {
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if s := img.Bounds().Size(); s.X < 100 || s.Y < 500 {
				t.Errorf("image %v is too small for 13 stacked nodes", s)
			}
		}},
		{"layers pdf", layerDot, "lenet.pdf", func(t *testing.T, b []byte) {
			if !bytes.HasPrefix(b, []byte("%PDF")) {
				t.Errorf("not a PDF: %q", b[:min(len(b), 8)])
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			if err := Render(tc.dot, path); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, b)
			onlyFile(t, dir, tc.file)
		})
	}

	t.Run("syntax error keeps the old file", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "g.svg")
		if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := Render("digraph { a -> }", path)
		if err == nil || !strings.Contains(err.Error(), "syntax error") {
			t.Fatalf("error %v, want dot's syntax error", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "old" {
			t.Errorf("file now holds %q", b)
		}
		onlyFile(t, dir, "g.svg")
	})
}
