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
