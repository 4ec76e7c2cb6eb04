package chapter

import (
	"bytes"
	"strings"
	"testing"
)

func TestWorkedExamples(t *testing.T) {
	c, err := Conv()
	if err != nil {
		t.Fatal(err)
	}
	if !c.Agree() || !c.Matches() || Matrices(c.Fast) != "[[25, 31], [43, 49]]" {
		t.Errorf("convolution: naive %s, fast %s", Matrices(c.Naive), Matrices(c.Fast))
	}
	mc, err := MultiChannel()
	if err != nil {
		t.Fatal(err)
	}
	// Each output channel sums both input channels' 2x2 windows: (0+1+3+4) + (1+2+4+5) = 20.
	if want := "[[20, 28], [44, 52]]"; !mc.Agree() || !strings.HasPrefix(Matrices(mc.Fast), want) || strings.Count(Matrices(mc.Fast), want) != 3 {
		t.Errorf("multi-channel: %s, want %s three times", Matrices(mc.Fast), want)
	}
	pools, err := Pools()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pools {
		if !p.Agree() || !p.Matches() {
			t.Errorf("%s: naive %s, fast %s, book %s", p.Name, Matrices(p.Naive), Matrices(p.Fast), p.Book)
		}
	}
	rows, err := Shapes()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if want := (r.Input+2*r.Padding-r.Kernel)/r.Stride + 1; r.OutH != want || r.OutW != want || (r.Book != "" && r.Book != r.Out()) {
			t.Errorf("%+v: want %d (book %q)", r, want, r.Book)
		}
	}
}

func TestDemoText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteDemo(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[[25, 31], [43, 49]] (identical; the chapter prints [[25, 31], [43, 49]])", "8x8      3       1        2      4x4", "[[3.5, 5.5], [11.5, 13.5]] (identical"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("demo lacks %q:\n%s", want, b.String())
		}
	}
}

// TestEdges: the Laplacian is zero on the linear ramp and large on the shapes' outlines.
func TestEdges(t *testing.T) {
	const h, w = 64, 64
	e, err := DetectEdges(Picture(h, w), h, w, Laplacian8)
	if err != nil {
		t.Fatal(err)
	}
	if e.OH != h-2 || e.OW != w-2 || len(e.Out) != e.OH*e.OW || !e.Agree {
		t.Fatalf("output %dx%d (%d values), agree %v", e.OH, e.OW, len(e.Out), e.Agree)
	}
	// Output (i, j) is centred on input (i+1, j+1); the lower-left corner is ramp only.
	for i := e.OH - 6; i < e.OH; i++ {
		for j := 0; j < 6; j++ {
			if v := e.Out[i*e.OW+j]; v > 1e-3 || v < -1e-3 {
				t.Fatalf("ramp at (%d, %d): %g, want 0", i, j, v)
			}
		}
	}
	lo, hi := Range(e.Out)
	if hi < 500 || lo > -500 {
		t.Errorf("output range [%g, %g]: the outlines should stand out", lo, hi)
	}
}
